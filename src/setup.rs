//! `ioctl setup [APP_DIR]`: the real @vtex/api declarations (and the type-only packages they
//! and the template's tsconfig need) into node/node_modules, where the editor and `tsc` find
//! them, as `vtex setup --typings` does; and node/tsconfig.json when the app has none. The one
//! command that writes into the app folder, and only what it says.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::runtime::TypeChecker;
use crate::terminal::{Format, Terminal};

/// Marks a package folder `ioctl setup` wrote (declarations only): a later setup may replace
/// it; a folder without it is the app's own and is never touched.
const MARK: &str = ".ioctl-types";

/// What goes into node/node_modules: packages without code (declarations, a tsconfig), so the
/// app's process never finds a folder missing its code. The runtime replaces `@vtex/api` with
/// its stand-in whatever node_modules holds. Packages with code that the declarations import
/// (axios, graphql, ...) stay out: `skipLibCheck` (@vtex/tsconfig's) leaves those types `any`.
fn wanted(name: &str) -> bool {
    name.starts_with("@types/") || name == "@vtex/api" || name == "@vtex/tsconfig"
}

/// The node/tsconfig.json written when the app has none: VTEX's shared config with the
/// service template's settings.
const TSCONFIG: &str = r#"{
  "extends": "@vtex/tsconfig",
  "compilerOptions": {
    "noEmitOnError": false,
    "lib": ["es2019"],
    "module": "commonjs",
    "moduleResolution": "node",
    "noImplicitAny": true,
    "strict": true,
    "target": "es2019",
    "esModuleInterop": true,
    "types": ["node"]
  },
  "include": ["./typings/*.d.ts", "./**/*.tsx", "./**/*.ts"],
  "exclude": ["node_modules"]
}
"#;

