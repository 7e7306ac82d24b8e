//! `ioctl link`: links an app into the link session of its account/workspace (starting the
//! session in the background when none runs), prints the app's output in this terminal, and
//! unlinks it on Ctrl-C. The session itself lives in `session`; the app's life there in
//! `session::linked_app`. Ctrl-C and SIGTERM work in every state: before the app is linked
//! they end the command at once; afterwards the first asks for a graceful unlink.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{Connection, Lines, Refusal};
use crate::app::{self, App, LoadError};
use crate::protocol::endpoint::Unlink;
use crate::protocol::record::{self, SessionRecord};
use crate::protocol::stream::{Level, Output};
use crate::protocol::{path, BoundaryOptions, ErrorCode, Handshake, LinkRequest, Scope};
use crate::terminal::{Format, Terminal};

/// Validated `ioctl link` options.
#[derive(Debug, Clone)]
pub struct Options {
    pub app_dir: PathBuf,
    pub scope: Scope,
    pub port: u16,
    pub sender_interval: Duration,
    pub sample_sender: bool,
    /// Whether --port, --sender-interval or --no-sample-sender were given: they set up a new
    /// session and cannot change one that runs.
    pub session_flags: bool,
    pub watch: bool,
    pub format: Format,
    /// How long each request waits for the session's answer (`--timeout`).
    pub timeout: Duration,
    /// `--fixtures`, `--cloud`, `--record`, `--cloud-writes`.
    pub boundary: super::boundary::Flags,
    /// `--inspect` / `--inspect-brk`.
    pub inspect: Option<crate::protocol::InspectOptions>,
    /// `--no-typecheck`, `--strict-types`.
    pub typecheck: crate::protocol::TypeCheckMode,
}

/// How long a starting session may take to say where it listens.
const SESSION_START: Duration = Duration::from_secs(20);

pub async fn run(opts: Options) -> anyhow::Result<ExitCode> {
    let started_at = SystemTime::now();
    let scope = opts.scope.clone();
    if scope.workspace.eq_ignore_ascii_case("master") {
        bail!(
            "cannot link in workspace `master`: it is the production workspace of account {}; link in a development workspace instead, e.g. `ioctl link -w dev`",
            scope.account
        );
    }
    let mut stop = StopSignal::new()?;
    let root = app::find_root(&opts.app_dir)?;
    let (terminal, printer) = Terminal::start(opts.format);
    let code = link(&opts, &root, started_at, &terminal, &mut stop).await;
    if let Err(e) = &code {
        if e.is::<Stopped>() {
            drop(terminal);
            let _ = printer.await;
            return Ok(ExitCode::from(130));
        }
    }
    drop(terminal);
    let _ = printer.await;
    code
}

