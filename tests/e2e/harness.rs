//! Shared harness for end-to-end tests: runs the real `ioctl` binary with real Node.js
//! against app folders copied into a fresh temp dir, with its own IOCTL_HOME.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_ioctl");
/// Upper bound for anything a test waits for (not a performance assertion).
pub const WAIT: Duration = Duration::from_secs(30);

pub struct Env {
    pub dir: tempfile::TempDir,
    /// The PostgreSQL store its commands use (`IOCTL_STORE`); SQLite under its home when None.
    pub store: Option<String>,
}

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().unwrap(), store: None }
    }

    /// An environment whose storage is a fresh database of the test binary's PostgreSQL
    /// server (started once, see `ioctl::store::pg::server`).
    pub fn postgres(hint: &str) -> Env {
        Env { store: Some(postgres_database(hint)), ..Env::new() }
    }

    /// Another machine on the same store: its own home, the same database.
    pub fn beside(&self) -> Env {
        Env { store: self.store.clone(), ..Env::new() }
    }

    /// The variables a process of this environment needs (for commands built by hand).
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![("IOCTL_HOME", self.home().display().to_string())];
        vars.extend(self.store.clone().map(|url| ("IOCTL_STORE", url)));
        vars
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// templates/service-course copied to `<tmp>/<name>`, with `files` written over it.
    pub fn app(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        self.app_from("service-course", name, files)
    }

    /// templates/`template` copied to `<tmp>/<name>`, with `files` written over it.
    pub fn app_from(&self, template: &str, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root = self.dir.path().join(name);
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates").join(template), &root);
        for (rel, text) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        root
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(Path::new(BIN), args)
    }

    /// `command`, running another build of ioctl (the benchmarks' baseline).
    pub fn command_of(&self, bin: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.args(args)
            .env("IOCTL_HOME", self.home())
            .env("NO_COLOR", "1")
            .env_remove("IOCTL_ACCOUNT")
            .env_remove("IOCTL_WORKSPACE")
            .env_remove("IOCTL_STORE")
            // The type checker (a Node process per linked app) only where a test asks for it
            // (tests/e2e/typecheck.rs, the relink benchmarks): the others count the session's
            // Node processes, and two cores are shared by the whole suite.
            .env("IOCTL_TYPECHECK", "off")
            .stdin(Stdio::null());
        if let Some(url) = &self.store {
            c.env("IOCTL_STORE", url);
        }
        c
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Starts a long-running command whose stdout lines are collected.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::from_command(self.command(args))
    }
}

/// A fresh database on the test binary's PostgreSQL server. The end-to-end tests need
/// PostgreSQL (Debian's `postgresql`; `.ci/run` installs it).
pub fn postgres_database(hint: &str) -> String {
    let server = ioctl::store::pg::server::shared()
        .unwrap_or_else(|why| panic!("the PostgreSQL tests need a server: {why} (apt-get install postgresql)"));
    server.create_database(hint).unwrap()
}

impl Running {
    /// Starts `command` with its stdout and stderr lines collected.
    pub fn from_command(mut command: Command) -> Running {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {line}"));
            }
        });
        Running { child, rx, seen: Vec::new() }
    }
}

pub struct Running {
    pub child: Child,
    rx: mpsc::Receiver<String>,
    /// Every line received so far.
    pub seen: Vec<String>,
}

impl Running {
    /// Waits for a line matching `pred`; panics with everything seen after WAIT.
    pub fn wait_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("timed out waiting for {what}; output so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for a JSON line matching `pred`.
    pub fn wait_json(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let line = self.wait_line(what, |l| serde_json::from_str::<Value>(l).is_ok_and(|v| pred(&v)));
        serde_json::from_str(&line).unwrap()
    }

    /// Lines that arrive within `d` (for checking something does not happen).
    pub fn collect_for(&mut self, d: Duration) -> Vec<String> {
        let until = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(l) = self.rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            self.seen.push(l.clone());
            got.push(l);
        }
        got
    }

    /// The `stopped` summary a link prints when it ends (call after it exited).
    pub fn summary(&self) -> Value {
        self.seen
            .iter()
            .rev()
            .find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v["type"] == "stopped"))
            .unwrap_or_else(|| panic!("no stopped summary in:\n{}", self.seen.join("\n")))
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for the exit code.
    pub fn interrupt(&mut self) -> i32 {
        self.signal(libc::SIGINT);
        self.wait_exit()
    }

    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Drain what is left so `seen` is complete.
                while let Ok(l) = self.rx.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(l);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                panic!("process did not exit; output so far:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of the direct children of `pid` (Linux /proc).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state, ppid, ...
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else {
            continue;
        };
        let ppid: u32 = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push(child);
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; check its state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, a)| a.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "node_modules" || name == ".ioctl" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

impl Env {
    /// The pid of the link session of `workspace` (account `local`), from its record.
    pub fn session_pid(&self, workspace: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.home().join(format!("sessions/local/{workspace}.json"))).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        v["pid"].as_u64().map(|p| p as u32)
    }

    /// The Node.js processes of the session of `workspace` (its children).
    pub fn node_processes(&self, workspace: &str) -> Vec<u32> {
        self.session_pid(workspace).map(children).unwrap_or_default()
    }
}

/// Waits until `pid` is gone; false if it is still there after WAIT.
pub fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + WAIT;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Polls `probe` until it gives a value (every 20 ms, up to [`WAIT`]); panics naming `what`.
pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Env {
    /// `ioctl status --json` of the workspace `dev`.
    pub fn status(&self) -> Value {
        serde_json::from_str(stdout(&self.run(&["status", "--json"])).trim()).unwrap_or_default()
    }

    /// Waits until no delivery is in flight and `n` deliveries were made; returns the counts.
    pub fn settled(&self, n: u64) -> Value {
        let last = std::cell::RefCell::new(Value::Null);
        let what = format!("{n} deliveries to settle");
        let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(&what, || {
                let c = self.status()["counts"].clone();
                *last.borrow_mut() = c.clone();
                (c["deliveries"] == n && c["in_flight"] == 0).then_some(c)
            })
        }));
        match c {
            Ok(c) => c,
            Err(_) => panic!("{what}: last counts {}", last.borrow()),
        }
    }
}

/// One HTTP/1.1 request on a fresh connection to `url` (`http://host:port`): (status, lower-cased head, body).
pub fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let head = head.to_ascii_lowercase();
    let body = if head.contains("transfer-encoding: chunked") { dechunk_body(body) } else { body.to_string() };
    (status, head, body)
}

fn dechunk_body(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}
