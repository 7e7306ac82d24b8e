//! The local platform services behind the apps' clients (`ctx.clients.apps` settings,
//! `.vbase`, `.masterdata`): one task per linked app takes its calls off a bounded channel
//! (the worker's reader holds the sending end) and runs each on a blocking thread against
//! the session's [`Store`], at most `WORKERS` at once, answering through the call's reply.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::runtime::{Platform, PlatformCall};
use crate::store::{self, Store, StoreError};

/// Bound of each app's platform channel (the host keeps at most 64 calls unanswered per
/// process, and a relink runs two processes for a moment).
const CHANNEL_BOUND: usize = 256;
/// Calls of one app running on blocking threads at once. SQLite orders writers itself; more
/// threads would only wait on its locks.
const WORKERS: usize = 4;

/// Starts the task that runs `app`'s platform calls; it ends when every sender is dropped or
/// `stop` is cancelled (the app unlinked and its processes gone), calls already taken finish.
pub fn start(tracker: &TaskTracker, stop: CancellationToken, store: Arc<Store>) -> Platform {
    let (tx, mut rx) = mpsc::channel::<PlatformCall>(CHANNEL_BOUND);
    let calls = tracker.clone();
    tracker.spawn(async move {
        let slots = Arc::new(Semaphore::new(WORKERS));
        loop {
            let call = tokio::select! {
                biased;
                call = rx.recv() => call,
                _ = stop.cancelled() => None,
            };
            let Some(call) = call else { break };
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let store = store.clone();
            calls.spawn(async move {
                let PlatformCall { app, call, reply } = call;
                let result = tokio::task::spawn_blocking(move || store.handle(&app, call))
                    .await
                    .unwrap_or_else(|e| Err(StoreError::new(500, format!("the platform call failed: {e}"))));
                if let Err(e) = &result {
                    if e.status >= 500 {
                        tracing::warn!(status = e.status, error = e.message, "platform call failed");
                    }
                }
                drop(permit);
                reply.send(result).await;
            });
        }
    });
    tx
}

/// Records the app's `settingsSchema` (so its settings get their defaults, and `ioctl settings
/// set` checks them from any folder).
pub async fn record_settings_schema(store: Arc<Store>, app: String, schema: Option<serde_json::Value>) {
    // No schema and no database: nothing to record or remove, and no blocking thread (its
    // malloc arena would stay in the session's memory) to find that out.
    if schema.is_none() && !store.workspace_stored() {
        return;
    }
    let done = tokio::task::spawn_blocking(move || {
        // No schema and no database yet: nothing recorded to remove, and a link of an app
        // that stores nothing creates no database.
        let db = match schema {
            Some(_) => store.workspace()?,
            None => match store.workspace_if_stored()? {
                Some(db) => db,
                None => return Ok(()),
            },
        };
        let db = store::lock(&db);
        store::settings::record_schema(&db, &app, schema.as_ref())
    })
    .await;
    if let Ok(Err(e)) = done {
        tracing::warn!(error = e.message, "cannot record the app's settingsSchema");
    }
}
