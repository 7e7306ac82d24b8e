//! `ioctl link`: one link session for an app in an account/workspace. Owns the session's
//! state and tasks: local server, bus, the app's dispatcher and Node worker, the sample
//! sender and the file watch; relinks on every save and stops everything on Ctrl-C.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{self, App, LoadError};
use crate::build::Builder;
use crate::bus::{Bus, Scope, SubscriberId};
use crate::delivery::{DeadLetters, Dispatcher, Policy};
use crate::diagnostic::Diagnostic;
use crate::runtime::{self, Host, Spec, StartError, Worker};
use crate::terminal::{Format, Level, Output, Terminal};
use crate::{routes, sender, server, session, watch as fswatch};

/// Validated `ioctl link` options.
#[derive(Debug, Clone)]
pub struct Options {
    pub app_dir: PathBuf,
    pub scope: Scope,
    pub port: u16,
    pub sender_interval: Duration,
    pub sample_sender: bool,
    pub watch: bool,
    pub format: Format,
}

/// How long a graceful stop waits for running handlers.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Bound of each app's delivery queue: publishers wait beyond it.
const QUEUE_BOUND: usize = 1024;

/// Why a link attempt did not produce a running version.
enum Failure {
    /// Problems in the user's files: shown, then "App build failed".
    App(Vec<Diagnostic>),
    /// Something outside the app went wrong.
    Other(anyhow::Error),
}

/// The linked app's state that relinks replace.
struct Linked {
    app: App,
    builder: Builder,
    spec: Spec,
    runtime_dir: PathBuf,
    worker: watch::Sender<Option<Arc<Worker>>>,
    policy: Arc<Mutex<Policy>>,
    subscriber: Option<SubscriberId>,
    /// A warm standby Node host for the next relink (filled in the background after each
    /// link), so a relink loads the new build without paying for a process start.
    spare: Arc<tokio::sync::Mutex<Option<Host>>>,
}

impl Linked {
    /// Starts a standby host in the background, unless one is ready.
    fn prepare_spare(&self, terminal: &Terminal, tracker: &TaskTracker) {
        let (slot, spec, runtime_dir, terminal) =
            (self.spare.clone(), self.spec.clone(), self.runtime_dir.clone(), terminal.clone());
        tracker.spawn(async move {
            let mut held = slot.lock().await;
            if held.as_mut().is_some_and(Host::alive) {
                return;
            }
            // A failed standby is not worth reporting: the next relink starts cold and says why.
            *held = Host::spawn(&spec, &runtime_dir, &terminal, true).await.ok();
        });
    }
}

pub async fn run(opts: Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let scope = opts.scope.clone();
    if scope.workspace == "master" {
        bail!(
            "cannot link in workspace `master`: it is the production workspace of account {}; link in a development workspace instead, e.g. `ioctl link -w dev`",
            scope.account
        );
    }
    let root = app::find_root(&opts.app_dir)?;
    let home = session::home()?;
    if let Some(other) = session::find(&home, &scope)? {
        bail!(
            "a link session already runs for {scope} (pid {}, {}, {}); stop it first, or link into another workspace with -w NAME",
            other.pid,
            other.apps.join(", "),
            other.url
        );
    }
    let (terminal, printer) = Terminal::start(opts.format);
    let result = session_main(opts, root, home, started, terminal.clone()).await;
    drop(terminal);
    let _ = printer.await;
    result
}