pub async fn run(app_dir: &Path) -> anyhow::Result<ExitCode> {
    let root = crate::app::find_root(app_dir)?;
    let node = root.join("node");
    if !node.is_dir() {
        anyhow::bail!("{}: no node/ folder; `ioctl setup` sets up a Node service app's types", root.display());
    }
    let (terminal, printer) = Terminal::start(Format::detect(false, crate::terminal::ColorChoice::Never));
    let installed = crate::runtime::install_typecheck(&terminal).await;
    drop(terminal);
    let _ = printer.await;
    let installed = installed?;
    wants_vtex_api_6(&node);
    let said = write_declarations(&installed, &node)?;
    // The @types packages (24 of them) in one line; the rest one each.
    let (types, others): (Vec<&String>, Vec<&String>) =
        said.iter().partition(|l| l.starts_with("wrote node/node_modules/@types/"));
    for line in others {
        println!("{line}");
    }
    if !types.is_empty() {
        let names: Vec<&str> = types
            .iter()
            .filter_map(|l| l.strip_prefix("wrote node/node_modules/@types/")?.split(" (").next())
            .collect();
        println!("wrote node/node_modules/@types: {} (declarations only)", names.join(", "));
    }
    let tsconfig = node.join("tsconfig.json");
    if tsconfig.exists() {
        println!("node/tsconfig.json: kept as it is");
    } else {
        std::fs::write(&tsconfig, TSCONFIG).with_context(|| format!("{}: cannot write", tsconfig.display()))?;
        println!("wrote node/tsconfig.json (extends @vtex/tsconfig; module commonjs, target es2019, strict)");
    }
    let ts = installed.typescript_for(builder_major(&root));
    println!(
        "check with the builder's TypeScript: node {} --noEmit -p {}",
        ts.join("bin/tsc").display(),
        node.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The major of manifest.json's `builders.node` (`6.x` → 6), when it reads.
fn builder_major(root: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(root.join("manifest.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest["builders"]["node"].as_str()?.split('.').next()?.parse().ok()
}

/// Says so when node/package.json asks for an @vtex/api major other than the declarations'.
fn wants_vtex_api_6(node: &Path) {
    let Ok(text) = std::fs::read_to_string(node.join("package.json")) else { return };
    let Ok(pkg) = serde_json::from_str::<serde_json::Value>(&text) else { return };
    let asked = ["dependencies", "devDependencies"].iter().find_map(|k| pkg[k]["@vtex/api"].as_str().map(String::from));
    let major = asked.as_deref().map(|v| v.trim_start_matches(['^', '~', '=', 'v', ' ']));
    if let Some(v) = major.filter(|v| !v.starts_with('6')) {
        println!("note: node/package.json asks for @vtex/api {v}; ioctl has the declarations of @vtex/api 6.51.3");
    }
}

/// Copies each wanted package's declarations (`*.d.ts`, package.json, tsconfig.json) from the
/// pinned set into node/node_modules, over an earlier setup's copy and never over the app's
/// own. One line per package saying what was done.
fn write_declarations(installed: &TypeChecker, node: &Path) -> anyhow::Result<Vec<String>> {
    let mut said = Vec::new();
    for name in package_names(&installed.modules)? {
        if !wanted(&name) {
            continue;
        }
        let to = node.join("node_modules").join(&name);
        if to.exists() && !to.join(MARK).is_file() {
            said.push(format!("node/node_modules/{name}: kept (the app's own)"));
            continue;
        }
        let _ = std::fs::remove_dir_all(&to);
        let from = installed.modules.join(&name);
        let n = copy_declarations(&from, &to)?;
        let version = package_version(&from).unwrap_or_default();
        std::fs::write(to.join(MARK), "written by `ioctl setup`: declarations only, no code\n")
            .with_context(|| format!("{}: cannot write", to.display()))?;
        said.push(format!("wrote node/node_modules/{name} {version} ({n} files, declarations only)"));
    }
    Ok(said)
}

/// The packages in a node_modules folder (`@scope/name` for scoped ones), sorted.
fn package_names(modules: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(modules).with_context(|| format!("{}: cannot read", modules.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if name.starts_with('@') {
            for inner in std::fs::read_dir(modules.join(&name))? {
                names.push(format!("{name}/{}", inner?.file_name().to_string_lossy()));
            }
        } else {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn package_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("package.json")).ok()?;
    Some(serde_json::from_str::<serde_json::Value>(&text).ok()?["version"].as_str()?.to_string())
}

/// Copies the declaration files of `from` into `to` (no links followed); how many.
fn copy_declarations(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        for entry in std::fs::read_dir(&dir).with_context(|| format!("{}: cannot read", dir.display()))? {
            let entry = entry?;
            let (kind, name) = (entry.file_type()?, entry.file_name());
            let rel = rel.join(&name);
            let name = name.to_string_lossy();
            if kind.is_dir() && name != "node_modules" {
                stack.push(rel);
            } else if kind.is_file() && (name.ends_with(".d.ts") || name == "package.json" || name == "tsconfig.json") {
                let dest = to.join(&rel);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
                }
                std::fs::copy(entry.path(), &dest).with_context(|| format!("{}: cannot write", dest.display()))?;
                count += 1;
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_packages_without_code_are_written() {
        assert!(wanted("@vtex/api") && wanted("@types/node") && wanted("@vtex/tsconfig"));
        assert!(!wanted("axios") && !wanted("graphql") && !wanted("typescript") && !wanted("@vtex/clients"));
    }

    /// Declarations are copied, code is not; the app's own package is kept; an earlier
    /// setup's copy is replaced.
    #[test]
    fn declarations_are_copied_and_the_apps_own_packages_kept() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("set/node_modules");
        for (file, text) in [
            ("@vtex/api/package.json", r#"{"version": "6.51.3"}"#),
            ("@vtex/api/lib/index.d.ts", "export {}"),
            ("@vtex/api/lib/index.js", "code"),
            ("@types/node/index.d.ts", ""),
            ("@types/node/package.json", r#"{"version": "12.20.55"}"#),
            ("axios/index.d.ts", ""),
        ] {
            let p = modules.join(file);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let node = dir.path().join("app/node");
        std::fs::create_dir_all(node.join("node_modules/@types/node")).unwrap();
        let installed = TypeChecker { checker_js: PathBuf::new(), modules };
        let said = write_declarations(&installed, &node).unwrap();
        assert_eq!(
            said,
            [
                "node/node_modules/@types/node: kept (the app's own)",
                "wrote node/node_modules/@vtex/api 6.51.3 (2 files, declarations only)"
            ]
        );
        assert!(node.join("node_modules/@vtex/api/lib/index.d.ts").is_file());
        assert!(!node.join("node_modules/@vtex/api/lib/index.js").exists(), "no code");
        assert!(!node.join("node_modules/axios").exists());
        // Again: its own copy is replaced, the app's still kept.
        let again = write_declarations(&installed, &node).unwrap();
        assert_eq!(again, said);
    }
}
