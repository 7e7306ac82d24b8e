//! Delivery of events to one app's handlers: the retry policy from the app's
//! `clients.options.events` (VTEX's arithmetic, with every option bounded), the dispatcher
//! that runs each delivery with at most `concurrency` attempts running, retrying with backoff
//! until it succeeds or fails for good, and the dead letters of failed events. Each attempt
//! is a trace of the session's journal (the host tags the calls made in it) and is kept there.

use crate::lock::Locked;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::bus::{Activity, Bus, Delivery};
use crate::protocol::dashboard::TraceKind;
use crate::protocol::stream::{Level, Outcome, Output};
use crate::protocol::{AttemptRecord, DeadLetter, Event, Scope};
use crate::runtime::{AttemptError, Worker};
use crate::session::dashboard::journal::DeliveryReport;
use crate::terminal::Terminal;

/// VTEX's defaults when an app sets nothing.
const DEFAULT_BACKOFF_MS: f64 = 200.0;
const DEFAULT_BACKOFF_COEFFICIENT: f64 = 2.0;
/// Per-attempt timeout when neither the client options nor service.json give one.
const DEFAULT_TIMEOUT_MS: f64 = 10_000.0;
/// Deliveries in flight per app when the app does not set `concurrency`.
const DEFAULT_CONCURRENCY: usize = 100;
/// No attempt may run, and no retry wait, longer than this (however the coefficients grow).
const MAX_WAIT_MS: f64 = 3_600_000.0;
/// Dead letters kept per app (newest kept; the dropped ones are counted).
pub const DEAD_LETTER_BOUND: usize = 1000;
/// Bytes of dead letters each app keeps at most (bodies, errors and stacks): past it, the
/// oldest are dropped (and counted), as past [`DEAD_LETTER_BOUND`].
pub const DEAD_LETTER_BYTES: usize = 32 << 20;
/// An attempt's error message or stack is kept up to this many bytes.
const ATTEMPT_TEXT_MAX: usize = 16 << 10;

/// `text`, cut to [`ATTEMPT_TEXT_MAX`] bytes (at a character boundary) with what was cut said.
fn bounded(text: &str) -> String {
    if text.len() <= ATTEMPT_TEXT_MAX {
        return text.to_string();
    }
    let mut end = ATTEMPT_TEXT_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes not kept)", &text[..end], text.len() - end)
}

/// About how many bytes a letter holds (what [`DEAD_LETTER_BYTES`] counts).
fn letter_bytes(l: &DeadLetter) -> usize {
    let body = serde_json::to_vec(&l.event.body).map_or(0, |b| b.len());
    let attempts: usize = l.attempts.iter().map(|a| 64 + a.error.len() + a.stack.as_ref().map_or(0, String::len)).sum();
    256 + body + l.event.key.len() + l.event.subject.len() + attempts
}

/// The accepted range of each delivery option; a value outside it is clamped, with a warning.
struct Bound {
    option: &'static str,
    min: f64,
    max: f64,
    /// Whether only whole numbers make sense (retries, concurrency).
    integer: bool,
}

