//! Paused in the debugger (`link --inspect`): whether the app's process stands at a
//! breakpoint, set by the session's inspector proxy, and the time limits that do not count
//! the time spent there (the delivery attempt timeout, the route timeout, the ping watchdog).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Whether the app's debugged process is paused. One per linked app run under `--inspect`:
/// the inspector proxy holds it and sets it from `Debugger.paused` / `Debugger.resumed`; its
/// processes (the live one, the next) read it.
#[derive(Clone, Debug, Default)]
pub struct Paused(Arc<watch::Sender<bool>>);

impl Paused {
    /// Records a pause (or its end); the limits waiting in [`timeout`] see it at once.
    pub fn set(&self, paused: bool) {
        self.0.send_if_modified(|p| std::mem::replace(p, paused) != paused);
    }

    pub fn is_paused(&self) -> bool {
        *self.0.borrow()
    }
}

/// Runs `fut` within `limit`, not counting the time `paused` says the process stood in the
/// debugger (without one, as `tokio::time::timeout`). `None` when the limit ran out.
pub async fn timeout<F: Future>(paused: Option<&Paused>, limit: Duration, fut: F) -> Option<F::Output> {
    let Some(paused) = paused else {
        return tokio::time::timeout(limit, fut).await.ok();
    };
    let mut state = paused.0.subscribe();
    let mut left = limit;
    let fut = std::pin::pin!(fut);
    let mut fut = fut;
    loop {
        let stopped = *state.borrow_and_update();
        let since = Instant::now();
        tokio::select! {
            out = &mut fut => return Some(out),
            // Paused: no deadline until it goes on.
            _ = tokio::time::sleep(left), if !stopped => return None,
            _ = state.changed() => {
                if !stopped {
                    left = left.saturating_sub(since.elapsed());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn time_spent_paused_does_not_count() {
        let paused = Paused::default();
        let p = paused.clone();
        let started = Instant::now();
        // 1 s of work, 10 s paused in the middle, then 1 s more: 2 s of a 3 s limit.
        let work = async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            p.set(true);
            tokio::time::sleep(Duration::from_secs(10)).await;
            p.set(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
            "done"
        };
        assert_eq!(timeout(Some(&paused), Duration::from_secs(3), work).await, Some("done"));
        assert_eq!(started.elapsed(), Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn running_time_before_and_after_a_pause_adds_up() {
        let paused = Paused::default();
        let p = paused.clone();
        let started = Instant::now();
        let work = async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            p.set(true);
            tokio::time::sleep(Duration::from_secs(5)).await;
            p.set(false);
            std::future::pending::<()>().await
        };
        assert_eq!(timeout(Some(&paused), Duration::from_secs(3), work).await, None);
        // 2 s before the pause, 5 s paused, the last 1 s after it.
        assert_eq!(started.elapsed(), Duration::from_secs(8));
        assert!(timeout(None, Duration::from_secs(1), std::future::pending::<()>()).await.is_none());
    }
}
