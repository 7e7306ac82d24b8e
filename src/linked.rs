//! One app linked into a session: builds it, runs it in a Node worker (with a warm standby
//! for the next relink), subscribes its handlers, serves its routes, relinks on every save,
//! restarts a crashed process, and stops gracefully when its link command goes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{self, App, LoadError};
use crate::build::Builder;
use crate::bus::{Bus, Counters, Scope, SubscriberId};
use crate::delivery::{Dispatcher, Policy};
use crate::diagnostic::Diagnostic;
use crate::runtime::{self, Host, Spec, StartError, Worker};
use crate::session::Shared;
use crate::terminal::{Level, Output, Terminal};
use crate::{routes, watch as fswatch};

/// How long a graceful unlink waits for running handlers.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Bound of each app's delivery queue: publishers wait beyond it.
const QUEUE_BOUND: usize = 1024;

/// What the link command asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub root: PathBuf,
    pub watch: bool,
    /// When the link command started, for an honest `ready in N ms`.
    pub started_at: SystemTime,
}

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
    runtime: runtime::Installed,
    worker: watch::Sender<Option<Arc<Worker>>>,
    policy: Arc<Mutex<Policy>>,
    subscriber: Option<SubscriberId>,
    /// A warm standby Node host for the next relink (filled in the background after each
    /// link), so a relink loads the new build without paying for a process start.
    spare: Arc<tokio::sync::Mutex<Option<Host>>>,
    /// This app's own tasks (dispatcher, deliveries, standby starts).
    tracker: TaskTracker,
}

impl Linked {
    /// Starts a standby host in the background, unless one is ready.
    fn prepare_spare(&self, terminal: &Terminal) {
        let (slot, spec, installed, terminal) =
            (self.spare.clone(), self.spec.clone(), self.runtime.clone(), terminal.clone());
        self.tracker.spawn(async move {
            let mut held = slot.lock().await;
            if held.as_mut().is_some_and(Host::alive) {
                return;
            }
            // A failed standby is not worth reporting: the next relink starts cold and says why.
            *held = Host::spawn(&spec, &installed, &terminal, true).await.ok();
        });
    }
}

/// Links the app and keeps it linked until `unlink` is cancelled; everything it has to say
/// goes to `terminal`. A link command that sees no `ready` record failed.
pub async fn run(session: Arc<Shared>, req: Request, terminal: Terminal, unlink: CancellationToken) {
    // A manifest.json that renames the app ends one link and starts the next under the new id.
    let mut req = req;
    while let Ended::Renamed = run_once(&session, &req, &terminal, &unlink).await {
        session.rename(&req.root);
        req.started_at = SystemTime::now();
    }
}

enum Ended {
    Unlinked,
    Renamed,
}

