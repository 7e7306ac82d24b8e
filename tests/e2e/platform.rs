//! End to end: the local platform services — app settings, VBase, Master Data — through a
//! fixture app's handlers and through the CLI, their persistence (session restart, kill -9),
//! snapshots (export → reset → import), and platform events fired with `events trigger`.

use serde_json::{json, Value};

use crate::harness::*;

const MANIFEST: &str = r#"{
  "vendor": "acme", "name": "store-app", "version": "1.2.3",
  "builders": { "node": "6.x" },
  "settingsSchema": {
    "type": "object",
    "properties": {
      "greeting": { "type": "string", "default": "hello" },
      "maxItems": { "type": "integer", "minimum": 1, "maximum": 50, "default": 10 },
      "nested": { "type": "object", "properties": { "on": { "type": "boolean", "default": true } } }
    }
  }
}"#;

const SERVICE: &str = r#"{
  "memory": 256, "timeout": 10,
  "events": {
    "onOrder": { "sender": "vtex.orders-broadcast", "keys": ["order-status-updated"], "settingsType": "workspace" }
  },
  "routes": {
    "call": { "path": "/_v/store/call", "public": true },
    "settings": { "path": "/_v/store/settings", "public": true, "settingsType": "workspace" },
    "stream": { "path": "/_v/store/stream/:bucket/*path", "public": true },
    "bench": { "path": "/_v/store/bench", "public": true }
  }
}"#;

/// Every client method is reachable through `call` ({client, method, args}); errors come back
/// as {ok: false, status: err.response.status, message}.
const INDEX: &str = r#"import { Service, method } from '@vtex/api'
import { json } from 'co-body'

function plain(value: any): any {
  if (value && Buffer.isBuffer(value.data)) return { ...value, data: value.data.toString() }
  return value === undefined ? null : value
}

async function call(ctx: any) {
  const { client, method: name, args } = await json(ctx.req)
  try {
    ctx.body = { ok: true, value: plain(await ctx.clients[client][name](...(args || []))) }
  } catch (err: any) {
    ctx.body = { ok: false, status: err.response ? err.response.status : null, message: err.message }
  }
}

async function settings(ctx: any) {
  ctx.body = ctx.vtex.settings
}

async function stream(ctx: any) {
  const { bucket, path } = ctx.vtex.route.params
  if (ctx.method === 'PUT') {
    await ctx.clients.vbase.saveFile(bucket, path, ctx.req, true)
    ctx.status = 204
    return
  }
  const body = await ctx.clients.vbase.getFileStream(bucket, path)
  ctx.type = 'text/plain'
  ctx.body = body
}

async function bench(ctx: any) {
  await ctx.clients.vbase.saveJSON('bench', 'key', { at: Date.now() })
  ctx.body = await ctx.clients.vbase.getJSON('bench', 'key')
}

export default new Service({
  routes: { call: method({ POST: call }), settings, stream, bench },
  events: {
    onOrder: async (ctx: any) => {
      await ctx.clients.vbase.saveJSON('orders', ctx.body.orderId, {
        state: ctx.body.currentState,
        greeting: ctx.vtex.settings.greeting,
        sender: ctx.sender,
      })
    },
  },
})
"#;

/// A tiny co-body stand-in in node_modules, so the test needs no npm install.
const CO_BODY: &str = r#"exports.json = (req) => new Promise((resolve, reject) => {
  let data = ''
  req.setEncoding('utf8')
  req.on('data', (c) => { data += c })
  req.on('end', () => { try { resolve(JSON.parse(data)) } catch (e) { reject(e) } })
  req.on('error', reject)
})
"#;

/// A platform test run twice: on SQLite (`$sqlite`) and on a PostgreSQL database of its own
/// (`$postgres`), the same body (`$body`) given the environment.
macro_rules! on_both {
    ($sqlite:ident, $postgres:ident, $body:ident) => {
        #[test]
        fn $sqlite() {
            $body(Env::new())
        }
        #[test]
        fn $postgres() {
            $body(Env::postgres(stringify!($sqlite)))
        }
    };
}

pub fn fixture(env: &Env, name: &str) -> std::path::PathBuf {
    env.app(
        name,
        &[
            ("manifest.json", MANIFEST),
            ("node/service.json", SERVICE),
            ("node/index.ts", INDEX),
            ("node/node_modules/co-body/index.js", CO_BODY),
        ],
    )
}