async fn session_main(
    opts: Options,
    root: PathBuf,
    home: PathBuf,
    started: Instant,
    terminal: Terminal,
) -> anyhow::Result<ExitCode> {
    let scope = opts.scope.clone();
    let mut stop = StopSignal::new()?;
    let node_check = tokio::spawn(runtime::find_node());
    let app = match App::load(&root) {
        Ok(app) => app,
        Err(LoadError::Diagnostic(d)) => {
            show_failure(&terminal, &Failure::App(vec![d]), false).await;
            return Ok(ExitCode::from(1));
        }
        Err(LoadError::Other(e)) => return Err(e),
    };
    for w in &app.warnings {
        terminal.send(Output::Diagnostic { level: Level::Warn, diagnostic: w.clone() }).await;
    }
    let full_id = app.manifest.full_id();
    terminal.info(format!("Linking app {full_id} in {scope}")).await;
    let node = node_check.await??;
    let runtime_dir = runtime::install_runtime(&app.node_dir())?;

    let (listener, addr) = server::bind(opts.port).await?;
    let url = format!("http://{addr}");
    let token = session::new_token()?;
    let record = session::Written::write(
        &home,
        &session::Record {
            url: url.clone(),
            pid: std::process::id(),
            token: token.clone(),
            account: scope.account.clone(),
            workspace: scope.workspace.clone(),
            apps: vec![full_id.clone()],
            started: chrono::Utc::now().to_rfc3339(),
        },
    )?;

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let bus = Bus::new();
    let arm = opts.sample_sender.then(sender::Arm::new);
    let dead = Arc::new(DeadLetters::default());
    let routes = Arc::new(routes::Table::default());
    let (queue_tx, queue_rx) = mpsc::channel(QUEUE_BOUND);
    let queues = Arc::new(Mutex::new(HashMap::from([(full_id.clone(), queue_tx.clone())])));
    tracker.spawn(server::serve(
        listener,
        server::Shared {
            scope: scope.clone(),
            token,
            bus: bus.clone(),
            arm: arm.clone(),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
            dead: dead.clone(),
            queues: queues.clone(),
            routes: routes.clone(),
        },
    ));

    let spec = spec_for(&app, &node, &scope);
    let (worker_tx, worker_rx) = watch::channel(None);
    let mut linked = Linked {
        builder: Builder::new(&app.node_dir()),
        policy: Arc::new(Mutex::new(Policy::from_client_options(&json!({}), app.service.timeout))),
        app,
        spec,
        runtime_dir,
        worker: worker_tx,
        subscriber: None,
        spare: Arc::default(),
    };
    let stop_deliveries = CancellationToken::new();

    // First link.
    let first = link_once(&mut linked, &terminal, &bus).await;
    let ok = match first {
        Ok(worker) => {
            *linked.policy.lock().unwrap() =
                Policy::from_client_options(&worker.loaded.client_options, linked.app.service.timeout);
            linked.worker.send_replace(Some(Arc::new(worker)));
            true
        }
        Err(f) => {
            show_failure(&terminal, &f, opts.watch).await;
            if !opts.watch {
                drop(record);
                return Ok(ExitCode::from(1));
            }
            false
        }
    };
    routes.set(&full_id, route_table(&linked.app, &full_id, &linked.worker));
    linked.subscriber = Some(bus.subscribe(scope.clone(), subscriptions(&linked.app), queue_tx.clone()));
    tracker.spawn(
        Dispatcher {
            scope: scope.clone(),
            app: full_id.clone(),
            bus: bus.clone(),
            terminal: terminal.clone(),
            policy: linked.policy.clone(),
            worker: worker_rx,
            dead: dead.clone(),
            tracker: tracker.clone(),
            stop: stop_deliveries.clone(),
        }
        .run(queue_rx),
    );
    banner(&linked, &terminal, &url, opts.sample_sender, record.path()).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    terminal
        .record(
            format!("ready in {elapsed_ms} ms"),
            json!({"type": "ready", "app": full_id, "account": scope.account, "workspace": scope.workspace, "url": url, "elapsed_ms": elapsed_ms, "linked": ok}),
        )
        .await;

    if let Some(arm) = arm {
        tracker.spawn(sender::run(
            arm,
            opts.sender_interval,
            scope.clone(),
            bus.clone(),
            terminal.clone(),
            shutdown.clone(),
        ));
    }
    if opts.watch {
        linked.prepare_spare(&terminal, &tracker);
    }
    let (_watch, mut changes) = if opts.watch {
        let (w, rx) = fswatch::start(&linked.app.root)?;
        (Some(w), rx)
    } else {
        (None, mpsc::channel(1).1)
    };

    // Main loop: saves, crashes, Ctrl-C.
    let mut crashes = 0u32;
    let mut last_crash = Instant::now();
    loop {
        let current = linked.worker.borrow().clone();
        let exited = async {
            match &current {
                Some(w) => w.exited.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.recv() => break,
            Some(batch) = changes.recv() => {
                for c in &batch {
                    let op = if c.deleted { "D" } else { "U" };
                    terminal.record(
                        crate::terminal::log_line(Level::Info, &format!("{op} {}", c.path.display()), None, terminal.format.color),
                        json!({"type": "change", "op": op, "path": c.path}),
                    ).await;
                }
                relink(&mut linked, &terminal, &bus, &tracker, &routes).await;
                linked.prepare_spare(&terminal, &tracker);
            }
            _ = exited => {
                let w = current.expect("exited only fires for a worker");
                // A stopped-by-us worker was already replaced; only the live one matters.
                if !linked.worker.borrow().as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &w)) {
                    continue;
                }
                crashes = if last_crash.elapsed() < Duration::from_secs(30) { crashes + 1 } else { 1 };
                last_crash = Instant::now();
                let wait = Duration::from_millis(100 * 2u64.pow(crashes.min(6) - 1));
                terminal.status(Level::Error, format!(
                    "the app's Node.js process crashed ({}); restarting in {} ms",
                    w.exit_reason().unwrap_or_default(), wait.as_millis()
                )).await;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.recv() => break,
                }
                match start_worker(&linked, &terminal, &bus).await {
                    Ok(worker) => {
                        linked.worker.send_replace(Some(Arc::new(worker)));
                        terminal.info("restarted the app's Node.js process").await;
                        linked.prepare_spare(&terminal, &tracker);
                    }
                    Err(f) => {
                        linked.worker.send_replace(None);
                        show_failure(&terminal, &f, true).await;
                    }
                }
            }
        }
    }

    // Graceful stop: no new events, let running handlers finish (bounded), then stop all.
    terminal.info("stopping: waiting for running handlers (Ctrl-C again to force)").await;
    shutdown.cancel();
    stop_deliveries.cancel();
    if let Some(id) = linked.subscriber.take() {
        bus.unsubscribe(id);
    }
    drop(queue_tx);
    queues.lock().unwrap().clear();
    tracker.close();
    tokio::select! {
        _ = tokio::time::timeout(STOP_GRACE, tracker.wait()) => {}
        _ = stop.recv() => terminal.status(Level::Warn, "forced stop").await,
    }
    if let Some(w) = linked.worker.send_replace(None) {
        w.stop(Duration::from_millis(500)).await;
    }
    drop(linked.spare.lock().await.take());
    drop(record);
    let c = bus.counters.snapshot();
    let abandoned = if c.in_flight > 0 { format!(" ({} abandoned at stop)", c.in_flight) } else { String::new() };
    terminal
        .record(
            format!(
                "{} unlinked from {scope}: {} events published, {} deliveries ok, {} failed, {} in flight{abandoned}",
                linked.spec.full_id, c.published, c.delivered, c.failed, c.in_flight
            ),
            json!({"type": "stopped", "counts": c}),
        )
        .await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C (SIGINT) and SIGTERM, registered when created so that a signal that comes at
