//! The Node runtime: one Node.js process per linked app version (a [`Worker`]), running the
//! app's built code under host.js with ioctl's stand-in for `@vtex/api`. ioctl talks to it
//! over a unix socket (see `protocol`); its stdout and stderr become log lines.

pub mod checker;
mod deps;
mod install;
pub mod outbound;
pub mod pause;
pub mod protocol;
pub mod stack;

pub use deps::{DepsState, Preload, INSTALL_MARKERS};
pub use install::{
    install_all_into, install_ide, install_runtime, install_typecheck, npm_path, package_sets, Installed, TypeChecker,
};

use crate::lock::Locked;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::app::AppId;
use crate::diagnostic::Diagnostic;
use crate::failure::Failure;
use crate::protocol::{Event, Scope};
use crate::terminal::{Level, Output, Terminal};
use protocol::{FromHost, HostError, ToHost};

/// How long a starting Node process may take to connect and load the app.
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// What a Worker needs to know about the app it runs.
#[derive(Debug, Clone)]
pub struct Spec {
    pub node: PathBuf,
    pub app_root: PathBuf,
    /// The runtime's JavaScript folder: stack frames in it are ioctl's, hidden from the user.
    pub runtime_dir: PathBuf,
    pub node_dir: PathBuf,
    /// The app's id, `vendor.name@version`: what its log lines are tagged with, and (its parts)
    /// the host's environment; without version, `vendor.name`, the sender of the events it
    /// fires and the app its platform calls are made for.
    pub id: AppId,
    pub scope: Scope,
    /// The private folder (0700) for the host's sockets.
    pub sockets: PathBuf,
    /// The app's entry, where it was written (`node/index.ts`).
    pub entry: PathBuf,
    /// Where the build of the app's TypeScript mirrors the app folder.
    pub build_dir: PathBuf,
    /// Where the app's `sendEvent` calls go (the session publishes them).
    pub outbox: Outbox,
    /// Where the app's platform calls go (the session runs them on its storage).
    pub platform: Platform,
    /// Where the app's log lines go too, besides its terminal (the session's journal).
    pub logs: LogTap,
    /// `link --inspect`: its processes run under Node's inspector, for the session's proxy.
    pub inspect: Option<Inspect>,
}

/// How a linked app's processes run under Node's inspector (`link --inspect`), and what they
/// share with the session's inspector proxy, which is the debugger's one endpoint.
#[derive(Debug, Clone, Default)]
pub struct Inspect {
    /// `--inspect-brk`: each load waits for a debugger and pauses before the app's first line.
    pub brk: bool,
    /// Set by the proxy while the process stands in the debugger: no limit counts that time.
    pub paused: pause::Paused,
    /// The inspector URL of a process that waits for a debugger before the app's first line
    /// (`--inspect-brk`): the proxy follows it before it serves. The proxy holds the receiver.
    pub waiting: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

/// What Node itself prints on stderr about its inspector: the proxy's endpoint is the one the
/// user attaches to, so the inner process's own address would only mislead.
fn inspector_chatter(line: &str) -> bool {
    line.starts_with("Debugger listening on ws://127.0.0.1:")
        || line == "For help, see: https://nodejs.org/en/docs/inspector"
        || line == "Debugger attached."
        || line.starts_with("Debugger ending on ws://127.0.0.1:")
        || line.starts_with("Waiting for the debugger to disconnect")
}

/// A copy of each log line of the app's (what its terminal shows), for the session's history.
#[derive(Clone, Default)]
pub struct LogTap(Option<Tap>);

type Tap = Arc<dyn Fn(&Output) + Send + Sync>;

impl LogTap {
    pub fn new(tap: impl Fn(&Output) + Send + Sync + 'static) -> LogTap {
        LogTap(Some(Arc::new(tap)))
    }

    /// Copies `line`, then sends it to `terminal` (never waiting, as [`Terminal::log`]).
    fn log(&self, terminal: &Terminal, line: Output) {
        if let Some(tap) = &self.0 {
            tap(&line);
        }
        terminal.log(line);
    }
}

impl std::fmt::Debug for LogTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "LogTap(on)" } else { "LogTap(off)" })
    }
}

/// One platform call of the app, for the session to run; `reply` answers the app's promise.
#[derive(Debug)]
pub struct PlatformCall {
    /// `vendor.name` of the calling app.
    pub app: String,
    /// The trace (request or delivery attempt) the app made it in, if any.
    pub trace: Option<u64>,
    pub call: PlatformRequest,
    pub reply: Reply,
}

/// What a platform call asks: one of the local platform clients' calls (settings, VBase,
/// Master Data), or an outbound HTTP call (`"service": "http"`) for the boundary to answer.
#[derive(Debug)]
pub enum PlatformRequest {
    Store(crate::store::call::Call),
    Http(outbound::Outbound),
}