/// Links the fixture; returns the link and the session URL.
pub fn link(env: &Env, app: &std::path::Path, extra_env: &[(&str, &str)]) -> (Running, String) {
    let mut command = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    command.envs(extra_env.iter().copied());
    let mut link = Running::from_command(command);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["linked"], true, "{}", link.seen.join("\n"));
    (link, ready["url"].as_str().unwrap().to_string())
}

/// `ctx.clients[client][method](...args)` in the app's route handler.
pub fn call(url: &str, client: &str, method: &str, args: Value) -> Value {
    let body = json!({"client": client, "method": method, "args": args}).to_string();
    let (status, _, text) = http(url, "POST", "/_v/store/call", &[("content-type", "application/json")], &body);
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

fn ok(v: Value) -> Value {
    assert_eq!(v["ok"], true, "{v}");
    v["value"].clone()
}

fn failed(v: Value, status: u16) -> String {
    assert_eq!((v["ok"].clone(), v["status"].clone()), (json!(false), json!(status)), "{v}");
    v["message"].as_str().unwrap().to_string()
}

fn run_ok(env: &Env, args: &[&str]) -> String {
    let o = env.run(args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

on_both!(
    settings_come_with_schema_defaults_and_reach_handlers,
    settings_come_with_schema_defaults_and_reach_handlers_on_postgres,
    settings_come_with_schema_defaults_and_reach_handlers_in
);
fn settings_come_with_schema_defaults_and_reach_handlers_in(env: Env) {
    let app = fixture(&env, "app");
    let (mut link, url) = link(&env, &app, &[]);
    let defaults = json!({"greeting": "hello", "maxItems": 10, "nested": {"on": true}});
    assert_eq!(ok(call(&url, "apps", "getAppSettings", json!(["acme.store-app@1.2.3"]))), defaults);
    let (status, _, body) = http(&url, "GET", "/_v/store/settings", &[], "");
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (200, defaults));

    ok(call(&url, "apps", "saveAppSettings", json!(["acme.store-app", {"greeting": "hi"}])));
    let (_, _, body) = http(&url, "GET", "/_v/store/settings", &[], "");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["greeting"], "hi");

    // The CLI sees the same settings, and refuses a value the schema does not allow.
    let got: Value = serde_json::from_str(&run_ok(&env, &["settings", "get", "acme.store-app", "--json"])).unwrap();
    assert_eq!(got, json!({"greeting": "hi", "maxItems": 10, "nested": {"on": true}}));
    let o = env.run(&["settings", "set", "acme.store-app", "maxItems=500"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("/maxItems: ") && stderr(&o).contains("50"), "{}", stderr(&o));
    let o = env.run(&["settings", "set", "acme.store-app", "nested.on=\"yes\""]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nested/on: "), "{}", stderr(&o));
    run_ok(&env, &["settings", "set", "acme.store-app", "maxItems=20", "nested.on=false"]);
    let (_, _, body) = http(&url, "GET", "/_v/store/settings", &[], "");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"greeting": "hi", "maxItems": 20, "nested": {"on": false}})
    );

    // Clients that still need VTEX's cloud say so, and name the local ones.
    let v = call(&url, "oms", "order", json!(["1"]));
    let m = v["message"].as_str().unwrap_or_default();
    assert!(v["ok"] == false && m.contains("needs VTEX's cloud") && m.contains("ctx.clients.vbase"), "{v}");
    assert_eq!(link.interrupt(), 0);
}

