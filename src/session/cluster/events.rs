//! One linked app's share of its team workspace's events: the app's durable pull consumer on
//! the workspace's stream (shared by its replicas on every machine, so each event goes to one
//! of them), pulled only as far as this machine has room, each event delivered by the app's
//! own dispatcher (retries, timeouts, concurrency, dead letters) and acknowledged only once
//! every delivery of it ended delivered or failed. An event whose machine dies unacknowledged
//! comes back after [`ACK_WAIT`] to a replica (itself, when it is back).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer, DeliverPolicy};
use async_nats::jetstream::{AckKind, Message};
use futures_util::stream::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Cluster;
use crate::protocol::cluster as wire;
use crate::protocol::stream::{Level, Output};
use crate::session::bus::{Bus, Settled, SubscriberId};
use crate::terminal::Terminal;

/// How long NATS waits for an event's acknowledgement before it hands the event to another
/// replica; a delivery still running says so every [`PROGRESS_EVERY`].
pub const ACK_WAIT: Duration = Duration::from_secs(10);
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// Events this machine holds for one app at most (pulled, not yet acknowledged): the app's
/// queue bound, so the dispatcher is never handed more than it has room for.
pub const ROOM: usize = 1024;
/// Events unacknowledged across all the replicas of an app.
const MAX_ACK_PENDING: i64 = 20_000;
/// How long one pull waits for events when there are none.
const PULL_WAIT: Duration = Duration::from_secs(5);
/// A consumer nobody pulls from for this long is removed by the server.
const INACTIVE: Duration = Duration::from_secs(3600);

/// What one app's puller needs.
pub struct Puller {
    pub cluster: Arc<Cluster>,
    pub bus: Arc<Bus>,
    /// The app's subscription on this session's bus (its handlers, its queue).
    pub subscriber: SubscriberId,
    /// `vendor.name@version`.
    pub app: Arc<str>,
    pub terminal: Terminal,
    /// The app's tasks: each pulled event's wait for its deliveries runs there.
    pub tracker: TaskTracker,
    /// The app's deliveries stop: no more pulls (what is held is handed back).
    pub stop: CancellationToken,
}

impl Puller {
    /// Pulls the app's events until `stop`.
    pub async fn run(self) {
        // Events published from the moment the app is linked here (the consumer may exist
        // already: then where its replicas left off).
        let since = chrono::Utc::now() - chrono::Duration::seconds(1);
        let Some(consumer) = self.consumer(since).await else { return };
        let room = Arc::new(Semaphore::new(ROOM));
        let me = Arc::new(self);
        let mut warned = false;
        loop {
            let first = tokio::select! {
                p = room.clone().acquire_owned() => p.expect("never closed"),
                _ = me.stop.cancelled() => return,
            };
            let mut permits = vec![first];
            while let Ok(p) = room.clone().try_acquire_owned() {
                permits.push(p);
            }
            let batch = consumer.batch().max_messages(permits.len()).expires(PULL_WAIT).messages();
            let mut batch = tokio::select! {
                b = batch => match b {
                    Ok(b) => b,
                    Err(e) => {
                        if !warned {
                            warned = true;
                            tracing::warn!(app = %me.app, error = %e, "cannot pull events from the team workspace; retrying");
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                            _ = me.stop.cancelled() => return,
                        }
                    }
                },
                _ = me.stop.cancelled() => return,
            };
            loop {
                let next = tokio::select! {
                    n = batch.next() => n,
                    _ = me.stop.cancelled() => return,
                };
                match next {
                    Some(Ok(message)) => {
                        warned = false;
                        let permit = permits.pop().expect("a pull asks for no more than its permits");
                        me.take(message, permit).await;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(app = %me.app, error = %e, "pull ended");
                        break;
                    }
                    None => break,
                }
            }
        }
    }

    /// The app's consumer, made if no replica made it yet; retried while the server is away.
    async fn consumer(&self, since: chrono::DateTime<chrono::Utc>) -> Option<Consumer<pull::Config>> {
        let name = wire::consumer_name(&self.app);
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::ByStartTime { start_time: since },
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: MAX_ACK_PENDING,
            filter_subject: wire::events_subject(self.cluster.scope()),
            inactive_threshold: INACTIVE,
            ..Default::default()
        };
        loop {
            match self.cluster.stream.get_or_create_consumer(&name, config.clone()).await {
                Ok(c) => return Some(c),
                Err(e) => {
                    tracing::warn!(app = %self.app, error = %e, "cannot make the app's consumer in the team workspace; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.stop.cancelled() => return None,
            }
        }
    }

    /// Hands one pulled event to the app's dispatcher (one delivery per matching handler) and
    /// acknowledges it once they all ended; holds `permit` (room) until then.
    async fn take(self: &Arc<Self>, message: Message, permit: OwnedSemaphorePermit) {
        let event = match wire::decode_event(&message.payload) {
            Ok(e) => Arc::new(e),
            Err(why) => {
                tracing::warn!(app = %self.app, subject = %message.subject, "{why}: dropped from the stream");
                let _ = message.ack_with(AckKind::Term).await;
                return;
            }
        };
        // A replay (`events replay` on any machine) is for one app's handler: the others'
        // consumers see it too and let it go.
        let header = |name: &str| message.headers.as_ref()?.get(name).map(|v| v.as_str().to_string());
        let only = match header(wire::REPLAY_APP) {
            Some(app) if app != *self.app => {
                let _ = message.ack().await;
                return;
            }
            Some(_) => header(wire::REPLAY_HANDLER),
            None => None,
        };
        let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
        let prior = u32::try_from(delivered.saturating_sub(1)).unwrap_or(u32::MAX);
        let Some(accepted) = self.bus.accept_remote(self.subscriber, event.clone(), prior, only.as_deref()) else {
            // Unlinked meanwhile: another replica (or this one, back) takes it.
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return;
        };
        if accepted.deliveries.is_empty() {
            // None of the app's handlers subscribes to it.
            let _ = message.ack().await;
            return;
        }
        if delivered > 1 {
            let line = format!(
                "event {} came back from the team workspace (its delivery {delivered}, each earlier one counted as an \
                 attempt): a machine stopped before it ended, or did not say it ran within {} s",
                event.id,
                ACK_WAIT.as_secs()
            );
            let msg = Output::Log { level: Level::Warn, message: line, app: Some(self.app.to_string()), handler: None };
            self.terminal.send(msg).await;
        }
        let me = self.clone();
        self.tracker.spawn(async move {
            let _room = permit;
            let mut settles = Vec::with_capacity(accepted.deliveries.len());
            for (delivery, settled) in accepted.deliveries {
                match accepted.queue.reserve().await {
                    Ok(slot) => slot.send(delivery),
                    Err(_) => delivery.ticket.gave_up(),
                }
                settles.push(settled);
            }
            let all = futures_util::future::join_all(settles);
            tokio::pin!(all);
            let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
            let ended = loop {
                tokio::select! {
                    ended = &mut all => break ended,
                    _ = progress.tick() => { let _ = message.ack_with(AckKind::Progress).await; }
                }
            };
            // Handed back when any delivery did not run to its end here (the link stopping).
            let done = ended.iter().all(|e| matches!(e, Ok(Settled::Done)));
            let kind = if done { AckKind::Ack } else { AckKind::Nak(None) };
            if let Err(e) = message.ack_with(kind).await {
                tracing::warn!(app = %me.app, event = %event.id, error = %e, "could not acknowledge: the team workspace will deliver it again");
            }
        });
    }
}
