//! End to end, issue 20: what the user hands ioctl (files, snapshots, keys, JSON, pages, names)
//! is refused at once with a message that names it when it is not what ioctl can take.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::harness::*;

/// Runs `ioctl ARGS` (in `dir`) with at most 1 GiB of address space and [`WAIT`] to end: a read
/// that never ends fails the test instead of hanging the suite or eating the machine's memory.
/// Returns the exit code (-1 when killed by a signal) and the output, stderr lines prefixed.
fn bounded(env: &Env, dir: Option<&Path>, args: &[&str]) -> (i32, String) {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" "$@""#)
        .arg(BIN)
        .args(args)
        .env("IOCTL_HOME", env.home())
        .env("NO_COLOR", "1")
        .env_remove("IOCTL_ACCOUNT")
        .env_remove("IOCTL_WORKSPACE")
        .stdin(Stdio::null());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let mut run = Running::from_command(c);
    let code = run.wait_exit();
    (code, run.seen.join("\n"))
}

/// `bounded`, which must exit with `code` and print `expected`.
fn refused(env: &Env, dir: Option<&Path>, args: &[&str], code: i32, expected: &str) -> String {
    let (got, out) = bounded(env, dir, args);
    assert_eq!(got, code, "{args:?}: {out}");
    assert!(out.contains(expected), "{args:?}: expected `{expected}` in:\n{out}");
    out
}

