//! `GET /_ioctl/api/live`: the dashboard's live stream, as server-sent events (`data: <json>`,
//! a [`LiveRecord`] a line: records waiting together go in one message): `hello`, then what the journal sees as it happens, the counts at
//! most every [`COUNTS_EVERY`] while they change, and `session_end` when the session ends.
//! Each page reads its own bounded receiver of the journal's broadcast: the session never
//! waits for a page; one that falls behind gets one `lagged {skipped}` for what it missed.
//! A page gets at most [`PAGE_RECORDS`] records each [`COUNTS_EVERY`] (200 a second): a
//! burst of 100,000 events is not 200,000 messages for a browser to take in (on a small
//! machine it would take its CPU from the handlers). Past that, the page's task lets go of its
//! receiver until the window ends ([`super::journal::Feed::pause`]): it is not woken per event,
//! the event path builds no records for it, and the page is told how many it skipped. While
//! whole windows overflow (a burst), it stays paused, told each window how many it skipped;
//! its lists hold still and refetch once the burst is over (`Window::next`). A change of the linked apps is checked each window (`apps`).

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

use super::journal::{self, Feed, Journal, Live};
use crate::protocol::dashboard::{EventOutcome, EventSummary, LiveRecord};
use crate::session::state::Session;

/// How often the counts may go out while they change; the window of [`PAGE_RECORDS`].
pub const COUNTS_EVERY: Duration = Duration::from_millis(250);
/// Records a page gets in one window of [`COUNTS_EVERY`]; the rest are counted as skipped.
pub const PAGE_RECORDS: u64 = 50;
/// Records one message holds at most (a record a line, when several are waiting).
const BATCH: usize = 200;
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
        let mut apps = session.journal().apps_version();
        let mut window = Window::default();
        // Records go out together, a record a line, at most BATCH_WAIT after the first of
        // them: a browser takes in one message of 200 records far faster than 200 messages.
        let mut batch = Batch::default();
        loop {
            let flush_at = batch.due();
            tokio::select! {
                r = records.recv(), if window.has_room() => match r {
                    Ok(live) => {
                        if let Some(r) = record(session.journal(), window.took(live)) {
                            batch.add(&r);
                        }
                        if !window.has_room() {
                            records.pause();
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => batch.add(&LiveRecord::Lagged { skipped }),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    let skipped = window.next(&mut records);
                    if skipped > 0 {
                        batch.add(&LiveRecord::Lagged { skipped });
                    }
                    let now = session.journal().apps_version();
                    if now != apps {
                        apps = now;
                        batch.add(&LiveRecord::Apps);
                    }
                    let counts = session.counts();
                    if counts != last {
                        last = counts;
                        batch.add(&LiveRecord::Counts { counts });
                    }
                }
                _ = tokio::time::sleep_until(flush_at.unwrap_or_else(far)), if flush_at.is_some() => {}
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            }
            if batch.ready() && tx.send(Ok(batch.take())).await.is_err() {
                return;
            }
        }
        if !batch.is_empty() && tx.send(Ok(batch.take())).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(END_WAIT, tx.send(Ok(sse(&LiveRecord::SessionEnd)))).await;
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()).into_response()
}

/// How long the first record of a message waits for others to join it.
const BATCH_WAIT: Duration = Duration::from_millis(50);

/// Far enough never to come (the branch waiting for it is disabled anyway).
fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(3600)
}

/// The records of the next message, a JSON text a line.
#[derive(Default)]
struct Batch {
    text: String,
    records: usize,
    since: Option<tokio::time::Instant>,
}

impl Batch {
    fn add(&mut self, record: &LiveRecord) {
        if self.records > 0 {
            self.text.push('\n');
        }
        self.text.push_str(&json(record));
        self.records += 1;
        self.since.get_or_insert_with(tokio::time::Instant::now);
    }

    fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// When the message goes out at the latest, while it holds anything.
    fn due(&self) -> Option<tokio::time::Instant> {
        self.since.map(|t| t + BATCH_WAIT)
    }

    /// Whether it is time to send: full, or its first record has waited [`BATCH_WAIT`].
    fn ready(&self) -> bool {
        self.records >= BATCH || self.due().is_some_and(|due| tokio::time::Instant::now() >= due)
    }

    fn take(&mut self) -> SseEvent {
        self.records = 0;
        self.since = None;
        SseEvent::default().data(std::mem::take(&mut self.text))
    }
}

/// A page's share of the live records in the current window of [`COUNTS_EVERY`].
#[derive(Default)]
struct Window {
    sent: u64,
    /// Held paused through a burst: the page was past its share when the window ended.
    held: bool,
}

impl Window {
    /// Whether the page may be sent another record in this window.
    fn has_room(&self) -> bool {
        self.sent < PAGE_RECORDS
    }

    /// Counts `live` as sent.
    fn took(&mut self, live: Live) -> Live {
        self.sent += 1;
        live
    }

