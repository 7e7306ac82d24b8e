//! Reading a user's JSON file into a typed struct, with positioned errors for bad bytes, bad
//! syntax, wrong types, duplicate keys and failed validation, and warnings for unknown fields.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::{self, Diagnostic};

/// The file's bytes as text: a UTF-8 BOM is dropped (VTEX's tools accept it, and editors do
/// not count it as a column); bytes that are not UTF-8 are refused at the first bad one.
pub fn decode<'a>(file: &Path, bytes: &'a [u8]) -> Result<&'a str, Diagnostic> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = e.valid_up_to();
        // The prefix up to the bad byte is valid UTF-8 by definition.
        let (line, column) = diagnostic::line_col(std::str::from_utf8(&bytes[..good]).unwrap_or(""), good);
        let lossy = String::from_utf8_lossy(bytes);
        Diagnostic::at_line_col(
            file,
            Some(&lossy),
            line,
            column,
            format!("this file is not valid UTF-8 (byte 0x{:02X})", bytes[good]),
        )
        .with_help("save the file as UTF-8")
    })
}

/// Parses `source` (the contents of `file`) as `T`; serde's line/column become a code frame.
/// `what` names the top-level value in user terms, e.g. "manifest.json".
pub fn parse<T: DeserializeOwned>(file: &Path, source: &str, what: &str) -> Result<T, Diagnostic> {
    let start = source.len() - source.trim_start().len();
    if let Some(found) = source[start..].chars().next().filter(|c| *c != '{').and_then(kind_of) {
        // Only when the whole file is valid JSON: otherwise serde's syntax error says more.
        if serde_json::from_str::<serde::de::IgnoredAny>(source).is_ok() {
            return Err(Diagnostic::at_offset(
                file,
                source,
                start,
                format!("{what} must be a JSON object, not {found}"),
            )
            .with_help("write its fields between braces, e.g. { \"key\": \"value\" }"));
        }
    }
    serde_json::from_str(source).map_err(|e| {
        let message = clip(&in_user_terms(&strip_position(&e.to_string())), 200);
        Diagnostic::at_line_col(file, Some(source), e.line(), e.column(), message)
    })
}

/// The JSON kind a value starting with `c` has, as a user would name it.
fn kind_of(c: char) -> Option<&'static str> {
    Some(match c {
        '[' => "an array",
        '"' => "a string",
        't' | 'f' => "a boolean",
        'n' => "null",
        '-' | '0'..='9' => "a number",
        _ => return None,
    })
}

/// serde_json appends " at line L column C"; the diagnostic shows the position itself.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// serde's wording with JSON's names instead of Rust's (`struct Route`, `u32`, `sequence`).
fn in_user_terms(msg: &str) -> String {
    let mut out = msg.to_string();
    if let Some(i) = out.find("expected struct ") {
        out.replace_range(i.., "expected an object");
    }
    for (rust, json) in [
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected an object"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: map", "invalid type: object"),
        ("invalid type: unit value", "invalid type: null"),
    ] {
        out = out.replace(rust, json);
    }
    out
}

/// `s` cut to about `max` characters around its middle, so a huge value cannot flood a message.
pub fn clip(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max / 2).collect();
    let tail: String = s.chars().skip(n - max / 2).collect();
    format!("{head}…{tail}")
}

/// Byte offset of the key at `path` (a chain of object keys from the top), found by walking
/// the JSON structure so a string value equal to the key is never taken for it. When the path
/// is not there, the offset of the deepest part that is.
pub fn locate(source: &str, path: &[&str]) -> usize {
    let mut at = Scanner::new(source).value_start(0);
    let mut best = at;
    for (n, key) in path.iter().enumerate() {
        let Some(entry) = object_keys(source, at).into_iter().find(|k| k.name == *key) else {
            return best;
        };
        if n + 1 == path.len() {
            return entry.key;
        }
        best = entry.key;
        at = entry.value;
    }
    best
}

/// The second occurrence of a key that appears twice in the object at `path`, with the
/// offset of the first. serde keeps the last of duplicate map keys silently; we refuse them.
pub fn duplicate_key(source: &str, path: &[&str]) -> Option<(String, usize, usize)> {
    let mut at = Scanner::new(source).value_start(0);
    for key in path {
        at = object_keys(source, at).into_iter().find(|k| k.name == *key)?.value;
    }
    let keys = object_keys(source, at);
    keys.iter().enumerate().find_map(|(i, k)| {
        keys[..i].iter().find(|first| first.name == k.name).map(|first| (k.name.clone(), k.key, first.key))
    })
}

/// One `"name": value` of an object: the key's offset and the value's.
struct Key {
    name: String,
    key: usize,
    value: usize,
}

