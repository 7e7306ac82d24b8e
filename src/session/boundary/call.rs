//! An outbound call read for the answerers: its URL's host, path segments and query, its body
//! as JSON, the VTEX IO app it addresses, and the GraphQL operation it runs. Fixtures match on
//! these, the cloud reads whether a call writes, and recording templates its URL.

use std::cell::OnceCell;

use serde_json::Value;

use super::Outbound;
use crate::app::AppId;

/// The host VTEX IO apps are called on (`http://app.io.vtex.com/{vendor}.{name}/v{major}/{account}/{workspace}/...`).
pub const APP_HOST: &str = "app.io.vtex.com";

/// An absolute URL in parts. The scheme is not kept: @vtex/api's clients call `http://` base
/// URLs for services that are HTTPS (`X-Vtex-Use-Https`), so http and https name one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Lower case, with the port when one is written (and is not 80 or 443).
    pub host: String,
    /// Percent-decoded; empty segments (`//`, a trailing `/`) are dropped.
    pub segments: Vec<String>,
    /// Decoded pairs, in order.
    pub query: Vec<(String, String)>,
}

impl Url {
    /// Reads an absolute http(s) URL; the reason when it is none.
    pub fn parse(text: &str) -> Result<Url, String> {
        let uri: hyper::Uri = text.parse().map_err(|e| format!("not a URL ({e})"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => return Err(format!("scheme `{other}` is not http or https")),
            None => return Err("not absolute: write `https://host/path`".to_string()),
        }
        let authority = uri.authority().ok_or("no host")?;
        let mut host = authority.host().to_ascii_lowercase();
        if let Some(port) = authority.port_u16().filter(|p| *p != 80 && *p != 443) {
            host = format!("{host}:{port}");
        }
        let segments = uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
        let query = uri.query().map(query_pairs).unwrap_or_default();
        Ok(Url { host, segments, query })
    }

    /// The path, `/a/b` (`/` when it has no segment).
    pub fn path(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }

    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// The pairs of a query string (`+` is a space, `%XX` decoded).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `%XX` decoded (a malformed escape is kept as written; bytes that are not UTF-8 are replaced).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    if !b.contains(&b'%') {
        return s.to_string();
    }
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `host` is VTEX's: only those calls are the boundary's, and only to those does the
/// cloud send the developer's credentials.
pub fn is_vtex_host(host: &str) -> bool {
    let host = host.split(':').next().unwrap_or(host);
    const DOMAINS: &[&str] = &[
        "vtex.com",
        "vtex.com.br",
        "vtexcommercestable.com.br",
        "vtexcommercebeta.com.br",
        "myvtex.com",
        "vtexpayments.com.br",
        "vtexassets.com",
        "vteximg.com.br",
    ];
    DOMAINS.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|rest| rest.ends_with('.')))
}

/// The VTEX IO app a call addresses: `vendor.name` and its major.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppTarget {
    pub id: String,
    pub major: u64,
}

impl AppTarget {
    /// From a locator as apps write it (`vtex.search-graphql@0.x`, `vendor.app@1.2.3`).
    pub fn parse(locator: &str) -> Option<AppTarget> {
        let id = AppId::parse(locator).ok()?;
        let major = id.major()?.parse().ok()?;
        Some(AppTarget { id: id.without_version().to_string(), major })
    }
}

/// Whether a GraphQL operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

/// The GraphQL request a call carries: a POST body `{query, variables, operationName}` or a
/// GET's `?query=&variables=&operationName=`.
#[derive(Debug, Clone, PartialEq)]
pub struct Graphql {
    pub kind: OperationKind,
    /// `operationName` as sent, else the name of the operation the document runs.
    pub operation: Option<String>,
    pub variables: Value,
}