async fn run_once(session: &Arc<Shared>, req: &Request, terminal: &Terminal, unlink: &CancellationToken) -> Ended {
    let session = session.clone();
    let terminal = terminal.clone();
    let scope = session.scope.clone();
    let app = match App::load(&req.root) {
        Ok(app) => app,
        Err(LoadError::Diagnostic(d)) => {
            show_failure(&terminal, &Failure::App(vec![d]), false).await;
            return Ended::Unlinked;
        }
        Err(LoadError::Other(e)) => {
            show_failure(&terminal, &Failure::Other(e), false).await;
            return Ended::Unlinked;
        }
    };
    for w in &app.warnings {
        terminal.send(Output::Diagnostic { level: Level::Warn, diagnostic: w.clone() }).await;
    }
    let full_id = app.manifest.full_id();
    terminal.info(format!("Linking app {full_id} in {scope}")).await;
    let installed = match runtime::install_runtime(&app.node_dir(), &terminal).await {
        Ok(d) => d,
        Err(e) => {
            show_failure(&terminal, &Failure::Other(e), false).await;
            return Ended::Unlinked;
        }
    };
    let (worker_tx, worker_rx) = watch::channel(None);
    let mut linked = Linked {
        builder: Builder::new(&app.node_dir()),
        policy: Arc::new(Mutex::new(Policy::from_client_options(&json!({}), app.service.timeout))),
        spec: spec_for(&app, &session.node, &scope),
        app,
        runtime: installed,
        worker: worker_tx,
        subscriber: None,
        spare: Arc::default(),
        tracker: TaskTracker::new(),
    };
    let bus = session.bus.clone();

    // First link.
    let ok = match link_once(&mut linked, &terminal, &bus).await {
        Ok(worker) => {
            *linked.policy.lock().unwrap() =
                Policy::from_client_options(&worker.loaded.client_options, linked.app.service.timeout);
            linked.worker.send_replace(Some(Arc::new(worker)));
            true
        }
        Err(f) => {
            show_failure(&terminal, &f, req.watch).await;
            if !req.watch {
                return Ended::Unlinked;
            }
            false
        }
    };
    let (queue_tx, queue_rx) = mpsc::channel(QUEUE_BOUND);
    let counters = Arc::new(Counters::default());
    session.queues.lock().unwrap().insert(full_id.clone(), (queue_tx.clone(), counters.clone()));
    session.routes.set(&full_id, route_table(&linked.app, &full_id, &linked.worker));
    linked.subscriber =
        Some(bus.subscribe(scope.clone(), subscriptions(&linked.app), queue_tx.clone(), counters.clone()));
    let stop_deliveries = CancellationToken::new();
    linked.tracker.spawn(
        Dispatcher {
            scope: scope.clone(),
            app: full_id.clone(),
            bus: bus.clone(),
            terminal: terminal.clone(),
            policy: linked.policy.clone(),
            worker: worker_rx,
            dead: session.dead.clone(),
            counters: counters.clone(),
            tracker: linked.tracker.clone(),
            stop: stop_deliveries.clone(),
        }
        .run(queue_rx),
    );
    banner(&linked, &session, &terminal).await;
    let elapsed_ms = req.started_at.elapsed().map_or(0, |d| d.as_millis() as u64);
    terminal
        .record(
            None,
            format!("ready in {elapsed_ms} ms"),
            json!({"type": "ready", "app": full_id, "account": scope.account, "workspace": scope.workspace, "url": session.url, "elapsed_ms": elapsed_ms, "linked": ok}),
        )
        .await;

    let watching = if req.watch {
        match fswatch::start(&linked.app.root) {
            Ok(w) => Some(w),
            Err(e) => {
                terminal.status(Level::Warn, format!("{e:#}; linked once, not watching")).await;
                None
            }
        }
    } else {
        None
    };
    let (_watch, mut changes) = match watching {
        Some((w, rx)) => {
            linked.prepare_spare(&terminal);
            (Some(w), rx)
        }
        None => (None, mpsc::channel(1).1),
    };

    // Saves, crashes, unlink.
    let mut renamed = false;
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
            _ = unlink.cancelled() => break,
            Some(batch) = changes.recv() => {
                for c in &batch {
                    let op = if c.deleted { "D" } else { "U" };
                    terminal.record(
                        Some(Level::Info),
                        format!("{op} {}", c.path.display()),
                        json!({"type": "change", "op": op, "path": c.path}),
                    ).await;
                }
                if let Relink::Renamed = relink(&mut linked, &terminal, &session).await {
                    renamed = true;
                    break;
                }
                linked.prepare_spare(&terminal);
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
                    _ = unlink.cancelled() => break,
                }
                match start_worker(&linked, &terminal, &bus).await {
                    Ok(worker) => {
                        linked.worker.send_replace(Some(Arc::new(worker)));
                        terminal.info("restarted the app's Node.js process").await;
                        linked.prepare_spare(&terminal);
                    }
                    Err(f) => {
                        linked.worker.send_replace(None);
                        show_failure(&terminal, &f, true).await;
                    }
                }
            }
        }
    }

    // Graceful stop: no new events for this app, let running handlers finish (bounded).
    if !terminal.is_closed() && !renamed {
        terminal.info("stopping: waiting for running handlers (Ctrl-C again to force)").await;
    }
    if let Some(id) = linked.subscriber.take() {
        bus.unsubscribe(id);
    }
    session.queues.lock().unwrap().remove(&full_id);
    session.routes.set(&full_id, Vec::new());
    drop(queue_tx);
    stop_deliveries.cancel();
    linked.tracker.close();
    let _ = tokio::time::timeout(STOP_GRACE, linked.tracker.wait()).await;
    if let Some(w) = linked.worker.send_replace(None) {
        w.stop(Duration::from_millis(500)).await;
    }
    drop(linked.spare.lock().await.take());
    if renamed {
        return Ended::Renamed;
    }
    // The app's own deliveries, then the workspace's totals (other apps' included).
    let (mine, all) = (counters.snapshot(), bus.counters.snapshot());
    let abandoned = if mine.in_flight > 0 { format!(" ({} abandoned at stop)", mine.in_flight) } else { String::new() };
    terminal
        .record(
            None,
            format!(
                "{} unlinked from {scope}: {} deliveries, {} ok, {} failed, {} in flight{abandoned}; workspace: {} events published",
                linked.spec.full_id, mine.deliveries, mine.delivered, mine.failed, mine.in_flight, all.published
            ),
            json!({"type": "stopped", "app": mine, "counts": all}),
        )
        .await;
    Ended::Unlinked
}

