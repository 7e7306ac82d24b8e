//! `ioctl init TEMPLATE DIR`: writes a ready app from a template bundled in the binary
//! (the same files as the repository's templates/ folder), with VS Code's attach configuration
//! for `ioctl link --inspect` (.vscode/launch.json).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

macro_rules! template {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../templates/", $dir, "/", $file)))),*]
    };
}

/// (name, files as (relative path, contents)).
const TEMPLATES: &[(&str, &[(&str, &str)])] = &[
    (
        "events-example",
        template!("events-example":
            "manifest.json",
            ".gitignore",
            ".vtexignore",
            "node/service.json",
            "node/index.ts",
            "node/handlers/hcheck.ts",
            "node/utils/cachedContext.ts",
            "node/clients/index.ts",
            "node/package.json",
            "node/tsconfig.json",
            ".vscode/launch.json",
        ),
    ),
    (
        "service-course",
        template!("service-course":
            "manifest.json",
            ".gitignore",
            ".vtexignore",
            "node/service.json",
            "node/index.ts",
            "node/event/liveUsersUpdate.ts",
            "node/clients/index.ts",
            "node/package.json",
            "node/tsconfig.json",
            ".vscode/launch.json",
        ),
    ),
];

pub fn names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|(n, _)| *n).collect()
}

/// The one-line help of `ioctl init`, listing the templates there are.
pub fn about() -> String {
    format!("Create an app from a template ({})", names().join(", "))
}

pub fn run(template: &str, dir: &Path) -> anyhow::Result<ExitCode> {
    let Some((_, files)) = TEMPLATES.iter().find(|(n, _)| *n == template) else {
        bail!("unknown template `{template}`; available: {}", names().join(", "));
    };
    if dir.exists()
        && std::fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))?.next().is_some()
    {
        bail!("{}: folder exists and is not empty; pick a new folder name", dir.display());
    }
    for (rel, text) in files.iter() {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create folder", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    println!("created {} from template {template} ({} files)", dir.display(), files.len());
    println!("next: cd {} && ioctl link", dir.display());
    Ok(ExitCode::SUCCESS)
}
