//! The state of one link session behind methods (mini-redis `Db` style): the linked apps,
//! the bus, the routes, the dead letters and the sample sender's switches. Linking,
//! unlinking, route lookup, publishing, replaying and "the set of apps changed" keep their
//! invariants here; the server and each linked app only call these methods.

use crate::lock::Locked;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bus::{Activity, Bus};
use super::context::{AppContext, Parts, Place, SampleSender, Unlink};
use super::delivery::DeadLetters;
use super::routes::{self, Route};
use super::sender::SenderSwitch;
use crate::protocol::record::{self, SessionRecord};
use crate::protocol::stream::Output;
use crate::protocol::{
    sample_sender, Counts, DeadLetter, ErrorBody, ErrorCode, LinkRequest, PublishRequest, PublishResponse,
    ReplayRequest, ReplayResponse, Replayed, Scope, RATE_RANGE,
};
use crate::terminal::Terminal;

/// The workspace's platform settings (its defaults when nothing was ever stored: no database
/// is created to find that out).
fn platform_settings(
    store: &crate::store::Store,
    account: &str,
) -> crate::store::Result<crate::store::platform::Settings> {
    match store.workspace_if_stored()? {
        Some(db) => crate::store::platform::effective(&crate::store::lock(&db), account),
        None => Ok(crate::store::platform::Settings::defaults(account)),
    }
}

/// Where a session runs and what it was started with.
pub struct Setup {
    pub place: Place,
    pub sample_sender: bool,
    /// The team workspace joined (`--cluster`), if any.
    pub cluster: Option<Arc<super::cluster::Cluster>>,
}

/// One app linked into the session.
struct LinkedApp {
    root: PathBuf,
    id: Option<String>,
    terminal: Terminal,
    unlink: Unlink,
}

#[derive(Default)]
struct Apps {
    next_id: u64,
    linked: HashMap<u64, LinkedApp>,
    /// Set when the last app left (or none came): no new app may join this session.
    closing: bool,
}

/// A link the session accepted: its id, its output, and the token that unlinks it.
pub struct Accepted {
    pub id: u64,
    pub output: mpsc::Receiver<Output>,
    pub unlink: Unlink,
}

pub struct Session {
    /// When the session started (RFC 3339), for its record.
    started: String,
    /// `None` with `--no-sample-sender`.
    switch: Option<SenderSwitch>,
    /// Set while the real vtex.events-example app is linked: the sample sender then stays quiet.
    sender_muted: Arc<AtomicBool>,
    bus: Arc<Bus>,
    dead: Arc<DeadLetters>,
    routes: Arc<routes::Table>,
    ide: Arc<super::ide::Ide>,
    /// Where the session runs, as its apps see it.
    place: Arc<Place>,
    tracker: TaskTracker,
    /// Cancelled when the session ends: every task of the session listens to it.
    shutdown: CancellationToken,
    apps: Mutex<Apps>,
    /// App settings, VBase and Master Data of the session's scope.
    store: Arc<crate::store::Store>,
    /// The way into the apps' routes (the server's requests and the apps' calls to each other).
    gateway: super::gateway::Gateway,
    /// The session's users and the workspace's platform settings they are made of.
    identity: Arc<super::identity::Identity>,
    /// Every app's outbound calls, for `ioctl calls tail`.
    calls: Arc<super::boundary::calls::Feed>,
    /// The publishes running now (`ioctl events send`), by job id.
    publishing: Jobs,
    /// The bounded history the dashboard reads (the bus, the gateway, the calls feed and the
    /// linked apps feed it).
    journal: Arc<super::dashboard::journal::Journal>,
    /// The team workspace this session joined (`--cluster`); `None`: this machine alone.
    cluster: Option<Arc<super::cluster::Cluster>>,
}

/// A publish running in the session: its id, its progress, its answer when it ends.
pub struct PublishJob {
    pub id: u64,
    pub progress: Arc<PublishProgress>,
    pub done: tokio::sync::oneshot::Receiver<PublishResponse>,
    /// Cancelled to stop the publishing between two events.
    pub stop: CancellationToken,
}

/// How far a publish has got.
#[derive(Default)]
pub struct PublishProgress {
    published: AtomicU64,
    deliveries: AtomicU64,
}

