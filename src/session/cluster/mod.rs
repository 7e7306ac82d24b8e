//! A link session's membership in a team workspace on NATS JetStream (`link --cluster`): the
//! connection (credentials from the URL, a token or a creds file; TLS for `tls://`), the
//! workspace's event stream, presence and dead-letter buckets, this machine's presence, the
//! publisher that sends the session's events to the stream, the delivery attempts the machines
//! share (for tails, and the publishing machine's link log), and the workspace's dead letters
//! and their replays. [`events`] pulls the events for each linked app;
//! [`server`] is the tests' throwaway `nats-server`. Without `--cluster` none of this starts.

pub mod events;
pub mod routes;
pub mod server;

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, kv, stream};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::protocol::cluster::{self as wire, Presence};
use crate::protocol::stream::{DeliveryAttempt, Level, Outcome, Output, TailRecord};
use crate::protocol::{DeadLetter, Event, Scope};

/// The NATS server of the team workspace (`--cluster`).
pub const CLUSTER_ENV: &str = "IOCTL_CLUSTER";
/// A token to connect with (`--cluster-token`).
pub const TOKEN_ENV: &str = "IOCTL_CLUSTER_TOKEN";
/// A NATS credentials file to connect with (`--cluster-creds`).
pub const CREDS_ENV: &str = "IOCTL_CLUSTER_CREDS";

/// How long the workspace's stream keeps an event, and how many bytes of events it keeps at
/// most (the oldest go first): the bound README documents.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const STREAM_MAX_BYTES: i64 = 256 << 20;
/// How long a machine's presence lasts without a refresh, and how often it is refreshed.
const PRESENCE_TTL: Duration = Duration::from_secs(15);
const PRESENCE_EVERY: Duration = Duration::from_secs(5);
/// The presence bucket's key of the machine that runs the workspace's sample sender.
const SENDER_KEY: &str = "sample-sender";
/// How long a session start retries a server it cannot reach before it says so.
const CONNECT_FOR: Duration = Duration::from_secs(5);
/// Events waiting to be sent to the stream (publishers wait when it is full).
const OUTBOX_BOUND: usize = 1024;
/// Publishes whose acknowledgement is awaited at once.
const PUBLISH_WINDOW: usize = 256;
/// Pause before sending again an event whose publish failed (the server away).
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Where the team workspace is and how to get in; read from the environment `main` set from
/// the flags (so the session a link starts inherits it).
pub struct Config {
    url: String,
    token: Option<String>,
    creds: Option<PathBuf>,
}

impl Config {
    /// The cluster of this process, when `IOCTL_CLUSTER` is set.
    pub fn from_env() -> anyhow::Result<Option<Config>> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(url) = var(CLUSTER_ENV) else { return Ok(None) };
        check_url(&url).map_err(|e| anyhow::anyhow!("{CLUSTER_ENV}: {e}"))?;
        Ok(Some(Config { url, token: var(TOKEN_ENV), creds: var(CREDS_ENV).map(PathBuf::from) }))
    }

    /// The server's URL as it may be shown: without its password.
    pub fn shown(&self) -> String {
        shown(&self.url)
    }
}

/// `url` without its password (or token in the user part), for messages and logs.
pub fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "the --cluster URL".to_string(),
    }
}

