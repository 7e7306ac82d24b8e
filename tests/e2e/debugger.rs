//! `ioctl link --inspect`: an inspector client speaking CDP over WebSocket to the session's
//! proxy, as VS Code's "attach" does: breakpoints at .ts lines, pauses that no timeout or
//! watchdog cuts short, the same connection following a relink, `debugger;`, --inspect-brk,
//! and the proxy's refusals (Host, Origin, a busy port).

use std::collections::VecDeque;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;

use crate::harness::{eventually, http, Env, Running, WAIT};

/// A free loopback port (bound, then released) for the proxy.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A CDP client: requests answered in order, events queued until asked for.
struct Cdp {
    ws: tungstenite::WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: VecDeque<Value>,
}

impl Cdp {
    /// Finds the target in `/json/list` and connects to its WebSocket, as a client does.
    fn attach(port: u16) -> Cdp {
        let url = format!("http://127.0.0.1:{port}");
        let list = eventually("the debugger's /json/list", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            let (status, _, body) = http(&url, "GET", "/json/list", &[], "");
            (status == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
        });
        let ws_url = list[0]["webSocketDebuggerUrl"].as_str().unwrap().to_string();
        let (ws, _) = tungstenite::connect(ws_url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        }
        Cdp { ws, next_id: 1, events: VecDeque::new() }
    }

    fn read(&mut self, until: Instant) -> Option<Value> {
        while Instant::now() < until {
            match self.ws.read() {
                Ok(tungstenite::Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("the debugger's WebSocket failed: {e}"),
            }
        }
        None
    }

    /// Sends a request and waits for its answer's `result` (panics on an error answer).
    #[track_caller]
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws.send(tungstenite::Message::Text(text.into())).unwrap();
        let until = Instant::now() + WAIT;
        loop {
            let m = self.read(until).unwrap_or_else(|| panic!("no answer to {method}"));
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.events.push_back(m);
        }
    }

    /// The next event `method` matching `pred` (earlier ones of other kinds stay queued).
    #[track_caller]
    fn event(&mut self, method: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method && pred(&e["params"])) {
            let e = self.events.remove(at).unwrap();
            self.events.drain(..at);
            return e["params"].clone();
        }
        self.events.clear();
        let until = Instant::now() + WAIT;
        loop {
            let Some(m) = self.read(until) else {
                panic!("no {method} event (waited at {})", std::panic::Location::caller())
            };
            if m["method"] == method && pred(&m["params"]) {
                return m["params"].clone();
            }
        }
    }

    /// The generated (0-based) line of `marker` in the script `scriptParsed` named `file`:
    /// where a client that read the source map sets the breakpoint.
    #[track_caller]
    fn line_of(&mut self, file: &str, marker: &str) -> (String, Value, u64) {
        let script = self.event("Debugger.scriptParsed", |p| p["url"].as_str().unwrap_or_default().ends_with(file));
        let source = self.call("Debugger.getScriptSource", json!({ "scriptId": script["scriptId"] }));
        let line = source["scriptSource"].as_str().unwrap().lines().position(|l| l.contains(marker)).unwrap();
        (script["url"].as_str().unwrap().to_string(), script["scriptId"].clone(), line as u64)
    }
}

