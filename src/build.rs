//! Build: transpiles the app's TypeScript into CommonJS JavaScript with source maps, with
//! tsc's semantics (esModuleInterop, type-only imports removed, `useDefineForClassFields:
//! false`). Every .ts under node/ is built, and every .ts outside node/ that those import
//! (`../common/utils`), into a build folder of the session's (so two workspaces linking one
//! app never share one) that mirrors the app folder. The code still runs from where it was
//! written: the host loads each .ts through its build (`__dirname`, relative imports, JSON
//! and assets stay the source's). Only changed files are redone.

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
use crate::private_fs;

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
                emit(&cm, &program)
            })
        })
        .map_err(|e| Diagnostic::at_offset(display, source, 0, format!("cannot emit JavaScript: {e}")))
}

fn emit(cm: &Lrc<SourceMap>, program: &Program) -> anyhow::Result<Transpiled> {
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
    let code = String::from_utf8(code)?;
    Ok(Transpiled { code, map: String::from_utf8(map_json)? })
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// TypeScript files of the app (node/ and what it imports from outside it).
    pub files: usize,
    /// Files transpiled this time (the rest were unchanged).
    pub rebuilt: usize,
}

/// One built source: the hash of what was built, and the app files outside node/ it imports.
#[derive(Debug, Clone)]
struct Built {
    hash: u64,
    imports: Vec<PathBuf>,
}

/// Builds an app's TypeScript incrementally into `out_dir`, which mirrors the app folder
/// (`node/index.ts` → `out_dir/node/index.js`, with `index.js.map` beside it): folders 0700,
/// files 0600, and no link followed below `$IOCTL_HOME` (see `private_fs`).
pub struct Builder {
    app_root: PathBuf,
    node_dir: PathBuf,
    out_dir: PathBuf,
    /// Where ioctl's own folders start: `$IOCTL_HOME` for a build under it (see [`out_dir`]),
    /// else the build folder's parent.
    root: PathBuf,
    built: HashMap<PathBuf, Built>,
}