/// Checks a `--cluster` URL: `nats://` or `tls://`, a host, a port if any; the error never
/// repeats the URL (it may hold a password).
pub fn check_url(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url)
        .map_err(|e| format!("not a URL ({e}): expected nats://[USER:PASSWORD@]HOST[:PORT] or tls://…"))?;
    if !matches!(u.scheme(), "nats" | "tls") {
        return Err(format!("the scheme is `{}`: expected nats:// (or tls:// for TLS)", u.scheme()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host: expected nats://HOST[:PORT]".to_string());
    }
    if !matches!(u.path(), "" | "/") {
        return Err("a NATS server URL has no path: expected nats://HOST[:PORT]".to_string());
    }
    Ok(())
}

/// This session's place in the team workspace.
pub struct Cluster {
    scope: Scope,
    /// `HOST-PID`.
    machine: String,
    shown: String,
    subject: String,
    /// The connection (routes' request/reply goes on it directly).
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    presence: kv::Store,
    /// The workspace's dead letters, every machine's (`events failed` / `replay` anywhere).
    dead: kv::Store,
    /// Set while another machine runs the workspace's one sample sender (this one's stays
    /// quiet); the presence task decides, through a key of the presence bucket.
    sender_elsewhere: Arc<std::sync::atomic::AtomicBool>,
    /// The connection's news (lost, back), taken once by the session to tell its links.
    notices: std::sync::Mutex<Option<mpsc::Receiver<String>>>,
    /// The ids of the events this machine published lately (the newest [`RECENT_BOUND`]):
    /// another machine's delivery of one of them is a line of this machine's link log.
    published: std::sync::Mutex<Recent>,
}

/// The dead-letter bucket's bound in bytes (its letters also go after [`STREAM_MAX_AGE`]),
/// the oldest dropped first.
pub const DEAD_MAX_BYTES: i64 = 64 << 20;

/// A key-value bucket of the workspace (one value per key, each kept at most `max_age`, at most
/// `max_bytes` with -1 for no bound, past which `discard` says which go), made if missing. Its stream made by hand, as the client's
/// `create_key_value` would: that asks for the account's info first, whose 2.9 form this
/// client does not read.
async fn bucket(
    js: &jetstream::Context,
    name: &str,
    max_age: Duration,
    (max_bytes, discard): (i64, stream::DiscardPolicy),
) -> anyhow::Result<kv::Store> {
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        max_bytes,
        duplicate_window: max_age.min(Duration::from_secs(120)),
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard,
        ..Default::default()
    })
    .await
    .with_context(|| format!("the bucket {name}"))?;
    js.get_key_value(name).await.with_context(|| format!("the bucket {name}"))
}

/// How many of its latest published events' ids a machine remembers (about 64 bytes each).
const RECENT_BOUND: usize = 4096;

/// At most this many lines a second about other machines' deliveries in the link log; past
/// it, one line says how many more there were (`events tail` shows each).
const REMOTE_LINES_PER_SECOND: u32 = 20;

/// The link-log lines about other machines' deliveries, at most
/// [`REMOTE_LINES_PER_SECOND`] a second (a burst sent here would otherwise flood the link).
#[derive(Default)]
struct RemoteLines {
    since: Option<std::time::Instant>,
    shown: u32,
    more: u64,
}

impl RemoteLines {
    /// The lines to print for `attempt` (on `machine`): its own, a count of the ones left out
    /// in the second before, or nothing while this second's lines are spent.
    fn admit(&mut self, now: std::time::Instant, machine: &str, attempt: &DeliveryAttempt) -> Vec<Output> {
        let mut lines: Vec<Output> = self.roll(now).into_iter().collect();
        if self.shown < REMOTE_LINES_PER_SECOND {
            self.shown += 1;
            lines.push(remote_line(machine, attempt));
        } else {
            self.more += 1;
        }
        lines
    }

    /// Starts a new second once the last one is over, with the count of the lines it left
    /// out, if any (also called every second, so that the count of a burst's end is said).
    fn roll(&mut self, now: std::time::Instant) -> Option<Output> {
        if self.since.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return None;
        }
        let more = std::mem::take(&mut self.more);
        (self.since, self.shown) = (Some(now), 0);
        (more > 0).then(|| {
            let message = format!(
                "… and {more} more deliveries of events sent here ran on other machines (`ioctl events tail` shows each)"
            );
            Output::Log { level: Level::Info, message, app: None, handler: None }
        })
    }
}

