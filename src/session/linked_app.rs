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

use super::bus::{Bus, Counters, SubscriberId};
use super::context::{AppContext as Session, SampleSender, Unlink};
use super::delivery::{Dispatcher, Policy};
use super::routes::Route;
use super::watch as fswatch;
use crate::app::route::Pattern;
use crate::app::{self, App, AppId};
use crate::build::Builder;
use crate::diagnostic::Diagnostic;
use crate::failure::Failure;
use crate::protocol::stream::{ChangeOp, Level, LinkRecord, Output, RelinkPhases};
use crate::protocol::{sample_sender, LinkRequest, Scope};
use crate::runtime::{self, Host, Installed, Outbox, SendEvent, Spec, Worker};
use crate::terminal::Terminal;

/// How long a graceful unlink waits for running handlers.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Bound of each app's delivery queue: publishers wait beyond it.
const QUEUE_BOUND: usize = 1024;
/// How long a relink waits for a standby that is still starting before it starts cold.
const SPARE_WAIT: Duration = Duration::from_secs(5);
/// Bound of each app's `sendEvent` outbox (the host keeps at most 64 unanswered per process).
const OUTBOX_BOUND: usize = 256;
/// How long a forced stop waits for its killed processes' deliveries to be counted, and an
/// unlink for the outbox and platform tasks to end.
const SERVICES_STOP: Duration = Duration::from_secs(2);

