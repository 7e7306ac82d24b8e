//! Fixtures (`ioctl link --fixtures DIR`): JSON files of answers to an app's outbound calls,
//! matched by method, URL (or VTEX IO app), query and body; the most specific entry answers.
//! Read with positioned diagnostics (a bad file is reported and the rest serve) and reloaded
//! on save, a file that breaks keeping its last good entries.
//!
//! The file format (one entry, or an array of them), which `--record` writes too:
//!
//! ```text
//! {"request": {"method": "GET", "url": "https://{account}.vtexcommercestable.com.br/api/x/*?a=1", "body": {...}},
//!  "response": {"status": 200, "headers": {...}, "body": <JSON, or a string> | "bodyBase64": "..."}}
//! {"request": {"app": "vtex.search-graphql@0.x", "graphql": {"operationName": "...", "variables": {...}}}, "response": ...}
//! {"request": {"app": "vendor.app@1.x", "method": "GET", "path": "/items/*"}, "response": ...}
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use super::call::{AppTarget, CallView, Url};
use super::{Answer, Answerer, Outbound, Source};
use crate::app::json;
use crate::diagnostic::{self, Diagnostic};
use crate::lock::ReadWrite;
use crate::protocol::stream::Level;
use crate::protocol::Scope;

/// The most one fixture file may hold (a recorded answer is at most 16 MiB, and grows when
/// written as a JSON string or base64).
pub const MAX_FILE: u64 = 64 << 20;
/// The most fixture files read from the folders together; past it the rest are skipped, saying so.
pub const MAX_FILES: usize = 10_000;

// ---- The file format -------------------------------------------------------------------------

/// One entry of a fixture file, as written by hand or by `--record`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryFile {
    pub request: RequestFile,
    pub response: ResponseFile,
}

/// What calls an entry answers: `url` (with `method`, default GET), or `app` with `graphql`
/// or with `path` (and `method`); a `body` is matched as a JSON subset of the call's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<GraphqlFile>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A GraphQL request to a VTEX IO app: `operationName` as sent (else the name of the
/// operation the query runs) and `variables` as a JSON subset.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlFile {
    #[serde(default, rename = "operationName", skip_serializing_if = "Option::is_none")]
    pub operation_name: Option<String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub variables: Option<Value>,
}

/// The answer: `body` is JSON (sent as `application/json`) or a string (sent as written,
/// `text/plain` unless `headers` say otherwise); `bodyBase64` for bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseFile {
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, rename = "bodyBase64", skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

fn ok() -> u16 {
    200
}

/// A field that is there, `null` included (`Option<Value>` alone would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

// ---- Entries as matched ------------------------------------------------------------------------

/// One path segment of a pattern: `*` matches any one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Any,
    Lit(String),
}

#[derive(Debug, Clone)]
enum Target {
    Url { host: String, path: Vec<Seg> },
    Graphql { app: AppTarget, operation: Option<String>, variables: Option<Value> },
    AppPath { app: AppTarget, path: Vec<Seg> },
}

/// How specific an entry is; of two entries that match a call, the greater answers. Literal
/// path segments (and a GraphQL operation name) first, then constraints: query parameters
/// plus the leaves of the `body` and `variables` subsets (a scalar, or an empty object or
/// array, is one leaf). Equal scores are a tie: the entry loaded first answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    pub literals: usize,
    pub constraints: usize,
}

/// Where an entry was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug)]
struct Entry {
    origin: Origin,
    /// `None`: POST or GET (a GraphQL entry).
    method: Option<String>,
    target: Target,
    query: Vec<(String, String)>,
    body: Option<Value>,
    score: Score,
    answer: Answer,
}

/// The bucket an entry is looked up in: a host, or a VTEX IO app and major.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Host(String),
    App(AppTarget),
}

impl Entry {
    fn key(&self) -> Key {
        match &self.target {
            Target::Url { host, .. } => Key::Host(host.clone()),
            Target::Graphql { app, .. } | Target::AppPath { app, .. } => Key::App(app.clone()),
        }
    }

