//! The link session of one account/workspace: a background `ioctl` process that owns the
//! local server, the event bus, the sample sender and every app linked into the workspace.
//! Each `ioctl link` registers its app here and streams the app's output back; the session
//! outlives any one link and ends when its last app is unlinked.

pub mod boundary;
pub mod bus;
pub mod cluster;
mod context;
mod dashboard;
mod delivery;
mod gateway;
mod ide;
mod identity;
mod inspector;
mod linked_app;
mod platform;
mod process;
mod routes;
mod sender;
mod server;
mod state;
mod typecheck;
mod upstream;
mod watch;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::protocol::record;
use crate::protocol::{Handshake, Scope};
use crate::terminal::Terminal;
use state::{Session, Setup};

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

/// Runs a session until its last app is unlinked. The first line on stdout tells the link
/// command that started it where it listens (or why it could not start).
pub async fn serve(opts: Options) -> anyhow::Result<ExitCode> {
    init_log();
    let started = match start(&opts).await {
        Ok(s) => s,
        Err(e) => {
            handshake(&Handshake::Failed { error: format!("{e:#}") });
            return Ok(ExitCode::from(1));
        }
    };
    let (session, written) = started;
    handshake(&Handshake::Listening { url: session.url().to_string(), pid: std::process::id() });
    tracing::info!(url = session.url(), scope = %session.scope(), "session started");

    // Ends when the last app leaves, when no app comes at all, or on SIGTERM.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let no_app = async {
        tokio::time::sleep(FIRST_APP_WAIT).await;
        if !session.close_if_unused() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(no_app);
    loop {
        tokio::select! {
            _ = session.shutdown().cancelled() => break,
            _ = &mut no_app => { tracing::info!("no app came: ending"); break }
            _ = term.recv() => { tracing::info!("SIGTERM: ending"); break }
            // The session has no terminal of its own: a hang-up is not a reason to stop.
            _ = hup.recv() => continue,
        }
    }
    session.unlink_all();
    session.tracker().close();
    // Apps stop gracefully first (each bounded), then the server and the sender.
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while session.has_apps() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    session.shutdown().cancel();
    let _ = tokio::time::timeout(STOP_GRACE, session.tracker().wait()).await;
    tracing::info!(counts = ?session.counts(), "session ended");
    drop(written);
    Ok(ExitCode::SUCCESS)
}

async fn start(opts: &Options) -> anyhow::Result<(Arc<Session>, record::Written)> {
    let node = crate::runtime::find_node()?;
    let home = crate::layout::home()?;
    let sockets = crate::layout::socket_dir(&home)?;
    crate::runtime::sweep_sockets(&sockets);
    let (listener, addr) = server::bind(opts.port).await?;
    let place = context::Place {
        record: record::path(&home, &opts.scope),
        scope: opts.scope.clone(),
        url: format!("http://{addr}"),
        token: record::new_token()?,
        home: home.clone(),
        node,
        sockets,
    };
    // A team workspace (`--cluster`) is joined before anything is served: a server that
    // cannot be reached is said now, to the link that started the session.
    let cluster = match cluster::Config::from_env()? {
        Some(config) => Some(cluster::Cluster::join(&config, &opts.scope).await?),
        None => None,
    };
    let session = Session::new(Setup { place, sample_sender: opts.sample_sender, cluster: cluster.clone() })?;
    let written = record::Written::write(&home, &session.record())?;
    session.tracker().spawn(server::serve(listener, session.clone()));
    if let Some(cluster) = cluster {
        join_cluster(&session, &cluster);
    }
    if let Some(switch) = session.sender_switch().cloned() {
        // The sender's messages go to every linked app's terminal.
        let (terminal, mut rx) = Terminal::channel();
        let me = session.clone();
        session.tracker().spawn(async move {
            while let Some(msg) = rx.recv().await {
                me.announce(msg).await;
            }
        });
        session.tracker().spawn(sender::run(
            switch,
            opts.sender_interval,
            opts.scope.clone(),
            session.bus().clone(),
            terminal,
            sender::Quiet {
                muted: session.sender_muted(),
                elsewhere: session.cluster().map(|c| c.sender_elsewhere()).unwrap_or_default(),
            },
            session.shutdown().clone(),
        ));
    }
    Ok((session, written))
}

/// The session's side of a team workspace: its events go to the stream, its presence is
/// refreshed, and the connection's news reach every link's terminal.
fn join_cluster(session: &Arc<Session>, cluster: &Arc<cluster::Cluster>) {
    let outbox = cluster.start_publisher(session.tracker(), session.shutdown().clone());
    session.bus().set_outbox(outbox);
    cluster.start_dead_letters(session.dead_letters(), session.tracker(), session.shutdown().clone());
    let mut remote = cluster.start_activity(session.bus(), session.tracker(), session.shutdown().clone());
    let (me, stop) = (session.clone(), session.shutdown().clone());
    session.tracker().spawn(async move {
        loop {
            let line = tokio::select! {
                l = remote.recv() => match l { Some(l) => l, None => break },
                _ = stop.cancelled() => break,
            };
            me.announce(line).await;
        }
    });
    let me = Arc::downgrade(session);
    let sender = session.sender_switch().is_some();
    cluster.start_presence(session.tracker(), session.shutdown().clone(), sender, move || match me.upgrade() {
        Some(s) => (s.url().to_string(), s.record().apps, s.counts()),
        None => (String::new(), Vec::new(), Default::default()),
    });
    if let Some(mut notices) = cluster.take_notices() {
        let me = session.clone();
        let stop = session.shutdown().clone();
        session.tracker().spawn(async move {
            loop {
                let said = tokio::select! {
                    n = notices.recv() => match n { Some(n) => n, None => break },
                    _ = stop.cancelled() => break,
                };
                let level = if said.starts_with("lost") {
                    crate::protocol::stream::Level::Warn
                } else {
                    crate::protocol::stream::Level::Info
                };
                me.announce(crate::protocol::stream::Output::Log { level, message: said, app: None, handler: None })
                    .await;
            }
        });
    }
}

fn handshake(line: &Handshake) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", serde_json::to_string(line).unwrap_or_default());
    let _ = out.flush();
}

/// Logs the session's decisions with `tracing` to its stderr (the log file beside its
/// record); `IOCTL_LOG` (error, warn, info, debug, trace) sets the level, info by default.
pub fn init_log() {
    let level =
        std::env::var("IOCTL_LOG").ok().and_then(|l| l.parse::<tracing::Level>().ok()).unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
