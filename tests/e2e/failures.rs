//! End to end: handlers that fail in every way a handler can, manual events, dead letters
//! and replays, and a soak of 10,000 events through a flaky handler with a crash in the middle.

use crate::harness::*;
use serde_json::Value;

const SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 10,
  "events": {
    "ok": { "sender": "ioctl.manual", "keys": ["ok"] },
    "flaky": { "sender": "ioctl.manual", "keys": ["flaky"] },
    "always": { "sender": "ioctl.manual", "keys": ["always"] },
    "hang": { "sender": "ioctl.manual", "keys": ["hang"] },
    "block": { "sender": "ioctl.manual", "keys": ["block"] },
    "exit": { "sender": "ioctl.manual", "keys": ["exit"] },
    "slow": { "sender": "ioctl.manual", "keys": ["slow"] }
  }
}"#;

const INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'
import { always, block, exit, flaky, hang, ok, slow } from './event/handlers'

export default new Service({
  clients: {
    implementation: IOClients,
    options: { events: { retries: 1, timeout: 400, initialBackoffDelay: 20, exponentialBackoffCoefficient: 2, concurrency: 4 } },
  },
  events: { ok, flaky, always, hang, block, exit, slow },
})
"#;

const HANDLERS: &str = r#"const seen = new Set<string>()

export async function ok(ctx: any) {
  console.log('ok handled', JSON.stringify(ctx.body))
}

export async function flaky(ctx: any) {
  const id = ctx.vtex.eventInfo ? ctx.vtex.eventInfo.id : JSON.stringify(ctx.body)
  if (!seen.has(id)) {
    seen.add(id)
    throw new Error('first attempt fails')
  }
  console.log('flaky succeeded')
}

export async function always(_ctx: any) {
  throw new TypeError('always broken')
}

export function hang(_ctx: any) {
  return new Promise(() => {})
}

export async function block(_ctx: any) {
  for (;;) {}
}

export async function exit(_ctx: any) {
  process.exit(3)
}

export async function slow(_ctx: any) {
  await new Promise((resolve) => setTimeout(resolve, 600))
}
"#;

fn app(env: &Env) -> std::path::PathBuf {
    env.app("app", &[("node/service.json", SERVICE), ("node/index.ts", INDEX), ("node/event/handlers.ts", HANDLERS)])
}

