//! End to end, issue 20: what the user hands ioctl (files, snapshots, keys, JSON, pages, names)
//! is refused at once with a message that names it when it is not what ioctl can take.

use std::path::Path;
use std::process::{Command, Stdio};

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

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
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
    let snap = env.dir.path().join("snap");
    std::fs::create_dir_all(snap.join("masterdata")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", snap.join("settings.json")).unwrap();
    let snap_arg = snap.to_str().unwrap();
    refused(&env, None, &["data", "import", snap_arg], 1, &format!("settings.json: {device}"));
    std::fs::remove_file(snap.join("settings.json")).unwrap();
    std::fs::write(snap.join("settings.json"), r#"{"acme.a": {"color": "red"}}"#).unwrap();
    mkfifo(&snap.join("masterdata/E.json"));
    refused(&env, None, &["data", "import", snap_arg], 1, "E.json: is a FIFO (named pipe), not a regular file");
}