const BOUNDS: [Bound; 6] = [
    Bound { option: "retries", min: 0.0, max: 100.0, integer: true },
    Bound { option: "timeout", min: 1.0, max: MAX_WAIT_MS, integer: false },
    Bound { option: "exponentialTimeoutCoefficient", min: 1.0, max: 10.0, integer: false },
    Bound { option: "initialBackoffDelay", min: 0.0, max: MAX_WAIT_MS, integer: false },
    Bound { option: "exponentialBackoffCoefficient", min: 1.0, max: 10.0, integer: false },
    Bound { option: "concurrency", min: 1.0, max: 10_000.0, integer: true },
];

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
    /// Values out of range are clamped into it: each such case is one warning in the result.
    pub fn from_client_options(options: &Value, service_timeout_s: Option<u32>) -> (Policy, Vec<String>) {
        let mut warnings = Vec::new();
        let mut pick = |field: &str| -> Option<f64> {
            let (scope, raw) = ["events", "default"]
                .iter()
                .find_map(|scope| options.get(*scope).and_then(|o| o.get(field)).map(|v| (*scope, v)))?;
            let bound = BOUNDS.iter().find(|b| b.option == field).expect("every option has a bound");
            let Some(v) = raw.as_f64().filter(|v| v.is_finite()) else {
                warnings.push(format!(
                    "clients.options.{scope}.{field} is {raw}, not a number: using the default (accepted: {} to {})",
                    bound.min, bound.max
                ));
                return None;
            };
            let clamped = if bound.integer { v.trunc() } else { v }.clamp(bound.min, bound.max);
            if clamped != v {
                warnings.push(format!(
                    // The value as written (JSON's short form for 1e30, not thirty digits).
                    "clients.options.{scope}.{field} is {raw}, outside {} to {}{}: using {clamped}",
                    bound.min,
                    bound.max,
                    if bound.integer { " (whole numbers)" } else { "" }
                ));
            }
            Some(clamped)
        };
        let timeout_ms = pick("timeout");
        // service.json's `timeout: 0` would time every delivery out at once.
        let mut service_warning = None;
        let service_timeout_s = match service_timeout_s {
            Some(0) if timeout_ms.is_none() => {
                service_warning = Some(format!(
                    "node/service.json timeout is 0 s, outside 1 to {} s: every delivery would time out; using {} s",
                    MAX_WAIT_MS / 1000.0,
                    DEFAULT_TIMEOUT_MS / 1000.0
                ));
                None
            }
            s => s,
        };
        let policy = Policy {
            retries: pick("retries").map_or(0, |r| r as u32),
            timeout_ms: timeout_ms
                .unwrap_or_else(|| service_timeout_s.map_or(DEFAULT_TIMEOUT_MS, |s| f64::from(s) * 1000.0))
                .min(MAX_WAIT_MS),
            timeout_coefficient: pick("exponentialTimeoutCoefficient").unwrap_or(1.0),
            backoff_ms: pick("initialBackoffDelay").unwrap_or(DEFAULT_BACKOFF_MS),
            backoff_coefficient: pick("exponentialBackoffCoefficient").unwrap_or(DEFAULT_BACKOFF_COEFFICIENT),
            concurrency: pick("concurrency").map_or(DEFAULT_CONCURRENCY, |c| c as usize),
        };
        warnings.extend(service_warning);
        (policy, warnings)
    }

    /// Timeout of attempt `n` (1-based): `timeout × exponentialTimeoutCoefficient^(n−1)`,
    /// at most an hour.
    pub fn attempt_timeout(&self, attempt: u32) -> Duration {
        millis(self.timeout_ms * self.timeout_coefficient.powi(exponent(attempt)))
    }

    /// Wait before retry `n` (1-based): `initialBackoffDelay × coefficient^(n−1)`, plus
    /// `jitter` (0..1) × 20 %, at most an hour.
    pub fn retry_delay(&self, retry: u32, jitter: f64) -> Duration {
        let base = self.backoff_ms * self.backoff_coefficient.powi(exponent(retry));
        millis(base * (1.0 + 0.2 * jitter.clamp(0.0, 1.0)))
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

/// `n − 1` as a power, saturating (attempt numbers never exceed `retries + 1` ≤ 101).
fn exponent(n: u32) -> i32 {
    i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX)
}

/// Milliseconds as a duration, capped at [`MAX_WAIT_MS`]; NaN or negative is zero. Never panics.
fn millis(ms: f64) -> Duration {
    let ms = if ms.is_nan() { 0.0 } else { ms.clamp(0.0, MAX_WAIT_MS) };
    Duration::from_secs_f64(ms / 1000.0)
}

/// Where attempts run: the app's live Node worker (or a fake in tests).
pub trait Target: Send + Sync + 'static {
    /// Runs one attempt (its calls tagged with `trace`); resolves when the handler finished or
    /// the process died.
    fn deliver(
        &self,
        event: &Event,
        handler: &str,
        attempt: u32,
        trace: u64,
    ) -> impl Future<Output = Result<(), AttemptError>> + Send;
    /// False once the process has exited.
    fn is_running(&self) -> bool;
    /// After an attempt timed out: whether the process still answers. One that does not
    /// (an endless synchronous loop) is killed here, and link restarts it.
    fn check_responsive(&self) -> impl Future<Output = bool> + Send;
    /// Under `link --inspect`: whether it stands in the debugger (its attempts' time limits
    /// do not count that time).
    fn paused(&self) -> Option<&crate::runtime::pause::Paused> {
        None
    }
}

impl Target for Worker {
    async fn deliver(&self, event: &Event, handler: &str, attempt: u32, trace: u64) -> Result<(), AttemptError> {
        Worker::deliver(self, event, handler, attempt, trace).await
    }

    fn is_running(&self) -> bool {
        Worker::is_running(self)
    }

    async fn check_responsive(&self) -> bool {
        self.responsive(PING_LIMIT).await
    }

    fn paused(&self) -> Option<&crate::runtime::pause::Paused> {
        Worker::paused(self)
    }
}

/// How long a host whose handler timed out has to answer a ping before it counts as blocked.
const PING_LIMIT: Duration = Duration::from_secs(1);

/// The app version currently serving deliveries; `None` while none has loaded. Relinks swap
/// it; attempts already running keep the worker they started on.
pub type Current<W> = watch::Receiver<Option<Arc<W>>>;

/// The session's dead letters: per app, the newest [`DEAD_LETTER_BOUND`] kept, the number
/// dropped counted. Replays take them out.
#[derive(Default)]
pub struct DeadLetters {
    inner: Mutex<Letters>,
    /// Set in a team workspace: each new letter also goes there (the cluster's task holds
    /// the other end; full, a letter stays only here).
    shared: std::sync::OnceLock<tokio::sync::mpsc::Sender<Arc<DeadLetter>>>,
}

#[derive(Default)]
struct Letters {
    /// Oldest first, per app, with their sizes.
    by_app: HashMap<String, AppLetters>,
    dropped: BTreeMap<String, u64>,
}