    fn matches(&self, call: &CallView) -> bool {
        if self.method.as_ref().map_or(!matches!(call.method.as_str(), "GET" | "POST"), |m| *m != call.method) {
            return false;
        }
        let target = match &self.target {
            Target::Url { host, path } => *host == call.url.host && segments_match(path, &call.url.segments),
            Target::AppPath { app, path } => {
                call.app.as_ref().is_some_and(|(a, rest)| a == app && segments_match(path, rest))
            }
            Target::Graphql { app, operation, variables } => {
                call.app.as_ref().is_some_and(|(a, _)| a == app)
                    && call.graphql().is_some_and(|g| {
                        operation.as_ref().is_none_or(|o| g.operation.as_ref() == Some(o))
                            && variables.as_ref().is_none_or(|v| subset(v, &g.variables))
                    })
            }
        };
        target
            && self.query.iter().all(|(k, v)| call.url.query.iter().any(|(ck, cv)| ck == k && cv == v))
            && self.body.as_ref().is_none_or(|b| call.body().is_some_and(|cb| subset(b, cb)))
    }

    /// Whether one call could match both entries (then equal scores are a tie).
    fn overlaps(&self, other: &Entry) -> bool {
        let methods = match (&self.method, &other.method) {
            (Some(a), Some(b)) => a == b,
            (Some(m), None) | (None, Some(m)) => m == "GET" || m == "POST",
            (None, None) => true,
        };
        if !methods {
            return false;
        }
        let targets = match (&self.target, &other.target) {
            (Target::Url { host: ha, path: pa }, Target::Url { host: hb, path: pb }) => {
                ha == hb && segments_overlap(pa, pb)
            }
            (Target::AppPath { app: a, path: pa }, Target::AppPath { app: b, path: pb }) => {
                a == b && segments_overlap(pa, pb)
            }
            (
                Target::Graphql { app: a, operation: oa, variables: va },
                Target::Graphql { app: b, operation: ob, variables: vb },
            ) => a == b && (oa.is_none() || ob.is_none() || oa == ob) && compatible_opt(va, vb),
            _ => false,
        };
        // A parameter both name must have one value for both.
        targets
            && self.query.iter().all(|(k, v)| other.query.iter().all(|(ok, ov)| ok != k || ov == v))
            && compatible_opt(&self.body, &other.body)
    }
}

fn segments_match(pattern: &[Seg], segments: &[String]) -> bool {
    pattern.len() == segments.len()
        && pattern.iter().zip(segments).all(|(p, s)| match p {
            Seg::Any => true,
            Seg::Lit(l) => l == s,
        })
}

fn segments_overlap(a: &[Seg], b: &[Seg]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || *x == Seg::Any || *y == Seg::Any)
}

/// Whether `pattern` is a JSON subset of `actual`: every key of an object is there with a
/// subset value; an array has as many items, each a subset; numbers compare by value.
pub fn subset(pattern: &Value, actual: &Value) -> bool {
    match (pattern, actual) {
        (Value::Object(p), Value::Object(a)) => p.iter().all(|(k, v)| a.get(k).is_some_and(|w| subset(v, w))),
        (Value::Array(p), Value::Array(a)) => p.len() == a.len() && p.iter().zip(a).all(|(v, w)| subset(v, w)),
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (x, y) => x == y,
    }
}

/// Whether some value could have both `a` and `b` as subsets.
fn compatible(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.iter().all(|(k, v)| y.get(k).is_none_or(|w| compatible(v, w))),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| compatible(v, w)),
        _ => subset(a, b),
    }
}

fn compatible_opt(a: &Option<Value>, b: &Option<Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => compatible(a, b),
        _ => true,
    }
}

/// The leaves of a subset pattern, for its [`Score`].
fn leaves(v: &Value) -> usize {
    match v {
        Value::Object(o) if !o.is_empty() => o.values().map(leaves).sum(),
        Value::Array(a) if !a.is_empty() => a.iter().map(leaves).sum(),
        _ => 1,
    }
}

// ---- Compiling an entry -----------------------------------------------------------------------

/// What is wrong with an entry: the key path it is at (within the entry), and what to do.
struct Problem {
    at: Vec<&'static str>,
    message: String,
    help: Option<String>,
}

