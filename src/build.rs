//! Build: transpiles the app's node/**/*.ts into CommonJS JavaScript with source maps, under
//! node/.ioctl/build (mirroring node/), with tsc's semantics (esModuleInterop, type-only
//! imports removed, `useDefineForClassFields: false`). Only changed files are redone.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context;
use swc_core::common::{sync::Lrc, FileName, Globals, Mark, SourceMap, Spanned, GLOBALS};
use swc_core::ecma::ast::{EsVersion, Program};
use swc_core::ecma::codegen::{text_writer::JsWriter, Emitter};
use swc_core::ecma::parser::{Parser, StringInput, Syntax, TsSyntax};
use swc_core::ecma::transforms::base::{fixer::fixer, helpers, hygiene::hygiene, resolver};
use swc_core::ecma::transforms::compat::class_fields_use_set::class_fields_use_set;
use swc_core::ecma::transforms::module::common_js::{self, common_js};
use swc_core::ecma::transforms::typescript::strip;

use crate::diagnostic::Diagnostic;

/// Folder under node/ that holds everything ioctl writes; the watcher ignores it.
pub const IOCTL_DIR: &str = ".ioctl";

/// JavaScript and its source map for one TypeScript file.
#[derive(Debug)]
pub struct Transpiled {
    pub code: String,
    pub map: String,
}

/// Transpiles one file. `path` is absolute (it becomes the map's source, so stacks show it);
/// `display` is what a diagnostic shows.
pub fn transpile(path: &Path, display: &Path, source: &str) -> Result<Transpiled, Diagnostic> {
    let cm: Lrc<SourceMap> = Default::default();
    let fm = cm.new_source_file(Lrc::new(FileName::Real(path.to_path_buf())), source.to_string());
    let tsx = path.extension().is_some_and(|e| e == "tsx");
    let syntax = Syntax::Typescript(TsSyntax { tsx, decorators: true, ..Default::default() });
    let mut parser = Parser::new(syntax, StringInput::from(&*fm), None);
    let parsed = parser.parse_program();
    let diag = |e: swc_core::ecma::parser::error::Error| {
        let offset = (e.span().lo.0 - fm.start_pos.0) as usize;
        Diagnostic::at_offset(display, source, offset, e.kind().msg().to_string())
    };
    let program = parsed.map_err(diag)?;
    if let Some(e) = parser.take_errors().into_iter().next() {
        return Err(diag(e));
    }

    GLOBALS
        .set(&Globals::new(), || {
            helpers::HELPERS.set(&helpers::Helpers::new(false), || {
                let unresolved = Mark::new();
                let top_level = Mark::new();
                let program = program
                    .apply(resolver(unresolved, top_level, true))
                    .apply(strip(unresolved, top_level))
                    // tsc's useDefineForClassFields: false — an uninitialised field in a derived
                    // class must not shadow what the base class set.
                    .apply(class_fields_use_set(true))
                    .apply(common_js(
                        Default::default(),
                        unresolved,
                        common_js::Config { strict_mode: true, ..Default::default() },
                        common_js::FeatureFlag { support_block_scoping: true, support_arrow: true },
                    ))
                    .apply(helpers::inject_helpers(unresolved))
                    .apply(hygiene())
                    .apply(fixer(None));
                emit(&cm, &program, path)
            })
        })
        .map_err(|e| Diagnostic::at_offset(display, source, 0, format!("cannot emit JavaScript: {e}")))
}

fn emit(cm: &Lrc<SourceMap>, program: &Program, path: &Path) -> anyhow::Result<Transpiled> {
    let mut code = Vec::new();
    let mut mappings = Vec::new();
    {
        let mut emitter = Emitter {
            cfg: swc_core::ecma::codegen::Config::default().with_target(EsVersion::Es2022),
            cm: cm.clone(),
            comments: None,
            wr: JsWriter::new(cm.clone(), "\n", &mut code, Some(&mut mappings)),
        };
        emitter.emit_program(program)?;
    }
    let map = cm.build_source_map(&mappings, None, swc_core::common::source_map::DefaultSourceMapGenConfig);
    let mut map_json = Vec::new();
    map.to_writer(&mut map_json)?;
    let mut code = String::from_utf8(code)?;
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    code.push_str(&format!("\n//# sourceMappingURL={stem}.js.map\n"));
    Ok(Transpiled { code, map: String::from_utf8(map_json)? })
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Source files seen (TypeScript plus copied JS/JSON).
    pub files: usize,
    /// Files transpiled or copied this time (the rest were unchanged).
    pub rebuilt: usize,
}

/// Builds an app's node/ folder incrementally into node/.ioctl/build.
pub struct Builder {
    node_dir: PathBuf,
    out_dir: PathBuf,
    /// Source path → hash of the content last built, so unchanged files are skipped.
    built: HashMap<PathBuf, u64>,
}