fn send(env: &Env, key: &str) -> Value {
    let out = env.run(&["events", "send", key, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).unwrap()
}

struct Linked {
    link: Running,
    tail: Running,
}

fn start(env: &Env) -> Linked {
    let app = app(env);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    Linked { link, tail }
}

fn final_delivery(tail: &mut Running, id: &str) -> Value {
    tail.wait_json("final outcome", |v| v["type"] == "delivery" && v["event_id"] == id && v["outcome"] != "retry")
}

#[test]
fn manual_events_reach_subscribers_and_bad_json_publishes_nothing() {
    let env = Env::new();
    let mut s = start(&env);
    let sent = send(&env, "ok");
    assert_eq!(sent["deliveries"], 1);
    let id = sent["id"].as_str().unwrap();
    let event = s.tail.wait_json("event", |v| v["type"] == "event" && v["id"] == id);
    assert_eq!(event["sender"], "ioctl.manual");
    assert_eq!(event["body"], serde_json::json!({}));

    let out = env.run(&["events", "send", "ok", "--data", r#"{"orderId": "42", "n": 1}"#]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("to 1 handler(s)"), "{}", stdout(&out));
    s.link.wait_json("handler output", |v| {
        v["message"] == r#"ok handled {"orderId":"42","n":1}"# && v["handler"] == "ok"
    });

    let bad = env.run(&["events", "send", "ok", "--data", "{\"orderId\": 42,}"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--data:1:16: invalid JSON"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("nothing was published"));
    let file = env.dir.path().join("body.json");
    std::fs::write(&file, "{\n  \"a\": 1\n  \"b\": 2\n}\n").unwrap();
    let bad = env.run(&["events", "send", "ok", "--data-file", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("body.json:3:3: invalid JSON"), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("\"b\": 2"), "code frame: {}", stderr(&bad));

    let unmatched = env.run(&["events", "send", "nobody-listens", "--sender", "vtex.other-app"]);
    assert!(stdout(&unmatched).contains("no handler subscribes to it"), "{}", stdout(&unmatched));
    assert_eq!(env.run(&["events", "send", "x", "--sender", "Not An App"]).status.code(), Some(1));

    assert_eq!(s.link.interrupt(), 0);
    let stopped = s.link.summary();
    assert_eq!(stopped["counts"]["published"], 3, "bad JSON published nothing");
}

#[test]
fn a_handler_that_fails_once_succeeds_on_the_retry() {
    let env = Env::new();
    let mut s = start(&env);
    let id = send(&env, "flaky")["id"].as_str().unwrap().to_string();
    let retry = s.tail.wait_json("retry", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert_eq!((retry["outcome"].as_str(), retry["attempt"].as_u64()), (Some("retry"), Some(1)));
    assert_eq!(retry["error"], "Error: first attempt fails");
    let delay = retry["retry_in_ms"].as_u64().unwrap();
    assert!((20..=24).contains(&delay), "backoff 20 ms + ≤20% jitter, got {delay}");
    let done = final_delivery(&mut s.tail, &id);
    assert_eq!((done["outcome"].as_str(), done["attempt"].as_u64()), (Some("ok"), Some(2)));
    s.link.wait_json("success log", |v| v["message"] == "flaky succeeded");
}

#[test]
fn failed_events_are_kept_listed_and_replayed() {
    let env = Env::new();
    let mut s = start(&env);
    let id = send(&env, "always")["id"].as_str().unwrap().to_string();
    let done = final_delivery(&mut s.tail, &id);
    assert_eq!((done["outcome"].as_str(), done["attempt"].as_u64()), (Some("failed"), Some(2)));

    let listed = env.run(&["events", "failed", "--json"]);
    let letters: Vec<Value> = stdout(&listed).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["event"]["id"], id.as_str());
    assert_eq!(letters[0]["handler"], "always");
    let attempts = letters[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["error"], "TypeError: always broken");
    assert!(attempts[0]["stack"].as_str().unwrap().contains("node/event/handlers.ts:17:9"), "{}", attempts[0]["stack"]);
    let human = stdout(&env.run(&["events", "failed"]));
    assert!(human.contains(&format!("{id} always from ioctl.manual")), "{human}");
    assert!(human.contains("attempt 2"), "{human}");

    let replay = env.run(&["events", "replay", &id]);
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    assert!(stdout(&replay).contains(&format!("replaying {id} to vtex.service-course@0.0.1 always")));
    let again = s.tail.wait_json("replayed attempt", |v| {
        v["type"] == "delivery" && v["event_id"] == id.as_str() && v["attempt"] == 1
    });
    assert_eq!(again["outcome"], "retry");
    final_delivery(&mut s.tail, &id);
    let missing = env.run(&["events", "replay", "no-such-id"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no failed event with id no-such-id"), "{}", stderr(&missing));
    // It failed again, so it is back in the list; --all-failed takes it.
    eventually("the letter back in the list", || {
        stdout(&env.run(&["events", "failed", "--json"])).contains(&id).then_some(())
    });
    assert!(stdout(&env.run(&["events", "replay", "--all-failed"])).contains(&id));
}

#[test]
fn a_hanging_handler_times_out_and_a_late_result_is_ignored() {
    let env = Env::new();
    let mut s = start(&env);
    let id = send(&env, "hang")["id"].as_str().unwrap().to_string();
    let first = s.tail.wait_json("timeout", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert_eq!(first["error"], "timed out after 400 ms (attempt abandoned)");
    let done = final_delivery(&mut s.tail, &id);
    assert_eq!(done["outcome"], "failed");
    // The exponential timeout coefficient is not set: the second attempt also gets 400 ms.
    assert_eq!(done["error"], "timed out after 400 ms (attempt abandoned)");
    // The process was responsive (only the promise hung), so it was not restarted.
    let id2 = send(&env, "ok")["id"].as_str().unwrap().to_string();
    assert_eq!(final_delivery(&mut s.tail, &id2)["outcome"], "ok");
    assert!(!s.link.seen.iter().any(|l| l.contains("crashed")));
}

#[test]
fn a_late_result_of_a_timed_out_attempt_is_ignored_and_said_so() {
    let env = Env::new();
    let mut s = start(&env);
    let id = send(&env, "slow")["id"].as_str().unwrap().to_string();
    let first = s.tail.wait_json("timeout", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert_eq!(first["error"], "timed out after 400 ms (attempt abandoned)");
    s.link.wait_json("late result", |v| {
        v["level"] == "warn"
            && v["message"]
                == "an abandoned (timed-out) handler attempt finished late and succeeded; its result is ignored"
    });
    assert_eq!(final_delivery(&mut s.tail, &id)["outcome"], "failed", "both 400 ms attempts time out");
}

#[test]
fn a_blocked_event_loop_is_killed_and_restarted() {
    let env = Env::new();
    let mut s = start(&env);
    let before = env.node_processes("dev");
    assert!(!before.is_empty());
    let id = send(&env, "block")["id"].as_str().unwrap().to_string();
    let first = s.tail.wait_json("timeout", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert!(first["error"].as_str().unwrap().contains("was blocked and did not answer, so it was killed"), "{first}");
    s.link.wait_json("restart notice", |v| {
        v["type"] == "status"
            && v["message"].as_str().is_some_and(|m| m.starts_with("the app's Node.js process crashed"))
    });
    final_delivery(&mut s.tail, &id);
    s.link.wait_json("restarted", |v| v["message"] == "restarted the app's Node.js process");
    let id2 = send(&env, "ok")["id"].as_str().unwrap().to_string();
    assert_eq!(final_delivery(&mut s.tail, &id2)["outcome"], "ok");
    assert!(before.iter().all(|p| wait_gone(*p)), "the blocked process is gone");
    assert_eq!(s.link.interrupt(), 0);
}

#[test]
fn process_exit_restarts_node_and_link_survives() {
    let env = Env::new();
    let mut s = start(&env);
    let id = send(&env, "exit")["id"].as_str().unwrap().to_string();
    let first = s.tail.wait_json("attempt", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert!(first["error"].as_str().unwrap().contains("exited (exit code 3)"), "{first}");
    s.link.wait_json("crash notice", |v| v["message"].as_str().is_some_and(|m| m.contains("crashed (exit code 3)")));
    assert_eq!(final_delivery(&mut s.tail, &id)["outcome"], "failed");
    s.link.wait_json("restarted", |v| v["message"] == "restarted the app's Node.js process");
    let id2 = send(&env, "ok")["id"].as_str().unwrap().to_string();
    assert_eq!(final_delivery(&mut s.tail, &id2)["outcome"], "ok");
    assert_eq!(s.link.interrupt(), 0);
}

const SOAK_SERVICE: &str = r#"{
  "events": { "work": { "sender": "ioctl.manual", "keys": ["work"] } }
}"#;

const SOAK_INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'
import { appendFileSync, existsSync, writeFileSync } from 'fs'

const OUT = process.env.SOAK_OUT as string
let handled = 0

async function work(ctx: any) {
  handled++
  if (handled === 5000 && !existsSync(OUT + '.crashed')) {
    writeFileSync(OUT + '.crashed', 'x')
    process.exit(7)
  }
  if (Math.random() < 0.1) throw new Error('random failure')
  appendFileSync(OUT, ctx.vtex.eventInfo.id + '\n')
}

export default new Service({
  clients: { implementation: IOClients, options: { events: { retries: 2, timeout: 5000, initialBackoffDelay: 1, exponentialBackoffCoefficient: 1, concurrency: 50 } } },
  events: { work },
})
"#;

#[test]
fn soak_ten_thousand_events_with_random_failures_and_a_crash_lose_nothing() {
    let env = Env::new();
    let app = env.app("soak", &[("node/service.json", SOAK_SERVICE), ("node/index.ts", SOAK_INDEX)]);
    let out = env.dir.path().join("successes.txt");
    let mut link = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.env("SOAK_OUT", &out);
    let mut link = Running::from_command(link);
    link.wait_json("ready", |v| v["type"] == "ready");
    let sent = env.run(&["events", "send", "work", "--repeat", "10000", "--json"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    link.wait_json("the crash", |v| v["message"].as_str().is_some_and(|m| m.contains("crashed (exit code 7)")));
    // Wait until every delivery has ended (from the session's real state), then stop.
    env.settled(10_000);
    assert_eq!(link.interrupt(), 0);
    let stopped = link.summary();
    let c = &stopped["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    eprintln!(
        "soak: published {}, delivered {}, failed {}, in flight {}",
        n("published"),
        n("delivered"),
        n("failed"),
        n("in_flight")
    );
    assert_eq!(n("published"), 10_000);
    assert_eq!(n("deliveries"), 10_000);
    assert_eq!(n("in_flight"), 0, "everything ended delivered or failed");
    assert_eq!(n("delivered") + n("failed"), 10_000);
    // Delivery is at least once: an attempt that was running when the process died may have
    // finished its work before its result was lost, and it is retried. Only those may repeat.
    let interrupted: std::collections::HashSet<String> = link
        .seen
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let m = v["message"].as_str()?;
            m.contains("exited (exit code 7)")
                .then(|| m.split("event ").nth(1)?.split(')').next().map(str::to_string))?
        })
        .collect();
    assert!(!interrupted.is_empty(), "the crash interrupted running attempts");
    let successes: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(str::to_string).collect();
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<&String> = successes.iter().filter(|id| !seen.insert(*id)).collect();
    assert!(twice.iter().all(|id| interrupted.contains(*id)), "handled twice without a crash in between: {twice:?}");
    let unique = seen.len() as u64;
    assert!(
        unique >= n("delivered") && unique <= n("delivered") + interrupted.len() as u64,
        "{unique} handled vs {} delivered",
        n("delivered")
    );
    eprintln!(
        "soak: {} attempts interrupted by the crash, {} events handled twice because of it",
        interrupted.len(),
        twice.len()
    );
    assert!(n("failed") > 0 && n("failed") < 100, "with 10% failures and 3 attempts about 10 fail: {}", n("failed"));
}

#[test]
fn an_attempt_waits_for_a_restarting_process_instead_of_burning_its_retries() {
    let env = Env::new();
    let service = r#"{"events": {"h": {"sender": "ioctl.manual", "keys": ["crash", "work"]}}}"#;
    let index = r#"import { IOClients, Service } from '@vtex/api'

export default new Service({
  clients: { implementation: IOClients, options: { events: { timeout: 300, retries: 1, initialBackoffDelay: 10 } } },
  events: {
    h: async (ctx: any) => {
      if (ctx.key === 'crash') process.exit(7)
      console.log('worked')
    },
  },
})
"#;
    let app = env.app("app", &[("node/service.json", service), ("node/index.ts", index)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    // Two crashing events, one after the other, each attempted twice: four crashes, so the
    // restart now backs off 800 ms.
    for n in 1..=2 {
        assert_eq!(env.run(&["events", "send", "crash"]).status.code(), Some(0));
        link.wait_json("the crash event failed", |v| {
            v["message"].as_str().is_some_and(|m| m.contains("attempt 2/2") && m.contains("no retries left"))
        });
        let c = env.status()["counts"].clone();
        assert_eq!(c["failed"], n, "{c}");
    }
    if !link.seen.iter().any(|l| l.contains("restarting in 800 ms")) {
        link.wait_json("the fourth crash", |v| {
            v["message"].as_str().is_some_and(|m| m.contains("restarting in 800 ms"))
        });
    }
    // An event sent while the process waits out that backoff: its one attempt (300 ms timeout)
    // waits for the restart and succeeds; no retry is burnt and nobody claims a blocked process.
    assert_eq!(env.run(&["events", "send", "work"]).status.code(), Some(0));
    link.wait_json("the work done", |v| v["type"] == "log" && v["message"] == "worked");
    let c = env.settled(3);
    assert_eq!((c["delivered"].as_u64(), c["failed"].as_u64()), (Some(1), Some(2)), "{c}");
    assert!(!link.seen.iter().any(|l| l.contains("was blocked")), "{}", link.seen.join("\n"));
    let failed = stdout(&env.run(&["events", "failed", "--json"]));
    assert_eq!(failed.lines().count(), 2, "only the crash events failed: {failed}");
    assert_eq!(link.interrupt(), 0);
}
