//! The sample `vtex.events-example` sender, as VTEX's events-example app behaves: its
//! healthcheck route arms it; armed, it fires `send-event` with `{"random": "<0..100>"}`
//! every interval into the session's scope; unarmed, it fires nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::bus::Bus;
use crate::protocol::stream::{Level, Output};
use crate::protocol::Scope;
use crate::terminal::Terminal;

use crate::protocol::sample_sender::APP_ID;

pub const FULL_ID: &str = "vtex.events-example@0.1.0";
pub const KEY: &str = "send-event";

/// The switch the healthcheck route flips (the "cache context" of events-example).
#[derive(Clone)]
pub struct SenderSwitch(Arc<watch::Sender<bool>>);

impl SenderSwitch {
    pub fn new() -> SenderSwitch {
        SenderSwitch(Arc::new(watch::channel(false).0))
    }

    /// Returns true when this call armed it (the first healthcheck).
    pub fn turn_on(&self) -> bool {
        self.0.send_if_modified(|armed| !std::mem::replace(armed, true))
    }
}

impl Default for SenderSwitch {
    fn default() -> Self {
        SenderSwitch::new()
    }
}

/// When the sender keeps quiet though armed.
#[derive(Default)]
pub struct Quiet {
    /// The real events-example app is linked here and fires its own.
    pub muted: Arc<AtomicBool>,
    /// Another machine of the team workspace runs the workspace's one sample sender.
    pub elsewhere: Arc<AtomicBool>,
}

impl Quiet {
    fn now(&self) -> bool {
        self.muted.load(Ordering::Relaxed) || self.elsewhere.load(Ordering::Relaxed)
    }
}

/// Runs until cancelled: waits to be armed, then fires every `interval` (except while
/// `muted`: the real events-example app is linked and fires its own; nor while `elsewhere`:
/// another machine of the team workspace runs the workspace's one sample sender). A tick that comes
/// while the previous publish still waits for room (backpressure) is skipped, and said so.
pub async fn run(
    switch: SenderSwitch,
    interval: Duration,
    scope: Scope,
    bus: Arc<Bus>,
    terminal: Terminal,
    quiet: Quiet,
    cancel: CancellationToken,
) {
    let mut armed = switch.0.subscribe();
    tokio::select! {
        r = armed.wait_for(|a| *a) => if r.is_err() { return },
        _ = cancel.cancelled() => return,
    }
    terminal
        .send(Output::Log {
            level: Level::Info,
            message: format!(
                "healthcheck received: context cached, sending `{KEY}` every {} s",
                interval.as_secs_f64()
            ),
            app: Some(FULL_ID.into()),
            handler: None,
        })
        .await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = cancel.cancelled() => return,
        }
        if quiet.now() {
            continue;
        }
        let random = fastrand::u64(0..=100);
        let publish = bus.publish(&scope, APP_ID, KEY, "", json!({ "random": random.to_string() }));
        tokio::pin!(publish);
        // If delivery is behind, the publish waits; a tick that passes meanwhile is skipped.
        let deadline = tokio::time::Instant::now() + interval;
        tokio::select! {
            _ = &mut publish => continue,
            _ = tokio::time::sleep_until(deadline) => {}
            _ = cancel.cancelled() => return,
        }
        terminal
            .send(Output::Log {
                level: Level::Warn,
                message: format!("handlers are behind: skipped a `{KEY}` tick while the previous event waits for room"),
                app: Some(FULL_ID.into()),
                handler: None,
            })
            .await;
        tokio::select! {
            _ = &mut publish => {}
            _ = cancel.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_only_after_arming_then_every_interval() {
        let bus = Bus::new();
        let scope = Scope { account: "local".into(), workspace: "dev".into() };
        let terminal = Terminal::discard();
        let switch = SenderSwitch::new();
        let cancel = CancellationToken::new();
        let mut seen = bus.watch();
        let task = tokio::spawn(run(
            switch.clone(),
            Duration::from_secs(10),
            scope.clone(),
            bus.clone(),
            terminal,
            Quiet::default(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(bus.counts().published, 0, "nothing before the healthcheck");
        assert!(switch.turn_on());
        assert!(!switch.turn_on(), "second healthcheck does not re-switch");
        tokio::time::sleep(Duration::from_millis(25_001)).await;
        assert_eq!(bus.counts().published, 3, "at 0 s, 10 s and 20 s after arming");
        match seen.recv().await.unwrap() {
            super::super::bus::Activity::Event { event, .. } => {
                assert_eq!((event.sender.as_str(), event.key.as_str()), (APP_ID, KEY));
                let n: u32 = event.body["random"].as_str().unwrap().parse().unwrap();
                assert!(n <= 100);
            }
            other => panic!("{other:?}"),
        }
        cancel.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_makes_it_skip_ticks_and_say_so_without_dropping() {
        let bus = Bus::new();
        let scope = Scope { account: "local".into(), workspace: "dev".into() };
        // A handler queue of one that nobody drains: the second publish has to wait.
        let (queue, mut deliveries) = tokio::sync::mpsc::channel(1);
        let sub: crate::app::EventSubscription = serde_json::from_value(serde_json::json!({"keys": [KEY]})).unwrap();
        bus.subscribe(scope.clone(), "v.app@1.0.0", vec![("h".into(), sub)], queue);
        let (terminal, mut out) = Terminal::channel();
        let switch = SenderSwitch::new();
        switch.turn_on();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(
            switch,
            Duration::from_secs(1),
            scope,
            bus.clone(),
            terminal,
            Quiet::default(),
            cancel.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let mut skipped = 0;
        while let Ok(msg) = out.try_recv() {
            if let Output::Log { level: Level::Warn, message, .. } = msg {
                assert!(message.contains("skipped a `send-event` tick"), "{message}");
                skipped += 1;
            }
        }
        assert_eq!(skipped, 1, "one skipped tick is reported while the second event waits");
        assert_eq!(bus.counts().published, 2, "the waiting event is not dropped, and no third is made");
        // Draining lets the waiting one in, and ticks resume.
        deliveries.recv().await.unwrap();
        deliveries.recv().await.unwrap();
        cancel.cancel();
        task.await.unwrap();
        let c = bus.counts();
        assert!(c.published >= 2 && c.deliveries == c.published, "every event made its delivery: {c:?}");
    }
}