impl Builder {
    pub fn new(app_root: &Path, out_dir: &Path) -> Self {
        let home = crate::layout::home().ok().filter(|home| out_dir.starts_with(home));
        let root = home.unwrap_or_else(|| out_dir.parent().unwrap_or(out_dir).to_path_buf());
        Builder {
            app_root: app_root.to_path_buf(),
            node_dir: app_root.join("node"),
            out_dir: out_dir.to_path_buf(),
            root,
            built: HashMap::new(),
        }
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Transpiles what changed since the last call. All syntax errors are returned (one per
    /// file); the previous output stays in place when there are any.
    pub fn build(&mut self) -> anyhow::Result<Result<BuildReport, Vec<Diagnostic>>> {
        let mut pending = Vec::new();
        collect(&self.node_dir, &mut pending)
            .with_context(|| format!("{}: cannot list files", self.node_dir.display()))?;
        let mut sources: Vec<PathBuf> = Vec::new();
        let mut report = BuildReport::default();
        let (mut errors, mut outputs) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        // node/'s sources, then the files outside node/ they import (transitively).
        while let Some(src) = pending.pop() {
            if !seen.insert(src.clone()) {
                continue;
            }
            sources.push(src.clone());
            // A FIFO or device named *.ts is refused rather than read forever.
            let text = crate::files::read(&src, crate::files::MAX_FILE)?;
            let hash = hash(&text);
            if let Some(b) = self.built.get(&src).filter(|b| b.hash == hash) {
                pending.extend(b.imports.iter().cloned());
                continue;
            }
            let display = src.strip_prefix(&self.app_root).unwrap_or(&src).to_path_buf();
            let text = String::from_utf8(text).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", src.display()))?;
            match transpile(&src, &display, &text) {
                Ok(t) => {
                    let imports = self.outside_imports(&src, &t.code);
                    pending.extend(imports.iter().cloned());
                    outputs.push((src, Built { hash, imports }, t));
                }
                Err(d) => errors.push(d),
            }
        }
        report.files = sources.len();
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let mut checked = std::collections::HashSet::new();
        for (src, built, t) in outputs {
            let dest = self.output_of(&src);
            if let Some(parent) = dest.parent().filter(|p| checked.insert(p.to_path_buf())) {
                private_fs::dir(&self.root, parent)?;
            }
            let map_path = dest.with_extension("js.map");
            let map_name = map_path.file_name().unwrap_or_default().to_string_lossy();
            let code = format!("{}\n//# sourceMappingURL={map_name}\n", t.code);
            private_fs::write(&dest, code.as_bytes())?;
            private_fs::write(&map_path, t.map.as_bytes())?;
            self.built.insert(src, built);
            report.rebuilt += 1;
        }
        // Sources that disappeared: drop their output so a stale module cannot load.
        let gone: Vec<PathBuf> = self.built.keys().filter(|p| !seen.contains(*p)).cloned().collect();
        for src in gone {
            self.built.remove(&src);
            let dest = self.output_of(&src);
            // Only from a folder that is still ioctl's own (not a link planted since).
            if dest.parent().is_none_or(|p| private_fs::dir(&self.root, p).is_err()) {
                continue;
            }
            let _ = std::fs::remove_file(&dest);
            let _ = std::fs::remove_file(dest.with_extension("js.map"));
        }
        Ok(Ok(report))
    }

    /// Where the build of `src` goes: the same path under `out_dir`, as `.js`.
    pub fn output_of(&self, src: &Path) -> PathBuf {
        let rel = src.strip_prefix(&self.app_root).unwrap_or(src);
        self.out_dir.join(rel).with_extension("js")
    }

    /// The app's TypeScript files outside node/ that `code` (built from `src`) requires by a
    /// relative path, as Node would resolve them with `.ts` registered.
    fn outside_imports(&self, src: &Path, code: &str) -> Vec<PathBuf> {
        let dir = src.parent().unwrap_or(&self.app_root);
        relative_requires(code)
            .filter_map(|spec| resolve_ts(&dir.join(spec)))
            .filter(|p| p.starts_with(&self.app_root) && !p.starts_with(&self.node_dir))
            .filter(|p| !p.components().any(|c| c.as_os_str() == "node_modules"))
            .collect()
    }
}

/// The relative specifiers of `require("./x")` / `require("../x")` calls in built code.
fn relative_requires(code: &str) -> impl Iterator<Item = &str> {
    code.match_indices("require(\"").filter_map(|(i, m)| {
        let rest = &code[i + m.len()..];
        let spec = &rest[..rest.find('"')?];
        (spec.starts_with("./") || spec.starts_with("../")).then_some(spec)
    })
}

/// `base`, `base.ts`, `base.tsx`, `base/index.ts`, `base/index.tsx`: the TypeScript file Node
/// would load for it, if it is one.
fn resolve_ts(base: &Path) -> Option<PathBuf> {
    let ext = base.extension().and_then(|e| e.to_str());
    if matches!(ext, Some("ts" | "tsx")) {
        return base.is_file().then(|| normalize(base));
    }
    if matches!(ext, Some("js" | "json" | "cjs" | "node")) && base.is_file() {
        return None;
    }
    let with = |e: &str| PathBuf::from(format!("{}.{e}", base.display()));
    [with("ts"), with("tsx"), base.join("index.ts"), base.join("index.tsx")]
        .into_iter()
        .find(|p| p.is_file())
        .filter(|_| !with("js").is_file())
        .map(|p| normalize(&p))
}

/// `a/b/../c` → `a/c` (without touching the file system).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A source's content hash, compared within one session only (so std's hasher will do).
fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Whether a path under node/ is TypeScript the build transpiles. node_modules, ioctl's own
/// folder, dot-folders, declaration files and tests are not (JS and JSON load in place).
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
    matches!(rel.extension().and_then(|e| e.to_str()), Some("ts" | "tsx"))
}

/// The TypeScript sources under `dir`, in a stable order, without descending into the folders
/// [`is_source`] skips (node_modules can be large).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let skipped = |e: &walkdir::DirEntry| {
        let name = e.file_name().to_string_lossy();
        e.depth() > 0
            && e.file_type().is_dir()
            && (name == "node_modules" || name.starts_with('.') || name == "__tests__")
    };
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_entry(|e| !skipped(e)) {
        let entry = entry?;
        if entry.file_type().is_file() && is_source(Path::new(entry.file_name())) {
            out.push(entry.into_path());
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
        assert!(!is_source(Path::new("data.json")), "JSON loads from where it is");
        assert!(!is_source(Path::new("node_modules/x/index.ts")));
        assert!(!is_source(Path::new(".cache/build/index.ts")));
        assert!(!is_source(Path::new("typings.d.ts")));
        assert!(!is_source(Path::new("__tests__/a.ts")));
        assert!(!is_source(Path::new("a.test.ts")));
    }
}

#[cfg(test)]
mod builder_tests {
    use super::*;

    #[test]
    fn imports_outside_node_are_built_and_dropped_when_gone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("app");
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("node/index.ts", "import { a } from '../common/a'\nexport const x = a\n");
        write("common/a.ts", "export { b as a } from './b'\n");
        write("common/b.ts", "export const b = 1\n");
        write("common/unused.ts", "export const u = 1\n");
        let out = dir.path().join("out");
        let mut builder = Builder::new(&root, &out);
        let report = builder.build().unwrap().unwrap();
        assert_eq!((report.files, report.rebuilt), (3, 3), "index, and the two it reaches");
        assert!(out.join("common/b.js").is_file() && out.join("common/b.js.map").is_file());
        assert!(!out.join("common/unused.js").exists(), "not imported, not built");
        let again = builder.build().unwrap().unwrap();
        assert_eq!(again.rebuilt, 0, "nothing changed");
        write("node/index.ts", "export const x = 2\n");
        builder.build().unwrap().unwrap();
        assert!(!out.join("common/a.js").exists(), "no longer imported: its output is gone");
    }
}