impl PublishProgress {
    /// (published, deliveries) so far.
    pub fn get(&self) -> (u64, u64) {
        (self.published.load(Ordering::Relaxed), self.deliveries.load(Ordering::Relaxed))
    }
}

/// The running publishes' stop signals, by job id.
#[derive(Default)]
struct Jobs {
    next: AtomicU64,
    running: Mutex<HashMap<u64, CancellationToken>>,
}

impl Jobs {
    fn start(&self, stop: CancellationToken) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.running.locked().insert(id, stop);
        id
    }

    fn end(&self, id: u64) {
        self.running.locked().remove(&id);
    }

    fn stop(&self, id: u64) -> bool {
        self.running.locked().get(&id).map(CancellationToken::cancel).is_some()
    }
}

impl Session {
    /// A session of `setup`'s scope; its users get fresh tokens, and the workspace's platform
    /// settings are read now (a quick read, before anything is served), when it has any.
    pub fn new(setup: Setup) -> anyhow::Result<Arc<Session>> {
        let p = &setup.place;
        let location = crate::store::Location::from_env(&p.home, &p.scope.account, &p.scope.workspace)?;
        let shared = location.database.is_some();
        let store = Arc::new(crate::store::Store::new(location));
        if shared {
            // A team's database that cannot be reached is said now, not at the app's first call.
            store.workspace().map_err(|e| anyhow::anyhow!(e.message))?;
        }
        let settings = platform_settings(&store, &p.scope.account).unwrap_or_else(|e| {
            tracing::warn!(error = e.message, "cannot read the workspace's platform settings: using the defaults");
            crate::store::platform::Settings::defaults(&p.scope.account)
        });
        let identity = Arc::new(
            super::identity::Identity::new(p.scope.clone(), p.token.clone(), settings)
                .map_err(|e| anyhow::anyhow!("cannot make the session's local users' tokens: {e:#}"))?,
        );
        let routes: Arc<routes::Table> = Arc::default();
        let journal: Arc<super::dashboard::journal::Journal> = Arc::default();
        let gateway =
            super::gateway::Gateway::new(p.scope.clone(), routes.clone(), Default::default(), identity.clone())
                .with_journal(journal.clone())
                .with_team(setup.cluster.clone());
        Ok(Arc::new(Session {
            started: chrono::Utc::now().to_rfc3339(),
            switch: setup.sample_sender.then(SenderSwitch::new),
            place: Arc::new(setup.place),
            sender_muted: Arc::default(),
            gateway,
            identity,
            calls: Arc::new(super::boundary::calls::Feed::new(journal.clone())),
            bus: Bus::with_journal(journal.clone()),
            dead: Arc::default(),
            routes,
            ide: Arc::default(),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            apps: Mutex::default(),
            publishing: Jobs::default(),
            store,
            journal,
            cluster: setup.cluster,
        }))
    }

    pub fn scope(&self) -> &Scope {
        &self.place.scope
    }

    /// The way into the linked apps' routes.
    pub fn gateway(&self) -> &super::gateway::Gateway {
        &self.gateway
    }

    /// The session's users (admin, shopper) and the platform settings they are made of.
    pub fn identity(&self) -> &super::identity::Identity {
        &self.identity
    }

    /// What happened in the session, bounded (the dashboard's history).
    pub fn journal(&self) -> &super::dashboard::journal::Journal {
        &self.journal
    }

    /// App settings, VBase and Master Data of the session's scope (what the CLI and the apps use).
    pub fn store(&self) -> &Arc<crate::store::Store> {
        &self.store
    }

    /// The apps' outbound calls, as they cross the boundary.
    pub fn calls(&self) -> &super::boundary::calls::Feed {
        &self.calls
    }

    /// Reads the workspace's platform settings again (they were changed on disk) and rebuilds
    /// the users' data from them; answers them, key → value.
    pub async fn reload_platform(&self) -> Result<crate::protocol::PlatformSettings, ErrorBody> {
        let (store, account) = (self.store.clone(), self.scope().account.clone());
        let read = tokio::task::spawn_blocking(move || platform_settings(&store, &account)).await;
        let settings = match read {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(ErrorBody { code: ErrorCode::BadRequest, error: e.message }),
            Err(e) => return Err(ErrorBody { code: ErrorCode::BadRequest, error: e.to_string() }),
        };
        let pairs = settings.pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self.identity.set_settings(settings);
        tracing::info!("platform settings reloaded");
        Ok(pairs)
    }

