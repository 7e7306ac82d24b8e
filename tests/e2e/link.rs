//! End to end: the real `ioctl` binary with real Node.js, on the bundled template and small
//! fixture apps. Each test asserts what a user sees: lines, exit codes, counts.

use std::time::Duration;

use crate::harness::*;
use serde_json::Value;

fn is_handler_log(v: &Value, message: &str) -> bool {
    v["type"] == "log" && v["handler"] == "liveUsersUpdate" && v["message"] == message
}

#[test]
fn handler_runs_after_healthcheck_and_never_before() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.2", "--no-watch"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["app"], "vtex.service-course@0.0.1");
    assert_eq!((ready["account"].as_str(), ready["workspace"].as_str()), (Some("local"), Some("dev")));
    assert!(ready["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));

    // Five intervals pass without a healthcheck: nothing may be fired or handled.
    let quiet = link.collect_for(Duration::from_millis(1200));
    assert!(!quiet.iter().any(|l| l.contains("EVENT HANDLER")), "handler ran before the healthcheck:\n{quiet:?}");

    let hc = env.run(&["healthcheck"]);
    assert_eq!(stdout(&hc), "ok\n", "stderr: {}", stderr(&hc));
    assert_eq!(hc.status.code(), Some(0));

    let log = link.wait_json("the handler's log line", |v| is_handler_log(v, "EVENT HANDLER: received event"));
    assert_eq!(log["app"], "vtex.service-course@0.0.1");
    assert_eq!(log["level"], "info");
    link.wait_json("a second event", |v| is_handler_log(v, "EVENT HANDLER: received event"));
    assert_eq!(link.interrupt(), 0);
    let stopped: Value = link.summary();
    let c = &stopped["counts"];
    assert!(c["delivered"].as_u64().unwrap() >= 2);
    assert_eq!(c["failed"], 0);
    assert_eq!(c["deliveries"].as_u64(), Some(c["delivered"].as_u64().unwrap() + c["in_flight"].as_u64().unwrap()));
}

#[test]
fn human_output_is_in_vtex_link_style() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", "--sender-interval", "0.2", "--no-watch", app.to_str().unwrap()]);
    link.wait_line("linking line", |l| {
        l.ends_with("info: Linking app vtex.service-course@0.0.1 in account local, workspace dev")
    });
    link.wait_line("handler line", |l| {
        l.ends_with("info: event handler liveUsersUpdate: sender vtex.events-example, keys send-event")
    });
    link.wait_line("policy", |l| {
        l.contains("delivery policy for vtex.service-course: 1 retry, timeout 3000 ms ×2 per retry, backoff 50 ms ×2")
    });
    link.wait_line("sender waiting", |l| {
        l.contains("sample sender vtex.events-example is waiting for its healthcheck")
    });
    link.wait_line("ready", |l| l.starts_with("ready in ") && l.ends_with(" ms"));
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    let line = link.wait_line("handler output", |l| l.contains("EVENT HANDLER"));
    let (time, rest) = line.split_once(" - ").unwrap();
    assert!(time.len() == 12 && time.as_bytes()[2] == b':' && time.as_bytes()[8] == b'.', "time HH:MM:SS.mmm: {line}");
    assert_eq!(rest, "info: EVENT HANDLER: received event  vtex.service-course@0.0.1");
    assert!(!line.contains('\u{1b}'), "no colour when stdout is not a terminal");
}

#[test]
fn tail_shows_events_and_deliveries_and_the_end_of_the_session() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.2", "--no-watch"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    let event = tail.wait_json("event", |v| v["type"] == "event");
    assert_eq!(event["sender"], "vtex.events-example");
    assert_eq!(event["key"], "send-event");
    assert_eq!(event["subject"], "");
    let random: u32 = event["body"]["random"].as_str().unwrap().parse().unwrap();
    assert!(random <= 100);
    let id = event["id"].as_str().unwrap().to_string();
    let delivery = tail.wait_json("its delivery", |v| v["type"] == "delivery" && v["event_id"] == id.as_str());
    assert_eq!(delivery["app"], "vtex.service-course@0.0.1");
    assert_eq!(delivery["handler"], "liveUsersUpdate");
    assert_eq!(delivery["outcome"], "ok");
    assert_eq!(delivery["attempt"], 1);
    assert!(delivery["elapsed_ms"].as_f64().unwrap() >= 0.0);

    // Human tail with a filter that matches nothing shows no event.
    let mut filtered = env.spawn(&["events", "tail", "--key", "no-such-key"]);
    filtered.wait_line("header", |l| l.starts_with("tailing events of account local, workspace dev"));
    let lines = filtered.collect_for(Duration::from_millis(600));
    assert!(!lines.iter().any(|l| l.contains("send-event")), "{lines:?}");

    assert_eq!(link.interrupt(), 0);
    let end = tail.wait_json("session end", |v| v["type"] == "session_end");
    assert!(end["counts"]["published"].as_u64().unwrap() >= 1);
    assert_eq!(tail.wait_exit(), 0);
    filtered.wait_line("human end", |l| l.starts_with("the link session ended:"));
    assert_eq!(filtered.wait_exit(), 0);
}