async fn link(
    opts: &Options,
    root: &Path,
    started_at: SystemTime,
    terminal: &Terminal,
    stop: &mut StopSignal,
) -> anyhow::Result<ExitCode> {
    // Bad manifest.json or service.json: say so here, before any session is involved.
    if let Err(LoadError::Diagnostic(d)) = App::load(root) {
        terminal.send(Output::Diagnostic { level: Level::Error, diagnostic: with_source(d, root) }).await;
        terminal.status(Level::Error, "App build failed.").await;
        return Ok(ExitCode::from(1));
    }
    // Folders and credentials are checked here, before any session is involved.
    let boundary = super::boundary::options(&opts.boundary)?;
    if let Some(at) = opts.inspect.map(|i| i.addr).filter(|a| !a.ip().is_loopback()) {
        let message = format!("the debugger will listen on {at}, beyond this machine's loopback: anyone who reaches it can run code as you; use --inspect=127.0.0.1:{} unless you mean it", at.port());
        terminal.status(Level::Warn, message).await;
    }
    // Until the app is linked, Ctrl-C ends the command at once (nothing to unlink yet).
    let (session, resp) = tokio::select! {
        joined = join(opts, root, started_at, boundary, terminal) => joined?,
        _ = stop.recv() => return Err(Stopped.into()),
    };
    let rec = session.record;
    let link_id = resp
        .headers()
        .get(path::LINK_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .context("the link session did not name the link")?;

    // Print the app's output until the session ends it. The first Ctrl-C asks for a graceful
    // unlink, the second for a forced one (the session ends the app's Node processes at once)
    // and waits a moment for it; a third, or a session that does not do it in time, leaves.
    let mut lines = Lines::new(resp);
    lines.hello(opts.timeout).await?;
    let mut ready = false;
    let mut presses = 0;
    let mut asked = None;
    let mut forced_at = None;
    loop {
        let line = tokio::select! {
            l = lines.next() => l,
            _ = stop.recv() => {
                presses += 1;
                match presses {
                    1 => {
                        let unlink = Unlink { id: link_id, force: false };
                        asked = Some(Box::pin(ask_unlink(rec.clone(), unlink, opts.timeout)));
                    }
                    2 => {
                        terminal.status(Level::Warn, "forced stop: ending the app's Node.js processes (Ctrl-C again to leave now)").await;
                        let unlink = Unlink { id: link_id, force: true };
                        asked = Some(Box::pin(ask_unlink(rec.clone(), unlink, FORCE_WAIT)));
                        forced_at = Some(tokio::time::Instant::now());
                    }
                    _ => return Ok(left_running(terminal, &rec).await),
                }
                continue;
            }
            Some(answer) = async { Some(asked.as_mut()?.await) } => {
                asked = None;
                if let Err(e) = answer {
                    terminal.status(Level::Warn, format!("could not ask the session to unlink: {e:#}")).await;
                    return Ok(left_running(terminal, &rec).await);
                }
                continue;
            }
            _ = async { tokio::time::sleep_until(forced_at? + FORCE_WAIT).await; Some(()) }, if forced_at.is_some() => {
                return Ok(left_running(terminal, &rec).await);
            }
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => return Err(anyhow!("lost the connection to the link session at {}", rec.url)),
        };
        let Ok(msg) = serde_json::from_slice::<Output>(&line) else { continue };
        let msg = match msg {
            Output::Diagnostic { level, diagnostic } => {
                Output::Diagnostic { level, diagnostic: with_source(diagnostic, root) }
            }
            Output::TypeCheck(mut report) => {
                for e in &mut report.errors {
                    if e.at.source.is_none() {
                        e.at.source = std::fs::read_to_string(root.join(&e.at.file)).ok();
                    }
                }
                Output::TypeCheck(report)
            }
            Output::Record { ref record, .. } if record.is_ready() => {
                ready = true;
                msg
            }
            other => other,
        };
        terminal.send(msg).await;
    }
    if forced_at.is_some() {
        terminal.status(Level::Warn, "forced stop: the app's Node.js processes have ended").await;
    }
    session_ended(&rec, root, terminal).await;
    if presses >= 2 {
        return Ok(ExitCode::from(130));
    }
    Ok(if ready { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// How long a forced stop waits for the session to end the app's processes.
const FORCE_WAIT: Duration = Duration::from_secs(3);
/// How long an unlinked app's link waits for a session that is ending (its last app left).
const SESSION_END_WAIT: Duration = Duration::from_secs(3);

/// Asks the session to unlink (gracefully or by force); the answer comes at once.
async fn ask_unlink(record: SessionRecord, unlink: Unlink, wait: Duration) -> anyhow::Result<()> {
    Connection::to(record, wait).call(&unlink).await.map_err(super::Refusal::into_error)?;
    Ok(())
}

/// The link leaves before the session has ended the app: say who still runs.
async fn left_running(terminal: &Terminal, rec: &SessionRecord) -> ExitCode {
    let message = format!(
        "the link session (pid {}) did not end the app in time; it is stopped or overloaded: `kill {}` ends it and its Node.js processes",
        rec.pid, rec.pid
    );
    terminal.status(Level::Warn, message).await;
    ExitCode::from(130)
}

/// After the app is unlinked: if it was the session's last app, waits (bounded) for the
/// session process to end, so that the next command does not meet a session on its way out,
/// and says so when it takes longer.
async fn session_ended(rec: &SessionRecord, root: &Path, terminal: &Terminal) {
    let Ok(home) = crate::layout::home() else { return };
    let scope = Scope { account: rec.account.clone(), workspace: rec.workspace.clone() };
    let mine = App::load(root).ok().map(|a| a.manifest.app_id().to_string());
    let deadline = tokio::time::Instant::now() + SESSION_END_WAIT;
    loop {
        let current = record::find(&home, &scope).ok().flatten().filter(|r| r.pid == rec.pid);
        // Going on with other apps (it rewrote its record without this one), or gone.
        if current.is_some_and(|r| r.apps.iter().any(|a| Some(a) != mine.as_ref())) || !record::alive(rec.pid) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let message = format!("the link session (pid {}) is still ending; see its log", rec.pid);
            terminal.status(Level::Warn, message).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ctrl-C or SIGTERM came before the app was linked.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped before the app was linked")
    }
}

impl std::error::Error for Stopped {}

/// Finds or starts the scope's session and asks it to link the app; the answer streams the
/// app's output. A session that is just ending refuses new apps (or closes the connection):
/// wait for it to be gone and start a fresh one.
async fn join(
    opts: &Options,
    root: &Path,
    started_at: SystemTime,
    boundary: BoundaryOptions,
    terminal: &Terminal,
) -> anyhow::Result<(Connection, hyper::Response<hyper::body::Incoming>)> {
    let home = crate::layout::home()?;
    for _ in 0..3 {
        let (rec, joining) = match record::find(&home, &opts.scope)? {
            Some(r) => (r, true),
            None => (start_session(opts, &home).await?, false),
        };
        rec.check_version()?;
        let session = Connection::to(rec, opts.timeout);
        let request = LinkRequest {
            root: root.to_path_buf(),
            watch: opts.watch,
            started_at_us: micros(started_at),
            boundary: boundary.clone(),
            inspect: opts.inspect,
            typecheck: opts.typecheck,
        };
        let resp = match session.request("POST", path::APPS, Some(serde_json::to_string(&request)?)).await {
            Ok(resp) => resp,
            Err(_) if joining => {
                wait_gone(&home, &opts.scope, session.record.pid).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let refusal = super::refusal(status, &super::text(resp).await?);
            if refusal.code == ErrorCode::SessionEnding {
                wait_gone(&home, &opts.scope, session.record.pid).await?;
                continue;
            }
            return Err(Refusal::Refused(refusal).into_error());
        }
        if joining {
            terminal.info(format!("joining the link session of {} at {}", opts.scope, session.url())).await;
            if opts.session_flags {
                terminal
                    .status(
                        Level::Warn,
                        "--port, --sender-interval and --no-sample-sender only apply when a link starts the session; this one keeps its own",
                    )
                    .await;
            }
            if std::env::var_os(crate::session::cluster::CLUSTER_ENV).is_some() {
                let said = "--cluster (IOCTL_CLUSTER) only applies when a link starts the session; this one keeps its own (`ioctl status` says whether it is in a team workspace)";
                terminal.status(Level::Warn, said).await;
            }
        }
        return Ok((session, resp));
    }
    bail!("the link session of {} kept ending; try again", opts.scope)
}

/// µs since the epoch, as the link request carries its start.
fn micros(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Waits (up to 10 s) until the session with `pid` no longer holds the scope's record.
async fn wait_gone(home: &Path, scope: &Scope, pid: u32) -> anyhow::Result<()> {
    for _ in 0..200 {
        if record::find(home, scope)?.is_none_or(|r| r.pid != pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A diagnostic from the session carries no file text: read it here for the code frame.
fn with_source(mut d: crate::diagnostic::Diagnostic, root: &Path) -> crate::diagnostic::Diagnostic {
    if d.source.is_none() {
        d.source = std::fs::read_to_string(root.join(&d.file)).ok();
    }
    d
}

/// Starts the session of `opts.scope` as a background `ioctl` process and waits until it
/// listens. Its stderr goes to a log file beside the session record.
async fn start_session(opts: &Options, home: &Path) -> anyhow::Result<SessionRecord> {
    let exe = std::env::current_exe().context("cannot find the ioctl executable to start a session")?;
    let log_path = record::path(home, &opts.scope).with_extension("log");
    if let Some(dir) = log_path.parent() {
        crate::layout::private_dir(home, dir)?;
    }
    let log = record::session_log(&log_path)?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("session-serve")
        .args(["--account", &opts.scope.account, "--workspace", &opts.scope.workspace])
        .args(["--port", &opts.port.to_string()])
        .args(["--sender-interval", &opts.sender_interval.as_secs_f64().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        // The developer's credentials reach the session in link requests only (it would
        // otherwise hand them down to every app's Node process).
        .env_remove("VTEX_APP_KEY")
        .env_remove("VTEX_APP_TOKEN")
        .env_remove("IOCTL_CLOUD_URL")
        // Its own process group: Ctrl-C in this terminal is for this link, not the session.
        .process_group(0);
    if !opts.sample_sender {
        cmd.arg("--no-sample-sender");
    }
    let mut child = cmd.spawn().context("cannot start the link session")?;
    let stdout = child.stdout.take().context("no stdout from the link session")?;
    let mut first = String::new();
    let read = tokio::time::timeout(SESSION_START, BufReader::new(stdout).read_line(&mut first)).await;
    // The session runs on by itself; reap it if it ends while this link still runs.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    match read {
        Ok(Ok(n)) if n > 0 => {}
        _ => bail!("the link session did not start; see {}", log_path.display()),
    }
    let handshake: Handshake = serde_json::from_str(&first).context("unreadable first line from the link session")?;
    if let Handshake::Failed { error } = handshake {
        bail!("{error}");
    }
    record::find(home, &opts.scope)?.ok_or_else(|| anyhow!("the link session started but wrote no record"))
}

/// Ctrl-C (SIGINT) and SIGTERM, registered when created so that a signal that comes at
/// any point (even during start-up) is handled.
struct StopSignal {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn new() -> anyhow::Result<StopSignal> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignal { int: signal(SignalKind::interrupt())?, term: signal(SignalKind::terminate())? })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
