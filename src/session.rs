//! The link session of one account/workspace: a background `ioctl` process that owns the
//! local server, the event bus, the sample sender and every app linked into the workspace.
//! Each `ioctl link` registers its app here and streams the app's output back; the session
//! outlives any one link and ends when its last app is unlinked.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, Counters, Delivery, Scope};
use crate::delivery::DeadLetters;
use crate::linked;
use crate::record::{self, Record};
use crate::sender::{self, Arm};
use crate::terminal::{Output, Terminal};
use crate::{routes, runtime, server};

/// How long a new session waits for its first app before giving up (its link command died).
const FIRST_APP_WAIT: Duration = Duration::from_secs(15);
/// How long the session waits for its tasks when it ends.
const STOP_GRACE: Duration = Duration::from_secs(6);

/// Validated options of a session (from the link command that started it).
#[derive(Debug, Clone)]
pub struct Options {
    pub scope: Scope,
    pub port: u16,
    pub sender_interval: Duration,
    pub sample_sender: bool,
}

/// A linked app's delivery queue and its own counts.
pub type AppQueue = (mpsc::Sender<Delivery>, Arc<Counters>);

/// One app linked into the session.
struct LinkedApp {
    root: PathBuf,
    id: Option<String>,
    terminal: Terminal,
    unlink: CancellationToken,
}

/// What the session's parts share: the server's handlers, each linked app, the sender.
pub struct Shared {
    pub scope: Scope,
    pub url: String,
    pub token: String,
    /// When the session started (RFC 3339), for its record.
    pub started: String,
    pub home: PathBuf,
    pub record_path: PathBuf,
    pub node: PathBuf,
    /// `None` with `--no-sample-sender`.
    pub arm: Option<Arm>,
    /// Set while the real vtex.events-example app is linked: the sample sender then stays quiet.
    pub sender_muted: Arc<AtomicBool>,
    pub bus: Arc<Bus>,
    pub dead: Arc<DeadLetters>,
    /// The linked apps' HTTP routes.
    pub routes: Arc<routes::Table>,
    /// Each linked app's delivery queue and counts, by app id (`vendor.name@version`), for
    /// replays.
    pub queues: Arc<Mutex<HashMap<String, AppQueue>>>,
    pub tracker: TaskTracker,
    /// Cancelled when the session ends: every task of the session listens to it.
    pub shutdown: CancellationToken,
    apps: Mutex<Apps>,
}

#[derive(Default)]
struct Apps {
    next_id: u64,
    linked: HashMap<u64, LinkedApp>,
    /// Set when the last app left: no new app may join this session.
    closing: bool,
}

impl Shared {
    /// Links an app (asked by a link command); its output arrives on the returned receiver.
    pub fn link(
        self: &Arc<Self>,
        req: linked::Request,
    ) -> Result<(u64, mpsc::Receiver<Output>, CancellationToken), String> {
        let id = crate::app::App::load(&req.root).ok().map(|a| a.manifest.full_id());
        let (terminal, rx) = Terminal::channel();
        let unlink = CancellationToken::new();
        let link_id = {
            let mut apps = self.apps.lock().unwrap();
            if apps.closing {
                return Err("this link session is ending; link again".into());
            }
            if let Some(other) = apps.linked.values().find(|a| a.root == req.root || (id.is_some() && a.id == id)) {
                return Err(format!(
                    "{} is already linked in {} (from {}); stop that link first",
                    other.id.as_deref().unwrap_or("this app"),
                    self.scope,
                    other.root.display()
                ));
            }
            apps.next_id += 1;
            let link_id = apps.next_id;
            apps.linked.insert(
                link_id,
                LinkedApp {
                    root: req.root.clone(),
                    id: id.clone(),
                    terminal: terminal.clone(),
                    unlink: unlink.clone(),
                },
            );
            link_id
        };
        self.write_record();
        self.update_sender();
        let me = self.clone();
        let token = unlink.clone();
        self.tracker.spawn(async move {
            linked::run(me.clone(), req, terminal, token).await;
            me.unlinked(link_id);
        });
        Ok((link_id, rx, unlink))
    }

    /// The app at `root` now has another id (its manifest.json changed).
    pub fn rename(&self, root: &std::path::Path) {
        let id = crate::app::App::load(root).ok().map(|a| a.manifest.full_id());
        if let Some(app) = self.apps.lock().unwrap().linked.values_mut().find(|a| a.root == root) {
            app.id = id;
        }
        self.write_record();
        self.update_sender();
    }

    /// Asks a linked app to unlink gracefully; false if there is no such link.
    pub fn unlink(&self, link_id: u64) -> bool {
        match self.apps.lock().unwrap().linked.get(&link_id) {
            Some(app) => {
                app.unlink.cancel();
                true
            }
            None => false,
        }
    }

