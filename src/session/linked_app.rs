//! One app linked into a session: builds it, runs it in a Node worker (with a warm standby
//! for the next relink), subscribes its handlers, serves its routes, relinks on every save,
//! restarts a crashed process, and stops gracefully when its link command goes.

use crate::lock::Locked;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::boundary::setup::Answerers;
use super::bus::{Bus, Counters, SubscriberId};
use super::context::{AppContext as Session, SampleSender, Unlink};
use super::delivery::{Dispatcher, Policy};
use super::process::{Live, NodeProcesses, Preloads, Process, Processes};
use super::routes::Route;
use super::typecheck::{self, TypeCheck};
use super::watch as fswatch;
use crate::app::route::Pattern;
use crate::app::{self, App, AppId};
use crate::build::Builder;
use crate::diagnostic::Diagnostic;
use crate::failure::Failure;
use crate::protocol::dashboard::{AppState, RelinkInfo, RouteInfo, SubscriptionInfo};
use crate::protocol::stream::{ChangeOp, Level, LinkRecord, Output, RelinkPhases};
use crate::protocol::{sample_sender, LinkRequest, Scope};
use crate::runtime::{self, Loaded, Outbox, SendEvent, Spec};
use crate::terminal::Terminal;

/// How long a graceful unlink waits for running handlers.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Bound of each app's delivery queue: publishers wait beyond it.
const QUEUE_BOUND: usize = 1024;
/// Bound of each app's `sendEvent` outbox (the host keeps at most 64 unanswered per process).
const OUTBOX_BOUND: usize = 256;
/// How long a forced stop waits for its killed processes' deliveries to be counted, and an
/// unlink for the outbox and platform tasks to end.
const SERVICES_STOP: Duration = Duration::from_secs(2);

/// The linked app's state that relinks replace; its processes come from `P` (Node's, or a
/// test's fakes).
struct Linked<P: Processes> {
    app: App,
    builder: Builder,
    spec: Spec,
    /// Starts the app's processes, and keeps a warm standby for the next relink.
    processes: P,
    /// The live version's process.
    worker: Live<P::Process>,
    policy: watch::Sender<Policy>,
    /// This app's own tasks (dispatcher, deliveries, standby starts): a graceful stop waits
    /// for them.
    tracker: TaskTracker,
    /// The services the app's processes call (the outbox, platform calls): they serve until
    /// the app's last process is gone, then stop.
    services: Services,
    /// Its fixtures and cloud (`--fixtures`, `--cloud`): a save in a fixture folder reloads
    /// them, not the app.
    answerers: Answerers,
    terminal: Terminal,
    /// The app's subscription on the bus, once registered.
    subscriber: Option<SubscriberId>,
    /// When the link command started, and whether `ready` was said (the first live version).
    started_at: SystemTime,
    ready: bool,
    /// The session's local platform storage (settings, VBase, Master Data).
    store: Arc<crate::store::Store>,
    /// The `settingsSchema` last recorded in the store: a relink that keeps it writes nothing.
    recorded_schema: std::sync::Mutex<Option<Option<serde_json::Value>>>,
    /// The type check after each good build (off the relink's path unless `--strict-types`).
    typecheck: TypeCheck,
}

/// What a linked app has registered with the session, undone at unlink.
struct Registration {
    subscriber: SubscriberId,
    counters: Arc<Counters>,
    queue: mpsc::Sender<crate::session::bus::Delivery>,
    stop_deliveries: CancellationToken,
}

enum Ended {
    Unlinked,
    Renamed,
}

/// Links the app and keeps it linked until `unlink` is requested; everything it has to say
/// goes to `terminal`. A link command that sees no `ready` record failed.
pub async fn run(session: Session, req: LinkRequest, terminal: Terminal, unlink: Unlink) {
    // A manifest.json that renames the app ends one link and starts the next under the new id.
    let mut started_at = SystemTime::UNIX_EPOCH + Duration::from_micros(req.started_at_us);
    while let Ended::Renamed = run_once(&session, &req, started_at, &terminal, &unlink).await {
        session.renamed(&req.root);
        started_at = SystemTime::now();
    }
}

async fn run_once(
    session: &Session,
    req: &LinkRequest,
    started_at: SystemTime,
    terminal: &Terminal,
    unlink: &Unlink,
) -> Ended {
    let mut linked = match prepare(session, req, terminal).await {
        Ok(l) => l,
        Err(f) => {
            show_failure(terminal, &f, false).await;
            return Ended::Unlinked;
        }
    };
    // `--inspect`: the debugger's endpoint, up before the first process starts.
    let inspector = match start_inspector(&mut linked, req).await {
        Ok(i) => i,
        Err(e) => {
            // Not the app's fault: no "build failed", only what to do about the port.
            let message = format!("{e:#}");
            terminal.record(Some(Level::Error), message.clone(), LinkRecord::Error { message, at: None }).await;
            linked.services.stop().await;
            return Ended::Unlinked;
        }
    };
    let watching = start_watching(&linked, req.watch).await;
    show_overview(&linked, session, AppState::Starting);
    let ok = match first_link(&mut linked).await {
        Ok(()) => {
            show_overview(&linked, session, AppState::Running);
            true
        }
        Err(f) => {
            show_overview(&linked, session, AppState::Stopped);
            show_failure(terminal, &f, req.watch).await;
            if !req.watch {
                return Ended::Unlinked;
            }
            false
        }
    };
    let reg = register(session, &linked);
    linked.subscriber = Some(reg.subscriber);
    linked.started_at = started_at;
    banner(&linked, session).await;
    // A first build that failed is no `ready`: that comes with the first version that links.
    if ok {
        announce_ready(&mut linked, session).await;
    }

    let renamed = watch_and_supervise(&mut linked, session, watching, unlink).await;
    // The debugger goes first: a process it paused goes on as its session ends (V8 resumes
    // it), and none waits at exit for a debugger to disconnect.
    if let Some(inspector) = inspector {
        inspector.stop().await;
    }
    stop(&mut linked, session, reg, renamed, unlink.force()).await
}

/// `ready in N ms` (from the link command's start), once: when the first version is live.
async fn announce_ready(linked: &mut Linked<impl Processes>, session: &Session) {
    if linked.ready {
        return;
    }
    linked.ready = true;
    let elapsed_ms = linked.started_at.elapsed().map_or(0, |d| d.as_millis() as u64);
    let scope = session.scope();
    let ready = LinkRecord::Ready {
        app: linked.spec.id.to_string(),
        account: scope.account.clone(),
        workspace: scope.workspace.clone(),
        url: session.url().to_string(),
        elapsed_ms,
        linked: true,
    };
    match session.ide().issue() {
        Some(login) => {
            let url = format!("{}{}?login={login}", session.url(), crate::protocol::path::DASHBOARD);
            let line =
                format!("dashboard: {url} (one-time link: logs this browser in; `ioctl dashboard` makes another)");
            linked.terminal.info(line).await;
        }
        None => linked.terminal.status(Level::Warn, "dashboard: no login link (cannot read /dev/urandom)").await,
    }
    linked.terminal.record(None, format!("ready in {elapsed_ms} ms"), ready).await;
    tracing::info!(app = linked.spec.id.as_str(), elapsed_ms, "app ready");
    // As installing an app in a workspace does on VTEX: `apps` fires `setup` to it.
    let wants_setup = linked.app.service.events.values().any(|s| s.matches("apps", "setup"));
    if wants_setup {
        let bus = session.bus().clone();
        let (scope, app) = (session.scope().clone(), linked.spec.id.to_string());
        linked.tracker.spawn(async move { bus.publish_to(&scope, &app, "apps", "setup", json!({})).await });
    }
}

