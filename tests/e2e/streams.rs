//! The `--json` streams as scripts read them: every line `ioctl link --json` and `ioctl events
//! tail --json` print is one record of `ioctl::protocol::stream`, byte for byte, and a session's
//! life (a warning, ready, logs, a broken save, a fix, the end) shows every kind of record.

use std::collections::BTreeSet;

use ioctl::protocol::stream::{LinkRecord, TailRecord};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::harness::*;

/// The `type` of every stdout line of `run`, each checked to read back as a `T` that writes
/// the very same line.
fn record_types<T: Serialize + DeserializeOwned>(run: &Running) -> BTreeSet<String> {
    let lines = run.seen.iter().filter(|l| !l.starts_with("stderr: "));
    lines
        .map(|line| {
            let record: T = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a record ({e}): {line}"));
            assert_eq!(serde_json::to_string(&record).unwrap(), *line, "the record writes back another line");
            let v: Value = serde_json::from_str(line).unwrap();
            v["type"].as_str().unwrap_or_else(|| panic!("no type: {line}")).to_string()
        })
        .collect()
}

fn types(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn every_json_line_of_link_and_tail_is_one_typed_record() {
    let env = Env::new();
    // A handler without a sender is a warning, positioned in service.json.
    let service = r#"{ "timeout": 2, "events": { "liveUsersUpdate": { "keys": ["send-event"] } } }"#;
    let app = env.app("app", &[("node/service.json", service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--sender-interval", "0.2"]);
    let warning = link.wait_json("the warning", |v| v["type"] == "warning");
    assert_eq!(warning["file"], "node/service.json", "{warning}");
    link.wait_json("ready", |v| v["type"] == "ready");
    let mut tail = env.spawn(&["events", "tail", "--json"]);
    tail.wait_json("hello", |v| v["type"] == "hello");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    tail.wait_json("a delivery", |v| v["type"] == "delivery");
    link.wait_json("the handler's log", |v| v["type"] == "log" && v["handler"] == "liveUsersUpdate");

    // A save that breaks the build, then one that fixes it.
    let handler = app.join("node/event/liveUsersUpdate.ts");
    let good = std::fs::read_to_string(&handler).unwrap();
    std::fs::write(&handler, format!("{good}\nexport const broken = (;\n")).unwrap();
    let error = link.wait_json("the build error", |v| v["type"] == "error");
    assert_eq!(error["file"], "node/event/liveUsersUpdate.ts", "{error}");
    std::fs::write(&handler, format!("{good}\n")).unwrap();
    link.wait_json("relinked", |v| v["type"] == "relinked");

    assert_eq!(link.interrupt(), 0);
    tail.wait_json("the end", |v| v["type"] == "session_end");
    assert_eq!(tail.wait_exit(), 0);

    let link_types = record_types::<LinkRecord>(&link);
    let expected = types(&["ready", "log", "status", "change", "relinked", "error", "warning", "stopped"]);
    assert_eq!(link_types, expected, "link --json:\n{}", link.seen.join("\n"));
    let tail_types = record_types::<TailRecord>(&tail);
    // `lagged` only comes to a tail that falls behind the session.
    let expected = types(&["hello", "event", "delivery", "session_end"]);
    assert_eq!(tail_types, expected, "tail --json:\n{}", tail.seen.join("\n"));
}
