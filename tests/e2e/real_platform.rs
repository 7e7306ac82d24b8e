//! End to end: issue 22's scenarios through an app's own code (tests/fixtures/platform-shop, written
//! as public apps are): its own admin check reading `ctx.vtex.adminUserAuthToken` and asking VTEX
//! ID with its own axios, `tenant.info()` and `segment.getSegment()`, Master Data saved with
//! `ctx.clients.masterdata` and found by its own axios on api.vtex.com, an AppGraphQLClient to
//! VTEX's search that is missing (the app catches `err.response.status`) and then answered by a
//! fixture written while linked; and `--cloud --record` against a fake VTEX cloud on loopback,
//! then the recorded fixtures answering the same calls with the cloud gone.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::harness::*;

const KEY: &str = "vtexappkey-acme-TEST123";
const TOKEN: &str = "SECRETTOKENVALUE0123456789";

/// tests/fixtures/platform-shop copied into the test's folder.
fn shop(env: &Env) -> PathBuf {
    let to = env.dir.path().join("shop");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/platform-shop"), &to);
    to
}

/// `ioctl graphql QUERY ARGS... --json`: the answer's `data` (or the whole answer when it failed).
fn graphql(env: &Env, query: &str, args: &[&str]) -> Value {
    let mut all = vec!["graphql", query, "--json"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    let text = stdout(&out);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text} {}", stderr(&out)));
    v
}

#[test]
fn an_apps_own_auth_tenant_segment_and_masterdata_by_url_answer_locally_and_a_fixture_answers_vtex_search() {
    own_auth_tenant_segment_and_masterdata(Env::new());
}

/// The same, with Master Data (reached through the app's own axios) in PostgreSQL.
#[test]
fn an_apps_own_masterdata_by_url_answers_from_a_postgresql_store() {
    own_auth_tenant_segment_and_masterdata(Env::postgres("real_platform"));
}

