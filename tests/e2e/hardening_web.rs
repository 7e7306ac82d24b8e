//! End to end, issue 20: the session's HTTP surface under hostile use — the IDE's login
//! cookie sent from other origins (CSRF), slow request heads holding every connection, and
//! more clients than the session serves at once.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::*;

fn fixture(env: &Env, name: &str) -> PathBuf {
    let root = env.dir.path().join(name);
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name), &root);
    root
}

fn token(env: &Env) -> String {
    let text = std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["token"].as_str().unwrap().to_string()
}

const BOOKS: &str = "/ioctl.books/v1/local/dev/_v/graphql";

#[test]
fn the_ide_login_cookie_works_only_from_the_sessions_own_page() {
    let env = Env::new();
    let books = fixture(&env, "graphql-books");
    let mut link = env.spawn(&["link", books.to_str().unwrap(), "--json", "--no-sample-sender", "--no-watch"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let line = link.seen.iter().find(|l| l.contains("graphql IDE: ")).unwrap().clone();
    let login = line.split("?login=").nth(1).unwrap().split([' ', '"']).next().unwrap().to_string();
    let (status, head, _) = http(&url, "GET", &format!("/_ioctl/ide?login={login}"), &[], "");
    assert_eq!(status, 303, "{head}");
    let credential = head.lines().find_map(|l| l.strip_prefix("set-cookie: ioctl_login=")).unwrap();
    let cookie = format!("ioctl_login={}", credential.split(';').next().unwrap());
    let own = url.clone();
    let add = r#"{"query": "mutation { addBook(title: \"Forged\", author: \"Mallory\") { title } }"}"#;
    let count = || {
        let body = r#"{"query": "{ books { title } }"}"#;
        let headers = [("cookie", cookie.as_str()), ("origin", own.as_str()), ("content-type", "application/json")];
        let (status, _, answer) = http(&url, "POST", BOOKS, &headers, body);
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str::<Value>(&answer).unwrap()["data"]["books"].as_array().unwrap().len()
    };
    let before = count();

    // Another page on this host (any port gets the cookie), a form, a script: all refused.
    let forged: [&[(&str, &str)]; 5] = [
        &[("origin", "http://127.0.0.1:9999"), ("content-type", "text/plain")],
        &[("origin", "http://127.0.0.1:9999"), ("content-type", "application/json")],
        &[("sec-fetch-site", "same-site"), ("content-type", "application/json")],
        &[("origin", &own), ("content-type", "text/plain")],
        &[("content-type", "application/json")],
    ];
    for extra in forged {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        let (status, _, answer) = http(&url, "POST", BOOKS, &headers, add);
        assert_eq!(status, 401, "{extra:?}: {answer}");
    }
    // A GET may only query, whoever sends it.
    let get = format!(
        "{BOOKS}?query={}",
        "mutation%20%7B%20addBook(title%3A%20%22G%22%2C%20author%3A%20%22G%22)%20%7B%20title%20%7D%20%7D"
    );
    let page = [("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")];
    let (status, _, answer) = http(&url, "GET", &get, &page, "");
    assert_eq!(status, 405, "{answer}");
    assert_eq!(count(), before, "no forged or GET mutation ran");

    // The page itself: JSON from its own origin, and @auth sees the developer.
    let headers = [("cookie", cookie.as_str()), ("origin", own.as_str()), ("content-type", "application/json")];
    let (status, _, answer) = http(&url, "POST", BOOKS, &headers, add);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(count(), before + 1);
    let (_, _, answer) = http(&url, "POST", BOOKS, &headers, r#"{"query": "{ secret }"}"#);
    assert!(serde_json::from_str::<Value>(&answer).unwrap()["data"]["secret"].is_string(), "{answer}");

    // The cookie opens neither the control API nor anything but GraphQL; the token is not a cookie.
    let (status, _, _) = http(&url, "GET", "/_ioctl/session", &page, "");
    assert_eq!(status, 401);
    let as_cookie = format!("ioctl_login={}", token(&env));
    let (status, _, _) =
        http(&url, "GET", "/_ioctl/ide/apps", &[("cookie", &as_cookie), ("sec-fetch-site", "same-origin")], "");
    assert_eq!(status, 401, "the session token is no page credential");
    let (status, _, _) = http(&url, "GET", "/_ioctl/ide/apps", &page, "");
    assert_eq!(status, 200);
    assert_eq!(link.interrupt(), 0);
}

const SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 60,
  "routes": {
    "ping": { "path": "/_v/ping", "public": true },
    "hang": { "path": "/_v/hang", "public": true }
  }
}"#;

const INDEX: &str = r#"import { Service } from '@vtex/api'

export default new Service({
  routes: {
    ping: async (ctx: any) => { ctx.body = 'pong' },
    hang: () => {
      console.log('hanging')
      return new Promise(() => {})
    },
  },
})
"#;

fn link_routes(env: &Env) -> (Running, String) {
    let app = env.app("app", &[("node/service.json", SERVICE), ("node/index.ts", INDEX)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    (link, url)
}

#[test]
fn slow_request_heads_do_not_lock_the_user_out() {
    let env = Env::new();
    let (mut link, url) = link_routes(&env);
    let addr = url.strip_prefix("http://").unwrap();
    // 200 connections that each start a request head and never finish it (slowloris).
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /_v/ping HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: a").unwrap();
            s
        })
        .collect();
    for _ in 0..8 {
        let (status, _, body) = http(&url, "GET", "/_v/ping", &[], "");
        assert_eq!((status, body.as_str()), (200, "pong"));
    }
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(slow);
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn over_the_connection_bound_clients_get_503_and_the_user_still_gets_through() {
    let env = Env::new();
    let (mut link, url) = link_routes(&env);
    let addr = url.strip_prefix("http://").unwrap();
    // 127 requests that the app never answers, beside the link's own output stream: every
    // one of the 128 connections is busy.
    let busy: Vec<TcpStream> = (0..127)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /_v/hang HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").unwrap();
            s
        })
        .collect();
    // Wait until the app has them all (a ping before might find one still waiting for its
    // head, and take its place).
    for n in 0..127 {
        link.wait_json(&format!("hanging request {n}"), |v| v["message"] == "hanging");
    }
    let (status, head, body) = http(&url, "GET", "/_v/ping", &[], "");
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], json!("overloaded"), "{body}");
    // The user's own commands carry the token: served from the reserve.
    let out = env.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(busy);
    eventually("the bound to free up", || (http(&url, "GET", "/_v/ping", &[], "").0 == 200).then_some(()));
    assert_eq!(link.interrupt(), 0);
}