fn problem(at: &[&'static str], message: impl Into<String>) -> Problem {
    Problem { at: at.to_vec(), message: message.into(), help: None }
}

/// `{account}` and `{workspace}` replaced by the linked scope's; any other `{...}` is refused.
fn expand(text: &str, scope: &Scope, at: &[&'static str]) -> Result<String, Problem> {
    let out = text.replace("{account}", &scope.account).replace("{workspace}", &scope.workspace);
    if let Some(start) = out.find('{') {
        let end = out[start..].find('}').map_or(out.len(), |n| start + n + 1);
        let mut p = problem(at, format!("unknown placeholder `{}`", json::clip(&out[start..end], 40)));
        p.help = Some("the placeholders are {account} and {workspace} (the linked account and workspace)".into());
        return Err(p);
    }
    Ok(out)
}

fn pattern(segments: &[String], at: &[&'static str]) -> Result<Vec<Seg>, Problem> {
    segments
        .iter()
        .map(|s| match s.as_str() {
            "*" => Ok(Seg::Any),
            s if s.contains('*') => Err(Problem {
                at: at.to_vec(),
                message: format!("`{}`: `*` matches a whole path segment only", json::clip(s, 40)),
                help: Some("write `/*/` for any one segment".into()),
            }),
            s => Ok(Seg::Lit(s.to_string())),
        })
        .collect()
}

fn method(m: &Option<String>, default: &str) -> Result<String, Problem> {
    let m = m.as_deref().unwrap_or(default).to_ascii_uppercase();
    if m.is_empty() || !m.bytes().all(|c| c.is_ascii_alphabetic()) {
        return Err(problem(&["request", "method"], format!("`{}` is no HTTP method", json::clip(&m, 20))));
    }
    Ok(m)
}

fn app_target(locator: &str) -> Result<AppTarget, Problem> {
    AppTarget::parse(locator).ok_or_else(|| Problem {
        at: vec!["request", "app"],
        message: format!("`{}` is no app locator", json::clip(locator, 60)),
        help: Some("write `vendor.name@MAJOR.x`, e.g. `vtex.search-graphql@0.x`".into()),
    })
}

/// An entry as written, checked and made ready to match.
fn compile(file: EntryFile, scope: &Scope, origin: Origin) -> Result<Entry, Problem> {
    let r = file.request;
    let (target, method, query) = match (&r.url, &r.app) {
        (Some(_), Some(_)) => return Err(problem(&["request", "app"], "an entry has `url` or `app`, not both")),
        (None, None) => {
            let mut p = problem(&["request"], "the request has neither `url` nor `app`");
            p.help = Some(
                "write `\"url\": \"https://...\"`, or `\"app\": \"vendor.name@1.x\"` with `graphql` or `path`".into(),
            );
            return Err(p);
        }
        (Some(url), None) => {
            if r.graphql.is_some() || r.path.is_some() {
                return Err(problem(&["request", "url"], "`graphql` and `path` go with `app`, not with `url`"));
            }
            let url = Url::parse(&expand(url, scope, &["request", "url"])?)
                .map_err(|e| problem(&["request", "url"], format!("`url`: {e}")))?;
            if url.host.contains('*') {
                return Err(problem(&["request", "url"], "`*` matches a path segment, not a host"));
            }
            let path = pattern(&url.segments, &["request", "url"])?;
            (Target::Url { host: url.host, path }, Some(method(&r.method, "GET")?), url.query)
        }
        (None, Some(locator)) => {
            let app = app_target(locator)?;
            match (&r.graphql, &r.path) {
                (Some(_), Some(_)) => {
                    return Err(problem(&["request", "path"], "an app entry has `graphql` or `path`, not both"))
                }
                (None, None) => return Err(problem(&["request", "app"], "an app entry needs `graphql` or `path`")),
                (Some(g), None) => {
                    if r.method.is_some() {
                        return Err(problem(
                            &["request", "method"],
                            "a `graphql` entry matches the call's POST or GET: drop `method`",
                        ));
                    }
                    let operation = g.operation_name.clone();
                    (Target::Graphql { app, operation, variables: g.variables.clone() }, None, Vec::new())
                }
                (None, Some(path)) => {
                    let path = expand(path, scope, &["request", "path"])?;
                    if !path.starts_with('/') {
                        return Err(problem(&["request", "path"], "`path` starts with `/`"));
                    }
                    let (path, query) = path.split_once('?').unwrap_or((&path, ""));
                    let segments: Vec<String> =
                        path.split('/').filter(|s| !s.is_empty()).map(super::call::percent_decode).collect();
                    let seg = pattern(&segments, &["request", "path"])?;
                    let query = super::call::query_pairs(query);
                    (Target::AppPath { app, path: seg }, Some(method(&r.method, "GET")?), query)
                }
            }
        }
    };
    let score = score(&target, &query, &r.body);
    let answer = answer(file.response)?;
    Ok(Entry { origin, method, target, query, body: r.body, score, answer })
}

fn score(target: &Target, query: &[(String, String)], body: &Option<Value>) -> Score {
    let lits = |p: &[Seg]| p.iter().filter(|s| matches!(s, Seg::Lit(_))).count();
    let (literals, vars) = match target {
        Target::Url { path, .. } | Target::AppPath { path, .. } => (lits(path), 0),
        Target::Graphql { operation, variables, .. } => {
            (usize::from(operation.is_some()), variables.as_ref().map_or(0, leaves))
        }
    };
    Score { literals, constraints: query.len() + vars + body.as_ref().map_or(0, leaves) }
}

/// The answer an entry gives, built once.
fn answer(r: ResponseFile) -> Result<Answer, Problem> {
    if !(100..=599).contains(&r.status) {
        return Err(problem(
            &["response", "status"],
            format!("status {} is not an HTTP status (100 to 599)", r.status),
        ));
    }
    let mut headers: BTreeMap<String, String> =
        r.headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let (body, kind) = match (r.body, r.body_base64) {
        (Some(_), Some(_)) => {
            return Err(problem(&["response", "bodyBase64"], "a response has `body` or `bodyBase64`, not both"))
        }
        (Some(Value::String(text)), None) => (Some(text.into_bytes()), "text/plain; charset=utf-8"),
        (Some(v), None) => (Some(serde_json::to_vec(&v).unwrap_or_default()), "application/json; charset=utf-8"),
        (None, Some(b64)) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| problem(&["response", "bodyBase64"], format!("`bodyBase64` is not base64: {e}")))?;
            (Some(bytes), "application/octet-stream")
        }
        (None, None) => (None, ""),
    };
    if body.is_some() {
        headers.entry("content-type".into()).or_insert_with(|| kind.to_string());
    }
    Ok(Answer { status: r.status, headers, body, source: Source::Fixture, message: None })
}

// ---- Reading files ----------------------------------------------------------------------------

/// The entries of one file, or the diagnostics that make it bad.
fn read_file(path: &Path, shown: &Path, scope: &Scope) -> Result<Vec<Arc<Entry>>, Vec<Diagnostic>> {
    let bytes =
        crate::files::read(path, MAX_FILE).map_err(|e| vec![Diagnostic::at_line_col(shown, None, 1, 1, e.reason())])?;
    let source = json::decode(shown, &bytes).map_err(|d| vec![d])?;
    let body = source.trim_start();
    let elements: Vec<&RawValue> = if body.starts_with('[') {
        serde_json::from_str(source).map_err(|e| vec![serde_error(shown, source, 0, source, &e)])?
    } else {
        vec![serde_json::from_str(source).map_err(|e| vec![serde_error(shown, source, 0, source, &e)])?]
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for element in elements {
        let text = element.get();
        // A borrowed RawValue is a slice of `source`: its offset is where the entry starts.
        let start = text.as_ptr() as usize - source.as_ptr() as usize;
        let not_object = !text.starts_with('{');
        let parsed = if not_object {
            Err(Diagnostic::at_offset(
                shown,
                source,
                start,
                "a fixture entry is an object {\"request\": ..., \"response\": ...}",
            ))
        } else {
            serde_json::from_str::<EntryFile>(text).map_err(|e| serde_error(shown, source, start, text, &e))
        };
        let (line, column) = diagnostic::line_col(source, start);
        let origin = Origin { file: shown.to_path_buf(), line, column };
        match parsed.and_then(|f| {
            compile(f, scope, origin).map_err(|p| {
                let d = Diagnostic::at_offset(shown, source, start + json::locate(text, &p.at), p.message);
                match p.help {
                    Some(h) => d.with_help(h),
                    None => d,
                }
            })
        }) {
            Ok(e) => entries.push(Arc::new(e)),
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// serde's error at its place in the file (`text` starts at `start` of `source`). An unknown
/// field is pointed at its key, with the fields that exist.
fn serde_error(shown: &Path, source: &str, start: usize, text: &str, e: &serde_json::Error) -> Diagnostic {
    let message = e.to_string();
    let message = message.rfind(" at line ").map_or(message.as_str(), |i| &message[..i]).to_string();
    let mut at = start + diagnostic::offset_of(text, e.line(), e.column());
    let unknown = message.starts_with("unknown field");
    let at_quote = source.as_bytes().get(at) == Some(&b'"');
    if unknown {
        // serde stops at (or just after) the key's closing quote: point at its opening one.
        if let Some(close) = if at_quote { Some(at) } else { source[..at.min(source.len())].rfind('"') } {
            at = source[..close].rfind('"').unwrap_or(close);
        }
    }
    let before = source[..at.min(source.len())].trim_end();
    let message = if message == "key must be a string" && before.ends_with(',') {
        "a trailing comma: JSON has no `,` before `}`".to_string()
    } else {
        message
    };
    Diagnostic::at_offset(shown, source, at, json::clip(&message, 200))
}

/// The `*.json` files under `dir` (sorted; hidden files and folders skipped, no link followed
/// out of it), and warnings for what was passed over.
fn files_in(dir: &Path, root: &Path) -> (Vec<PathBuf>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    let real_dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let walk = walkdir::WalkDir::new(dir).follow_links(false).sort_by_file_name();
    let hidden = |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    for entry in walk.into_iter().filter_entry(|e| !hidden(e)) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir);
                warnings.push(Diagnostic::at_line_col(&shown(path, root), None, 1, 1, format!("cannot read: {e}")));
                continue;
            }
        };
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        if entry.path_is_symlink() {
            let inside = path.canonicalize().is_ok_and(|t| t.starts_with(&real_dir) && t.is_file());
            if !inside {
                let why = "is a link out of the fixtures folder (or to no file): not followed";
                warnings.push(Diagnostic::at_line_col(&shown(path, root), None, 1, 1, why));
                continue;
            }
        } else if !entry.file_type().is_file() {
            continue;
        }
        files.push(path.to_path_buf());
    }
    (files, warnings)
}

/// A path as the link shows it: relative to the app folder when inside it (the link command
/// reads it there for the code frame), else absolute.
fn shown(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root).map(Path::to_path_buf).unwrap_or_else(|_| path.to_path_buf())
}

