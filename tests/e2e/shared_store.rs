//! End to end: two machines (two `IOCTL_HOME`s, two link sessions) on one PostgreSQL store —
//! what one app's handler writes, the other's reads; concurrent `ifMatch` saves from both have
//! one winner and one 409; eight writers on both machines lose nothing when one session is
//! killed with SIGKILL; an unreachable store is said plainly, without its password.

use serde_json::{json, Value};

use crate::harness::*;
use crate::platform::{call, fixture, link};

fn ok(v: Value) -> Value {
    assert_eq!(v["ok"], true, "{v}");
    v["value"].clone()
}

/// The total of a search of `entity` through a session's app.
fn total(url: &str, entity: &str) -> u64 {
    let v = ok(call(
        url,
        "masterdata",
        "searchDocumentsWithPaginationInfo",
        json!([{"dataEntity": entity, "fields": ["id"], "pagination": {"page": 1, "pageSize": 1}}]),
    ));
    v["pagination"]["total"].as_u64().unwrap()
}

#[test]
fn two_sessions_on_one_database_share_documents_and_order_their_writes() {
    let a = Env::postgres("two_sessions");
    let b = a.beside();
    let (link_a, url_a) = link(&a, &fixture(&a, "app"), &[]);
    let (mut link_b, url_b) = link(&b, &fixture(&b, "app"), &[]);

    // A document created by one app's handler is found by the other's search.
    let fields = json!({"name": "Ann", "team": "red"});
    let created = ok(call(&url_a, "masterdata", "createDocument", json!([{"dataEntity": "CL", "fields": fields}])));
    let found = ok(call(
        &url_b,
        "masterdata",
        "searchDocuments",
        json!([{"dataEntity": "CL", "fields": ["id", "name"], "where": "team=red", "pagination": {"page": 1, "pageSize": 10}}]),
    ));
    assert_eq!(found, json!([{"id": created["DocumentId"], "name": "Ann"}]));

    // Concurrent ifMatch saves over the same hash, one from each machine: one wins, one 409.
    ok(call(&url_a, "vbase", "saveJSON", json!(["b", "cfg.json", {"v": 0}])));
    let mut etag = ok(call(&url_b, "vbase", "getRawJSON", json!(["b", "cfg.json"])))["headers"]["etag"].clone();
    for round in 1..=5 {
        let saves: Vec<_> = [url_a.clone(), url_b.clone()]
            .into_iter()
            .map(|url| {
                let args = json!(["b", "cfg.json", {"v": round, "from": url}, etag]);
                std::thread::spawn(move || call(&url, "vbase", "saveJSON", args))
            })
            .collect();
        let results: Vec<Value> = saves.into_iter().map(|t| t.join().unwrap()).collect();
        let won: Vec<&Value> = results.iter().filter(|r| r["ok"] == true).collect();
        let refused: Vec<&Value> = results.iter().filter(|r| r["status"] == 409).collect();
        assert_eq!((won.len(), refused.len()), (1, 1), "round {round}: {results:?}");
        let now = ok(call(&url_a, "vbase", "getJSON", json!(["b", "cfg.json"])));
        assert_eq!(now["v"], round, "the winner's value is the file");
        // The next round races over the winner's hash.
        let raw = ok(call(&url_b, "vbase", "getRawJSON", json!(["b", "cfg.json"])));
        assert_eq!(raw["data"], now);
        etag = raw["headers"]["etag"].clone();
    }

    // Eight writers × 1,000 documents: four through machine A's app (one document per call),
    // four as `masterdata import` on machine B; then machine A's session is killed with
    // SIGKILL. Every acknowledged document is there, seen from B.
    let through_a: Vec<_> = (0..4)
        .map(|w| {
            let url = url_a.clone();
            std::thread::spawn(move || {
                for i in 0..1000 {
                    let doc = json!({"id": format!("a{w}-{i}"), "w": w, "i": i});
                    ok(call(&url, "masterdata", "createDocument", json!([{"dataEntity": "W", "fields": doc}])));
                }
            })
        })
        .collect();
    let through_b: Vec<_> = (0..4)
        .map(|w| {
            let docs: Vec<Value> = (0..1000).map(|i| json!({"id": format!("b{w}-{i}"), "w": w, "i": i})).collect();
            let file = b.dir.path().join(format!("w{w}.json"));
            std::fs::write(&file, serde_json::to_string(&docs).unwrap()).unwrap();
            b.command(&["masterdata", "import", "W", file.to_str().unwrap()]).spawn().unwrap()
        })
        .collect();
    for t in through_a {
        t.join().unwrap();
    }
    for mut p in through_b {
        assert!(p.wait().unwrap().success());
    }
    let pid = a.session_pid("dev").unwrap();
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    assert!(wait_gone(pid));
    assert_eq!(total(&url_b, "W"), 8000);
    let searched: Value =
        serde_json::from_str(&stdout(&b.run(&["masterdata", "search", "W", "--where", "w=3", "--json"]))).unwrap();
    assert_eq!(searched["total"], 2000, "{searched}");
    drop(link_a);
    assert_eq!(link_b.interrupt(), 0);
}

#[test]
fn an_unreachable_store_is_said_plainly_without_its_password() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://team:hunter2@127.0.0.1:{port}/shared");
    let o = env.run(&["--store", &url, "vbase", "get", "acme.a", "b", "x.json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot reach the PostgreSQL store postgres://team@127.0.0.1:{port}/shared")),
        "{err}"
    );
    assert!(err.contains("check that the server runs"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let o = env.run(&["--store", "postgres://team:hunter2@127.0.0.1/", "settings", "get", "acme.a"]);
    assert_eq!(o.status.code(), Some(2), "a URL without a database is bad usage: {}", stderr(&o));
    assert!(stderr(&o).contains("names no database") && !stderr(&o).contains("hunter2"), "{}", stderr(&o));
}