impl PlatformRequest {
    /// The call a `platform` message carries.
    fn parse(call: Value) -> Result<PlatformRequest, String> {
        let http = call.get("service").and_then(Value::as_str) == Some("http");
        let parsed = if http {
            serde_json::from_value::<outbound::Outbound>(call).map(PlatformRequest::Http)
        } else {
            serde_json::from_value::<crate::store::call::Call>(call).map(PlatformRequest::Store)
        };
        parsed.map_err(|e| e.to_string())
    }
}

/// The way back to the app for one platform call.
#[derive(Debug)]
pub struct Reply {
    request: u64,
    tx: mpsc::Sender<String>,
}

impl Reply {
    /// Resolves (or rejects, with the error's status) the app's promise.
    pub async fn send(self, result: Result<Value, crate::store::StoreError>) {
        let _ = self.tx.send(platform_result(self.request, result)).await;
    }
}

fn platform_result(request: u64, result: Result<Value, crate::store::StoreError>) -> String {
    let message = match result {
        Ok(value) => ToHost::PlatformResult { request, ok: true, value: Some(value), error: None },
        Err(e) => ToHost::PlatformResult {
            request,
            ok: false,
            value: None,
            error: Some(protocol::PlatformError { status: e.status, message: e.message }),
        },
    };
    message.line()
}

/// The session's end of the apps' platform calls. Bounded: the host keeps at most 64 calls
/// unanswered per process, so the reader task never waits on it (see `handle`).
pub type Platform = mpsc::Sender<PlatformCall>;

/// An event the app fires with `ctx.clients.events.sendEvent`, for the session to publish;
/// `ack` answers the app's promise. The channel is bounded and the host keeps at most a few
/// dozen unanswered, so an app firing in a loop is slowed down, not buffered without limit.
#[derive(Debug)]
pub struct SendEvent {
    /// `vendor.name` of the app.
    pub sender: String,
    pub key: String,
    pub subject: String,
    pub body: Value,
    pub ack: Ack,
}

/// The way back to the app for one `sendEvent` call.
#[derive(Debug)]
pub struct Ack {
    request: u64,
    tx: mpsc::Sender<String>,
}

impl Ack {
    /// Resolves the app's `sendEvent` promise with the published event's id.
    pub async fn published(self, event_id: String) {
        let _ = self
            .tx
            .send(ToHost::SendEventAck { request: self.request, event_id: Some(event_id), error: None }.line())
            .await;
    }
}

/// The session's end of the apps' `sendEvent` calls.
pub type Outbox = mpsc::Sender<SendEvent>;

/// What the app's Service declares, as the host saw it after loading.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The Service's callable event handlers.
    pub events: Vec<String>,
    /// Handlers the Service declares that are not functions, with what they are instead.
    pub bad_events: std::collections::BTreeMap<String, String>,
    /// The route ids the Service serves.
    pub route_ids: Vec<String>,
    pub client_options: Value,
    /// The unix socket (only this user can open it) where the host serves the Service's routes
    /// and its GraphQL, when it has any.
    pub routes: Option<PathBuf>,
    /// Whether the Service serves GraphQL (its schema built).
    pub graphql: bool,
    /// What the next standby should preload.
    pub preload: Vec<String>,
    /// How long the load took inside Node.
    pub timings: protocol::LoadTimings,
}

/// A handler attempt that failed.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub message: String,
    /// Tidied stack (paths relative to the app), when there is one.
    pub stack: Option<String>,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<(), AttemptError>>>>>;
type Pings = Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>;

/// One running Node process with the app loaded.
pub struct Worker {
    pub loaded: Loaded,
    /// Lines to the host; the writer task holds the socket.
    tx: mpsc::Sender<String>,
    pending: Pending,
    pings: Pings,
    next_delivery: AtomicU64,
    /// Cancelled when the process has exited (crash or stop).
    exited: CancellationToken,
    /// Cancel to kill the process.
    kill: CancellationToken,
    /// Set when the process has exited: why (exit code or signal).
    exit_reason: Arc<Mutex<Option<String>>>,
    /// Where the host serves its routes: held only to remove the file with the worker.
    _routes_sock: SocketFile,
    /// The Node process's id (the dashboard reads its memory).
    pid: Option<u32>,
    /// Under `link --inspect`: its inspector's WebSocket URL, and the app's pause state.
    inspector: Option<String>,
    paused: Option<pause::Paused>,
}

