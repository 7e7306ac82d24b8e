//! The in-process event bus: events are scoped to an account and workspace, matched against
//! each linked app's service.json subscriptions, and queued to that app's bounded delivery
//! queue (publishers wait when it is full: backpressure, never a drop). Everything that
//! happens is also broadcast as [`Activity`] for `events tail` and the link summary, and kept
//! in the session's journal (the dashboard's history) with each event's matched deliveries.

use crate::lock::Locked;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::app::EventSubscription;
use crate::protocol::stream::{DeliveryAttempt, Outcome, TailRecord};
use crate::protocol::{Counts, Event, Scope};
use crate::session::dashboard::journal::Journal;

/// One event on its way to one handler of one app, with its claim on the counts.
#[derive(Debug)]
pub struct Delivery {
    pub event: Arc<Event>,
    pub handler: Arc<str>,
    pub ticket: Ticket,
    /// The event's seq in the journal (its attempts are kept there; 0: not kept).
    pub seq: u64,
    /// Attempts counted before this machine's: a team workspace's event that came back from
    /// NATS (its machine stopped before it ended) counts each earlier delivery as one, so the
    /// app's retry policy bounds it across machines too (and a handler that kills its
    /// machine every time does not loop for ever).
    pub prior_attempts: u32,
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
        /// The team workspace's machine that ran it, when not this one.
        machine: Option<Arc<str>>,
    },
}

impl Activity {
    pub fn scope(&self) -> &Scope {
        match self {
            Activity::Event { scope, .. } | Activity::Delivery { scope, .. } => scope,
        }
    }

    /// The record tail receives (`--json` prints it as is).
    pub fn to_record(&self) -> TailRecord {
        match self {
            Activity::Event { event, .. } => TailRecord::Event(event.clone()),
            Activity::Delivery {
                event_id,
                app,
                handler,
                outcome,
                attempt,
                elapsed_ms,
                error,
                retry_in_ms,
                machine,
                ..
            } => TailRecord::Delivery(DeliveryAttempt {
                event_id: event_id.clone(),
                app: app.clone(),
                handler: handler.to_string(),
                outcome: *outcome,
                attempt: *attempt,
                elapsed_ms: (elapsed_ms * 100.0).round() / 100.0,
                error: error.clone(),
                retry_in_ms: *retry_in_ms,
                machine: machine.as_deref().map(str::to_string),
            }),
        }
    }
}

/// The counts of a workspace, or of one app in it. `in_flight` is a gauge of deliveries that
/// hold a [`Ticket`], not a difference, so a lost delivery shows as counts that do not add up.
#[derive(Debug, Default)]
pub struct Counters {
    published: AtomicU64,
    unmatched: AtomicU64,
    deliveries: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    in_flight: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> Counts {
        Counts {
            published: self.published.load(Ordering::SeqCst),
            unmatched: self.unmatched.load(Ordering::SeqCst),
            deliveries: self.deliveries.load(Ordering::SeqCst),
            delivered: self.delivered.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
        }
    }
}

/// One delivery's claim on the counts of its workspace and its app: made when the bus accepts
/// the delivery (deliveries +1, in flight +1) and resolved once, as delivered or failed (in
/// flight −1). A ticket dropped unresolved is a lost delivery: it leaves in flight without an
/// outcome, and `deliveries = delivered + failed + in flight` no longer holds.
#[derive(Debug)]
pub struct Ticket {
    counters: [Arc<Counters>; 2],
    resolved: bool,
    /// A delivery of a team workspace's event (`link --cluster`): the puller that took it off
    /// NATS holds the other end and acknowledges the event once every ticket of it settled
    /// (dropped unresolved: the event is handed back to NATS for another try).
    settle: Option<oneshot::Sender<Settled>>,
}

/// How a delivery of a team workspace's event ended, as its puller needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Ran to its end: delivered, or failed for good (dead-lettered).
    Done,
    /// Never ran to an end here (the link stopped): another replica may take it.
    Released,
}