/// A call as the answerers read it; the body is parsed once, when first asked for.
pub struct CallView<'a> {
    pub call: &'a Outbound,
    pub method: String,
    pub url: Url,
    /// The app addressed (by the call's `app`, else by an `app.io.vtex.com` URL), and the path
    /// after its `/{vendor}.{name}/v{major}/{account}/{workspace}`.
    pub app: Option<(AppTarget, Vec<String>)>,
    body: OnceCell<Option<Value>>,
}

impl<'a> CallView<'a> {
    /// None when the call's URL is no absolute http(s) URL (nothing matches it then).
    pub fn new(call: &'a Outbound) -> Option<CallView<'a>> {
        let url = Url::parse(&call.url).ok()?;
        let on_app_host = url.host == APP_HOST && url.segments.len() >= 4;
        let from_url = || {
            let major = url.segments[1].strip_prefix('v')?.parse().ok()?;
            Some(AppTarget { id: url.segments[0].clone(), major })
        };
        let target = match &call.app {
            Some(locator) => AppTarget::parse(locator),
            None if on_app_host => from_url(),
            None => None,
        };
        let app = target.map(|t| {
            let rest = if on_app_host { url.segments[4..].to_vec() } else { url.segments.clone() };
            (t, rest)
        });
        Some(CallView { method: call.method.to_ascii_uppercase(), url, app, body: OnceCell::new(), call })
    }

    /// The body as JSON; a body that is no JSON but text is a JSON string; none when empty
    /// or binary.
    pub fn body(&self) -> Option<&Value> {
        self.body
            .get_or_init(|| {
                let bytes = self.call.body.as_deref().filter(|b| !b.is_empty())?;
                serde_json::from_slice(bytes)
                    .ok()
                    .or_else(|| std::str::from_utf8(bytes).ok().map(|t| Value::String(t.to_string())))
            })
            .as_ref()
    }

    /// The GraphQL request the call carries, if any.
    pub fn graphql(&self) -> Option<Graphql> {
        let (query, name, variables) = match self.method.as_str() {
            "GET" => {
                let variables = self.url.query_value("variables").and_then(|v| serde_json::from_str(v).ok());
                (self.url.query_value("query")?, self.url.query_value("operationName"), variables)
            }
            _ => {
                let body = self.body()?.as_object()?;
                let name = body.get("operationName").and_then(Value::as_str);
                (body.get("query")?.as_str()?, name, body.get("variables").cloned())
            }
        };
        let name = name.filter(|n| !n.is_empty());
        let (kind, found) = operation(query, name)?;
        let variables = variables.filter(|v| !v.is_null()).unwrap_or_else(|| Value::Object(Default::default()));
        Some(Graphql { kind, operation: name.map(str::to_string).or(found), variables })
    }
}

/// The kind and name of the operation a GraphQL document runs: the one named `wanted`, else
/// the first. None when the text holds no operation. A small scanner, not a parser: it skips
/// strings, block strings, comments, parentheses and everything inside braces, and reads the
/// keywords that start definitions (`query`, `mutation`, `subscription`, `fragment`, or a bare
/// `{`: an anonymous query).
pub fn operation(doc: &str, wanted: Option<&str>) -> Option<(OperationKind, Option<String>)> {
    let b = doc.as_bytes();
    let (mut i, mut depth, mut parens) = (0usize, 0usize, 0usize);
    // A definition's keyword was read: the next `{` at the top opens its body.
    let mut definition = false;
    let mut ops: Vec<(OperationKind, Option<String>)> = Vec::new();
    while i < b.len() {
        match b[i] {
            b'#' => i = b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |n| i + n),
            b'"' => i = skip_string(b, i),
            b'(' => (parens, i) = (parens + 1, i + 1),
            b')' => (parens, i) = (parens.saturating_sub(1), i + 1),
            b'{' => {
                if depth == 0 && !std::mem::take(&mut definition) {
                    ops.push((OperationKind::Query, None));
                }
                (depth, i) = (depth + 1, i + 1);
            }
            b'}' => (depth, i) = (depth.saturating_sub(1), i + 1),
            c if depth == 0 && parens == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                let word = name_at(b, i);
                i += word.len();
                let kind = match word {
                    "query" => OperationKind::Query,
                    "mutation" => OperationKind::Mutation,
                    "subscription" => OperationKind::Subscription,
                    "fragment" => {
                        definition = true;
                        continue;
                    }
                    _ => continue,
                };
                definition = true;
                let at = skip_blank(b, i);
                let name = (at < b.len() && (b[at].is_ascii_alphabetic() || b[at] == b'_')).then(|| name_at(b, at));
                if let Some(n) = name {
                    i = at + n.len();
                }
                ops.push((kind, name.map(str::to_string)));
            }
            _ => i += 1,
        }
    }
    match wanted {
        Some(w) => ops.into_iter().find(|(_, n)| n.as_deref() == Some(w)),
        None => ops.into_iter().next(),
    }
}

