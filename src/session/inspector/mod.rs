//! The debugger of a linked app (`ioctl link --inspect`): an inspector proxy on a stable
//! address (127.0.0.1:9229 by default) that inspector clients (VS Code "attach",
//! chrome://inspect) find as they find Node, and that follows the app's version that serves:
//! each Node process runs its own inspector on a random loopback port, and on a relink or a
//! crash restart the proxy reattaches to the new process and replays what the client set up.
//! The proxy is owned by the linked app: it listens from link to unlink.

mod guard;
mod location;
mod proxy;
mod relay;
mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::protocol::stream::{Level, LinkRecord};
use crate::protocol::InspectOptions;
use crate::runtime::{Inspect, Worker};
use crate::terminal::Terminal;

/// The process the proxy attaches to: its inspector's WebSocket URL, and whether it waits for
/// a debugger before the app's first line (`--inspect-brk`).
#[derive(Debug, Clone, PartialEq)]
struct Upstream {
    url: String,
    waiting: bool,
}

/// What the proxy's connections share: the target's identity and where it points now.
struct Shared {
    /// Random, unguessable: the WebSocket path, so a page that guesses the port cannot connect.
    id: String,
    /// `vendor.name@version`: the target's title.
    app: String,
    app_root: PathBuf,
    /// `file://` URL of node/index.ts: where `--inspect-brk` pauses.
    entry_url: String,
    bound: SocketAddr,
    upstream: watch::Receiver<Option<Upstream>>,
    inspect: Inspect,
    terminal: Terminal,
}

impl Shared {
    /// The app stands in the debugger (or goes on): the limits stop counting, and the link
    /// terminal says where.
    async fn paused(&self, at: Option<(String, u32, String)>) {
        match at {
            Some((file, line, reason)) => {
                self.inspect.paused.set(true);
                let why =
                    if reason == "other" || reason == "debugCommand" { String::new() } else { format!(" ({reason})") };
                let human = format!("paused in the debugger{why} at {file}:{line}");
                let record = LinkRecord::Paused { app: self.app.clone(), file, line, reason };
                self.terminal.record(Some(Level::Warn), human, record).await;
            }
            None => {
                if !self.inspect.paused.is_paused() {
                    return;
                }
                self.inspect.paused.set(false);
                self.terminal.record(Some(Level::Info), "resumed", LinkRecord::Resumed { app: self.app.clone() }).await;
            }
        }
    }
}

/// A linked app's inspector proxy; dropping it stops it.
pub struct Inspector {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Inspector {
    /// Listens at `opts.addr` and follows `live` (the app's serving process) and, under
    /// `--inspect-brk`, the processes waiting for a debugger. A busy port is an error saying
    /// what to do.
    pub async fn start(
        opts: InspectOptions,
        app: &crate::app::AppId,
        app_root: PathBuf,
        entry: &std::path::Path,
        inspect: &Inspect,
        live: watch::Receiver<Option<Arc<Worker>>>,
        terminal: Terminal,
    ) -> anyhow::Result<Inspector> {
        let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow!(
                "cannot serve the debugger on {}: the port is in use (another `ioctl link --inspect`, or a Node.js started with --inspect?); stop it, or pick another port: --inspect={}",
                opts.addr,
                opts.addr.port().wrapping_add(1).max(1024)
            ),
            _ => anyhow!("cannot serve the debugger on {}: {e}", opts.addr),
        })?;
        let bound = listener.local_addr()?;
        let (tx, upstream) = watch::channel(None);
        let shared = Arc::new(Shared {
            id: random_id()?,
            app: app.to_string(),
            app_root,
            entry_url: file_url(entry),
            bound,
            upstream,
            inspect: inspect.clone(),
            terminal: terminal.clone(),
        });
        let (stop, tasks) = (CancellationToken::new(), TaskTracker::new());
        tasks.spawn(follow(live, inspect.waiting.subscribe(), tx, terminal.clone(), bound, stop.clone()));
        tasks.spawn(proxy::serve(listener, shared, stop.clone(), tasks.clone()));
        let brk = if opts.brk {
            " (--inspect-brk: each load waits for a debugger and pauses before the app's first line)"
        } else {
            ""
        };
        terminal.info(format!("debugger: attach to {bound} (VS Code \"attach\", chrome://inspect){brk}")).await;
        Ok(Inspector { stop, tasks })
    }

    /// Closes the endpoint and its sessions.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.tasks.wait()).await;
    }
}

impl Drop for Inspector {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Which process the proxy attaches to: one waiting for a debugger (`--inspect-brk`) until it
/// serves, else the live version's. Without a process (a crash), the last one stays named:
/// its connection has closed, and the restart names the next.
async fn follow(
    mut live: watch::Receiver<Option<Arc<Worker>>>,
    mut waiting: watch::Receiver<Option<String>>,
    tx: watch::Sender<Option<Upstream>>,
    terminal: Terminal,
    bound: SocketAddr,
    stop: CancellationToken,
) {
    loop {
        let serving = live.borrow_and_update().as_ref().and_then(|w| w.inspector_url().map(String::from));
        let waits = waiting.borrow_and_update().clone().filter(|w| serving.as_ref() != Some(w));
        let next = match (waits, serving) {
            (Some(url), _) => Some(Upstream { url, waiting: true }),
            (None, Some(url)) => Some(Upstream { url, waiting: false }),
            (None, None) => None,
        };
        if let Some(next) = next {
            let announce = next.waiting;
            let changed = tx.send_if_modified(|cur| {
                let new = cur.as_ref().map(|c| &c.url) != Some(&next.url);
                if new {
                    *cur = Some(next);
                }
                new
            });
            // Said when no client is attached (each client's relay holds a receiver, the
            // proxy one): an attached client pauses it at once.
            if changed && announce && tx.receiver_count() <= 1 {
                terminal
                    .info(format!("waiting for a debugger on {bound} before the app's first line (--inspect-brk)"))
                    .await;
            }
        }
        tokio::select! {
            c = live.changed() => if c.is_err() { return },
            c = waiting.changed() => if c.is_err() { return },
            _ = stop.cancelled() => return,
        }
    }
}

/// 128 random bits from the OS, as hex: the target's id.
fn random_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("cannot read random bytes for the debugger's id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `file://` URL of an absolute path, as Node names a CommonJS module's script.
fn file_url(path: &std::path::Path) -> String {
    let encoded = percent_encoding::utf8_percent_encode(&path.to_string_lossy(), PATH_SET).to_string();
    format!("file://{encoded}")
}

/// What a path keeps percent-encoded in a file URL (as Node's `pathToFileURL`).
const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');