#[test]
fn two_workspaces_never_see_each_other() {
    let env = Env::new();
    let a = env.app("a", &[]);
    let b = env.app("b", &[]);
    let mut la =
        env.spawn(&["link", a.to_str().unwrap(), "--json", "-w", "one", "--sender-interval", "0.2", "--no-watch"]);
    let mut lb =
        env.spawn(&["link", b.to_str().unwrap(), "--json", "-w", "two", "--sender-interval", "0.2", "--no-watch"]);
    la.wait_json("ready a", |v| v["type"] == "ready");
    lb.wait_json("ready b", |v| v["type"] == "ready");
    let mut tail_b = env.spawn(&["events", "tail", "--json", "-w", "two"]);
    tail_b.wait_json("hello", |v| v["type"] == "hello" && v["workspace"] == "two");

    assert_eq!(env.run(&["healthcheck", "-w", "one"]).status.code(), Some(0));
    la.wait_json("a's handler", |v| is_handler_log(v, "EVENT HANDLER: received event"));
    la.wait_json("a's handler again", |v| is_handler_log(v, "EVENT HANDLER: received event"));
    let b_lines = lb.collect_for(Duration::from_millis(500));
    assert!(!b_lines.iter().any(|l| l.contains("EVENT HANDLER")), "workspace two got one's event: {b_lines:?}");
    let t = tail_b.collect_for(Duration::from_millis(100));
    assert!(!t.iter().any(|l| l.contains("\"type\":\"event\"")), "tail of two saw one's event: {t:?}");

    // Linking the same app again into a workspace where it is linked is refused.
    let again = env.run(&["link", a.to_str().unwrap(), "-w", "one", "--no-watch"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("vtex.service-course@0.0.1 is already linked in account local, workspace one"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn malformed_service_json_gives_a_positioned_error() {
    let env = Env::new();
    let app = env.app("app", &[("node/service.json", "{\n  \"memory\": 256,\n  \"events\": {\n    \"liveUsersUpdate\": {\n      \"sender\": \"vtex.events-example\"\n      \"keys\": [\"send-event\"]\n    }\n  }\n}\n")]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/service.json:6:7: expected `,` or `}`"), "{text}");
    assert!(text.contains("\"keys\": [\"send-event\"]"), "code frame shows the line: {text}");
    assert!(text.contains("App build failed."), "{text}");
    assert!(!env.home().join("sessions/local/dev.json").exists(), "no session left behind");
}

#[test]
fn typescript_syntax_error_is_positioned() {
    let env = Env::new();
    let app = env.app(
        "app",
        &[(
            "node/event/liveUsersUpdate.ts",
            "export async function updateLiveUsers(ctx: any) {\n  console.log('x'\n}\n",
        )],
    );
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "error")
        .expect("an error record");
    assert_eq!(err["file"], "node/event/liveUsersUpdate.ts");
    assert_eq!(err["line"], 3);
}

#[test]
fn error_while_loading_points_at_the_ts_line() {
    let env = Env::new();
    let app = env.app("app", &[("node/clients/index.ts", "import { IOClients } from '@vtex/api'\n\nconst limit = undefinedThing + 1\n\nexport class Clients extends IOClients {}\n")]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/clients/index.ts:3:15: ReferenceError: undefinedThing is not defined"), "{text}");
    assert!(text.contains("const limit = undefinedThing + 1"), "{text}");
}

#[test]
fn handler_missing_from_the_service_names_the_exported_ones() {
    let env = Env::new();
    let app = env.app("app", &[("node/service.json", "{\n  \"events\": {\n    \"liveUsersUpdat\": {\"sender\": \"vtex.events-example\", \"keys\": [\"send-event\"]}\n  }\n}\n")]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/service.json:3:5: event handler `liveUsersUpdat` is not in the Service's `events` (it exports: liveUsersUpdate)"), "{text}");
}

#[test]
fn a_missing_entry_is_named_as_the_user_knows_it() {
    let env = Env::new();
    let app = env.app("app", &[]);
    std::fs::remove_file(app.join("node/index.ts")).unwrap();
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("node/index.ts is missing"), "{text}");
    assert!(!text.contains(".ioctl"), "no internal build path: {text}");
}

#[test]
fn a_handler_that_is_not_a_function_is_refused_at_link() {
    let env = Env::new();
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/service-course/node/index.ts"))
        .unwrap()
        .replace("liveUsersUpdate: updateLiveUsers", "liveUsersUpdate: 42 as any");
    assert!(index.contains("42 as any"), "the template wires liveUsersUpdate: updateLiveUsers");
    let app = env.app("app", &[("node/index.ts", &index)]);
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("node/service.json:9:5: event handler `liveUsersUpdate` in the Service's `events` is a number, not a function"),
        "{text}"
    );
}

#[test]
fn a_throwing_handler_is_retried_then_failed_and_link_survives() {
    let env = Env::new();
    let app = env.app("app", &[("node/event/liveUsersUpdate.ts", "export async function updateLiveUsers(ctx: StatusChangeContext) {\n  console.log('trying', ctx.body.random)\n  throw new Error('boom')\n}\n")]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.3", "--no-watch"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    let retry = tail.wait_json("a retry", |v| v["type"] == "delivery" && v["outcome"] == "retry");
    assert_eq!(retry["attempt"], 1);
    assert_eq!(retry["error"], "Error: boom");
    let id = retry["event_id"].as_str().unwrap().to_string();
    let failed = tail.wait_json("the final failure", |v| {
        v["type"] == "delivery" && v["event_id"] == id.as_str() && v["outcome"] != "retry"
    });
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["attempt"], 2);
    let err = link.wait_json("the error log", |v| {
        v["type"] == "log" && v["level"] == "error" && v["handler"] == "liveUsersUpdate"
    });
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("Error: boom"), "{msg}");
    assert!(msg.contains("node/event/liveUsersUpdate.ts:3:9"), "stack points at the .ts line: {msg}");
    // Still alive and still delivering.
    link.wait_json("another attempt", |v| {
        v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.starts_with("trying"))
    });
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn ctrl_c_leaves_no_process_and_no_session_behind() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    // The app's Node.js process, and (watching) a warm standby for the next relink.
    let session = env.session_pid("dev").expect("a session record");
    let node = eventually("the app's process and its standby", || {
        let node = env.node_processes("dev");
        (node.len() == 2).then_some(node)
    });
    assert_eq!(link.interrupt(), 0);
    assert!(link.seen.iter().any(|l| l.contains("\"type\":\"stopped\"")), "a summary on Ctrl-C");
    // The last app left, so the session ends too, and takes every Node.js process with it.
    assert!(wait_gone(session), "the session outlived its last app");
    assert!(node.iter().all(|p| wait_gone(*p)), "a Node.js process outlived ioctl");
    assert!(!env.home().join("sessions/local/dev.json").exists(), "session record removed");
    let hc = env.run(&["healthcheck"]);
    assert_eq!(hc.status.code(), Some(1));
    assert!(stderr(&hc).contains("no link session runs for account local, workspace dev"), "{}", stderr(&hc));
    let tail = env.run(&["events", "tail"]);
    assert_eq!(tail.status.code(), Some(1));
    assert!(stderr(&tail).contains("no link session runs"), "{}", stderr(&tail));
}

#[test]
fn a_killed_session_is_detected_as_stale() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let session = env.session_pid("dev").unwrap();
    let node = env.node_processes("dev");
    unsafe {
        libc::kill(session as i32, libc::SIGKILL);
    }
    assert!(wait_gone(session));
    assert!(node.iter().all(|p| wait_gone(*p)), "Node.js exits when its session dies");
    let hc = env.run(&["healthcheck"]);
    assert_eq!(hc.status.code(), Some(1));
    assert!(stderr(&hc).contains("no link session runs"), "{}", stderr(&hc));
    link.wait_exit();
    // And a new link can take the workspace.
    let mut again = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch"]);
    again.wait_json("ready", |v| v["type"] == "ready");
}

#[test]
fn a_killed_link_command_unlinks_its_app() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let session = env.session_pid("dev").unwrap();
    link.signal(libc::SIGKILL);
    link.wait_exit();
    assert!(wait_gone(session), "with its only app gone, the session ends");
    assert!(!env.home().join("sessions/local/dev.json").exists());
}