    pub fn url(&self) -> &str {
        &self.place.url
    }

    /// Whether `token` is this session's.
    pub fn token_is(&self, token: &str) -> bool {
        super::ide::same_secret(token, &self.place.token)
    }

    /// Whether `login` is an unused IDE login; it is used up by this call.
    pub fn take_ide_login(&self, login: &str) -> bool {
        self.ide.take(login)
    }

    /// The GraphQL IDE's state (logins, its packages).
    pub fn ide(&self) -> &super::ide::Ide {
        &self.ide
    }

    /// The linked apps' GraphQL endpoints.
    pub fn graphql_apps(&self) -> Vec<crate::protocol::GraphqlApp> {
        self.routes.graphql_apps()
    }

    pub fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// The team workspace this session joined, if any.
    pub fn cluster(&self) -> Option<&Arc<super::cluster::Cluster>> {
        self.cluster.as_ref()
    }

    /// The team workspace this session joined, with its machines now (`None`: this machine
    /// alone). This machine is in it with its counts of now, though its presence is older.
    pub async fn team(&self) -> Option<crate::protocol::cluster::Team> {
        let cluster = self.cluster.as_ref()?;
        // Bounded: a server that is away does not hold `ioctl status` up.
        let read = tokio::time::timeout(std::time::Duration::from_secs(2), cluster.machines()).await;
        let mut machines = match read {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the team workspace's machines");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("the team workspace's machines did not come within 2 s");
                Vec::new()
            }
        };
        machines.retain(|m| m.machine != cluster.machine());
        machines.push(crate::protocol::cluster::Presence {
            version: crate::protocol::cluster::VERSION,
            machine: cluster.machine().to_string(),
            url: self.place.url.clone(),
            apps: self.record().apps,
            counts: self.counts(),
            updated: chrono::Utc::now().to_rfc3339(),
        });
        machines.sort_by(|a, b| a.machine.cmp(&b.machine));
        Some(crate::protocol::cluster::Team::new(cluster.server().to_string(), cluster.machine().to_string(), machines))
    }

    pub fn dead_letters(&self) -> &Arc<DeadLetters> {
        &self.dead
    }

    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// The sample sender's switch, when the session has one.
    pub fn sender_switch(&self) -> Option<&SenderSwitch> {
        self.switch.as_ref()
    }

    /// Whether the sample sender stays quiet (the real events-example app is linked).
    pub fn sender_muted(&self) -> Arc<AtomicBool> {
        self.sender_muted.clone()
    }

    pub fn counts(&self) -> Counts {
        self.bus.counts()
    }

    /// Everything that happens on the bus of this session's scope, for a tail.
    pub fn watch(&self) -> broadcast::Receiver<Activity> {
        self.bus.watch()
    }

    /// The session's record, as written under `$IOCTL_HOME/sessions/`.
    pub fn record(&self) -> SessionRecord {
        let apps = self.apps.locked();
        let mut ids: Vec<String> = apps.linked.values().filter_map(|a| a.id.clone()).collect();
        ids.sort();
        SessionRecord {
            protocol: crate::protocol::VERSION,
            url: self.place.url.clone(),
            pid: std::process::id(),
            token: self.place.token.clone(),
            account: self.place.scope.account.clone(),
            workspace: self.place.scope.workspace.clone(),
            apps: ids,
            started: self.started.clone(),
        }
    }

    /// What a linked app may do to this session (see [`AppContext`]).
    fn app_context(self: &Arc<Self>, link: u64) -> AppContext {
        let (muted, on) = (self.sender_muted.clone(), self.switch.is_some());
        let me = Arc::downgrade(self);
        AppContext::new(Parts {
            place: self.place.clone(),
            bus: self.bus.clone(),
            dead: self.dead.clone(),
            store: self.store.clone(),
            routes: self.routes.clone(),
            gateway: self.gateway.clone(),
            calls: self.calls.clone(),
            ide: self.ide.clone(),
            journal: self.journal.clone(),
            cluster: self.cluster.clone(),
            link,
            sample_sender: Arc::new(move || match (on, muted.load(Ordering::Relaxed)) {
                (false, _) => SampleSender::Off,
                (true, false) => SampleSender::On,
                (true, true) => SampleSender::Muted,
            }),
            renamed: Arc::new(move |root: &Path| {
                if let Some(session) = me.upgrade() {
                    session.renamed(root);
                }
            }),
        })
    }

    /// Links an app (asked by a link command): `run` keeps it linked with its own
    /// [`AppContext`] until its [`Unlink`] is requested; its output arrives on the returned
    /// receiver. The session counts the link gone when `run` ends.
    pub fn link<F, Fut>(self: &Arc<Self>, req: LinkRequest, run: F) -> Result<Accepted, ErrorBody>
    where
        F: FnOnce(AppContext, LinkRequest, Terminal, Unlink) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let id = crate::app::App::load(&req.root).ok().map(|a| a.manifest.app_id().to_string());
        let (terminal, output) = Terminal::channel();
        let unlink = Unlink::default();
        let link_id = {
            let mut apps = self.apps.locked();
            if apps.closing {
                return Err(ErrorBody {
                    code: ErrorCode::SessionEnding,
                    error: "this link session is ending; link again".into(),
                });
            }
            if let Some(other) = apps.linked.values().find(|a| a.root == req.root || (id.is_some() && a.id == id)) {
                return Err(ErrorBody {
                    code: ErrorCode::AlreadyLinked,
                    error: format!(
                        "{} is already linked in {} (from {}); stop that link first",
                        other.id.as_deref().unwrap_or("this app"),
                        self.scope(),
                        other.root.display()
                    ),
                });
            }
            apps.next_id += 1;
            let link_id = apps.next_id;
            let app = LinkedApp { root: req.root.clone(), id, terminal: terminal.clone(), unlink: unlink.clone() };
            apps.linked.insert(link_id, app);
            link_id
        };
        tracing::info!(link = link_id, root = %req.root.display(), "app linked");
        self.apps_changed();
        let me = self.clone();
        let running = run(self.app_context(link_id), req, terminal, unlink.clone());
        self.tracker.spawn(async move {
            running.await;
            me.unlinked(link_id);
        });
        Ok(Accepted { id: link_id, output, unlink })
    }

    /// The app at `root` now has another id (its manifest.json changed).
    fn renamed(&self, root: &Path) {
        let id = crate::app::App::load(root).ok().map(|a| a.manifest.app_id().to_string());
        if let Some(app) = self.apps.locked().linked.values_mut().find(|a| a.root == root) {
            tracing::info!(root = %root.display(), id = ?id, "app renamed");
            app.id = id;
        }
        self.apps_changed();
    }

    /// Asks a linked app to unlink (gracefully, or with `force` at once); false if there is
    /// no such link.
    pub fn unlink(&self, link_id: u64, force: bool) -> bool {
        match self.apps.locked().linked.get(&link_id) {
            Some(app) => {
                app.unlink.request(force);
                true
            }
            None => false,
        }
    }

    fn unlinked(&self, link_id: u64) {
        let last = {
            let mut apps = self.apps.locked();
            apps.linked.remove(&link_id);
            apps.closing = apps.linked.is_empty();
            apps.closing
        };
        tracing::info!(link = link_id, last, "app unlinked");
        self.journal.app_gone(link_id);
        if last {
            self.shutdown.cancel();
        } else {
            self.apps_changed();
        }
    }

    /// Closes the session to new apps when none ever came; true if it is now closing.
    pub fn close_if_unused(&self) -> bool {
        let mut apps = self.apps.locked();
        apps.closing |= apps.linked.is_empty() && apps.next_id == 0;
        apps.closing
    }

    /// Closes the session to new apps and asks every linked app to unlink.
    pub fn unlink_all(&self) {
        let mut apps = self.apps.locked();
        apps.closing = true;
        for app in apps.linked.values() {
            app.unlink.request(false);
        }
    }

    pub fn has_apps(&self) -> bool {
        !self.apps.locked().linked.is_empty()
    }

    /// The set of linked apps changed: rewrite the record, mute or unmute the sample sender.
    fn apps_changed(&self) {
        let real_sender = {
            let apps = self.apps.locked();
            apps.linked
                .values()
                .filter_map(|a| crate::app::AppId::parse(a.id.as_deref()?).ok())
                .any(|id| id.without_version() == sample_sender::APP_ID)
        };
        self.sender_muted.store(real_sender, Ordering::Relaxed);
        self.journal.apps_changed();
        // The record was written at start; keeping its app list current is best effort.
        if let Err(e) = record::write(&self.place.home, &self.record()) {
            tracing::warn!("cannot rewrite the session record: {e:#}");
        }
    }

    /// Shows session-level output (the sample sender's) in every linked app's terminal.
    pub async fn announce(&self, msg: Output) {
        let terminals: Vec<Terminal> = self.apps.locked().linked.values().map(|a| a.terminal.clone()).collect();
        for t in terminals {
            t.send(msg.clone()).await;
        }
    }

    /// The route a request path is for (its local form, without the `/{account}/{workspace}`
    /// prefix), with its params.
    pub fn route(&self, path: &str) -> Option<(Route, BTreeMap<String, String>)> {
        self.routes.lookup(path)
    }

    /// Starts publishing a manual event (`repeat` times, paced at `rate`) in a task of the
    /// session; each publish waits for room in full queues, so a big repeat is paced by the
    /// handlers. The job ends after `repeat` events, or between two events when it is stopped
    /// ([`PublishJob::stop`], [`Session::stop_publish`], the session ending).
    pub fn start_publish(self: &Arc<Self>, p: PublishRequest) -> Result<PublishJob, ErrorBody> {
        let bad = |error: String| ErrorBody { code: ErrorCode::BadRequest, error };
        if p.key.is_empty() {
            return Err(bad("an event needs a key".into()));
        }
        let repeat = p.repeat.unwrap_or(1).max(1);
        let mut pace = match p.rate {
            None => None,
            Some(r) if r.is_finite() && RATE_RANGE.contains(&r) => {
                let mut t = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / r));
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                Some(t)
            }
            Some(r) => {
                let (lo, hi) = (RATE_RANGE.start(), RATE_RANGE.end());
                return Err(bad(format!("rate {r} is out of range: give {lo} to {hi} events per second")));
            }
        };
        let stop = self.shutdown.child_token();
        let id = self.publishing.start(stop.clone());
        let progress = Arc::new(PublishProgress::default());
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let (me, counts) = (self.clone(), progress.clone());
        let stopping = stop.clone();
        self.tracker.spawn(async move {
            let mut first = None;
            for _ in 0..repeat {
                if let Some(t) = pace.as_mut() {
                    tokio::select! {
                        _ = t.tick() => {}
                        _ = stopping.cancelled() => break,
                    }
                }
                if stopping.is_cancelled() {
                    break;
                }
                // Not raced against `stopping`: an event is published whole.
                let (event, n) = me.bus.publish(me.scope(), &p.sender, &p.key, &p.subject, p.body.clone()).await;
                first.get_or_insert(event.id.clone());
                counts.deliveries.fetch_add(n as u64, Ordering::Relaxed);
                counts.published.fetch_add(1, Ordering::Relaxed);
            }
            me.publishing.end(id);
            let (published, deliveries) = counts.get();
            let stopped = published < repeat;
            if stopped {
                tracing::info!(job = id, published, repeat, "publish stopped");
            }
            let team = me.cluster.is_some();
            let _ = done_tx.send(PublishResponse { id: first, deliveries, published, stopped, team });
        });
        Ok(PublishJob { id, progress, done, stop })
    }

    /// Stops a running publish between two events; false if there is no such job (any more).
    pub fn stop_publish(&self, job: u64) -> bool {
        self.publishing.stop(job)
    }

    /// Delivers dead letters again (to the handler that failed them); a new failure puts them back.
    pub async fn replay(&self, r: &ReplayRequest) -> Result<ReplayResponse, ErrorBody> {
        if r.event_id.is_none() && !r.all {
            return Err(ErrorBody {
                code: ErrorCode::BadRequest,
                error: "name an event id or ask for all failed events".into(),
            });
        }
        if let Some(cluster) = self.cluster() {
            return self.replay_in_workspace(cluster, r).await;
        }
        let letters = self.dead.take(r.event_id.as_deref());
        if letters.is_empty() {
            let what =
                r.event_id.clone().map_or("no failed events".to_string(), |id| format!("no failed event with id {id}"));
            return Err(ErrorBody { code: ErrorCode::NotFound, error: what });
        }
        Ok(self.redeliver_letters(letters).await)
    }

    /// A team workspace's replay: every machine's letters (of one event, or all) sent again
    /// to the workspace, each for its app and handler only; this machine's copies go.
    async fn replay_in_workspace(
        &self,
        cluster: &super::cluster::Cluster,
        r: &ReplayRequest,
    ) -> Result<ReplayResponse, ErrorBody> {
        let all = cluster.dead_letters().await.map_err(|e| ErrorBody {
            code: ErrorCode::Internal,
            error: format!("{e:#}: the team workspace's failed events cannot be read now"),
        })?;
        let letters: Vec<_> =
            all.into_iter().filter(|l| r.event_id.as_deref().is_none_or(|id| l.event.id == id)).collect();
        if letters.is_empty() {
            let what = r.event_id.clone().map_or("no failed events in the team workspace".to_string(), |id| {
                format!("no failed event with id {id} in the team workspace")
            });
            return Err(ErrorBody { code: ErrorCode::NotFound, error: what });
        }
        let mut replayed = Vec::new();
        for letter in cluster.replay(letters).await {
            self.dead.take_of(Some(&letter.app), Some(&letter.event.id));
            replayed.push(Replayed {
                event_id: letter.event.id.clone(),
                app: letter.app.clone(),
                handler: letter.handler.clone(),
            });
        }
        Ok(ReplayResponse { replayed })
    }

    /// Delivers one app's dead letters again (one event's, with `event_id`).
    pub async fn replay_app(&self, app: &str, event_id: Option<&str>) -> Result<ReplayResponse, ErrorBody> {
        let letters = self.dead.take_of(Some(app), event_id);
        if letters.is_empty() {
            let of = event_id.map_or(String::new(), |id| format!(" with id {id}"));
            return Err(ErrorBody { code: ErrorCode::NotFound, error: format!("no failed event{of} of {app}") });
        }
        Ok(self.redeliver_letters(letters).await)
    }

    /// Delivers `letters` again; those whose app is not linked now stay for a later replay.
    async fn redeliver_letters(&self, letters: Vec<Arc<DeadLetter>>) -> ReplayResponse {
        let mut replayed = Vec::new();
        for letter in letters {
            match self.bus.redeliver(&letter.app, letter.event.clone(), &letter.handler).await {
                Ok(()) => replayed.push(Replayed {
                    event_id: letter.event.id.clone(),
                    app: letter.app.clone(),
                    handler: letter.handler.clone(),
                }),
                // The app is not linked now: the letter stays for a later replay.
                Err(_) => self.dead.push(DeadLetter::clone(&letter)),
            }
        }
        ReplayResponse { replayed }
    }

    /// Delivers a journaled event again, the same event to each handler it went to.
    /// Handlers whose app is not linked now are left out of the answer.
    pub async fn redeliver_journaled(&self, event_id: &str) -> Result<ReplayResponse, ErrorBody> {
        let not_found = |error| Err(ErrorBody { code: ErrorCode::NotFound, error });
        let Some((event, targets)) = self.journal.deliveries_of(event_id) else {
            let kept = super::dashboard::journal::EVENTS;
            return not_found(format!("no event {event_id} in the session's journal (it keeps the newest {kept})"));
        };
        if targets.is_empty() {
            return not_found(format!("event {event_id} matched no handler: there is nothing to deliver again"));
        }
        let mut replayed = Vec::new();
        for (app, handler) in targets {
            if self.bus.redeliver(&app, event.clone(), &handler).await.is_ok() {
                replayed.push(Replayed {
                    event_id: event.id.clone(),
                    app: app.to_string(),
                    handler: handler.to_string(),
                });
            }
        }
        Ok(ReplayResponse { replayed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(home: &tempfile::TempDir) -> Arc<Session> {
        let scope = Scope { account: "local".into(), workspace: "dev".into() };
        let place = Place {
            record: record::path(home.path(), &scope),
            scope,
            url: "http://127.0.0.1:1".into(),
            token: "t0k".into(),
            home: home.path().to_path_buf(),
            node: "node".into(),
            sockets: home.path().join("run"),
        };
        Session::new(Setup { place, sample_sender: false, cluster: None }).unwrap()
    }

    fn publish(key: &str, repeat: u64, rate: Option<f64>) -> PublishRequest {
        PublishRequest {
            key: key.into(),
            sender: "ioctl.manual".into(),
            subject: String::new(),
            body: serde_json::json!({}),
            repeat: Some(repeat),
            rate,
        }
    }

    /// A link that stays until it is asked to end.
    fn link(session: &Arc<Session>, root: &Path) -> Result<Accepted, ErrorBody> {
        let req = LinkRequest {
            root: root.to_path_buf(),
            watch: false,
            started_at_us: 0,
            boundary: Default::default(),
            inspect: None,
            typecheck: Default::default(),
        };
        session.link(req, |_ctx, _req, _terminal, unlink| async move { unlink.requested().await })
    }

    #[tokio::test]
    async fn a_publish_without_a_key_or_at_a_rate_out_of_range_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let s = session(&home);
        assert_eq!(s.start_publish(publish("", 1, None)).err().unwrap().code, ErrorCode::BadRequest);
        let e = s.start_publish(publish("k", 2, Some(1e9))).err().unwrap();
        assert!(e.error.contains("out of range"), "{}", e.error);
        assert_eq!(s.counts().published, 0);
    }

    #[tokio::test]
    async fn a_publish_runs_to_its_repeat_and_counts_what_nobody_takes() {
        let home = tempfile::tempdir().unwrap();
        let s = session(&home);
        let job = s.start_publish(publish("k", 5, None)).unwrap();
        let done = job.done.await.unwrap();
        assert_eq!((done.published, done.deliveries, done.stopped), (5, 0, false));
        assert!(done.id.is_some());
        let c = s.counts();
        assert_eq!((c.published, c.unmatched), (5, 5));
    }

    #[tokio::test]
    async fn a_stopped_publish_ends_between_two_events_and_says_how_many() {
        let home = tempfile::tempdir().unwrap();
        let s = session(&home);
        let job = s.start_publish(publish("k", 1_000_000, Some(1000.0))).unwrap();
        while job.progress.get().0 < 3 {
            tokio::task::yield_now().await;
        }
        assert!(s.stop_publish(job.id));
        let done = job.done.await.unwrap();
        assert!(done.stopped && done.published >= 3 && done.published < 1_000_000, "{done:?}");
        assert_eq!(s.counts().published, done.published, "the answer is the session's own count");
        assert!(!s.stop_publish(job.id), "an ended publish is no more");
    }

    #[tokio::test]
    async fn a_folder_links_once_and_the_last_unlink_ends_the_session() {
        let home = tempfile::tempdir().unwrap();
        let s = session(&home);
        let app = home.path().join("app");
        let first = link(&s, &app).unwrap();
        assert!(s.has_apps());
        assert_eq!(link(&s, &app).err().unwrap().code, ErrorCode::AlreadyLinked);
        assert!(s.unlink(first.id, false) && !s.unlink(first.id + 1, false));
        tokio::time::timeout(std::time::Duration::from_secs(10), s.shutdown().cancelled()).await.unwrap();
        assert!(!s.has_apps());
        assert_eq!(link(&s, &app).err().unwrap().code, ErrorCode::SessionEnding, "a closing session takes no app");
    }

    #[tokio::test]
    async fn a_session_no_app_came_to_closes() {
        let home = tempfile::tempdir().unwrap();
        let s = session(&home);
        assert!(s.close_if_unused());
        assert_eq!(link(&s, &home.path().join("app")).err().unwrap().code, ErrorCode::SessionEnding);
    }

    #[test]
    fn a_panic_while_the_apps_are_locked_does_not_break_the_session() {
        let home = tempfile::tempdir().unwrap();
        let session = session(&home);
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let _apps = session.apps.lock();
                panic!("a bug in one task while it holds the apps");
            })
            .join()
            .is_err()
        });
        assert!(panicked && session.apps.is_poisoned());
        // Every later use of the apps still works: the record, a link's checks, unlinking.
        assert!(!session.has_apps());
        assert!(session.record().apps.is_empty());
        assert!(!session.unlink(1, false));
        assert!(session.close_if_unused());
    }
}
