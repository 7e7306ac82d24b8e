//! Delivery of events to one app's handlers: the retry policy from the app's
//! `clients.options.events` (VTEX's arithmetic), and the dispatcher that runs each delivery
//! with a bounded number in flight, retrying with backoff until it succeeds or fails for good.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Activity, Bus, Counters, Delivery, Event, Outcome, Scope};
use crate::runtime::AttemptError;
use crate::terminal::{Level, Output, Terminal};

/// VTEX's defaults when an app sets nothing.
const DEFAULT_BACKOFF_MS: f64 = 200.0;
const DEFAULT_BACKOFF_COEFFICIENT: f64 = 2.0;
/// Per-attempt timeout when neither the client options nor service.json give one.
const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
/// Deliveries in flight per app when the app does not set `concurrency`.
const DEFAULT_CONCURRENCY: usize = 100;

/// The effective delivery policy for one app.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub retries: u32,
    pub timeout_ms: f64,
    pub timeout_coefficient: f64,
    pub backoff_ms: f64,
    pub backoff_coefficient: f64,
    pub concurrency: usize,
}

impl Policy {
    /// `clients.options.events`, field by field over `clients.options.default`, over VTEX's
    /// defaults; the attempt timeout falls back to service.json's `timeout` (seconds).
    pub fn from_client_options(options: &Value, service_timeout_s: Option<u32>) -> Policy {
        let pick = |field: &str| -> Option<f64> {
            options
                .get("events")
                .and_then(|o| o.get(field))
                .and_then(Value::as_f64)
                .or_else(|| options.get("default").and_then(|o| o.get(field)).and_then(Value::as_f64))
        };
        Policy {
            retries: pick("retries").map_or(0, |r| r.max(0.0) as u32),
            timeout_ms: pick("timeout")
                .filter(|t| *t > 0.0)
                .unwrap_or_else(|| service_timeout_s.map_or(DEFAULT_TIMEOUT_MS, |s| f64::from(s) * 1000.0)),
            timeout_coefficient: pick("exponentialTimeoutCoefficient").filter(|c| *c > 0.0).unwrap_or(1.0),
            backoff_ms: pick("initialBackoffDelay").filter(|d| *d >= 0.0).unwrap_or(DEFAULT_BACKOFF_MS),
            backoff_coefficient: pick("exponentialBackoffCoefficient")
                .filter(|c| *c > 0.0)
                .unwrap_or(DEFAULT_BACKOFF_COEFFICIENT),
            concurrency: pick("concurrency").filter(|c| *c >= 1.0).map_or(DEFAULT_CONCURRENCY, |c| c as usize),
        }
    }

    /// Timeout of attempt `n` (1-based): `timeout × exponentialTimeoutCoefficient^(n−1)`.
    pub fn attempt_timeout(&self, attempt: u32) -> Duration {
        Duration::from_secs_f64(self.timeout_ms * self.timeout_coefficient.powi(attempt as i32 - 1) / 1000.0)
    }

    /// Wait before retry `n` (1-based): `initialBackoffDelay × coefficient^(n−1)`, plus
    /// `jitter` (0..1) × 20 %.
    pub fn retry_delay(&self, retry: u32, jitter: f64) -> Duration {
        let base = self.backoff_ms * self.backoff_coefficient.powi(retry as i32 - 1);
        Duration::from_secs_f64(base * (1.0 + 0.2 * jitter.clamp(0.0, 1.0)) / 1000.0)
    }

    /// One line for the link banner.
    pub fn describe(&self) -> String {
        let retries = match self.retries {
            0 => "no retries".to_string(),
            1 => "1 retry".to_string(),
            n => format!("{n} retries"),
        };
        let timeout = if self.timeout_coefficient == 1.0 {
            format!("timeout {} ms per attempt", self.timeout_ms)
        } else {
            format!("timeout {} ms ×{} per retry", self.timeout_ms, self.timeout_coefficient)
        };
        let backoff = if self.retries == 0 {
            String::new()
        } else {
            format!(", backoff {} ms ×{} (+≤20% jitter)", self.backoff_ms, self.backoff_coefficient)
        };
        format!("{retries}, {timeout}{backoff}, concurrency {}", self.concurrency)
    }
}