/// `link --inspect`: the app's processes run under the inspector, behind the proxy that
/// follows the version that serves (session/inspector/).
async fn start_inspector(
    linked: &mut Linked<NodeProcesses>,
    req: &LinkRequest,
) -> anyhow::Result<Option<super::inspector::Inspector>> {
    let Some(opts) = req.inspect else { return Ok(None) };
    let inspect = runtime::Inspect { brk: opts.brk, ..Default::default() };
    let spec = &linked.spec;
    let (root, entry) = (spec.app_root.clone(), spec.entry.clone());
    let live = linked.worker.subscribe();
    let started =
        super::inspector::Inspector::start(opts, &spec.id, root, &entry, &inspect, live, linked.terminal.clone()).await;
    linked.spec.inspect = Some(inspect);
    started.map(Some)
}

/// Reads the app and sets up what every version of it shares.
async fn prepare(session: &Session, req: &LinkRequest, terminal: &Terminal) -> Result<Linked<NodeProcesses>, Failure> {
    let app = App::load(&req.root)?;
    for w in &app.warnings {
        terminal.send(Output::Diagnostic { level: Level::Warn, diagnostic: w.clone() }).await;
    }
    terminal.info(format!("Linking app {} in {}", app.manifest.app_id(), session.scope())).await;
    let installing = Instant::now();
    let runtime = runtime::install_runtime(terminal).await?;
    let install_ms = installing.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(app = %app.manifest.app_id(), install_ms, "runtime files in place");
    if has_graphql(&app) {
        // The IDE is a convenience: without its packages the app still serves its GraphQL.
        match runtime::install_ide(terminal).await {
            Ok(modules) => session.ide().set_modules(modules),
            Err(e) => terminal.status(Level::Warn, format!("{e:#}; the GraphQL IDE will not load")).await,
        }
    }
    let runtime_dir = runtime.dir().to_path_buf();
    // Fixtures and --cloud: the answerers the boundary asks after linked apps and local
    // services; the fixtures are read again on save while the app is watched.
    let services = Services::default();
    let reload = req.watch.then(|| (&services.tracker, services.stop.clone()));
    let answerers = super::boundary::setup::start(&req.boundary, session.scope(), &app.root, terminal, reload).await;
    let processes = NodeProcesses::new(runtime);
    let mut linked = assemble(app, session, processes, &runtime_dir, terminal, (services, answerers));
    let target = typecheck::Target {
        node: session.place().node.clone(),
        app_root: linked.app.root.clone(),
        builder_major: linked.app.manifest.builders.get("node").and_then(|v| v.split('.').next()?.parse().ok()),
    };
    let stop = linked.services.stop.clone();
    linked.typecheck = TypeCheck::start(req.typecheck, target, terminal.clone(), &linked.services.tracker, stop);
    Ok(linked)
}

/// The linked app before its first build: its services started, no process yet.
fn assemble<P: Processes>(
    app: App,
    session: &Session,
    processes: P,
    runtime_dir: &std::path::Path,
    terminal: &Terminal,
    (services, answerers): (Services, Answerers),
) -> Linked<P> {
    let outbox = start_outbox(&services, session.bus().clone(), session.scope().clone());
    let fixtures_dir = answerers.fixtures().and_then(|f| f.dirs().first().cloned());
    let boundary = session
        .boundary(app.manifest.app_id().to_string(), terminal.clone())
        .with_answerers(answerers.list())
        .with_fixtures_dir(fixtures_dir);
    let journal = session.journal().clone();
    let platform =
        super::platform::start(&services.tracker, services.stop.clone(), session.store().clone(), boundary, journal);
    let (policy, _) = Policy::from_client_options(&json!({}), app.service.timeout);
    Linked {
        builder: Builder::new(&app.root, &build_dir(session, &app.root)),
        policy: watch::channel(policy).0,
        spec: spec_for(&app, session, runtime_dir, outbox, platform),
        store: session.store().clone(),
        recorded_schema: Default::default(),
        app,
        processes,
        worker: watch::channel(None).0,
        tracker: TaskTracker::new(),
        services,
        answerers,
        terminal: terminal.clone(),
        subscriber: None,
        started_at: SystemTime::now(),
        ready: false,
        typecheck: TypeCheck::off(),
    }
}

/// The tasks serving the app's processes, and the signal that ends them once no process is
/// left to call them (their channels' senders live in the [`Spec`] too, so they would not
/// end by themselves).
#[derive(Default)]
struct Services {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Services {
    /// Ends the services (an event being published finishes first) and waits for them.
    async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        if tokio::time::timeout(SERVICES_STOP, self.tracker.wait()).await.is_err() {
            tracing::warn!("the app's outbox or platform calls did not end within {SERVICES_STOP:?}");
        }
    }
}

/// The task that publishes the app's `sendEvent` calls, one at a time, and answers each.
fn start_outbox(services: &Services, bus: Arc<Bus>, scope: Scope) -> Outbox {
    let (tx, mut rx) = mpsc::channel::<SendEvent>(OUTBOX_BOUND);
    let stop = services.stop.clone();
    services.tracker.spawn(async move {
        loop {
            let e = tokio::select! {
                biased;
                e = rx.recv() => e,
                _ = stop.cancelled() => None,
            };
            let Some(e) = e else { break };
            let (event, _) = bus.publish(&scope, &e.sender, &e.key, &e.subject, e.body).await;
            e.ack.published(event.id.clone()).await;
        }
    });
    tx
}

/// The first build and start; the app's policy comes from what its Service declares.
async fn first_link(linked: &mut Linked<impl Processes>) -> Result<(), Failure> {
    let mut phases = Phases::start();
    let worker = link_once(linked, &mut phases).await?;
    if linked.typecheck.refuses().await {
        worker.stop(Duration::from_millis(200)).await;
        return Err(Failure::App(Vec::new()));
    }
    let timings = &worker.loaded().timings;
    tracing::debug!(
        app = linked.spec.id.as_str(),
        build_ms = phases.build,
        load_ms = phases.load,
        require_ms = timings.require_ms,
        runtime_modules = timings.runtime_modules,
        cached_modules = timings.cached_modules,
        "first version built and loaded"
    );
    apply_policy(linked, &worker.loaded().client_options, false).await;
    linked.worker.send_replace(Some(Arc::new(worker)));
    linked.typecheck.after_build();
    Ok(())
}

