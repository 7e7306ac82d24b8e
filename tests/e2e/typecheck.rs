//! The type check after each good build (with the node builder's TypeScript and the real
//! @vtex/api declarations): positioned type errors off the relink path, `types are clean
//! again`, `--strict-types` refusing a build, `--no-typecheck`, the `typecheck` JSON record,
//! and `ioctl setup` making the builder's `tsc --noEmit` pass on the template.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

const HANDLER: &str = "node/event/liveUsersUpdate.ts";

/// The template's handler, logging `message`, with `extra` appended.
fn handler(message: &str, extra: &str) -> String {
    format!(
        "export async function updateLiveUsers(_ctx: StatusChangeContext) {{\n  console.log('{message}')\n  return true\n}}\n{extra}"
    )
}

/// `ioctl link` with the type check in the mode its flags say (the harness turns it off).
fn link(env: &Env, app: &Path, flags: &[&str]) -> Running {
    let mut args = vec!["link", app.to_str().unwrap(), "--sender-interval", "0.2"];
    args.extend_from_slice(flags);
    let mut command = env.command(&args);
    command.env_remove("IOCTL_TYPECHECK");
    Running::from_command(command)
}

#[test]
fn a_type_error_is_reported_positioned_off_the_relink_while_events_keep_flowing_and_its_fix_is_clean_again() {
    let env = Env::new();
    let app = env.app("app", &[(HANDLER, &handler("v1 handler", ""))]);
    let mut link = link(&env, &app, &[]);
    link.wait_line("ready", |l| l.starts_with("ready in "));
    // The first check (after the checker's packages are installed, once per machine).
    link.wait_line("first check", |l| l.contains("info: types are clean (TypeScript 3.9.7"));
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));
    link.wait_line("events handled", |l| l.contains("v1 handler"));

    let saved = Instant::now();
    std::fs::write(app.join(HANDLER), handler("v2 handler", "export const n: number = 'x'\n")).unwrap();
    let error = link.wait_line("type error", |l| l.contains("type error TS"));
    let took = saved.elapsed();
    assert!(
        error.ends_with(
            "error: node/event/liveUsersUpdate.ts:5:14: type error TS2322: Type '\"x\"' is not assignable to type 'number'."
        ),
        "{error}"
    );
    assert!(took < Duration::from_secs(5), "the type error came {took:?} after the save");
    link.wait_line("code frame", |l| l.contains("5 │ export const n: number = 'x'"));
    link.wait_line("summary", |l| {
        l.contains("warn: 1 type error; the app runs the last build anyway (TypeScript 3.9.7")
    });
    // The relink did not wait for the check, and the new version handles events.
    let relinked = link.seen.iter().position(|l| l.contains("relinked in ")).expect("relinked");
    let reported = link.seen.iter().position(|l| l.contains("type error TS2322")).unwrap();
    assert!(relinked < reported, "the relink answers before the check:\n{}", link.seen.join("\n"));
    link.wait_line("new version's events", |l| l.contains("v2 handler"));

    std::fs::write(app.join(HANDLER), handler("v3 handler", "export const n: number = 3\n")).unwrap();
    link.wait_line("clean again", |l| l.contains("info: types are clean again (TypeScript 3.9.7"));
    link.wait_line("fixed version's events", |l| l.contains("v3 handler"));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn strict_types_refuses_a_build_with_a_type_error_and_the_previous_version_keeps_serving() {
    let env = Env::new();
    let app = env.app("app", &[(HANDLER, &handler("v1 handler", ""))]);
    let mut link = link(&env, &app, &["--strict-types", "--json"]);
    // Strict: the first build is checked before it goes live.
    link.wait_json("clean check", |v| v["type"] == "typecheck" && v["outcome"] == "clean");
    link.wait_json("ready", |v| v["type"] == "ready");
    assert_eq!(env.run(&["healthcheck"]).status.code(), Some(0));

    std::fs::write(app.join(HANDLER), handler("v2 handler", "export const n: number = 'x'\n")).unwrap();
    let report = link.wait_json("refused", |v| v["type"] == "typecheck" && v["outcome"] == "errors");
    assert_eq!(report["refused"], true);
    assert_eq!(report["errors"][0]["code"], 2322);
    link.wait_json("build failed", |v| v["message"] == "App build failed. Waiting for changes...");
    // The events keep going to the previous version.
    let from = link.seen.len();
    link.wait_json("previous version", |v| v["type"] == "log" && v["message"] == "v1 handler");
    let later = link.collect_for(Duration::from_millis(800));
    assert!(
        !link.seen[from..].iter().chain(&later).any(|l| l.contains("v2 handler") || l.contains("\"relinked\"")),
        "{}",
        link.seen.join("\n")
    );

    std::fs::write(app.join(HANDLER), handler("v3 handler", "export const n: number = 3\n")).unwrap();
    link.wait_json("clean again", |v| v["type"] == "typecheck" && v["outcome"] == "clean_again");
    link.wait_json("relinked", |v| v["type"] == "relinked");
    link.wait_json("fixed version", |v| v["type"] == "log" && v["message"] == "v3 handler");
    assert_eq!(link.interrupt(), 0);
}

