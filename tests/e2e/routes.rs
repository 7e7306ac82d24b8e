//! End to end: an app's HTTP routes served on the session URL, with a Koa-compatible ctx,
//! VTEX's error statuses, private routes behind the session token, and declaration checks.

use std::io::{Read, Write};

use crate::harness::*;
use serde_json::Value;

const SERVICE: &str = r#"{
  "events": { "liveUsersUpdate": { "sender": "vtex.events-example", "keys": ["send-event"] } },
  "routes": {
    "status": { "path": "/_v/app/service-course/status/:code", "public": true },
    "echo": { "path": "/_v/app/service-course/echo", "public": true },
    "files": { "path": "/_v/app/service-course/files/*path", "public": true },
    "secret": { "path": "/_v/app/service-course/secret" },
    "boom": { "path": "/_v/app/service-course/boom", "public": true },
    "fire": { "path": "/_v/app/service-course/fire", "public": true }
  }
}"#;

const ROUTES: &str = r#"import { UserInputError, NotFoundError } from '@vtex/api'
import { json } from 'co-body'

export async function status(ctx: Context, next: () => Promise<any>) {
  const { code } = ctx.vtex.route.params as { code: string }
  if (code === 'bad') throw new UserInputError('code must be a number')
  if (code === 'missing') throw new NotFoundError('no such code')
  ctx.status = Number(code)
  ctx.set('Cache-Control', 'no-cache')
  ctx.body = { code, route: ctx.vtex.route, query: ctx.query, account: ctx.vtex.account }
  await next()
}

export async function echo(ctx: Context) {
  const body = await json(ctx.req)
  console.log('echo got', JSON.stringify(body))
  ctx.body = { got: body, type: ctx.get('content-type') }
}

export async function files(ctx: Context) {
  ctx.body = `file ${ctx.vtex.route.params.path}`
}

export async function secret(ctx: Context) {
  ctx.body = 'the secret'
}

export async function boom(_ctx: Context) {
  throw new Error('kaboom')
}

export async function fire(ctx: Context) {
  await ctx.clients.events.sendEvent('', 'send-event', { from: 'route' })
  ctx.status = 202
}
"#;

fn index() -> String {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/service-course/node/index.ts"),
    )
    .unwrap();
    template
        .replace("import { updateLiveUsers } from './event/liveUsersUpdate'", "import { updateLiveUsers } from './event/liveUsersUpdate'\nimport { boom, echo, files, fire, secret, status } from './routes'\nimport { method } from '@vtex/api'")
        .replace("    liveUsersUpdate: updateLiveUsers,\n  },", "    liveUsersUpdate: updateLiveUsers,\n  },\n  routes: { status: method({ GET: [status] }), echo: method({ POST: echo }), files, secret, boom, fire },")
}

/// A tiny co-body stand-in in node_modules, so the test needs no npm install.
const CO_BODY: &str = r#"exports.json = (req) => new Promise((resolve, reject) => {
  let data = ''
  req.setEncoding('utf8')
  req.on('data', (c) => { data += c })
  req.on('end', () => { try { resolve(JSON.parse(data)) } catch (e) { reject(e) } })
  req.on('error', reject)
})
"#;