impl Ticket {
    fn new(workspace: &Arc<Counters>, app: &Arc<Counters>) -> Ticket {
        for c in [workspace, app] {
            c.deliveries.fetch_add(1, Ordering::SeqCst);
            c.in_flight.fetch_add(1, Ordering::SeqCst);
        }
        Ticket { counters: [workspace.clone(), app.clone()], resolved: false, settle: None }
    }

    /// The handler succeeded.
    pub fn delivered(self) {
        self.resolve(|c| &c.delivered, Settled::Done);
    }

    /// The delivery failed for good (its last attempt failed).
    pub fn failed(self) {
        self.resolve(|c| &c.failed, Settled::Done);
    }

    /// The delivery could not run here (the link stopped before or between its attempts):
    /// counted failed on this machine as before; an event of a team workspace goes back to
    /// NATS for another replica.
    pub fn gave_up(self) {
        self.resolve(|c| &c.failed, Settled::Released);
    }

    fn resolve(mut self, outcome: fn(&Counters) -> &AtomicU64, settled: Settled) {
        for c in &self.counters {
            outcome(c).fetch_add(1, Ordering::SeqCst);
            c.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        self.resolved = true;
        if let Some(tx) = self.settle.take() {
            // The puller gone (its link stopping) hands the event back by itself.
            let _ = tx.send(settled);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.resolved {
            // Lost: no outcome is counted, so the sum shows it (and the gauge stays honest).
            for c in &self.counters {
                c.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Handle of one app's subscriptions; the app's dispatcher holds the other end of `queue`.
struct Subscriber {
    scope: Scope,
    /// `vendor.name@version`: dead letters name it, replays find the queue by it.
    app: Arc<str>,
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
    counters: Arc<Counters>,
    /// The session's history: every event and attempt is kept there, watched or not.
    journal: Arc<Journal>,
    /// Set when the session is part of a team workspace (`link --cluster`): every publish goes
    /// there (the cluster's publisher task holds the other end; bounded: a full outbox makes
    /// publishers wait), and the apps receive their events from NATS, not from here.
    outbox: OnceLock<mpsc::Sender<Arc<Event>>>,
    /// Set in a team workspace: this machine's delivery attempts go to the other machines'
    /// tails (the cluster's activity task holds the other end; full, a record is not shared).
    shared: OnceLock<mpsc::Sender<Activity>>,
}

/// The deliveries a team workspace's event makes to one linked app, each with the receiver
/// that says how it settled, and the app's queue to put them in.
pub struct Accepted {
    pub queue: mpsc::Sender<Delivery>,
    pub deliveries: Vec<(Delivery, oneshot::Receiver<Settled>)>,
}

impl Bus {
    /// A bus with a journal of its own (tests).
    pub fn new() -> Arc<Bus> {
        Bus::with_journal(Arc::default())
    }

    /// A bus keeping its history in `journal`.
    pub fn with_journal(journal: Arc<Journal>) -> Arc<Bus> {
        let (activity, _) = broadcast::channel(4096);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        Arc::new(Bus {
            subscribers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            next_event: AtomicU64::new(1),
            id_prefix: format!("{:06x}", (nanos as u64 ^ std::process::id() as u64) & 0xff_ffff),
            activity,
            counters: Arc::default(),
            journal,
            outbox: OnceLock::new(),
            shared: OnceLock::new(),
        })
    }

    /// Shares this machine's delivery attempts through `shared` (once, at start).
    pub fn share_activity(&self, shared: mpsc::Sender<Activity>) {
        let _ = self.shared.set(shared);
    }

    /// Whether delivery attempts are reported though nobody tails here (they are shared).
    pub fn shares(&self) -> bool {
        self.shared.get().is_some()
    }

    /// Another machine's delivery attempt, for this machine's tails.
    pub fn report_remote(&self, a: Activity) {
        let _ = self.activity.send(a);
    }

    /// Sends every later publish to a team workspace through `outbox` (once, at start).
    pub fn set_outbox(&self, outbox: mpsc::Sender<Arc<Event>>) {
        let _ = self.outbox.set(outbox);
    }

    /// A team workspace's `event`, taken off NATS for the app of subscription `id`: one
    /// delivery per handler of it that matches (none: nothing to do), kept in the journal.
    /// `None` when the app is not subscribed (any more).
    /// `only`: a replay for one handler of the app (it alone delivers the event).
    pub fn accept_remote(
        &self,
        id: SubscriberId,
        event: Arc<Event>,
        prior_attempts: u32,
        only: Option<&str>,
    ) -> Option<Accepted> {
        let subs = self.subscribers.locked();
        let s = subs.get(&id)?;
        let handlers: Vec<&Arc<str>> = s
            .handlers
            .iter()
            .filter(|(h, sub)| match only {
                Some(only) => &**h == only,
                None => sub.matches(&event.sender, &event.key),
            })
            .map(|(h, _)| h)
            .collect();
        if handlers.is_empty() {
            return Some(Accepted { queue: s.queue.clone(), deliveries: Vec::new() });
        }
        if self.watched() {
            self.report(Activity::Event { scope: s.scope.clone(), event: event.clone() });
        }
        let seq = self.journal.event(&event, handlers.iter().map(|h| (s.app.clone(), (*h).clone())));
        let deliveries = handlers
            .into_iter()
            .map(|handler| {
                let (tx, rx) = oneshot::channel();
                let mut ticket = Ticket::new(&self.counters, &s.counters);
                ticket.settle = Some(tx);
                (Delivery { event: event.clone(), handler: handler.clone(), ticket, seq, prior_attempts }, rx)
            })
            .collect();
        Some(Accepted { queue: s.queue.clone(), deliveries })
    }

    /// The session's journal.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Registers an app's handlers; deliveries for them go into `queue`. Returns the
    /// subscription's id and the app's own counts.
    pub fn subscribe(
        &self,
        scope: Scope,
        app: &str,
        handlers: Vec<(String, EventSubscription)>,
        queue: mpsc::Sender<Delivery>,
    ) -> (SubscriberId, Arc<Counters>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let handlers = handlers.into_iter().map(|(h, s)| (Arc::from(h), s)).collect();
        let counters = Arc::new(Counters::default());
        let sub = Subscriber { scope, app: app.into(), handlers, queue, counters: counters.clone() };
        self.subscribers.locked().insert(id, sub);
        (id, counters)
    }

    /// The workspace's counts.
    pub fn counts(&self) -> Counts {
        self.counters.snapshot()
    }

    /// Delivers `event` again to one handler of a linked app (a replay); waits for room.
    /// Gives the event back when the app is not linked (any more).
    pub async fn redeliver(&self, app: &str, event: Arc<Event>, handler: &str) -> Result<(), Arc<Event>> {
        let target = {
            let subs = self.subscribers.locked();
            subs.values().find(|s| &*s.app == app).map(|s| (s.queue.clone(), s.counters.clone()))
        };
        let Some((queue, app_counts)) = target else { return Err(event) };
        let ticket = Ticket::new(&self.counters, &app_counts);
        // The replay's attempts join the event's deliveries in the journal, while it is kept.
        let seq = self.journal.event_seq(&event.id).unwrap_or(0);
        match queue.send(Delivery { event, handler: handler.into(), ticket, seq, prior_attempts: 0 }).await {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(d)) => {
                d.ticket.failed();
                Err(d.event)
            }
        }
    }

    /// Replaces an app's handlers (after a relink changed service.json).
    pub fn resubscribe(&self, id: SubscriberId, handlers: Vec<(String, EventSubscription)>) {
        if let Some(s) = self.subscribers.locked().get_mut(&id) {
            s.handlers = handlers.into_iter().map(|(h, s)| (Arc::from(h), s)).collect();
        }
    }

    pub fn unsubscribe(&self, id: SubscriberId) {
        self.subscribers.locked().remove(&id);
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
        if let (Some(shared), Activity::Delivery { .. }) = (self.shared.get(), &a) {
            // Only a tail reads it: one that falls behind misses records, as a local one does.
            let _ = shared.try_send(a.clone());
        }
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
        self.publish_for(scope, None, sender, key, subject, body).await
    }

    /// Publishes an event meant for one app only (`app` = `vendor.name@version`), as VTEX
    /// fires `apps`/`setup` to the app being installed.
    pub async fn publish_to(
        &self,
        scope: &Scope,
        app: &str,
        sender: &str,
        key: &str,
        body: Value,
    ) -> (Arc<Event>, usize) {
        self.publish_for(scope, Some(app), sender, key, "", body).await
    }

    async fn publish_for(
        &self,
        scope: &Scope,
        only: Option<&str>,
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
        if let (Some(outbox), None) = (self.outbox.get(), only) {
            // A team workspace: the event reaches its handlers, here and on the other
            // machines, through NATS (the receiving machines journal and count it).
            if self.watched() {
                self.report(Activity::Event { scope: scope.clone(), event: event.clone() });
            }
            if outbox.send(event.clone()).await.is_err() {
                tracing::warn!(event = %event.id, "the session is ending: event not sent to the team workspace");
            }
            return (event, 0);
        }
        // Building the record costs; only when somebody tails.
        if self.watched() {
            self.report(Activity::Event { scope: scope.clone(), event: event.clone() });
        }
        // Queues with room take the delivery right away, under the lock (it never waits);
        // full ones are waited for after it, so one slow app does not block the others. The
        // journal has the event (and what it matched) before any handler can report on it.
        let (mut matched, mut made) = (0, 0);
        let mut full = Waiting::default();
        {
            let subs = self.subscribers.locked();
            let wanted = |s: &&Subscriber| &s.scope == scope && only.is_none_or(|app| &*s.app == app);
            let targets: Vec<(&Subscriber, &Arc<str>)> = subs
                .values()
                .filter(wanted)
                .flat_map(|s| s.handlers.iter().filter(|(_, sub)| sub.matches(sender, key)).map(move |(h, _)| (s, h)))
                .collect();
            let seq = self.journal.event(&event, targets.iter().map(|(s, h)| (s.app.clone(), (*h).clone())));
            for (s, handler) in targets {
                matched += 1;
                let ticket = Ticket::new(&self.counters, &s.counters);
                let d = Delivery { event: event.clone(), handler: handler.clone(), ticket, seq, prior_attempts: 0 };
                match s.queue.try_send(d) {
                    Ok(()) => made += 1,
                    Err(mpsc::error::TrySendError::Full(d)) => full.0.push_back((d, s.queue.clone())),
                    // The app is unlinking: count it as failed, not lost.
                    Err(mpsc::error::TrySendError::Closed(d)) => d.ticket.failed(),
                }
            }
        }
        if matched == 0 {
            self.counters.unmatched.fetch_add(1, Ordering::SeqCst);
        }
        made += full.send_all().await;
        (event, made)
    }
}

/// Deliveries waiting for room in full queues. If the publisher goes away while it waits
/// (its future is dropped: a client that gave up, a session ending), the deliveries not yet
/// queued are counted as failed, so the counts still add up.
#[derive(Default)]
struct Waiting(std::collections::VecDeque<(Delivery, mpsc::Sender<Delivery>)>);

impl Waiting {
    /// Queues each delivery as its queue makes room; how many were queued.
    async fn send_all(&mut self) -> usize {
        let mut made = 0;
        while let Some(queue) = self.0.front().map(|(_, q)| q.clone()) {
            // A permit first: the delivery stays here (and is failed on drop) until it has room.
            let permit = queue.reserve().await;
            let (delivery, _) = self.0.pop_front().expect("front was just seen");
            match permit {
                Ok(permit) => {
                    permit.send(delivery);
                    made += 1;
                }
                Err(_) => delivery.ticket.failed(),
            }
        }
        made
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        for (delivery, _) in self.0.drain(..) {
            delivery.ticket.failed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        bus.subscribe(scope("dev"), "v.a@1.0.0", vec![("h".into(), sub("vtex.events-example", "send-event"))], tx);
        let (_, n) = bus.publish(&scope("dev"), "vtex.events-example", "send-event", "", json!({})).await;
        assert_eq!(n, 1);
        let delivery = rx.recv().await.unwrap();
        assert_eq!(&*delivery.handler, "h");
        let (_, n) = bus.publish(&scope("other"), "vtex.events-example", "send-event", "", json!({})).await;
        assert_eq!(n, 0, "another workspace's event must not arrive");
        let (_, n) = bus.publish(&scope("dev"), "vtex.events-example", "other-key", "", json!({})).await;
        assert_eq!(n, 0);
        let c = bus.counts();
        assert_eq!((c.published, c.deliveries, c.unmatched, c.in_flight), (3, 1, 2, 1));
        assert!(rx.try_recv().is_err());
        delivery.ticket.delivered();
        let c = bus.counts();
        assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (1, 1, 0, 0));
    }

    #[tokio::test]
    async fn a_lost_delivery_breaks_the_sum() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(8);
        let (_, app) = bus.subscribe(scope("dev"), "v.a@1.0.0", vec![("h".into(), sub("x.y", "k"))], tx);
        bus.publish(&scope("dev"), "x.y", "k", "", json!(1)).await;
        bus.publish(&scope("dev"), "x.y", "k", "", json!(2)).await;
        rx.recv().await.unwrap().ticket.failed();
        drop(rx.recv().await.unwrap()); // lost: neither delivered nor failed
        for c in [bus.counts(), app.snapshot()] {
            assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (2, 0, 1, 0));
            assert_ne!(c.deliveries, c.delivered + c.failed + c.in_flight, "the loss shows");
        }
    }

    #[tokio::test]
    async fn a_publisher_dropped_while_waiting_counts_its_deliveries_failed() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(1);
        let (_, app) = bus.subscribe(scope("dev"), "v.a@1.0.0", vec![("h".into(), sub("x.y", "k"))], tx);
        bus.publish(&scope("dev"), "x.y", "k", "", json!(1)).await;
        let bus2 = bus.clone();
        let second = tokio::spawn(async move { bus2.publish(&scope("dev"), "x.y", "k", "", json!(2)).await });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the queue is full: the publisher waits");
        second.abort(); // the client gave up
        let _ = second.await;
        rx.recv().await.unwrap().ticket.delivered();
        for c in [bus.counts(), app.snapshot()] {
            assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (2, 1, 1, 0));
            assert_eq!(c.deliveries, c.delivered + c.failed + c.in_flight, "nothing lost");
        }
    }

    #[tokio::test]
    async fn every_event_is_kept_in_the_journal_with_what_it_matched_though_nobody_watches() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(8);
        bus.subscribe(scope("dev"), "v.a@1.0.0", vec![("h".into(), sub("x.y", "k"))], tx);
        assert!(!bus.watched());
        let (matched, _) = bus.publish(&scope("dev"), "x.y", "k", "", json!({"n": 1})).await;
        let (unmatched, _) = bus.publish(&scope("dev"), "x.y", "other", "", json!({})).await;
        let delivery = rx.recv().await.unwrap();
        assert_eq!(delivery.seq, 1, "the delivery names its event's seq in the journal");
        let kept = bus.journal().event_detail(&matched.id).unwrap();
        assert_eq!(
            kept.deliveries.iter().map(|d| (d.app.as_str(), d.handler.as_str())).collect::<Vec<_>>(),
            [("v.a@1.0.0", "h")]
        );
        assert!(Arc::ptr_eq(&kept.event, &matched), "the journal shares the bus's event");
        let unmatched = bus.journal().event_detail(&unmatched.id).unwrap();
        assert_eq!((unmatched.seq, unmatched.deliveries.len()), (2, 0));
        delivery.ticket.delivered();
    }

    #[tokio::test]
    async fn full_queue_makes_publisher_wait() {
        let bus = Bus::new();
        let (tx, mut rx) = mpsc::channel(1);
        bus.subscribe(scope("dev"), "v.a@1.0.0", vec![("h".into(), sub("x.y", "k"))], tx);
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
