//! A throwaway PostgreSQL server for ioctl's own tests and benches (Debian's `postgresql`):
//! `initdb` into a temporary folder and `pg_ctl` on a free loopback port, once per process,
//! each test in a database of its own. Not used by ioctl itself.
//!
//! Stopping it: a static is never dropped, so a watcher process (`sh`, in a session of its
//! own so a Ctrl-C of the tests does not take it first) polls the test process's pid and, once
//! it is gone, stops the server (`pg_ctl stop -m immediate`) and removes the folder. That
//! holds however the tests end: passing, panicking, or killed.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use anyhow::{bail, Context};

/// A running server.
pub struct Server {
    pub port: u16,
    dir: PathBuf,
}

static SHARED: OnceLock<std::result::Result<Server, String>> = OnceLock::new();

/// The process's server, started on first use; `Err` says why there is none (PostgreSQL not
/// installed, or it failed to start).
pub fn shared() -> std::result::Result<&'static Server, String> {
    SHARED.get_or_init(|| start().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
}

/// Where Debian puts the server's programs (also on PATH when linked there).
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A command run as the `postgres` user when we are root (initdb and the server refuse root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> anyhow::Result<()> {
    let out = c.stdin(Stdio::null()).output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn start() -> anyhow::Result<Server> {
    let bin = bin_dir().context("PostgreSQL is not installed (apt-get install postgresql)")?;
    let dir = std::env::temp_dir().join(format!("ioctl-pg-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    if is_root() {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(&dir);
                c
            },
            "chown",
        )?;
    }
    let data = dir.join("data");
    let mut initdb = as_server_user(&bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
    run(initdb, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    // The watcher first: were the start to hang or this process to die during it, the server
    // is still stopped.
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; {runas}'{ctl}' -D '{data}' stop -m immediate \
         >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        runas = if is_root() { "runuser -u postgres -- " } else { "" },
        ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start the PostgreSQL watcher")?;
    let mut ctl = as_server_user(&bin.join("pg_ctl"));
    ctl.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "60", "start", "-o"])
        .arg(format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200", dir.display()));
    run(ctl, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        e.context(format!("the server's log:\n{log}"))
    })?;
    Ok(Server { port, dir })
}

impl Server {
    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A fresh database (its name from `hint` and a counter), answering its URL.
    pub fn create_database(&self, hint: &str) -> anyhow::Result<String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let clean: String = hint.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
        let name = format!("t{}_{}", N.fetch_add(1, Ordering::Relaxed), clean.to_ascii_lowercase());
        let url = self.url("postgres");
        let create = format!("CREATE DATABASE \"{name}\"");
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            client.batch_execute(&create)?;
            Ok(())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("creating a test database panicked"))??;
        Ok(self.url(&name))
    }

    /// The server's folder (its log is `log` there).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