/// Where attempts run: the app's live Node worker (or a fake in tests).
pub trait Target: Send + Sync + 'static {
    /// Runs one attempt; resolves when the handler finished or the process died.
    fn deliver(&self, d: &Delivery, attempt: u32) -> impl Future<Output = Result<(), AttemptError>> + Send;
    /// False once the process has exited.
    fn is_running(&self) -> bool;
    /// After an attempt timed out: whether the process still answers. One that does not
    /// (an endless synchronous loop) is killed here, and link restarts it.
    fn check_responsive(&self) -> impl Future<Output = bool> + Send;
}

/// The app version currently serving deliveries; `None` while none has loaded. Relinks swap
/// it; attempts already running keep the worker they started on.
pub type Current<W> = watch::Receiver<Option<Arc<W>>>;

/// One failed attempt, as dead letters keep it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub elapsed_ms: f64,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// An event whose last attempt at one handler failed.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub event: Arc<Event>,
    pub app: String,
    pub handler: String,
    pub attempts: Vec<AttemptRecord>,
    pub failed_at: String,
}

/// The session's dead letters, oldest first; replays take them out.
#[derive(Default)]
pub struct DeadLetters {
    letters: Mutex<Vec<DeadLetter>>,
}

impl DeadLetters {
    pub fn push(&self, letter: DeadLetter) {
        self.letters.lock().unwrap().push(letter);
    }

    pub fn list(&self) -> Vec<DeadLetter> {
        self.letters.lock().unwrap().clone()
    }

    /// Removes and returns the letters of one event (all of them with `None`).
    pub fn take(&self, event_id: Option<&str>) -> Vec<DeadLetter> {
        let mut letters = self.letters.lock().unwrap();
        let (taken, kept) = letters.drain(..).partition(|l| event_id.is_none_or(|id| l.event.id == id));
        *letters = kept;
        taken
    }
}

/// Everything the dispatcher of one app needs.
pub struct Dispatcher<W: Target> {
    pub scope: Scope,
    pub app: String,
    pub bus: Arc<Bus>,
    pub terminal: Terminal,
    pub policy: Arc<Mutex<Policy>>,
    pub worker: Current<W>,
    pub dead: Arc<DeadLetters>,
    /// The app's own counts (the bus has the workspace's).
    pub counters: Arc<Counters>,
    pub tracker: TaskTracker,
    /// Graceful stop: no new deliveries are started, waiting retries give up.
    pub stop: CancellationToken,
}

