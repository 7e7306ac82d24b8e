//! End to end, issue 20: the session under a client that gives up, a stopped session, and
//! stops — graceful with nothing running, forced with a handler that never ends.

use serde_json::Value;

use crate::harness::*;

const SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 60,
  "events": {
    "slow": { "sender": "ioctl.manual", "keys": ["slow"] },
    "hang": { "sender": "ioctl.manual", "keys": ["hang"] },
    "broken": { "sender": "ioctl.manual", "keys": ["broken"] }
  }
}"#;

/// One delivery at a time: a few thousand events fill the app's queue (1,024) and hold the
/// publisher back.
const INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'

export default new Service({
  clients: { implementation: IOClients, options: { events: { retries: 0, timeout: 60000, concurrency: 1 } } },
  events: {
    slow: async () => { await new Promise((resolve) => setTimeout(resolve, 4)) },
    hang: () => { console.log('hanging'); return new Promise(() => {}) },
    broken: async () => { throw new Error('broken ' + 'x'.repeat(100000)) },
  },
})
"#;

fn link(env: &Env) -> Running {
    let app = env.app("app", &[("node/service.json", SERVICE), ("node/index.ts", INDEX)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    link
}

fn counts(env: &Env) -> Value {
    env.status()["counts"].clone()
}

fn add_up(c: &Value) -> bool {
    let n = |k: &str| c[k].as_u64().unwrap_or(u64::MAX);
    n("deliveries") == n("delivered") + n("failed") + n("in_flight")
}

fn last_json(r: &Running) -> Value {
    r.seen.iter().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| panic!("no JSON in {:?}", r.seen))
}

#[test]
fn a_sender_held_back_cut_off_or_interrupted_leaves_counts_that_add_up() {
    let env = Env::new();
    let mut link = link(&env);

    // Backpressure is not silence: the queue holds the publisher back far longer than
    // --timeout (and the 2.5 ms per event it adds for a repeat), and the session's progress
    // keeps the sender waiting for the end.
    let out = env.run(&["events", "send", "slow", "--repeat", "2500", "--timeout", "0.1", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!((done["published"].as_u64(), done["stopped"].as_bool()), (Some(2500), Some(false)), "{done}");

    // Ctrl-C stops the publishing between two events; the answer says how many.
    let mut sender = env.spawn(&["events", "send", "slow", "--repeat", "100000", "--json"]);
    eventually("the interrupted sender to publish", || (counts(&env)["published"].as_u64()? > 2600).then_some(()));
    sender.signal(libc::SIGINT);
    assert_eq!(sender.wait_exit(), 130, "{:?}", sender.seen);
    let stopped = last_json(&sender);
    assert_eq!(stopped["type"], "published", "{stopped}");
    assert_eq!(stopped["stopped"], true, "{stopped}");
    let interrupted = stopped["published"].as_u64().unwrap();
    assert!((101..100_000).contains(&interrupted), "{stopped}");
    let c = counts(&env);
    assert_eq!(c["published"].as_u64(), Some(2500 + interrupted), "the sender's count is the session's: {c}");
    assert!(add_up(&c), "{c}");

    // A session that stops answering (SIGSTOP) cuts the sender off; it says how far it got.
    let session = env.session_pid("dev").unwrap();
    let mut sender = env.spawn(&["events", "send", "slow", "--repeat", "100000", "--timeout", "1.5", "--json"]);
    let before = 2500 + interrupted;
    eventually("the third sender to publish", || (counts(&env)["published"].as_u64()? > before + 50).then_some(()));
    unsafe { libc::kill(session as i32, libc::SIGSTOP) };
    let code = sender.wait_exit();
    unsafe { libc::kill(session as i32, libc::SIGCONT) };
    assert_eq!(code, 1, "{:?}", sender.seen);
    let cut = last_json(&sender);
    assert_eq!(cut["type"], "cut_off", "{cut}");
    assert!(cut["published"].as_u64().unwrap() > 0, "{cut}");
    let said = sender.seen.join("\n");
    assert!(said.contains("said nothing for 1.5 s") && said.contains("of 100000 event(s) were published"), "{said}");

    // The session stops publishing once the sender is gone; every delivery ends ok or failed.
    let c = counts(&env);
    assert!(add_up(&c), "{c}");
    assert_eq!(link.interrupt(), 0);
    let summary = link.summary();
    let app = &summary["app"];
    assert!(add_up(app) && app["in_flight"] == 0, "{summary}");
    assert_eq!(summary["counts"]["deliveries"], summary["counts"]["published"], "{summary}");
}

#[test]
fn an_idle_unlink_ends_without_waiting_out_the_grace_period() {
    let env = Env::new();
    let mut link = link(&env);
    let session = env.session_pid("dev").unwrap();
    assert_eq!(link.interrupt(), 0, "{:?}", link.seen);
    assert_eq!(link.summary()["app"]["deliveries"], 0);
    assert!(!alive(session), "the session ended with its last app, before the link exited");
    let log = std::fs::read_to_string(env.home().join("sessions/local/dev.log")).unwrap();
    assert!(log.contains("app unlinked"), "{log}");
    assert!(!log.contains("grace period"), "nothing was running, yet the stop waited out its grace:\n{log}");
}

#[test]
fn a_forced_stop_ends_the_apps_processes_and_the_session_before_the_link_exits() {
    let env = Env::new();
    let mut link = link(&env);
    let session = env.session_pid("dev").unwrap();
    let nodes = env.node_processes("dev");
    assert!(!nodes.is_empty());
    let out = env.run(&["events", "send", "hang"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    link.wait_json("the handler running", |v| v["message"] == "hanging");
    link.signal(libc::SIGINT);
    link.wait_line("the graceful stop", |l| l.contains("waiting for running handlers"));
    link.signal(libc::SIGINT);
    assert_eq!(link.wait_exit(), 130, "{:?}", link.seen);
    let said = link.seen.join("\n");
    assert!(said.contains("the app's Node.js processes have ended"), "{said}");
    for pid in nodes.iter().chain([&session]) {
        assert!(!alive(*pid), "pid {pid} outlived the forced stop:\n{said}");
    }
    let summary = link.summary();
    let app = &summary["app"];
    assert_eq!(
        (app["deliveries"].as_u64(), app["failed"].as_u64(), app["in_flight"].as_u64()),
        (Some(1), Some(1), Some(0))
    );
}

#[test]
fn ctrl_c_leaves_a_stopped_session_without_waiting_out_the_timeout() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--timeout", "120"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let session = env.session_pid("dev").unwrap();
    unsafe { libc::kill(session as i32, libc::SIGSTOP) };
    // Ctrl-C until the link leaves: the first asks for an unlink the stopped session never
    // answers, the next forces, and gives up on the session within seconds, not 120.
    let code = eventually("the link to leave", || {
        link.signal(libc::SIGINT);
        std::thread::sleep(std::time::Duration::from_millis(100));
        link.child.try_wait().unwrap().map(|s| s.code())
    });
    unsafe { libc::kill(session as i32, libc::SIGCONT) };
    assert_eq!(code, Some(130));
    link.wait_exit();
    let said = link.seen.join("\n");
    assert!(said.contains(&format!("kill {session}")), "names the session to end:\n{said}");
    assert!(wait_gone(session), "the resumed session ends: its link is gone");
}

#[test]
fn dead_letters_are_bounded_in_bytes_and_listed_by_page() {
    let env = Env::new();
    let mut link = link(&env);
    // 24 failed events of 1.9 MiB each: more than the 32 MiB an app keeps.
    let body = env.dir.path().join("big.json");
    std::fs::write(&body, serde_json::json!({ "blob": "b".repeat(1_900_000) }).to_string()).unwrap();
    for _ in 0..24 {
        let out = env.run(&["events", "send", "broken", "--data-file", body.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    env.settled(24);
    let out = env.run(&["events", "failed", "--json", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.len() < 40 << 20, "{} bytes listed", out.stdout.len());
    let lines: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kept = lines.iter().filter(|l| l["type"] == "failed").count();
    let dropped = lines.iter().find(|l| l["type"] == "dropped").expect("the dropped letters are said");
    assert_eq!(dropped["dropped"]["vtex.service-course@0.0.1"].as_u64(), Some(24 - kept as u64), "{dropped}");
    assert!((10..24).contains(&kept), "{kept} kept");
    let error = lines[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.len() < 17 << 10 && error.contains("more bytes not kept"), "a 100 kB error is cut: {}", error.len());

    // Pages, newest first: the default shows 100; --limit and --skip page through.
    let out = env.run(&["events", "failed", "--limit", "2"]);
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.contains(" broken from ioctl.manual")).count(), 2, "{text}");
    let older = kept - 2;
    assert!(
        text.contains(&format!("{older} older failed event(s) not shown: `ioctl events failed --skip 2`")),
        "{text}"
    );
    assert_eq!(link.interrupt(), 0);
}