/// Finds Node.js: `$IOCTL_NODE`, or `node` on PATH. Only the file is looked up here, so a
/// session starts without paying for a Node process; host.js checks the version (18 or newer)
/// as it starts and says so when it is older.
pub fn find_node() -> anyhow::Result<PathBuf> {
    let cannot_run = |node: &Path, why: &dyn std::fmt::Display| {
        anyhow!(
            "cannot run Node.js ({}): {why}; install Node.js 18 or newer and put `node` on PATH (or set IOCTL_NODE)",
            node.display()
        )
    };
    if let Some(node) = std::env::var_os("IOCTL_NODE").map(PathBuf::from) {
        return match std::fs::metadata(&node) {
            Ok(m) if is_executable(&m) => Ok(node),
            Ok(_) => Err(cannot_run(&node, &"not an executable file")),
            Err(e) => Err(cannot_run(&node, &e)),
        };
    }
    // The first executable `node` on PATH, as a shell finds it: five lines that the `which`
    // crate would replace with a dependency on rustix.
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|node| std::fs::metadata(node).is_ok_and(|m| is_executable(&m)))
        .ok_or_else(|| cannot_run(Path::new("node"), &"not found on PATH"))
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

static SOCKET_SEQ: AtomicU64 = AtomicU64::new(0);