#[derive(Default)]
struct AppLetters {
    letters: VecDeque<(Arc<DeadLetter>, usize)>,
    bytes: usize,
}

impl DeadLetters {
    /// Shares every later letter through `shared` (once, at start).
    pub fn share(&self, shared: tokio::sync::mpsc::Sender<Arc<DeadLetter>>) {
        let _ = self.shared.set(shared);
    }

    pub fn push(&self, letter: DeadLetter) {
        let letter = Arc::new(letter);
        if let Some(shared) = self.shared.get() {
            if shared.try_send(letter.clone()).is_err() {
                tracing::warn!(event = %letter.event.id, "too many dead letters at once: this one is not shared with the team workspace");
            }
        }
        let mut inner = self.inner.locked();
        let app = letter.app.clone();
        let size = letter_bytes(&letter);
        let kept = inner.by_app.entry(app.clone()).or_default();
        kept.letters.push_back((letter, size));
        kept.bytes += size;
        let mut dropped = 0;
        while kept.letters.len() > DEAD_LETTER_BOUND || (kept.bytes > DEAD_LETTER_BYTES && kept.letters.len() > 1) {
            let (_, size) = kept.letters.pop_front().expect("more than one letter");
            kept.bytes -= size;
            dropped += 1;
        }
        if dropped > 0 {
            *inner.dropped.entry(app).or_default() += dropped;
        }
    }

    /// Every kept letter, oldest first (cheap: the letters are shared, not copied).
    pub fn list(&self) -> Vec<Arc<DeadLetter>> {
        let inner = self.inner.locked();
        let mut all: Vec<Arc<DeadLetter>> =
            inner.by_app.values().flat_map(|a| a.letters.iter().map(|(l, _)| l.clone())).collect();
        all.sort_by(|a, b| a.failed_at.cmp(&b.failed_at));
        all
    }

    /// How many letters each app had to drop.
    pub fn dropped(&self) -> BTreeMap<String, u64> {
        self.inner.locked().dropped.clone()
    }

    /// Removes and returns the letters of one event (all of them with `None`).
    pub fn take(&self, event_id: Option<&str>) -> Vec<Arc<DeadLetter>> {
        self.take_of(None, event_id)
    }

    /// Removes and returns the letters of one app (`vendor.name`, any version, or
    /// `vendor.name@version`; every app's with `None`), of one event (all of them with `None`).
    pub fn take_of(&self, app: Option<&str>, event_id: Option<&str>) -> Vec<Arc<DeadLetter>> {
        let mut inner = self.inner.locked();
        let mut taken = Vec::new();
        for (_, app) in inner
            .by_app
            .iter_mut()
            .filter(|(name, _)| app.is_none_or(|a| a == name.as_str() || a == crate::app::id::unversioned(name)))
        {
            let (out, kept): (VecDeque<_>, VecDeque<_>) =
                app.letters.drain(..).partition(|(l, _)| event_id.is_none_or(|id| l.event.id == id));
            app.bytes = kept.iter().map(|(_, size)| size).sum();
            app.letters = kept;
            taken.extend(out.into_iter().map(|(l, _)| l));
        }
        taken.sort_by(|a, b| a.failed_at.cmp(&b.failed_at));
        taken
    }
}

/// At most `concurrency` attempts at once, resizable while deliveries run (a relink may
/// change the app's `concurrency`). Shrinking takes permits back as attempts finish.
/// By hand over tokio's `Semaphore`: it can add permits and forget free ones, but nothing in the
/// tree (tower's `ConcurrencyLimit` is fixed-size) retires the permits running attempts hold
/// when they come back, so a shrink below what is in use still bounds the next attempts.
struct Limiter {
    permits: Arc<Semaphore>,
    size: Mutex<usize>,
    /// Permits a shrink still has to retire: held by running attempts when it came.
    owed: AtomicUsize,
}

impl Limiter {
    fn new(size: usize) -> Limiter {
        Limiter { permits: Arc::new(Semaphore::new(size)), size: Mutex::new(size), owed: AtomicUsize::new(0) }
    }

    /// A permit for one attempt. Permits a shrink is owed are retired first, as they come
    /// back, so no attempt starts above the new limit.
    async fn acquire(&self) -> OwnedSemaphorePermit {
        loop {
            let permit = self.permits.clone().acquire_owned().await.expect("the limiter's semaphore is never closed");
            if self.owed.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| o.checked_sub(1)).is_err() {
                return permit;
            }
            permit.forget();
        }
    }

    /// Changes the limit: growing first cancels what a shrink is still owed, then adds permits;
    /// shrinking retires the free permits now and the rest as running attempts release them.
    fn resize(&self, size: usize) {
        let mut current = self.size.locked();
        if size > *current {
            let grow = size - *current;
            let owed = self.owed.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| Some(o.saturating_sub(grow)));
            self.permits.add_permits(grow - owed.unwrap_or(0).min(grow));
        } else if size < *current {
            let excess = *current - size;
            let retired = self.permits.forget_permits(excess);
            self.owed.fetch_add(excess - retired, Ordering::SeqCst);
        }
        *current = size;
    }
}