/// Subscribes the app's handlers, serves its routes and starts its dispatcher.
fn register(session: &Session, linked: &Linked<impl Processes>) -> Registration {
    let full_id = linked.spec.id.as_str();
    let (queue, queue_rx) = mpsc::channel(QUEUE_BOUND);
    session.set_routes(full_id, route_table(&linked.app, &linked.spec.id, session.scope(), &linked.worker));
    let (subscriber, counters) =
        session.bus().subscribe(session.scope().clone(), full_id, subscriptions(&linked.app), queue.clone());
    let stop_deliveries = CancellationToken::new();
    let dispatcher = Dispatcher {
        scope: session.scope().clone(),
        app: full_id.into(),
        bus: session.bus().clone(),
        terminal: linked.terminal.clone(),
        policy: linked.policy.subscribe(),
        worker: linked.worker.subscribe(),
        dead: session.dead_letters().clone(),
        tracker: linked.tracker.clone(),
        stop: stop_deliveries.clone(),
    };
    linked.tracker.spawn(dispatcher.run(queue_rx));
    if let Some(cluster) = session.cluster() {
        // A team workspace: the app's events come from its consumer on NATS, shared with its
        // replicas on the other machines, into the same queue.
        let puller = crate::session::cluster::events::Puller {
            cluster: cluster.clone(),
            bus: session.bus().clone(),
            subscriber,
            app: full_id.into(),
            terminal: linked.terminal.clone(),
            tracker: linked.tracker.clone(),
            stop: stop_deliveries.clone(),
        };
        linked.tracker.spawn(puller.run());
        // Its routes answer the other machines' requests too (one replica each).
        if let Some(major) = linked.spec.id.major() {
            let responder = crate::session::cluster::routes::Responder {
                cluster: cluster.clone(),
                gateway: session.gateway().clone(),
                id: linked.spec.id.without_version().to_string(),
                major: major.to_string(),
                tracker: linked.tracker.clone(),
                stop: stop_deliveries.clone(),
            };
            linked.tracker.spawn(responder.run());
        }
    }
    Registration { subscriber, counters, queue, stop_deliveries }
}

/// Starts watching the app folder (before the first build, so that a save made while it
/// builds, or right after it failed, is not missed).
async fn start_watching(
    linked: &Linked<impl Processes>,
    watch: bool,
) -> Option<(fswatch::Watch, mpsc::Receiver<Vec<fswatch::Change>>)> {
    if !watch {
        return None;
    }
    match fswatch::start(&linked.app.root) {
        Ok(w) => Some(w),
        Err(e) => {
            linked.terminal.status(Level::Warn, format!("{e:#}; linked once, not watching")).await;
            None
        }
    }
}

/// Saves, crashes, unlink: relinks on every batch of changes, restarts a crashed process with
/// backoff. Returns whether manifest.json renamed the app.
async fn watch_and_supervise(
    linked: &mut Linked<impl Processes>,
    session: &Session,
    watching: Option<(fswatch::Watch, mpsc::Receiver<Vec<fswatch::Change>>)>,
    unlink: &Unlink,
) -> bool {
    let (_watch, mut changes) = match watching {
        Some((w, rx)) => {
            linked.prepare_spare();
            (Some(w), rx)
        }
        None => (None, mpsc::channel(1).1),
    };
    let mut crashes = Crashes::default();
    loop {
        let current = linked.worker.borrow().clone();
        let exited = async {
            match &current {
                Some(w) => w.exited().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = unlink.requested() => return false,
            Some(mut batch) = changes.recv() => {
                // A save in a fixture folder inside the app reloads the fixtures, not the app.
                batch.retain(|c| !linked.answerers.owns(&linked.app.root.join(&c.path)));
                if batch.is_empty() {
                    continue;
                }
                show_changes(&linked.terminal, &batch).await;
                if let Relink::Renamed = relink(linked, session).await {
                    return true;
                }
                linked.prepare_spare();
            }
            _ = exited => {
                let w = current.expect("exited only fires for a worker");
                // A stopped-by-us worker was already replaced; only the live one matters.
                if !linked.worker.borrow().as_ref().is_some_and(|cur| Arc::ptr_eq(cur, &w)) {
                    continue;
                }
                let wait = crashes.next_wait();
                let reason = w.exit_reason().unwrap_or_default();
                tracing::warn!(app = linked.spec.id.as_str(), reason, wait_ms = wait.as_millis() as u64, "app crashed");
                linked.terminal.status(Level::Error, format!(
                    "the app's Node.js process crashed ({reason}); restarting in {} ms", wait.as_millis()
                )).await;
                session.overview(linked.spec.id.as_str(), |o| {
                    o.state = AppState::Restarting;
                    o.pid = None;
                });
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = unlink.requested() => return false,
                }
                restart(linked).await;
                let state = if linked.worker.borrow().is_some() { AppState::Running } else { AppState::Stopped };
                show_overview(linked, session, state);
                session.overview(linked.spec.id.as_str(), |o| o.restarts += 1);
            }
        }
    }
}

/// Restart backoff after crashes: 100 ms doubling to 3.2 s while crashes come within 30 s.
/// On tokio's clock, which tests pause and advance.
#[derive(Default)]
struct Crashes {
    count: u32,
    last: Option<tokio::time::Instant>,
}

impl Crashes {
    fn next_wait(&mut self) -> Duration {
        let recent = self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(30));
        self.count = if recent { self.count + 1 } else { 1 };
        self.last = Some(tokio::time::Instant::now());
        Duration::from_millis(100 * 2u64.pow(self.count.min(6) - 1))
    }
}

async fn restart(linked: &mut Linked<impl Processes>) {
    match start_worker(linked).await {
        Ok(worker) => {
            linked.worker.send_replace(Some(Arc::new(worker)));
            tracing::info!(app = linked.spec.id.as_str(), "app restarted");
            linked.terminal.info("restarted the app's Node.js process").await;
            linked.prepare_spare();
        }
        Err(f) => {
            linked.worker.send_replace(None);
            show_failure(&linked.terminal, &f, true).await;
        }
    }
}

async fn show_changes(terminal: &Terminal, batch: &[fswatch::Change]) {
    for c in batch {
        let op = if c.deleted { ChangeOp::Deleted } else { ChangeOp::Updated };
        let path = c.path.to_string_lossy().into_owned();
        let line = format!("{} {path}", op.as_str());
        terminal.record(Some(Level::Info), line, LinkRecord::Change { op, path }).await;
    }
}

/// Graceful stop: no new events for this app, running handlers finish (bounded, or cut short
/// by `force`), then the processes stop, the services they called end, and the summary is
/// printed (unless the app is only being renamed).
async fn stop(
    linked: &mut Linked<impl Processes>,
    session: &Session,
    reg: Registration,
    renamed: bool,
    force: &CancellationToken,
) -> Ended {
    let terminal = linked.terminal.clone();
    if !terminal.is_closed() && !renamed && !force.is_cancelled() {
        terminal.info("stopping: waiting for running handlers (Ctrl-C again to force)").await;
    }
    session.bus().unsubscribe(reg.subscriber);
    session.set_routes(linked.spec.id.as_str(), Vec::new());
    drop(reg.queue);
    reg.stop_deliveries.cancel();
    linked.tracker.close();
    let forced = tokio::select! {
        done = tokio::time::timeout(STOP_GRACE, linked.tracker.wait()) => {
            if done.is_err() {
                let tasks = linked.tracker.len();
                tracing::warn!(app = linked.spec.id.as_str(), tasks, "stop: running handlers did not finish within the {STOP_GRACE:?} grace period");
            }
            false
        }
        _ = force.cancelled() => true,
    };
    let grace = if forced { Duration::ZERO } else { Duration::from_millis(500) };
    if let Some(w) = linked.worker.send_replace(None) {
        w.stop(grace).await;
    }
    linked.processes.drop_spare().await;
    if forced {
        // The killed process's attempts fail; let the dispatcher count them before the summary.
        let _ = tokio::time::timeout(SERVICES_STOP, linked.tracker.wait()).await;
        tracing::info!(app = linked.spec.id.as_str(), "forced stop: the app's Node processes ended");
    }
    linked.services.stop().await;
    if renamed {
        return Ended::Renamed;
    }
    // The app's own deliveries, then the workspace's totals (other apps' included).
    let (mine, all) = (reg.counters.snapshot(), session.counts());
    let abandoned = if mine.in_flight > 0 { format!(" ({} abandoned at stop)", mine.in_flight) } else { String::new() };
    let scope = session.scope();
    let line = format!(
        "{} unlinked from {scope}: {} deliveries, {} ok, {} failed, {} in flight{abandoned}; workspace: {} events published",
        linked.spec.id, mine.deliveries, mine.delivered, mine.failed, mine.in_flight, all.published
    );
    terminal.record(None, line, LinkRecord::Stopped { app: mine, counts: all }).await;
    Ended::Unlinked
}