/// A host's socket file, named `PID-SEQ[-routes].sock` after the session that made it; the
/// file is removed when this is dropped (Node does not remove it when it is killed).
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes the sockets in the sockets folder that sessions no longer running left (killed,
/// or ended before they could), by the session pid their names start with. Another
/// session's sockets, of this IOCTL_HOME or another, stay.
pub fn sweep_sockets(dir: &Path) {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_suffix(".sock")?.split('-').next()?.parse::<u32>().ok())
        else {
            continue;
        };
        let socket = entry.file_type().is_ok_and(|t| t.is_socket());
        if socket && pid != std::process::id() && !crate::protocol::record::alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Worker {
    /// Starts Node on the built app and waits until it has loaded (or failed to).
    pub async fn start(spec: &Spec, runtime: &Installed, terminal: Terminal) -> Result<Worker, Failure> {
        let host = Host::spawn(spec, runtime, &terminal, None).await?;
        host.finish(spec, terminal).await
    }
}

/// A started Node host connected to ioctl, before its app has loaded. As a warm standby it
/// waits for `load`, so a relink does not pay for a process start.
pub struct Host {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    write: tokio::net::unix::OwnedWriteHalf,
    /// Where the host serves the app's routes; removed when the host (or, once it has loaded
    /// the app, its worker) goes.
    routes_sock: SocketFile,
    /// A standby's preloaded dependencies, as they were on disk when it started.
    deps: Option<DepsState>,
    /// Its inspector's WebSocket URL (`link --inspect`), once it said it.
    inspector: Option<String>,
    /// It waits for a debugger before the app's first line: loading has no time limit then.
    waiting_debugger: bool,
}

impl Host {
    /// Spawns host.js and waits for it to connect; a standby (`Some`, with the packages to
    /// preload) also waits for its `standby` line.
    pub async fn spawn(
        spec: &Spec,
        runtime: &Installed,
        terminal: &Terminal,
        standby: Option<&Preload>,
    ) -> Result<Host, Failure> {
        let other = Failure::Internal;
        // In the user's private socket folder (0700): nobody else can open, or pre-create, them.
        let name = format!("{}-{}", std::process::id(), SOCKET_SEQ.fetch_add(1, Ordering::Relaxed));
        let sock = SocketFile(spec.sockets.join(format!("{name}.sock")));
        let routes_sock = SocketFile(spec.sockets.join(format!("{name}-routes.sock")));
        let _ = std::fs::remove_file(&sock.0);
        let _ = std::fs::remove_file(&routes_sock.0);
        let listener = UnixListener::bind(&sock.0)
            .with_context(|| format!("{}: cannot listen", sock.0.display()))
            .map_err(other)?;
        let mut command = Command::new(&spec.node);
        if let Some(inspect) = &spec.inspect {
            // Loopback, and a port of the OS's choosing: only the session's proxy connects here.
            command.arg("--inspect=127.0.0.1:0");
            if inspect.brk {
                command.env("IOCTL_INSPECT_BRK", "1");
            }
        }
        command
            .arg("--enable-source-maps")
            .arg(runtime.host_js())
            .current_dir(&spec.node_dir)
            .env("IOCTL_SOCKET", &sock.0)
            .env("IOCTL_ROUTES_SOCKET", &routes_sock.0)
            .env("IOCTL_APP_ROOT", &spec.app_root)
            .env("IOCTL_BUILD_DIR", &spec.build_dir)
            .envs(runtime.env())
            .envs(app_env(spec))
            .env("VTEX_ACCOUNT", &spec.scope.account)
            .env("VTEX_WORKSPACE", &spec.scope.workspace)
            .env("VTEX_REGION", "local")
            .env("VTEX_PRODUCTION", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C in the terminal reaches ioctl, which stops it.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(preload) = standby {
            command.env("IOCTL_STANDBY", "1");
            command.env("IOCTL_PRELOAD", serde_json::to_string(&preload.files).unwrap_or_default());
        } else {
            command.env("IOCTL_ENTRY", &spec.entry);
        }
        let spawned = std::time::Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start Node.js ({})", spec.node.display()))
            .map_err(other)?;
        let out = (spec.id.to_string(), terminal.clone(), spec.logs.clone());
        pipe_output(child.stdout.take(), Level::Info, out.clone());
        pipe_output(child.stderr.take(), Level::Error, out);

        let accepted = tokio::select! {
            a = tokio::time::timeout(LOAD_TIMEOUT, listener.accept()) => a,
            status = child.wait() => {
                return Err(other(anyhow!("Node.js exited before loading the app ({})", describe_status(status.ok()))));
            }
        };
        // Connected (or not): nobody else is to connect to it.
        drop(sock);
        let (stream, _) = match accepted {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(other(anyhow!("Node.js did not connect: {e}"))),
            Err(_) => return Err(other(anyhow!("Node.js did not connect within {} s", LOAD_TIMEOUT.as_secs()))),
        };
        let connect_ms = spawned.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(app = spec.id.as_str(), connect_ms, standby = standby.is_some(), "Node.js connected");
        let (read, write) = stream.into_split();
        let deps = standby.map(|p| p.deps.clone());
        let mut host = Host {
            child,
            lines: BufReader::new(read).lines(),
            write,
            routes_sock,
            deps,
            inspector: None,
            waiting_debugger: false,
        };
        if standby.is_some() {
            match host.next(spec, terminal).await? {
                FromHost::Standby => {}
                said => return Err(other(anyhow!("the standby Node.js said {said:?} before `standby`"))),
            }
        }
        Ok(host)
    }

    /// Whether the process is still there (a standby may have died while waiting).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether the dependencies this standby preloaded are still those on disk.
    pub fn deps_current(&self, now: &DepsState) -> bool {
        self.deps.as_ref().is_none_or(|d| d == now)
    }

    /// Loads the (freshly built) app into this standby host.
    pub async fn load(mut self, spec: &Spec, terminal: Terminal) -> Result<Worker, Failure> {
        let entry = &spec.entry;
        let env: serde_json::Map<String, Value> =
            app_env(spec).into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        let line = ToHost::Load { entry: &entry.to_string_lossy(), env: Value::Object(env) }.line();
        self.write
            .write_all(line.as_bytes())
            .await
            .map_err(|e| Failure::Internal(anyhow!("cannot reach the standby Node.js: {e}")))?;
        self.finish(spec, terminal).await
    }

    /// The next message that is not a log line (log lines go to the terminal).
    async fn next(&mut self, spec: &Spec, terminal: &Terminal) -> Result<FromHost, Failure> {
        let other = Failure::Internal;
        loop {
            // A host waiting for a debugger (`--inspect-brk`) waits as long as the developer does.
            let limit = if self.waiting_debugger { Duration::MAX / 4 } else { LOAD_TIMEOUT };
            let line = tokio::select! {
                l = tokio::time::timeout(limit, self.lines.next_line()) => l,
                status = self.child.wait() => {
                    return Err(other(anyhow!("Node.js exited while loading the app ({})", describe_status(status.ok()))));
                }
            };
            let line = match line {
                Ok(Ok(Some(l))) => l,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = self.child.wait().await.ok();
                    return Err(other(anyhow!("Node.js exited while loading the app ({})", describe_status(status))));
                }
                Err(_) => {
                    return Err(other(anyhow!("the app did not finish loading within {} s", LOAD_TIMEOUT.as_secs())))
                }
            };
            match serde_json::from_str::<FromHost>(&line) {
                Ok(FromHost::Log { level, message, handler, .. }) => {
                    spec.logs.log(terminal, app_log(spec, &level, message, handler));
                }
                Ok(FromHost::Inspector { url, waiting }) => {
                    if let (true, Some(inspect)) = (waiting, &spec.inspect) {
                        self.waiting_debugger = true;
                        inspect.waiting.send_replace(Some(url.clone()));
                    }
                    self.inspector = Some(url);
                }
                Ok(msg) => return Ok(msg),
                Err(e) => return Err(other(anyhow!("unexpected message from Node.js: {e}: {line}"))),
            }
        }
    }

    /// Waits for `loaded` (or `load_error`), then runs the worker's tasks.
    async fn finish(mut self, spec: &Spec, terminal: Terminal) -> Result<Worker, Failure> {
        // A load that fails after waiting for a debugger (`--inspect-brk`) is no longer the
        // one to debug: the proxy goes back to the version that serves.
        let mut failed_wait = ClearWaiting(spec.inspect.as_ref());
        let loaded = match self.next(spec, &terminal).await? {
            FromHost::Loaded {
                events,
                routes,
                bad_events,
                client_options,
                routes_socket,
                graphql,
                preload,
                timings,
            } => Loaded {
                events,
                bad_events,
                route_ids: routes,
                client_options,
                routes: routes_socket,
                graphql,
                preload,
                timings,
            },
            FromHost::LoadError { diagnostics: Some(found), .. } if !found.is_empty() => {
                return Err(Failure::App(found.iter().map(|d| file_diagnostic(&spec.app_root, d)).collect()));
            }
            FromHost::LoadError { message, stack, .. } => {
                return Err(Failure::from(load_diagnostic(spec, &message, stack.as_deref())));
            }
            said => return Err(Failure::Internal(anyhow!("unexpected message from Node.js: {said:?}"))),
        };
        failed_wait.0 = None;
        let Host { child, mut lines, mut write, routes_sock, inspector, .. } = self;
        let pid = child.id();
        let (tx, mut rx) = mpsc::channel::<String>(1024);
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if write.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let pings: Pings = Arc::default();
        let exited = CancellationToken::new();
        let kill = CancellationToken::new();
        let exit_reason: Arc<Mutex<Option<String>>> = Arc::default();

        // Reader: results, logs and sendEvent calls from the host.
        {
            let (pending, pings, spec, terminal, tx) =
                (pending.clone(), pings.clone(), spec.clone(), terminal.clone(), tx.clone());
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    match serde_json::from_str::<FromHost>(&line) {
                        Ok(FromHost::Pong { id }) => {
                            if let Some(p) = pings.locked().remove(&id) {
                                let _ = p.send(());
                            }
                        }
                        Ok(msg) => handle(msg, &spec, &pending, &terminal, &tx).await,
                        Err(e) => terminal.log(Output::Log {
                            level: Level::Warn,
                            message: format!("ignored a malformed message from Node.js: {e}"),
                            app: None,
                            handler: None,
                        }),
                    }
                }
            });
        }
        supervise(child, pending.clone(), exited.clone(), kill.clone(), exit_reason.clone());
        Ok(Worker {
            loaded,
            tx,
            pending,
            pings,
            next_delivery: AtomicU64::new(1),
            exited,
            kill,
            exit_reason,
            _routes_sock: routes_sock,
            pid,
            paused: spec.inspect.as_ref().filter(|_| inspector.is_some()).map(|i| i.paused.clone()),
            inspector,
        })
    }
}