fn own_auth_tenant_segment_and_masterdata(env: Env) {
    let app = shop(&env);
    let fixtures = env.dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    let mut link =
        env.spawn(&["link", app.to_str().unwrap(), "--no-sample-sender", "--fixtures", fixtures.to_str().unwrap()]);
    link.wait_line("ready", |l| l.contains("ready in"));

    // Its own @checkAdminAccess: an admin token that VTEX ID (the app's axios) validates.
    let admin = graphql(&env, "{ whoami adminReport canEdit }", &["--as", "admin"]);
    let expected = json!({"whoami": "dev@local", "adminReport": "report for dev@local", "canEdit": true});
    assert_eq!(admin["data"], expected, "{admin}");
    let anonymous = graphql(&env, "{ whoami adminReport canEdit }", &["--as", "anonymous"]);
    assert_eq!(anonymous["data"]["whoami"], "anonymous", "{anonymous}");
    assert_eq!(anonymous["data"]["canEdit"], false, "License Manager refuses no token: {anonymous}");
    assert_eq!(anonymous["data"]["adminReport"], Value::Null, "{anonymous}");
    assert_eq!(anonymous["errors"][0]["message"], "No admin token", "{anonymous}");
    let shopper = graphql(&env, "{ whoami adminReport canEdit }", &["--as", "shopper"]);
    assert_eq!(shopper["data"]["whoami"], "shopper@local", "{shopper}");
    assert_eq!(shopper["data"]["canEdit"], false, "{shopper}");
    assert_eq!(shopper["errors"][0]["message"], "No admin token", "{shopper}");

    // Tenant and segment, from the workspace's platform settings (changed while linked).
    let info = graphql(&env, "{ tenantLocale segmentCurrency }", &[]);
    assert_eq!(info["data"], json!({"tenantLocale": "en-US", "segmentCurrency": "USD"}), "{info}");
    let set = env.run(&["platform", "set", "locale=pt-BR", "currency=BRL"]);
    assert!(set.status.success(), "{}", stderr(&set));
    let info = graphql(&env, "{ tenantLocale segmentCurrency }", &[]);
    assert_eq!(info["data"], json!({"tenantLocale": "pt-BR", "segmentCurrency": "BRL"}), "{info}");

    // Saved with ctx.clients.masterdata, found by the app's own axios on api.vtex.com.
    let saved = graphql(&env, r#"mutation { saveCustomer(email: "ann@acme.com") }"#, &[]);
    assert!(saved["data"]["saveCustomer"].as_str().is_some_and(|id| id.len() == 36), "{saved}");
    graphql(&env, r#"mutation { saveCustomer(email: "bob@acme.com") }"#, &[]);
    let found = graphql(&env, r#"{ customers(email: "ann@acme.com") }"#, &[]);
    assert_eq!(found["data"]["customers"], json!(["ann@acme.com"]), "{found}");

    // VTEX's search is not linked: the app's catch sees err.response.status and the message
    // says how to answer it, in the link's own fixtures folder.
    let missing = graphql(&env, r#"{ searchProducts(term: "shoe") }"#, &[]);
    let caught = missing["data"]["searchProducts"].as_str().unwrap_or_default().to_string();
    let file = fixtures.join("app.io.vtex.com/vtex.search-graphql/ProductSearch.json");
    assert!(caught.starts_with("caught 501: ctx.clients.search.products (POST http://app.io.vtex.com/vtex.search-graphql/v0/local/dev/_v/graphql) goes to VTEX's cloud"), "{caught}");
    assert!(caught.contains(&format!("create {} holding", file.display())), "{caught}");
    link.wait_line("the call in the link log", |l| l.contains("ctx.clients.search.products → missing 501"));

    // The fixture it asked for, written while linked, answers the next call.
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let entry = json!({
        "request": {"app": "vtex.search-graphql@0.x", "graphql": {"operationName": "ProductSearch", "variables": {"term": "shoe"}}},
        "response": {"body": {"data": {"productSearch": {"products": [{"productName": "Red shoe"}]}}}}
    });
    std::fs::write(&file, entry.to_string()).unwrap();
    link.wait_line("fixtures reloaded", |l| l.contains("fixtures reloaded: 1 entry from 1 file"));
    let answered = graphql(&env, r#"{ searchProducts(term: "shoe") }"#, &[]);
    let products: Value = serde_json::from_str(answered["data"]["searchProducts"].as_str().unwrap()).unwrap();
    assert_eq!(products["data"]["productSearch"]["products"][0]["productName"], "Red shoe", "{answered}");
    link.wait_line("the fixture in the link log", |l| l.contains("ctx.clients.search.products → fixture 200"));
    // Other variables are still not answered.
    let other = graphql(&env, r#"{ searchProducts(term: "hat") }"#, &[]);
    assert!(other["data"]["searchProducts"].as_str().unwrap().starts_with("caught 501"), "{other}");
    assert_eq!(link.interrupt(), 0);
}

/// One request the fake cloud got.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    /// The head, lower-cased.
    head: String,
}

/// A stand-in for VTEX's cloud on a loopback port: answers a catalog SKU by id (and 404 to
/// anything else) and keeps what it got. Dropping it closes the port.
struct FakeCloud {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCloud {
    fn start() -> FakeCloud {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (seen, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    serve(conn, &seen2);
                }
            }
        });
        FakeCloud { url, seen, stop, thread: Some(thread) }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One request on `conn` (HTTP/1.1, `connection: close` answered).
fn serve(conn: TcpStream, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let head = head.to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or("").to_uppercase(), words.next().unwrap_or("").to_string());
    seen.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), head: head.clone() });
    let (status, answer) = match path.strip_prefix("/api/catalog_system/pvt/sku/stockkeepingunitbyid/") {
        Some(id) if method == "GET" => {
            ("200 OK", json!({"Id": id.parse::<u64>().unwrap_or(0), "NameComplete": "Cloud shoe"}))
        }
        _ => ("404 Not Found", json!({"message": "not found"})),
    };
    let answer = answer.to_string();
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nset-cookie: VtexIdclientAutCookie=cloudsecret\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn cloud_answers_are_recorded_without_credentials_and_answer_again_offline_and_writes_are_refused() {
    let env = Env::new();
    let app = shop(&env);
    let rec = env.dir.path().join("recorded");
    let cloud = FakeCloud::start();
    let mut command = env.command(&[
        "link",
        app.to_str().unwrap(),
        "--no-watch",
        "--cloud",
        "acme",
        "--record",
        rec.to_str().unwrap(),
    ]);
    command.env("VTEX_APP_KEY", KEY).env("VTEX_APP_TOKEN", TOKEN).env("IOCTL_CLOUD_URL", &cloud.url);
    let mut link = Running::from_command(command);
    link.wait_line("ready", |l| l.contains("ready in"));
    let url = url_of(&link);

    // The app's own axios GET of the account's catalog reaches the cloud, with the app key.
    let (status, _, body) = http(&url, "GET", "/_v/shop/sku/7", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"Id": 7, "NameComplete": "Cloud shoe"}));
    let got = cloud.seen();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("GET", "/api/catalog_system/pvt/sku/stockkeepingunitbyid/7")
    );
    assert!(got[0].head.contains("x-forwarded-host: acme.vtexcommercestable.com.br"), "{}", got[0].head);
    assert!(got[0].head.contains(&format!("x-vtex-api-appkey: {}", KEY.to_ascii_lowercase())), "{}", got[0].head);
    assert!(got[0].head.contains(&format!("x-vtex-api-apptoken: {}", TOKEN.to_ascii_lowercase())), "{}", got[0].head);

    // A write without --cloud-writes never reaches the cloud; the app's catch sees 403.
    let (status, _, body) = http(&url, "POST", "/_v/shop/cart", &[], "");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--cloud-writes"), "{body}");
    assert_eq!(cloud.seen().len(), 1, "the POST stayed local");

    assert_eq!(link.interrupt(), 0);
    let session = env.session_pid("dev");
    assert!(session.is_none_or(wait_gone));
    // No file of ioctl's, and no recorded fixture, holds the key, the token or the cloud's cookie.
    let recorded = files_under(&rec);
    assert_eq!(recorded.len(), 1, "one call recorded: {recorded:?}");
    for file in files_under(&env.home()).into_iter().chain(recorded) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        for secret in [KEY, TOKEN, "cloudsecret"] {
            assert!(!text.contains(secret), "{} holds {secret}", file.display());
        }
    }

    // The cloud gone, the recorded fixtures answer the same call.
    drop(cloud);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--no-watch", "--fixtures", rec.to_str().unwrap()]);
    link.wait_line("ready", |l| l.contains("ready in"));
    assert!(link.seen.iter().any(|l| l.contains("fixtures: 1 entry from 1 file")), "{:?}", link.seen);
    let (status, _, body) = http(&url_of(&link), "GET", "/_v/shop/sku/7", &[], "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"Id": 7, "NameComplete": "Cloud shoe"}));
    link.wait_line("answered by the fixture", |l| l.contains("→ fixture 200"));
    assert_eq!(link.interrupt(), 0);
}

/// The session URL a link printed (`session http://127.0.0.1:PORT (token in ...)`).
fn url_of(link: &Running) -> String {
    link.seen
        .iter()
        .find_map(|l| l.split("info: session http://").nth(1).and_then(|s| s.split_whitespace().next()))
        .map(|authority| format!("http://{authority}"))
        .unwrap_or_else(|| panic!("no session url: {:?}", link.seen))
}
