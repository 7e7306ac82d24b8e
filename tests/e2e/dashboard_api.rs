//! End to end: the dashboard's history and live API (issue 23) called with the session token
//! against a linked app: an event sent with `ioctl events send` listed with its delivery, a
//! failing handler's attempts with their error and backoff, a route request with the trace of
//! its VBase call and its outbound call, the app's log lines, the live stream's `event` record
//! and the overview's app with its process and routes.

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

const MANIFEST: &str = r#"{
  "vendor": "acme", "name": "dash", "version": "1.0.0",
  "builders": { "node": "6.x" },
  "settingsSchema": { "type": "object", "properties": { "greeting": { "type": "string" } } }
}"#;

const SERVICE: &str = r#"{
  "memory": 256, "timeout": 10,
  "events": { "onThing": { "sender": "ioctl.manual", "keys": ["thing"] } },
  "routes": { "work": { "path": "/_v/dash/work", "public": true } }
}"#;

/// A handler that fails when asked to (one retry, 50 ms apart), and a route that saves to VBase
/// and calls a VTEX host nothing answers.
const INDEX: &str = r#"import axios from 'axios'
import { IOClients, Service } from '@vtex/api'

export default new Service({
  clients: { implementation: IOClients, options: { events: { retries: 1, initialBackoffDelay: 50, timeout: 3000 } } },
  events: {
    onThing: async (ctx: any) => {
      if (ctx.body && ctx.body.fail) throw new Error('boom on purpose')
      console.log('handled', ctx.key)
    },
  },
  routes: {
    work: async (ctx: any) => {
      await ctx.clients.vbase.saveJSON('dash', 'last.json', { at: 1 })
      let status = 0
      try {
        status = (await axios.get(`https://${ctx.vtex.account}.vtexcommercestable.com.br/api/catalog_system/pub/category/tree/1`)).status
      } catch (e: any) {
        status = e.response ? e.response.status : -1
      }
      console.log('work done', status)
      ctx.body = { status }
    },
  },
})
"#;