/// A Service with one handler for `ping` and a 500 ms attempt timeout, no retries.
fn app(env: &Env, handler: &str) -> std::path::PathBuf {
    env.app(
        "app",
        &[
            ("node/service.json", r#"{"events": {"onPing": {"sender": "ioctl.manual", "keys": ["ping"]}}}"#),
            (
                "node/index.ts",
                "import { Service } from '@vtex/api'\nimport { onPing } from './events/x'\n\nexport default new Service({\n  clients: { options: { events: { timeout: 500, retries: 0 } } },\n  events: { onPing },\n})\n",
            ),
            ("node/events/x.ts", handler),
        ],
    )
}

const V1: &str = "interface Body {\n  n: number\n}\n\nexport async function onPing(ctx: any) {\n  const body: Body = ctx.body\n  const n = body.n * 2 // MARK\n  console.log(`handled ${n}`)\n}\n";
const V2: &str = "interface Body {\n  n: number\n}\n\nexport async function onPing(ctx: any) {\n  const body: Body = ctx.body\n  const n = body.n * 3 // MARK\n  console.log(`handled v2 ${n}`)\n}\n";

/// Waits for `resumed` and the handler's `log` line, in whichever order they come (the
/// app's output and the proxy's line travel separately).
fn resumed_and_logged(link: &mut Running, log: &str) {
    let (mut resumed, mut logged) = (false, false);
    while !(resumed && logged) {
        let v = link.wait_json("resumed and the handler's line", |v| {
            v["type"] == "resumed" || (v["type"] == "log" && v["message"] == log)
        });
        resumed |= v["type"] == "resumed";
        logged |= v["type"] == "log";
    }
}

fn paused_record(link: &mut Running) -> Value {
    link.wait_json("the paused line", |v| v["type"] == "paused")
}

#[test]
fn a_ts_breakpoint_pauses_without_timing_out_and_follows_a_relink_on_the_same_connection() {
    let env = Env::new();
    let root = app(&env, V1);
    let port = free_port();
    let inspect = format!("--inspect=127.0.0.1:{port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    link.wait_json("ready", |v| v["type"] == "ready");

    let mut cdp = Cdp::attach(port);
    cdp.call("Runtime.enable", json!({}));
    cdp.call("Debugger.enable", json!({}));
    let (url, script, line) = cdp.line_of("node/events/x.ts", "body.n * 2");
    cdp.call("Debugger.setBreakpointByUrl", json!({ "url": url, "lineNumber": line }));

    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"n": 21}"#]).status.code(), Some(0));
    let paused = cdp.event("Debugger.paused", |_| true);
    let top = &paused["callFrames"][0];
    assert_eq!((&top["location"]["scriptId"], &top["location"]["lineNumber"]), (&script, &json!(line)), "{top}");
    let body = cdp.call(
        "Debugger.evaluateOnCallFrame",
        json!({ "callFrameId": top["callFrameId"], "expression": "JSON.stringify(body)" }),
    );
    assert_eq!(body["result"]["value"], r#"{"n":21}"#);
    // The link terminal names the .ts line (7), not the generated one.
    let said = paused_record(&mut link);
    assert_eq!((said["file"].as_str(), said["line"].as_u64()), (Some("node/events/x.ts"), Some(7)));

    // Paused well past the 500 ms attempt timeout and the 1 s ping limit: nothing fails, nothing is killed.
    let node = env.node_processes("dev");
    let meanwhile = link.collect_for(Duration::from_millis(2500));
    assert!(!meanwhile.iter().any(|l| l.contains("failed") || l.contains("crashed")), "{meanwhile:?}");
    let counts = env.status()["counts"].clone();
    assert_eq!((counts["in_flight"].as_u64(), counts["failed"].as_u64()), (Some(1), Some(0)), "{counts}");

    cdp.call("Debugger.resume", json!({}));
    resumed_and_logged(&mut link, "handled 42");
    let counts = env.settled(1);
    assert_eq!((counts["delivered"].as_u64(), counts["failed"].as_u64()), (Some(1), Some(0)), "{counts}");
    assert!(node.iter().all(|p| crate::harness::alive(*p)), "no process was killed while paused");

    // A save: the same connection sees the old contexts go, the new scripts come, and the
    // breakpoint it set once binds in the new code (the proxy replayed it).
    std::fs::write(root.join("node/events/x.ts"), V2).unwrap();
    link.wait_json("relinked", |v| v["type"] == "relinked");
    cdp.event("Runtime.executionContextsCleared", |_| true);
    let (_, new_script, new_line) = cdp.line_of("node/events/x.ts", "body.n * 3");
    assert_eq!(new_line, line, "the test keeps the marked line where it was");
    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"n": 5}"#]).status.code(), Some(0));
    let paused = cdp.event("Debugger.paused", |_| true);
    let top = &paused["callFrames"][0];
    assert_eq!(top["location"]["scriptId"], new_script, "paused in the new version's script");
    let n =
        cdp.call("Debugger.evaluateOnCallFrame", json!({ "callFrameId": top["callFrameId"], "expression": "body.n" }));
    assert_eq!(n["result"]["value"], 5);
    paused_record(&mut link);
    cdp.call("Debugger.resume", json!({}));
    resumed_and_logged(&mut link, "handled v2 15");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn after_a_crash_restart_the_same_connection_gets_its_breakpoint_back() {
    let env = Env::new();
    let handler = "export async function onPing(ctx: any) {\n  if (ctx.body.crash) process.exit(3)\n  const n = ctx.body.n * 2 // MARK\n  console.log(`handled ${n}`)\n}\n";
    let root = app(&env, handler);
    let port = free_port();
    let inspect = format!("--inspect={port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut cdp = Cdp::attach(port);
    cdp.call("Runtime.enable", json!({}));
    cdp.call("Debugger.enable", json!({}));
    let (url, _, line) = cdp.line_of("node/events/x.ts", "* 2");
    // By pattern, as VS Code sets them.
    let pattern = format!("{}$", url.rsplit('/').next().unwrap().replace('.', "\\."));
    cdp.call("Debugger.setBreakpointByUrl", json!({ "urlRegex": pattern, "lineNumber": line }));

    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"crash": true}"#]).status.code(), Some(0));
    link.wait_json("restarted", |v| v["message"] == "restarted the app's Node.js process");
    cdp.event("Runtime.executionContextsCleared", |_| true);
    let (_, script, _) = cdp.line_of("node/events/x.ts", "* 2");
    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"n": 4}"#]).status.code(), Some(0));
    let paused = cdp.event("Debugger.paused", |_| true);
    assert_eq!(paused["callFrames"][0]["location"]["scriptId"], script, "paused in the restarted process");
    cdp.call("Debugger.resume", json!({}));
    resumed_and_logged(&mut link, "handled 8");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_debugger_statement_pauses_and_the_link_says_where() {
    let env = Env::new();
    let handler = "export async function onPing(ctx: any) {\n  const seen = ctx.body.n\n  debugger\n  console.log(`went on with ${seen}`)\n}\n";
    let root = app(&env, handler);
    let port = free_port();
    let inspect = format!("--inspect={port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut cdp = Cdp::attach(port);
    cdp.call("Debugger.enable", json!({}));
    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"n": 7}"#]).status.code(), Some(0));
    let paused = cdp.event("Debugger.paused", |_| true);
    let seen = cdp.call(
        "Debugger.evaluateOnCallFrame",
        json!({ "callFrameId": paused["callFrames"][0]["callFrameId"], "expression": "seen" }),
    );
    assert_eq!(seen["result"]["value"], 7);
    let said = paused_record(&mut link);
    assert_eq!((said["file"].as_str(), said["line"].as_u64()), (Some("node/events/x.ts"), Some(3)));
    cdp.call("Debugger.resume", json!({}));
    resumed_and_logged(&mut link, "went on with 7");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn inspect_brk_pauses_at_the_apps_first_line_on_each_load() {
    let env = Env::new();
    let root = app(&env, V1);
    let port = free_port();
    let inspect = format!("--inspect-brk=127.0.0.1:{port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    // No debugger yet: the load waits for one, as Node's --inspect-brk does.
    link.wait_json("waiting", |v| v["message"].as_str().is_some_and(|m| m.starts_with("waiting for a debugger on")));
    let early = link.collect_for(Duration::from_millis(500));
    assert!(!early.iter().any(|l| l.contains(r#""type":"ready""#)), "{early:?}");

    let mut cdp = Cdp::attach(port);
    cdp.call("Runtime.enable", json!({}));
    cdp.call("Debugger.enable", json!({}));
    cdp.call("Runtime.runIfWaitingForDebugger", json!({}));
    let (_, script, _) = cdp.line_of("node/index.ts", "Service");
    let paused = cdp.event("Debugger.paused", |_| true);
    assert_eq!(paused["callFrames"][0]["location"]["scriptId"], script, "paused in the app's entry, not ioctl's host");
    assert_eq!(paused["hitBreakpoints"], json!([]), "the proxy's breakpoint is its own");
    // Before the entry's first statement: none of the app's modules has loaded yet.
    let loaded = cdp.call(
        "Debugger.evaluateOnCallFrame",
        json!({
            "callFrameId": paused["callFrames"][0]["callFrameId"],
            "expression": "Object.keys(require.cache).some((f) => f.endsWith('events/x.ts'))",
        }),
    );
    assert_eq!(loaded["result"]["value"], false);
    let said = paused_record(&mut link);
    assert_eq!(said["file"], "node/index.ts");
    assert!(said["line"].as_u64().unwrap() <= 2, "at the top of the entry: {said}");
    cdp.call("Debugger.resume", json!({}));
    link.wait_json("ready", |v| v["type"] == "ready");

    // A save: the new load pauses at its first line too, on the same connection.
    std::fs::write(root.join("node/events/x.ts"), V2).unwrap();
    cdp.event("Runtime.executionContextsCleared", |_| true);
    let (_, script, _) = cdp.line_of("node/index.ts", "Service");
    let paused = cdp.event("Debugger.paused", |_| true);
    assert_eq!(paused["callFrames"][0]["location"]["scriptId"], script);
    assert_eq!(paused_record(&mut link)["file"], "node/index.ts");
    cdp.call("Debugger.resume", json!({}));
    link.wait_json("relinked", |v| v["type"] == "relinked");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn the_proxy_refuses_other_hosts_other_origins_and_a_busy_port() {
    let env = Env::new();
    let root = app(&env, V1);
    let port = free_port();
    let inspect = format!("--inspect=localhost:{port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let url = format!("http://127.0.0.1:{port}");
    let (status, _, version) = http(&url, "GET", "/json/version", &[], "");
    assert_eq!(status, 200);
    assert!(version.contains("Protocol-Version"), "{version}");
    let (_, _, list) = http(&url, "GET", "/json/list", &[], "");
    let list: Value = serde_json::from_str(&list).unwrap();
    let target = &list[0];
    assert_eq!(target["type"], "node");
    assert!(target["title"].as_str().unwrap().contains("vtex.service-course@0.0.1"), "{target}");
    let id = target["id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "128 random bits");
    assert_eq!(target["webSocketDebuggerUrl"], format!("ws://127.0.0.1:{port}/{id}"));

    // DNS rebinding: a page whose name resolves to 127.0.0.1.
    let raw = |request: String| {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        // An upgrade's head (its connection stays open either way); all of anything else.
        let upgrading = request.contains("Upgrade: websocket");
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
            if upgrading && out.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let rebound = raw(format!("GET /json/list HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"));
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    assert!(!rebound.contains(id), "the target's id does not leak");
    // A web page's WebSocket, and a guessed id.
    let upgrade = |path: &str, origin: &str| {
        raw(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
    };
    assert!(upgrade(&format!("/{id}"), "http://evil.example").starts_with("HTTP/1.1 403"));
    assert!(upgrade("/0123456789abcdef0123456789abcdef", "devtools://devtools").starts_with("HTTP/1.1 404"));
    assert!(upgrade(&format!("/{id}"), "devtools://devtools").starts_with("HTTP/1.1 101"));

    // A second app on the same port: a clear error naming the port and what to do.
    let other = env.app(
        "other",
        &[("manifest.json", r#"{"vendor": "vtex", "name": "other", "version": "0.0.1", "builders": {"node": "6.x"}}"#)],
    );
    let second = env.run(&["link", other.to_str().unwrap(), "--no-sample-sender", "--no-watch", &inspect]);
    let said = format!("{}{}", crate::harness::stdout(&second), crate::harness::stderr(&second));
    assert_ne!(second.status.code(), Some(0), "{said}");
    assert!(said.contains("the port is in use") && said.contains(&format!("--inspect={}", port + 1)), "{said}");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn init_writes_vs_codes_attach_configuration() {
    let env = Env::new();
    let dir = env.dir.path().join("my-app");
    assert_eq!(env.run(&["init", "service-course", dir.to_str().unwrap()]).status.code(), Some(0));
    let launch: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".vscode/launch.json")).unwrap()).unwrap();
    let attach = &launch["configurations"][0];
    assert_eq!((attach["type"].as_str(), attach["request"].as_str()), (Some("node"), Some("attach")));
    assert_eq!((attach["address"].as_str(), attach["port"].as_u64()), (Some("127.0.0.1"), Some(9229)));
    assert_eq!((attach["restart"].as_bool(), attach["sourceMaps"].as_bool()), (Some(true), Some(true)));
    assert_eq!(attach["skipFiles"], json!(["<node_internals>/**"]));
}

#[test]
fn a_route_paused_in_the_debugger_is_not_cut_off_by_the_service_timeout() {
    let env = Env::new();
    let service = r#"{ "timeout": 1, "routes": { "slow": { "path": "/_v/slow", "public": true } } }"#;
    let index = "import { Service } from '@vtex/api'\nexport default new Service({ routes: { slow: async (ctx: any) => {\n  debugger\n  ctx.body = 'answered'\n} } })\n";
    let root = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let port = free_port();
    let inspect = format!("--inspect={port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", "--no-watch", &inspect]);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    let mut cdp = Cdp::attach(port);
    cdp.call("Debugger.enable", json!({}));
    let request = std::thread::spawn(move || http(&url, "GET", "/_v/slow", &[], ""));
    cdp.event("Debugger.paused", |_| true);
    assert_eq!(paused_record(&mut link)["file"], "node/index.ts");
    // Paused well past the service's 1 s timeout.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!request.is_finished(), "the request waits while the route is paused");
    cdp.call("Debugger.resume", json!({}));
    let (code, _, body) = request.join().unwrap();
    assert_eq!((code, body.as_str()), (200, "answered"));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn with_inspect_brk_a_load_that_fails_hands_the_debugger_back_to_the_serving_version() {
    let env = Env::new();
    let root = app(&env, V1);
    let port = free_port();
    let inspect = format!("--inspect-brk={port}");
    let mut link = env.spawn(&["link", root.to_str().unwrap(), "--json", "--no-sample-sender", &inspect]);
    let mut cdp = Cdp::attach(port);
    cdp.call("Runtime.enable", json!({}));
    cdp.call("Debugger.enable", json!({}));
    cdp.call("Runtime.runIfWaitingForDebugger", json!({}));
    cdp.event("Debugger.paused", |_| true);
    cdp.call("Debugger.resume", json!({}));
    link.wait_json("ready", |v| v["type"] == "ready");

    // A save whose load throws after the pause at its first line: the relink fails, v1 serves on.
    let index = std::fs::read_to_string(root.join("node/index.ts")).unwrap();
    std::fs::write(root.join("node/index.ts"), format!("{index}\nthrow new Error('broken load')\n")).unwrap();
    cdp.event("Debugger.paused", |_| true);
    cdp.call("Debugger.resume", json!({}));
    link.wait_json("the failed load", |v| v["type"] == "error" && v.to_string().contains("broken load"));
    // The proxy is back on v1: its scripts come again, and a breakpoint there pauses.
    cdp.event("Runtime.executionContextsCleared", |_| true);
    let (url, script, line) = cdp.line_of("node/events/x.ts", "body.n * 2");
    cdp.call("Debugger.setBreakpointByUrl", json!({ "url": url, "lineNumber": line }));
    assert_eq!(env.run(&["events", "send", "ping", "--data", r#"{"n": 1}"#]).status.code(), Some(0));
    let paused = cdp.event("Debugger.paused", |_| true);
    assert_eq!(paused["callFrames"][0]["location"]["scriptId"], script);
    cdp.call("Debugger.resume", json!({}));
    resumed_and_logged(&mut link, "handled 2");
    assert_eq!(link.interrupt(), 0);
}
