//! End to end: the platform around an app. `ioctl platform show | set` and their trip through
//! `data export | import | reset`; who a request to an app's route is (the session's token is
//! the local admin, `x-ioctl-as` another user, a local user's token that user, anything else
//! nobody) and that the control token never reaches the app's process; and outbound calls
//! crossing the boundary — answered by a linked app, the local services or nothing — in the
//! link log and `ioctl calls tail`. The app sends its outbound calls through the host's
//! platform hook, the very `{"service": "http", ...}` message the stand-in's clients send.

use std::path::PathBuf;

use crate::harness::*;
use serde_json::{json, Value};

const MANIFEST: &str = r#"{"vendor": "acme", "name": "door", "version": "1.2.0", "title": "Door",
  "builders": {"node": "6.x"}, "policies": []}"#;

const SERVICE: &str = r#"{
  "timeout": 10,
  "routes": {
    "echo": { "path": "/_v/door/echo", "public": true },
    "secret": { "path": "/_v/door/secret" },
    "outbound": { "path": "/_v/door/outbound", "public": true },
    "save": { "path": "/_v/door/save", "public": true }
  }
}"#;

const INDEX: &str = r#"import { IOClients, method, Service, ServiceContext } from '@vtex/api'
import { echo, outbound, save } from './routes'

declare global {
  type Context = ServiceContext<IOClients>
}

export default new Service({
  clients: { implementation: IOClients, options: { default: { timeout: 5000 } } },
  routes: { echo, secret: echo, outbound: method({ POST: outbound }), save },
})
"#;

const ROUTES: &str = r#"import { json } from 'co-body'
import * as path from 'path'

// The host's platform hook: what the stand-in's HTTP clients call for a call to VTEX.
const hooks = require(path.join(path.dirname(require.resolve('@vtex/api')), 'hooks.js'))

/** One outbound call through the hook; its body parsed. */
async function call(call: any) {
  const a = await hooks.platform({ service: 'http', headers: {}, body: null, app: null, ...call })
  return { ...a, body: a.body == null ? null : JSON.parse(Buffer.from(a.body, 'base64').toString() || 'null') }
}

export async function echo(ctx: Context) {
  // The request's session (x-vtex-session, as VTEX's router sets it), from the session service.
  const token = ctx.get('x-vtex-session')
  const url = `http://portal.vtexcommercestable.com.br/api/sessions?items=*&an=${ctx.vtex.account}`
  const session = token ? await call({ via: 'test', method: 'GET', url, headers: { cookie: `vtex_session=${token};` } }) : null
  ctx.body = {
    headers: ctx.headers,
    session: session && session.body,
    sessionData: (ctx.vtex as any).sessionData || null,
    env: process.env,
  }
}

export async function outbound(ctx: Context) {
  const calls: any[] = await json(ctx.req)
  const answers = []
  for (const call of calls) {
    const body = call.body == null ? null : Buffer.from(JSON.stringify(call.body)).toString('base64')
    const a = await hooks.platform({ service: 'http', headers: {}, app: null, ...call, body })
    answers.push({ ...a, body: a.body == null ? null : Buffer.from(a.body, 'base64').toString() })
  }
  ctx.body = answers
}

export async function save(ctx: Context) {
  ctx.body = await ctx.clients.masterdata.createDocument({
    dataEntity: 'CL',
    fields: { id: 'ann', email: 'ann@x.com', name: 'Ann' },
  })
}
"#;

fn app(env: &Env) -> PathBuf {
    env.app(
        "door",
        &[
            ("manifest.json", MANIFEST),
            ("node/service.json", SERVICE),
            ("node/index.ts", INDEX),
            ("node/routes.ts", ROUTES),
        ],
    )
}

fn token(env: &Env) -> String {
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    record["token"].as_str().unwrap().to_string()
}