fn name_at(b: &[u8], i: usize) -> &str {
    let end = b[i..].iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).map_or(b.len(), |n| i + n);
    std::str::from_utf8(&b[i..end]).unwrap_or("")
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
        i += 1;
    }
    i
}

/// The offset after the string (or block string) starting at `i`.
fn skip_string(b: &[u8], i: usize) -> usize {
    if b[i..].starts_with(b"\"\"\"") {
        let mut j = i + 3;
        while j < b.len() {
            if b[j] == b'\\' && b[j + 1..].starts_with(b"\"\"\"") {
                j += 4;
            } else if b[j..].starts_with(b"\"\"\"") {
                return j + 3;
            } else {
                j += 1;
            }
        }
        return b.len();
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// `authority` with its first label rewritten by `label` when it names `account` as VTEX's
/// hosts do: `acme.vtexcommercestable.com.br` (`label(None)`) or `dev--acme.myvtex.com`
/// (`label(Some("dev"))`, a workspace of it); any other host as it is.
pub fn with_account_label(authority: &str, account: &str, label: impl Fn(Option<&str>) -> String) -> String {
    let (first, rest) = authority.split_once('.').unwrap_or((authority, ""));
    let named = if first.eq_ignore_ascii_case(account) {
        Some(None)
    } else {
        first.split_once("--").filter(|(_, a)| a.eq_ignore_ascii_case(account)).map(|(ws, _)| Some(ws))
    };
    let first = named.map_or_else(|| first.to_string(), label);
    if rest.is_empty() {
        first
    } else {
        format!("{first}.{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, url: &str, body: Option<&str>, app: Option<&str>) -> Outbound {
        Outbound {
            via: "test".into(),
            method: method.into(),
            url: url.into(),
            headers: Default::default(),
            body: body.map(|b| b.as_bytes().to_vec()),
            app: app.map(str::to_string),
        }
    }

    #[test]
    fn urls_in_parts_without_the_scheme() {
        let u = Url::parse("HTTP://Acme.VtexCommerceStable.com.br:443/api//catalog%20x/sku/?a=1&b=x+y&b=%2F").unwrap();
        assert_eq!(u.host, "acme.vtexcommercestable.com.br");
        assert_eq!(u.segments, ["api", "catalog x", "sku"]);
        assert_eq!(u.query, [("a".into(), "1".into()), ("b".into(), "x y".into()), ("b".into(), "/".into())]);
        assert_eq!(Url::parse("http://127.0.0.1:8080/x").unwrap().host, "127.0.0.1:8080");
        assert!(Url::parse("/api/x").unwrap_err().contains("not absolute"));
        assert!(Url::parse("ftp://x/y").unwrap_err().contains("`ftp`"));
        assert_eq!(percent_decode("a%2"), "a%2", "a broken escape stays");
    }

    #[test]
    fn only_vtex_hosts_are_vtex() {
        for h in
            ["api.vtex.com", "acme.vtexcommercestable.com.br", "dev--acme.myvtex.com", "app.io.vtex.com", "vtex.com.br"]
        {
            assert!(is_vtex_host(h), "{h}");
        }
        for h in ["evilvtex.com", "vtex.com.evil.io", "example.com", "myvtex.com.br"] {
            assert!(!is_vtex_host(h), "{h}");
        }
    }

    #[test]
    fn an_app_call_names_its_app_and_path() {
        let c = call(
            "POST",
            "http://app.io.vtex.com/vtex.search-graphql/v0/local/dev/_v/graphql",
            None,
            Some("vtex.search-graphql@0.x"),
        );
        let v = CallView::new(&c).unwrap();
        let (app, path) = v.app.unwrap();
        assert_eq!(
            (app.id.as_str(), app.major, path),
            ("vtex.search-graphql", 0, vec!["_v".to_string(), "graphql".into()])
        );
        let c = call("GET", "https://app.io.vtex.com/acme.thing/v2/local/dev/items/1", None, None);
        let (app, path) = CallView::new(&c).unwrap().app.unwrap();
        assert_eq!((app.id.as_str(), app.major, path.join("/")), ("acme.thing", 2, "items/1".to_string()));
        assert!(CallView::new(&call("GET", "https://api.vtex.com/local/x", None, None)).unwrap().app.is_none());
    }

    #[test]
    fn graphql_operations_are_read_from_the_document() {
        let op = |doc: &str, w: Option<&str>| operation(doc, w);
        assert_eq!(
            op("query Products($q: String) { products(q: $q) { id } }", None),
            Some((OperationKind::Query, Some("Products".into())))
        );
        assert_eq!(op("{ products { id } }", None), Some((OperationKind::Query, None)));
        assert_eq!(
            op("# query Fake\nmutation Save { save }", None),
            Some((OperationKind::Mutation, Some("Save".into())))
        );
        let doc = "fragment F on P { id }\nquery A { a { ...F } }\nmutation B($s: String = \"query C {\") { b }";
        assert_eq!(op(doc, None), Some((OperationKind::Query, Some("A".into()))));
        assert_eq!(op(doc, Some("B")), Some((OperationKind::Mutation, Some("B".into()))));
        assert_eq!(op(doc, Some("C")), None, "a name inside a string is no operation");
        assert_eq!(op("query \"\"\"doc { x }\"\"\" { a }", None).map(|o| o.0), Some(OperationKind::Query));
        assert_eq!(op("", None), None);
        let vars = "query Q($query: String, $mutation: Int) @dir(if: true) { q }";
        assert_eq!(op(vars, None), Some((OperationKind::Query, Some("Q".into()))), "variables named like keywords");
        assert_eq!(op(vars, Some("query")), None);
    }

    #[test]
    fn a_call_carries_graphql_in_a_post_body_or_a_get_query() {
        let body = r#"{"query": "query Search($t: String) { search(t: $t) }", "variables": {"t": "shoe"}}"#;
        let c = call("POST", "http://app.io.vtex.com/vtex.search-graphql/v0/a/w/_v/graphql", Some(body), None);
        let g = CallView::new(&c).unwrap().graphql().unwrap();
        assert_eq!(
            (g.kind, g.operation.as_deref(), g.variables["t"].as_str()),
            (OperationKind::Query, Some("Search"), Some("shoe"))
        );
        let body = r#"{"query": "mutation { x }", "operationName": ""}"#;
        let c = call("POST", "https://x.vtex.com/graphql", Some(body), None);
        assert_eq!(CallView::new(&c).unwrap().graphql().unwrap().kind, OperationKind::Mutation);
        let c = call("GET", "https://x.vtex.com/graphql?query=%7B%20a%20%7D&operationName=Named", None, None);
        let g = CallView::new(&c).unwrap().graphql();
        assert!(g.is_none(), "operationName names no operation of the document: {g:?}");
        let c = call("POST", "https://x.vtex.com/api", Some("not json"), None);
        let v = CallView::new(&c).unwrap();
        assert_eq!(v.body(), Some(&Value::String("not json".into())));
        assert!(v.graphql().is_none());
    }
}
