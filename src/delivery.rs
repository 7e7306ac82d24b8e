//! Delivery of events to one app's handlers: the retry policy from the app's
//! `clients.options.events` (VTEX's arithmetic), and the dispatcher that runs each delivery
//! with a bounded number in flight, retrying with backoff until it succeeds or fails for good.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Activity, Bus, Delivery, Outcome, Scope};
use crate::runtime::Worker;
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
                .or_else(|| {
                    options
                        .get("default")
                        .and_then(|o| o.get(field))
                        .and_then(Value::as_f64)
                })
        };
        Policy {
            retries: pick("retries").map_or(0, |r| r.max(0.0) as u32),
            timeout_ms: pick("timeout")
                .filter(|t| *t > 0.0)
                .unwrap_or_else(|| service_timeout_s.map_or(DEFAULT_TIMEOUT_MS, |s| f64::from(s) * 1000.0)),
            timeout_coefficient: pick("exponentialTimeoutCoefficient")
                .filter(|c| *c > 0.0)
                .unwrap_or(1.0),
            backoff_ms: pick("initialBackoffDelay")
                .filter(|d| *d >= 0.0)
                .unwrap_or(DEFAULT_BACKOFF_MS),
            backoff_coefficient: pick("exponentialBackoffCoefficient")
                .filter(|c| *c > 0.0)
                .unwrap_or(DEFAULT_BACKOFF_COEFFICIENT),
            concurrency: pick("concurrency")
                .filter(|c| *c >= 1.0)
                .map_or(DEFAULT_CONCURRENCY, |c| c as usize),
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
            format!(
                ", backoff {} ms ×{} (+≤20% jitter)",
                self.backoff_ms, self.backoff_coefficient
            )
        };
        format!("{retries}, {timeout}{backoff}, concurrency {}", self.concurrency)
    }
}

/// The app version currently serving deliveries; `None` while none has loaded. Relinks swap
/// it; attempts already running keep the worker they started on.
pub type CurrentWorker = watch::Receiver<Option<Arc<Worker>>>;

/// Everything the dispatcher of one app needs.
pub struct Dispatcher {
    pub scope: Scope,
    pub app: String,
    pub bus: Arc<Bus>,
    pub terminal: Terminal,
    pub policy: Arc<Mutex<Policy>>,
    pub worker: CurrentWorker,
    pub tracker: TaskTracker,
    /// Graceful stop: no new deliveries are started, waiting retries give up.
    pub stop: CancellationToken,
}

impl Dispatcher {
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
        self.bus.counters.failed.fetch_add(1, Ordering::SeqCst);
        self.bus.report(Activity::Delivery {
            scope: self.scope.clone(),
            event_id: d.event.id.clone(),
            app: self.app.clone(),
            handler: d.handler.clone(),
            outcome: Outcome::Failed,
            attempt: 0,
            elapsed_ms: 0.0,
            error: Some(why.to_string()),
            retry_in_ms: None,
        });
    }

    /// Runs all attempts of one delivery.
    async fn deliver(&self, d: Delivery) {
        let policy = self.policy.lock().unwrap().clone();
        let attempts = policy.retries + 1;
        for attempt in 1..=attempts {
            let limit = policy.attempt_timeout(attempt);
            let start = Instant::now();
            let result = tokio::time::timeout(limit, self.attempt(&d, attempt)).await;
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            let error = match result {
                Ok(Ok(())) => {
                    self.bus.counters.delivered.fetch_add(1, Ordering::SeqCst);
                    self.report(&d, Outcome::Ok, attempt, elapsed_ms, None, None);
                    return;
                }
                Ok(Err(e)) => e,
                Err(_) => crate::runtime::AttemptError {
                    message: format!("timed out after {} ms (attempt abandoned)", limit.as_millis()),
                    stack: None,
                },
            };
            let last = attempt == attempts;
            let delay = (!last).then(|| policy.retry_delay(attempt, jitter()));
            let mut line = format!(
                "{} failed (attempt {attempt}/{attempts}, event {}): {}",
                d.handler, d.event.id, error.message
            );
            if let Some(stack) = error
                .stack
                .as_deref()
                .and_then(|s| s.split_once('\n'))
                .map(|(_, frames)| frames)
            {
                line.push('\n');
                line.push_str(stack);
            }
            match delay {
                Some(delay) => line.push_str(&format!("\nretrying in {} ms", delay.as_millis())),
                None if attempts > 1 => line.push_str("\nno retries left: the event failed"),
                None => {}
            }
            self.terminal
                .send(Output::Log {
                    level: Level::Error,
                    message: line,
                    app: Some(self.app.clone()),
                    handler: Some(d.handler.clone()),
                })
                .await;
            let outcome = if last { Outcome::Failed } else { Outcome::Retry };
            if last {
                self.bus.counters.failed.fetch_add(1, Ordering::SeqCst);
            }
            self.report(
                &d,
                outcome,
                attempt,
                elapsed_ms,
                Some(error.message),
                delay.map(|d| d.as_millis() as u64),
            );
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

    /// One attempt on whichever worker is live now (waiting for one if none has loaded yet).
    async fn attempt(&self, d: &Delivery, attempt: u32) -> Result<(), crate::runtime::AttemptError> {
        let mut current = self.worker.clone();
        let worker = loop {
            if let Some(w) = current.borrow_and_update().clone() {
                if !w.exited.is_cancelled() {
                    break w;
                }
            }
            if current.changed().await.is_err() {
                return Err(crate::runtime::AttemptError {
                    message: "the app was unlinked".into(),
                    stack: None,
                });
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

/// A number in 0..1 for retry jitter (no need for a crypto RNG here).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % 10_000) as f64 / 10_000.0
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
        assert_eq!(
            (p.backoff_ms, p.backoff_coefficient, p.timeout_coefficient),
            (200.0, 2.0, 1.0)
        );
        let p = Policy::from_client_options(&json!({}), None);
        assert_eq!(
            (p.retries, p.timeout_ms, p.concurrency),
            (0, 10_000.0, DEFAULT_CONCURRENCY)
        );
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
            let d = p.retry_delay(1, jitter());
            assert!(
                d >= Duration::from_millis(50) && d <= Duration::from_millis(60),
                "{d:?}"
            );
        }
    }
}
