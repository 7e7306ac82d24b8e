//! Reading a user's JSON file into a typed struct, with positioned errors for bad syntax,
//! wrong types and failed validation, and warnings for fields we do not know.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::Diagnostic;

/// Parses `source` (the contents of `file`) as `T`; serde's line/column become a code frame.
pub fn parse<T: DeserializeOwned>(file: &Path, source: &str) -> Result<T, Diagnostic> {
    serde_json::from_str(source).map_err(|e| {
        let message = strip_position(&e.to_string());
        Diagnostic::at_line_col(file, Some(source), e.line(), e.column(), message)
    })
}

/// serde_json appends " at line L column C"; the diagnostic shows the position itself.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Where `"key"` first appears after the place `within` (a chain of parent keys) points at.
/// Good enough to aim a validation message at the right line of a hand-written file.
pub fn locate(source: &str, path: &[&str]) -> usize {
    let mut from = 0;
    for key in path {
        let needle = format!("\"{key}\"");
        match source[from..].find(&needle) {
            Some(i) => from += i,
            None => return from,
        }
    }
    from
}

/// A validation error aimed at the key path inside the file.
pub fn error_at(file: &Path, source: &str, path: &[&str], message: impl Into<String>) -> Diagnostic {
    Diagnostic::at_offset(file, source, locate(source, path), message)
}

/// Warnings for keys of `extra` (fields serde did not map) under `path`.
pub fn unknown_fields(
    file: &Path,
    source: &str,
    path: &[&str],
    extra: &BTreeMap<String, Value>,
    known: &str,
) -> Vec<Diagnostic> {
    extra
        .keys()
        .map(|k| {
            let mut p = path.to_vec();
            p.push(k);
            error_at(file, source, &p, format!("unknown field `{k}` (ignored)"))
                .with_help(format!("known fields: {known}"))
        })
        .collect()
}
