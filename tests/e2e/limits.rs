//! End to end: the session's limits as another local user or a web page would meet them —
//! loopback Host only, an unresponsive session is a clear error (not a hang), readers that go
//! away end commands quietly, private modes, and sessions of another protocol version.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Starts a link of the template (no watch, no sample sender); returns it and the session URL.
fn linked(env: &Env) -> (Running, String) {
    let app = env.app("app", &[]);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    (link, ready["url"].as_str().unwrap().to_string())
}

/// The status line of a raw GET with the given Host header.
fn status_with_host(url: &str, path: &str, host: &str) -> String {
    let mut s = std::net::TcpStream::connect(url.strip_prefix("http://").unwrap()).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_string()
}

#[test]
fn only_loopback_host_names_are_answered() {
    let env = Env::new();
    let (mut link, url) = linked(&env);
    let port = url.rsplit(':').next().unwrap();
    for path in ["/_ioctl/session", "/_v/app/events-example/hcheck", "/anything"] {
        let evil = status_with_host(&url, path, "evil.example");
        assert!(evil.contains(" 421 "), "{path} with Host evil.example: {evil}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let ok = status_with_host(&url, "/_ioctl/session", &host);
        assert!(ok.contains(" 401 "), "a loopback Host reaches the token check: {ok}");
    }
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_stopped_session_is_a_clear_error_not_a_hang() {
    let env = Env::new();
    let (mut link, _) = linked(&env);
    let session = env.session_pid("dev").unwrap();
    // SAFETY: signalling our own test's child process.
    unsafe { libc::kill(session as i32, libc::SIGSTOP) };
    let t = Instant::now();
    let out = env.run(&["status", "--timeout", "1"]);
    let took = t.elapsed();
    unsafe { libc::kill(session as i32, libc::SIGCONT) };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("did not answer within 1.0 s"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(20), "status waited {took:?}");
    assert_eq!(env.run(&["status"]).status.code(), Some(0), "the session answers again after SIGCONT");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn commands_end_quietly_when_their_reader_goes_away() {
    let env = Env::new();
    let (mut link, _) = linked(&env);
    let sh = |script: &str| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script.replace("IOCTL", BIN))
            .env("IOCTL_HOME", env.home())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{script}: {err}");
        out
    };
    let out = sh("IOCTL status | head -1");
    assert_eq!(stdout(&out).lines().count(), 1);
    sh("IOCTL events send ping --json | true");
    // A quiet tail whose reader has gone ends by itself, within a few seconds.
    let t = Instant::now();
    let out = sh("IOCTL events tail | head -1");
    assert!(stdout(&out).starts_with("tailing events of account local, workspace dev"), "{}", stdout(&out));
    assert!(t.elapsed() < Duration::from_secs(10), "tail outlived its reader: {:?}", t.elapsed());
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn state_is_private_to_its_user() {
    let env = Env::new();
    let (mut link, _) = linked(&env);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let home = env.home();
    for dir in [home.clone(), home.join("sessions"), home.join("sessions/local")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    assert_eq!(mode(&home.join("sessions/local/dev.json")), 0o600);
    assert_eq!(mode(&home.join("sessions/local/dev.log")), 0o600);
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_session_of_another_protocol_version_is_named() {
    let env = Env::new();
    let dir = env.home().join("sessions/local");
    std::fs::create_dir_all(&dir).unwrap();
    // An older session: no protocol field, and a live pid (this test's own).
    let record = serde_json::json!({
        "url": "http://127.0.0.1:9", "pid": std::process::id(), "token": "x",
        "account": "local", "workspace": "dev", "apps": [], "started": ""
    });
    std::fs::write(dir.join("dev.json"), record.to_string()).unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("speaks an older ioctl") && err.contains("stop the old session"), "{err}");
}