#[test]
fn master_is_refused_and_bad_usage_exits_2() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let out = env.run(&["link", app.to_str().unwrap(), "-w", "master"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot link in workspace `master`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("-w dev"));
    assert_eq!(env.run(&["link", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(env.run(&["link", app.to_str().unwrap(), "-w", "bad/ws"]).status.code(), Some(2));
}

#[test]
fn init_writes_the_template_and_it_links() {
    let env = Env::new();
    let dir = env.dir.path().join("my-app");
    let out = env.run(&["init", "service-course", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for f in [
        "manifest.json",
        "node/service.json",
        "node/index.ts",
        "node/event/liveUsersUpdate.ts",
        "node/package.json",
        "node/tsconfig.json",
    ] {
        let ours = std::fs::read(dir.join(f)).unwrap();
        let repo =
            std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/service-course").join(f))
                .unwrap();
        assert_eq!(ours, repo, "{f} matches templates/service-course");
    }
    let again = env.run(&["init", "service-course", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "refuses a non-empty folder");
    assert_eq!(env.run(&["init", "nope", env.dir.path().join("x").to_str().unwrap()]).status.code(), Some(1));
    // Linking from a subfolder finds the app root.
    let mut link = env.command(&["link", "--json", "--no-watch"]);
    let mut child = link.current_dir(dir.join("node/event")).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0, "link ended before ready");
        if line.contains("\"type\":\"ready\"") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn saving_a_handler_relinks_and_a_broken_save_keeps_the_last_good_version() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let handler = app.join("node/event/liveUsersUpdate.ts");
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.2"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    link.wait_json("old message", |v| is_handler_log(v, "EVENT HANDLER: received event"));

    std::fs::write(&handler, "export async function updateLiveUsers() {\n  console.log('v2 handler')\n}\n").unwrap();
    let change = link.wait_json("change", |v| v["type"] == "change");
    assert_eq!((change["op"].as_str(), change["path"].as_str()), (Some("U"), Some("node/event/liveUsersUpdate.ts")));
    link.wait_json("relinked", |v| v["type"] == "relinked");
    link.wait_json("new message", |v| is_handler_log(v, "v2 handler"));

    std::fs::write(&handler, "export async function updateLiveUsers() {\n  console.log('v3'\n}\n").unwrap();
    let err = link.wait_json("diagnostic", |v| v["type"] == "error");
    assert_eq!(err["file"], "node/event/liveUsersUpdate.ts");
    link.wait_json("build failed", |v| v["message"] == "App build failed. Waiting for changes...");
    link.wait_json("last good version still runs", |v| is_handler_log(v, "v2 handler"));

    std::fs::write(&handler, "export async function updateLiveUsers() {\n  console.log('v3 fixed')\n}\n").unwrap();
    link.wait_json("fixed message", |v| is_handler_log(v, "v3 fixed"));
    let nodes = env.node_processes("dev");
    assert_eq!(link.interrupt(), 0);
    assert!(nodes.iter().all(|p| wait_gone(*p)), "no Node.js process outlives link");
}

#[test]
fn a_burst_of_saves_ends_in_the_final_content_and_relinks_leak_no_process() {
    let env = Env::new();
    let app = env.app(
        "app",
        &[("node/service.json", r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["ping"]}}}"#)],
    );
    let handler = app.join("node/event/liveUsersUpdate.ts");
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let write = |n: usize| {
        std::fs::write(
            &handler,
            format!("export async function updateLiveUsers() {{\n  console.log('version {n}')\n}}\n"),
        )
        .unwrap()
    };
    // 20 writes in a burst (a formatter, a git checkout): one relink, with the last content.
    for n in 0..20 {
        write(n);
    }
    link.wait_json("relinked", |v| v["type"] == "relinked");
    assert_eq!(env.run(&["events", "send", "ping"]).status.code(), Some(0));
    let log = link.wait_json("handler output", |v| v["type"] == "log" && v["handler"] == "liveUsersUpdate");
    assert_eq!(log["message"], "version 19");

    // 50 relinks, one at a time: the process count stays flat.
    for n in 100..150 {
        write(n);
        link.wait_json("relinked", |v| v["type"] == "relinked");
    }
    assert_eq!(env.run(&["events", "send", "ping"]).status.code(), Some(0));
    link.wait_json("latest version", |v| v["type"] == "log" && v["message"] == "version 149");
    // Replaced versions drain and stop: the count comes down to the live one and its standby.
    let node = eventually("at most 2 Node.js processes after 50 relinks", || {
        let node = env.node_processes("dev");
        (node.len() <= 2).then_some(node)
    });
    assert_eq!(link.interrupt(), 0);
    assert!(node.iter().all(|p| wait_gone(*p)));
}

#[test]
fn service_json_and_manifest_changes_apply_live() {
    let env = Env::new();
    let app = env.app(
        "app",
        &[("node/service.json", r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["one"]}}}"#)],
    );
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    let sent: Value = serde_json::from_str(stdout(&env.run(&["events", "send", "two", "--json"])).trim()).unwrap();
    assert_eq!(sent["deliveries"], 0, "not subscribed to `two` yet");

    // A new key in service.json: subscriptions change without restarting ioctl.
    std::fs::write(
        app.join("node/service.json"),
        r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["one", "two"]}}}"#,
    )
    .unwrap();
    link.wait_json("relinked", |v| v["type"] == "relinked");
    let sent: Value = serde_json::from_str(stdout(&env.run(&["events", "send", "two", "--json"])).trim()).unwrap();
    assert_eq!(sent["deliveries"], 1);
    link.wait_json("handled", |v| v["message"] == "EVENT HANDLER: received event");

    // A broken service.json: positioned error, the last good version keeps running.
    std::fs::write(app.join("node/service.json"), "{\"events\": {\n  \"liveUsersUpdate\": {\"keys\": [\"one\"]\n}")
        .unwrap();
    let err = link.wait_json("diagnostic", |v| v["type"] == "error");
    assert_eq!(err["file"], "node/service.json");
    let sent: Value = serde_json::from_str(stdout(&env.run(&["events", "send", "two", "--json"])).trim()).unwrap();
    assert_eq!(sent["deliveries"], 1, "the last good subscriptions stay");

    // A new version in manifest.json: relinked under the new id, and said so.
    let manifest = std::fs::read_to_string(app.join("manifest.json")).unwrap().replace("\"0.0.1\"", "\"0.0.2\"");
    std::fs::write(
        app.join("node/service.json"),
        r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["one", "two"]}}}"#,
    )
    .unwrap();
    std::fs::write(app.join("manifest.json"), manifest).unwrap();
    link.wait_json("renamed", |v| {
        v["message"] == "manifest.json changed: relinking vtex.service-course@0.0.1 as vtex.service-course@0.0.2"
    });
    let ready = link.wait_json("ready again", |v| v["type"] == "ready");
    assert_eq!(ready["app"], "vtex.service-course@0.0.2");
    let status: Value = serde_json::from_str(stdout(&env.run(&["status", "--json"])).trim()).unwrap();
    assert_eq!(status["apps"], serde_json::json!(["vtex.service-course@0.0.2"]));
    assert_eq!(env.run(&["events", "send", "one"]).status.code(), Some(0));
    let log = link.wait_json("handled by the new id", |v| v["message"] == "EVENT HANDLER: received event");
    assert_eq!(log["app"], "vtex.service-course@0.0.2");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn events_published_during_relinks_are_delivered_exactly_once() {
    let env = Env::new();
    let app = env.app(
        "app",
        &[("node/service.json", r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["tick"]}}}"#)],
    );
    let handler = app.join("node/event/liveUsersUpdate.ts");
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    // 1,500 events at 1,000/s while the handler is saved five times.
    let mut sender = env.spawn(&["events", "send", "tick", "--repeat", "1500", "--rate", "1000", "--json"]);
    for n in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        std::fs::write(&handler, format!("export async function updateLiveUsers() {{\n  return {n}\n}}\n")).unwrap();
        link.wait_json("relinked", |v| v["type"] == "relinked");
    }
    assert_eq!(sender.wait_exit(), 0);
    let c = &env.settled(1500);
    assert_eq!(c["published"], 1500);
    assert_eq!(c["deliveries"], 1500);
    assert_eq!(c["delivered"], 1500, "every event reached exactly one live version: {c}");
    assert_eq!((c["failed"].as_u64(), c["in_flight"].as_u64()), (Some(0), Some(0)));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_missing_node_is_a_clear_error() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let out = env
        .command(&["link", app.to_str().unwrap(), "--no-watch"])
        .env("IOCTL_NODE", "/nonexistent/node")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cannot run Node.js (/nonexistent/node)") && err.contains("install Node.js 18 or newer"),
        "{err}"
    );
    assert!(!env.home().join("sessions/local/dev.json").exists());
}