impl Builder {
    pub fn new(node_dir: &Path) -> Self {
        Builder { node_dir: node_dir.to_path_buf(), out_dir: out_dir(node_dir), built: HashMap::new() }
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Transpiles what changed since the last call. All syntax errors are returned (one per
    /// file); the previous output stays in place when there are any.
    pub fn build(&mut self) -> anyhow::Result<Result<BuildReport, Vec<Diagnostic>>> {
        let app_root = self.node_dir.parent().unwrap_or(&self.node_dir).to_path_buf();
        let mut sources = Vec::new();
        collect(&self.node_dir, &mut sources)
            .with_context(|| format!("{}: cannot list files", self.node_dir.display()))?;
        let mut report = BuildReport { files: sources.len(), rebuilt: 0 };
        let mut errors = Vec::new();
        let mut outputs = Vec::new();
        for src in &sources {
            let text = std::fs::read(src).with_context(|| format!("{}: cannot read", src.display()))?;
            let hash = hash(&text);
            if self.built.get(src) == Some(&hash) {
                continue;
            }
            let rel = src.strip_prefix(&self.node_dir).unwrap_or(src);
            let is_ts = matches!(src.extension().and_then(|e| e.to_str()), Some("ts" | "tsx"));
            if is_ts {
                let display = src.strip_prefix(&app_root).unwrap_or(src);
                let text = String::from_utf8(text).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", src.display()))?;
                match transpile(src, display, &text) {
                    Ok(t) => outputs.push((src.clone(), hash, rel.with_extension("js"), Some(t), None)),
                    Err(d) => errors.push(d),
                }
            } else {
                outputs.push((src.clone(), hash, rel.to_path_buf(), None, Some(text)));
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        for (src, hash, rel, transpiled, raw) in outputs {
            let dest = self.out_dir.join(&rel);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("{}: cannot create folder", parent.display()))?;
            }
            match (transpiled, raw) {
                (Some(t), _) => {
                    write(&dest, t.code.as_bytes())?;
                    write(&dest.with_extension("js.map"), t.map.as_bytes())?;
                }
                (None, Some(bytes)) => write(&dest, &bytes)?,
                (None, None) => {}
            }
            self.built.insert(src, hash);
            report.rebuilt += 1;
        }
        // Sources that disappeared: drop their output so a stale module cannot load.
        let gone: Vec<PathBuf> = self.built.keys().filter(|p| !sources.contains(p)).cloned().collect();
        for src in gone {
            self.built.remove(&src);
            let rel = src.strip_prefix(&self.node_dir).unwrap_or(&src);
            let is_ts = matches!(src.extension().and_then(|e| e.to_str()), Some("ts" | "tsx"));
            let dest = self.out_dir.join(if is_ts { rel.with_extension("js") } else { rel.to_path_buf() });
            let _ = std::fs::remove_file(&dest);
            let _ = std::fs::remove_file(dest.with_extension("js.map"));
        }
        Ok(Ok(report))
    }
}

/// Where an app's build output goes.
pub fn out_dir(node_dir: &Path) -> PathBuf {
    node_dir.join(IOCTL_DIR).join("build")
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Whether a path under node/ is app source that the build uses. node_modules, ioctl's own
/// folder, dot-folders, declaration files and tests are not.
pub fn is_source(rel: &Path) -> bool {
    let skip_dir = rel.components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        s == "node_modules" || s.starts_with('.') || s == "__tests__"
    });
    if skip_dir {
        return false;
    }
    let name = rel.file_name().unwrap_or_default().to_string_lossy();
    if name.ends_with(".d.ts") || name.contains(".test.") || name.contains(".spec.") {
        return false;
    }
    matches!(rel.extension().and_then(|e| e.to_str()), Some("ts" | "tsx" | "js" | "cjs" | "json"))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if name != "node_modules" && !name.starts_with('.') && name != "__tests__" {
                collect(&path, out)?;
            }
        } else if is_source(Path::new(&*name)) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(src: &str) -> String {
        transpile(Path::new("/app/node/x.ts"), Path::new("node/x.ts"), src).unwrap().code
    }

    #[test]
    fn type_only_imports_vanish() {
        let out = js("import type { A } from '@vtex/api'\nimport { B } from 'vtex.store-graphql'\nimport { Service } from '@vtex/api'\nlet b: B\nexport default new Service({})\n");
        assert!(!out.contains("vtex.store-graphql"), "{out}");
        assert!(out.contains("require(\"@vtex/api\")"), "{out}");
        assert!(out.contains("exports"), "{out}");
        assert!(out.contains("sourceMappingURL=x.js.map"));
    }

    #[test]
    fn enums_and_declare_global() {
        let out = js("declare global { type Context = number }\nenum E { A = 1, B }\nexport const v = E.B\n");
        assert!(!out.contains("declare"), "{out}");
        assert!(out.contains("E[\"B\"]") || out.contains("E.B"), "{out}");
    }

    #[test]
    fn syntax_error_is_positioned() {
        let e = transpile(Path::new("/a/node/x.ts"), Path::new("node/x.ts"), "const a = 1\nconst b = (\n").unwrap_err();
        assert_eq!(e.file, Path::new("node/x.ts"));
        assert!(e.line >= 2, "{e}");
    }

    #[test]
    fn which_files_are_sources() {
        assert!(is_source(Path::new("event/a.ts")));
        assert!(is_source(Path::new("data.json")));
        assert!(!is_source(Path::new("node_modules/x/index.ts")));
        assert!(!is_source(Path::new(".ioctl/build/index.js")));
        assert!(!is_source(Path::new("typings.d.ts")));
        assert!(!is_source(Path::new("__tests__/a.ts")));
        assert!(!is_source(Path::new("a.test.ts")));
    }
}