/// Until disarmed, clears the URL of the process waiting for a debugger when dropped.
struct ClearWaiting<'a>(Option<&'a Inspect>);

impl Drop for ClearWaiting<'_> {
    fn drop(&mut self) {
        if let Some(inspect) = self.0 {
            inspect.waiting.send_if_modified(|w| w.take().is_some());
        }
    }
}

/// The supervisor of a host process: owns the child; when it exits (or `kill` is cancelled and
/// it is killed), records why, fails every attempt still in flight, and cancels `exited`.
fn supervise(
    mut child: tokio::process::Child,
    pending: Pending,
    exited: CancellationToken,
    kill: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
) {
    tokio::spawn(async move {
        let status = tokio::select! {
            s = child.wait() => s.ok(),
            _ = kill.cancelled() => {
                let _ = child.start_kill();
                child.wait().await.ok()
            }
        };
        let status = describe_status(status);
        let why = format!("the Node.js process exited ({status})");
        *reason.locked() = Some(status);
        for (_, reply) in pending.locked().drain() {
            let _ = reply.send(Err(AttemptError { message: why.clone(), stack: None }));
        }
        exited.cancel();
    });
}

impl Worker {
    /// Runs one attempt of a delivery; resolves when the handler finished (or the process died).
    /// Dropping the future abandons the attempt: its late result is then only logged.
    pub async fn deliver(&self, event: &Event, handler: &str, attempt: u32, trace: u64) -> Result<(), AttemptError> {
        let id = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, reply_rx) = oneshot::channel();
        self.pending.locked().insert(id, reply_tx);
        let _guard = Abandon { pending: &self.pending, id };
        let line =
            ToHost::Deliver { delivery: id, attempt, trace, handler, event: std::borrow::Cow::Borrowed(event) }.line();
        if self.exited.is_cancelled() || self.tx.send(line).await.is_err() {
            return Err(AttemptError { message: "the Node.js process is not running".into(), stack: None });
        }
        reply_rx
            .await
            .unwrap_or_else(|_| Err(AttemptError { message: "the Node.js process exited".into(), stack: None }))
    }

    /// Whether the host answers a ping within `limit`; kills it when it does not.
    pub async fn responsive(&self, limit: Duration) -> bool {
        if self.exited.is_cancelled() {
            return false;
        }
        let id = self.next_delivery.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pings.locked().insert(id, tx);
        let _ = self.tx.send(ToHost::Ping { id }.line()).await;
        // Paused in the debugger is not blocked: the wait does not count that time.
        let answered = matches!(pause::timeout(self.paused.as_ref(), limit, rx).await, Some(Ok(())));
        self.pings.locked().remove(&id);
        if !answered && !self.exited.is_cancelled() && !self.paused.as_ref().is_some_and(pause::Paused::is_paused) {
            self.kill.cancel();
        }
        answered
    }

    /// False once the process has exited.
    pub fn is_running(&self) -> bool {
        !self.exited.is_cancelled()
    }

    /// The Node process's id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Its inspector's WebSocket URL, under `link --inspect`.
    pub fn inspector_url(&self) -> Option<&str> {
        self.inspector.as_deref()
    }

    /// Whether the app stands in the debugger (under `link --inspect`).
    pub fn paused(&self) -> Option<&pause::Paused> {
        self.paused.as_ref()
    }

    /// Resolves once the process has exited (a crash, or a stop).
    pub async fn exited(&self) {
        self.exited.cancelled().await
    }

    /// Why the process exited (`None` while it runs).
    pub fn exit_reason(&self) -> Option<String> {
        self.exit_reason.locked().clone()
    }

    /// Attempts currently running in this process.
    pub fn in_flight(&self) -> usize {
        self.pending.locked().len()
    }

    /// Waits (up to `limit`) until no attempt runs here, so a replaced version can finish
    /// its work before it is stopped.
    pub async fn drain(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while self.in_flight() > 0 && tokio::time::Instant::now() < until && !self.exited.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Asks the host to exit, then kills it if it does not within `grace`.
    pub async fn stop(&self, grace: Duration) {
        let _ = self.tx.send(ToHost::Shutdown.line()).await;
        if tokio::time::timeout(grace, self.exited.cancelled()).await.is_err() {
            self.kill.cancel();
            self.exited.cancelled().await;
        }
    }
}