/// `event ID ok (attempt N, 2.1 ms) [on HOST-PID]`, as the app's line.
fn remote_line(machine: &str, d: &DeliveryAttempt) -> Output {
    let mut message =
        format!("event {} {} (attempt {}, {} ms)", d.event_id, d.outcome.as_str(), d.attempt, d.elapsed_ms);
    if let Some(e) = &d.error {
        message.push_str(&format!(": {e}"));
    }
    if let Some(ms) = d.retry_in_ms {
        message.push_str(&format!(", retry in {ms} ms"));
    }
    message.push_str(&format!(" [on {machine}]"));
    let level = if d.outcome == Outcome::Ok { Level::Info } else { Level::Warn };
    Output::Log { level, message, app: Some(d.app.clone()), handler: Some(d.handler.clone()) }
}

/// A bounded set of event ids, the oldest forgotten first.
#[derive(Default)]
struct Recent {
    ids: std::collections::HashSet<String>,
    order: VecDeque<String>,
}

impl Recent {
    fn insert(&mut self, id: &str) {
        if self.ids.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > RECENT_BOUND {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// This host's name (the machine's name among the workspace's).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string())
}

impl Cluster {
    /// Connects (retrying an unreachable server for a few seconds, then saying what to do),
    /// and makes sure the workspace's stream and presence bucket exist.
    pub async fn join(config: &Config, scope: &Scope) -> anyhow::Result<Arc<Cluster>> {
        let machine = format!("{}-{}", host_name(), std::process::id());
        let shown = config.shown();
        let (notices_tx, notices) = mpsc::channel(16);
        let client = connect(config, &machine, &shown, notices_tx).await?;
        let js = jetstream::new(client.clone());
        let subject = wire::events_subject(scope);
        let stream = js
            .get_or_create_stream(stream::Config {
                name: wire::stream_name(scope),
                subjects: vec![subject.clone()],
                max_age: STREAM_MAX_AGE,
                max_bytes: STREAM_MAX_BYTES,
                discard: stream::DiscardPolicy::Old,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "the NATS server {shown} did not make the workspace's event stream: {e} (is JetStream on? start \
                     the server with `nats-server -js`)"
                )
            })?;
        let presence =
            bucket(&js, &wire::presence_bucket(scope), PRESENCE_TTL, (-1, stream::DiscardPolicy::New)).await?;
        let dead = bucket(&js, &wire::dead_bucket(scope), STREAM_MAX_AGE, (DEAD_MAX_BYTES, stream::DiscardPolicy::Old))
            .await?;
        tracing::info!(server = %shown, machine = %machine, stream = %wire::stream_name(scope), "joined the team workspace");
        Ok(Arc::new(Cluster {
            scope: scope.clone(),
            machine,
            shown,
            subject,
            client,
            js,
            stream,
            presence,
            dead,
            notices: std::sync::Mutex::new(Some(notices)),
            published: std::sync::Mutex::default(),
            sender_elsewhere: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }))
    }

    /// This machine's name in the workspace (`HOST-PID`).
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// The largest message the server takes (its `max_payload`).
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// The server, as it may be shown.
    pub fn server(&self) -> &str {
        &self.shown
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether another machine runs the workspace's sample sender (for this one's sender).
    pub fn sender_elsewhere(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.sender_elsewhere.clone()
    }

    /// The connection's news (server lost, back), once.
    pub fn take_notices(&self) -> Option<mpsc::Receiver<String>> {
        self.notices.lock().ok()?.take()
    }

    /// Starts the task that sends the session's events to the stream; returns the outbox the
    /// bus publishes into. Each event is sent with its id as NATS's message id, so one sent
    /// again after a failed acknowledgement is kept once.
    pub fn start_publisher(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> mpsc::Sender<Arc<Event>> {
        let (tx, rx) = mpsc::channel(OUTBOX_BOUND);
        tracker.spawn(self.clone().publish_all(rx, shutdown));
        tx
    }

    async fn publish_all(self: Arc<Self>, mut outbox: mpsc::Receiver<Arc<Event>>, shutdown: CancellationToken) {
        type Acked = Pin<Box<dyn Future<Output = (Arc<Event>, bool)> + Send>>;
        let mut pending: FuturesUnordered<Acked> = FuturesUnordered::new();
        let mut retry: VecDeque<Arc<Event>> = VecDeque::new();
        let mut failing = false;
        let send = |event: Arc<Event>| -> Acked {
            let me = self.clone();
            Box::pin(async move {
                let message = jetstream::message::PublishMessage::build()
                    .payload(wire::encode_event(&event).into())
                    .message_id(&event.id);
                let ok = match me.js.send_publish(me.subject.clone(), message).await {
                    Ok(ack) => ack.await.is_ok(),
                    Err(_) => false,
                };
                (event, ok)
            })
        };
        let mut closing = false;
        loop {
            let room = pending.len() < PUBLISH_WINDOW;
            tokio::select! {
                biased;
                Some((event, ok)) = pending.next(), if !pending.is_empty() => {
                    if ok {
                        if failing && retry.is_empty() {
                            failing = false;
                            tracing::info!(server = %self.shown, "events reach the team workspace again");
                        }
                    } else {
                        if !failing {
                            failing = true;
                            tracing::warn!(server = %self.shown, "cannot send events to the team workspace: they wait here (at most {OUTBOX_BOUND}, then publishers wait) until the server answers");
                        }
                        retry.push_back(event);
                    }
                }
                _ = tokio::time::sleep(RETRY_PAUSE), if room && !retry.is_empty() => {
                    let event = retry.pop_front().expect("not empty");
                    pending.push(send(event));
                }
                event = outbox.recv(), if room && retry.is_empty() && !closing => match event {
                    Some(event) => {
                        if let Ok(mut recent) = self.published.lock() {
                            recent.insert(&event.id);
                        }
                        pending.push(send(event))
                    }
                    None => closing = true,
                },
                _ = shutdown.cancelled(), if !closing => {
                    // What the bus still holds goes out, then the task ends with the session.
                    outbox.close();
                    closing = true;
                }
                else => break,
            }
            if closing && pending.is_empty() && (retry.is_empty() || shutdown.is_cancelled()) && outbox.is_empty() {
                if !retry.is_empty() {
                    tracing::warn!(
                        events = retry.len(),
                        "the session ended before these events reached the team workspace"
                    );
                }
                break;
            }
        }
    }

    /// Shares this machine's delivery attempts with the other machines' tails, and hands
    /// theirs to this machine's (fire and forget: only tails read them). Another machine's
    /// delivery of an event published here is also a line of this machine's link log, ending
    /// `[on HOST-PID]`: the returned receiver holds those lines, for the session's links.
    pub fn start_activity(
        self: &Arc<Self>,
        bus: &Arc<crate::session::bus::Bus>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> mpsc::Receiver<Output> {
        use crate::session::bus::Activity;
        let (tx, mut rx) = mpsc::channel::<Activity>(4096);
        bus.share_activity(tx);
        let subject = wire::activity_subject(&self.scope);
        let (me, stop) = (self.clone(), shutdown.clone());
        let out = subject.clone();
        tracker.spawn(async move {
            loop {
                let a = tokio::select! {
                    a = rx.recv() => match a { Some(a) => a, None => break },
                    _ = stop.cancelled() => break,
                };
                let TailRecord::Delivery(attempt) = a.to_record() else { continue };
                let shared = wire::SharedAttempt { machine: me.machine.clone(), attempt };
                let _ = me.client.publish(out.clone(), serde_json::to_vec(&shared).unwrap_or_default().into()).await;
            }
        });
        let (lines, said) = mpsc::channel::<Output>(64);
        let (me, bus) = (self.clone(), bus.clone());
        tracker.spawn(async move {
            let Ok(mut theirs) = me.client.subscribe(subject).await else { return };
            let mut window = RemoteLines::default();
            let mut second = tokio::time::interval(Duration::from_secs(1));
            loop {
                let m = tokio::select! {
                    m = theirs.next() => match m { Some(m) => m, None => break },
                    _ = second.tick() => {
                        if let Some(line) = window.roll(std::time::Instant::now()) {
                            let _ = lines.try_send(line);
                        }
                        continue;
                    }
                    _ = shutdown.cancelled() => break,
                };
                let Ok(s) = serde_json::from_slice::<wire::SharedAttempt>(&m.payload) else { continue };
                if s.machine == me.machine {
                    continue;
                }
                let sent_here = me.published.lock().map(|r| r.contains(&s.attempt.event_id)).unwrap_or(false);
                if sent_here {
                    for line in window.admit(std::time::Instant::now(), &s.machine, &s.attempt) {
                        // A link that reads slowly misses a line rather than slowing the rest.
                        let _ = lines.try_send(line);
                    }
                }
                if !bus.watched() {
                    continue;
                }
                let d = s.attempt;
                bus.report_remote(Activity::Delivery {
                    scope: me.scope.clone(),
                    event_id: d.event_id,
                    app: d.app,
                    handler: d.handler.into(),
                    outcome: d.outcome,
                    attempt: d.attempt,
                    elapsed_ms: d.elapsed_ms,
                    error: d.error,
                    retry_in_ms: d.retry_in_ms,
                    machine: Some(s.machine.into()),
                });
            }
        });
        said
    }

    /// Keeps this machine's dead letters in the workspace's bucket as well, for every
    /// machine's `events failed` and `replay` (a letter the server could not take is logged:
    /// it stays on this machine).
    pub fn start_dead_letters(
        self: &Arc<Self>,
        dead: &crate::session::delivery::DeadLetters,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) {
        let (tx, mut rx) = mpsc::channel::<Arc<DeadLetter>>(1024);
        dead.share(tx);
        let me = self.clone();
        tracker.spawn(async move {
            loop {
                let letter = tokio::select! {
                    l = rx.recv() => match l { Some(l) => l, None => break },
                    _ = shutdown.cancelled() => break,
                };
                let key = wire::letter_key(&letter.app, &letter.handler, &letter.event.id);
                let value = serde_json::to_vec(&*letter).unwrap_or_default();
                if let Err(e) = me.dead.put(&key, value.into()).await {
                    tracing::warn!(event = %letter.event.id, error = %e, "dead letter not shared with the team workspace: only this machine lists it");
                }
            }
        });
    }

    /// Every machine's dead letters, oldest first.
    pub async fn dead_letters(&self) -> anyhow::Result<Vec<Arc<DeadLetter>>> {
        let mut keys = self.dead.keys().await.context("the workspace's dead letters")?;
        let mut found = Vec::new();
        while let Some(key) = keys.next().await {
            let Ok(key) = key else { continue };
            if let Ok(Some(value)) = self.dead.get(&key).await {
                if let Ok(l) = serde_json::from_slice::<DeadLetter>(&value) {
                    found.push(Arc::new(l));
                }
            }
        }
        found.sort_by(|a, b| a.failed_at.cmp(&b.failed_at));
        Ok(found)
    }

    /// Takes `letters` out of the workspace's bucket and sends each event again to the
    /// workspace for its app and handler only (a replica of the app delivers it, on any
    /// machine). The letters sent are returned; one the server did not take stays listed.
    pub async fn replay(&self, letters: Vec<Arc<DeadLetter>>) -> Vec<Arc<DeadLetter>> {
        let mut sent = Vec::new();
        for letter in letters {
            // Out of the bucket first: a replay that fails again puts its new letter back.
            let key = wire::letter_key(&letter.app, &letter.handler, &letter.event.id);
            if let Err(e) = self.dead.delete(&key).await {
                tracing::warn!(event = %letter.event.id, error = %e, "cannot take the letter out of the team workspace: not replayed");
                continue;
            }
            let message = jetstream::message::PublishMessage::build()
                .payload(wire::encode_event(&letter.event).into())
                // Not the event's id: the stream would take it for a repeat of the original.
                .message_id(format!("{}.replay.{}", letter.event.id, chrono::Utc::now().timestamp_micros()))
                .header(wire::REPLAY_APP, letter.app.as_str())
                .header(wire::REPLAY_HANDLER, letter.handler.as_str());
            let ok = match self.js.send_publish(self.subject.clone(), message).await {
                Ok(ack) => ack.await.is_ok(),
                Err(_) => false,
            };
            if !ok {
                tracing::warn!(event = %letter.event.id, "the team workspace did not take the replay: the letter stays");
                let _ = self.dead.put(&key, serde_json::to_vec(&*letter).unwrap_or_default().into()).await;
                continue;
            }
            sent.push(letter);
        }
        sent
    }

    /// Says this machine is here (its URL, apps and counts), every few seconds until the
    /// session ends, then that it left.
    pub fn start_presence(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
        sender: bool,
        now: impl Fn() -> (String, Vec<String>, crate::protocol::Counts) + Send + 'static,
    ) {
        let me = self.clone();
        tracker.spawn(async move {
            let key = wire::machine_key(&me.machine);
            let mut holds = None;
            loop {
                if sender {
                    holds = me.hold_sender(holds).await;
                }
                let (url, apps, counts) = now();
                let p = Presence {
                    version: wire::VERSION,
                    machine: me.machine.clone(),
                    url,
                    apps,
                    counts,
                    updated: chrono::Utc::now().to_rfc3339(),
                };
                let value = serde_json::to_vec(&p).unwrap_or_default();
                if let Err(e) = me.presence.put(&key, value.into()).await {
                    tracing::debug!(error = %e, "presence not refreshed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(PRESENCE_EVERY) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), me.presence.delete(&key)).await;
            if holds.is_some() {
                // Let another machine's sender take over at once.
                let _ = tokio::time::timeout(Duration::from_secs(1), me.presence.delete(SENDER_KEY)).await;
            }
        });
    }

    /// One sample sender per workspace: the machine whose session made the bucket's sender
    /// key holds it, refreshing it (a compare-and-set on its revision) with its presence; when
    /// it stops refreshing, the key expires and another machine's sender takes over. `held`
    /// is the key's revision while this machine holds it.
    async fn hold_sender(&self, held: Option<u64>) -> Option<u64> {
        use std::sync::atomic::Ordering::SeqCst;
        let me = self.machine.clone();
        let now = match held {
            Some(revision) => self.presence.update(SENDER_KEY, me.clone().into(), revision).await.ok(),
            None => self.presence.create(SENDER_KEY, me.clone().into()).await.ok(),
        };
        let was_elsewhere = self.sender_elsewhere.swap(now.is_none(), SeqCst);
        if now.is_some() && was_elsewhere {
            tracing::info!(machine = %me, "this machine runs the team workspace's sample sender");
        }
        now
    }

    /// The machines of the workspace now (this one included), by name.
    pub async fn machines(&self) -> anyhow::Result<Vec<Presence>> {
        let mut keys = self.presence.keys().await.context("the workspace's machines")?;
        let mut found = Vec::new();
        while let Some(key) = keys.next().await {
            let Ok(key) = key else { continue };
            if let Ok(Some(value)) = self.presence.get(&key).await {
                if let Ok(p) = serde_json::from_slice::<Presence>(&value) {
                    if p.version == wire::VERSION {
                        found.push(p);
                    }
                }
            }
        }
        found.sort_by(|a, b| a.machine.cmp(&b.machine));
        Ok(found)
    }
}

/// The connection, retried for [`CONNECT_FOR`] while the server cannot be reached (a refused
/// login is said at once). Its losses and returns are logged and sent to `notices`.
async fn connect(
    config: &Config,
    machine: &str,
    shown: &str,
    notices: mpsc::Sender<String>,
) -> anyhow::Result<async_nats::Client> {
    let deadline = tokio::time::Instant::now() + CONNECT_FOR;
    // Credentials from the URL go as options, and the URL the client keeps (and logs at debug
    // level) holds none of them.
    let (address, user, password) = split_credentials(&config.url);
    loop {
        let mut options = options(machine, shown, notices.clone());
        match (user.clone(), password.clone()) {
            (Some(user), Some(password)) => options = options.user_and_password(user, password),
            (Some(token), None) => options = options.token(token),
            _ => {}
        }
        if let Some(token) = &config.token {
            options = options.token(token.clone());
        }
        if let Some(file) = &config.creds {
            options = options.credentials_file(file).await.with_context(|| {
                format!("{}: cannot read the NATS credentials file (--cluster-creds)", file.display())
            })?;
        }
        if config.url.starts_with("tls://") {
            options = options.require_tls(true);
        }
        let error = match options.connect(address.as_str()).await {
            Ok(client) => return Ok(client),
            Err(e) => e,
        };
        use async_nats::ConnectErrorKind as K;
        let refused = matches!(error.kind(), K::AuthorizationViolation | K::Authentication);
        if refused || tokio::time::Instant::now() >= deadline {
            // The client's error names no password, but make sure of it.
            let why = match password.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => error.to_string().replace(p, "***"),
                None => error.to_string(),
            };
            if refused {
                anyhow::bail!(
                    "the NATS server {shown} refused this machine: {why}; check the credentials of --cluster (or \
                     IOCTL_CLUSTER), --cluster-token or --cluster-creds"
                );
            }
            anyhow::bail!(
                "cannot reach the NATS server {shown} (tried for {} s): {why}; check that it runs with JetStream \
                 (`nats-server -js`) and that --cluster (or IOCTL_CLUSTER) and its credentials are right",
                CONNECT_FOR.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The connection's options but its credentials: named for the machine, reconnecting for
/// ever, and saying a loss (and the return after one) in the log and to `notices`.
fn options(machine: &str, shown: &str, notices: mpsc::Sender<String>) -> async_nats::ConnectOptions {
    let server = shown.to_string();
    // Said only after a loss (the first connection is not news).
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    async_nats::ConnectOptions::new()
        .name(format!("ioctl {machine}"))
        .connection_timeout(Duration::from_secs(2))
        .max_reconnects(None)
        .event_callback(move |event| {
            let (server, tell, lost) = (server.clone(), notices.clone(), lost.clone());
            async move {
                use std::sync::atomic::Ordering::SeqCst;
                let said = match event {
                    async_nats::Event::Disconnected if !lost.swap(true, SeqCst) => format!(
                        "lost the NATS server {server}: cross-machine events and calls pause, local work goes on; \
                         reconnecting"
                    ),
                    async_nats::Event::Connected if lost.swap(false, SeqCst) => {
                        format!("the NATS server {server} is back: the team workspace resumes")
                    }
                    other => {
                        tracing::debug!(event = %other, "NATS connection");
                        return;
                    }
                };
                tracing::warn!("{said}");
                let _ = tell.try_send(said);
            }
        })
}

/// `url` without its credentials, and its user and password (percent-decoded): `nats://token@…`
/// is a token, as NATS reads it.
fn split_credentials(url: &str) -> (String, Option<String>, Option<String>) {
    let Ok(mut u) = url::Url::parse(url) else { return (url.to_string(), None, None) };
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = Some(decode(u.username())).filter(|s| !s.is_empty());
    let password = u.password().map(decode);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    (u.to_string().trim_end_matches('/').to_string(), user, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_machines_deliveries_are_lines_of_the_link_log_a_few_a_second() {
        let attempt = |n: u32| DeliveryAttempt {
            event_id: format!("e{n}"),
            app: "v.a@1.0.0".into(),
            handler: "work".into(),
            outcome: if n == 0 { Outcome::Failed } else { Outcome::Ok },
            attempt: 1,
            elapsed_ms: 2.5,
            error: (n == 0).then(|| "boom".into()),
            retry_in_ms: None,
            machine: None,
        };
        let text = |o: &Output| match o {
            Output::Log { level, message, app, handler } => format!("{level:?} {message} {app:?} {handler:?}"),
            other => panic!("{other:?}"),
        };
        let mut window = RemoteLines::default();
        let start = std::time::Instant::now();
        let first = window.admit(start, "box-7", &attempt(0));
        assert_eq!(
            first.iter().map(text).collect::<Vec<_>>(),
            ["Warn event e0 failed (attempt 1, 2.5 ms): boom [on box-7] Some(\"v.a@1.0.0\") Some(\"work\")"]
        );
        let shown: usize = (1..30).map(|n| window.admit(start, "box-7", &attempt(n)).len()).sum();
        assert_eq!(shown as u32, REMOTE_LINES_PER_SECOND - 1, "the rest of the second's lines");
        let next = window.admit(start + Duration::from_secs(1), "box-7", &attempt(30));
        let next: Vec<String> = next.iter().map(text).collect();
        assert_eq!(next.len(), 2, "{next:?}");
        assert!(next[0].contains("… and 10 more deliveries"), "{next:?}");
        assert!(next[1].starts_with("Info event e30 ok (attempt 1, 2.5 ms) [on box-7]"), "{next:?}");
        // A burst's end: its count is said by the next second's roll, with no line after it.
        for n in 31..60 {
            window.admit(start + Duration::from_secs(1), "box-7", &attempt(n));
        }
        assert!(window.roll(start + Duration::from_millis(1500)).is_none(), "the second is not over");
        let end = window.roll(start + Duration::from_secs(2)).map(|o| text(&o)).unwrap_or_default();
        assert!(end.contains("… and 10 more deliveries"), "{end}");
        assert!(window.roll(start + Duration::from_secs(3)).is_none(), "said once");
    }

    #[test]
    fn a_machine_remembers_its_latest_published_events_only() {
        let mut recent = Recent::default();
        for n in 0..RECENT_BOUND + 2 {
            recent.insert(&format!("e{n}"));
        }
        recent.insert("e5");
        assert!(!recent.contains("e0") && !recent.contains("e1"));
        assert!(recent.contains("e2") && recent.contains(&format!("e{}", RECENT_BOUND + 1)));
        assert_eq!(recent.order.len(), RECENT_BOUND);
    }

    #[test]
    fn the_address_the_client_keeps_holds_no_credentials() {
        assert_eq!(
            split_credentials("nats://team:s%40cret@127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".to_string(), Some("team".to_string()), Some("s@cret".to_string()))
        );
        assert_eq!(split_credentials("tls://tok3n@h"), ("tls://h".to_string(), Some("tok3n".to_string()), None));
        assert_eq!(split_credentials("nats://h:1"), ("nats://h:1".to_string(), None, None));
    }

    #[test]
    fn a_cluster_url_is_checked_and_shown_without_its_password() {
        assert!(check_url("nats://127.0.0.1:4222").is_ok());
        assert!(check_url("tls://u:p@nats.example.com").is_ok());
        let e = check_url("http://u:hunter2@h:1").unwrap_err();
        assert!(e.contains("expected nats://") && !e.contains("hunter2"), "{e}");
        assert!(check_url("nats://h:1/x").unwrap_err().contains("no path"));
        assert!(!check_url("nats//h").unwrap_err().contains("nats//h"));
        assert_eq!(shown("nats://team:hunter2@127.0.0.1:4222"), "nats://team@127.0.0.1:4222");
    }
}