/// any point of the session (even during start-up) stops it gracefully.
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

fn spec_for(app: &App, node: &std::path::Path, scope: &Scope) -> Spec {
    let m = &app.manifest;
    Spec {
        node: node.to_path_buf(),
        app_root: app.root.clone(),
        node_dir: app.node_dir(),
        app_id: m.id(),
        full_id: m.full_id(),
        vendor: m.vendor.clone(),
        name: m.name.clone(),
        version: m.version.clone(),
        scope: scope.clone(),
    }
}

/// The app's service.json routes, served by whichever version of it is live.
fn route_table(app: &App, full_id: &str, worker: &watch::Sender<Option<Arc<Worker>>>) -> Vec<routes::Route> {
    app.service
        .routes
        .iter()
        .filter_map(|(id, r)| {
            Some(routes::Route {
                app: full_id.to_string(),
                id: id.clone(),
                path: r.path.clone(),
                public: r.public,
                pattern: routes::Pattern::parse(&r.path).ok()?,
                worker: worker.subscribe(),
            })
        })
        .collect()
}

fn subscriptions(app: &App) -> Vec<(String, app::EventSubscription)> {
    app.service.events.iter().map(|(id, s)| (id.clone(), s.clone())).collect()
}

/// Build, start a worker, and check that it exports every handler service.json names.
async fn link_once(linked: &mut Linked, terminal: &Terminal, bus: &Arc<Bus>) -> Result<Worker, Failure> {
    match linked.builder.build() {
        Ok(Ok(_)) => {}
        Ok(Err(diags)) => return Err(Failure::App(diags)),
        Err(e) => return Err(Failure::Other(e)),
    }
    start_worker(linked, terminal, bus).await
}