/// The linked app's state that relinks replace.
struct Linked {
    app: App,
    builder: Builder,
    spec: Spec,
    runtime: Installed,
    worker: watch::Sender<Option<Arc<Worker>>>,
    policy: watch::Sender<Policy>,
    /// A warm standby Node host for the next relink (filled in the background after each
    /// link), so a relink loads the new build without paying for a process start.
    spare: Arc<tokio::sync::Mutex<Option<Host>>>,
    /// This app's own tasks (dispatcher, deliveries, standby starts): a graceful stop waits
    /// for them.
    tracker: TaskTracker,
    /// The services the app's processes call (the outbox, platform calls): they serve until
    /// the app's last process is gone, then stop.
    services: Services,
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
    let mut linked = match prepare(session, &req.root, terminal).await {
        Ok(l) => l,
        Err(f) => {
            show_failure(terminal, &f, false).await;
            return Ended::Unlinked;
        }
    };
    let watching = start_watching(&linked, req.watch).await;
    let ok = match first_link(&mut linked).await {
        Ok(()) => true,
        Err(f) => {
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
    stop(&mut linked, session, reg, renamed, unlink.force()).await
}

/// `ready in N ms` (from the link command's start), once: when the first version is live.
async fn announce_ready(linked: &mut Linked, session: &Session) {
    if linked.ready {
        return;
    }
    linked.ready = true;
    let elapsed_ms = linked.started_at.elapsed().map_or(0, |d| d.as_millis() as u64);
    let scope = session.scope();
    let ready = LinkRecord::Ready {
        app: linked.spec.full_id.clone(),
        account: scope.account.clone(),
        workspace: scope.workspace.clone(),
        url: session.url().to_string(),
        elapsed_ms,
        linked: true,
    };
    linked.terminal.record(None, format!("ready in {elapsed_ms} ms"), ready).await;
    tracing::info!(app = linked.spec.full_id, elapsed_ms, "app ready");
    // As installing an app in a workspace does on VTEX: `apps` fires `setup` to it.
    let wants_setup = linked.app.service.events.values().any(|s| s.matches("apps", "setup"));
    if wants_setup {
        let bus = session.bus().clone();
        let (scope, app) = (session.scope().clone(), linked.spec.full_id.clone());
        linked.tracker.spawn(async move { bus.publish_to(&scope, &app, "apps", "setup", json!({})).await });
    }
}

/// Reads the app and sets up what every version of it shares.
async fn prepare(session: &Session, root: &std::path::Path, terminal: &Terminal) -> Result<Linked, Failure> {
    let app = App::load(root)?;
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
    let services = Services::default();
    let outbox = start_outbox(&services, session.bus().clone(), session.scope().clone());
    let boundary = session.boundary(app.manifest.app_id().to_string(), terminal.clone());
    let platform = super::platform::start(&services.tracker, services.stop.clone(), session.store().clone(), boundary);
    let (policy, _) = Policy::from_client_options(&json!({}), app.service.timeout);
    Ok(Linked {
        builder: Builder::new(&app.root, &build_dir(session, &app.root)),
        policy: watch::channel(policy).0,
        spec: spec_for(&app, session, &runtime, outbox, platform),
        store: session.store().clone(),
        recorded_schema: Default::default(),
        app,
        runtime,
        worker: watch::channel(None).0,
        spare: Arc::default(),
        tracker: TaskTracker::new(),
        services,
        terminal: terminal.clone(),
        subscriber: None,
        started_at: SystemTime::now(),
        ready: false,
    })
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
async fn first_link(linked: &mut Linked) -> Result<(), Failure> {
    let mut phases = Phases::start();
    let worker = link_once(linked, &mut phases).await?;
    tracing::debug!(
        app = linked.spec.full_id,
        build_ms = phases.build,
        load_ms = phases.load,
        require_ms = worker.loaded.timings.require_ms,
        runtime_modules = worker.loaded.timings.runtime_modules,
        cached_modules = worker.loaded.timings.cached_modules,
        "first version built and loaded"
    );
    apply_policy(linked, &worker.loaded.client_options, false).await;
    linked.worker.send_replace(Some(Arc::new(worker)));
    Ok(())
}

/// Subscribes the app's handlers, serves its routes and starts its dispatcher.
fn register(session: &Session, linked: &Linked) -> Registration {
    let full_id = &linked.spec.full_id;
    let (queue, queue_rx) = mpsc::channel(QUEUE_BOUND);
    session.set_routes(full_id, route_table(&linked.app, &linked.spec.id, session.scope(), &linked.worker));
    let (subscriber, counters) =
        session.bus().subscribe(session.scope().clone(), full_id, subscriptions(&linked.app), queue.clone());
    let stop_deliveries = CancellationToken::new();
    let dispatcher = Dispatcher {
        scope: session.scope().clone(),
        app: full_id.clone(),
        bus: session.bus().clone(),
        terminal: linked.terminal.clone(),
        policy: linked.policy.subscribe(),
        worker: linked.worker.subscribe(),
        dead: session.dead_letters().clone(),
        tracker: linked.tracker.clone(),
        stop: stop_deliveries.clone(),
    };
    linked.tracker.spawn(dispatcher.run(queue_rx));
    Registration { subscriber, counters, queue, stop_deliveries }
}

/// Starts watching the app folder (before the first build, so that a save made while it
/// builds, or right after it failed, is not missed).
async fn start_watching(
    linked: &Linked,
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
    linked: &mut Linked,
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
            Some(batch) = changes.recv() => {
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
                tracing::warn!(app = linked.spec.full_id, reason, wait_ms = wait.as_millis() as u64, "app crashed");
                linked.terminal.status(Level::Error, format!(
                    "the app's Node.js process crashed ({reason}); restarting in {} ms", wait.as_millis()
                )).await;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = unlink.requested() => return false,
                }
                restart(linked).await;
            }
        }
    }
}

/// Restart backoff after crashes: 100 ms doubling to 3.2 s while crashes come within 30 s.
#[derive(Default)]
struct Crashes {
    count: u32,
    last: Option<Instant>,
}

impl Crashes {
    fn next_wait(&mut self) -> Duration {
        let recent = self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(30));
        self.count = if recent { self.count + 1 } else { 1 };
        self.last = Some(Instant::now());
        Duration::from_millis(100 * 2u64.pow(self.count.min(6) - 1))
    }
}

