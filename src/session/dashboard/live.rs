//! `GET /_ioctl/api/live`: the dashboard's live stream, as server-sent events (`data: <json>`,
//! one [`LiveRecord`] each): `hello`, then what the journal sees as it happens, the counts at
//! most every [`COUNTS_EVERY`] while they change, and `session_end` when the session ends.
//! Each page reads its own bounded receiver of the journal's broadcast: the session never
//! waits for a page; one that falls behind gets one `lagged {skipped}` for what it missed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::journal::{self, Journal, Live};
use crate::protocol::dashboard::{EventOutcome, EventSummary, LiveRecord};
use crate::session::state::Session;

/// How often the counts may go out while they change.
pub const COUNTS_EVERY: Duration = Duration::from_millis(250);
/// Records made for the page but not yet written to it (past this, the page's task waits,
/// and the journal's broadcast, which never waits, counts what it misses).
const PAGE_BUFFER: usize = 64;
/// How long the last record waits for a page that does not read.
const END_WAIT: Duration = Duration::from_secs(1);

pub fn routes() -> Router<Arc<Session>> {
    Router::new().route("/_ioctl/api/live", get(live))
}

async fn live(State(s): State<Arc<Session>>) -> Response {
    let mut records = s.journal().subscribe();
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(PAGE_BUFFER);
    let session = s.clone();
    s.tracker().spawn(async move {
        let scope = session.scope();
        let hello = LiveRecord::Hello {
            account: scope.account.clone(),
            workspace: scope.workspace.clone(),
            protocol: crate::protocol::VERSION,
        };
        if tx.send(Ok(sse(&hello))).await.is_err() {
            return;
        }
        let shutdown = session.shutdown().clone();
        let mut tick = tokio::time::interval(COUNTS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = session.counts();
        loop {
            let next = tokio::select! {
                r = records.recv() => match r {
                    Ok(live) => match record(session.journal(), live) {
                        Some(r) => r,
                        None => continue,
                    },
                    Err(broadcast::error::RecvError::Lagged(skipped)) => LiveRecord::Lagged { skipped },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    let counts = session.counts();
                    if counts == last {
                        continue;
                    }
                    last = counts;
                    LiveRecord::Counts { counts }
                }
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            };
            if tx.send(Ok(sse(&next))).await.is_err() {
                return;
            }
        }
        let _ = tokio::time::timeout(END_WAIT, tx.send(Ok(sse(&LiveRecord::SessionEnd)))).await;
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()).into_response()
}

fn sse(record: &LiveRecord) -> SseEvent {
    SseEvent::default().data(serde_json::to_string(record).unwrap_or_else(|_| "{}".into()))
}

/// The record a page gets for what the journal sent (made here, on the page's task).
pub fn record(journal: &Journal, live: Live) -> Option<LiveRecord> {
    Some(match live {
        Live::Event { seq, event } => LiveRecord::Event(journal.event_summary(seq).unwrap_or_else(|| EventSummary {
            // Already gone from the journal (10,000 newer ones): what the record itself says.
            seq,
            id: event.id.clone(),
            time: event.time_rfc3339(),
            sender: event.sender.clone(),
            key: event.key.clone(),
            outcome: EventOutcome::Pending,
            deliveries: Vec::new(),
        })),
        Live::Delivery(d) => LiveRecord::Delivery {
            event_id: d.event.id.clone(),
            seq: d.seq,
            app: d.app.to_string(),
            handler: d.handler.to_string(),
            outcome: d.outcome,
            attempt: d.attempt,
            elapsed_ms: (d.elapsed_ms * 100.0).round() / 100.0,
            error: d.error.clone(),
            retry_in_ms: d.retry_in_ms,
        },
        Live::Request(r) => LiveRecord::Request(journal::request_summary(&r)),
        Live::Log(l) => LiveRecord::Log(journal::log_line(&l)),
        Live::Call(c) => LiveRecord::Call { seq: c.seq, trace: c.trace, line: c.record.line.clone() },
        Live::Apps => LiveRecord::Apps,
    })
}