impl<P: Processes> Linked<P> {
    /// Starts a standby host in the background, unless one is ready. It preloads the packages
    /// the live version required; one whose dependencies changed on disk since is replaced.
    fn prepare_spare(&self) {
        let preload = match self.worker.borrow().as_ref() {
            Some(w) => Preloads::Live(w.loaded().preload.clone()),
            None => Preloads::Parts { routes: !self.app.service.routes.is_empty(), graphql: has_graphql(&self.app) },
        };
        self.processes.prepare_spare(&self.spec, &self.terminal, preload, &self.tracker);
    }
}

/// Applies the policy the app's Service declares (a relink may change it: the dispatcher
/// then resizes its limit), warning about options clamped into range. With `announce`, a
/// policy that changed (or the first one that loaded, after failed builds) is printed.
async fn apply_policy(linked: &Linked<impl Processes>, client_options: &serde_json::Value, announce: bool) {
    let (policy, warnings) = Policy::from_client_options(client_options, linked.app.service.timeout);
    for w in warnings {
        linked.terminal.status(Level::Warn, format!("delivery policy: {w}")).await;
    }
    let news = *linked.policy.borrow() != policy || linked.worker.borrow().is_none();
    if announce && news && !linked.app.service.events.is_empty() {
        let line = format!("delivery policy for {}: {}", linked.spec.id.without_version(), policy.describe());
        linked.terminal.info(line).await;
    }
    linked.policy.send_replace(policy);
}

/// Where the app's build goes in this session's account/workspace.
fn build_dir(session: &Session, app_root: &std::path::Path) -> std::path::PathBuf {
    let scope = session.scope();
    crate::layout::build_dir(&session.place().home, &scope.account, &scope.workspace, app_root)
}

/// The app's entry in the dashboard's overview: what its files declare, its process and `state`.
fn show_overview<P: Processes>(linked: &Linked<P>, session: &Session, state: AppState) {
    let app = &linked.app;
    let pid = linked.worker.borrow().as_ref().and_then(|w| w.pid());
    let events = app
        .service
        .events
        .iter()
        .map(|(handler, sub)| SubscriptionInfo {
            handler: handler.clone(),
            sender: sub.sender.clone(),
            keys: sub.all_keys().map(String::from).collect(),
        })
        .collect();
    let routes = app
        .service
        .routes
        .iter()
        .map(|(id, r)| RouteInfo { id: id.clone(), path: r.path.clone(), public: r.public })
        .collect();
    let graphql = has_graphql(app).then(|| graphql_path(app, session.scope())).flatten();
    let settings = app.manifest.settings_schema.is_some();
    session.overview(linked.spec.id.as_str(), |o| {
        o.state = state;
        o.pid = pid;
        o.events = events;
        o.routes = routes;
        o.graphql = graphql;
        o.settings = settings;
    });
}

fn spec_for(
    app: &App,
    session: &Session,
    runtime_dir: &std::path::Path,
    outbox: Outbox,
    platform: runtime::Platform,
) -> Spec {
    Spec {
        node: session.place().node.clone(),
        app_root: app.root.clone(),
        runtime_dir: runtime_dir.to_path_buf(),
        node_dir: app.node_dir(),
        id: app.manifest.app_id(),
        scope: session.scope().clone(),
        sockets: session.place().sockets.clone(),
        entry: app.node_dir().join("index.ts"),
        build_dir: build_dir(session, &app.root),
        outbox,
        platform,
        logs: log_tap(session.journal().clone()),
        inspect: None,
    }
}

/// The app's log lines, as its terminal shows them, into the session's journal.
fn log_tap(journal: Arc<crate::session::dashboard::journal::Journal>) -> runtime::LogTap {
    runtime::LogTap::new(move |line| {
        if let Output::Log { level, message, app: Some(app), handler } = line {
            journal.log(app, *level, message, handler.as_deref());
        }
    })
}

/// Where other apps reach this app's GraphQL, as on VTEX:
/// `/{vendor}.{name}/v{major}/{account}/{workspace}/_v/graphql`.
fn graphql_path(app: &App, scope: &Scope) -> Option<String> {
    let domain = app.manifest.app_id().private_path(&scope.account, &scope.workspace)?;
    Some(format!("{domain}/_v/graphql"))
}

/// Whether the app has a graphql/ folder (its Service then serves the schema in it).
fn has_graphql(app: &App) -> bool {
    app.root.join("graphql").is_dir()
}

/// The app's service.json routes (and its GraphQL endpoint when it has a graphql/ folder),
/// served by whichever version of it is live.
fn route_table<W: Process>(app: &App, app_id: &AppId, scope: &Scope, worker: &Live<W>) -> Vec<Route> {
    let timeout = Duration::from_secs(app.service.timeout.unwrap_or(10).into());
    // Served on the app's private domain only (the session's lookup keeps it off the store's).
    let graphql = has_graphql(app).then(|| graphql_path(app, scope)).flatten().and_then(|path| {
        Some(Route {
            app: app_id.clone(),
            pattern: Pattern::parse("/_v/graphql").ok()?,
            id: path,
            public: false,
            timeout,
            worker: W::served(worker),
            graphql: true,
        })
    });
    app.service
        .routes
        .iter()
        .filter_map(|(route, r)| {
            Some(Route {
                app: app_id.clone(),
                id: route.clone(),
                public: r.public,
                pattern: Pattern::parse(&r.path).ok()?,
                timeout,
                worker: W::served(worker),
                graphql: false,
            })
        })
        .chain(graphql)
        .collect()
}

fn subscriptions(app: &App) -> Vec<(String, app::EventSubscription)> {
    app.service.events.iter().map(|(id, s)| (id.clone(), s.clone())).collect()
}

/// Build, start a worker, and check that it exports every handler service.json names.
async fn link_once<P: Processes>(linked: &mut Linked<P>, phases: &mut Phases) -> Result<P::Process, Failure> {
    let node_dir = linked.app.node_dir();
    if !["index.ts", "index.js"].iter().any(|f| node_dir.join(f).is_file()) {
        let d = Diagnostic::at_line_col(std::path::Path::new("node/index.ts"), None, 1, 1, "node/index.ts is missing")
            .with_help(
                "a VTEX IO service's entry is node/index.ts: `export default new Service({ ... })` from '@vtex/api'",
            );
        return Err(d.into());
    }
    linked.builder.build()??;
    phases.build = phases.lap();
    let worker = start_worker(linked).await;
    phases.load = phases.lap();
    worker
}