#[test]
fn a_node_older_than_18_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let app = env.app("app", &[]);
    // A real Node that reports itself as 16.20.0, the way an old install would.
    let fake = env.dir.path().join("old-node.js");
    std::fs::write(
        &fake,
        "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '16.20.0' } })\n\
         Object.defineProperty(process, 'version', { value: 'v16.20.0' })\n",
    )
    .unwrap();
    let node = env.dir.path().join("node16");
    std::fs::write(&node, format!("#!/bin/sh\nexec node --require {} \"$@\"\n", fake.display())).unwrap();
    std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.command(&["link", app.to_str().unwrap(), "--no-watch"]).env("IOCTL_NODE", &node).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("Node.js v16.20.0") && all.contains("is too old: ioctl needs Node.js 18 or newer"), "{all}");
}

#[test]
fn color_can_be_forced_and_joining_says_session_flags_do_not_apply() {
    let env = Env::new();
    let a = env.app("a", &[]);
    let b = env.app_from("events-example", "b", &[]);
    let mut first = env.spawn(&["link", a.to_str().unwrap(), "--no-watch", "--color", "always"]);
    let ready = first.wait_line("ready", |l| l.starts_with("ready in "));
    assert!(!ready.contains('\u{1b}'));
    assert!(first.seen.iter().any(|l| l.contains("\u{1b}[32minfo\u{1b}[0m")), "level coloured: {:?}", first.seen);
    let mut second = env.spawn(&["link", b.to_str().unwrap(), "--no-watch", "--json", "--port", "1"]);
    second.wait_json("warning", |v| {
        v["level"] == "warn"
            && v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("--port, --sender-interval and --no-sample-sender only apply"))
    });
    second.wait_json("ready", |v| v["type"] == "ready");
}