// ---- The set ----------------------------------------------------------------------------------

/// The entries loaded, by lookup bucket, in load order (folders as given, files by name,
/// entries as written).
#[derive(Default)]
struct Set {
    entries: Vec<Arc<Entry>>,
    by_key: HashMap<Key, Vec<usize>>,
    /// Each file's last good entries: a file that breaks keeps serving them.
    by_file: HashMap<PathBuf, Vec<Arc<Entry>>>,
}

impl Set {
    fn new(by_file: Vec<(PathBuf, Vec<Arc<Entry>>)>) -> Set {
        let mut set = Set::default();
        for (file, entries) in by_file {
            for e in &entries {
                set.by_key.entry(e.key()).or_default().push(set.entries.len());
                set.entries.push(e.clone());
            }
            set.by_file.insert(file, entries);
        }
        set
    }

    /// The entry that answers `call`: the highest score, the first loaded among equals.
    fn find(&self, call: &CallView) -> Option<&Entry> {
        let host = self.by_key.get(&Key::Host(call.url.host.clone()));
        let app = call.app.as_ref().and_then(|(a, _)| self.by_key.get(&Key::App(a.clone())));
        let mut best: Option<&Entry> = None;
        let mut ids: Vec<usize> = host.into_iter().chain(app).flatten().copied().collect();
        ids.sort_unstable();
        for e in ids.into_iter().map(|i| &*self.entries[i]) {
            if best.is_none_or(|b| e.score > b.score) && e.matches(call) {
                best = Some(e);
            }
        }
        best
    }