impl Drop for Worker {
    /// Kills the process; `_routes_sock` then removes its socket.
    fn drop(&mut self) {
        self.kill.cancel();
    }
}

/// Removes a pending attempt when its `deliver` future ends or is dropped (timeout).
struct Abandon<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.pending.locked().remove(&self.id);
    }
}

async fn handle(msg: FromHost, spec: &Spec, pending: &Pending, terminal: &Terminal, tx: &mpsc::Sender<String>) {
    match msg {
        FromHost::Log { level, message, handler, .. } => {
            spec.logs.log(terminal, app_log(spec, &level, message, handler))
        }
        FromHost::Result { delivery, ok, error, .. } => {
            let reply = pending.locked().remove(&delivery);
            match reply {
                Some(reply) => {
                    let result = if ok { Ok(()) } else { Err(attempt_error(error, spec)) };
                    let _ = reply.send(result);
                }
                None => {
                    let what = if ok {
                        "succeeded".to_string()
                    } else {
                        format!("failed: {}", error.map(|e| e.message).unwrap_or_default())
                    };
                    let message = format!(
                        "an abandoned (timed-out) handler attempt finished late and {what}; its result is ignored"
                    );
                    terminal.log(Output::Log { level: Level::Warn, message, app: None, handler: None });
                }
            }
        }
        FromHost::SendEvent { request, subject, key, body } => {
            // Waits when the session's outbox is full: the host then stops getting acks and
            // its bounded sendEvent window makes the app wait.
            let ack = Ack { request, tx: tx.clone() };
            let _ = spec
                .outbox
                .send(SendEvent { sender: spec.id.without_version().to_string(), key, subject, body, ack })
                .await;
        }
        FromHost::Platform { request, trace, call } => {
            // try_send: the reader must keep reading results and pongs. The host's window
            // (64 per process) keeps the channel from filling; if it ever does, the call
            // fails with 503 instead of stalling the reader.
            let refused = match PlatformRequest::parse(call) {
                Err(e) => Some(crate::store::StoreError::bad_request(format!("unknown platform call: {e}"))),
                Ok(call) => {
                    let reply = Reply { request, tx: tx.clone() };
                    match spec.platform.try_send(PlatformCall {
                        app: spec.id.without_version().to_string(),
                        trace,
                        call,
                        reply,
                    }) {
                        Ok(()) => None,
                        Err(_) => {
                            Some(crate::store::StoreError::new(503, "ioctl's local platform services are overloaded"))
                        }
                    }
                }
            };
            if let Some(e) = refused {
                let _ = tx.send(platform_result(request, Err(e))).await;
            }
        }
        FromHost::Loaded { .. }
        | FromHost::LoadError { .. }
        | FromHost::Standby
        | FromHost::Inspector { .. }
        | FromHost::Pong { .. } => {}
    }
}

fn attempt_error(error: Option<HostError>, spec: &Spec) -> AttemptError {
    match error {
        Some(e) => {
            let message = if e.name.is_empty() || e.message.starts_with(&e.name) {
                e.message
            } else {
                format!("{}: {}", e.name, e.message)
            };
            AttemptError { message, stack: e.stack.map(|s| stack::tidy(&s, &spec.app_root, &spec.runtime_dir)) }
        }
        None => AttemptError { message: "the handler failed".into(), stack: None },
    }
}

/// A problem the host positioned in one of the app's files (a .graphql file), with its code frame.
fn file_diagnostic(app_root: &Path, d: &protocol::HostDiagnostic) -> Diagnostic {
    match &d.file {
        Some(file) => {
            let source = std::fs::read_to_string(app_root.join(file)).ok();
            Diagnostic::at_line_col(Path::new(file), source.as_deref(), d.line, d.column, d.message.clone())
        }
        None => Diagnostic::at_line_col(Path::new("graphql"), None, 1, 1, d.message.clone()),
    }
}