async fn start_worker(linked: &Linked, terminal: &Terminal, bus: &Arc<Bus>) -> Result<Worker, Failure> {
    // A warm standby when one is ready, else (or if it turns out dead) a cold start.
    let spare = linked.spare.try_lock().ok().and_then(|mut s| s.take());
    let started = match spare {
        Some(host) => match host.load(&linked.spec, terminal.clone(), bus.clone()).await {
            Err(StartError::Other(_)) => {
                Worker::start(&linked.spec, &linked.runtime_dir, terminal.clone(), bus.clone()).await
            }
            done => done,
        },
        None => Worker::start(&linked.spec, &linked.runtime_dir, terminal.clone(), bus.clone()).await,
    };
    let worker = match started {
        Ok(w) => w,
        Err(StartError::App(d)) => return Err(Failure::App(vec![d])),
        Err(StartError::Other(e)) => return Err(Failure::Other(e)),
    };
    let exported = &worker.loaded.events;
    let mut missing: Vec<Diagnostic> = linked
        .app
        .service
        .events
        .keys()
        .filter(|id| !exported.contains(id))
        .map(|id| {
            let have = if exported.is_empty() { "none".to_string() } else { exported.join(", ") };
            linked
                .app
                .service_json_error(
                    &["events", id],
                    format!("event handler `{id}` is not in the Service's `events` (it exports: {have})"),
                )
                .with_help(format!(
                    "add `{id}` to `events` in node/index.ts, or rename this entry to an exported handler"
                ))
        })
        .collect();
    // As on VTEX: a route in the Service must be declared in service.json (which says its path).
    let declared = &linked.app.service.routes;
    for id in worker.loaded.routes.iter().filter(|id| !declared.contains_key(*id)) {
        missing.push(
            linked
                .app
                .service_json_error(
                    &["routes"],
                    format!("route `{id}` is in the Service's `routes` but not declared in node/service.json"),
                )
                .with_help(format!(
                    "declare it: \"routes\": {{ \"{id}\": {{ \"path\": \"/_v/app/...\", \"public\": true }} }}"
                )),
        );
    }
    if !missing.is_empty() {
        worker.stop(Duration::from_millis(200)).await;
        return Err(Failure::App(missing));
    }
    Ok(worker)
}

