//! A throwaway `nats-server -js` for ioctl's own tests and benches (Debian's `nats-server`):
//! on a free loopback port with its own store folder, once per process. Not used by ioctl
//! itself. It can be stopped and started again on the same port and store (a lost server).
//!
//! Stopping it for good: a static is never dropped, so a watcher process (`sh`, in a session
//! of its own) polls the test process's pid and, once it is gone, kills the server by its pid
//! file and removes the folder, however the tests end (as the PostgreSQL test server does).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A running server.
pub struct Server {
    pub port: u16,
    dir: PathBuf,
    /// Held while a test stops and restarts it.
    running: Mutex<()>,
    /// nats-server's flags beyond the port and store.
    flags: Vec<String>,
}

static SHARED: OnceLock<std::result::Result<Server, String>> = OnceLock::new();

/// The process's server, started on first use; `Err` says why there is none (nats-server not
/// installed, or it failed to start).
pub fn shared() -> std::result::Result<&'static Server, String> {
    SHARED.get_or_init(|| start().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
}

/// Debian's program (on PATH, or where the package puts it).
fn program() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file());
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
}

/// A server of the caller's own (a test that stops it, without disturbing the others); it
/// is stopped when this process ends.
pub fn own() -> anyhow::Result<Server> {
    own_with(&[])
}

/// [`own`], with more of nats-server's flags (`--user`, `--pass`, …).
pub fn own_with(flags: &[&str]) -> anyhow::Result<Server> {
    let mut server = start_with(flags)?;
    server.flags = flags.iter().map(|f| f.to_string()).collect();
    Ok(server)
}

fn start() -> anyhow::Result<Server> {
    start_with(&[])
}

fn start_with(flags: &[&str]) -> anyhow::Result<Server> {
    program().context("nats-server is not installed (apt-get install nats-server)")?;
    let dir = std::env::temp_dir().join(format!("ioctl-nats-{}-{}", std::process::id(), fastrand::u32(..)));
    std::fs::create_dir(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let server = Server { port, dir, running: Mutex::new(()), flags: flags.iter().map(|f| f.to_string()).collect() };
    // The watcher first: were the start to hang or this process to die during it, the server
    // is still stopped.
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.2; done; kill -9 $(cat '{pidfile}') 2>/dev/null; rm -rf '{dir}'",
        pid = std::process::id(),
        pidfile = server.pid_file().display(),
        dir = server.dir.display(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start the nats-server watcher")?;
    server.launch()?;
    Ok(server)
}

impl Server {
    fn pid_file(&self) -> PathBuf {
        self.dir.join("nats.pid")
    }

    /// The URL a session joins it with.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's folder (its log is `log` there).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Starts the program on the port and store, and waits until it takes connections.
    fn launch(&self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("log"))?;
        Command::new(program().context("nats-server is not installed")?)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.dir.join("store"))
            .arg("-P")
            .arg(self.pid_file())
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("cannot start nats-server")?;
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() || !self.pid_file().is_file() {
            if Instant::now() > until {
                let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
                anyhow::bail!("nats-server did not start on port {}; its log:\n{log}", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the server (SIGKILL: as a crash or a lost network), runs `meanwhile`, and starts
    /// it again on the same port and store.
    pub fn outage<T>(&self, meanwhile: impl FnOnce() -> T) -> anyhow::Result<T> {
        let _held = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let pid: i32 = std::fs::read_to_string(self.pid_file())?.trim().parse()?;
        std::fs::remove_file(self.pid_file())?;
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            anyhow::ensure!(Instant::now() < until, "nats-server {pid} did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = meanwhile();
        self.launch()?;
        Ok(out)
    }
}
