//! `ioctl doctor`: checks this machine for what ioctl needs and reports each check on a line,
//! every problem with its fix: Node.js and npm, the cache and `$IOCTL_HOME` (folders, modes,
//! writable), the sockets' folder, binding loopback, the sessions (running, stale records),
//! the pinned package sets, chromium (optional: the browser tests), and the NATS server and
//! PostgreSQL database when configured (`IOCTL_CLUSTER`, `IOCTL_STORE`: reachability only,
//! their credentials never printed). Exit 0 when nothing failed (warnings do not fail it).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::layout;

/// One check's outcome.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Works, but something is worth knowing (optional pieces, an odd setting).
    Warn,
    Fail,
}

struct Check {
    what: &'static str,
    verdict: Verdict,
    detail: String,
    /// What to do about a warning or failure.
    fix: Option<String>,
}

impl Check {
    fn ok(what: &'static str, detail: impl Into<String>) -> Check {
        Check { what, verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }
    fn warn(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { what, verdict: Verdict::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(what: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { what, verdict: Verdict::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// Runs every check, prints them, and exits 0 when none failed.
pub async fn run() -> ExitCode {
    let checks = checks().await;
    let mut failed = 0;
    for c in &checks {
        let mark = match c.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => {
                failed += 1;
                "FAIL"
            }
        };
        println!("{mark}  {}: {}", c.what, c.detail);
        if let Some(fix) = &c.fix {
            println!("      fix: {fix}");
        }
    }
    if failed == 0 {
        println!("all is well");
        ExitCode::SUCCESS
    } else {
        println!("{failed} problem(s) found");
        ExitCode::from(1)
    }
}

async fn checks() -> Vec<Check> {
    let mut checks = vec![node(), npm()];
    match layout::cache() {
        Ok(cache) => {
            checks.push(folder("cache", &cache, "IOCTL_CACHE"));
            checks.extend(package_sets(&cache));
        }
        Err(e) => checks.push(Check::fail("cache", format!("{e:#}"), "set IOCTL_CACHE to a folder you own")),
    }
    match layout::home() {
        Ok(home) => {
            checks.push(folder("IOCTL_HOME", &home, "IOCTL_HOME"));
            checks.push(sockets(&home));
            checks.push(sessions(&home));
        }
        Err(e) => checks.push(Check::fail("IOCTL_HOME", format!("{e:#}"), "set IOCTL_HOME to a folder you own")),
    }
    checks.push(loopback().await);
    checks.push(chromium());
    for (var, what, default_port) in [("IOCTL_CLUSTER", "NATS server", 4222), ("IOCTL_STORE", "PostgreSQL", 5432)] {
        if let Some(url) = std::env::var_os(var).and_then(|v| v.into_string().ok()).filter(|v| !v.is_empty()) {
            checks.push(reachable(what, var, &url, default_port).await);
        }
    }
    checks
}

/// Node.js: found as a link finds it, version 18 or newer.
fn node() -> Check {
    let path = match crate::runtime::find_node() {
        Ok(p) => p,
        Err(e) => return Check::fail("Node.js", format!("{e:#}"), "install Node.js 18 or newer (e.g. from nodejs.org or your package manager) and put `node` on PATH, or set IOCTL_NODE to its path"),
    };
    match crate::version::node_version(&path) {
        Some(v) => {
            let major: u32 = v.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
            if major >= 18 {
                Check::ok("Node.js", format!("{v} ({})", path.display()))
            } else {
                Check::fail(
                    "Node.js",
                    format!("{v} ({}) is older than 18", path.display()),
                    "install Node.js 18 or newer",
                )
            }
        }
        None => Check::fail(
            "Node.js",
            format!("{} does not answer `node --version`", path.display()),
            "reinstall Node.js, or point IOCTL_NODE at a working `node`",
        ),
    }
}

/// npm: the first link installs the runtime's pinned packages with it.
fn npm() -> Check {
    let npm = crate::runtime::npm_path();
    let out = std::process::Command::new(&npm).arg("--version").stdin(std::process::Stdio::null()).output();
    match out {
        Ok(o) if o.status.success() => {
            Check::ok("npm", format!("{} ({})", String::from_utf8_lossy(&o.stdout).trim(), npm.display()))
        }
        _ => Check::fail(
            "npm",
            format!("{} cannot run", npm.display()),
            "install npm (it comes with Node.js): the first link installs ioctl's runtime packages with it",
        ),
    }
}

/// A folder of ioctl's: missing is fine (made on first use) if its parent is writable; present
/// it must be a real folder (not a link), writable, and private (0700).
fn folder(what: &'static str, dir: &Path, var: &str) -> Check {
    let fix_var = format!("set {var} to a folder you own, or fix this one");
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Check::fail(
            what,
            format!("{} is a symbolic link; ioctl never follows links in its folders", dir.display()),
            format!("replace the link with a real folder, or {fix_var}"),
        ),
        Ok(m) if !m.is_dir() => Check::fail(what, format!("{} is not a folder", dir.display()), fix_var),
        Ok(m) => match writable(dir) {
            Err(e) => Check::fail(what, format!("{} is not writable: {e}", dir.display()), fix_var),
            Ok(()) if m.permissions().mode() & 0o077 != 0 => Check::warn(
                what,
                format!("{} (mode {:o}: others can read it)", dir.display(), m.permissions().mode() & 0o777),
                format!("chmod 700 {}", dir.display()),
            ),
            Ok(()) => Check::ok(what, format!("{} (private, writable)", dir.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = dir.ancestors().skip(1).find(|p| p.exists());
            match parent.map(writable) {
                Some(Ok(())) => Check::ok(what, format!("{} (made on first use)", dir.display())),
                _ => Check::fail(what, format!("{} cannot be created", dir.display()), fix_var),
            }
        }
        Err(e) => Check::fail(what, format!("{}: {e}", dir.display()), fix_var),
    }
}

/// Whether a file can be made (and removed) in `dir`.
fn writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

/// The sockets' folder: where it is, and that its paths fit a unix socket address.
fn sockets(home: &Path) -> Check {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty() && Path::new(d).is_dir()) {
        Some(runtime) => Path::new(&runtime).join("ioctl"),
        None => home.join("run"),
    };
    // sun_path holds 108 bytes; a socket's name adds about 30.
    let len = dir.as_os_str().len();
    if len > 70 {
        Check::fail(
            "sockets",
            format!("{} is {len} bytes long: the apps' socket paths would not fit a unix socket's 108", dir.display()),
            "set XDG_RUNTIME_DIR (or IOCTL_HOME) to a shorter folder",
        )
    } else {
        Check::ok("sockets", dir.display().to_string())
    }
}

/// The link sessions: running ones, and stale records (their process is gone), removed.
fn sessions(home: &Path) -> Check {
    let mut running = Vec::new();
    let mut stale = 0;
    let accounts = std::fs::read_dir(layout::sessions(home)).into_iter().flatten().flatten();
    for file in accounts.flat_map(|a| std::fs::read_dir(a.path()).into_iter().flatten().flatten()) {
        let path = file.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let record = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<crate::protocol::record::SessionRecord>(&t).ok());
        match record {
            Some(r) if crate::protocol::record::alive(r.pid) => {
                running.push(format!("{}/{} (pid {}, {})", r.account, r.workspace, r.pid, r.url));
            }
            _ => {
                if std::fs::remove_file(&path).is_ok() {
                    stale += 1;
                }
            }
        }
    }
    let mut detail = match running.len() {
        0 => "none running".to_string(),
        _ => format!("running: {}", running.join(", ")),
    };
    if stale > 0 {
        detail.push_str(&format!("; removed {stale} stale record(s) of sessions no longer running"));
    }
    Check::ok("sessions", detail)
}

/// The pinned npm package sets in the cache.
fn package_sets(cache: &Path) -> Vec<Check> {
    crate::runtime::package_sets(cache)
        .into_iter()
        .map(|(what, dir, installed)| match installed {
            true => Check::ok("packages", format!("{what}: installed ({})", dir.display())),
            false => Check::warn(
                "packages",
                format!("{what}: not installed yet"),
                "nothing to do: the first link that needs them installs them with npm (it needs the npm registry then)",
            ),
        })
        .collect()
}

/// Sessions serve on 127.0.0.1: a port must be bindable there.
async fn loopback() -> Check {
    match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
        Ok(l) => {
            Check::ok("loopback", format!("can serve on {}", l.local_addr().map(|a| a.to_string()).unwrap_or_default()))
        }
        Err(e) => Check::fail(
            "loopback",
            format!("cannot bind 127.0.0.1: {e}"),
            "bring up the loopback interface (`ip link set lo up`)",
        ),
    }
}

/// Chromium runs the browser tests of the IDE and the dashboard (optional for using ioctl).
fn chromium() -> Check {
    let path =
        std::env::var_os("IOCTL_CHROMIUM").map(std::path::PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    if path.is_file() {
        Check::ok("chromium", format!("{} (for the browser tests)", path.display()))
    } else {
        Check::warn(
            "chromium",
            format!("{} not found (only the browser tests need it)", path.display()),
            "to run them: install chromium (e.g. `apt-get install chromium`) or set IOCTL_CHROMIUM",
        )
    }
}

/// Whether the server of a configured URL answers a TCP connection (within 3 s). Only its
/// host and port are printed: never the URL's user or password.
async fn reachable(what: &'static str, var: &str, text: &str, default_port: u16) -> Check {
    let Ok(url) = url::Url::parse(text) else {
        return Check::fail(
            what,
            format!("{var} is not a URL"),
            format!("set {var} to a URL like scheme://HOST:PORT/..."),
        );
    };
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']).to_string();
    let port = url.port().unwrap_or(default_port);
    let at = format!("{host}:{port} ({var})");
    match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => Check::ok(what, format!("{at} answers")),
        Ok(Err(e)) => {
            Check::fail(what, format!("{at}: {e}"), format!("start the server, or check the host and port in {var}"))
        }
        Err(_) => Check::fail(
            what,
            format!("{at}: no answer within 3 s"),
            format!("check that {host}:{port} is reachable from here (firewall, VPN)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_is_a_file_or_a_link_fails_and_a_missing_one_is_made_later() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(folder("cache", &file, "IOCTL_CACHE").verdict, Verdict::Fail);
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        assert_eq!(folder("cache", &link, "IOCTL_CACHE").verdict, Verdict::Fail);
        assert_eq!(folder("cache", &tmp.path().join("later/deeper"), "IOCTL_CACHE").verdict, Verdict::Ok);
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(folder("cache", &open, "IOCTL_CACHE").verdict, Verdict::Warn);
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(folder("cache", &open, "IOCTL_CACHE").verdict, Verdict::Ok);
    }

    #[tokio::test]
    async fn a_configured_server_is_named_by_host_and_port_never_by_its_credentials() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let up =
            reachable("PostgreSQL", "IOCTL_STORE", &format!("postgres://me:s3cret@127.0.0.1:{port}/db"), 5432).await;
        assert_eq!(up.verdict, Verdict::Ok);
        drop(l);
        let down =
            reachable("PostgreSQL", "IOCTL_STORE", &format!("postgres://me:s3cret@127.0.0.1:{port}/db"), 5432).await;
        assert_eq!(down.verdict, Verdict::Fail);
        for c in [up, down] {
            assert!(!c.detail.contains("s3cret") && !c.detail.contains("me:"), "{}", c.detail);
        }
    }
}
