//! End to end: the dashboard's page, its login and the API its Data page and actions use,
//! over real HTTP with the page's cookie (as a browser sends it) and against what the CLI and
//! the app see. The fixture ioctl.dashboard-app (tests/fixtures/dashboard-app) saves orders to
//! VBase, fails `boom` events, serves a route that reads a VBase note, and has a settingsSchema.
//! The browser test (tests/browser/dashboard.js) drives the same page in chromium.

use std::path::{Path, PathBuf};

use crate::harness::*;
use serde_json::{json, Value};

const APP: &str = "ioctl.dashboard-app";

/// tests/fixtures/dashboard-app copied to `<tmp>/dashboard-app`.
pub fn dashboard_app(env: &Env) -> PathBuf {
    let to = env.dir.path().join("dashboard-app");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dashboard-app"), &to);
    to
}

/// The link's dashboard login link (`dashboard: URL (one-time link...)`).
fn login_link(seen: &[String]) -> String {
    seen.iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["message"].as_str().map(String::from))
        .find_map(|m| m.strip_prefix("dashboard: ").map(|r| r.split_whitespace().next().unwrap().to_string()))
        .unwrap_or_else(|| panic!("no dashboard line in {seen:?}"))
}

/// A browser's request from the session's own page: its cookie, Sec-Fetch-Site and Origin.
struct Page {
    url: String,
    cookie: String,
}

impl Page {
    /// Logs in with a one-time link: the cookie the 303 sets.
    fn login(link: &str) -> Page {
        let url = link.split("/_ioctl/").next().unwrap().to_string();
        let path = &link[url.len()..];
        let (status, head, _) = http(&url, "GET", path, &[("sec-fetch-site", "none")], "");
        assert_eq!(status, 303, "{head}");
        assert!(head.contains("location: /_ioctl/\r\n"), "{head}");
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .unwrap_or_else(|| panic!("no cookie in {head}"))
            .split(';')
            .next()
            .unwrap()
            .to_string();
        assert!(head.contains("httponly") && head.contains("samesite=strict"), "{head}");
        Page { url, cookie }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let origin = self.url.clone();
        let mut headers =
            vec![("cookie", self.cookie.as_str()), ("sec-fetch-site", "same-origin"), ("origin", &origin)];
        let text = body.map(Value::to_string).unwrap_or_default();
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let (status, _, answer) = http(&self.url, method, path, &headers, &text);
        (status, serde_json::from_str(&answer).unwrap_or(Value::String(answer)))
    }