/// After a save: reread the app if its JSON changed, rebuild, start the new version beside
/// the old, switch to it, and let the old one finish its work. On failure the old one stays.
async fn relink(
    linked: &mut Linked,
    terminal: &Terminal,
    bus: &Arc<Bus>,
    tracker: &TaskTracker,
    routes: &routes::Table,
) {
    let t0 = Instant::now();
    let previous_app = linked.app.clone();
    match App::load(&linked.app.root) {
        Ok(app) => {
            if app.manifest.full_id() != previous_app.manifest.full_id() {
                terminal
                    .info(format!(
                        "manifest.json changed: relinking {} as {}",
                        previous_app.manifest.full_id(),
                        app.manifest.full_id()
                    ))
                    .await;
            }
            linked.spec = spec_for(&app, &linked.spec.node, &linked.spec.scope);
            linked.app = app;
        }
        Err(LoadError::Diagnostic(d)) => return show_failure(terminal, &Failure::App(vec![d]), true).await,
        Err(LoadError::Other(e)) => return show_failure(terminal, &Failure::Other(e), true).await,
    }
    match link_once(linked, terminal, bus).await {
        Ok(worker) => {
            let policy = Policy::from_client_options(&worker.loaded.client_options, linked.app.service.timeout);
            *linked.policy.lock().unwrap() = policy;
            if let Some(id) = linked.subscriber {
                bus.resubscribe(id, subscriptions(&linked.app));
            }
            routes.set(&linked.spec.full_id, route_table(&linked.app, &linked.spec.full_id, &linked.worker));
            let old = linked.worker.send_replace(Some(Arc::new(worker)));
            if let Some(old) = old {
                tracker.spawn(async move {
                    old.drain(STOP_GRACE).await;
                    old.stop(Duration::from_millis(500)).await;
                });
            }
            let ms = t0.elapsed().as_millis() as u64;
            terminal
                .record(
                    crate::terminal::log_line(
                        Level::Info,
                        &format!("relinked in {ms} ms"),
                        None,
                        terminal.format.color,
                    ),
                    json!({"type": "relinked", "elapsed_ms": ms}),
                )
                .await;
        }
        Err(f) => {
            linked.app = previous_app;
            show_failure(terminal, &f, true).await
        }
    }
}

async fn show_failure(terminal: &Terminal, f: &Failure, watching: bool) {
    match f {
        Failure::App(diags) => {
            for d in diags {
                terminal.send(Output::Diagnostic { level: Level::Error, diagnostic: d.clone() }).await;
            }
        }
        Failure::Other(e) => {
            terminal
                .record(
                    crate::terminal::log_line(Level::Error, &format!("{e:#}"), None, terminal.format.color),
                    json!({"type": "error", "message": format!("{e:#}")}),
                )
                .await;
        }
    }
    let msg = if watching { "App build failed. Waiting for changes..." } else { "App build failed." };
    terminal.status(Level::Error, msg).await;
}

async fn banner(linked: &Linked, terminal: &Terminal, url: &str, sample_sender: bool, record: &std::path::Path) {
    let app = &linked.app;
    if app.service.events.is_empty() {
        terminal.status(Level::Warn, "node/service.json subscribes to no events").await;
    }
    for (id, sub) in &app.service.events {
        let keys: Vec<&str> = sub.all_keys().collect();
        terminal
            .info(format!(
                "event handler {id}: sender {}, keys {}",
                sub.sender.as_deref().unwrap_or("(any)"),
                keys.join(", ")
            ))
            .await;
    }
    let served = linked.worker.borrow().as_ref().map(|w| w.loaded.routes.clone()).unwrap_or_default();
    for (id, r) in &app.service.routes {
        let access = if r.public { "public" } else { "private: needs the session token" };
        terminal.info(format!("route {id}: {url}{} ({access})", r.path)).await;
        if linked.worker.borrow().is_some() && !served.contains(id) {
            terminal
                .status(
                    Level::Warn,
                    format!("route `{id}` is declared in node/service.json but the Service has no handler for it"),
                )
                .await;
        }
    }
    let policy = linked.policy.lock().unwrap().describe();
    terminal.info(format!("delivery policy for {}: {policy}", linked.spec.app_id)).await;
    terminal.info(format!("session {url} (token in {})", record.display())).await;
    if sample_sender {
        terminal
            .info(format!(
                "sample sender {} is waiting for its healthcheck: run `ioctl healthcheck` or open {url}{}",
                sender::APP_ID,
                sender::HCHECK_PATH
            ))
            .await;
    }
}
