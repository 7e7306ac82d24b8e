//! Recording (`ioctl link --cloud ACCOUNT --record DIR`): each answer of the developer's account
//! written as a fixture file (the format of fixtures.rs), so that a later `--fixtures DIR`
//! answers the same calls offline. The request is written as the app made it, with VTEX's
//! host and `{account}`/`{workspace}` in place of the linked ones; credentials, cookies and
//! tokens are left out, and any credential value that shows up anyway is replaced.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use serde_json::Value;

use super::call::{CallView, APP_HOST};
use super::fixtures::{EntryFile, GraphqlFile, RequestFile, ResponseFile};
use super::{Answer, Outbound};
use crate::protocol::Scope;

/// Response headers not worth keeping (hop-by-hop, recomputed, or of the moment).
const TRANSIENT_HEADERS: &[&str] =
    &["connection", "keep-alive", "transfer-encoding", "content-length", "date", "age", "via", "server-timing"];

/// Whether a header carries a credential, a cookie or a token: never written.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "set-cookie"
            | "x-vtex-credential"
            | "x-vtex-api-appkey"
            | "x-vtex-api-apptoken"
    ) || n.starts_with("vtexidclientautcookie")
        || n.contains("token")
}

/// Whether a query parameter carries a credential (`authToken=`, `appKey=`...): left out of a
/// recorded URL, so the fixture matches whatever token a later call carries.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("token") || n == "appkey" || n == "apikey"
}

/// Writes each answer it is given into one folder.
pub struct Recorder {
    dir: PathBuf,
    scope: Scope,
    /// Values that must never reach the disk (the developer's credentials).
    secrets: Vec<String>,
    written: AtomicU64,
}