    /// Pairs of entries of equal score that one call could match: the later (which never
    /// answers those calls) is warned about, naming the first.
    fn ties(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for ids in self.by_key.values() {
            for (n, &later) in ids.iter().enumerate() {
                let l = &self.entries[later];
                let first = ids[..n].iter().map(|&i| &self.entries[i]).find(|e| e.score == l.score && e.overlaps(l));
                if let Some(first) = first {
                    let o = &l.origin;
                    let message = format!(
                        "this entry ties with {}: as specific, and both can match the same calls; {} answers them",
                        first.origin, first.origin
                    );
                    let help = "make one more specific (a literal path segment, a query parameter, a body field), or remove one";
                    out.push(Diagnostic::at_line_col(&o.file, None, o.line, o.column, message).with_help(help));
                }
            }
        }
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out
    }
}

/// What a load found, for the link terminal.
#[derive(Debug, Default)]
pub struct Report {
    pub entries: usize,
    pub files: usize,
    /// Files with errors (their last good entries, if any, still serve).
    pub bad_files: usize,
    pub diagnostics: Vec<(Level, Diagnostic)>,
}

impl Report {
    /// `12 entries from 3 files (1 file with errors)`.
    pub fn summary(&self) -> String {
        let s = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!("{} from {}", s(self.entries, "entry", "entries"), s(self.files, "file", "files"));
        if self.bad_files > 0 {
            line.push_str(&format!(" ({} with errors, see above)", s(self.bad_files, "file", "files")));
        }
        line
    }
}