impl<W: Target> Dispatcher<W> {
    /// Takes deliveries off the app's queue until it closes or stop is signalled.
    pub async fn run(self, mut queue: mpsc::Receiver<Delivery>) {
        let concurrency = self.policy.lock().unwrap().concurrency;
        let permits = Arc::new(Semaphore::new(concurrency));
        let this = Arc::new(self);
        loop {
            let delivery = tokio::select! {
                d = queue.recv() => match d { Some(d) => d, None => break },
                _ = this.stop.cancelled() => break,
            };
            // Waiting for a permit here stops taking from the queue, so publishers feel it.
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
                _ = this.stop.cancelled() => { this.give_up(&delivery, "link stopped before it could run").await; break }
            };
            let me = this.clone();
            this.tracker.spawn(async move {
                me.deliver(delivery).await;
                drop(permit);
            });
        }
        // Whatever is still queued at stop is failed, and counted so.
        queue.close();
        while let Ok(d) = queue.try_recv() {
            this.give_up(&d, "link stopped before it could run").await;
        }
    }

    async fn give_up(&self, d: &Delivery, why: &str) {
        self.count(|c| &c.failed);
        self.report(d, Outcome::Failed, 0, 0.0, Some(why.to_string()), None);
    }

    /// Runs all attempts of one delivery.
    async fn deliver(&self, d: Delivery) {
        let policy = self.policy.lock().unwrap().clone();
        let attempts = policy.retries + 1;
        let mut history = Vec::new();
        for attempt in 1..=attempts {
            let limit = policy.attempt_timeout(attempt);
            let start = Instant::now();
            let result = tokio::time::timeout(limit, self.attempt(&d, attempt)).await;
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            let error = match result {
                Ok(Ok(())) => {
                    self.count(|c| &c.delivered);
                    self.report(&d, Outcome::Ok, attempt, elapsed_ms, None, None);
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    let mut message = format!("timed out after {} ms (attempt abandoned)", limit.as_millis());
                    let live = self.worker.borrow().clone();
                    if let Some(w) = live {
                        if !w.check_responsive().await {
                            message.push_str("; the Node.js process was blocked and did not answer, so it was killed and will restart");
                        }
                    }
                    AttemptError { message, stack: None }
                }
            };
            let last = attempt == attempts;
            let delay = (!last).then(|| policy.retry_delay(attempt, crate::random::fraction()));
            let mut line =
                format!("{} failed (attempt {attempt}/{attempts}, event {}): {}", d.handler, d.event.id, error.message);
            if let Some(stack) = error.stack.as_deref().and_then(|s| s.split_once('\n')).map(|(_, frames)| frames) {
                line.push('\n');
                line.push_str(stack);
            }
            match delay {
                Some(delay) => line.push_str(&format!("\nretrying in {} ms", delay.as_millis())),
                None if attempts > 1 => {
                    line.push_str("\nno retries left: the event failed (see `ioctl events failed`)")
                }
                None => line.push_str("\nthe event failed (see `ioctl events failed`)"),
            }
            self.terminal
                .send(Output::Log {
                    level: Level::Error,
                    message: line,
                    app: Some(self.app.clone()),
                    handler: Some(d.handler.to_string()),
                })
                .await;
            history.push(AttemptRecord {
                attempt,
                elapsed_ms: (elapsed_ms * 100.0).round() / 100.0,
                error: error.message.clone(),
                stack: error.stack.clone(),
            });
            if last {
                self.count(|c| &c.failed);
                self.dead.push(DeadLetter {
                    event: d.event.clone(),
                    app: self.app.clone(),
                    handler: d.handler.to_string(),
                    attempts: std::mem::take(&mut history),
                    failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                });
            }
            let outcome = if last { Outcome::Failed } else { Outcome::Retry };
            self.report(&d, outcome, attempt, elapsed_ms, Some(error.message), delay.map(|d| d.as_millis() as u64));
            if let Some(delay) = delay {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = self.stop.cancelled() => {
                        self.give_up(&d, "link stopped while waiting to retry").await;
                        return;
                    }
                }
            }
        }
    }

    /// Counts an outcome for the workspace and for the app.
    fn count(&self, which: impl Fn(&Counters) -> &AtomicU64) {
        which(&self.bus.counters).fetch_add(1, Ordering::SeqCst);
        which(&self.counters).fetch_add(1, Ordering::SeqCst);
    }

    /// One attempt on whichever worker is live now (waiting for one if none runs yet).
    async fn attempt(&self, d: &Delivery, attempt: u32) -> Result<(), AttemptError> {
        let mut current = self.worker.clone();
        let worker = loop {
            if let Some(w) = current.borrow_and_update().clone() {
                if w.is_running() {
                    break w;
                }
            }
            if current.changed().await.is_err() {
                return Err(AttemptError { message: "the app was unlinked".into(), stack: None });
            }
        };
        worker.deliver(d, attempt).await
    }

    fn report(
        &self,
        d: &Delivery,
        outcome: Outcome,
        attempt: u32,
        elapsed_ms: f64,
        error: Option<String>,
        retry_in_ms: Option<u64>,
    ) {
        // Records are for tails; build none when nobody watches.
        if !self.bus.watched() {
            return;
        }
        self.bus.report(Activity::Delivery {
            scope: self.scope.clone(),
            event_id: d.event.id.clone(),
            app: self.app.clone(),
            handler: d.handler.clone(),
            outcome,
            attempt,
            elapsed_ms,
            error,
            retry_in_ms,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn course() -> Policy {
        Policy::from_client_options(
            &json!({
                "default": {"retries": 2, "timeout": 800},
                "events": {"exponentialTimeoutCoefficient": 2, "exponentialBackoffCoefficient": 2,
                           "initialBackoffDelay": 50, "retries": 1, "timeout": 3000, "concurrency": 10}
            }),
            Some(10),
        )
    }

    #[test]
    fn events_options_override_default() {
        let p = course();
        assert_eq!(p.retries, 1);
        assert_eq!(p.timeout_ms, 3000.0);
        assert_eq!(p.concurrency, 10);
        assert_eq!(
            p.describe(),
            "1 retry, timeout 3000 ms ×2 per retry, backoff 50 ms ×2 (+≤20% jitter), concurrency 10"
        );
    }

    #[test]
    fn falls_back_to_default_then_vtex_then_service_json() {
        let p = Policy::from_client_options(&json!({"default": {"retries": 3}}), Some(5));
        assert_eq!(p.retries, 3);
        assert_eq!(p.timeout_ms, 5000.0);
        assert_eq!((p.backoff_ms, p.backoff_coefficient, p.timeout_coefficient), (200.0, 2.0, 1.0));
        let p = Policy::from_client_options(&json!({}), None);
        assert_eq!((p.retries, p.timeout_ms, p.concurrency), (0, 10_000.0, DEFAULT_CONCURRENCY));
    }

    #[test]
    fn vtex_arithmetic() {
        let p = course();
        assert_eq!(p.attempt_timeout(1), Duration::from_millis(3000));
        assert_eq!(p.attempt_timeout(2), Duration::from_millis(6000));
        assert_eq!(p.retry_delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.retry_delay(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.retry_delay(3, 1.0), Duration::from_millis(240));
        for _ in 0..100 {
            let d = p.retry_delay(1, crate::random::fraction());
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(60), "{d:?}");
        }
    }

    /// A scripted target: each attempt takes `work` and then fails while `fail_first` says so.
    struct Fake {
        work: Duration,
        fail_first: u32,
        hang: bool,
        calls: Mutex<Vec<(u32, Instant)>>,
        running: std::sync::atomic::AtomicUsize,
        max_running: std::sync::atomic::AtomicUsize,
    }

    impl Fake {
        fn new(work_ms: u64, fail_first: u32, hang: bool) -> Arc<Fake> {
            Arc::new(Fake {
                work: Duration::from_millis(work_ms),
                fail_first,
                hang,
                calls: Mutex::default(),
                running: Default::default(),
                max_running: Default::default(),
            })
        }
    }

    impl Target for Fake {
        async fn deliver(&self, _d: &Delivery, attempt: u32) -> Result<(), AttemptError> {
            self.calls.lock().unwrap().push((attempt, Instant::now()));
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            if self.hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.work).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if attempt <= self.fail_first {
                Err(AttemptError { message: format!("fail {attempt}"), stack: None })
            } else {
                Ok(())
            }
        }
        fn is_running(&self) -> bool {
            true
        }
        async fn check_responsive(&self) -> bool {
            true
        }
    }

    struct Rig {
        bus: Arc<Bus>,
        dead: Arc<DeadLetters>,
        queue: mpsc::Sender<Delivery>,
        stop: CancellationToken,
        tracker: TaskTracker,
    }

    fn rig(policy: Policy, target: Arc<Fake>) -> Rig {
        let bus = Bus::new();
        let dead = Arc::new(DeadLetters::default());
        let terminal = Terminal::discard();
        let (_keep, worker) = watch::channel(Some(target));
        std::mem::forget(_keep);
        let (queue, rx) = mpsc::channel(16);
        let stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let scope = Scope { account: "a".into(), workspace: "w".into() };
        let sub: crate::app::EventSubscription = serde_json::from_value(json!({"keys": ["k"]})).unwrap();
        bus.subscribe(scope, vec![("h".into(), sub)], queue.clone(), Arc::default());
        let d = Dispatcher {
            scope: Scope { account: "a".into(), workspace: "w".into() },
            app: "v.app@1.0.0".into(),
            bus: bus.clone(),
            terminal,
            policy: Arc::new(Mutex::new(policy)),
            worker,
            dead: dead.clone(),
            counters: Arc::default(),
            tracker: tracker.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(d.run(rx));
        Rig { bus, dead, queue, stop, tracker }
    }

    async fn publish(r: &Rig, n: usize) {
        let scope = Scope { account: "a".into(), workspace: "w".into() };
        for i in 0..n {
            r.bus.publish(&scope, "x.y", "k", "", json!(i)).await;
        }
    }

    async fn settle(r: &Rig) {
        for _ in 0..10_000 {
            let c = r.bus.counters.snapshot();
            if c.in_flight == 0 && c.deliveries > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("deliveries did not settle: {:?}", r.bus.counters.snapshot());
    }

    #[tokio::test(start_paused = true)]
    async fn retries_follow_the_backoff_schedule_then_succeed() {
        let p = Policy {
            retries: 3,
            timeout_ms: 1000.0,
            timeout_coefficient: 1.0,
            backoff_ms: 100.0,
            backoff_coefficient: 2.0,
            concurrency: 1,
        };
        let fake = Fake::new(10, 2, false);
        let r = rig(p, fake.clone());
        publish(&r, 1).await;
        settle(&r).await;
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        // attempt 2 starts 10 ms (work) + 100..120 ms (backoff 1) after attempt 1, attempt 3 10 + 200..240 ms after 2.
        let gap1 = calls[1].1 - calls[0].1;
        let gap2 = calls[2].1 - calls[1].1;
        assert!(gap1 >= Duration::from_millis(110) && gap1 <= Duration::from_millis(131), "{gap1:?}");
        assert!(gap2 >= Duration::from_millis(210) && gap2 <= Duration::from_millis(251), "{gap2:?}");
        let c = r.bus.counters.snapshot();
        assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (1, 1, 0, 0));
        assert!(r.dead.list().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn always_failing_ends_in_a_dead_letter_with_every_attempt() {
        let p = Policy {
            retries: 2,
            timeout_ms: 1000.0,
            timeout_coefficient: 1.0,
            backoff_ms: 50.0,
            backoff_coefficient: 2.0,
            concurrency: 5,
        };
        let r = rig(p, Fake::new(1, u32::MAX, false));
        publish(&r, 3).await;
        settle(&r).await;
        let c = r.bus.counters.snapshot();
        assert_eq!((c.deliveries, c.delivered, c.failed), (3, 0, 3));
        let dead = r.dead.list();
        assert_eq!(dead.len(), 3);
        assert_eq!(
            dead[0].attempts.iter().map(|a| a.error.as_str()).collect::<Vec<_>>(),
            vec!["fail 1", "fail 2", "fail 3"]
        );
        let id = dead[1].event.id.clone();
        assert_eq!(r.dead.take(Some(&id)).len(), 1);
        assert_eq!(r.dead.list().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn attempt_timeouts_grow_by_the_coefficient() {
        let p = Policy {
            retries: 2,
            timeout_ms: 100.0,
            timeout_coefficient: 3.0,
            backoff_ms: 10.0,
            backoff_coefficient: 1.0,
            concurrency: 1,
        };
        let fake = Fake::new(0, 0, true);
        let r = rig(p, fake.clone());
        publish(&r, 1).await;
        settle(&r).await;
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        let gap1 = calls[1].1 - calls[0].1; // 100 ms timeout + 10..12 ms backoff
        let gap2 = calls[2].1 - calls[1].1; // 300 ms timeout + 10..12 ms backoff
        assert!(gap1 >= Duration::from_millis(110) && gap1 <= Duration::from_millis(113), "{gap1:?}");
        assert!(gap2 >= Duration::from_millis(310) && gap2 <= Duration::from_millis(313), "{gap2:?}");
        let dead = r.dead.list();
        assert!(dead[0].attempts[2].error.starts_with("timed out after 900 ms"), "{:?}", dead[0].attempts);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_caps_deliveries_in_flight() {
        let p = Policy {
            retries: 0,
            timeout_ms: 10_000.0,
            timeout_coefficient: 1.0,
            backoff_ms: 10.0,
            backoff_coefficient: 1.0,
            concurrency: 4,
        };
        let fake = Fake::new(50, 0, false);
        let r = rig(p, fake.clone());
        let bus = r.bus.clone();
        let publisher = tokio::spawn(async move {
            let scope = Scope { account: "a".into(), workspace: "w".into() };
            for i in 0..40 {
                bus.publish(&scope, "x.y", "k", "", json!(i)).await;
            }
        });
        publisher.await.unwrap();
        settle(&r).await;
        while r.bus.counters.snapshot().delivered < 40 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fake.max_running.load(Ordering::SeqCst), 4);
        assert_eq!(r.bus.counters.snapshot().delivered, 40);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_fails_waiting_retries_and_counts_them() {
        let p = Policy {
            retries: 1,
            timeout_ms: 1000.0,
            timeout_coefficient: 1.0,
            backoff_ms: 10_000.0,
            backoff_coefficient: 1.0,
            concurrency: 2,
        };
        let r = rig(p, Fake::new(1, 1, false));
        publish(&r, 2).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(r.bus.counters.snapshot().in_flight, 2, "both wait to retry");
        r.stop.cancel();
        r.tracker.close();
        r.tracker.wait().await;
        let c = r.bus.counters.snapshot();
        assert_eq!((c.delivered, c.failed, c.in_flight), (0, 2, 0));
        drop(r.queue);
    }
}
