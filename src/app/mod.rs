//! The app model: where the app lives, its manifest.json and node/service.json, validated.

mod json;
pub mod manifest;
pub mod service;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use manifest::Manifest;
pub use service::{EventSubscription, ServiceJson};

use crate::diagnostic::Diagnostic;

/// A linked app as read from disk.
#[derive(Debug, Clone)]
pub struct App {
    /// The folder holding manifest.json.
    pub root: PathBuf,
    pub manifest: Manifest,
    pub service: ServiceJson,
    /// Non-fatal findings (unknown fields, ...), to show once.
    pub warnings: Vec<Diagnostic>,
}

/// Why an app could not be read: a positioned problem in a user file, or anything else.
#[derive(Debug)]
pub enum LoadError {
    Diagnostic(Diagnostic),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

/// The nearest folder at or above `start` that holds manifest.json, as `vtex link` finds it.
pub fn find_root(start: &Path) -> anyhow::Result<PathBuf> {
    let start = start.canonicalize().with_context(|| format!("{}: cannot open folder", start.display()))?;
    for dir in start.ancestors() {
        if dir.join("manifest.json").is_file() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "{}: no manifest.json here or in any parent folder; run ioctl link inside a VTEX IO app (or `ioctl init service-course my-app` to create one)",
        start.display()
    )
}

impl App {
    /// Reads and validates manifest.json and node/service.json under `root`.
    pub fn load(root: &Path) -> Result<App, LoadError> {
        let (manifest, mut warnings) = read(root, "manifest.json", Manifest::parse)?;
        let service_path = root.join("node/service.json");
        if !service_path.is_file() {
            return Err(LoadError::Other(anyhow::anyhow!(
                "{}: missing; a Node service app has node/service.json and node/index.ts",
                service_path.display()
            )));
        }
        let (service, w) = read(root, "node/service.json", ServiceJson::parse)?;
        warnings.extend(w);
        Ok(App { root: root.to_path_buf(), manifest, service, warnings })
    }

    pub fn node_dir(&self) -> PathBuf {
        self.root.join("node")
    }
}

/// A parser of one JSON file: the value and its warnings, or a positioned error.
type Parse<T> = fn(&Path, &str) -> Result<(T, Vec<Diagnostic>), Diagnostic>;

fn read<T>(root: &Path, rel: &str, parse: Parse<T>) -> Result<(T, Vec<Diagnostic>), LoadError> {
    let path = root.join(rel);
    let bytes = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_bytes(Path::new(rel), &bytes, parse).map_err(LoadError::Diagnostic)
}

/// What [`App::load`] does with a file's bytes once read: decode, then parse.
fn parse_bytes<T>(rel: &Path, bytes: &[u8], parse: Parse<T>) -> Result<(T, Vec<Diagnostic>), Diagnostic> {
    parse(rel, json::decode(rel, bytes)?)
}

impl App {
    /// A diagnostic aimed at a key path inside node/service.json (e.g. `["events", id]`).
    pub fn service_json_error(&self, keys: &[&str], message: impl Into<String>) -> Diagnostic {
        let rel = Path::new("node/service.json");
        let bytes = std::fs::read(self.root.join(rel)).unwrap_or_default();
        match json::decode(rel, &bytes) {
            Ok(source) => json::error_at(rel, source, keys, message),
            Err(_) => Diagnostic::at_line_col(rel, None, 1, 1, message),
        }
    }
}