    /// A new window.
    fn reset(&mut self) {
        self.sent = 0;
    }

    /// The next window begins: returns how many records the page skipped in the last one.
    /// A page past its share when a window ends is in a burst: it stays paused, told each
    /// window how many it skipped (its lists hold still until the burst is over, then
    /// refetch), and takes records again after the first whole window that fits its share.
    fn next(&mut self, feed: &mut Feed) -> u64 {
        let skipped = if self.held {
            let skipped = feed.skipped_so_far();
            if skipped <= PAGE_RECORDS {
                self.held = false;
                skipped + feed.resume()
            } else {
                skipped
            }
        } else {
            self.held = feed.is_paused();
            feed.skipped_so_far()
        };
        self.reset();
        if !self.held {
            feed.resume();
        }
        skipped
    }
}

fn sse(record: &LiveRecord) -> SseEvent {
    SseEvent::default().data(json(record))
}

fn json(record: &LiveRecord) -> String {
    serde_json::to_string(record).unwrap_or_else(|_| "{}".into())
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Event;

    fn sample(n: u64) -> Arc<Event> {
        Arc::new(Event {
            id: format!("e-{n}"),
            sender: "a.b".into(),
            key: "k".into(),
            subject: String::new(),
            body: serde_json::Value::Null,
            time: 0,
        })
    }

    fn event(n: u64) -> Live {
        Live::Event { seq: n, event: sample(n) }
    }

    #[tokio::test(start_paused = true)]
    async fn records_together_go_out_in_one_message_at_most_50_ms_after_the_first() {
        let mut b = Batch::default();
        assert!(!b.ready() && b.due().is_none());
        b.add(&LiveRecord::Apps);
        tokio::time::advance(Duration::from_millis(30)).await;
        b.add(&LiveRecord::Lagged { skipped: 3 });
        assert!(!b.ready(), "the first record waits for others");
        tokio::time::advance(Duration::from_millis(20)).await;
        assert!(b.ready(), "50 ms after the first");
        let _ = b.take();
        assert!(b.is_empty() && b.due().is_none());
        for _ in 0..BATCH {
            b.add(&LiveRecord::Apps);
        }
        assert!(b.ready(), "a full message goes at once");
        let _ = b.take();
        b.add(&LiveRecord::Apps);
        b.add(&LiveRecord::Lagged { skipped: 3 });
        assert_eq!(b.text, "{\"type\":\"apps\"}\n{\"type\":\"lagged\",\"skipped\":3}", "a record a line");
    }

    #[test]
    fn a_page_gets_its_share_of_a_window() {
        let mut w = Window::default();
        let mut sent = 0;
        while w.has_room() {
            w.took(event(sent));
            sent += 1;
        }
        assert_eq!(sent, PAGE_RECORDS);
        w.reset();
        assert!(w.has_room(), "a new window has its share again");
    }

    /// What a page is told in a burst: its share of the first window, then, window by window,
    /// how many it skipped while it let go of its receiver, until a window fits its share;
    /// every record after that.
    #[tokio::test(start_paused = true)]
    async fn a_burst_reaches_a_page_as_its_share_and_a_count_of_the_rest() {
        let journal = Journal::default();
        let mut feed = journal.subscribe();
        let mut w = Window::default();
        let mut got = 0;
        for n in 1..=5_000u64 {
            journal.event(&sample(n), vec![]);
            while w.has_room() {
                match feed.try_recv() {
                    Ok(live) => {
                        w.took(live);
                        got += 1;
                        if !w.has_room() {
                            feed.pause();
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        assert_eq!(got, PAGE_RECORDS, "the window's share");
        assert!(feed.is_paused());
        let mut skipped = w.next(&mut feed);
        assert!(feed.is_paused(), "past its share when the window ended: held through the burst");
        for n in 5_001..=5_000 + 2 * PAGE_RECORDS {
            journal.event(&sample(n), vec![]);
        }
        skipped += w.next(&mut feed);
        assert!(feed.is_paused(), "a whole window over its share: still held");
        for n in 5_001 + 2 * PAGE_RECORDS..=5_000 + 2 * PAGE_RECORDS + 10 {
            journal.event(&sample(n), vec![]);
        }
        skipped += w.next(&mut feed);
        assert!(!feed.is_paused(), "a window within its share: the burst is over");
        assert_eq!(got + skipped, 5_010 + 2 * PAGE_RECORDS, "every record was sent or counted");
        assert!(feed.try_recv().is_err(), "nothing kept for a paused page");
        journal.event(&sample(6_000), vec![]);
        assert!(matches!(feed.try_recv(), Ok(Live::Event { seq: 5_111, .. })), "taking again");
        drop(feed);
        journal.event(&sample(6_001), vec![]);
        assert_eq!(journal.live_pages(), 0, "a closed page is no longer counted");
    }
}