/// Also: node builder 7.x apps are checked with TypeScript 5.5.3.
#[test]
fn json_carries_type_checks_as_typecheck_records() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let manifest = std::fs::read_to_string(app.join("manifest.json")).unwrap();
    std::fs::write(app.join("manifest.json"), manifest.replace("\"node\": \"6.x\"", "\"node\": \"7.x\"")).unwrap();
    let mut link = link(&env, &app, &["--json"]);
    let clean = link.wait_json("first check", |v| v["type"] == "typecheck");
    assert_eq!((clean["outcome"].as_str(), clean["typescript"].as_str()), (Some("clean"), Some("5.5.3")), "{clean}");
    assert_eq!(clean["errors"], serde_json::json!([]));

    std::fs::write(app.join(HANDLER), handler("v2", "export const n: number = 'x'\n")).unwrap();
    let report = link.wait_json("errors", |v| v["type"] == "typecheck" && v["outcome"] == "errors");
    let error = &report["errors"][0];
    assert_eq!(
        (error["code"].as_u64(), error["file"].as_str(), error["line"].as_u64(), error["column"].as_u64()),
        (Some(2322), Some(HANDLER), Some(5), Some(14)),
        "{report}"
    );
    assert_eq!(error["message"], "Type 'string' is not assignable to type 'number'.");
    assert_eq!(report["refused"], false);
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn no_typecheck_starts_no_checker_and_prints_nothing_of_types() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let mut link = link(&env, &app, &["--no-typecheck"]);
    link.wait_line("ready", |l| l.starts_with("ready in "));
    std::fs::write(app.join(HANDLER), handler("v2", "export const n: number = 'x'\n")).unwrap();
    link.wait_line("relinked", |l| l.contains("relinked in "));
    let after = link.collect_for(Duration::from_secs(3));
    assert!(!link.seen.iter().chain(&after).any(|l| l.contains("type")), "{}", link.seen.join("\n"));
    // With the check on, its process starts right after the first good build.
    let checkers: Vec<u32> = env
        .node_processes("dev")
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("checker.js"))
        })
        .collect();
    assert!(checkers.is_empty(), "checker processes: {checkers:?}");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn setup_writes_the_declarations_and_the_builders_tsc_passes_on_the_template() {
    let env = Env::new();
    let app = env.dir.path().join("fresh");
    assert_eq!(env.run(&["init", "service-course", app.to_str().unwrap()]).status.code(), Some(0));
    let out = env.run(&["setup", app.to_str().unwrap()]);
    let said = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{}", stderr(&out));
    assert!(said.contains("wrote node/node_modules/@vtex/api 6.51.3 ("), "{said}");
    assert!(said.contains("node/tsconfig.json: kept as it is"), "{said}");
    assert!(app.join("node/node_modules/@vtex/api/lib/index.d.ts").is_file());
    assert!(!app.join("node/node_modules/@vtex/api/lib/index.js").exists(), "declarations only");

    // The command setup prints: the builder's TypeScript (3.9.7 for node 6.x) from the cache.
    let line = said.lines().find_map(|l| l.strip_prefix("check with the builder's TypeScript: node ")).expect(&said);
    let tsc = line.split(' ').next().unwrap();
    assert!(tsc.contains("/node_modules/typescript/bin/tsc"), "{tsc}");
    let tsc_run = || Command::new("node").args([tsc, "--noEmit", "-p"]).arg(app.join("node")).output().unwrap();
    let clean = tsc_run();
    assert_eq!(clean.status.code(), Some(0), "{}{}", stdout(&clean), stderr(&clean));

    // A real check: a type error fails it.
    std::fs::write(app.join(HANDLER), handler("v2", "export const n: number = 'x'\n")).unwrap();
    let broken = tsc_run();
    assert_ne!(broken.status.code(), Some(0), "{}", stdout(&broken));
    assert!(stdout(&broken).contains("error TS2322"), "{}", stdout(&broken));

    // A second setup replaces its own copies and keeps the app's.
    let again = env.run(&["setup", app.to_str().unwrap()]);
    assert!(stdout(&again).contains("wrote node/node_modules/@vtex/api 6.51.3 ("), "{}", stdout(&again));
}