#[test]
fn a_terminal_that_does_not_read_never_gets_a_healthy_process_killed() {
    let env = Env::new();
    // Key `mark` logs one line: the app's log lines reach the session in order, after the
    // results that overtake them, so once `marker` is there every chatty line has been offered
    // to the terminal.
    let chatty = "export async function updateLiveUsers(ctx: any) {\n  if (ctx.key === 'mark') {\n    console.log('marker')\n    return true\n  }\n  for (let i = 0; i < 2000; i++) console.log('chatty ' + i + ' ' + 'x'.repeat(400))\n  return true\n}\n";
    let app = env.app(
        "app",
        &[
            ("node/event/liveUsersUpdate.ts", chatty),
            (
                "node/service.json",
                r#"{"events": {"liveUsersUpdate": {"sender": "ioctl.manual", "keys": ["talk", "mark"]}}}"#,
            ),
        ],
    );
    // `ioctl link | less`, paused: its stdout is a pipe nobody reads.
    let mut link = env
        .command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read until it is ready, then stop reading.
    let mut out = std::io::BufReader::new(link.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"type\":\"ready\"") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0, "link ended before ready");
    }
    let session = env.session_pid("dev").expect("the session");
    let node = env.node_processes("dev").first().copied().expect("the app's Node.js process");
    let sent = env.run(&["events", "send", "talk", "--repeat", "30"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    // 60,000 log lines no one reads: every delivery still succeeds, on the same process.
    let c = env.settled(30);
    assert_eq!((c["delivered"].as_u64(), c["failed"].as_u64()), (Some(30), Some(0)), "{c}");
    assert!(alive(node), "the healthy Node.js process was killed");
    assert_eq!(env.node_processes("dev").first().copied(), Some(node));
    // Results go out before queued log lines, so under load many lines are still on their way
    // when the counts settle: wait until the last of them has reached the session (its journal).
    assert_eq!(env.run(&["events", "send", "mark"]).status.code(), Some(0));
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap()).unwrap();
    let (url, bearer) = (record["url"].as_str().unwrap(), format!("Bearer {}", record["token"].as_str().unwrap()));
    eventually("the marker line in the session's journal", || {
        let (_, _, body) = http(url, "GET", "/_ioctl/api/logs?q=marker", &[("authorization", &bearer)], "");
        body.contains("\"marker\"").then_some(())
    });
    // The reader comes back (a thread reads every line from now on): with the next log line,
    // it is told how much it missed.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(out).map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut told = false;
    let until = std::time::Instant::now() + WAIT;
    let mut more = 0;
    while !told && std::time::Instant::now() < until {
        if more < 5 {
            more += 1;
            assert_eq!(env.run(&["events", "send", "talk"]).status.code(), Some(0));
        }
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            told |= line.contains("log line(s) skipped: the terminal was not reading");
        }
    }
    assert!(told, "the reader was never told how many lines it missed");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(link.id() as i32, libc::SIGINT) };
    let _ = link.wait();
    assert!(wait_gone(session));
}