/// The app linked (`ready`), the session's URL and token.
fn linked(env: &Env) -> (Running, String, String) {
    let app = env.app("dash", &[("manifest.json", MANIFEST), ("node/service.json", SERVICE), ("node/index.ts", INDEX)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--no-sample-sender"]);
    link.wait_line("ready", |l| l.contains("ready in"));
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    (link, record["url"].as_str().unwrap().to_string(), record["token"].as_str().unwrap().to_string())
}

/// GET `path` of the dashboard's API with the token: (status, JSON).
fn api(url: &str, token: &str, path: &str) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let (status, _, body) = http(url, "GET", path, &[("authorization", &bearer)], "");
    (status, serde_json::from_str(&body).unwrap_or_else(|_| Value::String(body)))
}

/// `ioctl events send thing --data DATA`: the published event's id.
fn send(env: &Env, data: &str) -> String {
    let out = env.run(&["events", "send", "thing", "--data", data, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let published: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    published["id"].as_str().unwrap().to_string()
}

#[test]
fn a_sent_event_is_listed_with_its_delivery_and_a_failing_ones_attempts_show_error_and_backoff() {
    let env = Env::new();
    let (mut link, url, token) = linked(&env);

    let ok = send(&env, r#"{"n": 1}"#);
    let listed = eventually("the event listed with its delivery ok", || {
        let (status, page) = api(&url, &token, "/_ioctl/api/events");
        assert_eq!(status, 200, "{page}");
        let e = page["events"].as_array()?.iter().find(|e| e["id"] == ok.as_str())?.clone();
        (e["outcome"] == "ok").then_some(e)
    });
    assert_eq!(listed["sender"], "ioctl.manual");
    assert_eq!(listed["key"], "thing");
    assert_eq!(listed["deliveries"][0]["app"], "acme.dash@1.0.0", "{listed}");
    assert_eq!(listed["deliveries"][0]["handler"], "onThing");
    assert_eq!(listed["deliveries"][0]["attempts"], 1);

    // Replayed from the journal (it failed nowhere): the same event to the same handler again.
    let bearer = format!("Bearer {token}");
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let replay = format!(r#"{{"id": "{ok}"}}"#);
    let (status, _, replayed) = http(&url, "POST", "/_ioctl/api/events/replay", &headers, &replay);
    assert_eq!(status, 200, "{replayed}");
    let replayed: Value = serde_json::from_str(&replayed).unwrap();
    assert_eq!(replayed["replayed"][0]["handler"], "onThing", "{replayed}");
    eventually("the replay's attempt joined the event's delivery", || {
        let (_, detail) = api(&url, &token, &format!("/_ioctl/api/events/{ok}"));
        let attempts = detail["deliveries"][0]["attempts"].as_array()?.clone();
        (attempts.len() == 2 && attempts[1]["outcome"] == "ok").then_some(())
    });

    let failing = send(&env, r#"{"fail": true, "marker": "Zebra-42"}"#);
    let detail = eventually("the failing event's two attempts", || {
        let (status, detail) = api(&url, &token, &format!("/_ioctl/api/events/{failing}"));
        (status == 200 && detail["outcome"] == "failed").then_some(detail)
    });
    let attempts = detail["deliveries"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{detail}");
    assert_eq!(attempts[0]["outcome"], "retry");
    assert!(attempts[0]["error"].as_str().unwrap().contains("boom on purpose"), "{detail}");
    assert!(attempts[0]["stack"].as_str().is_some_and(|s| s.contains("node/index.ts")), "{detail}");
    assert!(attempts[0]["retry_in_ms"].as_u64().is_some_and(|ms| (50..=60).contains(&ms)), "{detail}");
    assert!(attempts[0]["trace"].as_u64().is_some(), "{detail}");
    assert_eq!((attempts[1]["attempt"].as_u64(), attempts[1]["outcome"].as_str()), (Some(2), Some("failed")));
    assert!(attempts[1].get("retry_in_ms").is_none(), "no retry after the last: {detail}");
    assert_eq!(detail["event"]["body"]["marker"], "Zebra-42");
    // The failure's terminal line is a log line of the handler too.
    let (_, logs) = api(&url, &token, "/_ioctl/api/logs?level=error&q=boom%20on%20purpose");
    let line = &logs["lines"][0];
    assert_eq!((line["handler"].as_str(), line["app"].as_str()), (Some("onThing"), Some("acme.dash@1.0.0")), "{logs}");
    assert!(
        line["message"].as_str().unwrap().contains(&format!("onThing failed (attempt 2/2, event {failing})")),
        "{logs}"
    );

    // Filters: by outcome, by the body's text, by its exact id; an unknown id is 404.
    let (_, failed) = api(&url, &token, "/_ioctl/api/events?outcome=failed");
    let ids: Vec<&str> = failed["events"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids, [failing.as_str()]);
    let (_, found) = api(&url, &token, "/_ioctl/api/events?q=zebra-42");
    assert_eq!(found["events"].as_array().unwrap().len(), 1, "{found}");
    let (_, by_id) = api(&url, &token, &format!("/_ioctl/api/events?q={ok}"));
    assert_eq!(by_id["events"][0]["id"], ok.as_str(), "{by_id}");
    let (_, page) = api(&url, &token, "/_ioctl/api/events?limit=1");
    assert_eq!((page["events"].as_array().unwrap().len(), page["more"].as_bool()), (1, Some(true)), "{page}");
    assert_eq!(api(&url, &token, "/_ioctl/api/events/nope-1").0, 404);
    assert_eq!(api(&url, &token, "/_ioctl/api/events?limit=5000").0, 400);
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_route_request_is_listed_with_a_trace_of_its_vbase_and_outbound_calls_and_its_logs() {
    let env = Env::new();
    let (mut link, url, token) = linked(&env);

    let (status, head, body) = http(&url, "GET", "/_v/dash/work", &[], "");
    assert_eq!(status, 200, "{body}");
    let trace: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("x-ioctl-trace: "))
        .unwrap_or_else(|| panic!("no x-ioctl-trace in {head}"))
        .trim()
        .parse()
        .unwrap();

    let (_, page) = api(&url, &token, "/_ioctl/api/requests");
    let request = &page["requests"][0];
    assert_eq!(request["trace"], trace, "{page}");
    assert_eq!((request["route"].as_str(), request["kind"].as_str()), (Some("work"), Some("route")), "{page}");
    assert_eq!((request["method"].as_str(), request["status"].as_u64()), (Some("GET"), Some(200)));
    assert_eq!(request["path"], "/_v/dash/work");
    assert_eq!(request["app"], "acme.dash@1.0.0");

    let (status, t) = api(&url, &token, &format!("/_ioctl/api/traces/{trace}"));
    assert_eq!(status, 200, "{t}");
    assert_eq!((t["kind"].as_str(), t["name"].as_str()), (Some("request"), Some("work")), "{t}");
    let spans = t["spans"].as_array().unwrap();
    let vbase = spans.iter().find(|s| s["kind"] == "platform").unwrap_or_else(|| panic!("no platform span: {t}"));
    assert!(vbase["name"].as_str().unwrap().starts_with("vbase.saveFile dash/"), "{t}");
    assert_eq!(vbase["ok"], true);
    let outbound = spans.iter().find(|s| s["kind"] == "outbound").unwrap_or_else(|| panic!("no outbound span: {t}"));
    assert!(outbound["name"].as_str().unwrap().contains("vtexcommercestable.com.br/api/catalog_system"), "{t}");
    assert_eq!((outbound["answered"].as_str(), outbound["ok"].as_bool()), (Some("missing"), Some(false)), "{t}");
    let call = outbound["call"].as_u64().unwrap();
    let (status, record) = api(&url, &token, &format!("/_ioctl/api/calls/{call}"));
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["method"], "GET");
    assert!(record["url"].as_str().unwrap().ends_with("/category/tree/1"), "{record}");
    assert!(record["message"].as_str().is_some(), "a missing call says how to answer it: {record}");

    let lines = eventually("the route's log line", || {
        let (_, logs) = api(&url, &token, "/_ioctl/api/logs?q=work%20done");
        let lines = logs["lines"].as_array()?.clone();
        (!lines.is_empty()).then_some(lines)
    });
    assert_eq!(lines[0]["app"], "acme.dash@1.0.0");
    assert_eq!(lines[0]["handler"], "work");
    assert_eq!(lines[0]["level"], "info");
    let (_, errors) = api(&url, &token, "/_ioctl/api/logs?level=error&q=work%20done");
    assert_eq!(errors["lines"].as_array().unwrap().len(), 0, "{errors}");
    assert_eq!(link.interrupt(), 0);
}

/// The live stream's messages, one JSON value per `data:` line, as they come.
struct Live {
    lines: BufReader<std::net::TcpStream>,
}

impl Live {
    fn open(url: &str, token: &str) -> Live {
        let addr = url.strip_prefix("http://").unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = format!("GET /_ioctl/api/live HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        Live { lines: BufReader::new(s) }
    }

    /// The next record (chunk sizes and the head are not `data:` lines).
    fn next(&mut self) -> Value {
        loop {
            let mut line = String::new();
            assert!(self.lines.read_line(&mut line).unwrap() > 0, "the live stream ended");
            if let Some(json) = line.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(json).unwrap();
            }
        }
    }

    /// The first record of `kind`, within `limit`.
    fn until(&mut self, kind: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let record = self.next();
            if record["type"] == kind {
                return record;
            }
            assert!(Instant::now() < deadline, "no `{kind}` record within {limit:?}");
        }
    }
}

#[test]
fn the_live_stream_delivers_an_event_record_and_the_overview_lists_the_app() {
    let env = Env::new();
    let (mut link, url, token) = linked(&env);

    let mut live = Live::open(&url, &token);
    let hello = live.next();
    assert_eq!((hello["type"].as_str(), hello["workspace"].as_str()), (Some("hello"), Some("dev")), "{hello}");
    let id = send(&env, r#"{"n": 2}"#);
    let event = live.until("event", WAIT);
    assert_eq!(event["id"], id.as_str(), "{event}");
    let delivery = live.until("delivery", WAIT);
    assert_eq!((delivery["event_id"].as_str(), delivery["outcome"].as_str()), (Some(id.as_str()), Some("ok")));
    assert_eq!(delivery["seq"], event["seq"]);
    let counts = live.until("counts", WAIT);
    assert!(counts["counts"]["published"].as_u64().unwrap() >= 1, "{counts}");

    let (status, overview) = api(&url, &token, "/_ioctl/api/overview");
    assert_eq!(status, 200, "{overview}");
    assert_eq!((overview["account"].as_str(), overview["url"].as_str()), (Some("local"), Some(url.as_str())));
    let app = &overview["apps"][0];
    assert_eq!((app["id"].as_str(), app["state"].as_str()), (Some("acme.dash@1.0.0"), Some("running")), "{overview}");
    let pid = app["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {overview}")) as u32;
    assert!(env.node_processes("dev").contains(&pid), "{pid} is one of the session's Node processes");
    assert!(app["rss_bytes"].as_u64().is_some_and(|b| b > 1 << 20), "{overview}");
    assert_eq!(app["routes"][0]["id"], "work");
    assert_eq!(app["routes"][0]["path"], "/_v/dash/work");
    assert_eq!(app["routes"][0]["public"], true);
    assert_eq!(app["events"][0]["handler"], "onThing");
    assert_eq!(app["events"][0]["keys"][0], "thing");
    assert_eq!(app["settings"], true);

    // Unlinking ends the stream with `session_end`.
    assert_eq!(link.interrupt(), 0);
    live.until("session_end", WAIT);
}

#[test]
fn a_graphql_request_is_listed_with_its_operation() {
    let env = Env::new();
    let books = env.dir.path().join("graphql-books");
    copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graphql-books"), &books);
    let mut link = env.spawn(&["link", books.to_str().unwrap(), "--no-watch", "--no-sample-sender"]);
    link.wait_line("ready", |l| l.contains("ready in"));
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    let (url, token) = (record["url"].as_str().unwrap(), record["token"].as_str().unwrap());
    let body = r#"{"query": "query Titles { books { title } }"}"#;
    let bearer = format!("Bearer {token}");
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let (status, _, answer) = http(url, "POST", "/ioctl.books/v1/local/dev/_v/graphql", &headers, body);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"books\""), "the body reached the app whole: {answer}");

    let (_, page) = api(url, token, "/_ioctl/api/requests");
    let request = &page["requests"][0];
    assert_eq!((request["kind"].as_str(), request["route"].as_str()), (Some("graphql"), Some("graphql")), "{page}");
    assert_eq!(request["operation"], "Titles", "{page}");
    assert_eq!(request["user"], "admin", "the token is the local admin: {page}");
    assert_eq!(link.interrupt(), 0);
}
