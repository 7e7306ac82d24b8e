//! End to end: GraphQL apps. The fixture ioctl.books (tests/fixtures/graphql-books: Query,
//! Mutation, type resolvers, an app directive on SchemaDirectiveVisitor, @cacheControl(maxAge:
//! SHORT), @auth, a resolver throwing UserInputError) answers through its session URL and
//! `ioctl graphql`; ioctl.reader reaches it with AppGraphQLClient; a broken schema is a
//! positioned diagnostic while the last good version keeps serving; the IDE in a real browser.

use std::path::{Path, PathBuf};

use crate::harness::*;
use serde_json::{json, Value};

const BOOKS_PATH: &str = "/ioctl.books/v1/local/dev/_v/graphql";

/// tests/fixtures/`name` copied to `<tmp>/<name>`.
fn fixture(env: &Env, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let to = env.dir.path().join(name);
    copy(&from, &to);
    to
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn token(env: &Env) -> String {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    record["token"].as_str().unwrap().to_string()
}

/// POSTs a query to ioctl.books with the session token (the local admin, to the app).
fn query(url: &str, token: &str, q: &str, variables: Value) -> (u16, String, Value) {
    let body = json!({"query": q, "variables": variables}).to_string();
    let auth = format!("Bearer {token}");
    let (status, head, text) =
        http(url, "POST", BOOKS_PATH, &[("content-type", "application/json"), ("authorization", &auth)], &body);
    (status, head, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")))
}

#[test]
fn a_graphql_app_answers_through_its_url_ioctl_graphql_and_another_apps_client() {
    let env = Env::new();
    let books = fixture(&env, "graphql-books");
    let mut link = env.spawn(&["link", books.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["linked"], true, "{:?}", link.seen);
    let url = ready["url"].as_str().unwrap().to_string();
    let token = token(&env);
    let seen = link.seen.join("\n");
    assert!(seen.contains(&format!("graphql: {url}{BOOKS_PATH} (private: needs the session token)")), "{seen}");
    assert!(seen.contains(&format!("graphql IDE: {url}/_ioctl/ide?login=")), "{seen}");
    // `maxAge: SHORT` builds as VTEX's builder reads it, with no warning (fidelity.rs has more).
    assert!(!seen.contains("@cacheControl"), "{seen}");

    // Private, as on VTEX: the token is needed.
    let (status, _, body) =
        http(&url, "POST", BOOKS_PATH, &[("content-type", "application/json")], r#"{"query":"{ books { id } }"}"#);
    assert_eq!(status, 401, "{body}");

    // Query, type resolvers, the app's directive, VTEX's cache policy.
    let q = "query($id: ID!) { book(id: $id) { title author { name books } } shout(text: \"hi\") whoami }";
    let (status, head, v) = query(&url, &token, q, json!({"id": "1"}));
    assert_eq!(status, 200, "{v}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert_eq!(
        v["data"],
        json!({"book": {"title": "Dune", "author": {"name": "Frank Herbert", "books": 1}}, "shout": "HI", "whoami": "local/dev"})
    );
    assert_eq!(v["extensions"]["cacheControl"], json!({"maxAge": 120, "scope": "PUBLIC"}));
    // GET ?query=&variables=, and a Mutation.
    let get = format!(
        "{BOOKS_PATH}?query={}&variables=%7B%22id%22%3A%222%22%7D",
        "query(%24id%3A%20ID!)%7Bbook(id%3A%24id)%7Btitle%7D%7D"
    );
    let (status, _, body) = http(&url, "GET", &get, &[("authorization", &format!("Bearer {token}"))], "");
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()["data"].clone()),
        (200, json!({"book": {"title": "Solaris"}}))
    );
    let (_, _, v) = query(
        &url,
        &token,
        "mutation { addBook(title: \"Ubik\", author: \"Philip K. Dick\") { id title } }",
        json!({}),
    );
    assert_eq!(v["data"], json!({"addBook": {"id": "3", "title": "Ubik"}}));
    // @sanitize strips unsafe HTML from the argument.
    let (_, _, v) = query(&url, &token, "{ comment(html: \"<b>ok</b><script>alert(1)</script>\") }", json!({}));
    assert_eq!(v["data"], json!({"comment": "ok"}));

    // A resolver's UserInputError: in `errors`, with its code and the .ts stack; in the terminal.
    let (status, _, v) = query(&url, &token, "{ badInput(n: -1) }", json!({}));
    assert_eq!(status, 200);
    let error = &v["errors"][0];
    assert_eq!(error["message"], "n must not be negative");
    assert_eq!(error["path"], json!(["badInput"]));
    assert_eq!(error["locations"], json!([{"line": 1, "column": 3}]));
    assert_eq!(error["extensions"]["code"], "USER_INPUT_ERROR");
    let stack = error["extensions"]["exception"]["stacktrace"].to_string();
    assert!(stack.contains("node/resolvers.ts:21:"), "{stack}");
    let log =
        link.wait_json("the resolver error in the terminal", |v| v["level"] == "error" && v["handler"] == "graphql");
    let message = log["message"].as_str().unwrap();
    assert!(message.starts_with("graphql badInput failed: UserInputError: n must not be negative"), "{message}");
    assert!(message.contains("node/resolvers.ts:21:"), "{message}");

    // @auth: the session's token is the local admin (VtexIdclientAutCookie set by the
    // session), as is the developer's `ioctl graphql`; sent as nobody, it is refused.
    let (_, _, v) = query(&url, &token, "{ secret }", json!({}));
    assert_eq!(v["data"]["secret"], "only for admins", "{v}");
    let out = env.run(&["graphql", "{ secret }"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap(), json!({"secret": "only for admins"}));
    let out = env.run(&["graphql", "{ secret }", "--as", "anonymous", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{v}");
    let out = env.run(&["graphql", "query($n: Int!) { badInput(n: $n) }", "--variables", r#"{"n": -2}"#]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("n must not be negative [USER_INPUT_ERROR] (at badInput)"), "{err}");
    assert!(err.contains("query:1:19"), "positioned in the query: {err}");
    assert!(err.contains("1 │ query($n: Int!) { badInput(n: $n) }"), "code frame: {err}");
    let out = env.run(&["graphql", "{ books { nope } }", "--app", "ioctl.books", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    let out = env.run(&["graphql", "{ books { id } }", "--app", "ioctl.nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("ioctl.nope serves no GraphQL in account local, workspace dev; these do: ioctl.books@1.2.0"),
        "{}",
        stderr(&out)
    );

    // Another linked app reaches it with AppGraphQLClient, through the session.
    let reader = fixture(&env, "graphql-reader");
    let mut second = env.spawn(&["link", reader.to_str().unwrap(), "--json", "--no-watch"]);
    second.wait_json("reader ready", |v| v["type"] == "ready");
    let (status, _, body) = http(&url, "GET", "/_v/reader/book/1", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"via": "AppGraphQLClient", "book": {"title": "Dune", "author": {"name": "Frank Herbert", "books": 1}}})
    );

    // The IDE: the one-time login sets an HttpOnly SameSite cookie (a page credential, not
    // the session token), once.
    let login_line = seen.lines().find(|l| l.contains("graphql IDE: ")).unwrap();
    let login = login_line.split("?login=").nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(http(&url, "GET", "/_ioctl/ide", &[], "").0, 401);
    let (status, head, _) = http(&url, "GET", &format!("/_ioctl/ide?login={login}"), &[], "");
    assert_eq!(status, 303);
    let set = head.lines().find_map(|l| l.strip_prefix("set-cookie: ioctl_login=")).unwrap_or_else(|| panic!("{head}"));
    let (credential, attributes) = set.split_once(';').unwrap();
    assert_eq!(attributes.trim(), "path=/; httponly; samesite=strict", "{head}");
    assert!(credential.len() >= 32 && credential != token, "the cookie does not carry the session token: {head}");
    assert_eq!(http(&url, "GET", &format!("/_ioctl/ide?login={login}"), &[], "").0, 401, "a login works once");
    let cookie = format!("ioctl_login={credential}");
    let page = [("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")];
    let (status, _, body) = http(&url, "GET", "/_ioctl/ide/apps", &page, "");
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!([{"app": "ioctl.books@1.2.0", "path": BOOKS_PATH}]))
    );
    let (status, head, _) = http(&url, "GET", "/_ioctl/ide/static/graphiql.js", &page, "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/javascript"), "{head}");
}

#[test]
fn a_schema_error_is_positioned_and_the_last_good_version_keeps_serving() {
    let env = Env::new();
    let books = fixture(&env, "graphql-books");
    let mut link = env.spawn(&["link", books.to_str().unwrap(), "--json", "--no-sample-sender"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let token = token(&env);
    let schema = books.join("graphql/types/book.graphql");
    let good = std::fs::read_to_string(&schema).unwrap();
    std::fs::write(&schema, good.replace("author: Author!", "author: Writer!")).unwrap();
    let d = link.wait_json("the diagnostic", |v| v["file"] == "graphql/types/book.graphql");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(4), Some(11)), "{d}");
    assert!(d["message"].as_str().unwrap().contains("Unknown type \"Writer\""), "{d}");
    link.wait_line("build failed", |l| l.contains("App build failed. Waiting for changes..."));
    let (_, _, v) = query(&url, &token, "{ book(id: \"2\") { title } }", json!({}));
    assert_eq!(v["data"], json!({"book": {"title": "Solaris"}}), "the last good version serves");

    // A syntax error, then a fix that adds a field: relinked, and the new field answers.
    std::fs::write(&schema, format!("{good}\ntype Broken {{")).unwrap();
    let d = link.wait_json("the syntax diagnostic", |v| v["file"] == "graphql/types/book.graphql" && v["line"] == 12);
    assert!(d["message"].as_str().unwrap().starts_with("Syntax Error"), "{d}");
    std::fs::write(&schema, good.replace("  title: String!\n", "  title: String!\n  year: Int\n")).unwrap();
    link.wait_json("relinked", |v| v["type"] == "relinked");
    let (_, _, v) = query(&url, &token, "{ book(id: \"1\") { title year } }", json!({}));
    assert_eq!(v["data"], json!({"book": {"title": "Dune", "year": null}}));
}

/// The IDE in a real browser (chromium through playwright-core): load it, run a query, see
/// the result, take a screenshot. Skipped (saying so) without chromium or playwright-core,
/// unless IOCTL_BROWSER_TEST=1 (.ci/run sets it, after installing both).
#[test]
fn the_graphql_ide_runs_a_query_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/graphiql.js");
    let have = Path::new("/usr/bin/chromium").exists() && root.join("node_modules/playwright-core").is_dir();
    if !have {
        assert!(
            std::env::var_os("IOCTL_BROWSER_TEST").is_none(),
            "IOCTL_BROWSER_TEST=1 but chromium or playwright-core is missing"
        );
        eprintln!("skipped: no /usr/bin/chromium or node_modules/playwright-core (npm ci; apt-get install chromium)");
        return;
    }
    let env = Env::new();
    let books = fixture(&env, "graphql-books");
    let mut link = env.spawn(&["link", books.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let line = link.seen.iter().find(|l| l.contains("graphql IDE: ")).cloned().unwrap();
    let login_url = line.split("graphql IDE: ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    let shot =
        std::env::var_os("IOCTL_SCREENSHOT").map(PathBuf::from).unwrap_or_else(|| env.dir.path().join("graphiql.png"));
    let out = std::process::Command::new("node")
        .arg(&script)
        .args([login_url.as_str(), "Stanislaw Lem", shot.to_str().unwrap()])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("answered in the IDE"), "{}", stdout(&out));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot of the page");
}