/// The keys of the object starting at `at`, in file order; empty if there is none. Stops
/// quietly at the first thing that is not JSON (the file may have changed since serde read it).
fn object_keys(source: &str, at: usize) -> Vec<Key> {
    let mut s = Scanner::new(source);
    let mut out = Vec::new();
    if s.b.get(at) != Some(&b'{') {
        return out;
    }
    s.i = at + 1;
    loop {
        s.ws();
        let key = s.i;
        let Some(raw) = s.string() else { return out };
        let name = if raw.contains('\\') {
            serde_json::from_str::<String>(&source[key..s.i]).unwrap_or_default()
        } else {
            raw.to_string()
        };
        s.ws();
        if !s.eat(b':') {
            return out;
        }
        let value = s.value_start(s.i);
        s.i = value;
        out.push(Key { name, key, value });
        if !s.skip_value() {
            return out;
        }
        s.ws();
        if !s.eat(b',') {
            return out;
        }
    }
}

/// A cursor over JSON text that can skip values without building them (iteratively, so no
/// nesting depth can overflow the stack).
struct Scanner<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str) -> Self {
        Scanner { src, b: src.as_bytes(), i: 0 }
    }

    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// The first non-blank offset at or after `from`.
    fn value_start(&mut self, from: usize) -> usize {
        self.i = from;
        self.ws();
        self.i
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// A string at the cursor: its raw contents (escapes not decoded); the cursor moves past it.
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return self.src.get(start..self.i - 1);
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
        None
    }

    /// Moves past the value at the cursor; false if the text ends or breaks first.
    fn skip_value(&mut self) -> bool {
        match self.b.get(self.i) {
            None => false,
            Some(b'"') => self.string().is_some(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i) {
                        None => return false,
                        Some(b'"') => {
                            if self.string().is_none() {
                                return false;
                            }
                        }
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.i += 1;
                        }
                        Some(b'}' | b']') => {
                            depth -= 1;
                            self.i += 1;
                            if depth == 0 {
                                return true;
                            }
                        }
                        Some(_) => self.i += 1,
                    }
                }
            }
            Some(_) => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.i += 1;
                }
                self.i > start
            }
        }
    }
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
            error_at(file, source, &p, format!("unknown field `{}` (ignored)", clip(k, 60)))
                .with_help(format!("known fields: {known}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_the_key_not_an_equal_string_before_it() {
        let src = r#"{"name": "vendor", "x": {"vendor": 1}, "vendor": "v"}"#;
        assert_eq!(locate(src, &["vendor"]), src.rfind("\"vendor\"").unwrap());
        assert_eq!(locate(src, &["x", "vendor"]), src.find("{\"vendor\"").unwrap() + 1);
        assert_eq!(locate(src, &["x", "nope"]), src.find("\"x\"").unwrap(), "deepest part found");
    }

    #[test]
    fn locate_survives_broken_text() {
        for src in ["", "{", "{\"a", "{\"a\":", "{\"a\": [1, {\"b\"", "[", "\"\\", "{\"a\":1,}"] {
            let _ = locate(src, &["a", "b"]);
            let _ = duplicate_key(src, &["a"]);
        }
    }

    #[test]
    fn duplicate_keys_point_at_the_second() {
        let src = "{\"events\": {\n \"a\": {\"keys\": [\"a\"]},\n \"a\": {}\n}}";
        let (name, second, first) = duplicate_key(src, &["events"]).unwrap();
        assert_eq!(name, "a");
        assert_eq!(diagnostic::line_col(src, second), (3, 2));
        assert_eq!(diagnostic::line_col(src, first), (2, 2));
        assert!(duplicate_key(r#"{"events": {"a": 1, "b": 2}}"#, &["events"]).is_none());
    }

    #[test]
    fn bom_is_accepted_and_bad_bytes_are_positioned() {
        assert_eq!(decode(Path::new("m"), b"\xEF\xBB\xBF{}").unwrap(), "{}");
        let e = decode(Path::new("manifest.json"), b"{\n  \"name\": \"a\xFFb\"\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
        assert!(e.message.contains("not valid UTF-8 (byte 0xFF)"), "{}", e.message);
    }

    #[test]
    fn non_object_says_what_was_expected() {
        let e =
            parse::<BTreeMap<String, Value>>(Path::new("node/service.json"), " []", "node/service.json").unwrap_err();
        assert_eq!(e.message, "node/service.json must be a JSON object, not an array");
        assert_eq!(e.column, 2);
    }

    #[test]
    fn type_errors_use_json_names() {
        assert_eq!(
            in_user_terms("invalid type: sequence, expected struct Route"),
            "invalid type: array, expected an object"
        );
        assert_eq!(
            in_user_terms("invalid type: string \"x\", expected u32"),
            "invalid type: string \"x\", expected a whole number ≥ 0"
        );
    }
}