/// The fixtures of one linked app: its `--fixtures` folders, read again on each change.
pub struct Fixtures {
    dirs: Vec<PathBuf>,
    root: PathBuf,
    scope: Scope,
    set: RwLock<Arc<Set>>,
}

impl Fixtures {
    /// Reads the folders (absolute); `root` is the app folder, paths inside it are shown
    /// relative to it.
    pub fn load(dirs: Vec<PathBuf>, root: &Path, scope: Scope) -> (Fixtures, Report) {
        let fixtures = Fixtures { dirs, root: root.to_path_buf(), scope, set: RwLock::default() };
        let report = fixtures.reload();
        (fixtures, report)
    }

    /// Reads the folders again and serves what they hold now; a file that has become bad
    /// keeps its last good entries.
    pub fn reload(&self) -> Report {
        let previous = self.set.reading().clone();
        let mut report = Report::default();
        let mut by_file = Vec::new();
        let mut paths = Vec::new();
        for dir in &self.dirs {
            let (files, warnings) = files_in(dir, &self.root);
            report.diagnostics.extend(warnings.into_iter().map(|d| (Level::Warn, d)));
            paths.extend(files);
        }
        if paths.len() > MAX_FILES {
            let first_skipped = shown(&paths[MAX_FILES], &self.root);
            let line = format!("more than {MAX_FILES} fixture files: this one and the rest are not read");
            report.diagnostics.push((Level::Warn, Diagnostic::at_line_col(&first_skipped, None, 1, 1, line)));
            paths.truncate(MAX_FILES);
        }
        for path in paths {
            let shown = shown(&path, &self.root);
            match read_file(&path, &shown, &self.scope) {
                Ok(entries) => by_file.push((path, entries)),
                Err(diagnostics) => {
                    report.bad_files += 1;
                    report.diagnostics.extend(diagnostics.into_iter().map(|d| (Level::Error, d)));
                    if let Some(last_good) = previous.by_file.get(&path) {
                        by_file.push((path, last_good.clone()));
                    }
                }
            }
        }
        report.files = by_file.len();
        let set = Set::new(by_file);
        report.entries = set.entries.len();
        report.diagnostics.extend(set.ties().into_iter().map(|d| (Level::Warn, d)));
        *self.set.writing() = Arc::new(set);
        report
    }

    /// Whether `path` is in one of the fixture folders (a save there reloads the fixtures and
    /// does not relink the app).
    pub fn owns(&self, path: &Path) -> bool {
        self.dirs.iter().any(|d| path.starts_with(d))
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The answer of the entry that matches `call` best, and where that entry is.
    pub fn find(&self, call: &Outbound) -> Option<(Answer, Origin)> {
        let view = CallView::new(call)?;
        let set = self.set.reading().clone();
        set.find(&view).map(|e| (e.answer.clone(), e.origin.clone()))
    }
}

impl Answerer for Fixtures {
    fn answer<'a>(
        &'a self,
        call: &'a Outbound,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Answer>> + Send + 'a>> {
        let found = self.find(call).map(|(a, _)| a);
        Box::pin(std::future::ready(found))
    }
}

#[cfg(test)]
mod tests;