/// Everything the dispatcher of one app needs.
pub struct Dispatcher<W: Target> {
    pub scope: Scope,
    /// `vendor.name@version`.
    pub app: Arc<str>,
    pub bus: Arc<Bus>,
    pub terminal: Terminal,
    /// The app's policy; a relink sends a new one, which applies to the next attempts.
    pub policy: watch::Receiver<Policy>,
    pub worker: Current<W>,
    pub dead: Arc<DeadLetters>,
    pub tracker: TaskTracker,
    /// Graceful stop: no new deliveries are started, waiting retries give up.
    pub stop: CancellationToken,
}

impl<W: Target> Dispatcher<W> {
    /// Takes deliveries off the app's queue until it closes or stop is signalled.
    pub async fn run(mut self, mut queue: mpsc::Receiver<Delivery>) {
        let limiter = Arc::new(Limiter::new(self.policy.borrow_and_update().concurrency));
        let mut policy = self.policy.clone();
        let this = Arc::new(self);
        loop {
            // Biased: a new policy applies from the next delivery on, however full the queue.
            let delivery = tokio::select! {
                biased;
                Ok(()) = policy.changed() => {
                    let size = policy.borrow_and_update().concurrency;
                    limiter.resize(size);
                    continue;
                }
                _ = this.stop.cancelled() => break,
                d = queue.recv() => match d { Some(d) => d, None => break },
            };
            // Waiting for a permit here stops taking from the queue, so publishers feel it.
            let permit = tokio::select! {
                p = limiter.acquire() => p,
                _ = this.stop.cancelled() => { this.give_up(delivery, "link stopped before it could run"); break }
            };
            let (me, limiter) = (this.clone(), limiter.clone());
            this.tracker.spawn(async move { me.deliver(delivery, permit, &limiter).await });
        }
        // Whatever is still queued at stop is failed, and counted so.
        queue.close();
        while let Ok(d) = queue.try_recv() {
            this.give_up(d, "link stopped before it could run");
        }
    }

    fn give_up(&self, d: Delivery, why: &str) {
        let failed =
            Attempt { outcome: Outcome::Failed, attempt: 0, started_us: now_us(), elapsed_ms: 0.0, trace: None };
        self.report(&d, failed, Some(AttemptError { message: why.to_string(), stack: None }), None);
        d.ticket.gave_up();
    }

    /// Runs all attempts of one delivery. Each attempt holds a permit; waiting out a backoff
    /// holds none, so failing events do not starve the others.
    async fn deliver(&self, d: Delivery, first_permit: OwnedSemaphorePermit, limiter: &Limiter) {
        let mut permit = Some(first_permit);
        let mut history = Vec::new();
        let mut attempt = d.prior_attempts;
        loop {
            attempt += 1;
            let policy = self.policy.borrow().clone();
            let attempts = policy.retries.max(attempt - 1) + 1;
            let held = match permit.take() {
                Some(p) => p,
                None => tokio::select! {
                    p = limiter.acquire() => p,
                    _ = self.stop.cancelled() => return self.give_up(d, "link stopped while waiting to retry"),
                },
            };
            // A process that is restarting is waited for; that wait is not an attempt.
            let Some(worker) = self.running_worker().await else {
                return self.give_up(d, "the app was unlinked before it could run");
            };
            let limit = policy.attempt_timeout(attempt);
            let journal = self.bus.journal();
            let trace = journal.begin_trace(TraceKind::Delivery, self.app.clone(), d.handler.clone());
            let started_us = now_us();
            let start = Instant::now();
            // Time spent paused in the debugger does not count (`link --inspect`).
            let running = worker.deliver(&d.event, &d.handler, attempt, trace);
            let result = crate::runtime::pause::timeout(worker.paused(), limit, running).await.ok_or(());
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            journal.end_trace(trace, elapsed_ms);
            let ran = |outcome| Attempt { outcome, attempt, started_us, elapsed_ms, trace: Some(trace) };
            let error = match result {
                Ok(Ok(())) => {
                    drop(held);
                    self.report(&d, ran(Outcome::Ok), None, None);
                    d.ticket.delivered();
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    let mut message = format!("timed out after {} ms (attempt abandoned)", limit.as_millis());
                    if !worker.is_running() {
                        message.push_str("; the Node.js process exited meanwhile");
                    } else if !worker.check_responsive().await {
                        message.push_str(
                            "; the Node.js process was blocked and did not answer, so it was killed and will restart",
                        );
                    }
                    AttemptError { message, stack: None }
                }
            };
            drop(held);
            let last = attempt >= attempts;
            let delay = (!last).then(|| policy.retry_delay(attempt, fastrand::f64()));
            self.say_failed(&d, attempt, attempts, &error, delay).await;
            history.push(AttemptRecord {
                attempt,
                elapsed_ms: (elapsed_ms * 100.0).round() / 100.0,
                error: bounded(&error.message),
                stack: error.stack.as_deref().map(bounded),
            });
            let outcome = if last { Outcome::Failed } else { Outcome::Retry };
            self.report(&d, ran(outcome), Some(error), delay.map(|d| d.as_millis() as u64));
            let Some(delay) = delay else {
                self.dead.push(DeadLetter {
                    event: d.event.clone(),
                    app: self.app.to_string(),
                    handler: d.handler.to_string(),
                    attempts: history,
                    failed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                });
                d.ticket.failed();
                return;
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop.cancelled() => return self.give_up(d, "link stopped while waiting to retry"),
            }
        }
    }