async fn start_worker<P: Processes>(linked: &Linked<P>) -> Result<P::Process, Failure> {
    let worker = linked.processes.start(&linked.spec, &linked.terminal).await?;
    let problems = declaration_problems(&linked.app, worker.loaded());
    if !problems.is_empty() {
        worker.stop(Duration::from_millis(200)).await;
        return Err(Failure::App(problems));
    }
    let schema = linked.app.manifest.settings_schema.clone();
    let changed = linked.recorded_schema.locked().as_ref() != Some(&schema);
    if changed {
        let app = linked.app.manifest.app_id().without_version().to_string();
        super::platform::record_settings_schema(linked.store.clone(), app, schema.clone()).await;
        *linked.recorded_schema.locked() = Some(schema);
    }
    Ok(worker)
}

/// What service.json and the Service disagree on: a declared handler the Service lacks, or a
/// Service route service.json does not declare (as on VTEX: service.json says its path).
fn declaration_problems(app: &App, loaded: &Loaded) -> Vec<Diagnostic> {
    let exported = &loaded.events;
    let have = if exported.is_empty() { "none".to_string() } else { exported.join(", ") };
    let mut problems: Vec<Diagnostic> = app
        .service
        .events
        .keys()
        .filter(|id| !exported.contains(id))
        .map(|id| match loaded.bad_events.get(id.as_str()) {
            Some(what) => app
                .service_json_error(
                    &["events", id],
                    format!("event handler `{id}` in the Service's `events` is {what}, not a function"),
                )
                .with_help(format!(
                    "in node/index.ts, `events: {{ {id} }}` must name an (async) function `{id}(ctx)` — check its import"
                )),
            None => app.service_json_error(
                &["events", id],
                format!("event handler `{id}` is not in the Service's `events` (it exports: {have})"),
            )
            .with_help(format!("add `{id}` to `events` in node/index.ts, or rename this entry to an exported handler")),
        })
        .collect();
    for id in loaded.route_ids.iter().filter(|id| !app.service.routes.contains_key(*id)) {
        problems.push(
            app.service_json_error(
                &["routes"],
                format!("route `{id}` is in the Service's `routes` but not declared in node/service.json"),
            )
            .with_help(format!(
                "declare it: \"routes\": {{ \"{id}\": {{ \"path\": \"/_v/app/...\", \"public\": true }} }}"
            )),
        );
    }
    problems
}

enum Relink {
    Done,
    Renamed,
}

/// After a save: reread the app if its JSON changed, rebuild, start the new version beside
/// the old, switch to it, and let the old one finish its work. On failure the old one stays.
/// Returns `Renamed` when manifest.json now names another app (vendor, name or version):
/// the caller unlinks the old id and links the new one.
async fn relink(linked: &mut Linked<impl Processes>, session: &Session) -> Relink {
    let mut phases = Phases::start();
    let previous = linked.app.clone();
    let app = match App::load(&linked.app.root) {
        Ok(app) => app,
        Err(e) => {
            show_failure(&linked.terminal, &e.into(), true).await;
            return Relink::Done;
        }
    };
    if app.manifest.app_id() != previous.manifest.app_id() {
        let line =
            format!("manifest.json changed: relinking {} as {}", previous.manifest.app_id(), app.manifest.app_id());
        linked.terminal.info(line).await;
        return Relink::Renamed;
    }
    linked.app = app;
    phases.read = phases.lap();
    match link_once(linked, &mut phases).await {
        // `--strict-types`: the check's report says why the build is refused.
        Ok(worker) if linked.typecheck.refuses().await => {
            worker.stop(Duration::from_millis(200)).await;
            linked.app = previous;
            show_failure(&linked.terminal, &Failure::App(Vec::new()), true).await
        }
        Ok(worker) => {
            switch_to(linked, session, worker, phases).await;
            // After the relink has answered: the check never delays it.
            linked.typecheck.after_build();
        }
        Err(f) => {
            // The old version keeps serving (or none does, after failed builds).
            linked.app = previous;
            show_failure(&linked.terminal, &f, true).await
        }
    }
    Relink::Done
}

/// Where a relink's time went, in ms (the `relinked` record's `phases`).
#[derive(Debug)]
struct Phases {
    t0: Instant,
    last: Instant,
    /// Rereading manifest.json and service.json.
    read: f64,
    /// Transpiling what changed (and checking what did not).
    build: f64,
    /// Loading the build into the (standby) Node process, until it says `loaded`.
    load: f64,
}

impl Phases {
    fn start() -> Phases {
        let now = Instant::now();
        Phases { t0: now, last: now, read: 0.0, build: 0.0, load: 0.0 }
    }

    /// Milliseconds since the previous lap.
    fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let ms = (now - self.last).as_secs_f64() * 1000.0;
        self.last = now;
        ms
    }

    fn total_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }
}

/// Makes `worker` the live version: new policy, subscriptions and routes; the old version
/// drains its in-flight work and stops.
async fn switch_to<P: Processes>(linked: &mut Linked<P>, session: &Session, worker: P::Process, mut phases: Phases) {
    let load_timings = worker.loaded().timings.clone();
    apply_policy(linked, &worker.loaded().client_options, true).await;
    let full_id = linked.spec.id.to_string();
    let old = linked.worker.send_replace(Some(Arc::new(worker)));
    if let Some(id) = linked.subscriber {
        session.bus().resubscribe(id, subscriptions(&linked.app));
    }
    session.set_routes(&full_id, route_table(&linked.app, &linked.spec.id, session.scope(), &linked.worker));
    if let Some(old) = old {
        linked.tracker.spawn(async move {
            old.drain(STOP_GRACE).await;
            old.stop(Duration::from_millis(500)).await;
        });
    }
    let switch = phases.lap();
    let ms = phases.total_ms();
    tracing::info!(app = full_id, ms, "relinked");
    let round = |x: f64| (x * 10.0).round() / 10.0;
    let phases = RelinkPhases {
        read_ms: round(phases.read),
        build_ms: round(phases.build),
        load_ms: round(phases.load),
        switch_ms: round(switch),
        app_modules_ms: load_timings.require_ms,
        graphql_ms: load_timings.schema_ms,
    };
    show_overview(linked, session, AppState::Running);
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    session.overview(&full_id, |o| o.relink = Some(RelinkInfo { at, elapsed_ms: ms, phases }));
    let record = LinkRecord::Relinked { elapsed_ms: ms, phases };
    linked.terminal.record(Some(Level::Info), format!("relinked in {ms} ms"), record).await;
    announce_ready(linked, session).await;
}

async fn show_failure(terminal: &Terminal, f: &Failure, watching: bool) {
    match f {
        Failure::App(diags) => {
            for d in diags {
                terminal.send(Output::Diagnostic { level: Level::Error, diagnostic: d.clone() }).await;
            }
        }
        Failure::Internal(e) => {
            tracing::error!("link failed: {e:#}");
            let record = LinkRecord::Error { message: format!("{e:#}"), at: None };
            terminal.record(Some(Level::Error), format!("{e:#}"), record).await;
        }
    }
    let msg = if watching { "App build failed. Waiting for changes..." } else { "App build failed." };
    terminal.status(Level::Error, msg).await;
}