/// node/node_modules/greeting: says `text`, and whether it loaded before any of the app's
/// modules (as a warm standby preloads it) or while the app loaded.
fn greeting_package(app: &std::path::Path, text: &str) {
    let dir = app.join("node/node_modules/greeting");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), r#"{"name":"greeting","version":"1.0.0","main":"index.js"}"#).unwrap();
    let index = format!(
        "const appLoading = Object.keys(require.cache).some((f) => f.endsWith('liveUsersUpdate.ts'))\n\
         module.exports = {{ text: '{text}', preloaded: !appLoading }}\n"
    );
    std::fs::write(dir.join("index.js"), index).unwrap();
}

fn greeting_handler(tag: &str) -> String {
    format!(
        "const greeting = require('greeting')\n\nexport async function updateLiveUsers() {{\n  \
         console.log(`{tag} ${{greeting.text}} preloaded=${{greeting.preloaded}}`)\n}}\n"
    )
}

/// Saves the handler with new tags until a relink shows `text` from a preloaded package;
/// every version must show `text`. (The standby preloads in the background after a relink,
/// so a save right after one may start cold.)
fn relink_until_preloaded(link: &mut Running, handler: &std::path::Path, text: &str, from: usize) -> usize {
    for n in from..from + 6 {
        let tag = format!("v{n}");
        std::fs::write(handler, greeting_handler(&tag)).unwrap();
        let line = link.wait_json("the new version", |v| {
            v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.starts_with(&format!("{tag} ")))
        });
        let message = line["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{tag} {text} ")), "stale dependency after relink: {message}");
        if message.ends_with("preloaded=true") {
            return n + 1;
        }
    }
    panic!("no relink used a standby that had preloaded `greeting`");
}