    fn get(&self, path: &str) -> Value {
        let (status, v) = self.send("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, Some(&body))
    }
}

fn run_ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(out.status.success(), "ioctl {args:?}: {}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

#[test]
fn the_dashboard_logs_in_once_and_its_data_and_actions_are_what_the_cli_and_the_app_see() {
    let env = Env::new();
    let root = dashboard_app(&env);
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    let url = ready["url"].as_str().unwrap().to_string();
    let link_login = login_link(&link.seen);
    assert!(link_login.starts_with(&format!("{url}/_ioctl/?login=")), "{link_login}");

    // The page: nothing without the login; the login works once; the cookie only from the
    // session's own page.
    let (status, _, text) = http(&url, "GET", "/_ioctl/", &[], "");
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("ioctl dashboard"), "{text}");
    let page = Page::login(&link_login);
    let (status, _, _) = http(&url, "GET", &link_login[url.len()..], &[], "");
    assert_eq!(status, 401, "a login link works once");
    let foreign =
        [("cookie", page.cookie.as_str()), ("sec-fetch-site", "cross-site"), ("origin", "http://127.0.0.1:1")];
    let (status, _, text) = http(&url, "GET", "/_ioctl/api/overview", &foreign, "");
    assert_eq!(status, 403, "{text}");
    let (status, _, text) = http(&url, "GET", "/_ioctl/api/templates", &[], "");
    assert_eq!(status, 401, "{text}");
    let plain = [("cookie", page.cookie.as_str()), ("sec-fetch-site", "same-origin"), ("content-type", "text/plain")];
    let (status, _, text) = http(&url, "POST", "/_ioctl/api/events/send", &plain, r#"{"sender":"a.b","key":"k"}"#);
    assert_eq!(status, 403, "a change must be JSON: {text}");
    let (status, v) = page.send("GET", "/_ioctl/api/nothing-here", None);
    assert_eq!((status, v["code"].as_str()), (404, Some("not_found")), "{v}");

    // `ioctl dashboard --no-open` makes a fresh link.
    let printed = run_ok(&env, &["dashboard", "--no-open"]);
    let fresh = printed.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    assert!(fresh.starts_with(&format!("{url}/_ioctl/?login=")) && fresh != link_login, "{printed}");
    Page::login(&fresh);

    // Settings: the form's schema and defaults; a value out of range refused at its field;
    // a good one saved, as `ioctl settings get` reads it.
    let s = page.get(&format!("/_ioctl/api/settings/{APP}"));
    assert_eq!(s["schema"]["properties"]["maxItems"]["maximum"], 100, "{s}");
    assert_eq!(s["value"], json!({"greeting": "hello", "maxItems": 10, "enabled": true, "mode": "safe"}));
    let (status, v) =
        page.post(&format!("/_ioctl/api/settings/{APP}"), json!({"value": {"maxItems": 0, "mode": "slow"}}));
    assert_eq!(status, 400, "{v}");
    let fields: Vec<&str> = v["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(fields.contains(&"/maxItems") && fields.contains(&"/mode"), "{v}");
    let (status, v) =
        page.post(&format!("/_ioctl/api/settings/{APP}"), json!({"value": {"maxItems": 42, "greeting": "hi"}}));
    assert_eq!(status, 200, "{v}");
    let got: Value = serde_json::from_str(&run_ok(&env, &["settings", "get", APP, "--json"])).unwrap();
    assert_eq!((got["maxItems"].as_i64(), got["greeting"].as_str()), (Some(42), Some("hi")), "{got}");

    // VBase: a file the CLI put is listed, read, edited with if_match; a stale edit is a
    // conflict; the app reads the edit.
    run_ok(&env, &["vbase", "put", APP, "notes", "note.json", "--data", r#"{"text":"from the cli"}"#]);
    let buckets = page.get("/_ioctl/api/vbase");
    assert!(
        buckets["buckets"].as_array().unwrap().iter().any(|b| b["bucket"] == "notes" && b["files"] == 1),
        "{buckets}"
    );
    let files = page.get(&format!("/_ioctl/api/vbase/files?app={APP}&bucket=notes"));
    assert_eq!(files["files"][0]["path"], "note.json", "{files}");
    let at = format!("/_ioctl/api/vbase/file?app={APP}&bucket=notes&path=note.json");
    let file = page.get(&at);
    assert_eq!(serde_json::from_str::<Value>(file["content"].as_str().unwrap()).unwrap()["text"], "from the cli");
    let read_hash = file["hash"].as_str().unwrap().to_string();
    let (status, saved) = page.post(&at, json!({"content": r#"{"text":"from the page"}"#, "if_match": read_hash}));
    assert_eq!(status, 200, "{saved}");
    let (status, v) = page.post(&at, json!({"content": r#"{"text":"stale"}"#, "if_match": read_hash}));
    assert_eq!((status, v["code"].as_str()), (412, Some("conflict")), "{v}");
    assert_eq!(v["hash"], saved["hash"], "the conflict names the current version: {v}");
    let (status, _, note) = http(&url, "GET", "/_v/dash/note", &[], "");
    assert_eq!(status, 200, "{note}");
    assert_eq!(serde_json::from_str::<Value>(&note).unwrap()["note"], "from the page");

    // Try a route as a user: the answer, and its trace.
    let (status, tried) =
        page.post("/_ioctl/api/try", json!({"method": "GET", "path": "/_v/dash/note", "as": "shopper"}));
    assert_eq!(status, 200, "{tried}");
    assert_eq!(tried["status"], 200, "{tried}");
    assert!(tried["body"].as_str().unwrap().contains("from the page"), "{tried}");

    // Master Data: the entities and a search with where, sort and fields.
    let docs = env.dir.path().join("cl.json");
    let cl = json!([{"id": "1", "email": "a@x.com", "age": 30}, {"id": "2", "email": "b@x.com", "age": 40}]);
    std::fs::write(&docs, cl.to_string()).unwrap();
    run_ok(&env, &["masterdata", "import", "CL", docs.to_str().unwrap()]);
    let entities = page.get("/_ioctl/api/masterdata");
    assert!(
        entities["entities"].as_array().unwrap().iter().any(|e| e["entity"] == "CL" && e["documents"] == 2),
        "{entities}"
    );
    let found = page.get("/_ioctl/api/masterdata/CL/search?where=age%3E35&fields=email&sort=age%20DESC");
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["documents"][0]["email"], "b@x.com", "{found}");
    let (status, v) = page.send("GET", "/_ioctl/api/masterdata/CL/search?where=age%3D%3D", None);
    assert_eq!(status, 400, "a bad where is the search's error: {v}");

    // Send an event; a failing one ends in dead letters, which replay puts back in flight.
    let (status, sent) = page.post(
        "/_ioctl/api/events/send",
        json!({"sender": "vtex.orders-broadcast", "key": "order-created", "body": {"orderId": "o-1"}}),
    );
    assert_eq!((status, sent["deliveries"].as_u64()), (200, Some(1)), "{sent}");
    let (status, bad) = page.post("/_ioctl/api/events/send", json!({"sender": "", "key": "k"}));
    assert_eq!(status, 400, "{bad}");
    let templates = page.get("/_ioctl/api/templates");
    let created = templates.as_array().unwrap().iter().find(|t| t["name"] == "order-created").unwrap();
    assert_eq!(
        (created["sender"].as_str(), created["key"].as_str()),
        (Some("vtex.orders-broadcast"), Some("order-created"))
    );
    assert!(created["body"]["orderId"].is_string(), "{created}");
    let (_, boom) =
        page.post("/_ioctl/api/events/send", json!({"sender": "ioctl.test", "key": "boom", "body": {"n": 1}}));
    let boom_id = boom["id"].as_str().unwrap().to_string();
    let letters = eventually("the boom event's dead letter", || {
        let l = page.get("/_ioctl/api/dead-letters");
        (l["letters"].as_array().unwrap().len() == 1).then_some(l)
    });
    let letter = &letters["letters"][0];
    assert_eq!((letter["event"]["id"].as_str(), letter["handler"].as_str()), (Some(boom_id.as_str()), Some("onBoom")));
    assert_eq!(letter["attempts"].as_array().unwrap().len(), 2, "{letter}");
    assert!(letter["attempts"][0]["error"].as_str().unwrap().contains("boom failed"), "{letter}");
    let (status, replayed) = page.post("/_ioctl/api/dead-letters/replay", json!({"app": APP}));
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["replayed"][0]["event_id"], boom_id.as_str(), "{replayed}");
    let (status, none) = page.post("/_ioctl/api/dead-letters/replay", json!({"app": "ioctl.other"}));
    assert_eq!(status, 404, "{none}");
    env.settled(3);
    let got = run_ok(&env, &["vbase", "get", APP, "orders", "o-1.json"]);
    assert!(got.contains("\"seen\": true") || got.contains("\"seen\":true"), "{got}");

    // The page and its files (shipped inside the binary).
    let own = [("cookie", page.cookie.as_str()), ("sec-fetch-site", "same-origin")];
    let (status, head, html) = http(&url, "GET", "/_ioctl/", &own, "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-security-policy: default-src 'self'"), "{head}");
    assert!(html.contains("<title>") && html.contains("app.js"), "{html}");
    let (status, head, _) = http(&url, "GET", "/_ioctl/static/app.js", &[], "");
    assert_eq!(status, 200, "the page's files need no login: {head}");
    assert!(head.contains("text/javascript"), "{head}");
    assert_eq!(link.interrupt(), 0);
}
