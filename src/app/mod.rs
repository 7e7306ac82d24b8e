//! The app model: where the app lives, its id, its manifest.json and node/service.json, validated.

pub mod id;
pub(crate) mod json;
pub mod manifest;
pub mod route;
pub mod service;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

pub use id::AppId;
pub use json::clip;
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
    if let Some(root) = locate(start)? {
        return Ok(root);
    }
    let start = start.canonicalize().with_context(|| format!("{}: cannot open folder", start.display()))?;
    bail!(
        "{}: no manifest.json here or in any parent folder; run ioctl link inside a VTEX IO app (or `ioctl init service-course my-app` to create one)",
        start.display()
    )
}

/// [`find_root`], `None` when no folder at or above `start` has a manifest.json (or `start`
/// cannot be opened). One that is there but is no file (a folder, a FIFO, a device) is an
/// error saying what it is.
pub fn locate(start: &Path) -> anyhow::Result<Option<PathBuf>> {
    let Ok(start) = start.canonicalize() else { return Ok(None) };
    for dir in start.ancestors() {
        let manifest = dir.join("manifest.json");
        match std::fs::metadata(&manifest) {
            Ok(meta) => match crate::files::not_regular(meta.file_type()) {
                None => return Ok(Some(dir.to_path_buf())),
                Some(kind) => {
                    bail!("{}: is {kind}, not a file: an app's manifest.json must be a file", manifest.display())
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("{}: cannot read: {e}", manifest.display()),
        }
    }
    Ok(None)
}

impl App {
    /// Reads and validates manifest.json and node/service.json under `root`.
    pub fn load(root: &Path) -> Result<App, LoadError> {
        let (manifest, mut warnings) = read(root, "manifest.json", Manifest::parse)?;
        let service_path = root.join("node/service.json");
        if std::fs::metadata(&service_path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
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
    // Never blocks on a FIFO, nor reads a device forever.
    let bytes = crate::files::read(&path, crate::files::MAX_FILE).map_err(anyhow::Error::from)?;
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
        let bytes = crate::files::read(&self.root.join(rel), crate::files::MAX_FILE).unwrap_or_default();
        match json::decode(rel, &bytes) {
            Ok(source) => json::error_at(rel, source, keys, message),
            Err(_) => Diagnostic::at_line_col(rel, None, 1, 1, message),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Robustness: mutated files of every kind go through the same decode-and-parse steps as
    //! [`App::load`] (and the code frame a user would see) without panicking.

    use super::*;

    const MANIFESTS: &[&str] = &[
        include_str!("../../templates/service-course/manifest.json"),
        include_str!("../../templates/events-example/manifest.json"),
    ];
    const SERVICES: &[&str] = &[
        include_str!("../../templates/service-course/node/service.json"),
        include_str!("../../templates/events-example/node/service.json"),
        r#"{"memory": 256, "timeout": 10, "workers": 2, "colour": 1,
  "routes": {"a": {"path": "/_v/app/x/:id", "public": true}, "b": {"path": "/_v/app/x/*rest", "extra": 1}},
  "events": {"e": {"sender": "vtex.events-example", "keys": ["send-event"], "topics": ["t"], "x": 1},
             "apps": {"sender": "apps", "keys": ["setup"]}, "any": {"topics": ["é\u00e9"]}}}"#,
    ];

    /// Fixed-seed xorshift: the same mutations on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Bytes that matter to JSON, UTF-8 and our scanner, besides random ones.
    const SPECIAL: &[u8] = b"{}[]\":,\\ \n\r\t-0123456789.eEtfnu\xEF\xBB\xBF\xFF\xC3\xE2\x80";

    fn mutate(rng: &mut Rng, a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut v = a.to_vec();
        for _ in 0..1 + rng.below(2) {
            let at = rng.below(v.len() + 1);
            let byte = if rng.below(2) == 0 { SPECIAL[rng.below(SPECIAL.len())] } else { rng.next() as u8 };
            match rng.below(6) {
                0 if at < v.len() => v[at] ^= 1 << rng.below(8),
                1 if at < v.len() => v[at] = byte,
                2 => v.truncate(at),
                3 => {
                    let from = rng.below(b.len() + 1);
                    v.truncate(at);
                    v.extend_from_slice(&b[from..]);
                }
                4 => v.insert(at, byte),
                _ => {
                    let n = rng.below(8);
                    let start = rng.below(b.len() + 1);
                    let piece = b[start..(start + n).min(b.len())].to_vec();
                    v.splice(at..at, piece);
                }
            }
        }
        v
    }

    /// Decodes and parses like [`App::load`]; the first problem found, if any, and whether
    /// the file was refused.
    fn try_load<T>(rel: &str, bytes: &[u8], parse: Parse<T>) -> (Option<Diagnostic>, bool) {
        match parse_bytes(Path::new(rel), bytes, parse) {
            Err(e) => (Some(e), true),
            Ok((_, w)) => (w.into_iter().next(), false),
        }
    }

    #[test]
    fn mutated_files_never_panic_the_parsers() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let all = [MANIFESTS, SERVICES].concat();
        let (mut runs, mut refused) = (0, 0);
        let started = std::time::Instant::now();
        for round in 0..110_000 {
            let manifest = round % 2 == 0;
            let files = if manifest { MANIFESTS } else { SERVICES };
            let a = files[rng.below(files.len())].as_bytes();
            let b = all[rng.below(all.len())].as_bytes();
            let bytes = mutate(&mut rng, a, b);
            let (problem, bad) = if manifest {
                try_load("manifest.json", &bytes, Manifest::parse)
            } else {
                try_load("node/service.json", &bytes, ServiceJson::parse)
            };
            runs += 1;
            refused += usize::from(bad);
            // The code frame walks the text again; render a sample of them.
            if let Some(d) = problem.filter(|_| round % 16 < 2) {
                assert!(!d.render_full(false).is_empty());
            }
        }
        assert!(runs >= 100_000 && refused > runs / 10, "{runs} runs, {refused} refused");
        eprintln!("{runs} mutated files, {refused} refused, in {:?}", started.elapsed());
    }
}