#[test]
fn relinks_use_preloaded_dependencies_and_an_install_replaces_them() {
    let env = Env::new();
    let app = env.app("app", &[("node/event/liveUsersUpdate.ts", &greeting_handler("v0"))]);
    greeting_package(&app, "hello-1");
    let handler = app.join("node/event/liveUsersUpdate.ts");
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.2"]);
    link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    link.wait_json("first version", |v| v["message"] == "v0 hello-1 preloaded=false");
    let next = relink_until_preloaded(&mut link, &handler, "hello-1", 1);

    // `npm install` of a new version: the package changes and npm rewrites its marker last.
    greeting_package(&app, "hello-2");
    std::fs::write(app.join("node/node_modules/.package-lock.json"), r#"{"lockfileVersion":3,"packages":{}}"#).unwrap();
    let change = link.wait_json("the install", |v| v["type"] == "change");
    assert_eq!(change["path"], "node/node_modules/.package-lock.json");
    link.wait_json("relinked", |v| v["type"] == "relinked");
    // (A stale standby would keep saying hello-1: this waits, then fails.)
    let line = link.wait_json("the reinstalled package", |v| {
        v["type"] == "log" && v["message"].as_str().is_some_and(|m| m.starts_with(&format!("v{} hello-2", next - 1)))
    });
    assert_eq!(line["message"], format!("v{} hello-2 preloaded=false", next - 1), "loaded afresh after the install");
    relink_until_preloaded(&mut link, &handler, "hello-2", next);
    assert_eq!(link.interrupt(), 0);
}