/// A load failure as a positioned diagnostic at the app's own frame, when there is one.
fn load_diagnostic(spec: &Spec, message: &str, stack: Option<&str>) -> Diagnostic {
    let app_root = &spec.app_root;
    if let Some(d) = missing_module(app_root, message) {
        return d;
    }
    // The stack's headline carries the error's name ("ReferenceError: ...").
    let headline = stack.and_then(|s| s.lines().find(|l| l.ends_with(message) && l.len() > message.len()));
    let message = headline.unwrap_or(message);
    let frame = stack.and_then(|s| stack::first_app_frame(s, app_root));
    match frame {
        Some((path, line, col)) => {
            let source = std::fs::read_to_string(&path).ok();
            let rel = path.strip_prefix(app_root).unwrap_or(&path).to_path_buf();
            Diagnostic::at_line_col(&rel, source.as_deref(), line, col, message.to_string())
        }
        None => {
            let mut d = Diagnostic::at_line_col(Path::new("node/index.ts"), None, 1, 1, message.to_string());
            // A stack without frames only repeats the message.
            if let Some(s) = stack.filter(|s| s.contains("\n    at ")) {
                d.help = Some(stack::tidy(s, app_root, &spec.runtime_dir));
            }
            d
        }
    }
}

/// "Cannot find module 'X'", positioned at the import (or require) of X in the .ts file that
/// asked for it (the first file of Node's require stack), with what to do about it.
fn missing_module(app_root: &Path, message: &str) -> Option<Diagnostic> {
    let (module, requirer) = parse_missing_module(message)?;
    if !requirer.starts_with(app_root) {
        return None;
    }
    let source = std::fs::read_to_string(requirer).ok()?;
    let (line, col) = import_position(&source, module).unwrap_or((1, 1));
    let rel = requirer.strip_prefix(app_root).unwrap_or(requirer);
    let d = Diagnostic::at_line_col(rel, Some(&source), line, col, format!("Cannot find module '{module}'"));
    Some(d.with_help(missing_module_help(module, rel)))
}

/// What Node's "Cannot find module 'X'\nRequire stack:\n- FILE ..." names: X, and the file
/// that required it (the first of the require stack). None for any other message, or one
/// without a require stack (nothing to position it at).
fn parse_missing_module(message: &str) -> Option<(&str, &Path)> {
    let rest = message.strip_prefix("Cannot find module '")?;
    let module = &rest[..rest.find('\'')?];
    let requirer = message.lines().find_map(|l| l.strip_prefix("- "))?;
    Some((module, Path::new(requirer)))
}

/// What to do about a module `requirer` (relative to the app) asks for and Node cannot find:
/// a relative one is a file next to it; a package (`pkg/sub`, `@scope/pkg/sub`) is a
/// dependency, named without its subpath. (An unknown `node:X` is no "Cannot find module":
/// Node says "No such built-in module", shown at the import as any load error.)
fn missing_module_help(module: &str, requirer: &Path) -> String {
    if module.starts_with('.') {
        format!("no file `{module}` (.ts, .js, .json or a folder with index.ts) next to {}", requirer.display())
    } else {
        let package = package_name(module);
        format!("add `{package}` to the dependencies in node/package.json and run `npm install` in node/")
    }
}

/// The package a bare specifier is in: `pkg` of `pkg/sub`, `@scope/pkg` of `@scope/pkg/sub`
/// (as host/modules.js's `packageName`).
fn package_name(module: &str) -> &str {
    let parts = if module.starts_with('@') { 2 } else { 1 };
    match module.match_indices('/').nth(parts - 1) {
        Some((at, _)) => &module[..at],
        None => module,
    }
}

/// Line and column (1-based) of `module`'s specifier in an import, export-from or require.
fn import_position(source: &str, module: &str) -> Option<(usize, usize)> {
    for (i, line) in source.lines().enumerate() {
        for quote in ['\'', '"', '`'] {
            let needle = format!("{quote}{module}{quote}");
            if let Some(at) = line.find(&needle) {
                let before = line[..at].trim_end();
                let importing = before.ends_with("from")
                    || before.ends_with("require(")
                    || before.ends_with("import(")
                    || before.ends_with("import");
                if importing {
                    return Some((i + 1, line[..at].chars().count() + 2));
                }
            }
        }
    }
    None
}

/// A log line of the app's, tagged with its id; logged errors carry stacks, shown as tidy
/// as failed attempts' stacks.
fn app_log(spec: &Spec, level: &str, message: String, handler: Option<String>) -> Output {
    let message =
        if message.contains("\n    at ") { stack::tidy(&message, &spec.app_root, &spec.runtime_dir) } else { message };
    Output::Log { level: Level::parse(level), message, app: Some(spec.id.to_string()), handler }
}

