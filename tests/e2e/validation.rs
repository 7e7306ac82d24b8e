//! End to end: bad manifest.json / service.json files and bad flags, as a user meets them —
//! the exit code and the positioned message `ioctl` prints.

use std::path::Path;

use crate::harness::*;

const MANIFEST: &str = include_str!("../../templates/service-course/manifest.json");
const SERVICE: &str = include_str!("../../templates/service-course/node/service.json");

/// `ioctl link APP --no-watch`, which must refuse the app: its stdout and stderr together.
fn link_refuses(env: &Env, app: &Path) -> String {
    let out = env.run(&["link", app.to_str().unwrap(), "--no-watch"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", &text[..text.len().min(4000)]);
    assert!(!env.home().join("sessions/local/dev.json").exists(), "no session for a bad app");
    text
}

#[test]
fn a_huge_one_line_file_shows_a_short_frame() {
    let env = Env::new();
    let service = format!(r#"{{"memory": 256, "stack": "{}", "timeout": -1}}"#, "x".repeat(50_000_000));
    let app = env.app("app", &[("node/service.json", &service)]);
    let text = link_refuses(&env, &app);
    assert!(text.len() < 4000, "{} bytes of output", text.len());
    assert!(
        text.contains(
            "node/service.json:1:50000030: `timeout` must be a number of seconds (VTEX documents 1 to 60), not -1"
        ),
        "{text}"
    );
    assert!(text.contains(" │ …xxx") && text.contains(r#"xxx", "timeout": -1}"#), "{text}");
}

#[test]
fn a_diagnostic_points_at_the_key_not_an_equal_string_before_it() {
    let env = Env::new();
    let manifest =
        MANIFEST.replace(r#""title": "Service Course""#, r#""title": "vendor""#).replace(r#""vtex""#, r#""Vtex""#);
    let app = env.app("app", &[("manifest.json", &manifest)]);
    let text = link_refuses(&env, &app);
    assert!(text.contains("manifest.json:3:3: invalid vendor `Vtex`"), "{text}");
}

#[test]
fn bytes_that_are_not_utf8_are_positioned() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut bytes = MANIFEST.as_bytes().to_vec();
    let at = MANIFEST.find("Service Course").unwrap();
    bytes[at] = 0xFF;
    std::fs::write(app.join("manifest.json"), &bytes).unwrap();
    let text = link_refuses(&env, &app);
    assert!(text.contains("manifest.json:5:13: this file is not valid UTF-8 (byte 0xFF)"), "{text}");
    assert!(text.contains("save the file as UTF-8"), "{text}");
}

#[test]
fn a_bom_is_accepted_in_both_files() {
    let env = Env::new();
    let (manifest, service) = (format!("\u{FEFF}{MANIFEST}"), format!("\u{FEFF}{SERVICE}"));
    let app = env.app("app", &[("manifest.json", &manifest), ("node/service.json", &service)]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(ready["app"], "vtex.service-course@0.0.1");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn duplicate_handler_ids_are_refused_at_the_second() {
    let env = Env::new();
    let service = r#"{
  "events": {
    "liveUsersUpdate": { "sender": "vtex.events-example", "keys": ["send-event"] },
    "liveUsersUpdate": { "sender": "vtex.events-example", "keys": ["other"] }
  }
}"#;
    let app = env.app("app", &[("node/service.json", service)]);
    let text = link_refuses(&env, &app);
    assert!(
        text.contains("node/service.json:4:5: duplicate event handler id `liveUsersUpdate` in `events` (first at line 3, column 5)"),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_an_object_says_what_was_expected() {
    let env = Env::new();
    let app = env.app("app", &[("node/service.json", "[]\n")]);
    let text = link_refuses(&env, &app);
    assert!(text.contains("node/service.json:1:1: node/service.json must be a JSON object, not an array"), "{text}");
    assert!(!text.contains("struct") && !text.contains("ServiceJson"), "{text}");
    let app = env.app("app2", &[("manifest.json", "\"vtex.app\"")]);
    let text = link_refuses(&env, &app);
    assert!(text.contains("manifest.json:1:1: manifest.json must be a JSON object, not a string"), "{text}");
}

#[test]
fn every_case_of_master_is_refused() {
    let env = Env::new();
    let app = env.app("app", &[]);
    for ws in ["MASTER", "Master", "master"] {
        let out = env.run(&["link", app.to_str().unwrap(), "-w", ws]);
        assert_eq!(out.status.code(), Some(1), "{ws}");
        assert!(stderr(&out).contains("cannot link in workspace `master`"), "{ws}: {}", stderr(&out));
    }
}

#[test]
fn help_lists_the_templates_init_has() {
    let env = Env::new();
    let out = env.run(&["--help"]);
    let help = stdout(&out);
    let line = help.lines().find(|l| l.trim_start().starts_with("init")).unwrap();
    assert!(line.ends_with("(events-example, service-course)"), "{line}");
    for template in ["events-example", "service-course"] {
        let dir = env.dir.path().join(template);
        assert_eq!(env.run(&["init", template, dir.to_str().unwrap()]).status.code(), Some(0), "{template}");
    }
}

#[test]
fn rate_and_repeat_out_of_range_are_usage_errors() {
    let env = Env::new();
    for rate in ["nan", "inf", "-inf", "0", "-5", "1e12", "1e-20", "100001"] {
        let out = env.run(&["events", "send", "k", "--repeat", "10", "--rate", rate]);
        assert_eq!(out.status.code(), Some(2), "{rate}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("--rate") && err.contains("from 0.001 to 100000"), "{rate}: {err}");
    }
    let out = env.run(&["events", "send", "k", "--repeat", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--repeat"), "{}", stderr(&out));
}