async fn banner(linked: &Linked<impl Processes>, session: &Session) {
    let (app, terminal, url) = (&linked.app, &linked.terminal, session.url());
    if app.service.events.is_empty() && app.service.routes.is_empty() && !has_graphql(app) {
        terminal
            .status(Level::Warn, "node/service.json declares no events and no routes: nothing will call this app")
            .await;
    }
    for (id, sub) in &app.service.events {
        let keys: Vec<&str> = sub.all_keys().collect();
        let sender = sub.sender.as_deref().unwrap_or("(any)");
        terminal.info(format!("event handler {id}: sender {sender}, keys {}", keys.join(", "))).await;
    }
    let served = linked.worker.borrow().as_ref().map(|w| w.loaded().route_ids.clone());
    for (id, r) in &app.service.routes {
        if r.public {
            terminal.info(format!("route {id}: {url}{} (public)", r.path)).await;
        } else {
            // As on VTEX, the app's private domain (a manifest's id has a version, so a
            // major); the store-domain form works too.
            let scope = session.scope();
            let domain = app.manifest.app_id().private_path(&scope.account, &scope.workspace).unwrap_or_default();
            let private = format!("{url}{domain}{}", r.path);
            terminal
                .info(format!("route {id}: {private} (private: needs the session token; also {url}{})", r.path))
                .await;
        }
        if served.as_ref().is_some_and(|s| !s.contains(id)) {
            let line = format!("route `{id}` is declared in node/service.json but the Service has no handler for it");
            terminal.status(Level::Warn, line).await;
        }
    }
    // Before a first good build the policy is not known (the Service declares it): the
    // relink that loads one prints it, rather than the defaults being shown here.
    if !app.service.events.is_empty() && linked.worker.borrow().is_some() {
        let policy = linked.policy.borrow().describe();
        terminal.info(format!("delivery policy for {}: {policy}", linked.spec.id.without_version())).await;
    }
    graphql_banner(linked, session).await;
    terminal.info(format!("session {url} (token in {})", session.place().record.display())).await;
    sender_banner(linked, session).await;
}

/// The GraphQL endpoint (private: the token) and the IDE's one-time login URL.
async fn graphql_banner(linked: &Linked<impl Processes>, session: &Session) {
    if !has_graphql(&linked.app) {
        return;
    }
    let url = session.url();
    let Some(path) = graphql_path(&linked.app, session.scope()) else { return };
    let serving = linked.worker.borrow().as_ref().is_some_and(|w| w.loaded().graphql);
    linked.terminal.info(format!("graphql: {url}{path} (private: needs the session token)")).await;
    if !serving && linked.worker.borrow().is_some() {
        let line = "graphql/ is there but the Service declares no `graphql: { resolvers }`: nothing serves the schema";
        linked.terminal.status(Level::Warn, line).await;
    }
    let Some(login) = session.ide().issue() else {
        linked.terminal.status(Level::Warn, "graphql IDE: no login link (cannot read /dev/urandom)").await;
        return;
    };
    linked
        .terminal
        .info(format!(
            "graphql IDE: {url}{}?login={login} (one-time link: logs this browser in)",
            crate::protocol::path::IDE
        ))
        .await;
}

