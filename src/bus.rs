//! The in-process event bus: events are scoped to an account and workspace, matched against
//! each linked app's service.json subscriptions, and queued to that app's bounded delivery
//! queue (publishers wait when it is full: backpressure, never a drop). Everything that
//! happens is also broadcast as [`Activity`] for `events tail` and the link summary.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::app::EventSubscription;

/// Account and workspace: nothing crosses from one scope to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Scope {
    pub account: String,
    pub workspace: String,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}, workspace {}", self.account, self.workspace)
    }
}

/// One published event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub sender: String,
    pub key: String,
    pub subject: String,
    pub body: Value,
    /// Microseconds since the epoch; shown as RFC 3339 (formatting waits until it is shown).
    #[serde(serialize_with = "rfc3339")]
    pub time: i64,
}

impl Event {
    /// The publish time as RFC 3339 with microseconds.
    pub fn time_rfc3339(&self) -> String {
        chrono::DateTime::from_timestamp_micros(self.time)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }
}

fn rfc3339<S: serde::Serializer>(micros: &i64, s: S) -> Result<S::Ok, S::Error> {
    let t = chrono::DateTime::from_timestamp_micros(*micros).unwrap_or_default();
    s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// One event on its way to one handler of one app.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Arc<Event>,
    pub handler: Arc<str>,
}

/// How a delivery attempt ended, as tail shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Retry,
    Failed,
}

/// What tail streams.
#[derive(Debug, Clone)]
pub enum Activity {
    Event {
        scope: Scope,
        event: Arc<Event>,
    },
    Delivery {
        scope: Scope,
        event_id: String,
        app: String,
        handler: Arc<str>,
        outcome: Outcome,
        attempt: u32,
        elapsed_ms: f64,
        error: Option<String>,
        retry_in_ms: Option<u64>,
    },
}

impl Activity {
    pub fn scope(&self) -> &Scope {
        match self {
            Activity::Event { scope, .. } | Activity::Delivery { scope, .. } => scope,
        }
    }

    /// The wire form tail receives (`--json` prints it as is).
    pub fn to_json(&self) -> Value {
        match self {
            Activity::Event { event, .. } => json!({
                "type": "event", "id": event.id, "sender": event.sender, "key": event.key,
                "subject": event.subject, "body": event.body, "time": event.time_rfc3339(),
            }),
            Activity::Delivery { event_id, app, handler, outcome, attempt, elapsed_ms, error, retry_in_ms, .. } => {
                let mut v = json!({
                    "type": "delivery", "event_id": event_id, "app": app, "handler": handler,
                    "outcome": outcome, "attempt": attempt, "elapsed_ms": (elapsed_ms * 100.0).round() / 100.0,
                });
                if let Some(e) = error {
                    v["error"] = json!(e);
                }
                if let Some(d) = retry_in_ms {
                    v["retry_in_ms"] = json!(d);
                }
                v
            }
        }
    }
}

/// Counts that must always add up: deliveries = delivered + failed + in flight.
#[derive(Debug, Default)]
pub struct Counters {
    pub published: AtomicU64,
    pub unmatched: AtomicU64,
    pub deliveries: AtomicU64,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub published: u64,
    pub unmatched: u64,
    pub deliveries: u64,
    pub delivered: u64,
    pub failed: u64,
    pub in_flight: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Counts {
        // Read the finished ones first so in_flight never underflows under concurrent updates.
        let delivered = self.delivered.load(Ordering::SeqCst);
        let failed = self.failed.load(Ordering::SeqCst);
        let deliveries = self.deliveries.load(Ordering::SeqCst);
        Counts {
            published: self.published.load(Ordering::SeqCst),
            unmatched: self.unmatched.load(Ordering::SeqCst),
            deliveries,
            delivered,
            failed,
            in_flight: deliveries.saturating_sub(delivered + failed),
        }
    }
}

/// Handle of one app's subscriptions; the app's delivery queue is the other end of `queue`.
struct Subscriber {
    scope: Scope,
    handlers: Vec<(Arc<str>, EventSubscription)>,
    queue: mpsc::Sender<Delivery>,
    /// The app's own delivery counts (the bus's are the workspace's).
    counters: Arc<Counters>,
}

pub type SubscriberId = u64;

pub struct Bus {
    subscribers: Mutex<HashMap<SubscriberId, Subscriber>>,
    next_id: AtomicU64,
    next_event: AtomicU64,
    /// Prefix that keeps event ids of different sessions apart.
    id_prefix: String,
    activity: broadcast::Sender<Activity>,
    pub counters: Counters,
}

impl Bus {
    pub fn new() -> Arc<Bus> {
        let (activity, _) = broadcast::channel(4096);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Arc::new(Bus {
            subscribers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            next_event: AtomicU64::new(1),
            id_prefix: format!("{:06x}", (nanos as u64 ^ std::process::id() as u64) & 0xff_ffff),
            activity,
            counters: Counters::default(),
        })
    }

