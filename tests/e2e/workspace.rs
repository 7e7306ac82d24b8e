//! End to end: several apps in one workspace. The events-example app (real VTEX app shape:
//! its healthcheck route caches the ctx, a module-level timer fires through it) and the
//! course app, linked from two terminals into one session; either terminal can close.

use std::time::Duration;

use crate::harness::*;
use serde_json::Value;

fn events_example(env: &Env) -> std::path::PathBuf {
    let root = env.app_from("events-example", "events-example", &[]);
    let index = root.join("node/index.ts");
    let fast = std::fs::read_to_string(&index).unwrap().replace("10 * 1000", "300");
    std::fs::write(index, fast).unwrap();
    root
}

fn is_course_event(v: &Value) -> bool {
    v["type"] == "log" && v["handler"] == "liveUsersUpdate" && v["message"] == "EVENT HANDLER: received event"
}

#[test]
fn events_example_and_course_share_a_workspace_and_either_terminal_can_close() {
    let env = Env::new();
    let sender_app = events_example(&env);
    let course = env.app("course", &[]);

    let mut first = env.spawn(&["link", sender_app.to_str().unwrap(), "--json", "--no-sample-sender", "--no-watch"]);
    let ready = first.wait_json("events-example ready", |v| v["type"] == "ready");
    assert_eq!(ready["app"], "vtex.events-example@0.1.0");
    first.wait_json("no context yet", |v| {
        v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.starts_with("no context in memory"))
    });

    let mut second = env.spawn(&["link", course.to_str().unwrap(), "--json", "--no-watch"]);
    second.wait_json("joins", |v| {
        v["message"].as_str().is_some_and(|m| m.starts_with("joining the link session of account local, workspace dev"))
    });
    let ready = second.wait_json("course ready", |v| v["type"] == "ready");
    assert_eq!(ready["app"], "vtex.service-course@0.0.1");
    let status: Value = serde_json::from_str(stdout(&env.run(&["status", "--json"])).trim()).unwrap();
    assert_eq!(status["apps"], serde_json::json!(["vtex.events-example@0.1.0", "vtex.service-course@0.0.1"]));

    let quiet = second.collect_for(Duration::from_millis(700));
    assert!(!quiet.iter().any(|l| l.contains("EVENT HANDLER")), "nothing fires before the healthcheck");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");

    // The healthcheck reaches events-example's own route, which caches the ctx.
    let hc = env.run(&["healthcheck"]);
    assert_eq!((stdout(&hc).as_str(), hc.status.code()), ("ok\n", Some(0)), "{}", stderr(&hc));
    second.wait_json("course handler", is_course_event);
    second.wait_json("course handler again", is_course_event);
    let event = tail.wait_json("an event from events-example", |v| v["type"] == "event");
    assert_eq!((event["sender"].as_str(), event["key"].as_str()), (Some("vtex.events-example"), Some("send-event")));
    let n: u32 = event["body"]["random"].as_str().unwrap().parse().unwrap();
    assert!(n <= 100);
    let id = event["id"].as_str().unwrap().to_string();
    let d = tail.wait_json("its delivery", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert_eq!((d["app"].as_str(), d["outcome"].as_str()), (Some("vtex.service-course@0.0.1"), Some("ok")));
    assert!(!first.seen.iter().any(|l| l.contains("EVENT HANDLER")), "each terminal shows its own app");

    // Close the terminal that started the session: the course app stays linked. Its summary
    // counts its own deliveries (none: it only sends) apart from the workspace's events.
    assert_eq!(first.interrupt(), 0);
    let summary = first.summary();
    assert_eq!(summary["app"]["deliveries"], 0);
    assert!(summary["counts"]["published"].as_u64().unwrap() >= 2);
    assert!(env.session_pid("dev").is_some_and(alive), "the session outlives its first link");
    eventually("the first app to leave the record", || {
        (env.status()["apps"] == serde_json::json!(["vtex.service-course@0.0.1"])).then_some(())
    });
    let _ = second.collect_for(Duration::from_millis(100));
    let sent =
        env.run(&["events", "send", "send-event", "--sender", "vtex.events-example", "--data", "{\"random\":\"7\"}"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    second.wait_json("still handling", is_course_event);
    let status: Value = serde_json::from_str(stdout(&env.run(&["status", "--json"])).trim()).unwrap();
    assert_eq!(status["apps"], serde_json::json!(["vtex.service-course@0.0.1"]));

    let session = env.session_pid("dev").unwrap();
    assert_eq!(second.interrupt(), 0);
    let app = &second.summary()["app"];
    assert!(app["delivered"].as_u64().unwrap() >= 3);
    assert_eq!(app["deliveries"], app["delivered"]);
    assert!(wait_gone(session), "the session ends with its last app");
    tail.wait_json("tail says the session ended", |v| v["type"] == "session_end");
}

#[test]
fn the_real_events_example_replaces_the_sample_sender() {
    let env = Env::new();
    let course = env.app("course", &[]);
    let sender_app = events_example(&env);
    let mut first = env.spawn(&["link", course.to_str().unwrap(), "--json", "--no-watch", "--sender-interval", "0.2"]);
    first.wait_json("ready", |v| v["type"] == "ready");
    let mut second = env.spawn(&["link", sender_app.to_str().unwrap(), "--json", "--no-watch"]);
    second.wait_json("replaces", |v| {
        v["message"].as_str().is_some_and(|m| m.starts_with("this app replaces the session's sample sender"))
    });
    second.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(stdout(&env.run(&["healthcheck"])), "ok\n");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    first.wait_json("course handler", is_course_event);
    // Only the real app's timer (300 ms) fires: in ~1.5 s there are about 5 events, not ~12.
    let lines = tail.collect_for(Duration::from_millis(1500));
    let events = lines.iter().filter(|l| l.contains("\"type\":\"event\"")).count();
    assert!((2..=8).contains(&events), "{events} events in 1.5 s");
}

#[test]
fn a_link_right_after_the_last_one_left_gets_a_working_session() {
    let env = Env::new();
    let a = env.app("a", &[]);
    let b = env.app_from("events-example", "b", &[]);
    for _ in 0..3 {
        let mut first = env.spawn(&["link", a.to_str().unwrap(), "--json", "--no-watch"]);
        first.wait_json("ready", |v| v["type"] == "ready");
        first.signal(libc::SIGINT);
        // Whether it joins the ending session in time or starts the next one, it links.
        let mut second = env.spawn(&["link", b.to_str().unwrap(), "--json", "--no-watch"]);
        second.wait_json("ready", |v| v["type"] == "ready");
        assert_eq!(first.wait_exit(), 0);
        let hc = env.run(&["healthcheck"]);
        assert_eq!(hc.status.code(), Some(0), "{}\n{}", stderr(&hc), second.seen.join("\n"));
        assert_eq!(second.interrupt(), 0);
        let _ = env.session_pid("dev").map(wait_gone);
    }
}