    /// The failed attempt in the link terminal, with its stack and what happens next.
    async fn say_failed(
        &self,
        d: &Delivery,
        attempt: u32,
        attempts: u32,
        error: &AttemptError,
        delay: Option<Duration>,
    ) {
        let mut line =
            format!("{} failed (attempt {attempt}/{attempts}, event {}): {}", d.handler, d.event.id, error.message);
        if let Some(stack) = error.stack.as_deref().and_then(|s| s.split_once('\n')).map(|(_, frames)| frames) {
            line.push('\n');
            line.push_str(stack);
        }
        match delay {
            Some(delay) => line.push_str(&format!("\nretrying in {} ms", delay.as_millis())),
            None if attempts > 1 => line.push_str("\nno retries left: the event failed (see `ioctl events failed`)"),
            None => line.push_str("\nthe event failed (see `ioctl events failed`)"),
        }
        // The logs page shows what the terminal does.
        self.bus.journal().log(&self.app, Level::Error, &line, Some(&d.handler));
        let msg = Output::Log {
            level: Level::Error,
            message: line,
            app: Some(self.app.to_string()),
            handler: Some(d.handler.to_string()),
        };
        self.terminal.send(msg).await;
    }

    /// The live worker, once one runs (a crashed one is being restarted); `None` when the app
    /// is unlinked or stopping first.
    async fn running_worker(&self) -> Option<Arc<W>> {
        let mut current = self.worker.clone();
        loop {
            if let Some(w) = current.borrow_and_update().clone() {
                if w.is_running() {
                    return Some(w);
                }
            }
            tokio::select! {
                changed = current.changed() => changed.ok()?,
                _ = self.stop.cancelled() => return None,
                // A worker that exited is replaced by a send on the channel; poll as a backstop.
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Keeps the attempt in the journal (always: its parts are shared or already made) and,
    /// while someone tails, reports it as activity.
    fn report(&self, d: &Delivery, a: Attempt, error: Option<AttemptError>, retry_in_ms: Option<u64>) {
        if self.bus.watched() || self.bus.shares() {
            self.bus.report(Activity::Delivery {
                scope: self.scope.clone(),
                event_id: d.event.id.clone(),
                app: self.app.to_string(),
                handler: d.handler.clone(),
                outcome: a.outcome,
                attempt: a.attempt,
                elapsed_ms: a.elapsed_ms,
                error: error.as_ref().map(|e| e.message.clone()),
                retry_in_ms,
                machine: None,
            });
        }
        let (error, stack) = match error {
            Some(e) => (Some(bounded(&e.message)), e.stack.as_deref().map(bounded)),
            None => (None, None),
        };
        self.bus.journal().attempt(DeliveryReport {
            seq: d.seq,
            event: d.event.clone(),
            app: self.app.clone(),
            handler: d.handler.clone(),
            attempt: a.attempt,
            started_us: a.started_us,
            elapsed_ms: a.elapsed_ms,
            outcome: a.outcome,
            error,
            stack,
            retry_in_ms,
            trace: a.trace,
        });
    }
}

/// How one attempt went (0: the delivery never ran).
struct Attempt {
    outcome: Outcome,
    attempt: u32,
    started_us: i64,
    elapsed_ms: f64,
    trace: Option<u64>,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::Ordering;

    fn course() -> Policy {
        policy(
            &json!({
                "default": {"retries": 2, "timeout": 800},
                "events": {"exponentialTimeoutCoefficient": 2, "exponentialBackoffCoefficient": 2,
                           "initialBackoffDelay": 50, "retries": 1, "timeout": 3000, "concurrency": 10}
            }),
            Some(10),
        )
    }

    fn policy(options: &Value, service_timeout_s: Option<u32>) -> Policy {
        let (p, warnings) = Policy::from_client_options(options, service_timeout_s);
        assert!(warnings.is_empty(), "{warnings:?}");
        p
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
        let p = policy(&json!({"default": {"retries": 3}}), Some(5));
        assert_eq!(p.retries, 3);
        assert_eq!(p.timeout_ms, 5000.0);
        assert_eq!((p.backoff_ms, p.backoff_coefficient, p.timeout_coefficient), (200.0, 2.0, 1.0));
        let p = policy(&json!({}), None);
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
            let d = p.retry_delay(1, fastrand::f64());
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(60), "{d:?}");
        }
    }

    /// A scripted target: each attempt takes `work` and then fails while `fail_first` says so.
    struct Fake {
        work: Duration,
        fail_first: u32,
        /// When set, only events with this body fail (the others succeed at once).
        fail_only: Option<Value>,
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
                fail_only: None,
                hang,
                calls: Mutex::default(),
                running: Default::default(),
                max_running: Default::default(),
            })
        }
    }

    impl Target for Fake {
        async fn deliver(&self, e: &Event, _h: &str, attempt: u32, _trace: u64) -> Result<(), AttemptError> {
            self.calls.locked().push((attempt, Instant::now()));
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_running.fetch_max(now, Ordering::SeqCst);
            if self.hang {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.work).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if attempt <= self.fail_first && self.fail_only.as_ref().is_none_or(|b| *b == e.body) {
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
        /// The app's subscription.
        sub: crate::session::bus::SubscriberId,
        dead: Arc<DeadLetters>,
        queue: mpsc::Sender<Delivery>,
        stop: CancellationToken,
        tracker: TaskTracker,
        /// What a relink does: a new policy for the next attempts.
        policy: watch::Sender<Policy>,
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
        let (sub, _) = bus.subscribe(scope, "v.app@1.0.0", vec![("h".into(), sub)], queue.clone());
        let (policy_tx, policy) = watch::channel(policy);
        let d = Dispatcher {
            scope: Scope { account: "a".into(), workspace: "w".into() },
            app: "v.app@1.0.0".into(),
            bus: bus.clone(),
            terminal,
            policy,
            worker,
            dead: dead.clone(),
            tracker: tracker.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(d.run(rx));
        Rig { bus, sub, dead, queue, stop, tracker, policy: policy_tx }
    }

    async fn publish(r: &Rig, n: usize) {
        let scope = Scope { account: "a".into(), workspace: "w".into() };
        for i in 0..n {
            r.bus.publish(&scope, "x.y", "k", "", json!(i)).await;
        }
    }

    async fn settle(r: &Rig) {
        for _ in 0..10_000 {
            let c = r.bus.counts();
            if c.in_flight == 0 && c.deliveries > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("deliveries did not settle: {:?}", r.bus.counts());
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
        let calls = fake.calls.locked().clone();
        assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        // attempt 2 starts 10 ms (work) + 100..120 ms (backoff 1) after attempt 1, attempt 3 10 + 200..240 ms after 2.
        let gap1 = calls[1].1 - calls[0].1;
        let gap2 = calls[2].1 - calls[1].1;
        assert!(gap1 >= Duration::from_millis(110) && gap1 <= Duration::from_millis(131), "{gap1:?}");
        assert!(gap2 >= Duration::from_millis(210) && gap2 <= Duration::from_millis(251), "{gap2:?}");
        let c = r.bus.counts();
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
        let c = r.bus.counts();
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
    async fn an_event_back_from_the_team_workspace_counts_its_earlier_deliveries_as_attempts() {
        let p = Policy {
            retries: 2,
            timeout_ms: 1000.0,
            timeout_coefficient: 1.0,
            backoff_ms: 50.0,
            backoff_coefficient: 2.0,
            concurrency: 5,
        };
        let fake = Fake::new(1, u32::MAX, false);
        let r = rig(p, fake.clone());
        let event = Arc::new(Event {
            id: "e-1".into(),
            sender: "x.y".into(),
            key: "k".into(),
            subject: String::new(),
            body: json!(1),
            time: 0,
        });
        // Delivered twice before by NATS (two machines stopped before it ended): one attempt left.
        let accepted = r.bus.accept_remote(r.sub, event, 2, None).unwrap();
        let mut settles = Vec::new();
        for (d, settled) in accepted.deliveries {
            r.queue.send(d).await.unwrap();
            settles.push(settled);
        }
        settle(&r).await;
        assert_eq!(fake.calls.locked().iter().map(|c| c.0).collect::<Vec<_>>(), vec![3]);
        let dead = r.dead.list();
        assert_eq!(dead[0].attempts.iter().map(|a| a.error.as_str()).collect::<Vec<_>>(), vec!["fail 3"]);
        for s in settles {
            assert_eq!(s.await.unwrap(), crate::session::bus::Settled::Done, "acknowledged: it failed for good");
        }
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
        let calls = fake.calls.locked().clone();
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
        while r.bus.counts().delivered < 40 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(fake.max_running.load(Ordering::SeqCst), 4);
        assert_eq!(r.bus.counts().delivered, 40);
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
        assert_eq!(r.bus.counts().in_flight, 2, "both wait to retry");
        r.stop.cancel();
        r.tracker.close();
        r.tracker.wait().await;
        let c = r.bus.counts();
        assert_eq!((c.delivered, c.failed, c.in_flight), (0, 2, 0));
        drop(r.queue);
    }

    fn fixed(retries: u32, backoff_ms: f64, concurrency: usize) -> Policy {
        Policy {
            retries,
            timeout_ms: 1000.0,
            timeout_coefficient: 1.0,
            backoff_ms,
            backoff_coefficient: 1.0,
            concurrency,
        }
    }

    /// Polls (in paused time) until `done`, at most `limit`; the paused clock advances as it
    /// sleeps, so this returns at the first millisecond the condition holds.
    async fn until(limit: Duration, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn counts_add_up(r: &Rig) {
        let c = r.bus.counts();
        assert_eq!(c.deliveries, c.delivered + c.failed + c.in_flight, "{c:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_waiting_out_its_backoff_does_not_block_a_healthy_delivery() {
        let fake =
            Arc::new(Fake { fail_only: Some(json!("bad")), ..Arc::into_inner(Fake::new(5, u32::MAX, false)).unwrap() });
        let r = rig(fixed(2, 10_000.0, 1), fake.clone());
        let scope = Scope { account: "a".into(), workspace: "w".into() };
        let start = Instant::now();
        r.bus.publish(&scope, "x.y", "k", "", json!("bad")).await;
        r.bus.publish(&scope, "x.y", "k", "", json!("good")).await;
        // The healthy one runs in the single slot while the failing one waits 10 s to retry.
        until(Duration::from_secs(5), "the healthy delivery", || r.bus.counts().delivered == 1).await;
        assert!(start.elapsed() < Duration::from_secs(1), "it waited for the backoff: {:?}", start.elapsed());
        assert_eq!(fake.calls.locked().len(), 2, "failing attempt 1, then the healthy one");
        assert_eq!(r.bus.counts().in_flight, 1, "the failing one is waiting to retry");
        counts_add_up(&r);
        until(Duration::from_secs(60), "the failing one to fail", || r.bus.counts().in_flight == 0).await;
        let c = r.bus.counts();
        assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (2, 1, 1, 0));
        assert_eq!(r.dead.list()[0].attempts.len(), 3);
        assert!(start.elapsed() >= Duration::from_secs(20), "two backoffs of 10 s: {:?}", start.elapsed());
    }

    /// A fixed-seed xorshift, so a failure names a reproducible case.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
            &from[(self.next() % from.len() as u64) as usize]
        }
    }

    #[test]
    fn extreme_options_never_panic_and_out_of_range_ones_are_named() {
        let values = [
            json!(1e30),
            json!(-1),
            json!("NaN"),
            json!("Infinity"),
            json!(0),
            json!(0.5),
            json!(1),
            json!(3),
            json!(100),
            json!(101),
            json!(1e9),
            json!(1e308),
            json!(-1e308),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(1e-300),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(10_000),
            json!(3_600_000),
            json!(3_600_001),
            json!(null),
            json!(true),
            json!("10"),
            json!([1]),
        ];
        let service_timeouts = [None, Some(0), Some(1), Some(u32::MAX)];
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        let hour = Duration::from_secs(3600);
        for case in 0..10_000 {
            let (mut events, mut default) = (serde_json::Map::new(), serde_json::Map::new());
            for bound in &BOUNDS {
                match rng.next() % 4 {
                    0 => {}
                    1 => {
                        events.insert(bound.option.into(), rng.pick(&values).clone());
                    }
                    2 => {
                        default.insert(bound.option.into(), rng.pick(&values).clone());
                    }
                    _ => {
                        events.insert(bound.option.into(), rng.pick(&values).clone());
                        default.insert(bound.option.into(), rng.pick(&values).clone());
                    }
                }
            }
            let options = json!({"events": events, "default": default});
            let service_timeout = *rng.pick(&service_timeouts);
            let (p, warnings) = Policy::from_client_options(&options, service_timeout);
            for bound in &BOUNDS {
                // The value that applies: events' over default's.
                let Some(v) = events.get(bound.option).or_else(|| default.get(bound.option)) else {
                    continue;
                };
                let in_range = v.as_f64().is_some_and(|f| {
                    f.is_finite() && f >= bound.min && f <= bound.max && (!bound.integer || f.fract() == 0.0)
                });
                let named = warnings.iter().any(|w| w.contains(&format!(".{} is", bound.option)));
                assert_eq!(named, !in_range, "case {case}: {} = {v} in {options}: {warnings:?}", bound.option);
                if !in_range {
                    let w = warnings.iter().find(|w| w.contains(bound.option)).unwrap();
                    assert!(w.contains(&format!("{} to {}", bound.min, bound.max)), "no range in {w:?}");
                }
            }
            assert!(p.concurrency >= 1 && p.concurrency <= 10_000, "case {case}: {p:?}");
            assert!(p.retries <= 100, "case {case}: {p:?}");
            assert!(p.timeout_ms >= 1.0, "case {case}: every delivery would time out: {p:?}");
            let given = events.get("timeout").or_else(|| default.get("timeout")).and_then(Value::as_f64);
            if service_timeout == Some(0) && given.is_none() {
                assert!(warnings.iter().any(|w| w.contains("service.json timeout is 0")), "{warnings:?}");
            }
            let _ = p.describe();
            for attempt in 1..=200 {
                let t = p.attempt_timeout(attempt);
                assert!(t <= hour, "case {case}: attempt {attempt} timeout {t:?} for {p:?}");
                let jitter = [0.0, 1.0, -5.0, 7.0, f64::NAN][attempt as usize % 5];
                let d = p.retry_delay(attempt, jitter);
                assert!(d <= hour, "case {case}: retry {attempt} delay {d:?} for {p:?}");
            }
        }
    }

    fn letter(app: &str, n: usize) -> DeadLetter {
        let event = Event {
            id: format!("e-{n}"),
            sender: "x.y".into(),
            key: "k".into(),
            subject: String::new(),
            body: json!(n),
            time: n as i64,
        };
        DeadLetter {
            event: Arc::new(event),
            app: app.into(),
            handler: "h".into(),
            attempts: vec![],
            // Distinct and in push order, as the real clock gives them.
            failed_at: format!("2026-01-01T00:00:00.{n:06}Z"),
        }
    }

    #[test]
    fn dead_letters_keep_the_newest_per_app_and_count_the_dropped() {
        let dead = DeadLetters::default();
        let extra = 250;
        for n in 0..DEAD_LETTER_BOUND + extra {
            dead.push(letter("v.busy@1.0.0", n));
            if n % 100 == 0 {
                dead.push(letter("v.quiet@1.0.0", n));
            }
        }
        let all = dead.list();
        let busy: Vec<_> = all.iter().filter(|l| l.app == "v.busy@1.0.0").collect();
        assert_eq!(busy.len(), DEAD_LETTER_BOUND);
        assert_eq!(busy[0].event.id, format!("e-{extra}"), "the oldest kept is the first not dropped");
        assert_eq!(busy.last().unwrap().event.id, format!("e-{}", DEAD_LETTER_BOUND + extra - 1));
        let quiet = all.iter().filter(|l| l.app == "v.quiet@1.0.0").count();
        assert_eq!(quiet, (DEAD_LETTER_BOUND + extra).div_ceil(100), "another app's letters are not pushed out");
        assert_eq!(dead.dropped(), BTreeMap::from([("v.busy@1.0.0".to_string(), extra as u64)]));
        // A replay takes letters out; the dropped count stays (they are gone for good).
        assert_eq!(dead.take(None).len(), DEAD_LETTER_BOUND + quiet);
        assert!(dead.list().is_empty());
        assert_eq!(dead.dropped()["v.busy@1.0.0"], extra as u64);
    }

    #[test]
    fn dead_letters_are_bounded_in_bytes_and_huge_errors_are_cut() {
        let dead = DeadLetters::default();
        let big = json!({ "blob": "x".repeat(1 << 20) });
        for n in 0..150 {
            let mut l = letter("v.big@1.0.0", n);
            l.event = Arc::new(Event { body: big.clone(), ..(*l.event).clone() });
            dead.push(l);
        }
        let kept = dead.list();
        assert!(kept.len() < 40 && kept.len() * (1 << 20) <= DEAD_LETTER_BYTES, "{} letters kept", kept.len());
        assert_eq!(dead.dropped()["v.big@1.0.0"], 150 - kept.len() as u64);
        assert_eq!(kept.last().unwrap().event.id, "e-149", "the newest are kept");
        let error = bounded(&"e".repeat(100_000));
        assert!(error.len() < ATTEMPT_TEXT_MAX + 64 && error.ends_with("(83616 more bytes not kept)"), "{error}");
        assert_eq!(bounded("short"), "short");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relink_that_changes_concurrency_resizes_the_limiter() {
        let fake = Fake::new(100, 0, false);
        let r = rig(fixed(0, 10.0, 2), fake.clone());
        let bus = r.bus.clone();
        let publisher = tokio::spawn(async move {
            let scope = Scope { account: "a".into(), workspace: "w".into() };
            for i in 0..200 {
                bus.publish(&scope, "x.y", "k", "", json!(i)).await;
            }
        });
        let max = || fake.max_running.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(max(), 2);

        r.policy.send(fixed(0, 10.0, 6)).unwrap();
        fake.max_running.store(0, Ordering::SeqCst);
        until(Duration::from_secs(2), "6 attempts at once", || max() == 6).await;
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(max(), 6, "never more than the new limit");

        r.policy.send(fixed(0, 10.0, 1)).unwrap();
        // Attempts already running finish (100 ms each); from then on, one at a time.
        tokio::time::sleep(Duration::from_millis(150)).await;
        fake.max_running.store(0, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(max(), 1);
        counts_add_up(&r);

        r.policy.send(fixed(0, 10.0, 4)).unwrap();
        fake.max_running.store(0, Ordering::SeqCst);
        until(Duration::from_secs(2), "4 attempts at once after growing again", || max() == 4).await;
        publisher.await.unwrap();
        while r.bus.counts().delivered < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(max() <= 4);
        let c = r.bus.counts();
        assert_eq!((c.deliveries, c.delivered, c.failed, c.in_flight), (200, 200, 0, 0));
    }
}
