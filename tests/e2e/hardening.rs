//! End to end, issue 10: what a hostile or unlucky user meets. Non-loopback Host headers,
//! idle connections, out-of-range rates and delivery options, a stopped session, closed
//! pipes, file modes, an old session's protocol, and the policy line on relinks.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// The session server's header-read timeout (src/session/server.rs HEADER_READ_TIMEOUT).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Links `app` (JSON output, no watching unless `watch`) and returns it with the session URL.
fn link_app(env: &Env, app: &Path, extra: &[&str]) -> (Running, String) {
    let mut args = vec!["link", app.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let mut link = env.spawn(&args);
    let ready = link.wait_json("ready", |v| v["type"] == "ready");
    (link, ready["url"].as_str().unwrap().to_string())
}

fn token(env: &Env) -> String {
    let text = std::fs::read_to_string(env.home().join("sessions/local/dev.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["token"].as_str().unwrap().to_string()
}

/// One raw HTTP/1.1 request with exactly these headers (Host included); (status, body).
fn raw(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let addr = url.strip_prefix("http://").unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {out:?}"));
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), body.to_string())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// Runs `bash -c script` with the env's IOCTL_HOME and `ioctl` as `$IOCTL`, within WAIT.
fn shell(env: &Env, script: &str) -> (Option<i32>, String) {
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("IOCTL", BIN)
        .env("IOCTL_HOME", env.home())
        .env("NO_COLOR", "1")
        .env_remove("IOCTL_ACCOUNT")
        .env_remove("IOCTL_WORKSPACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`{script}` did not end within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const ROUTED_SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 10,
  "events": { "broken": { "sender": "ioctl.manual", "keys": ["broken"] } },
  "routes": {
    "hello": { "path": "/_v/hello", "public": true },
    "secret": { "path": "/_v/secret" }
  }
}"#;

const ROUTED_INDEX: &str = r#"import { IOClients, Service } from '@vtex/api'

export default new Service({
  clients: { implementation: IOClients, options: {} },
  events: { broken: async (_ctx: any) => { throw new Error('broken on purpose') } },
  routes: {
    hello: async (ctx: any) => { ctx.body = 'hello' },
    secret: async (ctx: any) => { ctx.body = 'the secret' },
  },
})
"#;

/// An app with a public route `/_v/hello` and a private one `/_v/secret`.
fn routed_app(env: &Env) -> PathBuf {
    env.app("app", &[("node/service.json", ROUTED_SERVICE), ("node/index.ts", ROUTED_INDEX)])
}

#[test]
fn a_host_that_is_not_loopback_gets_421_and_loopback_names_work() {
    let env = Env::new();
    let app = routed_app(&env);
    let (mut link, url) = link_app(&env, &app, &["--no-watch"]);
    let port = url.rsplit_once(':').unwrap().1.to_string();
    let token = token(&env);
    let bearer = format!("Bearer {token}");
    let hcheck = "/_v/app/events-example/hcheck";

    for host in ["evil.example", "evil.example:80", &format!("evil.example:{port}")] {
        let (status, body) = raw(&url, "GET", hcheck, &[("host", host)], "");
        assert_eq!(status, 421, "public route with Host {host}: {body}");
        let err: Value = serde_json::from_str(body.trim()).unwrap();
        assert_eq!(err["code"], "forbidden_host", "{body}");
        assert!(err["error"].as_str().unwrap().contains("evil.example"), "{body}");
        let (status, body) = raw(&url, "GET", "/_ioctl/session", &[("host", host), ("authorization", &bearer)], "");
        assert_eq!(status, 421, "control API with Host {host} and the token: {body}");
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("LOCALHOST:{port}")] {
        let (status, body) = raw(&url, "GET", hcheck, &[("host", &host)], "");
        assert_eq!((status, body.as_str()), (200, "ok"), "public route with Host {host}");
        let (status, body) = raw(&url, "GET", "/_ioctl/session", &[("host", &host), ("authorization", &bearer)], "");
        assert_eq!(status, 200, "control API with Host {host}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["workspace"], "dev");
        let (status, body) = raw(&url, "GET", "/_v/hello", &[("host", &host)], "");
        assert_eq!((status, body.as_str()), (200, "hello"), "the app's public route with Host {host}");
        let (status, body) = raw(&url, "GET", "/_v/secret", &[("host", &host), ("authorization", &bearer)], "");
        assert_eq!((status, body.as_str()), (200, "the secret"), "the app's private route with Host {host}");
    }
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn idle_connections_are_closed_and_do_not_starve_the_healthcheck() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let (mut link, url) = link_app(&env, &app, &["--no-watch"]);
    let addr = url.strip_prefix("http://").unwrap().to_string();

    // 150 connections that send nothing (more than the session serves at once).
    let idle: Vec<TcpStream> = (0..150).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let out = env.run(&["healthcheck"]);
    assert_eq!(out.status.code(), Some(0), "healthcheck with 150 idle connections: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok");
    drop(idle);

    // A lone idle connection is closed by the session once the header-read timeout passes.
    let mut s = TcpStream::connect(&addr).unwrap();
    let opened = Instant::now();
    s.set_read_timeout(Some(HEADER_READ_TIMEOUT + Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(_) => {} // EOF (or a 408 answer before it): closed by the session
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the idle connection was still open after {:?}: {e}", opened.elapsed()),
    }
    assert!(opened.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_secs(1), "closed too early");
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn out_of_range_rates_are_usage_errors_and_cannot_hurt_the_session() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let (mut link, url) = link_app(&env, &app, &["--no-watch", "--no-sample-sender"]);
    for rate in ["1e12", "0", "nan", "inf", "1e-20", "-3", "fast"] {
        let out = env.run(&["events", "send", "k", "--repeat", "2", &format!("--rate={rate}")]);
        assert_eq!(out.status.code(), Some(2), "--rate {rate}: {}{}", stdout(&out), stderr(&out));
        assert!(stderr(&out).contains("--rate"), "--rate {rate}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let out = env.run(&["events", "send", "k", "--repeat", "2", "--rate", "1000"]);
    assert_eq!(out.status.code(), Some(0), "an in-range rate still works: {}", stderr(&out));

    let port = url.rsplit_once(':').unwrap().1.to_string();
    let host = format!("127.0.0.1:{port}");
    let bearer = format!("Bearer {}", token(&env));
    let headers = [("host", host.as_str()), ("authorization", bearer.as_str()), ("content-type", "application/json")];
    for rate in ["1e12", "1e-20", "0", "-1", "1e308"] {
        let body = format!(r#"{{"key": "k", "sender": "ioctl.manual", "rate": {rate}, "repeat": 2}}"#);
        let (status, answer) = raw(&url, "POST", "/_ioctl/events", &headers, &body);
        assert_eq!(status, 400, "rate {rate}: {answer}");
        let err: Value = serde_json::from_str(answer.trim()).unwrap();
        assert_eq!(err["code"], "bad_request", "{answer}");
    }
    let out = env.run(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "the session stays healthy: {}", stderr(&out));
    let status: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(status["counts"]["published"], 2, "only the in-range send published");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn a_stopped_session_is_an_error_within_the_timeout_not_a_hang() {
    let env = Env::new();
    let app = env.app("app", &[]);
    let (mut link, _url) = link_app(&env, &app, &["--no-watch", "--no-sample-sender"]);
    let pid = env.session_pid("dev").unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let started = Instant::now();
    let mut status =
        env.command(&["status", "--timeout", "1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = status.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > deadline {
            let _ = status.kill();
            unsafe { libc::kill(pid, libc::SIGCONT) };
            panic!("`ioctl status --timeout 1` still waits after 10 s on a stopped session");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let mut err = String::new();
    status.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("did not answer within 1.0 s"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let bad = env.run(&["status", "--timeout", "0"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    // Continued, it answers again, and the link still stops on Ctrl-C.
    assert_eq!(env.run(&["status"]).status.code(), Some(0));
    assert_eq!(link.interrupt(), 0);
}

const FAILING_SERVICE: &str = r#"{
  "memory": 256,
  "timeout": 10,
  "events": { "broken": { "sender": "ioctl.manual", "keys": ["broken"] } }
}"#;

fn failing_index(options: &str) -> String {
    format!(
        r#"import {{ IOClients, Service }} from '@vtex/api'

export default new Service({{
  clients: {{ implementation: IOClients, options: {{ events: {options} }} }},
  events: {{
    broken: async (_ctx: any) => {{
      throw new Error('broken on purpose')
    }},
  }},
}})
"#
    )
}

fn failing_app(env: &Env, options: &str) -> PathBuf {
    env.app("app", &[("node/service.json", FAILING_SERVICE), ("node/index.ts", &failing_index(options))])
}

/// Waits until `ioctl status --json` says nothing is in flight and `failed` events failed.
fn settled_counts(env: &Env, failed: u64) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = env.run(&["status", "--json"]);
        let status: Value = serde_json::from_str(stdout(&out).trim()).unwrap_or_default();
        let c = status["counts"].clone();
        if c["failed"] == failed && c["in_flight"] == 0 {
            return c;
        }
        assert!(Instant::now() < deadline, "deliveries did not settle: {}{}", stdout(&out), stderr(&out));
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn broken_pipes_end_commands_quietly() {
    let env = Env::new();
    let app = failing_app(&env, "{ retries: 0 }");
    let (mut link, _url) = link_app(&env, &app, &["--no-watch", "--no-sample-sender"]);
    let out = env.run(&["events", "send", "broken", "--repeat", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    settled_counts(&env, 20);
    for script in [
        "$IOCTL status | head -1",
        "$IOCTL status --json | true",
        "$IOCTL events failed --json | head -1",
        "$IOCTL events failed | head -1",
        "$IOCTL events send broken --json | true",
        "$IOCTL events send broken --repeat 50 | true",
    ] {
        // With pipefail the pipeline's status is ioctl's, not head's.
        let (code, err) = shell(&env, &format!("set -o pipefail; {script}"));
        assert!(matches!(code, Some(0) | Some(141)), "`{script}` exited {code:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "`{script}`: {err}");
    }
    // A quiet tail ends when its reader goes away, though no event comes.
    let started = Instant::now();
    let (code, err) = shell(&env, "set -o pipefail; $IOCTL events tail | head -1");
    assert!(matches!(code, Some(0) | Some(141)), "tail | head -1 exited {code:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "tail took {:?} to notice", started.elapsed());
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn folders_files_and_sockets_are_private() {
    let env = Env::new();
    let runtime = env.dir.path().join("xdg");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Routes are what the host serves on its socket.
    let app = routed_app(&env);
    let mut command = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    command.env("XDG_RUNTIME_DIR", &runtime);
    let mut link = Running::from_command(command);
    link.wait_json("ready", |v| v["type"] == "ready");

    let home = env.home();
    for dir in [home.clone(), home.join("sessions"), home.join("sessions/local")] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    assert_eq!(mode(&home.join("sessions/local/dev.json")), 0o600, "the record");
    let logs: Vec<PathBuf> = std::fs::read_dir(home.join("sessions/local"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert!(!logs.is_empty(), "no session log beside the record");
    for log in &logs {
        assert_eq!(mode(log), 0o600, "{}", log.display());
    }

    let session = env.session_pid("dev").unwrap();
    // Whatever sockets the hosts make live in private folders.
    for s in find_sockets(&runtime) {
        let mut dir = s.parent().unwrap();
        while dir != runtime {
            assert_eq!(mode(dir), 0o700, "{} holds a socket", dir.display());
            dir = dir.parent().unwrap();
        }
    }
    let mut pids = vec![session];
    pids.extend(children(session));
    let in_tmp: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ioctl-") && n.ends_with(".sock") && pids.iter().any(|p| n.contains(&p.to_string())))
        .collect();
    assert!(in_tmp.is_empty(), "sockets in shared /tmp: {in_tmp:?}");
    assert_eq!(link.interrupt(), 0);
}

fn find_sockets(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(find_sockets(&e.path()));
        } else if t.is_socket() {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_session_of_another_protocol_is_named_with_what_to_do() {
    let env = Env::new();
    let dir = env.home().join("sessions/local");
    std::fs::create_dir_all(&dir).unwrap();
    let record = serde_json::json!({
        "protocol": 1,
        "url": "http://127.0.0.1:9",
        "pid": std::process::id(),
        "token": "00",
        "account": "local",
        "workspace": "dev",
        "apps": [],
        "started": "2026-01-01T00:00:00Z"
    });
    std::fs::write(dir.join("dev.json"), record.to_string()).unwrap();
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("running link session speaks protocol 1"), "{err}");
    assert!(err.contains("stop the old session"), "{err}");
    assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
}

#[test]
fn out_of_range_delivery_options_warn_and_failures_still_end_as_dead_letters() {
    let env = Env::new();
    let options = "{ concurrency: 1e30, timeout: 1e30, initialBackoffDelay: 1e30, retries: 3, exponentialBackoffCoefficient: 1e30 }";
    let app = failing_app(&env, options);
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    let policy = link.wait_json("policy line", |v| {
        v["message"].as_str().is_some_and(|m| m.starts_with("delivery policy for vtex.service-course"))
    });
    assert!(policy["message"].as_str().unwrap().contains("concurrency 10000"), "{policy}");
    link.wait_json("ready", |v| v["type"] == "ready");
    let warnings: Vec<&String> = link.seen.iter().filter(|l| l.contains(r#""level":"warn""#)).collect();
    for (option, range) in [
        ("concurrency", "1 to 10000"),
        ("timeout", "1 to 3600000"),
        ("initialBackoffDelay", "0 to 3600000"),
        ("exponentialBackoffCoefficient", "1 to 10"),
    ] {
        let named = format!("clients.options.events.{option} is 1e+30, outside {range}");
        assert!(warnings.iter().any(|w| w.contains(&named)), "no warning `{named}…` in {warnings:#?}");
    }
    assert!(!warnings.iter().any(|w| w.contains("retries")), "retries: 3 is in range: {warnings:#?}");

    // The clamped backoff is an hour: the event waits to retry, counted in flight, and the
    // session keeps answering. Stopping the link fails it for good, counted and said.
    let out = env.run(&["events", "send", "broken", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    link.wait_json("the first attempt's failure", |v| {
        v["level"] == "error" && v["message"].as_str().is_some_and(|m| m.contains("broken on purpose"))
    });
    let out = env.run(&["status", "--json"]);
    let c = serde_json::from_str::<Value>(stdout(&out).trim()).unwrap()["counts"].clone();
    assert_eq!(c["deliveries"], 1, "{c}");
    assert_eq!(c["in_flight"], 1, "waiting for its retry: {c}");
    assert_eq!(link.interrupt(), 0);
    let stopped = link.summary();
    let c = &stopped["counts"];
    assert_eq!((c["deliveries"].as_u64(), c["failed"].as_u64(), c["in_flight"].as_u64()), (Some(1), Some(1), Some(0)));

    // With a short backoff the same extremes end in a dead letter, and the counts add up.
    let env = Env::new();
    let options = "{ concurrency: 1e30, timeout: 1e30, initialBackoffDelay: 1, exponentialBackoffCoefficient: 1e30, exponentialTimeoutCoefficient: 1e30, retries: 3 }";
    let app = failing_app(&env, options);
    let (mut link, _url) = link_app(&env, &app, &["--no-watch", "--no-sample-sender"]);
    for _ in 0..3 {
        assert_eq!(env.run(&["events", "send", "broken"]).status.code(), Some(0));
    }
    // retry delays: 1, 10, 100 ms (the coefficient is clamped to 10)
    let c = settled_counts(&env, 3);
    assert_eq!(c["deliveries"], 3, "{c}");
    assert_eq!(c["deliveries"].as_u64(), Some(c["delivered"].as_u64().unwrap() + 3));
    let listed = env.run(&["events", "failed", "--json"]);
    let letters: Vec<Value> = stdout(&listed).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let letters: Vec<&Value> = letters.iter().filter(|l| l["type"] == "failed").collect();
    assert_eq!(letters.len(), 3, "{}", stdout(&listed));
    assert_eq!(letters[0]["attempts"].as_array().unwrap().len(), 4, "1 attempt + 3 retries");
    assert_eq!(link.interrupt(), 0);
}

#[test]
fn relinks_print_the_policy_when_it_changes_or_first_loads() {
    let env = Env::new();
    let app = failing_app(&env, "{ retries: 1, concurrency: 3 }");
    let (mut link, _url) = link_app(&env, &app, &["--no-sample-sender"]);
    assert!(
        link.seen.iter().any(|l| l.contains("delivery policy for vtex.service-course:") && l.contains("concurrency 3")),
        "{}",
        link.seen.join("\n")
    );
    std::fs::write(app.join("node/index.ts"), failing_index("{ retries: 1, concurrency: 7 }")).unwrap();
    let line = link.wait_json("the new policy", |v| {
        v["message"].as_str().is_some_and(|m| m.starts_with("delivery policy for") && m.contains("concurrency 7"))
    });
    assert!(line["message"].as_str().unwrap().contains("1 retry"), "{line}");
    assert_eq!(link.interrupt(), 0);

    // A first build that fails, then is fixed: the policy line comes with the first good build.
    let env = Env::new();
    let app = env.app(
        "app",
        &[("node/service.json", FAILING_SERVICE), ("node/index.ts", "export default new Service({ oops\n")],
    );
    let mut link = env.spawn(&["link", app.to_str().unwrap(), "--json", "--no-sample-sender"]);
    link.wait_json("the build error", |v| v["type"] == "error");
    link.wait_json("the wait for changes", |v| {
        v["message"].as_str().is_some_and(|m| m.contains("App build failed. Waiting for changes"))
    });
    assert!(!link.seen.iter().any(|l| l.contains("\"type\":\"ready\"")), "no ready before a version links");
    assert!(
        !link.seen.iter().any(|l| l.contains("delivery policy for")),
        "a policy was announced before the Service declaring it loaded:\n{}",
        link.seen.join("\n")
    );
    std::fs::write(app.join("node/index.ts"), failing_index("{ retries: 2, concurrency: 5 }")).unwrap();
    let line = link.wait_json("the policy line after the fix", |v| {
        v["message"].as_str().is_some_and(|m| m.starts_with("delivery policy for"))
    });
    let m = line["message"].as_str().unwrap();
    assert!(m.contains("2 retries") && m.contains("concurrency 5"), "{m}");
    assert_eq!(link.interrupt(), 0);
}

/// Inodes of the TCP sockets listening on loopback (/proc/net/tcp, state 0A), with their port.
fn listening_ports() -> Vec<(u64, u16)> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = f.get(1)?.split_once(':')?;
            (f.get(3)? == &"0A" && addr == "0100007F").then_some(())?;
            Some((f.get(9)?.parse().ok()?, u16::from_str_radix(port, 16).ok()?))
        })
        .collect()
}

#[test]
fn nothing_but_the_session_reaches_an_apps_node_process() {
    let env = Env::new();
    let runtime = env.dir.path().join("xdg");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let app = routed_app(&env);
    let mut command = env.command(&["link", app.to_str().unwrap(), "--json", "--no-watch", "--no-sample-sender"]);
    command.env("XDG_RUNTIME_DIR", &runtime);
    let mut link = Running::from_command(command);
    let url = link.wait_json("ready", |v| v["type"] == "ready")["url"].as_str().unwrap().to_string();
    // Through the session, the private route needs the token.
    let (status, _) = raw(&url, "GET", "/_v/secret", &[("host", url.strip_prefix("http://").unwrap())], "");
    assert_eq!(status, 401);

    // Another local user cannot open the session's sockets folder, but can connect to any
    // loopback port: no Node process of the session may listen on one.
    let session = env.session_pid("dev").unwrap();
    let mut inodes = Vec::new();
    for pid in children(session) {
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
            let target = std::fs::read_link(fd.path()).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
                inodes.push(inode.parse::<u64>().unwrap());
            }
        }
    }
    let ports: Vec<u16> =
        listening_ports().into_iter().filter(|(inode, _)| inodes.contains(inode)).map(|(_, p)| p).collect();
    for port in &ports {
        let (status, body) = raw(
            &format!("http://127.0.0.1:{port}"),
            "GET",
            "/_v/secret",
            &[("host", "127.0.0.1"), ("x-ioctl-route-id", "secret"), ("x-ioctl-route-type", "private")],
            "",
        );
        assert_ne!(body, "the secret", "the private route answered {status} on the Node host's port {port}, no token");
    }
    assert!(ports.is_empty(), "the Node host listens on loopback TCP port(s) {ports:?}");
    assert!(!find_sockets(&runtime).is_empty(), "the Node host's socket is not under $XDG_RUNTIME_DIR/ioctl");
    assert_eq!(link.interrupt(), 0);
}