/// The app's identity as the host's environment carries it.
fn app_env(spec: &Spec) -> Vec<(&'static str, String)> {
    vec![
        ("VTEX_APP_ID", spec.id.to_string()),
        ("VTEX_APP_VENDOR", spec.id.vendor().to_string()),
        ("VTEX_APP_NAME", spec.id.name().to_string()),
        ("VTEX_APP_VERSION", spec.id.version().unwrap_or_default().to_string()),
    ]
}

fn pipe_output(
    stream: Option<impl AsyncRead + Unpin + Send + 'static>,
    level: Level,
    (app, terminal, logs): (String, Terminal, LogTap),
) {
    let Some(stream) = stream else { return };
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if level == Level::Error && inspector_chatter(&line) {
                continue;
            }
            logs.log(&terminal, Output::Log { level, message: line, app: Some(app.clone()), handler: None });
        }
    });
}

fn describe_status(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "unknown status".into(),
        },
        None => "status unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node's message when `requirer` cannot find `module` (its require stack goes on with
    /// ioctl's own files).
    fn not_found(module: &str, requirer: &str) -> String {
        format!("Cannot find module '{module}'\nRequire stack:\n- {requirer}\n- /runtime/host/modules.js")
    }

    #[test]
    fn a_missing_relative_module_is_a_file_next_to_its_importer() {
        let message = not_found("./handlers/status", "/home/dev/app/node/index.ts");
        let (module, requirer) = parse_missing_module(&message).unwrap();
        assert_eq!((module, requirer), ("./handlers/status", Path::new("/home/dev/app/node/index.ts")));
        assert_eq!(
            missing_module_help(module, Path::new("node/index.ts")),
            "no file `./handlers/status` (.ts, .js, .json or a folder with index.ts) next to node/index.ts"
        );
    }

    #[test]
    fn a_missing_package_is_named_without_its_subpath() {
        let message = not_found("@scope/pkg/sub", "/home/dev/app/node/clients/index.ts");
        let (module, requirer) = parse_missing_module(&message).unwrap();
        assert_eq!((module, requirer), ("@scope/pkg/sub", Path::new("/home/dev/app/node/clients/index.ts")));
        assert_eq!(
            missing_module_help(module, Path::new("node/clients/index.ts")),
            "add `@scope/pkg` to the dependencies in node/package.json and run `npm install` in node/"
        );
        let packages = ["left-pad", "lodash/fp", "@scope/pkg", "@scope/pkg/a/b"].map(package_name);
        assert_eq!(packages, ["left-pad", "lodash", "@scope/pkg", "@scope/pkg"]);
    }

    #[test]
    fn an_unknown_node_builtin_and_other_load_errors_are_no_missing_module() {
        // What Node 18+ says for `import 'node:nope'`: a load error shown at the app's frame.
        assert_eq!(parse_missing_module("No such built-in module: node:nope"), None);
        assert_eq!(parse_missing_module("greet is not defined"), None);
        assert_eq!(parse_missing_module("Error: Cannot find module 'x'\nRequire stack:\n- /a.ts"), None);
        // No require stack: nothing to position it at.
        assert_eq!(parse_missing_module("Cannot find module 'left-pad'"), None);
        assert_eq!(parse_missing_module("Cannot find module 'unterminated"), None);
    }

    #[test]
    fn a_missing_module_is_positioned_at_its_import_in_the_apps_file() {
        let app = tempfile::tempdir().unwrap();
        let file = app.path().join("node/clients/index.ts");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let source = "import { IOClients } from '@vtex/api'\n\n// left-pad, below\nimport leftPad from 'left-pad'\n";
        std::fs::write(&file, source).unwrap();

        let d = missing_module(app.path(), &not_found("left-pad", file.to_str().unwrap())).unwrap();
        assert_eq!((d.file.as_path(), d.line, d.column), (Path::new("node/clients/index.ts"), 4, 22));
        assert_eq!(d.message, "Cannot find module 'left-pad'");
        assert!(d.help.unwrap().starts_with("add `left-pad` to the dependencies"));
        // A file outside the app (the runtime's own) is not the app's to fix.
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(missing_module(elsewhere.path(), &not_found("left-pad", file.to_str().unwrap())).is_none());
    }

    #[test]
    fn imports_are_found_in_every_form_and_mentions_are_not() {
        let at = |source: &str| import_position(source, "x");
        assert_eq!(at("import a from 'x'"), Some((1, 16)));
        assert_eq!(at("// 'x'\nexport * from \"x\""), Some((2, 16)));
        assert_eq!(at("const a = require(`x`)"), Some((1, 20)));
        assert_eq!(at("const a = await import('x')"), Some((1, 25)));
        assert_eq!(at("import 'x'"), Some((1, 9)));
        assert_eq!(at("log('x')\nconst y = 'x'"), None);
    }
}