async fn restart(linked: &mut Linked) {
    match start_worker(linked).await {
        Ok(worker) => {
            linked.worker.send_replace(Some(Arc::new(worker)));
            tracing::info!(app = linked.spec.full_id, "app restarted");
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
    linked: &mut Linked,
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
    session.set_routes(&linked.spec.full_id, Vec::new());
    drop(reg.queue);
    reg.stop_deliveries.cancel();
    linked.tracker.close();
    let forced = tokio::select! {
        done = tokio::time::timeout(STOP_GRACE, linked.tracker.wait()) => {
            if done.is_err() {
                let tasks = linked.tracker.len();
                tracing::warn!(app = linked.spec.full_id, tasks, "stop: running handlers did not finish within the {STOP_GRACE:?} grace period");
            }
            false
        }
        _ = force.cancelled() => true,
    };
    let grace = if forced { Duration::ZERO } else { Duration::from_millis(500) };
    if let Some(w) = linked.worker.send_replace(None) {
        w.stop(grace).await;
    }
    drop(linked.spare.lock().await.take());
    if forced {
        // The killed process's attempts fail; let the dispatcher count them before the summary.
        let _ = tokio::time::timeout(SERVICES_STOP, linked.tracker.wait()).await;
        tracing::info!(app = linked.spec.full_id, "forced stop: the app's Node processes ended");
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
        linked.spec.full_id, mine.deliveries, mine.delivered, mine.failed, mine.in_flight, all.published
    );
    terminal.record(None, line, LinkRecord::Stopped { app: mine, counts: all }).await;
    Ended::Unlinked
}

impl Linked {
    /// Starts a standby host in the background, unless one is ready. It preloads the packages
    /// the live version required; one whose dependencies changed on disk since is replaced.
    fn prepare_spare(&self) {
        // Taken here, not in the task: a relink right after this waits for this standby.
        let Ok(mut held) = self.spare.clone().try_lock_owned() else {
            return; // one is being prepared
        };
        let (spec, installed, terminal) = (self.spec.clone(), self.runtime.clone(), self.terminal.clone());
        let files = match self.worker.borrow().as_ref() {
            Some(w) => w.loaded.preload.clone(),
            // No version has loaded yet (the first build failed): what the runtime knows it needs.
            None => self.runtime.parts_for(!self.app.service.routes.is_empty(), has_graphql(&self.app)),
        };
        self.tracker.spawn(async move {
            let deps = runtime::DepsState::read(&spec.node_dir);
            if held.as_mut().is_some_and(|h| h.alive() && h.deps_current(&deps)) {
                return;
            }
            let preload = runtime::Preload { files, deps };
            // A failed standby is not worth reporting: the next relink starts cold and says why.
            *held = Host::spawn(&spec, &installed, &terminal, Some(&preload)).await.ok();
        });
    }
}

/// Applies the policy the app's Service declares (a relink may change it: the dispatcher
/// then resizes its limit), warning about options clamped into range. With `announce`, a
/// policy that changed (or the first one that loaded, after failed builds) is printed.
async fn apply_policy(linked: &Linked, client_options: &serde_json::Value, announce: bool) {
    let (policy, warnings) = Policy::from_client_options(client_options, linked.app.service.timeout);
    for w in warnings {
        linked.terminal.status(Level::Warn, format!("delivery policy: {w}")).await;
    }
    let news = *linked.policy.borrow() != policy || linked.worker.borrow().is_none();
    if announce && news && !linked.app.service.events.is_empty() {
        let line = format!("delivery policy for {}: {}", linked.spec.app_id, policy.describe());
        linked.terminal.info(line).await;
    }
    linked.policy.send_replace(policy);
}

/// Where the app's build goes in this session's account/workspace.
fn build_dir(session: &Session, app_root: &std::path::Path) -> std::path::PathBuf {
    let scope = session.scope();
    crate::layout::build_dir(&session.place().home, &scope.account, &scope.workspace, app_root)
}

fn spec_for(app: &App, session: &Session, runtime: &Installed, outbox: Outbox, platform: runtime::Platform) -> Spec {
    let id = app.manifest.app_id();
    Spec {
        node: session.place().node.clone(),
        app_root: app.root.clone(),
        runtime_dir: runtime.dir().to_path_buf(),
        node_dir: app.node_dir(),
        app_id: id.without_version().to_string(),
        full_id: id.to_string(),
        id,
        scope: session.scope().clone(),
        sockets: session.place().sockets.clone(),
        entry: app.node_dir().join("index.ts"),
        build_dir: build_dir(session, &app.root),
        outbox,
        session: (session.url().to_string(), session.host_token().to_string()),
        platform,
    }
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
fn route_table(app: &App, app_id: &AppId, scope: &Scope, worker: &watch::Sender<Option<Arc<Worker>>>) -> Vec<Route> {
    let timeout = Duration::from_secs(app.service.timeout.unwrap_or(10).into());
    // Served on the app's private domain only (the session's lookup keeps it off the store's).
    let graphql = has_graphql(app).then(|| graphql_path(app, scope)).flatten().and_then(|path| {
        Some(Route {
            app: app_id.clone(),
            pattern: Pattern::parse("/_v/graphql").ok()?,
            id: path,
            public: false,
            timeout,
            worker: worker.subscribe(),
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
                worker: worker.subscribe(),
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
async fn link_once(linked: &mut Linked, phases: &mut Phases) -> Result<Worker, Failure> {
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

async fn start_worker(linked: &Linked) -> Result<Worker, Failure> {
    // A warm standby when one is ready, else (or if it turns out dead) a cold start.
    // A standby still starting is worth waiting for: it began before this save, so it is
    // ready sooner than a cold start would be. One whose preloaded dependencies changed on
    // disk (npm install) is dropped.
    let deps = runtime::DepsState::read(&linked.spec.node_dir);
    let spare = match tokio::time::timeout(SPARE_WAIT, linked.spare.lock()).await {
        Ok(mut slot) => slot.take().filter(|h| h.deps_current(&deps)),
        Err(_) => None,
    };
    let (spec, terminal) = (&linked.spec, linked.terminal.clone());
    let worker = match spare {
        Some(host) => match host.load(spec, terminal.clone()).await {
            Err(Failure::Internal(_)) => Worker::start(spec, &linked.runtime, terminal).await,
            done => done,
        },
        None => Worker::start(spec, &linked.runtime, terminal).await,
    }?;
    let problems = declaration_problems(&linked.app, &worker);
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
fn declaration_problems(app: &App, worker: &Worker) -> Vec<Diagnostic> {
    let exported = &worker.loaded.events;
    let have = if exported.is_empty() { "none".to_string() } else { exported.join(", ") };
    let mut problems: Vec<Diagnostic> = app
        .service
        .events
        .keys()
        .filter(|id| !exported.contains(id))
        .map(|id| match worker.loaded.bad_events.get(id.as_str()) {
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
    for id in worker.loaded.route_ids.iter().filter(|id| !app.service.routes.contains_key(*id)) {
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
async fn relink(linked: &mut Linked, session: &Session) -> Relink {
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
        Ok(worker) => switch_to(linked, session, worker, phases).await,
        Err(f) => {
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
async fn switch_to(linked: &mut Linked, session: &Session, worker: Worker, mut phases: Phases) {
    let load_timings = worker.loaded.timings.clone();
    apply_policy(linked, &worker.loaded.client_options, true).await;
    let full_id = linked.spec.full_id.clone();
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

async fn banner(linked: &Linked, session: &Session) {
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
    let served = linked.worker.borrow().as_ref().map(|w| w.loaded.route_ids.clone());
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
        terminal.info(format!("delivery policy for {}: {policy}", linked.spec.app_id)).await;
    }
    graphql_banner(linked, session).await;
    terminal.info(format!("session {url} (token in {})", session.place().record.display())).await;
    sender_banner(linked, session).await;
}

/// The GraphQL endpoint (private: the token) and the IDE's one-time login URL.
async fn graphql_banner(linked: &Linked, session: &Session) {
    if !has_graphql(&linked.app) {
        return;
    }
    let url = session.url();
    let Some(path) = graphql_path(&linked.app, session.scope()) else { return };
    let serving = linked.worker.borrow().as_ref().is_some_and(|w| w.loaded.graphql);
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

async fn sender_banner(linked: &Linked, session: &Session) {
    let sender = session.sample_sender();
    if sender == SampleSender::Off {
        return;
    }
    if linked.spec.app_id == sample_sender::APP_ID {
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
        crashes.last = Some(Instant::now() - Duration::from_secs(31));
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
}