    fn unlinked(&self, link_id: u64) {
        let last = {
            let mut apps = self.apps.lock().unwrap();
            apps.linked.remove(&link_id);
            apps.closing = apps.linked.is_empty();
            apps.closing
        };
        if last {
            self.shutdown.cancel();
        } else {
            self.write_record();
            self.update_sender();
        }
    }

    /// Shows session-level output (the sample sender's) in every linked app's terminal.
    async fn announce(&self, msg: Output) {
        let terminals: Vec<Terminal> = self.apps.lock().unwrap().linked.values().map(|a| a.terminal.clone()).collect();
        for t in terminals {
            t.send(msg.clone()).await;
        }
    }

    fn record(&self) -> Record {
        let apps = self.apps.lock().unwrap();
        let mut ids: Vec<String> = apps.linked.values().filter_map(|a| a.id.clone()).collect();
        ids.sort();
        Record {
            url: self.url.clone(),
            pid: std::process::id(),
            token: self.token.clone(),
            account: self.scope.account.clone(),
            workspace: self.scope.workspace.clone(),
            apps: ids,
            started: self.started.clone(),
        }
    }

    /// Mutes the sample sender while the real events-example app is linked.
    fn update_sender(&self) {
        let real = self.apps.lock().unwrap().linked.values().any(|a| is_events_example(a.id.as_deref()));
        self.sender_muted.store(real, Ordering::Relaxed);
    }

    fn write_record(&self) {
        // The record was written at start; keeping its app list current is best effort.
        let _ = record::write(&self.home, &self.record());
    }
}

/// Runs a session until its last app is unlinked. The first line on stdout tells the link
/// command that started it where it listens (or why it could not start).
pub async fn serve(opts: Options) -> anyhow::Result<ExitCode> {
    let started = match start(&opts).await {
        Ok(s) => s,
        Err(e) => {
            handshake(json!({ "error": format!("{e:#}") }));
            return Ok(ExitCode::from(1));
        }
    };
    let (shared, written) = started;
    handshake(json!({ "url": shared.url, "pid": std::process::id() }));

    // Ends when the last app leaves, when no app comes at all, or on SIGTERM.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let no_app = async {
        tokio::time::sleep(FIRST_APP_WAIT).await;
        let idle = {
            let mut apps = shared.apps.lock().unwrap();
            apps.closing |= apps.linked.is_empty() && apps.next_id == 0;
            apps.closing
        };
        if !idle {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(no_app);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = &mut no_app => break,
            _ = term.recv() => break,
            // The session has no terminal of its own: a hang-up is not a reason to stop.
            _ = hup.recv() => continue,
        }
    }
    {
        let mut apps = shared.apps.lock().unwrap();
        apps.closing = true;
        for app in apps.linked.values() {
            app.unlink.cancel();
        }
    }
    shared.tracker.close();
    // Apps stop gracefully first (each bounded), then the server and the sender.
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while !shared.apps.lock().unwrap().linked.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    shared.shutdown.cancel();
    let _ = tokio::time::timeout(STOP_GRACE, shared.tracker.wait()).await;
    drop(written);
    Ok(ExitCode::SUCCESS)
}

async fn start(opts: &Options) -> anyhow::Result<(Arc<Shared>, record::Written)> {
    let node = runtime::find_node().await?;
    let home = record::home()?;
    let (listener, addr) = server::bind(opts.port).await?;
    let url = format!("http://{addr}");
    let token = record::new_token()?;
    let shared = Arc::new(Shared {
        scope: opts.scope.clone(),
        url,
        token,
        started: chrono::Utc::now().to_rfc3339(),
        record_path: record::path(&home, &opts.scope),
        home,
        node,
        arm: opts.sample_sender.then(Arm::new),
        sender_muted: Arc::default(),
        bus: Bus::new(),
        dead: Arc::default(),
        routes: Arc::default(),
        queues: Arc::default(),
        tracker: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        apps: Mutex::default(),
    });
    let written = record::Written::write(&shared.home, &shared.record())?;
    shared.tracker.spawn(server::serve(listener, shared.clone()));
    if let Some(arm) = shared.arm.clone() {
        // The sender's messages go to every linked app's terminal.
        let (terminal, mut rx) = Terminal::channel();
        let me = shared.clone();
        shared.tracker.spawn(async move {
            while let Some(msg) = rx.recv().await {
                me.announce(msg).await;
            }
        });
        shared.tracker.spawn(sender::run(
            arm,
            opts.sender_interval,
            opts.scope.clone(),
            shared.bus.clone(),
            terminal,
            shared.sender_muted.clone(),
            shared.shutdown.clone(),
        ));
    }
    Ok((shared, written))
}

fn is_events_example(full_id: Option<&str>) -> bool {
    full_id.and_then(|id| id.split('@').next()) == Some(sender::APP_ID)
}

fn handshake(line: serde_json::Value) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// When a link command started, as sent to the session.
pub fn micros_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