/// GET an echo route: (status, what the app saw, the whole answer as text).
fn echo(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value, String) {
    let (status, _, body) = http(url, "GET", path, headers, "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null), body)
}

fn cookie(seen: &Value) -> String {
    seen["headers"]["cookie"].as_str().unwrap_or("").to_string()
}

/// The session's namespaces the app got: the session service's answer for its session token,
/// the same as `ctx.vtex.sessionData` (from x-ioctl-session-data) once the host sets that.
fn namespaces(seen: &Value) -> &Value {
    if !seen["sessionData"].is_null() {
        assert_eq!(seen["sessionData"], seen["session"], "x-ioctl-session-data is the session service's session");
    }
    &seen["session"]["namespaces"]
}

fn run_ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

fn show(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["platform", "show", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run_ok(env, &all)).unwrap()
}

#[test]
fn platform_settings_are_shown_set_checked_and_carried_by_data_export_and_import() {
    let env = Env::new();
    let human = run_ok(&env, &["platform", "show"]);
    assert!(human.starts_with("platform settings of account local, workspace dev:"), "{human}");
    let line = human.lines().find(|l| l.trim_start().starts_with("user.email")).unwrap();
    assert!(line.contains("dev@local") && line.contains("(default)"), "{line}");
    let defaults = show(&env, &[]);
    assert_eq!((defaults["trade_policy"].as_str(), defaults["locale"].as_str()), (Some("1"), Some("en-US")));
    assert_eq!(defaults["currency"], "USD");
    assert!(!env.home().join("data/local/dev.sqlite").exists(), "showing the defaults creates no database");

    let saved = run_ok(&env, &["platform", "set", "user.email=ana@acme.com", "currency=brl"]);
    assert_eq!(saved.trim(), "saved user.email, currency of account local, workspace dev");
    let now = show(&env, &[]);
    assert_eq!((now["user.email"].as_str(), now["currency"].as_str()), (Some("ana@acme.com"), Some("BRL")));
    let human = run_ok(&env, &["platform", "show"]);
    assert!(human.lines().any(|l| l.contains("currency") && l.contains("BRL") && l.contains("(set)")), "{human}");
    assert_eq!(show(&env, &["-w", "other"])["currency"], "USD", "another workspace has its own");

    let unknown = env.run(&["platform", "set", "user.mail=x@y"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = stderr(&unknown);
    assert!(err.contains("unknown platform setting `user.mail`; the keys are: user.email, shopper.email,"), "{err}");
    let bad = env.run(&["platform", "set", "locale=pt-BR", "trade_policy=0"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("trade_policy: `0` is not a trade policy"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("nothing was saved"));
    assert_eq!(show(&env, &[])["locale"], "en-US", "a bad pair saves none of the others");

    let snap = env.dir.path().join("snap");
    assert!(run_ok(&env, &["data", "export", snap.to_str().unwrap()]).contains("2 platform settings"));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(snap.join("platform.json")).unwrap()).unwrap();
    assert_eq!(written, json!({"currency": "BRL", "user.email": "ana@acme.com"}));
    run_ok(&env, &["data", "reset", "--yes"]);
    assert_eq!(show(&env, &[]), defaults, "reset: back to the defaults");
    assert!(run_ok(&env, &["data", "import", snap.to_str().unwrap()]).contains("2 platform settings"));
    assert_eq!(show(&env, &[]), now);
}

#[test]
fn a_request_is_its_callers_user_and_never_carries_the_control_token() {
    let env = Env::new();
    let app = app(&env);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    let url = ready["url"].as_str().unwrap().to_string();
    let token = token(&env);
    let bearer = format!("Bearer {token}");

    // Nobody: a public route, and nothing of a user's.
    let (status, seen, text) =
        echo(&url, "/_v/door/echo", &[("x-ioctl-as", "admin"), ("x-ioctl-session-data", "e30=")]);
    assert_eq!(status, 200, "{text}");
    for absent in ["vtexidclientautcookie", "authorization", "cookie", "x-ioctl-as", "x-ioctl-session-data"] {
        assert!(seen["headers"].get(absent).is_none(), "{absent}: {text}");
    }
    assert_eq!((&seen["sessionData"], &seen["session"]), (&Value::Null, &Value::Null));
    assert!(!text.contains(&token), "the control token is in none of the app's process: {text}");
    // The app's process gets no session URL or token at all: its calls cross the boundary.
    let env_of_app = &seen["env"];
    assert!(env_of_app.get("IOCTL_SESSION_TOKEN").is_none() && env_of_app.get("IOCTL_SESSION_URL").is_none());
    assert_eq!(echo(&url, "/_v/door/secret", &[]).0, 401);

    // The session's token: the local admin, with its own VTEX ID token and session.
    let (status, seen, text) = echo(&url, "/_v/door/secret", &[("authorization", &bearer)]);
    assert_eq!(status, 200, "{text}");
    let admin = seen["headers"]["vtexidclientautcookie"].as_str().unwrap().to_string();
    assert!(!admin.is_empty() && admin != token, "the local admin's own token, not the control token");
    assert!(cookie(&seen).contains(&format!("VtexIdclientAutCookie={admin}")), "{text}");
    assert!(!text.contains(&token) && seen["headers"].get("authorization").is_none(), "{text}");
    let ns = namespaces(&seen);
    assert_eq!(ns["authentication"]["adminUserEmail"]["value"], "dev@local", "{text}");
    assert_eq!(ns["store"]["currencyCode"]["value"], "USD");

    // `x-ioctl-as` with the token picks another user; without it, it names nobody.
    let (_, seen, text) = echo(&url, "/_v/door/secret", &[("authorization", &bearer), ("x-ioctl-as", "shopper")]);
    let shopper_cookie = cookie(&seen);
    assert!(shopper_cookie.starts_with("VtexIdclientAutCookie_local="), "{text}");
    let headers = seen["headers"].to_string();
    assert!(!headers.contains(&admin) && !text.contains(&token), "no admin credential: {text}");
    assert_eq!(namespaces(&seen)["profile"]["email"]["value"], "shopper@local");
    let (_, seen, text) = echo(&url, "/_v/door/secret", &[("authorization", &bearer), ("x-ioctl-as", "anonymous")]);
    assert!(seen["headers"].get("cookie").is_none() && seen["session"].is_null(), "{text}");
    assert!(seen["sessionData"].is_null(), "{text}");
    let (status, _, text) = echo(&url, "/_v/door/secret", &[("authorization", &bearer), ("x-ioctl-as", "root")]);
    assert_eq!((status, text.trim()), (400, "x-ioctl-as must be admin, shopper or anonymous, not `root`"));

    // A local user's own token passes as that user (the admin's reaches private routes).
    let (status, seen, _) = echo(&url, "/_v/door/secret", &[("vtexidclientautcookie", &admin)]);
    assert_eq!((status, &namespaces(&seen)["authentication"]["adminUserEmail"]["value"]), (200, &json!("dev@local")));
    let (status, seen, _) = echo(&url, "/_v/door/echo", &[("cookie", &shopper_cookie)]);
    assert_eq!((status, &namespaces(&seen)["profile"]["email"]["value"]), (200, &json!("shopper@local")));
    assert_eq!(echo(&url, "/_v/door/secret", &[("cookie", &shopper_cookie)]).0, 401, "a shopper is no admin");

    // A running session takes new platform settings at once.
    let said = run_ok(&env, &["platform", "set", "user.email=ana@acme.com"]);
    assert!(said.contains("the running link session uses them now"), "{said}");
    let (_, seen, _) = echo(&url, "/_v/door/secret", &[("authorization", &bearer)]);
    assert_eq!(namespaces(&seen)["authentication"]["adminUserEmail"]["value"], "ana@acme.com");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn outbound_calls_are_answered_by_a_linked_app_the_local_services_or_nothing_and_tailed() {
    let env = Env::new();
    let app = app(&env);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    let url = ready["url"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {}", token(&env));
    let mut tail = env.spawn(&["calls", "tail", "--json"]);
    tail.wait_json("the tail's hello", |v| v["type"] == "hello");

    let (status, _, body) = http(&url, "GET", "/_v/door/save", &[], "");
    assert_eq!(status, 200, "{body}");
    let (_, seen, _) = echo(&url, "/_v/door/secret", &[("authorization", &bearer)]);
    let admin = seen["headers"]["vtexidclientautcookie"].as_str().unwrap().to_string();

    let calls = json!([
        {"via": "axios", "method": "GET", "url": "https://api.vtex.com/local/dataentities/CL/search?_fields=id,email&_where=name%3DAnn",
         "headers": {"rest-range": "resources=0-10", "authorization": "Bearer app-s3cret"}},
        {"via": "axios", "method": "POST", "url": "http://vtexid.vtex.com.br/api/vtexid/credential/validate", "body": {"token": admin}},
        {"via": "ctx.clients.tenant.info", "method": "GET", "url": "http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=local&an=local"},
        {"via": "ctx.clients.segment.getSegment", "method": "GET", "url": "http://portal.vtexcommercestable.com.br/api/segments?session_path=&workspace=dev&an=local"},
        {"via": "Door.echo", "method": "GET", "url": "http://app.io.vtex.com/acme.door/v1/local/dev/_v/door/echo",
         "app": "acme.door@1.x", "headers": {"vtexidclientautcookie": admin}},
        {"via": "SearchGraphQL.products", "method": "POST", "url": "http://app.io.vtex.com/vtex.search-graphql/v0/local/dev/_v/graphql",
         "app": "vtex.search-graphql@0.x", "body": {"query": "query Products { products { id } }"}},
        {"via": "axios", "method": "GET", "url": "https://api.vtex.com/other/dataentities/CL/search?_fields=id"}
    ]);
    let (status, _, body) =
        http(&url, "POST", "/_v/door/outbound", &[("content-type", "application/json")], &calls.to_string());
    assert_eq!(status, 200, "{body}");
    let answers: Vec<Value> = serde_json::from_str(&body).unwrap();
    let parsed = |i: usize| serde_json::from_str::<Value>(answers[i]["body"].as_str().unwrap_or("null")).unwrap();

    // Master Data by URL finds what ctx.clients.masterdata saved.
    assert_eq!((answers[0]["source"].as_str(), answers[0]["status"].as_u64()), (Some("local"), Some(200)));
    assert_eq!(parsed(0), json!([{"id": "ann", "email": "ann@x.com"}]));
    assert_eq!(answers[0]["headers"]["rest-content-range"], "resources 0-1/1");
    // VTEX ID knows the local admin; tenant and segment are the workspace's.
    assert_eq!((parsed(1)["authStatus"].as_str(), parsed(1)["user"].as_str()), (Some("Success"), Some("dev@local")));
    assert_eq!(
        (parsed(2)["id"].as_str(), parsed(2)["bindings"][0]["defaultCurrency"].as_str()),
        (Some("local"), Some("USD"))
    );
    assert_eq!((parsed(3)["channel"].as_str(), parsed(3)["cultureInfo"].as_str()), (Some("1"), Some("en-US")));
    // A linked app (itself) answers on its private domain, as the user whose token it forwards.
    assert_eq!(
        (answers[4]["source"].as_str(), answers[4]["status"].as_u64()),
        (Some("linked"), Some(200)),
        "{}",
        answers[4]
    );
    assert_eq!(namespaces(&parsed(4))["authentication"]["adminUserEmail"]["value"], "dev@local");
    // Nothing answers an unlinked VTEX app, nor another account's data: the message says how.
    for i in [5, 6] {
        assert_eq!((answers[i]["source"].as_str(), answers[i]["status"].as_u64()), (Some("missing"), Some(501)), "{i}");
    }
    let message = answers[5]["message"].as_str().unwrap();
    assert!(message.starts_with("SearchGraphQL.products (POST http://app.io.vtex.com/vtex.search-graphql/v0/local/dev/_v/graphql) goes to VTEX's cloud"), "{message}");
    assert!(message.contains("create fixtures/app.io.vtex.com/vtex.search-graphql/Products.json"), "{message}");
    assert!(message.contains("ioctl link --cloud ACCOUNT"), "{message}");

    // Each call is a line of the link log...
    let line = link.wait_json("the missing call's line", |v| v["type"] == "call" && v["answered"] == "missing");
    assert_eq!((line["app"].as_str(), line["via"].as_str()), (Some("acme.door@1.2.0"), Some("SearchGraphQL.products")));
    assert_eq!(line["status"], 501);
    // ... and a record of calls tail, with its bodies and without its credentials.
    let validate = tail.wait_json("the validate call", |v| {
        v["type"] == "call" && v["url"].as_str().is_some_and(|u| u.ends_with("/credential/validate"))
    });
    assert_eq!((validate["answered"].as_str(), validate["status"].as_u64()), (Some("local"), Some(200)));
    assert!(validate["response"]["body"].as_str().unwrap().contains("\"authStatus\":\"Success\""), "{validate}");
    let search = tail.seen.iter().find_map(|l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .filter(|v| v["url"].as_str().is_some_and(|u| u.contains("/local/dataentities/CL/search")))
    });
    let search = search.unwrap_or_else(|| panic!("the search call in calls tail: {:?}", tail.seen));
    assert_eq!(search["request"]["headers"]["authorization"], "<redacted>");
    assert_eq!(search["request"]["headers"]["rest-range"], "resources=0-10");
    assert!(!tail.seen.join("\n").contains("app-s3cret"));
    let missing = tail.wait_json("the missing call", |v| v["type"] == "call" && v["answered"] == "missing");
    assert!(missing["message"].as_str().unwrap().contains("goes to VTEX's cloud"), "{missing}");

    assert_eq!(link.interrupt(), 0);
    tail.wait_json("the tail's end", |v| v["type"] == "session_end");
    assert_eq!(tail.wait_exit(), 0);
}