fn spec_for(app: &App, node: &Path, scope: &Scope) -> Spec {
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
                timeout: Duration::from_secs(app.service.timeout.unwrap_or(10).into()),
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
                Worker::start(&linked.spec, &linked.runtime, terminal.clone(), bus.clone()).await
            }
            done => done,
        },
        None => Worker::start(&linked.spec, &linked.runtime, terminal.clone(), bus.clone()).await,
    };
    let worker = match started {
        Ok(w) => w,
        Err(StartError::App(d)) => return Err(Failure::App(vec![d])),
        Err(StartError::Other(e)) => return Err(Failure::Other(e)),
    };
    let exported = &worker.loaded.events;
    let mut problems: Vec<Diagnostic> = linked
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
        problems.push(
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
    if !problems.is_empty() {
        worker.stop(Duration::from_millis(200)).await;
        return Err(Failure::App(problems));
    }
    Ok(worker)
}

/// After a save: reread the app if its JSON changed, rebuild, start the new version beside
/// the old, switch to it, and let the old one finish its work. On failure the old one stays.
/// Returns `Renamed` when manifest.json now names another app (vendor, name or version):
/// the caller unlinks the old id and links the new one.
async fn relink(linked: &mut Linked, terminal: &Terminal, session: &Shared) -> Relink {
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
                return Relink::Renamed;
            }
            linked.spec = spec_for(&app, &linked.spec.node, &linked.spec.scope);
            linked.app = app;
        }
        Err(LoadError::Diagnostic(d)) => {
            show_failure(terminal, &Failure::App(vec![d]), true).await;
            return Relink::Done;
        }
        Err(LoadError::Other(e)) => {
            show_failure(terminal, &Failure::Other(e), true).await;
            return Relink::Done;
        }
    }
    match link_once(linked, terminal, &session.bus).await {
        Ok(worker) => {
            let policy = Policy::from_client_options(&worker.loaded.client_options, linked.app.service.timeout);
            *linked.policy.lock().unwrap() = policy;
            if let Some(id) = linked.subscriber {
                session.bus.resubscribe(id, subscriptions(&linked.app));
            }
            let old = linked.worker.send_replace(Some(Arc::new(worker)));
            session.routes.set(&linked.spec.full_id, route_table(&linked.app, &linked.spec.full_id, &linked.worker));
            if let Some(old) = old {
                linked.tracker.spawn(async move {
                    old.drain(STOP_GRACE).await;
                    old.stop(Duration::from_millis(500)).await;
                });
            }
            let ms = t0.elapsed().as_millis() as u64;
            terminal
                .record(
                    Some(Level::Info),
                    format!("relinked in {ms} ms"),
                    json!({"type": "relinked", "elapsed_ms": ms}),
                )
                .await;
        }
        Err(f) => {
            linked.app = previous_app;
            linked.spec = spec_for(&linked.app, &linked.spec.node, &linked.spec.scope);
            show_failure(terminal, &f, true).await
        }
    }
    Relink::Done
}

enum Relink {
    Done,
    Renamed,
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
                .record(Some(Level::Error), format!("{e:#}"), json!({"type": "error", "message": format!("{e:#}")}))
                .await;
        }
    }
    let msg = if watching { "App build failed. Waiting for changes..." } else { "App build failed." };
    terminal.status(Level::Error, msg).await;
}

async fn banner(linked: &Linked, session: &Shared, terminal: &Terminal) {
    let app = &linked.app;
    let url = &session.url;
    if app.service.events.is_empty() && app.service.routes.is_empty() {
        terminal
            .status(Level::Warn, "node/service.json declares no events and no routes: nothing will call this app")
            .await;
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
    let served = linked.worker.borrow().as_ref().map(|w| w.loaded.routes.clone());
    for (id, r) in &app.service.routes {
        let access = if r.public { "public" } else { "private: needs the session token" };
        terminal.info(format!("route {id}: {url}{} ({access})", r.path)).await;
        if served.as_ref().is_some_and(|s| !s.contains(id)) {
            terminal
                .status(
                    Level::Warn,
                    format!("route `{id}` is declared in node/service.json but the Service has no handler for it"),
                )
                .await;
        }
    }
    if !app.service.events.is_empty() {
        let policy = linked.policy.lock().unwrap().describe();
        terminal.info(format!("delivery policy for {}: {policy}", linked.spec.app_id)).await;
    }
    terminal.info(format!("session {url} (token in {})", session.record_path.display())).await;
    let real_sender = linked.spec.app_id == crate::sender::APP_ID;
    if real_sender && session.arm.is_some() {
        terminal
            .info("this app replaces the session's sample sender while it is linked (its own route and timer fire events)")
            .await;
    } else if session.arm.is_some() && !session.sender_muted.load(std::sync::atomic::Ordering::Relaxed) {
        terminal
            .info(format!(
                "sample sender {} is waiting for its healthcheck: run `ioctl healthcheck` or open {url}{}",
                crate::sender::APP_ID,
                crate::sender::HCHECK_PATH
            ))
            .await;
    }
}