async fn sender_banner(linked: &Linked<impl Processes>, session: &Session) {
    let sender = session.sample_sender();
    if sender == SampleSender::Off {
        return;
    }
    if linked.spec.id.without_version() == sample_sender::APP_ID {
        let line =
            "this app replaces the session's sample sender while it is linked (its own route and timer fire events)";
        linked.terminal.info(line).await;
    } else if sender == SampleSender::On {
        let line = format!(
            "sample sender {} is waiting for its healthcheck: run `ioctl healthcheck` or open {}{}",
            sample_sender::APP_ID,
            session.url(),
            sample_sender::HCHECK_PATH
        );
        linked.terminal.info(line).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::AttemptError;
    use crate::session::context::{Parts, Place};
    use crate::session::delivery::Target;
    use std::collections::VecDeque;
    use tokio::time::Instant as Clock;

    #[test]
    fn crash_restarts_back_off_from_100_ms_to_3_2_s() {
        let mut crashes = Crashes::default();
        let waits: Vec<u64> = (0..8).map(|_| crashes.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 3200, 3200]);
    }

    #[test]
    fn a_crash_long_after_the_last_starts_the_backoff_again() {
        let mut crashes = Crashes::default();
        crashes.next_wait();
        crashes.next_wait();
        crashes.last = Some(tokio::time::Instant::now() - Duration::from_secs(31));
        assert_eq!(crashes.next_wait(), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn the_services_end_when_asked_even_while_their_senders_live() {
        let services = Services::default();
        let bus = Bus::new();
        let scope = Scope { account: "local".into(), workspace: "dev".into() };
        let outbox = start_outbox(&services, bus, scope);
        // The outbox's sender is alive (as the app's Spec holds it): stopping must not wait for it.
        services.stop().await;
        assert!(services.tracker.is_empty(), "the outbox task ended");
        assert!(outbox.is_closed(), "its channel is closed: a late sendEvent fails at once");
    }

    // The relink / restart / unlink decisions, on a fake process (no Node), under paused time.

    /// One scripted process: it exits when the test crashes it or the app stops it, and
    /// remembers how it was drained and stopped.
    struct FakeState {
        /// Which start made it (1 for the first).
        n: usize,
        started_at: Clock,
        loaded: Loaded,
        exited: CancellationToken,
        reason: std::sync::Mutex<Option<String>>,
        /// How long its in-flight work takes to finish (what a drain waits for, bounded).
        work: Duration,
        drained_at: std::sync::Mutex<Option<Clock>>,
        /// The grace of each stop asked for, and when.
        stops: std::sync::Mutex<Vec<(Duration, Clock)>>,
    }

    impl FakeState {
        fn crash(&self, reason: &str) {
            *self.reason.locked() = Some(reason.into());
            self.exited.cancel();
        }

        fn stops(&self) -> Vec<(Duration, Clock)> {
            self.stops.locked().clone()
        }
    }

    struct Fake(Arc<FakeState>);

    impl Target for Fake {
        async fn deliver(&self, _: &crate::protocol::Event, _: &str, _: u32, _: u64) -> Result<(), AttemptError> {
            Ok(())
        }
        fn is_running(&self) -> bool {
            !self.0.exited.is_cancelled()
        }
        async fn check_responsive(&self) -> bool {
            true
        }
    }

    impl Process for Fake {
        fn loaded(&self) -> &Loaded {
            &self.0.loaded
        }
        async fn exited(&self) {
            self.0.exited.cancelled().await
        }
        fn exit_reason(&self) -> Option<String> {
            self.0.reason.locked().clone()
        }
        async fn drain(&self, limit: Duration) {
            tokio::time::sleep(self.0.work.min(limit)).await;
            *self.0.drained_at.locked() = Some(Clock::now());
        }
        async fn stop(&self, grace: Duration) {
            self.0.stops.locked().push((grace, Clock::now()));
            self.0.crash("stopped");
        }
        fn served(_: &Live<Fake>) -> watch::Receiver<Option<Arc<crate::runtime::Worker>>> {
            watch::channel(None).1
        }
    }

    /// What the next starts do instead of loading the app's one handler, `onSave`.
    enum Next {
        Fail(Failure),
        /// Loads a Service that exports these handlers.
        Export(Vec<String>),
        /// Loads, with this much work in flight when it is replaced.
        Busy(Duration),
    }

    /// The fake processes of one app: every one started (watchable), and a script for the next.
    #[derive(Clone)]
    struct Fakes {
        started: Arc<watch::Sender<Vec<Arc<FakeState>>>>,
        next: Arc<std::sync::Mutex<VecDeque<Next>>>,
        spares: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
        spares_dropped: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Fakes {
        fn new() -> Fakes {
            Fakes {
                started: Arc::new(watch::channel(Vec::new()).0),
                next: Arc::default(),
                spares: Arc::default(),
                spares_dropped: Arc::default(),
            }
        }

        fn then(&self, next: Next) {
            self.next.locked().push_back(next);
        }

        /// The `n`th process started (1-based), waiting for it to start.
        async fn nth(&self, n: usize) -> Arc<FakeState> {
            let mut rx = self.started.subscribe();
            let all = rx.wait_for(|all| all.len() >= n).await.unwrap();
            all[n - 1].clone()
        }

        fn count(&self) -> usize {
            self.started.borrow().len()
        }
    }

    impl Processes for Fakes {
        type Process = Fake;

        async fn start(&self, _: &Spec, _: &Terminal) -> Result<Fake, Failure> {
            let (mut events, mut work) = (vec!["onSave".to_string()], Duration::ZERO);
            match self.next.locked().pop_front() {
                Some(Next::Fail(f)) => return Err(f),
                Some(Next::Export(e)) => events = e,
                Some(Next::Busy(w)) => work = w,
                None => {}
            }
            let n = self.count() + 1;
            let loaded = Loaded {
                events,
                bad_events: Default::default(),
                route_ids: vec![],
                client_options: json!({}),
                routes: None,
                graphql: false,
                preload: vec![format!("preload-of-{n}")],
                timings: Default::default(),
            };
            let state = Arc::new(FakeState {
                n,
                started_at: Clock::now(),
                loaded,
                exited: CancellationToken::new(),
                reason: Default::default(),
                work,
                drained_at: Default::default(),
                stops: Default::default(),
            });
            self.started.send_modify(|all| all.push(state.clone()));
            Ok(Fake(state))
        }

        fn prepare_spare(&self, _: &Spec, _: &Terminal, preload: Preloads, _: &TaskTracker) {
            let files = match preload {
                Preloads::Live(files) => files,
                Preloads::Parts { .. } => vec!["parts".into()],
            };
            self.spares.locked().push(files);
        }

        async fn drop_spare(&self) {
            self.spares_dropped.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    const SERVICE: &str = r#"{"events": {"onSave": {"sender": "v.other", "keys": ["save"]}}}"#;
    const INDEX: &str = "export default { events: { onSave: async () => {} } }\n";

    /// A linked app on fake processes, its first version live.
    struct Rig {
        linked: Linked<Fakes>,
        session: Session,
        fakes: Fakes,
        /// What the app's link command would show.
        out: mpsc::Receiver<Output>,
        _home: tempfile::TempDir,
    }

    async fn rig() -> Rig {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("app");
        for (rel, text) in [
            ("manifest.json", r#"{"vendor": "v", "name": "app", "version": "1.2.3", "builders": {"node": "6.x"}}"#),
            ("node/service.json", SERVICE),
            ("node/index.ts", INDEX),
        ] {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), text).unwrap();
        }
        let scope = Scope { account: "acct".into(), workspace: "dev".into() };
        let place = Place {
            record: home.path().join("session.json"),
            url: "http://127.0.0.1:1".into(),
            token: "t0k".into(),
            home: home.path().to_path_buf(),
            node: "node".into(),
            sockets: home.path().join("run"),
            scope: scope.clone(),
        };
        let store = crate::store::Store::new(crate::store::Location::new(home.path(), "acct", "dev"));
        let routes: Arc<crate::session::routes::Table> = Arc::default();
        let settings = crate::store::platform::Settings::defaults(&scope.account);
        let identity =
            Arc::new(crate::session::identity::Identity::new(scope.clone(), "t0k".into(), settings).unwrap());
        let gateway =
            crate::session::gateway::Gateway::new(scope.clone(), routes.clone(), Default::default(), identity);
        let session = Session::new(Parts {
            place: Arc::new(place),
            bus: Bus::new(),
            dead: Arc::default(),
            store: Arc::new(store),
            routes,
            gateway,
            calls: Arc::default(),
            ide: Arc::default(),
            journal: Arc::default(),
            cluster: None,
            link: 1,
            sample_sender: Arc::new(|| SampleSender::Off),
            renamed: Arc::new(|_| {}),
        });
        let (terminal, out) = Terminal::channel();
        let fakes = Fakes::new();
        let app = App::load(&root).unwrap();
        let parts = (Services::default(), Answerers::default());
        let mut linked = assemble(app, &session, fakes.clone(), &home.path().join("runtime"), &terminal, parts);
        first_link(&mut linked).await.unwrap();
        Rig { linked, session, fakes, out, _home: home }
    }

    impl Rig {
        /// The live process's number (which start made it).
        fn live(&self) -> Option<usize> {
            self.linked.worker.borrow().as_ref().map(|w| w.0.n)
        }

        /// Everything shown since the last call, one line each.
        fn said(&mut self) -> Vec<String> {
            std::iter::from_fn(|| self.out.try_recv().ok())
                .map(|o| match o {
                    Output::Log { message, .. } => message,
                    Output::Record { human, .. } => human,
                    Output::TypeCheck(report) => format!("{report:?}"),
                    Output::Diagnostic { diagnostic: d, .. } => {
                        format!("{}:{}:{}: {}", d.file.display(), d.line, d.column, d.message)
                    }
                })
                .collect()
        }
    }

    fn diagnostic(message: &str) -> Failure {
        Failure::App(vec![Diagnostic::at_line_col(std::path::Path::new("node/index.ts"), None, 1, 1, message)])
    }

    #[tokio::test(start_paused = true)]
    async fn a_crashed_process_restarts_after_a_backoff_from_100_ms_doubling_to_3_2_s() {
        let mut r = rig().await;
        let unlink = Unlink::default();
        let fakes = r.fakes.clone();
        let crashes = async {
            let mut waits = Vec::new();
            for n in 1..=7 {
                let crashed = fakes.nth(n).await;
                crashed.crash("exit code 1");
                let crashed_at = Clock::now();
                let next = fakes.nth(n + 1).await;
                waits.push((next.started_at - crashed_at).as_millis() as u64);
            }
            unlink.request(false);
            waits
        };
        let (renamed, waits) = tokio::join!(watch_and_supervise(&mut r.linked, &r.session, None, &unlink), crashes);
        assert!(!renamed);
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 3200]);
        assert_eq!(r.live(), Some(8), "the last restart is live");
        let said = r.said();
        let first =
            said.iter().position(|l| l == "the app's Node.js process crashed (exit code 1); restarting in 100 ms");
        assert!(first.is_some(), "{said:#?}");
        assert_eq!(said[first.unwrap() + 1], "restarted the app's Node.js process");
        assert!(said.contains(&"the app's Node.js process crashed (exit code 1); restarting in 3200 ms".to_string()));
        // Each restart prepares the next one's standby, preloading what the live one required.
        assert_eq!(r.fakes.spares.locked().last().unwrap(), &["preload-of-8"]);
        assert_eq!(r.fakes.spares.locked().len(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_30_s_after_the_last_restarts_after_100_ms_again() {
        let mut r = rig().await;
        let unlink = Unlink::default();
        let fakes = r.fakes.clone();
        let crashes = async {
            let mut waits = Vec::new();
            for (n, quiet) in [(1, 0), (2, 0), (3, 31)] {
                tokio::time::sleep(Duration::from_secs(quiet)).await;
                fakes.nth(n).await.crash("killed by signal 9");
                let crashed_at = Clock::now();
                waits.push((fakes.nth(n + 1).await.started_at - crashed_at).as_millis() as u64);
            }
            unlink.request(false);
            waits
        };
        let (_, waits) = tokio::join!(watch_and_supervise(&mut r.linked, &r.session, None, &unlink), crashes);
        assert_eq!(waits, [100, 200, 100]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlink_during_the_backoff_restarts_nothing() {
        let mut r = rig().await;
        let unlink = Unlink::default();
        let fakes = r.fakes.clone();
        let crash_then_unlink = async {
            fakes.nth(1).await.crash("exit code 1");
            tokio::time::sleep(Duration::from_millis(50)).await;
            unlink.request(false);
        };
        let (renamed, ()) =
            tokio::join!(watch_and_supervise(&mut r.linked, &r.session, None, &unlink), crash_then_unlink);
        assert!(!renamed);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(r.fakes.count(), 1, "no process started after the unlink");
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_that_fails_leaves_no_process_until_the_next_save_links_one() {
        let mut r = rig().await;
        r.fakes.then(Next::Fail(diagnostic("greet is not defined")));
        let unlink = Unlink::default();
        let fakes = r.fakes.clone();
        let crash = async {
            fakes.nth(1).await.crash("exit code 1");
            // The restart (after 100 ms) fails; nothing is left to crash, so nothing restarts.
            tokio::time::sleep(Duration::from_secs(60)).await;
            unlink.request(false);
        };
        tokio::join!(watch_and_supervise(&mut r.linked, &r.session, None, &unlink), crash);
        assert_eq!((r.live(), r.fakes.count()), (None, 1));
        let said = r.said();
        assert!(said.contains(&"node/index.ts:1:1: greet is not defined".to_string()), "{said:#?}");
        assert_eq!(said.last().unwrap(), "App build failed. Waiting for changes...");

        assert!(matches!(relink(&mut r.linked, &r.session).await, Relink::Done));
        assert_eq!(r.live(), Some(2), "the save linked a new process");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relink_that_fails_to_start_keeps_the_old_process_serving() {
        let mut r = rig().await;
        let old = r.fakes.nth(1).await;
        r.fakes.then(Next::Fail(diagnostic("Cannot find module 'left-pad'")));
        assert!(matches!(relink(&mut r.linked, &r.session).await, Relink::Done));
        assert_eq!(r.live(), Some(1));
        assert!(old.stops().is_empty() && !old.exited.is_cancelled(), "the old process runs on");
        let said = r.said();
        assert!(said.contains(&"node/index.ts:1:1: Cannot find module 'left-pad'".to_string()), "{said:#?}");
        assert_eq!(said.last().unwrap(), "App build failed. Waiting for changes...");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relink_whose_build_fails_starts_no_process_and_keeps_the_old_one() {
        let mut r = rig().await;
        std::fs::write(r.linked.app.root.join("node/index.ts"), "export default {\n").unwrap();
        assert!(matches!(relink(&mut r.linked, &r.session).await, Relink::Done));
        assert_eq!((r.live(), r.fakes.count()), (Some(1), 1));
        let said = r.said();
        assert!(said.iter().any(|l| l.starts_with("node/index.ts:")), "the build error, positioned: {said:#?}");
        assert_eq!(said.last().unwrap(), "App build failed. Waiting for changes...");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relink_whose_service_lacks_a_declared_handler_stops_the_new_process_and_keeps_the_old() {
        let mut r = rig().await;
        r.fakes.then(Next::Export(vec!["onOther".into()]));
        assert!(matches!(relink(&mut r.linked, &r.session).await, Relink::Done));
        assert_eq!(r.live(), Some(1));
        let refused = r.fakes.nth(2).await;
        assert_eq!(refused.stops().iter().map(|s| s.0).collect::<Vec<_>>(), [Duration::from_millis(200)]);
        let said = r.said();
        let wanted = "event handler `onSave` is not in the Service's `events` (it exports: onOther)";
        assert!(said.iter().any(|l| l.ends_with(wanted)), "{said:#?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relink_switches_to_the_new_process_and_stops_the_old_once_its_work_is_done() {
        let mut r = rig().await;
        // The second version has 2 s of work in flight when the third replaces it.
        r.fakes.then(Next::Busy(Duration::from_secs(2)));
        relink(&mut r.linked, &r.session).await;
        assert_eq!(r.live(), Some(2));
        let first = r.fakes.nth(1).await;
        first.exited.cancelled().await;
        assert_eq!(first.stops().len(), 1, "the replaced process is stopped once");
        assert!(r.said().iter().any(|l| l.starts_with("relinked in ")));

        let second = r.fakes.nth(2).await;
        relink(&mut r.linked, &r.session).await;
        let switched_at = Clock::now();
        assert_eq!(r.live(), Some(3));
        assert!(second.stops().is_empty(), "not stopped while its handlers run");
        second.exited.cancelled().await;
        let (grace, stopped_at) = second.stops()[0];
        assert_eq!(stopped_at - switched_at, Duration::from_secs(2), "stopped when its work was done");
        assert_eq!(second.drained_at.locked().unwrap(), stopped_at);
        assert_eq!(grace, Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_version_that_works_longer_than_the_grace_is_stopped_after_5_s() {
        let mut r = rig().await;
        r.fakes.then(Next::Busy(Duration::from_secs(60)));
        relink(&mut r.linked, &r.session).await;
        let busy = r.fakes.nth(2).await;
        relink(&mut r.linked, &r.session).await;
        let switched_at = Clock::now();
        busy.exited.cancelled().await;
        assert_eq!(busy.stops()[0].1 - switched_at, STOP_GRACE);
    }

    #[tokio::test(start_paused = true)]
    async fn unlink_stops_the_process_gracefully_and_ends_the_standby() {
        let mut r = rig().await;
        let reg = register(&r.session, &r.linked);
        let ended = stop(&mut r.linked, &r.session, reg, false, &CancellationToken::new()).await;
        assert!(matches!(ended, Ended::Unlinked));
        assert_eq!(r.live(), None);
        let process = r.fakes.nth(1).await;
        assert_eq!(process.stops().iter().map(|s| s.0).collect::<Vec<_>>(), [Duration::from_millis(500)]);
        assert_eq!(r.fakes.spares_dropped.load(std::sync::atomic::Ordering::SeqCst), 1);
        let said = r.said();
        assert!(said.contains(&"stopping: waiting for running handlers (Ctrl-C again to force)".to_string()));
        let summary =
            "v.app@1.2.3 unlinked from account acct, workspace dev: 0 deliveries, 0 ok, 0 failed, 0 in flight";
        assert!(said.last().unwrap().starts_with(summary), "{said:#?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_forced_unlink_kills_the_process_without_waiting_for_its_running_handler() {
        let mut r = rig().await;
        let reg = register(&r.session, &r.linked);
        // A handler that would run for ever.
        r.linked.tracker.spawn(std::future::pending::<()>());
        let force = CancellationToken::new();
        force.cancel();
        let t0 = Clock::now();
        stop(&mut r.linked, &r.session, reg, false, &force).await;
        let process = r.fakes.nth(1).await;
        assert_eq!(process.stops().iter().map(|s| s.0).collect::<Vec<_>>(), [Duration::ZERO]);
        assert_eq!(process.stops()[0].1, t0, "killed at once, not after the grace period");
    }
}
