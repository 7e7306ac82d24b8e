//! Route paths of service.json: `:param` segments and a `*name` (or `*`) tail, compiled to
//! matchers.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `*name` (or `*`, named `wildcard`): the rest of the path, possibly empty.
    Tail(String),
}

/// A compiled service.json path.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    segments: Vec<Segment>,
}

impl Pattern {
    pub fn parse(path: &str) -> Result<Pattern, String> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut segments = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if let Some(name) = p.strip_prefix(':') {
                if name.is_empty() {
                    return Err(format!("`{path}`: a `:` segment needs a name, e.g. `:id`"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else if let Some(name) = p.strip_prefix('*') {
                if i + 1 != parts.len() {
                    return Err(format!("`{path}`: `*{name}` must be the last segment"));
                }
                segments.push(Segment::Tail(if name.is_empty() { "wildcard".into() } else { name.to_string() }));
            } else {
                segments.push(Segment::Literal(p.to_string()));
            }
        }
        Ok(Pattern { segments })
    }

    /// The path's params when it matches.
    pub fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut params = BTreeMap::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if parts.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => {
                    let v = parts.get(i).filter(|v| !v.is_empty())?;
                    params.insert(name.clone(), decode(v));
                }
                Segment::Tail(name) => {
                    params.insert(name.clone(), decode(&parts.get(i..).unwrap_or_default().join("/")));
                    return Some(params);
                }
            }
        }
        (parts.len() == self.segments.len()).then_some(params)
    }
}

/// Percent-decoding of a path segment (invalid sequences are kept as they are).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_param_and_tail() {
        let p = Pattern::parse("/_v/app/my-app/status/:code").unwrap();
        assert_eq!(p.matches("/_v/app/my-app/status/500").unwrap()["code"], "500");
        assert!(p.matches("/_v/app/my-app/status").is_none());
        assert!(p.matches("/_v/app/my-app/status/500/x").is_none());
        assert!(p.matches("/_v/app/my-app/status/").is_none());
        let t = Pattern::parse("/_v/files/*path").unwrap();
        assert_eq!(t.matches("/_v/files/a/b%20c.txt").unwrap()["path"], "a/b c.txt");
        assert_eq!(t.matches("/_v/files/").unwrap()["path"], "");
        assert_eq!(t.matches("/_v/files/%é%2").unwrap()["path"], "%é%2");
        let w = Pattern::parse("/_v/any/*").unwrap();
        assert_eq!(w.matches("/_v/any/x/y").unwrap()["wildcard"], "x/y");
        assert!(Pattern::parse("/a/*x/b").is_err());
        assert!(Pattern::parse("/a/:/b").is_err());
    }
}