fn run_ok(env: &Env, args: &[&str]) -> String {
    let (code, out) = bounded(env, None, args);
    assert_eq!(code, 0, "{args:?}: {out}");
    out
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// `[[[…]]]`, `n` deep.
fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn a_device_a_fifo_or_a_huge_file_is_refused_at_once_saying_what_it_is() {
    let env = Env::new();
    let fifo = env.dir.path().join("pipe.json");
    mkfifo(&fifo);
    let big = env.dir.path().join("big.json");
    std::fs::write(&big, format!("\"{}\"", "x".repeat(3 << 20))).unwrap();
    let (fifo, big) = (fifo.to_str().unwrap(), big.to_str().unwrap());
    let device = "is a character device, not a regular file";
    let pipe = "pipe.json: is a FIFO (named pipe), not a regular file";
    for file in ["/dev/zero", "/dev/urandom"] {
        let out =
            refused(&env, None, &["events", "send", "k", "--data-file", file], 1, &format!("{file}:1:1: {device}"));
        assert!(out.contains("nothing was published"), "{out}");
    }
    let at = "pipe.json:1:1: is a FIFO (named pipe), not a regular file";
    refused(&env, None, &["events", "send", "k", "--data-file", fifo], 1, at);
    refused(&env, None, &["events", "send", "k", "--data-file", big], 1, "big.json:1:1: is larger than 2 MiB");
    let service = env.app("service", &[]);
    std::fs::remove_file(service.join("node/service.json")).unwrap();
    mkfifo(&service.join("node/service.json"));
    let what = "service.json: is a FIFO (named pipe), not a regular file";
    refused(&env, None, &["link", service.to_str().unwrap(), "--no-watch"], 1, what);
    for file in ["/dev/zero", fifo] {
        let what = if file == fifo { pipe.to_string() } else { format!("/dev/zero: {device}") };
        refused(&env, None, &["masterdata", "import", "E", file], 1, &what);
        refused(&env, None, &["settings", "set", "acme.a", "--file", file], 1, &what);
        refused(&env, None, &["vbase", "put", "acme.a", "b", "x", "--file", file], 1, &what);
    }

    // A snapshot whose files link to a device, or are FIFOs: refused, and nothing imported.
    run_ok(&env, &["settings", "set", "acme.a", "color=blue"]);
    let snap = env.dir.path().join("snap");
    std::fs::create_dir_all(snap.join("masterdata")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", snap.join("settings.json")).unwrap();
    let snap_arg = snap.to_str().unwrap();
    let out = refused(&env, None, &["data", "import", snap_arg], 1, &format!("settings.json: {device}"));
    assert!(out.contains("nothing was imported"), "{out}");
    std::fs::remove_file(snap.join("settings.json")).unwrap();
    std::fs::write(snap.join("settings.json"), r#"{"acme.a": {"color": "red"}}"#).unwrap();
    mkfifo(&snap.join("masterdata/E.json"));
    refused(&env, None, &["data", "import", snap_arg], 1, "E.json: is a FIFO (named pipe), not a regular file");
    assert_eq!(run_ok(&env, &["settings", "get", "acme.a", "--json"]).trim(), r#"{"color":"blue"}"#);
}

/// Settings, VBase and Master Data as the CLI reads them back.
fn state(env: &Env) -> Vec<String> {
    let vbase = |path: &str| bounded(env, None, &["vbase", "get", "acme.store-app", "b", path]);
    vec![
        run_ok(env, &["settings", "get", "acme.store-app", "--json"]),
        run_ok(env, &["settings", "get", "acme.other", "--json"]),
        format!("{:?}", vbase("x.json")),
        format!("{:?}", vbase("y.json")),
        run_ok(env, &["masterdata", "export", "things"]),
        run_ok(env, &["masterdata", "export", "zz"]),
    ]
}

#[test]
fn a_data_import_with_one_bad_file_changes_nothing() {
    let env = Env::new();
    // Linking records the app's settingsSchema (maxItems: at most 50) in the workspace.
    let app = crate::platform::fixture(&env, "app");
    let (mut link, _) = crate::platform::link(&env, &app, &[]);
    assert_eq!(link.interrupt(), 0);
    refused(&env, None, &["settings", "set", "acme.store-app", "maxItems=500"], 1, "/maxItems: ");
    run_ok(&env, &["settings", "set", "acme.store-app", "maxItems=20"]);
    run_ok(&env, &["vbase", "put", "acme.store-app", "b", "x.json", "--data", r#"{"v":1}"#]);
    let docs = env.dir.path().join("docs.json");
    std::fs::write(&docs, r#"[{"id": "1", "name": "one"}]"#).unwrap();
    run_ok(&env, &["masterdata", "import", "things", docs.to_str().unwrap()]);
    let before = state(&env);
    assert!(
        before[0].contains(r#""maxItems":20"#) && before[2].contains("0, ") && before[4].contains("one"),
        "{before:?}"
    );

    let snap = env.dir.path().join("snap");
    std::fs::create_dir_all(snap.join("masterdata")).unwrap();
    let write = |rel: &str, v: Value| std::fs::write(snap.join(rel), v.to_string()).unwrap();
    write(
        "vbase.json",
        json!([
            {"app": "acme.store-app", "bucket": "b", "path": "x.json", "contentType": "application/json", "json": {"v": 2}},
            {"app": "acme.store-app", "bucket": "b", "path": "y.json", "contentType": "application/json", "json": 1}
        ]),
    );
    write("masterdata/things.json", json!([{"id": "1", "name": "changed"}, {"id": "2"}]));
    write("masterdata/_schemas.json", json!([{"entity": "things", "name": "v1", "body": {"type": "object"}}]));
    let import = ["data", "import", snap.to_str().unwrap()];

    // One settings value over the recorded schema (as `settings set` refuses it).
    write("settings.json", json!({"acme.other": {"x": 1}, "acme.store-app": {"maxItems": 999}}));
    let out = refused(&env, None, &import, 1, "settings.json: acme.store-app: /maxItems: must be <=50, but got 999");
    assert!(out.contains("nothing was imported"), "{out}");
    assert_eq!(state(&env), before);

    // Good settings, and a document that is not an object in the last entity file.
    write("settings.json", json!({"acme.other": {"x": 1}, "acme.store-app": {"maxItems": 30}}));
    write("masterdata/zz.json", json!([{"id": "z"}, 5]));
    refused(&env, None, &import, 1, "zz.json: document 2: Master Data: a document's fields must be a JSON object");
    assert_eq!(state(&env), before);

    std::fs::remove_file(snap.join("masterdata/zz.json")).unwrap();
    let out = run_ok(&env, &import);
    assert!(out.contains("imported 2 app settings, 2 VBase files, 2 Master Data documents, 1 schemas"), "{out}");
    let after = state(&env);
    assert!(after[0].contains(r#""maxItems":30"#) && after[4].contains("changed"), "{after:?}");
}

#[test]
fn deep_keys_and_deeply_nested_json_are_errors_not_crashes() {
    let env = Env::new();
    run_ok(&env, &["settings", "set", "acme.a", "color=blue"]);
    let key = vec!["a"; 20_000].join(".");
    let too_deep = "names 20000 nested fields; a dotted key names at most 64";
    let out = refused(&env, None, &["settings", "set", "acme.a", &format!("{key}=1")], 1, too_deep);
    assert!(out.len() < 1000, "the key is clipped in the message: {} bytes", out.len());
    refused(&env, None, &["events", "trigger", "order-created", "--set", &format!("{key}=1")], 1, too_deep);

    // A value that parses, under a key: deeper than what reads back, so refused, not saved.
    let value = format!("k={}", nested(127));
    refused(&env, None, &["settings", "set", "acme.a", &value], 1, "would nest 128 levels deep; at most 100");
    refused(&env, None, &["events", "trigger", "order-created", "--set", &value], 1, "the event body would nest");

    // JSON deeper than serde_json reads is an error wherever the user passes it.
    let deep = nested(5000);
    refused(&env, None, &["events", "send", "k", "--data", &deep], 1, "recursion limit exceeded");
    refused(&env, None, &["vbase", "put", "acme.a", "b", "x", "--data", &deep], 1, "--data must be JSON");
    let file = env.dir.path().join("deep.json");
    std::fs::write(&file, &deep).unwrap();
    let file = file.to_str().unwrap();
    refused(&env, None, &["settings", "set", "acme.a", "--file", file], 1, "deep.json: not JSON");
    refused(&env, None, &["masterdata", "import", "E", file], 1, "deep.json: not a JSON array of documents");
    refused(&env, None, &["events", "send", "k", "--data-file", file], 1, "recursion limit exceeded");
    let snap = env.dir.path().join("snap");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("settings.json"), format!(r#"{{"acme.a": {deep}}}"#)).unwrap();
    refused(&env, None, &["data", "import", snap.to_str().unwrap()], 1, "settings.json: not valid");
    assert_eq!(run_ok(&env, &["settings", "get", "acme.a", "--json"]).trim(), r#"{"color":"blue"}"#);
}

#[test]
fn a_search_page_past_any_count_is_empty_not_page_one() {
    let env = Env::new();
    let docs = env.dir.path().join("docs.json");
    std::fs::write(&docs, r#"[{"id": "a"}, {"id": "b"}, {"id": "c"}]"#).unwrap();
    run_ok(&env, &["masterdata", "import", "E", docs.to_str().unwrap()]);
    let page = |p: &str, size: &str| {
        let out = run_ok(&env, &["masterdata", "search", "E", "--page", p, "--page-size", size, "--json"]);
        serde_json::from_str::<Value>(out.trim()).unwrap()
    };
    assert_eq!(page("1", "2")["data"], json!([{"id": "a"}, {"id": "b"}]));
    for (p, size) in [("9223372036854775807", "100"), ("18446744073709551615", "1"), ("92233720368547759", "100")] {
        let v = page(p, size);
        assert_eq!((v["data"].clone(), v["total"].clone()), (json!([]), json!(3)), "page {p} × {size}");
    }
    let out = run_ok(&env, &["masterdata", "search", "E", "--page", "9223372036854775807"]);
    assert!(out.contains("none of 3 documents in E"), "{out}");
}

#[test]
fn weak_messages_now_name_the_thing_and_what_it_should_be() {
    let env = Env::new();
    // manifest.json that is a folder or a FIFO: said so, not "no manifest.json here".
    let folder = env.app("folder", &[]);
    std::fs::remove_file(folder.join("manifest.json")).unwrap();
    std::fs::create_dir(folder.join("manifest.json")).unwrap();
    let dir = folder.to_str().unwrap();
    refused(&env, None, &["link", dir, "--no-watch"], 1, "manifest.json: is a folder, not a file");
    let fifo = env.app("fifo", &[]);
    std::fs::remove_file(fifo.join("manifest.json")).unwrap();
    mkfifo(&fifo.join("manifest.json"));
    let pipe = "manifest.json: is a FIFO (named pipe), not a file";
    refused(&env, None, &["link", fifo.to_str().unwrap(), "--no-watch"], 1, pipe);
    refused(&env, Some(&fifo.join("node")), &["settings", "get"], 1, pipe);

    // App ids: the bad one named, and what an id looks like.
    let form = "an app id is `vendor.name`";
    let out = refused(&env, None, &["vbase", "get", "not an app", "b", "x"], 2, form);
    assert!(out.contains("'not an app'"), "{out}");
    refused(&env, None, &["settings", "get", "vtex"], 2, form);
    refused(&env, None, &["settings", "set", "Acme.App", "k=1"], 2, &format!("invalid app id `Acme.App`: {form}"));

    // A `where` too complex: a positioned 400-style error with the limit.
    let ors = |n: usize| (0..n).map(|i| format!("id={i}")).collect::<Vec<_>>().join(" OR ");
    let column = ors(256).len() + " OR ".len() + 1;
    let expected =
        format!("invalid where at column {column}: the condition is too complex: a where joins at most 256 conditions");
    refused(&env, None, &["masterdata", "search", "E", "--where", &ors(5000)], 1, &expected);

    // Account and workspace names: checked up front, bad usage.
    let long = "a".repeat(5000);
    let out = refused(&env, None, &["status", "-a", &long], 2, "invalid account `aaa");
    assert!(out.contains("use 1 to 64 letters, digits, `-` and `_`") && out.len() < 500, "{out}");
    refused(&env, None, &["vbase", "ls", "acme.a", "b", "-w", &long], 2, "invalid workspace");
    assert!(!env.home().join("data").join(&long).exists());
}