    /// Registers an app's handlers; deliveries for them go into `queue` and are counted in
    /// `counters` too.
    pub fn subscribe(
        &self,
        scope: Scope,
        handlers: Vec<(String, EventSubscription)>,
        queue: mpsc::Sender<Delivery>,
        counters: Arc<Counters>,
    ) -> SubscriberId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handlers = handlers.into_iter().map(|(h, s)| (Arc::from(h), s)).collect();
        self.subscribers.lock().unwrap().insert(id, Subscriber { scope, handlers, queue, counters });
        id
    }

    /// Replaces an app's handlers (after a relink changed service.json).
    pub fn resubscribe(&self, id: SubscriberId, handlers: Vec<(String, EventSubscription)>) {
        if let Some(s) = self.subscribers.lock().unwrap().get_mut(&id) {
            s.handlers = handlers.into_iter().map(|(h, s)| (Arc::from(h), s)).collect();
        }
    }

    pub fn unsubscribe(&self, id: SubscriberId) {
        self.subscribers.lock().unwrap().remove(&id);
    }

    /// Watches everything that happens on the bus (all scopes: filter by [`Activity::scope`]).
    pub fn watch(&self) -> broadcast::Receiver<Activity> {
        self.activity.subscribe()
    }

    /// Whether anybody watches (tails); records need not be built otherwise.
    pub fn watched(&self) -> bool {
        self.activity.receiver_count() > 0
    }

    pub fn report(&self, a: Activity) {
        // No receiver means nobody is tailing; that is fine.
        let _ = self.activity.send(a);
    }

    /// Publishes an event in `scope`; waits while a matching app's queue is full.
    /// Returns the event and how many deliveries it made.
    pub async fn publish(
        &self,
        scope: &Scope,
        sender: &str,
        key: &str,
        subject: &str,
        body: Value,
    ) -> (Arc<Event>, usize) {
        let seq = self.next_event.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(Event {
            id: format!("{}-{seq}", self.id_prefix),
            sender: sender.to_string(),
            key: key.to_string(),
            subject: subject.to_string(),
            body,
            time: chrono::Utc::now().timestamp_micros(),
        });
        self.counters.published.fetch_add(1, Ordering::SeqCst);
        // Building the record costs; only when somebody tails.
        if self.watched() {
            self.report(Activity::Event { scope: scope.clone(), event: event.clone() });
        }
        // Queues with room take the delivery right away, under the lock (it never waits);
        // full ones are waited for after it, so one slow app does not block the others.
        let (mut matched, mut made) = (0, 0);
        let mut full = Vec::new();
        {
            let subs = self.subscribers.lock().unwrap();
            for s in subs.values().filter(|s| &s.scope == scope) {
                for (handler, _) in s.handlers.iter().filter(|(_, sub)| sub.matches(sender, key)) {
                    matched += 1;
                    self.counters.deliveries.fetch_add(1, Ordering::SeqCst);
                    s.counters.deliveries.fetch_add(1, Ordering::SeqCst);
                    match s.queue.try_send(Delivery { event: event.clone(), handler: handler.clone() }) {
                        Ok(()) => made += 1,
                        Err(mpsc::error::TrySendError::Full(d)) => full.push((d, s.queue.clone(), s.counters.clone())),
                        // The app is unlinking: count it as failed, not lost.
                        Err(mpsc::error::TrySendError::Closed(_)) => {
                            self.counters.failed.fetch_add(1, Ordering::SeqCst);
                            s.counters.failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
        }
        if matched == 0 {
            self.counters.unmatched.fetch_add(1, Ordering::SeqCst);
        }
        for (delivery, queue, app) in full {
            if queue.send(delivery).await.is_err() {
                self.counters.failed.fetch_add(1, Ordering::SeqCst);
                app.failed.fetch_add(1, Ordering::SeqCst);
            } else {
                made += 1;
            }
        }
        (event, made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(sender: &str, key: &str) -> EventSubscription {
        serde_json::from_value(json!({"sender": sender, "keys": [key]})).unwrap()
    }

    fn scope(w: &str) -> Scope {
        Scope { account: "local".into(), workspace: w.into() }
    }

    #[tokio::test]
    async fn delivers_only_matching_in_scope() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(8);
        bus.subscribe(scope("dev"), vec![("h".into(), sub("vtex.events-example", "send-event"))], tx, Arc::default());
        let (_, n) = bus.publish(&scope("dev"), "vtex.events-example", "send-event", "", json!({})).await;
        assert_eq!(n, 1);
        assert_eq!(&*rx.recv().await.unwrap().handler, "h");
        let (_, n) = bus.publish(&scope("other"), "vtex.events-example", "send-event", "", json!({})).await;
        assert_eq!(n, 0, "another workspace's event must not arrive");
        let (_, n) = bus.publish(&scope("dev"), "vtex.events-example", "other-key", "", json!({})).await;
        assert_eq!(n, 0);
        let c = bus.counters.snapshot();
        assert_eq!((c.published, c.deliveries, c.unmatched), (3, 1, 2));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn full_queue_makes_publisher_wait() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(1);
        bus.subscribe(scope("dev"), vec![("h".into(), sub("x.y", "k"))], tx, Arc::default());
        bus.publish(&scope("dev"), "x.y", "k", "", json!(1)).await;
        let bus2 = bus.clone();
        let second = tokio::spawn(async move { bus2.publish(&scope("dev"), "x.y", "k", "", json!(2)).await });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "publisher must wait for room, not drop");
        assert_eq!(rx.recv().await.unwrap().event.body, json!(1));
        second.await.unwrap();
        assert_eq!(rx.recv().await.unwrap().event.body, json!(2));
    }
}