impl Recorder {
    /// Records into `dir` (the link command made it, 0700); `scope` is the linked one.
    pub fn new(dir: PathBuf, scope: Scope, secrets: Vec<String>) -> Recorder {
        Recorder { dir, scope, secrets, written: AtomicU64::new(0) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `answer` to `call` as a fixture file (0600, through a temporary file renamed into
    /// place); one file per distinct request, so recording a call again replaces its file.
    pub fn write(&self, call: &Outbound, answer: &Answer) -> anyhow::Result<PathBuf> {
        let entry = EntryFile { request: request_for(call, &self.scope), response: response_for(answer) };
        let mut text = serde_json::to_string_pretty(&entry).context("cannot write the fixture as JSON")?;
        for secret in self.secrets.iter().filter(|s| s.len() >= 4) {
            text = text.replace(secret.as_str(), "<redacted>");
        }
        text.push('\n');
        let path = self.dir.join(file_name(&entry.request));
        crate::private_fs::root(&self.dir)?;
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(".{}.{}.{n}.tmp", std::process::id(), file_name(&entry.request)));
        let written = (|| {
            let mut file = crate::private_fs::create(&tmp, true)?;
            file.write_all(text.as_bytes()).with_context(|| format!("{}: cannot write", tmp.display()))?;
            file.sync_data().with_context(|| format!("{}: cannot write", tmp.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("{}: cannot write", path.display()))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| path)
    }
}

/// The request of a call as a fixture writes it: a VTEX IO app's GraphQL operation or path,
/// else the URL, templated; the body as JSON (or text).
pub fn request_for(call: &Outbound, scope: &Scope) -> RequestFile {
    let view = CallView::new(call);
    let body = view.as_ref().and_then(|v| v.body().cloned());
    let method = Some(call.method.to_ascii_uppercase());
    let Some((view, (app, _))) = view.as_ref().and_then(|v| Some((v, v.app.clone()?))) else {
        return RequestFile { method, url: Some(template_url(&call.url, scope)), body, ..Default::default() };
    };
    let locator = call.app.clone().unwrap_or_else(|| format!("{}@{}.x", app.id, app.major));
    if let Some(g) = view.graphql().filter(|g| g.operation.is_some()) {
        let variables = Some(g.variables).filter(|v| v.as_object().is_none_or(|o| !o.is_empty()));
        let graphql = GraphqlFile { operation_name: g.operation, variables };
        return RequestFile { app: Some(locator), graphql: Some(graphql), ..Default::default() };
    }
    // The path after the app's `/{vendor}.{name}/v{major}/{account}/{workspace}`, as written.
    let raw = template_url(&call.url, scope);
    let after_host = raw.split_once("://").map_or(raw.as_str(), |(_, r)| r);
    let path = after_host.find('/').map_or("/", |i| &after_host[i..]);
    let on_app_host = view.url.host == APP_HOST;
    let path = if on_app_host {
        path.splitn(6, '/').nth(5).map_or("/".to_string(), |p| format!("/{p}"))
    } else {
        path.to_string()
    };
    RequestFile { method, app: Some(locator), path: Some(path), body, ..Default::default() }
}

/// The answer as a fixture writes it: JSON bodies as JSON, text as a string, bytes as base64;
/// secret and transient headers left out.
pub fn response_for(answer: &Answer) -> ResponseFile {
    let headers: BTreeMap<String, String> = answer
        .headers
        .iter()
        .filter(|(k, _)| !is_secret_header(k) && !TRANSIENT_HEADERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let json = headers.get("content-type").is_some_and(|t| t.contains("json"));
    let bytes = answer.body.as_deref().filter(|b| !b.is_empty());
    let (body, body_base64) = match bytes {
        None => (None, None),
        Some(b) => match (json.then(|| serde_json::from_slice::<Value>(b).ok()).flatten(), std::str::from_utf8(b)) {
            (Some(v), _) => (Some(v), None),
            (None, Ok(text)) => (Some(Value::String(text.to_string())), None),
            (None, Err(_)) => {
                use base64::Engine as _;
                (None, Some(base64::engine::general_purpose::STANDARD.encode(b)))
            }
        },
    };
    ResponseFile { status: answer.status, headers, body, body_base64 }
}

/// The URL with `{account}` (and `{workspace}`) where the linked ones are: in the host
/// (`acme.vtexcommercestable.com.br`, `dev--acme.myvtex.com`), in path segments
/// (`api.vtex.com/acme/...`, an app's `/{vendor}.{name}/v{major}/acme/dev/`) and in `an=`.
/// Parameters carrying tokens are left out. A URL that does not parse is kept as it is.
pub fn template_url(url: &str, scope: &Scope) -> String {
    let Ok(uri) = url.parse::<hyper::Uri>() else { return url.to_string() };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else { return url.to_string() };
    let host = template_host(authority.as_str(), scope);
    let app_host = authority.host().eq_ignore_ascii_case(APP_HOST);
    let path: Vec<&str> = uri
        .path()
        .split('/')
        .enumerate()
        .map(|(i, seg)| match seg {
            s if s == scope.account => "{account}",
            s if app_host && i == 4 && s == scope.workspace => "{workspace}",
            s => s,
        })
        .collect();
    let mut out = format!("{scheme}://{host}{}", path.join("/"));
    let query: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = super::call::percent_decode(k);
            if is_secret_param(&key) {
                return None;
            }
            Some(if key == "an" && v == scope.account { format!("{k}={{account}}") } else { pair.to_string() })
        })
        .collect();
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}

fn template_host(authority: &str, scope: &Scope) -> String {
    super::call::with_account_label(authority, &scope.account, |workspace| match workspace {
        None => "{account}".to_string(),
        Some(ws) => {
            let ws = if ws.eq_ignore_ascii_case(&scope.workspace) { "{workspace}" } else { ws };
            format!("{ws}--{{account}}")
        }
    })
}

/// A readable, stable file name for a request: method, host (or app) and path, and a short
/// hash of the whole request, so one request always lands in the same file.
pub fn file_name(request: &RequestFile) -> String {
    let what = match (&request.url, &request.app) {
        (Some(url), _) => {
            url.split_once("://").map_or(url.as_str(), |(_, r)| r).split('?').next().unwrap_or("").to_string()
        }
        (None, Some(app)) => {
            let op = request.graphql.as_ref().and_then(|g| g.operation_name.clone());
            format!("{app}/{}", op.or_else(|| request.path.clone()).unwrap_or_default())
        }
        (None, None) => String::new(),
    };
    let method = request.method.as_deref().unwrap_or(if request.graphql.is_some() { "graphql" } else { "get" });
    let mut name = String::new();
    for c in format!("{method}-{}", what.replace("{account}", "account").replace("{workspace}", "workspace")).chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@') { c.to_ascii_lowercase() } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name: String = name.trim_matches('-').chars().take(100).collect();
    let text = serde_json::to_string(request).unwrap_or_default();
    let hash = crate::stable_hash::fnv1a(&[&text]) & 0xffff_ffff_ffff;
    format!("{name}-{hash:012x}.json")
}

/// What the missing-call message offers: a file name under a fixtures folder and an entry to
/// paste into it, answering this call (the status and body to be filled in).
pub fn skeleton(call: &Outbound, scope: &Scope) -> (String, String) {
    let request = request_for(call, scope);
    let name = file_name(&request);
    let response =
        ResponseFile { status: 200, headers: BTreeMap::new(), body: Some(serde_json::json!({})), body_base64: None };
    let text = serde_json::to_string_pretty(&EntryFile { request, response }).unwrap_or_default();
    (name, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::boundary::fixtures::Fixtures;
    use crate::session::boundary::Source;

    fn scope() -> Scope {
        Scope { account: "acme".into(), workspace: "dev".into() }
    }

    fn call(method: &str, url: &str, body: Option<&str>, app: Option<&str>) -> Outbound {
        Outbound {
            via: "test".into(),
            method: method.into(),
            url: url.into(),
            headers: [("authorization".to_string(), "local-token".to_string())].into(),
            body: body.map(|b| b.as_bytes().to_vec()),
            app: app.map(str::to_string),
        }
    }

    fn answer(status: u16, content_type: &str, body: &[u8]) -> Answer {
        let headers = [
            ("content-type", content_type),
            ("set-cookie", "VtexIdclientAutCookie_acme=abc; Path=/"),
            ("x-vtex-api-apptoken", "SECRET-TOKEN-VALUE"),
            ("date", "Mon, 01 Jan 2026 00:00:00 GMT"),
            ("rest-content-range", "resources 0-1/2"),
        ];
        Answer {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Some(body.to_vec()),
            source: Source::Cloud,
            message: None,
        }
    }

    #[test]
    fn urls_are_templated_and_lose_their_tokens() {
        let t = |u: &str| template_url(u, &scope());
        assert_eq!(
            t("https://acme.vtexcommercestable.com.br/api/x?an=acme&b=1"),
            "https://{account}.vtexcommercestable.com.br/api/x?an={account}&b=1"
        );
        assert_eq!(
            t("http://api.vtex.com/acme/dataentities/CL/search?_where=a%3D1"),
            "http://api.vtex.com/{account}/dataentities/CL/search?_where=a%3D1"
        );
        assert_eq!(t("https://dev--acme.myvtex.com/_v/x"), "https://{workspace}--{account}.myvtex.com/_v/x");
        assert_eq!(
            t("http://app.io.vtex.com/vtex.x/v1/acme/dev/dev"),
            "http://app.io.vtex.com/vtex.x/v1/{account}/{workspace}/dev"
        );
        assert_eq!(
            t("https://vtexid.vtex.com.br/api/vtexid/pub/authenticated/user?authToken=abc&x=1"),
            "https://vtexid.vtex.com.br/api/vtexid/pub/authenticated/user?x=1"
        );
        assert_eq!(t("not a url"), "not a url");
    }

    #[test]
    fn a_recorded_file_answers_the_same_call_as_a_fixture_and_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let rec_dir = dir.path().join("rec");
        std::fs::create_dir(&rec_dir).unwrap();
        let secrets = vec!["SECRET-TOKEN-VALUE".to_string(), "vtexappkey-acme-KEY".to_string()];
        let recorder = Recorder::new(rec_dir.clone(), scope(), secrets);
        let calls = [
            (
                call("GET", "https://acme.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/1?authToken=t", None, None),
                answer(200, "application/json; charset=utf-8", br#"{"Id": 1, "echo": "vtexappkey-acme-KEY"}"#),
            ),
            (
                call("POST", "http://app.io.vtex.com/vtex.search-graphql/v0/acme/dev/_v/graphql", Some(r#"{"query": "query productSearch($q: String) { p(q: $q) }", "variables": {"q": "shoe"}}"#), Some("vtex.search-graphql@0.x")),
                answer(200, "application/json", br#"{"data": {"p": 3}}"#),
            ),
            (call("GET", "http://app.io.vtex.com/acme.things/v1/acme/dev/_v/things/9?full=1", None, Some("acme.things@1.x")), answer(404, "text/plain", b"no thing")),
            (call("GET", "https://api.vtex.com/acme/files/logo", None, None), answer(200, "image/png", &[0x89, 0x50, 0xff, 0x00])),
        ];
        let mut paths = Vec::new();
        for (c, a) in &calls {
            paths.push(recorder.write(c, a).unwrap());
        }
        // Recording the same call again replaces its file.
        assert_eq!(recorder.write(&calls[0].0, &calls[0].1).unwrap(), paths[0]);
        let names: Vec<String> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert!(
            names[0].starts_with(
                "get-account.vtexcommercestable.com.br-api-catalog_system-pvt-sku-stockkeepingunitbyid-1-"
            ),
            "{names:?}"
        );
        assert!(names[1].starts_with("graphql-vtex.search-graphql@0.x-productsearch-"), "{names:?}");
        let listed: Vec<_> = std::fs::read_dir(&rec_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(listed.len(), 4, "no temporary file left: {listed:?}");
        use std::os::unix::fs::PermissionsExt;
        for p in &paths {
            let text = std::fs::read_to_string(p).unwrap();
            for secret in
                ["SECRET-TOKEN-VALUE", "vtexappkey-acme-KEY", "local-token", "VtexIdclientAutCookie", "authToken"]
            {
                assert!(!text.contains(secret), "{secret} in {}:\n{text}", p.display());
            }
            assert_eq!(std::fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let first = std::fs::read_to_string(&paths[0]).unwrap();
        assert!(first.contains("\"url\": \"https://{account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/1\""), "{first}");
        assert!(first.contains("\"rest-content-range\"") && !first.contains("\"date\""), "{first}");

        // Read back as fixtures: each call gets its recorded answer, offline.
        let (fixtures, report) = Fixtures::load(vec![rec_dir.clone()], dir.path(), scope());
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
        assert_eq!(report.summary(), "4 entries from 4 files");
        for (c, a) in &calls {
            let (got, origin) = fixtures.find(c).unwrap_or_else(|| panic!("no fixture answers {}", c.url));
            assert_eq!(got.status, a.status, "{origin}");
            // What was recorded, but for the credential the answer echoed.
            let recorded =
                String::from_utf8_lossy(a.body.as_deref().unwrap()).replace("vtexappkey-acme-KEY", "<redacted>");
            let want: Option<Value> = serde_json::from_str(&recorded).ok();
            match want.filter(|_| a.headers["content-type"].contains("json")) {
                Some(v) => assert_eq!(serde_json::from_slice::<Value>(&got.body.unwrap()).unwrap(), v),
                None => assert_eq!(got.body, a.body, "{origin}"),
            }
            assert_eq!(got.headers["content-type"], a.headers["content-type"]);
            assert!(!got.headers.contains_key("set-cookie") && !got.headers.contains_key("x-vtex-api-apptoken"));
        }
        // The redacted echo is what the fixture holds.
        let (got, _) = fixtures.find(&calls[0].0).unwrap();
        assert!(String::from_utf8(got.body.unwrap()).unwrap().contains("<redacted>"));
        // Another token on the same call still matches (the parameter was left out).
        let mut other = calls[0].0.clone();
        other.url = other.url.replace("authToken=t", "authToken=other");
        assert!(fixtures.find(&other).is_some());
    }

    #[test]
    fn a_skeleton_is_a_fixture_that_loads() {
        let c = call("POST", "https://acme.vtexcommercestable.com.br/api/oms/pvt/orders", Some(r#"{"a": 1}"#), None);
        let (name, text) = skeleton(&c, &scope());
        assert!(
            name.starts_with("post-account.vtexcommercestable.com.br-api-oms-pvt-orders-") && name.ends_with(".json"),
            "{name}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(&name), &text).unwrap();
        let (fixtures, report) = Fixtures::load(vec![dir.path().to_path_buf()], dir.path(), scope());
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
        assert_eq!(fixtures.find(&c).unwrap().0.body.unwrap(), b"{}");
    }
}