on_both!(
    settings_cli_works_without_a_session_from_the_app_folder,
    settings_cli_works_without_a_session_from_the_app_folder_on_postgres,
    settings_cli_works_without_a_session_from_the_app_folder_in
);
fn settings_cli_works_without_a_session_from_the_app_folder_in(env: Env) {
    let app = fixture(&env, "app");
    let mut c = env.command(&["settings", "set", "greeting=yo", "maxItems=3"]);
    let o = c.current_dir(&app).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut c = env.command(&["settings", "set", "maxItems=0"]);
    let o = c.current_dir(app.join("node")).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/maxItems: ") && stderr(&o).contains("not saved"), "{}", stderr(&o));
    let mut c = env.command(&["settings", "get", "--json"]);
    let o = c.current_dir(&app).output().unwrap();
    let got: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(got, json!({"greeting": "yo", "maxItems": 3, "nested": {"on": true}}));
    let file = env.dir.path().join("settings.json");
    std::fs::write(&file, r#"{"greeting": 5}"#).unwrap();
    let mut c = env.command(&["settings", "set", "--file", file.to_str().unwrap()]);
    let o = c.current_dir(&app).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/greeting: "), "{}", stderr(&o));
}

on_both!(
    vbase_files_json_etags_ttl_and_listing,
    vbase_files_json_etags_ttl_and_listing_on_postgres,
    vbase_files_json_etags_ttl_and_listing_in
);
fn vbase_files_json_etags_ttl_and_listing_in(env: Env) {
    let app = fixture(&env, "app");
    let (mut link, url) = link(&env, &app, &[]);
    let vb = |method: &str, args: Value| call(&url, "vbase", method, args);

    // A missing file: 404 error, or null with nullIfNotFound.
    let m = failed(vb("getJSON", json!(["b", "missing.json"])), 404);
    assert!(m.contains("vbase.getRawJSON('b', 'missing.json')") && m.contains("no file"), "{m}");
    assert_eq!(ok(vb("getJSON", json!(["b", "missing.json", true]))), Value::Null);

    ok(vb("saveJSON", json!(["b", "cfg.json", {"a": 1}])));
    assert_eq!(ok(vb("getJSON", json!(["b", "cfg.json"]))), json!({"a": 1}));
    let raw = ok(vb("getRawJSON", json!(["b", "cfg.json"])));
    let etag = raw["headers"]["etag"].as_str().unwrap().to_string();
    assert_eq!(raw["data"], json!({"a": 1}));
    // ifMatch: the current hash saves; a stale one is a 409 and changes nothing.
    ok(vb("saveJSON", json!(["b", "cfg.json", {"a": 2}, etag])));
    let m = failed(vb("saveJSON", json!(["b", "cfg.json", {"a": 3}, etag])), 409);
    assert!(m.contains("changed"), "{m}");
    assert_eq!(ok(vb("getJSON", json!(["b", "cfg.json"]))), json!({"a": 2}));

    // Files: buffers through saveFile/getFile, streams through a route, gzip flag, delete.
    ok(vb("saveFile", json!(["b", "notes.txt", "plain text", true])));
    let f = ok(vb("getFile", json!(["b", "notes.txt"])));
    assert_eq!(f["data"], "plain text");
    assert_eq!(f["headers"]["x-vtex-content-encoding"], "gzip");
    let big = "x".repeat(200_000);
    assert_eq!(http(&url, "PUT", "/_v/store/stream/b/dir/big.txt", &[], &big).0, 204);
    let (status, _, body) = http(&url, "GET", "/_v/store/stream/b/dir/big.txt", &[], "");
    assert_eq!((status, body.len()), (200, big.len()));
    ok(vb("deleteFile", json!(["b", "notes.txt"])));
    failed(vb("getFile", json!(["b", "notes.txt"])), 404);
    failed(vb("deleteFile", json!(["b", "notes.txt"])), 404);

    // ttl: the file reads as missing once it expires.
    ok(vb("saveFile", json!(["b", "short.txt", "soon gone", false, 1])));
    assert_eq!(ok(vb("getFile", json!(["b", "short.txt"])))["data"], "soon gone");
    eventually("the ttl to expire", || (vb("getFile", json!(["b", "short.txt"]))["status"] == 404).then_some(()));

    // Listing: prefix, limit, next.
    for i in 0..5 {
        ok(vb("saveJSON", json!(["list", format!("p/{i}.json"), i])));
    }
    ok(vb("saveJSON", json!(["list", "other.json", 0])));
    let page = ok(vb("listFiles", json!(["list", {"prefix": "p/", "limit": 2}])));
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["path"], "p/0.json");
    assert!(page["data"][0]["hash"].is_string());
    let mut paths = Vec::new();
    let mut next = Value::Null;
    loop {
        let page = ok(vb("listFiles", json!(["list", {"prefix": "p/", "limit": 2, "next": next}])));
        paths.extend(page["data"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap().to_string()));
        next = page["next"].clone();
        if next.is_null() {
            break;
        }
    }
    assert_eq!(paths, ["p/0.json", "p/1.json", "p/2.json", "p/3.json", "p/4.json"]);
    assert_eq!(ok(vb("listFiles", json!(["list", "other"])))["data"][0]["path"], "other.json");

    // The CLI reads and writes the same files (per app, per bucket).
    let ls = run_ok(&env, &["vbase", "ls", "acme.store-app", "list", "p/"]);
    assert_eq!(ls.lines().count(), 5, "{ls}");
    assert_eq!(run_ok(&env, &["vbase", "get", "acme.store-app", "b", "cfg.json"]).trim(), r#"{"a":2}"#);
    run_ok(&env, &["vbase", "put", "acme.store-app", "b", "cli.json", "--data", r#"{"from":"cli"}"#]);
    assert_eq!(ok(vb("getJSON", json!(["b", "cli.json"]))), json!({"from": "cli"}));
    run_ok(&env, &["vbase", "rm", "acme.store-app", "b", "cli.json"]);
    let o = env.run(&["vbase", "get", "acme.store-app", "b", "cli.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no file `cli.json`"), "{}", stderr(&o));
    // Another app's files are its own.
    assert_eq!(env.run(&["vbase", "get", "acme.other", "b", "cfg.json"]).status.code(), Some(1));
    assert_eq!(link.interrupt(), 0);
}

on_both!(
    masterdata_documents_search_where_grammar_pagination_scroll_and_schemas,
    masterdata_documents_search_where_grammar_pagination_scroll_and_schemas_on_postgres,
    masterdata_documents_search_where_grammar_pagination_scroll_and_schemas_in
);
fn masterdata_documents_search_where_grammar_pagination_scroll_and_schemas_in(env: Env) {
    let app = fixture(&env, "app");
    let (mut link, url) = link(&env, &app, &[("IOCTL_MASTERDATA_SCROLL_TTL", "1")]);
    let md = |method: &str, args: Value| call(&url, "masterdata", method, json!([args]));

    let created = ok(md("createDocument", json!({"dataEntity": "CL", "fields": {"name": "Ann", "age": 31}})));
    let id = created["DocumentId"].as_str().unwrap().to_string();
    assert_eq!(created["Id"], format!("CL-{id}"));
    assert!(created["Href"].as_str().unwrap().ends_with(&format!("/dataentities/CL/documents/{id}")), "{created}");
    let doc = ok(md("getDocument", json!({"dataEntity": "CL", "id": id, "fields": ["name", "age"]})));
    assert_eq!(doc, json!({"name": "Ann", "age": 31}));
    let all = ok(md("getDocument", json!({"dataEntity": "CL", "id": id, "fields": ["_all"]})));
    assert_eq!(all, json!({"name": "Ann", "age": 31, "id": id}));
    failed(md("getDocument", json!({"dataEntity": "CL", "id": "nope", "fields": ["_all"]})), 404);
    failed(md("createDocument", json!({"dataEntity": "CL", "fields": {"id": id, "name": "dup"}})), 409);

    ok(md("updatePartialDocument", json!({"dataEntity": "CL", "id": id, "fields": {"city": "Rio"}})));
    let fields = json!(["_all"]);
    assert_eq!(ok(md("getDocument", json!({"dataEntity": "CL", "id": id, "fields": fields})))["city"], "Rio");
    ok(md("updateEntireDocument", json!({"dataEntity": "CL", "id": id, "fields": {"name": "Ann B"}})));
    assert_eq!(
        ok(md("getDocument", json!({"dataEntity": "CL", "id": id, "fields": fields}))),
        json!({"name": "Ann B", "id": id})
    );
    failed(md("updatePartialDocument", json!({"dataEntity": "CL", "id": "nope", "fields": {"a": 1}})), 404);
    ok(md(
        "createOrUpdateEntireDocument",
        json!({"dataEntity": "CL", "fields": {"id": "u1", "name": "Uma", "age": 20}}),
    ));
    ok(md("createOrUpdatePartialDocument", json!({"dataEntity": "CL", "fields": {"id": "u1", "email": "u@x.com"}})));
    assert_eq!(
        ok(md("getDocument", json!({"dataEntity": "CL", "id": "u1", "fields": fields}))),
        json!({"id": "u1", "name": "Uma", "age": 20, "email": "u@x.com"})
    );
    ok(md("deleteDocument", json!({"dataEntity": "CL", "id": id})));
    failed(md("deleteDocument", json!({"dataEntity": "CL", "id": id})), 404);

    // 30 documents to search.
    let file = env.dir.path().join("people.ndjson");
    let lines: Vec<String> = (0..30)
        .map(|i| {
            let email = if i % 10 == 0 { Value::Null } else { json!(format!("p{i}@x.com")) };
            json!({"id": format!("p{i:02}"), "name": format!("Person {i}"), "age": 20 + i, "team": if i % 2 == 0 { "red" } else { "blue" }, "email": email}).to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    assert!(run_ok(&env, &["masterdata", "import", "people", file.to_str().unwrap()]).contains("imported 30 documents"));
    let search = |w: &str| {
        let v = ok(md(
            "searchDocuments",
            json!({"dataEntity": "people", "fields": ["id"], "where": w, "pagination": {"page": 1, "pageSize": 100}}),
        ));
        v.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(search("age=25"), ["p05"]);
    assert_eq!(search("name='Person 7'"), ["p07"]);
    assert_eq!(search("age<22"), ["p00", "p01"]);
    assert_eq!(search("age>47"), ["p28", "p29"]);
    assert_eq!(search("age between 30 AND 32"), ["p10", "p11", "p12"]);
    assert_eq!(search("email is null"), ["p00", "p10", "p20"]);
    assert_eq!(search("email is not null").len(), 27);
    assert_eq!(search("team<>red AND age<26"), ["p01", "p03", "p05"]);
    assert_eq!(search("name='Person 1*'").len(), 11);
    assert_eq!(search("(age=20 OR age=21) AND team=blue"), ["p01"]);
    assert_eq!(search("age=20 OR age=21 AND team=blue"), ["p00", "p01"]);
    assert_eq!(search("NOT (age>21)"), ["p00", "p01"]);
    let m = failed(
        md(
            "searchDocuments",
            json!({"dataEntity": "people", "fields": ["id"], "where": "age= AND team=red", "pagination": {"page": 1, "pageSize": 10}}),
        ),
        400,
    );
    assert!(m.contains("invalid where at column 6: expected a value"), "{m}");
    let m = failed(
        md(
            "searchDocuments",
            json!({"dataEntity": "people", "fields": ["id"], "where": "(age=1", "pagination": {"page": 1, "pageSize": 10}}),
        ),
        400,
    );
    assert!(m.contains("column 7") && m.contains("`)`"), "{m}");

    // Pagination (≤ 100 per page), sort, and the total.
    let page = ok(md(
        "searchDocumentsWithPaginationInfo",
        json!({"dataEntity": "people", "fields": ["id", "age"], "sort": "age DESC", "pagination": {"page": 2, "pageSize": 7}}),
    ));
    assert_eq!(page["pagination"], json!({"page": 2, "pageSize": 7, "total": 30}));
    let ids: Vec<&str> = page["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p22", "p21", "p20", "p19", "p18", "p17", "p16"]);
    let m = failed(
        md(
            "searchDocuments",
            json!({"dataEntity": "people", "fields": ["id"], "pagination": {"page": 1, "pageSize": 101}}),
        ),
        400,
    );
    assert!(m.contains("pageSize must be from 1 to 100"), "{m}");

    // Scroll: pages until empty; a token expires when unused (1 s here).
    let first = ok(md("scrollDocuments", json!({"dataEntity": "people", "fields": ["id"], "size": 12})));
    let token = first["mdToken"].as_str().unwrap().to_string();
    let mut seen = first["data"].as_array().unwrap().len();
    loop {
        let next = ok(md("scrollDocuments", json!({"dataEntity": "people", "fields": ["id"], "mdToken": token})));
        let n = next["data"].as_array().unwrap().len();
        if n == 0 {
            break;
        }
        seen += n;
    }
    assert_eq!(seen, 30);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let m = failed(md("scrollDocuments", json!({"dataEntity": "people", "fields": ["id"], "mdToken": token})), 400);
    assert!(m.contains("expired"), "{m}");

    // Schemas: saved, read back, and enforced on documents saved under them.
    let body = json!({"type": "object", "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5}}, "v-indexed": ["rating"]});
    ok(md("createOrUpdateSchema", json!({"dataEntity": "reviews", "schemaName": "v1", "schemaBody": body})));
    assert_eq!(ok(md("getSchema", json!({"dataEntity": "reviews", "schema": "v1"}))), body);
    // A missing schema is VTEX's empty 200: falsy, for the apps' `if (!schema)` (fidelity.rs).
    assert_eq!(ok(md("getSchema", json!({"dataEntity": "reviews", "schema": "v9"}))), json!(""));
    ok(md("createDocument", json!({"dataEntity": "reviews", "fields": {"rating": 4}, "schema": "v1"})));
    let m =
        failed(md("createDocument", json!({"dataEntity": "reviews", "fields": {"rating": 9}, "schema": "v1"})), 400);
    assert!(m.contains("/rating: "), "{m}");

    // The CLI searches the same documents.
    let out = run_ok(&env, &["masterdata", "search", "people", "--where", "team=red AND age<24", "--fields", "id,age"]);
    assert_eq!(out.trim(), "{\"id\":\"p00\",\"age\":20}\n{\"id\":\"p02\",\"age\":22}");
    let o = env.run(&["masterdata", "search", "people", "--where", "age between 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("column 14") && stderr(&o).contains("AND"), "{}", stderr(&o));
    let v: Value =
        serde_json::from_str(&run_ok(&env, &["masterdata", "search", "people", "--json", "--page-size", "5"])).unwrap();
    assert_eq!((v["total"].clone(), v["data"].as_array().unwrap().len()), (json!(30), 5));
    assert_eq!(link.interrupt(), 0);
}

on_both!(
    masterdata_search_under_a_schema_returns_only_matching_documents_in_handlers_and_the_cli,
    masterdata_search_under_a_schema_returns_only_matching_documents_in_handlers_and_the_cli_on_postgres,
    masterdata_search_under_a_schema_returns_only_matching_documents_in_handlers_and_the_cli_in
);
fn masterdata_search_under_a_schema_returns_only_matching_documents_in_handlers_and_the_cli_in(env: Env) {
    let app = fixture(&env, "app");
    let (mut link, url) = link(&env, &app, &[]);
    let md = |method: &str, args: Value| call(&url, "masterdata", method, json!([args]));
    let body = json!({"type": "object", "required": ["rating"], "v-default-fields": ["id", "rating"]});
    ok(md("createOrUpdateSchema", json!({"dataEntity": "reviews", "schemaName": "v1", "schemaBody": body})));
    for (id, rating) in [("a", Some(5)), ("b", None), ("c", Some(3)), ("d", None), ("e", Some(1))] {
        let mut fields = json!({"id": id, "text": format!("review {id}")});
        if let Some(r) = rating {
            fields["rating"] = json!(r);
        }
        ok(md("createDocument", json!({"dataEntity": "reviews", "fields": fields})));
    }

    // Only documents that match v1, counted in the total; no fields named: v1's v-default-fields.
    let page = ok(md(
        "searchDocumentsWithPaginationInfo",
        json!({"dataEntity": "reviews", "schema": "v1", "pagination": {"page": 1, "pageSize": 2}}),
    ));
    assert_eq!(page["data"], json!([{"id": "a", "rating": 5}, {"id": "c", "rating": 3}]));
    assert_eq!(page["pagination"], json!({"page": 1, "pageSize": 2, "total": 3}));
    let all = ok(md(
        "searchDocuments",
        json!({"dataEntity": "reviews", "fields": ["id"], "pagination": {"page": 1, "pageSize": 10}}),
    ));
    assert_eq!(all.as_array().unwrap().len(), 5, "without a schema, every document: {all}");
    // A document that stops matching leaves the search; one that starts matching joins it.
    ok(md("updatePartialDocument", json!({"dataEntity": "reviews", "id": "b", "fields": {"rating": 2}})));
    ok(md("updateEntireDocument", json!({"dataEntity": "reviews", "id": "a", "fields": {"text": "no rating"}})));
    let scrolled =
        ok(md("scrollDocuments", json!({"dataEntity": "reviews", "schema": "v1", "fields": ["id"], "size": 10})));
    assert_eq!(scrolled["data"], json!([{"id": "b"}, {"id": "c"}, {"id": "e"}]));
    let m = failed(
        md(
            "searchDocuments",
            json!({"dataEntity": "reviews", "schema": "v9", "pagination": {"page": 1, "pageSize": 10}}),
        ),
        404,
    );
    assert!(m.contains("no schema `v9` in data entity `reviews`"), "{m}");

    // The CLI searches under a schema too.
    let v: Value =
        serde_json::from_str(&run_ok(&env, &["masterdata", "search", "reviews", "--schema", "v1", "--json"])).unwrap();
    assert_eq!(v["total"], 3);
    assert_eq!(v["data"], json!([{"id": "b", "rating": 2}, {"id": "c", "rating": 3}, {"id": "e", "rating": 1}]));
    let out =
        run_ok(&env, &["masterdata", "search", "reviews", "--schema", "v1", "--fields", "text", "--where", "id=c"]);
    assert_eq!(out.trim(), r#"{"text":"review c"}"#);
    let o = env.run(&["masterdata", "search", "reviews", "--schema", "v9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no schema `v9` in data entity `reviews`"), "{}", stderr(&o));
    assert_eq!(link.interrupt(), 0);
}

on_both!(
    triggered_platform_events_reach_handlers_with_settings,
    triggered_platform_events_reach_handlers_with_settings_on_postgres,
    triggered_platform_events_reach_handlers_with_settings_in
);
fn triggered_platform_events_reach_handlers_with_settings_in(env: Env) {
    let list = run_ok(&env, &["events", "trigger", "--list"]);
    for (name, sender) in [
        ("order-status-updated", "vtex.orders-broadcast"),
        ("payment-approved", "vtex.orders-broadcast"),
        ("broadcaster.notification", "vtex.broadcaster"),
        ("setup", "apps"),
    ] {
        assert!(list.lines().any(|l| l.starts_with(name) && l.contains(sender)), "{name}: {list}");
    }
    let o = env.run(&["events", "trigger", "order-status-updated"]);
    assert_eq!(o.status.code(), Some(1), "no session: a clear error");
    let o = env.run(&["events", "trigger", "nope", "--timeout", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--list"), "{}", stderr(&o));

    let app = fixture(&env, "app");
    let (mut link, _url) = link(&env, &app, &[]);
    let out = run_ok(&env, &["events", "trigger", "order-status-updated", "--set", "orderId=123-01", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["sender"].clone(), v["key"].clone(), v["deliveries"].clone()),
        (json!("vtex.orders-broadcast"), json!("order-status-updated"), json!(1))
    );
    for field in ["domain", "currentState", "lastState", "currentChangeDate", "lastChangeDate"] {
        assert!(v["body"][field].is_string(), "{field}: {v}");
    }
    let saved = eventually("the handler to save the order", || {
        let o = env.run(&["vbase", "get", "acme.store-app", "orders", "123-01"]);
        o.status.success().then(|| serde_json::from_str::<Value>(&stdout(&o)).unwrap())
    });
    assert_eq!(saved, json!({"state": "ready-for-handling", "greeting": "hello", "sender": "vtex.orders-broadcast"}));
    let out = run_ok(&env, &["events", "trigger", "broadcaster.notification", "--set", "IdSku=42", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["body"]["IdSku"], 42);
    assert_eq!(v["body"]["An"], "local");
    assert_eq!(link.interrupt(), 0);
}

on_both!(
    data_survives_a_restart_and_kill_9_of_the_session,
    data_survives_a_restart_and_kill_9_of_the_session_on_postgres,
    data_survives_a_restart_and_kill_9_of_the_session_in
);
fn data_survives_a_restart_and_kill_9_of_the_session_in(env: Env) {
    let app = fixture(&env, "app");
    let (mut first, url) = link(&env, &app, &[]);
    ok(call(&url, "vbase", "saveJSON", json!(["b", "k.json", {"n": 1}])));
    assert_eq!(first.interrupt(), 0);
    let pid = env.session_pid("dev");
    if let Some(pid) = pid {
        assert!(wait_gone(pid));
    }

    let (second, url) = link(&env, &app, &[]);
    assert_eq!(ok(call(&url, "vbase", "getJSON", json!(["b", "k.json"]))), json!({"n": 1}));
    // Acknowledged writes, then kill -9 of the session: every one is there afterwards.
    for i in 0..20 {
        ok(call(
            &url,
            "masterdata",
            "createDocument",
            json!([{"dataEntity": "K", "fields": {"id": format!("d{i}"), "i": i}}]),
        ));
    }
    ok(call(&url, "vbase", "saveJSON", json!(["b", "k.json", {"n": 2}])));
    let pid = env.session_pid("dev").unwrap();
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
    }
    assert!(wait_gone(pid));
    drop(second);
    let _ = std::fs::remove_file(env.home().join("sessions/local/dev.json"));

    let (mut third, url) = link(&env, &app, &[]);
    assert_eq!(ok(call(&url, "vbase", "getJSON", json!(["b", "k.json"]))), json!({"n": 2}));
    let v = ok(call(
        &url,
        "masterdata",
        "searchDocumentsWithPaginationInfo",
        json!([{"dataEntity": "K", "fields": ["id"], "pagination": {"page": 1, "pageSize": 100}}]),
    ));
    assert_eq!(v["pagination"]["total"], 20);
    assert_eq!(third.interrupt(), 0);
}

on_both!(
    export_reset_import_round_trip_and_private_files,
    export_reset_import_round_trip_and_private_files_on_postgres,
    export_reset_import_round_trip_and_private_files_in
);
fn export_reset_import_round_trip_and_private_files_in(env: Env) {
    run_ok(&env, &["vbase", "put", "acme.a", "b", "x.json", "--data", r#"{"x":1}"#]);
    let bin = env.dir.path().join("blob.bin");
    std::fs::write(&bin, [0u8, 159, 146, 150]).unwrap();
    run_ok(&env, &["vbase", "put", "acme.a", "b", "blob.bin", "--file", bin.to_str().unwrap()]);
    run_ok(&env, &["settings", "set", "acme.a", "color=blue"]);
    let docs = env.dir.path().join("docs.json");
    std::fs::write(&docs, r#"[{"id": "1", "name": "one"}, {"name": "two"}]"#).unwrap();
    run_ok(&env, &["masterdata", "import", "things", docs.to_str().unwrap()]);

    // Several processes writing at once lose nothing.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let script = (0..10)
                .map(|i| format!("{BIN} vbase put acme.a many w{w}-{i}.json --data {i} >/dev/null || exit 1"))
                .collect::<Vec<_>>()
                .join("\n");
            std::process::Command::new("sh").arg("-c").arg(script).envs(env.vars()).spawn().unwrap()
        })
        .collect();
    for mut w in writers {
        assert!(w.wait().unwrap().success());
    }
    assert_eq!(run_ok(&env, &["vbase", "ls", "acme.a", "many"]).lines().count(), 40);

    let snap = env.dir.path().join("snap");
    assert!(run_ok(&env, &["data", "export", snap.to_str().unwrap()]).contains("2 Master Data documents"));
    let vbase_json: Value = serde_json::from_str(&std::fs::read_to_string(snap.join("vbase.json")).unwrap()).unwrap();
    let x = vbase_json.as_array().unwrap().iter().find(|f| f["path"] == "x.json").unwrap();
    assert_eq!(x["json"], json!({"x": 1}), "JSON files are readable in the snapshot");
    let things: Value =
        serde_json::from_str(&std::fs::read_to_string(snap.join("masterdata/things.json")).unwrap()).unwrap();
    assert_eq!(things[0], json!({"id": "1", "name": "one"}));

    // reset asks; no answer (or no) clears nothing.
    let o = env.run(&["data", "reset"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing was cleared"));
    assert!(env.run(&["vbase", "get", "acme.a", "b", "x.json"]).status.success());
    let mut c = env.command(&["data", "reset"]);
    let mut child = c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"y\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(env.run(&["vbase", "get", "acme.a", "b", "x.json"]).status.code(), Some(1));
    let v: Value = serde_json::from_str(&run_ok(&env, &["masterdata", "search", "things", "--json"])).unwrap();
    assert_eq!(v["total"], 0);
    run_ok(&env, &["data", "reset", "--yes"]);

    assert!(run_ok(&env, &["data", "import", snap.to_str().unwrap()]).contains("42 VBase files"));
    assert_eq!(run_ok(&env, &["vbase", "get", "acme.a", "b", "x.json"]).trim(), r#"{"x":1}"#);
    let o = env.run(&["vbase", "get", "acme.a", "b", "blob.bin"]);
    assert_eq!(o.stdout, [0u8, 159, 146, 150]);
    assert_eq!(run_ok(&env, &["settings", "get", "acme.a", "--json"]).trim(), r#"{"color":"blue"}"#);
    let exported: Value = serde_json::from_str(&run_ok(&env, &["masterdata", "export", "things"])).unwrap();
    assert_eq!(exported, things);

    if env.store.is_some() {
        assert!(!env.home().join("data/local/dev.sqlite").exists(), "all of it went to PostgreSQL");
        return;
    }
    // Folders 0700, files 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.home().join("data")), 0o700);
    assert_eq!(mode(&env.home().join("data/local")), 0o700);
    assert_eq!(mode(&env.home().join("data/local/dev.sqlite")), 0o600);
    assert_eq!(mode(&env.home().join("data/local/masterdata.sqlite")), 0o600);
}
