//! The apps' platform calls: their local platform clients' (`ctx.clients.apps` settings,
//! `.vbase`, `.masterdata`) and their outbound HTTP calls (`"service": "http"`). One task per
//! linked app takes its calls off a bounded channel (the worker's reader holds the sending
//! end); a client's call runs on a blocking thread against the session's [`Store`], at most
//! `WORKERS` at once; an outbound call is answered by the app's [`Boundary`] on the async
//! side (its local services go to a blocking thread only for SQLite), at most `HTTP_CALLS` at
//! once. Each answers through the call's reply. A call made inside a request or a delivery
//! attempt (the host tags it with its trace) is a span of that trace in the session's journal.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::boundary::Boundary;
use super::dashboard::journal::{Journal, TRACE};
use crate::protocol::dashboard::{Span, SpanKind};
use crate::runtime::{Platform, PlatformCall, PlatformRequest};
use crate::store::call::{AppsCall, Call, MasterdataCall, VbaseCall};
use crate::store::{self, Store, StoreError};

/// Bound of each app's platform channel (the host keeps at most 64 calls unanswered per
/// process, and a relink runs two processes for a moment).
const CHANNEL_BOUND: usize = 256;
/// Calls of one app running on blocking threads at once. SQLite orders writers itself; more
/// threads would only wait on its locks.
const WORKERS: usize = 4;
/// Outbound calls of one app being answered at once: the host's window (64 unanswered per
/// process) twice, for a relink's two processes.
const HTTP_CALLS: usize = 128;

/// Starts the task that runs `app`'s platform calls; it ends when every sender is dropped or
/// `stop` is cancelled (the app unlinked and its processes gone), calls already taken finish.
pub fn start(
    tracker: &TaskTracker,
    stop: CancellationToken,
    store: Arc<Store>,
    boundary: Boundary,
    journal: Arc<Journal>,
) -> Platform {
    let (tx, mut rx) = mpsc::channel::<PlatformCall>(CHANNEL_BOUND);
    let calls = tracker.clone();
    let boundary = Arc::new(boundary);
    tracker.spawn(async move {
        let slots = Arc::new(Semaphore::new(WORKERS));
        let outbound = Arc::new(Semaphore::new(HTTP_CALLS));
        loop {
            let call = tokio::select! {
                biased;
                call = rx.recv() => call,
                _ = stop.cancelled() => None,
            };
            let Some(PlatformCall { app, trace, call, reply }) = call else { break };
            match call {
                PlatformRequest::Store(call) => {
                    let Ok(permit) = slots.clone().acquire_owned().await else { break };
                    let (store, journal) = (store.clone(), journal.clone());
                    calls.spawn(async move {
                        // Named only for a trace: most calls are in none.
                        let named = trace.map(|t| (t, call_name(&call), std::time::Instant::now()));
                        let result = tokio::task::spawn_blocking(move || store.handle(&app, call))
                            .await
                            .unwrap_or_else(|e| Err(StoreError::new(500, format!("the platform call failed: {e}"))));
                        if let Some((trace, name, started)) = named {
                            let status = result.as_ref().map_or_else(|e| e.status, |_| 200);
                            let elapsed_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
                            journal.span(trace, started, |start_ms| Span {
                                kind: SpanKind::Platform,
                                name,
                                start_ms,
                                elapsed_ms,
                                status: Some(status),
                                ok: status < 400,
                                answered: None,
                                call: None,
                            });
                        }
                        if let Err(e) = &result {
                            if e.status >= 500 {
                                tracing::warn!(status = e.status, error = e.message, "platform call failed");
                            }
                        }
                        drop(permit);
                        reply.send(result).await;
                    });
                }
                PlatformRequest::Http(call) => {
                    let Ok(permit) = outbound.clone().acquire_owned().await else { break };
                    let boundary = boundary.clone();
                    calls.spawn(async move {
                        // The calls log reads the trace from the task (it keeps the call and its span).
                        let answer = TRACE.scope(trace, boundary.answer(&call)).await;
                        drop(permit);
                        let value = serde_json::to_value(&answer)
                            .map_err(|e| StoreError::new(500, format!("the outbound call's answer: {e}")));
                        reply.send(value).await;
                    });
                }
            }
        }
    });
    tx
}

/// A platform call as a trace shows it: the client method, and what it is about.
fn call_name(call: &Call) -> String {
    match call {
        Call::Apps(AppsCall::GetAppSettings { app }) => format!("apps.getAppSettings {app}"),
        Call::Apps(AppsCall::SaveAppSettings { app, .. }) => format!("apps.saveAppSettings {app}"),
        Call::Vbase(VbaseCall::GetFile { bucket, path }) => format!("vbase.getFile {bucket}/{path}"),
        Call::Vbase(VbaseCall::SaveFile { bucket, path, .. }) => format!("vbase.saveFile {bucket}/{path}"),
        Call::Vbase(VbaseCall::DeleteFile { bucket, path }) => format!("vbase.deleteFile {bucket}/{path}"),
        Call::Vbase(VbaseCall::ListFiles { bucket, .. }) => format!("vbase.listFiles {bucket}"),
        Call::Masterdata(m) => match m {
            MasterdataCall::Write { data_entity, .. } => format!("masterdata.write {data_entity}"),
            MasterdataCall::GetDocument { data_entity, id, .. } => format!("masterdata.getDocument {data_entity}/{id}"),
            MasterdataCall::DeleteDocument { data_entity, id } => {
                format!("masterdata.deleteDocument {data_entity}/{id}")
            }
            MasterdataCall::SearchDocuments { data_entity, .. } => format!("masterdata.searchDocuments {data_entity}"),
            MasterdataCall::ScrollDocuments { data_entity, .. } => format!("masterdata.scrollDocuments {data_entity}"),
            MasterdataCall::GetSchema { data_entity, schema } => format!("masterdata.getSchema {data_entity}/{schema}"),
            MasterdataCall::CreateOrUpdateSchema { data_entity, .. } => {
                format!("masterdata.createOrUpdateSchema {data_entity}")
            }
        },
    }
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