#[test]
fn routes_are_served_with_koa_semantics_and_vtex_errors() {
    let env = Env::new();
    let index = index();
    let app = env.app(
        "app",
        &[
            ("node/service.json", SERVICE),
            ("node/routes.ts", ROUTES),
            ("node/index.ts", &index),
            ("node/node_modules/co-body/index.js", CO_BODY),
        ],
    );
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    let url = ready["url"].as_str().unwrap().to_string();
    let route_line =
        link.seen.iter().find(|l| l.contains("route status:")).cloned().expect("link prints each route's URL");
    assert!(route_line.contains(&format!("{url}/_v/app/service-course/status/:code (public)")), "{route_line}");

    let (code, head, body) = http(&url, "GET", "/_v/app/service-course/status/201?x=1&x=2&y=z", &[], "");
    assert_eq!(code, 201);
    assert!(head.contains("cache-control: no-cache"));
    assert!(head.contains("content-type: application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["route"], serde_json::json!({"id": "status", "params": {"code": "201"}, "type": "public"}));
    assert_eq!(v["query"], serde_json::json!({"x": ["1", "2"], "y": "z"}));
    assert_eq!(v["account"], "local");

    // The VTEX-style /{account}/{workspace} prefix reaches the same route.
    assert_eq!(http(&url, "GET", "/local/dev/_v/app/service-course/status/200", &[], "").0, 200);
    // Errors map to VTEX's statuses.
    let (code, _, body) = http(&url, "GET", "/_v/app/service-course/status/bad", &[], "");
    assert_eq!((code, body.contains("code must be a number")), (400, true));
    assert_eq!(http(&url, "GET", "/_v/app/service-course/status/missing", &[], "").0, 404);
    let (code, _, body) = http(&url, "GET", "/_v/app/service-course/boom", &[], "");
    assert_eq!(code, 500);
    assert!(body.contains("kaboom"), "{body}");
    let err = link.wait_json("error log", |v| v["level"] == "error" && v["handler"] == "boom");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.starts_with("route boom failed: Error: kaboom"), "{msg}");
    assert!(msg.contains("(node/routes.ts:29:9)"), "stack at the .ts line, tidied: {msg}");
    assert!(!msg.contains("host.js"), "{msg}");
    // method(): other verbs get 405.
    let (code, head, _) = http(&url, "DELETE", "/_v/app/service-course/status/200", &[], "");
    assert_eq!(code, 405);
    assert!(head.contains("allow: get"), "{head}");
    // co-body reads the request.
    let (code, _, body) =
        http(&url, "POST", "/_v/app/service-course/echo", &[("content-type", "application/json")], r#"{"a":[1,2]}"#);
    assert_eq!(code, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["got"], serde_json::json!({"a": [1, 2]}));
    link.wait_json("log attributed to the route", |v| {
        v["handler"] == "echo" && v["message"] == r#"echo got {"a":[1,2]}"#
    });
    // A `*name` tail.
    assert_eq!(http(&url, "GET", "/_v/app/service-course/files/a/b%20c.txt", &[], "").2, "file a/b c.txt");
    // Private route: 401 without the token, 200 with it.
    let (code, _, body) = http(&url, "GET", "/_v/app/service-course/secret", &[], "");
    assert_eq!(code, 401);
    assert!(body.contains("private"), "{body}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    let token = record["token"].as_str().unwrap();
    let (code, _, body) =
        http(&url, "GET", "/_v/app/service-course/secret", &[("authorization", &format!("Bearer {token}"))], "");
    assert_eq!((code, body.as_str()), (200, "the secret"));
    assert_eq!(http(&url, "GET", "/_v/app/service-course/nothing-here", &[], "").0, 404);
    // A route can fire events: the app's own handler receives it (sender = the app's id).
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    assert_eq!(http(&url, "GET", "/_v/app/service-course/fire", &[], "").0, 202);
    let ev = tail.wait_json("the route's event", |v| v["type"] == "event");
    assert_eq!((ev["sender"].as_str(), ev["key"].as_str()), (Some("vtex.service-course"), Some("send-event")));
    assert_eq!(ev["body"], serde_json::json!({"from": "route"}));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_route_missing_from_service_json_stops_the_link() {
    let env = Env::new();
    let index = index();
    let service = r#"{ "events": { "liveUsersUpdate": { "sender": "vtex.events-example", "keys": ["send-event"] } },
  "routes": { "status": { "path": "/_v/status/:code", "public": true }, "ghost": { "path": "/_v/ghost", "public": true } } }"#;
    let app = env.app(
        "app",
        &[
            ("node/service.json", service),
            ("node/routes.ts", ROUTES),
            ("node/index.ts", &index),
            ("node/node_modules/co-body/index.js", CO_BODY),
        ],
    );
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("route `echo` is in the Service's `routes` but not declared in node/service.json"), "{text}");
}

#[test]
fn a_declared_route_without_code_is_a_warning() {
    let env = Env::new();
    let service = r#"{ "events": { "liveUsersUpdate": { "sender": "vtex.events-example", "keys": ["send-event"] } },
  "routes": { "ghost": { "path": "/_v/ghost", "public": true } } }"#;
    let app = env.app("app", &[("node/service.json", service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch"]);
    link.wait_json("warning", |v| {
        v["level"] == "warn"
            && v["message"].as_str().is_some_and(|m| {
                m.contains("route `ghost` is declared in node/service.json but the Service has no handler")
            })
    });
    link.wait_json("ready", |v| v["type"] == "ready");
}

#[test]
fn a_legacy_app_without_a_service_gets_a_clear_error() {
    let env = Env::new();
    let app = env.app("app", &[("node/index.ts", "export const handlers = { ping: () => 'pong' }\n")]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/index.ts does not export a Service"), "{text}");
    assert_eq!(text.matches("does not export a Service").count(), 1, "said once, not repeated as help: {text}");
}

#[test]
fn the_vtex_api_surface_apps_touch_works_and_cloud_clients_fail_when_called() {
    let env = Env::new();
    let index = r#"import type { ServiceContext, EventContext } from '@vtex/api'
import type { Product } from 'vtex.catalog-graphql'
import { APP, ExternalClient, ForbiddenError, InstanceOptions, IOClients, IOContext, LINKED, LRUCache, PRODUCTION, Service } from '@vtex/api'

class Status extends ExternalClient {
  constructor(context: IOContext, options?: InstanceOptions) {
    super('http://127.0.0.1:9', context, options)
  }
}

class Clients extends IOClients {
  public get status() {
    return this.getOrSet('status', Status)
  }
}

const cache = new LRUCache<string, number>({ max: 2 })
metrics.trackCache('c', cache)
let product: Product | undefined

export async function probe(ctx: EventContext<Clients>) {
  cache.set('a', 1)
  console.log('app', APP.ID, APP.NAME, 'linked', LINKED, 'production', PRODUCTION, 'env', process.env.VTEX_APP_ID, process.env.VTEX_ACCOUNT, process.env.VTEX_WORKSPACE)
  console.log('status client', typeof ctx.clients.status.constructor, 'forbidden', new ForbiddenError('x').status, 'product', product === undefined)
  try {
    await (ctx.clients as any).oms.order('1')
  } catch (e) {
    console.log('oms:', (e as Error).message)
  }
}

export default new Service<Clients, {}, {}>({
  clients: { implementation: Clients, options: {} },
  events: { probe },
})
"#;
    let service = r#"{"events": {"probe": {"sender": "ioctl.manual", "keys": ["probe"]}}}"#;
    let app = env.app("app", &[("node/index.ts", index), ("node/service.json", service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(env.run(&["events", "send", "probe"]).status.code(), Some(0));
    link.wait_json("constants and env", |v| {
        v["message"] == "app vtex.service-course@0.0.1 service-course linked true production false env vtex.service-course@0.0.1 local dev"
    });
    link.wait_json("clients and errors", |v| v["message"] == "status client function forbidden 403 product true");
    // (masterdata, vbase and apps settings run locally now: tests/e2e/platform.rs.)
    let m = link.wait_json("cloud client", |v| v["message"].as_str().is_some_and(|m| m.starts_with("oms:")));
    let m = m["message"].as_str().unwrap();
    assert!(m.contains("ctx.clients.oms.order()") && m.contains("VTEX's cloud") && m.contains("locally"), "{m}");
}

#[test]
fn a_route_slower_than_the_service_timeout_answers_504() {
    let env = Env::new();
    let service = r#"{ "timeout": 1, "routes": { "slow": { "path": "/_v/slow", "public": true } } }"#;
    let index = "import { Service } from '@vtex/api'\nexport default new Service({ routes: { slow: async (ctx: any) => { await new Promise((r) => setTimeout(r, 3000)); ctx.body = 'late' } } })\n";
    let app = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    // The handler would answer 200 `late` after 3 s; the session cuts it off at 1 s.
    let (code, _, body) = http(&url, "GET", "/_v/slow", &[], "");
    assert_eq!(code, 504);
    assert!(body.contains("route `slow` of vtex.service-course@0.0.1 did not answer within 1 s"), "{body}");
}

/// A one-endpoint HTTP server: answers 503 to the first `fail` requests, then 200 `{"ok":true}`.
fn flaky_server(fail: usize) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (status, body) = if n < fail { ("503 Service Unavailable", "{}") } else { ("200 OK", "{\"ok\":true}") };
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (url, hits)
}

#[test]
fn external_clients_retry_with_the_apps_options() {
    let env = Env::new();
    let (url, hits) = flaky_server(2);
    let index = format!(
        r#"import {{ ExternalClient, InstanceOptions, IOClients, IOContext, Service }} from '@vtex/api'

class Api extends ExternalClient {{
  constructor(context: IOContext, options?: InstanceOptions) {{
    super('{url}', context, options)
  }}
  public check() {{
    return this.http.get('/status')
  }}
}}

class Clients extends IOClients {{
  public get api() {{
    return this.getOrSet('api', Api)
  }}
}}

export default new Service<Clients, {{}}, {{}}>({{
  clients: {{ implementation: Clients, options: {{ default: {{ retries: 2, initialBackoffDelay: 20, timeout: 2000 }} }} }},
  events: {{
    probe: async (ctx: any) => {{
      const answer = await ctx.clients.api.check()
      console.log('api answered', JSON.stringify(answer))
    }},
  }},
}})
"#
    );
    let service = r#"{"events": {"probe": {"sender": "ioctl.manual", "keys": ["probe"]}}}"#;
    let app = env.app("app", &[("node/index.ts", &index), ("node/service.json", service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(env.run(&["events", "send", "probe"]).status.code(), Some(0));
    let warn = link.wait_json("retry warning", |v| v["level"] == "warn" && v["handler"] == "probe");
    let m = warn["message"].as_str().unwrap();
    assert!(m.starts_with(&format!("Api GET {url}/status failed (attempt 1/3: status 503); retrying in ")), "{m}");
    link.wait_json("answer", |v| v["message"] == r#"api answered {"ok":true}"#);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3, "two 503s, then the answer");
}

#[test]
fn attachments_cookies_and_co_body_work_without_node_modules() {
    let env = Env::new();
    let service = r#"{ "routes": { "report": { "path": "/_v/report", "public": true }, "echo": { "path": "/_v/echo", "public": true } } }"#;
    // No node/node_modules: co-body comes from ioctl's runtime packages.
    let index = r#"import { Service } from '@vtex/api'
import { json } from 'co-body'
export default new Service({
  routes: {
    report: async (ctx: any) => {
      ctx.attachment('r.pdf')
      ctx.cookies.set('seen', '1', { secure: true })
      ctx.body = Buffer.from('%PDF-1.4')
    },
    echo: async (ctx: any) => {
      ctx.body = { got: await json(ctx.req) }
    },
  },
})
"#;
    let app = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let (code, head, body) = http(&url, "GET", "/_v/report", &[], "");
    assert_eq!((code, body.as_str()), (200, "%PDF-1.4"), "{head}");
    assert!(head.contains("content-disposition: attachment; filename=\"r.pdf\""), "{head}");
    assert!(head.contains("content-type: application/pdf"), "{head}");
    assert!(head.contains("set-cookie: seen=1; path=/; secure; httponly"), "{head}");
    let (code, _, body) = http(&url, "POST", "/_v/echo", &[("content-type", "application/json")], r#"{"a":1}"#);
    assert_eq!((code, body.as_str()), (200, r#"{"got":{"a":1}}"#));
    assert_eq!(link.interrupt(), 0);
}

/// Inodes of the TCP sockets in LISTEN state on this machine (IPv4 and IPv6).
fn listening_inodes() -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(3) == Some(&"0A") {
                if let Some(inode) = cols.get(9) {
                    out.insert(inode.to_string());
                }
            }
        }
    }
    out
}

/// Inodes of the sockets a process holds open.
fn socket_inodes(pid: u32) -> Vec<String> {
    let mut out = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                out.push(inode.to_string());
            }
        }
    }
    out
}

#[test]
fn nothing_but_the_session_reaches_the_apps_node_process() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new();
    let index = index();
    let app = env.app(
        "app",
        &[
            ("node/service.json", SERVICE),
            ("node/routes.ts", ROUTES),
            ("node/index.ts", &index),
            ("node/node_modules/co-body/index.js", CO_BODY),
        ],
    );
    let mut link = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.env_remove("XDG_RUNTIME_DIR");
    let mut link = Running::from_command(link);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    let url = ready["url"].as_str().unwrap().to_string();
    // The session serves the private route only with the token...
    assert_eq!(http(&url, "GET", "/_v/app/service-course/secret", &[], "").0, 401);
    // ...and the app's Node process has no TCP port another user (or a web page) could call.
    let node = env.node_processes("dev");
    assert!(!node.is_empty(), "the app's Node.js process");
    let listening = listening_inodes();
    for pid in &node {
        let open = socket_inodes(*pid);
        assert!(!open.iter().any(|i| listening.contains(i)), "Node.js process {pid} listens on a TCP port");
    }
    // Its routes are on a unix socket in the user's private folder.
    let run = env.home().join("run");
    let meta = std::fs::metadata(&run).expect("the socket folder");
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    // SAFETY: geteuid has no preconditions.
    assert_eq!(meta.uid(), unsafe { libc::geteuid() });
    let sockets: Vec<_> = std::fs::read_dir(&run).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(sockets.iter().any(|n| n.to_string_lossy().ends_with("-routes.sock")), "{sockets:?}");
    assert_eq!(link.interrupt(), 0);
}
