//! The session's journal: a bounded history of what happened, for the dashboard. It keeps the
//! newest [`EVENTS`] events (with their deliveries' attempts, at most [`ATTEMPTS`] each),
//! [`REQUESTS`] route/GraphQL requests, [`LOGS`] log lines (each at most [`LOG_TEXT`] bytes),
//! [`CALLS`] outbound calls with their (capped) bodies and [`TRACES`] traces of at most
//! [`SPANS`] spans each: however long a session runs, it holds no more. It is fed always, and
//! cheaply on the event path (an `Arc` of the event, a few numbers per attempt, no formatting):
//! summaries, times as text and live records are made when a page reads them. An event's body
//! is the bus's own (shared, not copied); the kept events' bodies are bounded by
//! [`EVENT_BYTES`] as well as by count (an estimate made by one walk of the body, no
//! formatting), the calls' bodies by [`CALLS`] and the calls log's cap.
//!
//! Live records go out on a bounded broadcast that never waits (a page that falls behind is
//! told how many it missed: see live.rs). Nothing is made or sent while no page takes them: a
//! page past its share of a window lets go of its receiver ([`Feed`]), so in a burst the
//! event path pays one atomic load per record, as with no page open, and counts what a page
//! skipped with one atomic add.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use smallvec::SmallVec;
use tokio::sync::broadcast;

use super::overview::Board;
use crate::lock::Locked;
use crate::protocol::dashboard::{
    AttemptDetail, DeliveryDetail, DeliveryState, DeliverySummary, EventDetail, EventOutcome, EventSummary, EventsPage,
    LogLine, LogsPage, RequestKind, RequestSummary, RequestsPage, Span, SpanKind, Trace, TraceKind,
};
use crate::protocol::stream::{Answered, CallRecord, Level, Outcome};
use crate::protocol::Event;

/// Events kept, newest; each shares its `Arc<Event>` with the bus.
pub const EVENTS: usize = 10_000;
/// Memory the kept events may hold (their bodies, estimated as serde_json holds them): past
/// it the oldest go first, whatever their number (10,000 bodies of 2 MiB would be 20 GiB).
pub const EVENT_BYTES: usize = 64 << 20;
/// Attempts kept per delivery (an app may retry 100 times): the first ones and the last.
pub const ATTEMPTS: usize = 16;
/// Route and GraphQL requests kept.
pub const REQUESTS: usize = 2_000;
/// Log lines kept.
pub const LOGS: usize = 5_000;
/// Bytes of one log line kept (longer ones are cut, saying so).
pub const LOG_TEXT: usize = 16 << 10;
/// Outbound calls kept with their request and response (bodies capped at the calls log's
/// 64 KiB each: at most ~128 MiB in the worst case, usually far less).
pub const CALLS: usize = 1_000;
/// Traces kept (one per request and per delivery attempt).
pub const TRACES: usize = 2_000;
/// Spans kept per trace (the rest are counted).
pub const SPANS: usize = 64;
/// Live records a page may fall behind by before it lags.
pub const LIVE_BOUND: usize = 1024;
/// Default and largest page of a list.
pub const PAGE: usize = 100;
pub const PAGE_MAX: usize = 1000;

tokio::task_local! {
    /// The trace of the platform call being answered (set by session/platform.rs around an
    /// outbound call, read by the calls log, which has no other way to know it).
    pub static TRACE: Option<u64>;
}

/// The trace the task is answering a call for, if any.
pub fn current_trace() -> Option<u64> {
    TRACE.try_with(|t| *t).ok().flatten()
}

/// A delivery's target: the app (`vendor.name@version`) and its handler.
pub type Target = (Arc<str>, Arc<str>);

/// A live record as the journal sends it: cheap to make (shared parts, numbers); the page's
/// task turns it into its JSON.
#[derive(Debug, Clone)]
pub enum Live {
    Event { seq: u64, event: Arc<Event> },
    Delivery(Arc<DeliveryReport>),
    Request(Arc<RequestEntry>),
    Log(Arc<LogEntry>),
    Call(Arc<CallEntry>),
}

/// The live records' fan-out to the open pages.
struct LiveFeed {
    tx: broadcast::Sender<Live>,
    /// Pages taking records now (a page past its window's share takes none).
    taking: AtomicUsize,
    /// Pages open, taking records or not.
    pages: AtomicUsize,
    /// Records made while a page was open: what a paused page skipped is the difference.
    offered: AtomicU64,
    /// [`Journal::apps_version`].
    apps: AtomicU64,
}

/// A page's share of the live records: its receiver while it takes them; while paused, none
/// (the broadcast keeps nothing for it and the event path does not build records for it), and
/// the count of what it skipped.
pub struct Feed {
    live: Arc<LiveFeed>,
    rx: Option<broadcast::Receiver<Live>>,
    /// `offered` when it paused.
    paused_at: u64,
}

impl Feed {
    /// The next record (or how many the receiver lost, if the page fell behind); pending
    /// forever while paused.
    pub async fn recv(&mut self) -> Result<Live, broadcast::error::RecvError> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// [`Feed::recv`] without waiting.
    pub fn try_recv(&mut self) -> Result<Live, broadcast::error::TryRecvError> {
        match &mut self.rx {
            Some(rx) => rx.try_recv(),
            None => Err(broadcast::error::TryRecvError::Empty),
        }
    }

    /// Stops taking records (until [`Feed::resume`]), counting them instead.
    pub fn pause(&mut self) {
        if self.rx.take().is_some() {
            self.paused_at = self.live.offered.load(Ordering::Relaxed);
            self.live.taking.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Takes records again; returns how many were made while paused (0 if it was not).
    pub fn resume(&mut self) -> u64 {
        if self.rx.is_some() {
            return 0;
        }
        self.live.taking.fetch_add(1, Ordering::Relaxed);
        self.rx = Some(self.live.tx.subscribe());
        self.live.offered.load(Ordering::Relaxed).saturating_sub(self.paused_at)
    }

    /// While paused: how many records were made since it paused (or since the last call),
    /// staying paused.
    pub fn skipped_so_far(&mut self) -> u64 {
        if self.rx.is_some() {
            return 0;
        }
        let now = self.live.offered.load(Ordering::Relaxed);
        now.saturating_sub(std::mem::replace(&mut self.paused_at, now))
    }

    pub fn is_paused(&self) -> bool {
        self.rx.is_none()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.pause();
        self.live.pages.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One attempt as the dispatcher reports it.
#[derive(Debug)]
pub struct DeliveryReport {
    pub seq: u64,
    pub event: Arc<Event>,
    pub app: Arc<str>,
    pub handler: Arc<str>,
    pub attempt: u32,
    /// Microseconds since the epoch.
    pub started_us: i64,
    pub elapsed_ms: f64,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub stack: Option<String>,
    pub retry_in_ms: Option<u64>,
    pub trace: Option<u64>,
}

/// A ring of records numbered from 1: the newest `bound` kept, in order, so a seq finds its
/// record by subtraction.
struct Ring<T> {
    items: VecDeque<T>,
    /// Records ever pushed (the newest one's seq).
    seen: u64,
    bound: usize,
}

impl<T> Ring<T> {
    fn new(bound: usize) -> Ring<T> {
        Ring { items: VecDeque::new(), seen: 0, bound }
    }

    /// Pushes the record `make` builds with its seq; drops the oldest beyond the bound.
    fn push(&mut self, make: impl FnOnce(u64) -> T) -> u64 {
        self.push_out(make).0
    }

    /// [`Ring::push`], handing back the record it dropped, if any.
    fn push_out(&mut self, make: impl FnOnce(u64) -> T) -> (u64, Option<T>) {
        self.seen += 1;
        let out = if self.items.len() == self.bound { self.items.pop_front() } else { None };
        self.items.push_back(make(self.seen));
        (self.seen, out)
    }

    fn first(&self) -> u64 {
        self.seen + 1 - self.items.len() as u64
    }

    fn get(&self, seq: u64) -> Option<&T> {
        let index = seq.checked_sub(self.first())?;
        self.items.get(usize::try_from(index).ok()?)
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut T> {
        let index = seq.checked_sub(self.first())?;
        self.items.get_mut(usize::try_from(index).ok()?)
    }

    /// Newest first, below `before` (exclusive), with their seqs, those `keep` takes, at most
    /// `limit`; and whether more would follow.
    fn page(&self, before: Option<u64>, limit: usize, keep: impl Fn(&T) -> bool) -> (Vec<(u64, &T)>, bool) {
        let first = self.first();
        let end = match before {
            Some(b) => b.saturating_sub(first).min(self.items.len() as u64) as usize,
            None => self.items.len(),
        };
        let mut found = Vec::new();
        for (i, item) in self.items.range(..end).enumerate().rev().filter(|(_, item)| keep(item)) {
            if found.len() == limit {
                return (found, true);
            }
            found.push((first + i as u64, item));
        }
        (found, false)
    }
}

struct EventEntry {
    event: Arc<Event>,
    /// Inline when one (most events have one handler: no allocation per event for it).
    deliveries: SmallVec<[DeliveryEntry; 1]>,
    /// The event's estimated size in memory ([`held_bytes`]).
    bytes: usize,
}

/// About how many bytes `value` holds in memory as a serde_json `Value` (a node's own size,
/// plus its strings' and keys' bytes): a walk without allocation, for [`EVENT_BYTES`]. (It
/// recurses: a body parsed from JSON nests at most 128 deep, serde_json's limit.)
pub fn held_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    const NODE: usize = std::mem::size_of::<Value>() + 16;
    NODE + match value {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(held_bytes).sum(),
        Value::Object(map) => map.iter().map(|(k, item)| k.len() + NODE + held_bytes(item)).sum(),
        _ => 0,
    }
}

struct DeliveryEntry {
    app: Arc<str>,
    handler: Arc<str>,
    attempts: Attempts,
    /// Attempts past [`ATTEMPTS`] (the middle ones are dropped, the last is kept).
    not_kept: u32,
}

/// A delivery's kept attempts: the first inline (most deliveries have one, and an allocation
/// per delivery shows in the event path's throughput), the others in a vector.
#[derive(Default)]
struct Attempts {
    first: Option<AttemptEntry>,
    rest: Vec<AttemptEntry>,
}

impl Attempts {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    fn push(&mut self, a: AttemptEntry) {
        match self.first {
            None => self.first = Some(a),
            Some(_) => self.rest.push(a),
        }
    }

    /// Removes the `i`th attempt (not the first: the first ones are kept).
    fn remove(&mut self, i: usize) {
        if i > 0 {
            self.rest.remove(i - 1);
        }
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &AttemptEntry> {
        self.first.iter().chain(self.rest.iter())
    }

    fn last(&self) -> Option<&AttemptEntry> {
        self.rest.last().or(self.first.as_ref())
    }
}

struct AttemptEntry {
    attempt: u32,
    started_us: i64,
    elapsed_ms: f64,
    outcome: Outcome,
    error: Option<String>,
    stack: Option<String>,
    retry_in_ms: Option<u64>,
    trace: Option<u64>,
}

/// One request, as kept (and sent live).
#[derive(Debug)]
pub struct RequestEntry {
    pub seq: u64,
    pub trace: u64,
    pub time_us: i64,
    pub app: String,
    pub kind: RequestKind,
    pub route: String,
    pub method: String,
    pub path: String,
    pub operation: Option<String>,
    pub status: u16,
    pub elapsed_ms: f64,
    pub user: &'static str,
}

/// A request as the gateway reports it (the journal numbers it).
pub struct RequestReport {
    pub trace: u64,
    pub app: String,
    pub kind: RequestKind,
    pub route: String,
    pub method: String,
    pub path: String,
    pub operation: Option<String>,
    pub status: u16,
    pub elapsed_ms: f64,
    pub user: &'static str,
}

/// One log line, as kept (and sent live).
#[derive(Debug)]
pub struct LogEntry {
    pub seq: u64,
    pub time_us: i64,
    pub app: String,
    pub level: Level,
    pub message: String,
    pub handler: Option<String>,
}

/// One outbound call, as kept (and sent live).
#[derive(Debug)]
pub struct CallEntry {
    pub seq: u64,
    pub trace: Option<u64>,
    pub record: Arc<CallRecord>,
}

struct TraceEntry {
    kind: TraceKind,
    app: Arc<str>,
    name: Arc<str>,
    started_us: i64,
    t0: Instant,
    elapsed_ms: Option<f64>,
    spans: Vec<Span>,
    not_kept: u32,
}

struct Inner {
    events: Ring<EventEntry>,
    /// The kept events' [`EventEntry::bytes`], summed.
    event_bytes: usize,
    requests: Ring<Arc<RequestEntry>>,
    logs: Ring<Arc<LogEntry>>,
    calls: Ring<Arc<CallEntry>>,
}

/// The filters of `GET /_ioctl/api/events`.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub sender: Option<String>,
    pub key: Option<String>,
    pub app: Option<String>,
    pub handler: Option<String>,
    pub outcome: Option<EventOutcome>,
    /// Free text (lowercase) over id, sender, key and the body's JSON.
    pub q: Option<String>,
}

/// The session's journal (see the module's doc).
pub struct Journal {
    inner: Mutex<Inner>,
    /// The traces, behind a lock of their own: the dispatcher begins and ends one per attempt
    /// while the publisher records events under `inner`; one lock would make them wait on
    /// each other at every event.
    traces: Mutex<Ring<TraceEntry>>,
    live: Arc<LiveFeed>,
    board: Board,
    /// Lines over [`LOG_TEXT`] that were cut (for the logs' doc: nothing is cut silently).
    cut: AtomicU64,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                events: Ring::new(EVENTS),
                event_bytes: 0,
                requests: Ring::new(REQUESTS),
                logs: Ring::new(LOGS),
                calls: Ring::new(CALLS),
            }),
            traces: Mutex::new(Ring::new(TRACES)),
            live: Arc::new(LiveFeed {
                tx: broadcast::channel(LIVE_BOUND).0,
                taking: AtomicUsize::new(0),
                pages: AtomicUsize::new(0),
                offered: AtomicU64::new(0),
                apps: AtomicU64::new(0),
            }),
            board: Board::default(),
            cut: AtomicU64::new(0),
        }
    }
}

impl Journal {
    /// A page's feed of live records (taking them until it [pauses](Feed::pause)).
    pub fn subscribe(&self) -> Feed {
        self.live.pages.fetch_add(1, Ordering::Relaxed);
        let mut feed = Feed { live: self.live.clone(), rx: None, paused_at: 0 };
        feed.resume();
        feed
    }

    /// Whether a page takes live records now (one atomic load: the check on the event path).
    fn taken(&self) -> bool {
        self.live.taking.load(Ordering::Relaxed) > 0
    }

    fn send(&self, live: impl FnOnce() -> Live) {
        if self.live.pages.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.live.offered.fetch_add(1, Ordering::Relaxed);
        if self.taken() {
            let _ = self.live.tx.send(live());
        }
    }

    /// Pages open (their live streams), taking records or not.
    pub fn live_pages(&self) -> usize {
        self.live.pages.load(Ordering::Relaxed)
    }

    /// How many times the set of linked apps or one's state changed (pages compare it each
    /// window rather than being sent a record, so a paused page does not miss a change).
    pub fn apps_version(&self) -> u64 {
        self.live.apps.load(Ordering::Relaxed)
    }

    /// The linked apps' board (the overview).
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The set of linked apps or one's state changed.
    pub fn apps_changed(&self) {
        self.live.apps.fetch_add(1, Ordering::Relaxed);
    }

    /// Changes linked app `link`'s entry in the overview, and tells the pages.
    pub fn app(&self, link: u64, id: &str, change: impl FnOnce(&mut crate::protocol::dashboard::AppOverview)) {
        self.board.update(link, id, change);
        self.apps_changed();
    }

    /// Linked app `link` is gone.
    pub fn app_gone(&self, link: u64) {
        self.board.remove(link);
        self.apps_changed();
    }

    /// An event was published, matched by `targets` (app, handler) (none: unmatched). Returns
    /// its seq, which its deliveries' attempts name.
    pub fn event(&self, event: &Arc<Event>, targets: impl IntoIterator<Item = Target>) -> u64 {
        let deliveries = targets
            .into_iter()
            .map(|(app, handler)| DeliveryEntry { app, handler, attempts: Attempts::default(), not_kept: 0 })
            .collect();
        let bytes = held_bytes(&event.body) + event.id.len() + event.sender.len() + event.key.len() + 128;
        // What goes out of the journal is dropped after its lock is released (freeing an old
        // event's body is work the dispatcher's attempts need not wait for).
        let mut gone: SmallVec<[EventEntry; 1]> = SmallVec::new();
        let seq = {
            let mut inner = self.inner.locked();
            let (seq, out) = inner.events.push_out(|_| EventEntry { event: event.clone(), deliveries, bytes });
            inner.event_bytes += bytes;
            if let Some(out) = out {
                inner.event_bytes -= out.bytes;
                gone.push(out);
            }
            // The oldest go past the memory bound too (the newest always stays).
            while inner.event_bytes > EVENT_BYTES && inner.events.items.len() > 1 {
                let old = inner.events.items.pop_front().expect("more than one event");
                inner.event_bytes -= old.bytes;
                gone.push(old);
            }
            seq
        };
        drop(gone);
        self.send(|| Live::Event { seq, event: event.clone() });
        seq
    }

    /// The seq of a kept event (a replay's new deliveries are added to it).
    pub fn event_seq(&self, id: &str) -> Option<u64> {
        let inner = self.inner.locked();
        let first = inner.events.first();
        inner.events.items.iter().rposition(|e| e.event.id == id).map(|i| first + i as u64)
    }

    /// A kept event and the (app, handler) of each of its deliveries (a replay's targets).
    pub fn deliveries_of(&self, id: &str) -> Option<(Arc<Event>, Vec<Target>)> {
        let seq = self.event_seq(id)?;
        let inner = self.inner.locked();
        let e = inner.events.get(seq)?;
        Some((e.event.clone(), e.deliveries.iter().map(|d| (d.app.clone(), d.handler.clone())).collect()))
    }

    /// One attempt of a delivery ended (or a delivery that could not run: attempt 0).
    pub fn attempt(&self, mut report: DeliveryReport) {
        // The texts move into the journal unless a page wants the report too.
        let pages = self.live.pages.load(Ordering::Relaxed) > 0;
        let live = pages && self.taken();
        if pages {
            self.live.offered.fetch_add(1, Ordering::Relaxed);
        }
        let (error, stack) = match live {
            true => (report.error.clone(), report.stack.clone()),
            false => (report.error.take(), report.stack.take()),
        };
        {
            let mut inner = self.inner.locked();
            if let Some(e) = inner.events.get_mut(report.seq) {
                let d = match e.deliveries.iter().position(|d| d.app == report.app && d.handler == report.handler) {
                    Some(i) => &mut e.deliveries[i],
                    None => {
                        e.deliveries.push(DeliveryEntry {
                            app: report.app.clone(),
                            handler: report.handler.clone(),
                            attempts: Attempts::default(),
                            not_kept: 0,
                        });
                        e.deliveries.last_mut().expect("just pushed")
                    }
                };
                if d.attempts.len() == ATTEMPTS {
                    // Keep the first ones and the newest: the one before the newest goes.
                    d.attempts.remove(ATTEMPTS - 1);
                    d.not_kept += 1;
                }
                d.attempts.push(AttemptEntry {
                    attempt: report.attempt,
                    started_us: report.started_us,
                    elapsed_ms: report.elapsed_ms,
                    outcome: report.outcome,
                    error,
                    stack,
                    retry_in_ms: report.retry_in_ms,
                    trace: report.trace,
                });
            }
        }
        if live {
            let _ = self.live.tx.send(Live::Delivery(Arc::new(report)));
        }
    }

    /// Starts a trace (a request, or a delivery attempt); its spans come as its calls end.
    pub fn begin_trace(&self, kind: TraceKind, app: Arc<str>, name: Arc<str>) -> u64 {
        let started_us = chrono::Utc::now().timestamp_micros();
        let t0 = Instant::now();
        self.traces.locked().push(|_| TraceEntry {
            kind,
            app,
            name,
            started_us,
            t0,
            elapsed_ms: None,
            spans: Vec::new(),
            not_kept: 0,
        })
    }

    /// The trace ended after `elapsed_ms`.
    pub fn end_trace(&self, trace: u64, elapsed_ms: f64) {
        if let Some(t) = self.traces.locked().get_mut(trace) {
            t.elapsed_ms = Some(round2(elapsed_ms));
        }
    }

    /// A call of trace `trace` ended; it started at `started`.
    pub fn span(&self, trace: u64, started: Instant, span: impl FnOnce(f64) -> Span) {
        let mut traces = self.traces.locked();
        if let Some(t) = traces.get_mut(trace) {
            if t.spans.len() < SPANS {
                let start_ms = round2(started.saturating_duration_since(t.t0).as_secs_f64() * 1000.0);
                t.spans.push(span(start_ms));
            } else {
                t.not_kept += 1;
            }
        }
    }

    /// A route or GraphQL request answered.
    pub fn request(&self, r: RequestReport) {
        let time_us = chrono::Utc::now().timestamp_micros();
        let entry = {
            let mut inner = self.inner.locked();
            let seq = inner.requests.push(|seq| {
                Arc::new(RequestEntry {
                    seq,
                    trace: r.trace,
                    time_us,
                    app: r.app,
                    kind: r.kind,
                    route: r.route,
                    method: r.method,
                    path: r.path,
                    operation: r.operation,
                    status: r.status,
                    elapsed_ms: round2(r.elapsed_ms),
                    user: r.user,
                })
            });
            inner.requests.get(seq).cloned()
        };
        if let Some(entry) = entry {
            self.send(|| Live::Request(entry));
        }
    }

    /// A line an app logged (its terminal's line).
    pub fn log(&self, app: &str, level: Level, message: &str, handler: Option<&str>) {
        let time_us = chrono::Utc::now().timestamp_micros();
        let message = if message.len() > LOG_TEXT {
            self.cut.fetch_add(1, Ordering::Relaxed);
            let mut end = LOG_TEXT;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}… ({} more bytes not kept)", &message[..end], message.len() - end)
        } else {
            message.to_string()
        };
        let entry = {
            let mut inner = self.inner.locked();
            let seq = inner.logs.push(|seq| {
                Arc::new(LogEntry {
                    seq,
                    time_us,
                    app: app.to_string(),
                    level,
                    message,
                    handler: handler.map(String::from),
                })
            });
            inner.logs.get(seq).cloned()
        };
        if let Some(entry) = entry {
            self.send(|| Live::Log(entry));
        }
    }

    /// An outbound call was answered (made in `trace`, if any): kept whole, and a span of its trace.
    pub fn call(&self, record: Arc<CallRecord>, trace: Option<u64>, started: Instant) {
        let entry = {
            let mut inner = self.inner.locked();
            let seq = inner.calls.push(|seq| Arc::new(CallEntry { seq, trace, record }));
            inner.calls.get(seq).cloned()
        };
        let Some(entry) = entry else { return };
        if let Some(trace) = trace {
            let line = &entry.record.line;
            let name = if line.via.contains('.') {
                format!("{} ({} {})", line.via, line.method, line.url)
            } else {
                format!("{} {}", line.method, line.url)
            };
            self.span(trace, started, |start_ms| Span {
                kind: SpanKind::Outbound,
                name,
                start_ms,
                elapsed_ms: line.elapsed_ms,
                status: Some(line.status),
                ok: line.status < 400 && line.answered != Answered::Missing,
                answered: Some(line.answered),
                call: Some(entry.seq),
            });
        }
        self.send(|| Live::Call(entry));
    }

    /// Events, newest first.
    pub fn events(&self, before: Option<u64>, limit: usize, f: &EventFilter) -> EventsPage {
        let inner = self.inner.locked();
        let exact = f.q.as_deref().filter(|q| inner.events.items.iter().any(|e| e.event.id.eq_ignore_ascii_case(q)));
        let (found, more) = inner.events.page(before, limit, |e| match exact {
            Some(id) => e.event.id.eq_ignore_ascii_case(id),
            None => f.keeps(e),
        });
        let events = found.into_iter().map(|(seq, e)| summary(seq, e)).collect();
        EventsPage { kept: inner.events.items.len(), seen: inner.events.seen, more, events }
    }

    /// An event's summary (the live `event` record), when it is kept.
    pub fn event_summary(&self, seq: u64) -> Option<EventSummary> {
        let inner = self.inner.locked();
        inner.events.get(seq).map(|e| summary(seq, e))
    }

    /// One event with its deliveries' attempts, by id.
    pub fn event_detail(&self, id: &str) -> Option<EventDetail> {
        let seq = self.event_seq(id)?;
        let inner = self.inner.locked();
        let e = inner.events.get(seq)?;
        let deliveries = e
            .deliveries
            .iter()
            .map(|d| DeliveryDetail {
                app: d.app.to_string(),
                handler: d.handler.to_string(),
                outcome: d.state(),
                attempts: d
                    .attempts
                    .iter()
                    .map(|a| AttemptDetail {
                        attempt: a.attempt,
                        started: rfc3339(a.started_us),
                        elapsed_ms: round2(a.elapsed_ms),
                        outcome: a.outcome,
                        error: a.error.clone(),
                        stack: a.stack.clone(),
                        retry_in_ms: a.retry_in_ms,
                        trace: a.trace,
                    })
                    .collect(),
                attempts_not_kept: d.not_kept,
            })
            .collect();
        Some(EventDetail { seq, outcome: outcome(&e.deliveries), event: e.event.clone(), deliveries })
    }

    /// Requests, newest first, of `app` (when given) matching `q` (lowercase).
    pub fn requests(&self, before: Option<u64>, limit: usize, app: Option<&str>, q: Option<&str>) -> RequestsPage {
        let inner = self.inner.locked();
        let (found, more) = inner.requests.page(before, limit, |r| {
            app.is_none_or(|a| app_matches(&r.app, a))
                && q.is_none_or(|q| {
                    [r.path.as_str(), r.route.as_str(), r.method.as_str(), r.operation.as_deref().unwrap_or("")]
                        .iter()
                        .any(|t| contains(t, q))
                        || r.status.to_string() == q
                })
        });
        let requests = found.into_iter().map(|(_, r)| request_summary(r)).collect();
        RequestsPage { kept: inner.requests.items.len(), seen: inner.requests.seen, more, requests }
    }

    /// Log lines, newest first, of `app`, at `level` or above, matching `q` (lowercase).
    pub fn logs(
        &self,
        before: Option<u64>,
        limit: usize,
        app: Option<&str>,
        level: Option<Level>,
        q: Option<&str>,
    ) -> LogsPage {
        let inner = self.inner.locked();
        let (found, more) = inner.logs.page(before, limit, |l| {
            app.is_none_or(|a| app_matches(&l.app, a))
                && level.is_none_or(|min| l.level >= min)
                && q.is_none_or(|q| contains(&l.message, q) || l.handler.as_deref().is_some_and(|h| contains(h, q)))
        });
        let lines = found.into_iter().map(|(_, l)| log_line(l)).collect();
        LogsPage { kept: inner.logs.items.len(), seen: inner.logs.seen, more, lines }
    }

    /// A trace, when it is kept.
    pub fn trace(&self, trace: u64) -> Option<Trace> {
        let traces = self.traces.locked();
        let t = traces.get(trace)?;
        Some(Trace {
            trace,
            kind: t.kind,
            app: t.app.to_string(),
            name: t.name.to_string(),
            started: rfc3339(t.started_us),
            elapsed_ms: t.elapsed_ms,
            spans: t.spans.clone(),
            spans_not_kept: t.not_kept,
        })
    }

    /// An outbound call's whole record, when it is kept.
    pub fn call_record(&self, seq: u64) -> Option<Arc<CallRecord>> {
        self.inner.locked().calls.get(seq).map(|c| c.record.clone())
    }
}

impl EventFilter {
    fn keeps(&self, e: &EventEntry) -> bool {
        let ev = &e.event;
        self.sender.as_deref().is_none_or(|s| ev.sender == s)
            && self.key.as_deref().is_none_or(|k| ev.key == k)
            && self.app.as_deref().is_none_or(|a| e.deliveries.iter().any(|d| app_matches(&d.app, a)))
            && self.handler.as_deref().is_none_or(|h| e.deliveries.iter().any(|d| &*d.handler == h))
            && self.outcome.is_none_or(|o| outcome(&e.deliveries) == o)
            && self.q.as_deref().is_none_or(|q| {
                contains(&ev.id, q)
                    || contains(&ev.sender, q)
                    || contains(&ev.key, q)
                    || contains(&serde_json::to_string(&ev.body).unwrap_or_default(), q)
            })
    }
}

/// `vendor.name@version` is asked for by its full id or by `vendor.name`.
fn app_matches(app: &str, asked: &str) -> bool {
    app == asked || app.split('@').next() == Some(asked)
}

/// Whether `text` contains `q` (already lowercase), ignoring case.
fn contains(text: &str, q: &str) -> bool {
    text.to_lowercase().contains(q)
}

impl DeliveryEntry {
    fn state(&self) -> DeliveryState {
        match self.attempts.last().map(|a| a.outcome) {
            None => DeliveryState::Pending,
            Some(Outcome::Ok) => DeliveryState::Ok,
            Some(Outcome::Retry) => DeliveryState::Retry,
            Some(Outcome::Failed) => DeliveryState::Failed,
        }
    }
}

/// An event's outcome over its deliveries: unmatched without any; else failed, retrying or
/// pending as soon as one is; ok when all are.
fn outcome(deliveries: &[DeliveryEntry]) -> EventOutcome {
    if deliveries.is_empty() {
        return EventOutcome::Unmatched;
    }
    let states: Vec<DeliveryState> = deliveries.iter().map(DeliveryEntry::state).collect();
    if states.contains(&DeliveryState::Failed) {
        EventOutcome::Failed
    } else if states.contains(&DeliveryState::Retry) {
        EventOutcome::Retrying
    } else if states.contains(&DeliveryState::Pending) {
        EventOutcome::Pending
    } else {
        EventOutcome::Ok
    }
}

fn summary(seq: u64, e: &EventEntry) -> EventSummary {
    EventSummary {
        seq,
        id: e.event.id.clone(),
        time: e.event.time_rfc3339(),
        sender: e.event.sender.clone(),
        key: e.event.key.clone(),
        outcome: outcome(&e.deliveries),
        deliveries: e
            .deliveries
            .iter()
            .map(|d| DeliverySummary {
                app: d.app.to_string(),
                handler: d.handler.to_string(),
                outcome: d.state(),
                attempts: d.attempts.iter().filter(|a| a.attempt > 0).count() as u32 + d.not_kept,
            })
            .collect(),
    }
}

pub fn request_summary(r: &RequestEntry) -> RequestSummary {
    RequestSummary {
        seq: r.seq,
        trace: r.trace,
        time: rfc3339(r.time_us),
        app: r.app.clone(),
        kind: r.kind,
        route: r.route.clone(),
        method: r.method.clone(),
        path: r.path.clone(),
        operation: r.operation.clone(),
        status: r.status,
        elapsed_ms: r.elapsed_ms,
        user: r.user.to_string(),
    }
}

pub fn log_line(l: &LogEntry) -> LogLine {
    LogLine {
        seq: l.seq,
        time: rfc3339(l.time_us),
        app: l.app.clone(),
        level: l.level,
        message: l.message.clone(),
        handler: l.handler.clone(),
    }
}

/// Microseconds since the epoch as RFC 3339.
pub fn rfc3339(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u64, sender: &str, key: &str, body: serde_json::Value) -> Arc<Event> {
        Arc::new(Event {
            id: format!("abc123-{n}"),
            sender: sender.into(),
            key: key.into(),
            subject: String::new(),
            body,
            time: 1_700_000_000_000_000 + n as i64,
        })
    }

    #[test]
    fn big_bodies_are_kept_within_the_memory_bound_newest_first() {
        let j = Journal::default();
        let body = json!({"blob": "x".repeat(1 << 20)});
        let size = held_bytes(&body);
        assert!((1 << 20..(1 << 20) + 512).contains(&size), "{size}");
        let mut last = 0;
        for n in 1..=200 {
            last = j.event(&event(n, "a.b", "k", body.clone()), vec![]);
        }
        let inner = j.inner.locked();
        let kept = inner.events.items.len();
        assert!(kept < 64 && kept > 50, "about {} bodies of 1 MiB fit in {EVENT_BYTES}: {kept}", EVENT_BYTES >> 20);
        assert!(inner.event_bytes <= EVENT_BYTES);
        assert_eq!(inner.event_bytes, inner.events.items.iter().map(|e| e.bytes).sum::<usize>());
        assert_eq!(inner.events.get(last).map(|e| e.event.id.as_str()), Some("abc123-200"), "the newest by its seq");
        assert!(inner.events.get(last - kept as u64).is_none(), "the oldest are gone");
        drop(inner);
        assert!(j.event_detail("abc123-200").is_some() && j.event_detail("abc123-1").is_none());
        let tiny = Journal::default();
        tiny.event(&event(1, "a.b", "k", json!({"blob": "x".repeat(EVENT_BYTES + 1)})), vec![]);
        assert_eq!(tiny.inner.locked().events.items.len(), 1, "one event over the bound is still kept");
    }

    fn target(app: &str, handler: &str) -> (Arc<str>, Arc<str>) {
        (app.into(), handler.into())
    }

    fn attempt(seq: u64, e: &Arc<Event>, target: &(Arc<str>, Arc<str>), n: u32, outcome: Outcome) -> DeliveryReport {
        DeliveryReport {
            seq,
            event: e.clone(),
            app: target.0.clone(),
            handler: target.1.clone(),
            attempt: n,
            started_us: 1_700_000_000_000_000,
            elapsed_ms: 1.234,
            outcome,
            error: (outcome != Outcome::Ok).then(|| "boom".to_string()),
            stack: None,
            retry_in_ms: (outcome == Outcome::Retry).then_some(50),
            trace: Some(7),
        }
    }

    fn ids(page: &EventsPage) -> Vec<&str> {
        page.events.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn every_kind_stays_within_its_bound_after_three_times_as_many() {
        let j = Journal::default();
        let t = target("v.a@1.0.0", "h");
        for n in 1..=3 * EVENTS as u64 {
            let e = event(n, "s.x", "k", json!({"n": n}));
            let seq = j.event(&e, vec![t.clone()]);
            assert_eq!(seq, n);
            j.attempt(attempt(seq, &e, &t, 1, Outcome::Ok));
        }
        for n in 0..3 * LOGS {
            j.log("v.a@1.0.0", Level::Info, &format!("line {n}"), None);
        }
        for _ in 0..3 * TRACES {
            let trace = j.begin_trace(TraceKind::Request, "v.a@1.0.0".into(), "r".into());
            j.request(RequestReport {
                trace,
                app: "v.a@1.0.0".into(),
                kind: RequestKind::Route,
                route: "r".into(),
                method: "GET".into(),
                path: "/_v/r".into(),
                operation: None,
                status: 200,
                elapsed_ms: 1.0,
                user: "admin",
            });
            for _ in 0..SPANS + 3 {
                j.span(trace, Instant::now(), |start_ms| Span {
                    kind: SpanKind::Platform,
                    name: "vbase.getFile b/p".into(),
                    start_ms,
                    elapsed_ms: 0.1,
                    status: Some(200),
                    ok: true,
                    answered: None,
                    call: None,
                });
            }
        }
        let inner = j.inner.locked();
        assert_eq!((inner.events.items.len(), inner.events.seen), (EVENTS, 3 * EVENTS as u64));
        assert_eq!((inner.logs.items.len(), inner.logs.seen), (LOGS, 3 * LOGS as u64));
        assert_eq!((inner.requests.items.len(), inner.requests.seen), (REQUESTS, 3 * TRACES as u64));
        drop(inner);
        let traces = j.traces.locked();
        assert_eq!((traces.items.len(), traces.seen), (TRACES, 3 * TRACES as u64));
        assert!(traces.items.iter().all(|t| t.spans.len() == SPANS && t.not_kept == 3));
        drop(traces);
        assert!(j.event_detail("abc123-1").is_none(), "the oldest are gone");
        let newest = j.event_detail(&format!("abc123-{}", 3 * EVENTS)).unwrap();
        assert_eq!((newest.seq, newest.outcome), (3 * EVENTS as u64, EventOutcome::Ok));
        assert!(j.trace(1).is_none() && j.trace(3 * TRACES as u64).is_some());
    }

    #[test]
    fn a_delivery_keeps_its_first_attempts_and_its_last() {
        let j = Journal::default();
        let t = target("v.a@1.0.0", "h");
        let e = event(1, "s.x", "k", json!({}));
        let seq = j.event(&e, vec![t.clone()]);
        for n in 1..=40 {
            j.attempt(attempt(seq, &e, &t, n, if n == 40 { Outcome::Failed } else { Outcome::Retry }));
        }
        let d = &j.event_detail("abc123-1").unwrap().deliveries[0];
        assert_eq!((d.attempts.len(), d.attempts_not_kept), (ATTEMPTS, 40 - ATTEMPTS as u32));
        assert_eq!(d.attempts.first().unwrap().attempt, 1);
        assert_eq!(d.attempts.last().map(|a| (a.attempt, a.outcome)), Some((40, Outcome::Failed)));
        assert_eq!(j.events(None, 10, &EventFilter::default()).events[0].deliveries[0].attempts, 40);
    }

    #[test]
    fn lists_page_newest_first_with_before_and_limit() {
        let j = Journal::default();
        for n in 1..=25 {
            j.event(&event(n, "s.x", "k", json!({})), Vec::new());
        }
        let all = EventFilter::default();
        let first = j.events(None, 10, &all);
        assert_eq!((first.kept, first.seen, first.more), (25, 25, true));
        assert_eq!(first.events.iter().map(|e| e.seq).collect::<Vec<_>>(), (16..=25).rev().collect::<Vec<_>>());
        let second = j.events(Some(16), 10, &all);
        assert_eq!(second.events.first().map(|e| e.seq), Some(15));
        let last = j.events(Some(6), 10, &all);
        assert_eq!((last.events.len(), last.more), (5, false));
        assert!(j.events(Some(1), 10, &all).events.is_empty());
        assert_eq!(j.events(Some(1000), 3, &all).events[0].seq, 25, "a before past the newest is the newest");
    }

    #[test]
    fn each_filter_keeps_only_its_events() {
        let j = Journal::default();
        let (a, b) = (target("v.a@1.0.0", "onOrder"), target("v.b@2.0.0", "onStock"));
        let e1 = event(1, "vtex.orders", "order-created", json!({"orderId": "ORD-77"}));
        let s1 = j.event(&e1, vec![a.clone()]);
        j.attempt(attempt(s1, &e1, &a, 1, Outcome::Ok));
        let e2 = event(2, "vtex.stock", "stock-changed", json!({"sku": 9}));
        let s2 = j.event(&e2, vec![b.clone()]);
        j.attempt(attempt(s2, &e2, &b, 1, Outcome::Retry));
        let e3 = event(3, "vtex.stock", "stock-changed", json!({}));
        j.event(&e3, Vec::new());
        let e4 = event(4, "vtex.orders", "order-created", json!({}));
        let s4 = j.event(&e4, vec![a.clone(), b.clone()]);
        j.attempt(attempt(s4, &e4, &b, 1, Outcome::Failed));

        let find = |f: EventFilter| ids(&j.events(None, 100, &f)).iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let f = EventFilter::default;
        assert_eq!(find(EventFilter { sender: Some("vtex.stock".into()), ..f() }), ["abc123-3", "abc123-2"]);
        assert_eq!(find(EventFilter { key: Some("order-created".into()), ..f() }), ["abc123-4", "abc123-1"]);
        assert_eq!(find(EventFilter { app: Some("v.b".into()), ..f() }), ["abc123-4", "abc123-2"]);
        assert_eq!(find(EventFilter { app: Some("v.a@1.0.0".into()), ..f() }), ["abc123-4", "abc123-1"]);
        assert_eq!(find(EventFilter { handler: Some("onOrder".into()), ..f() }), ["abc123-4", "abc123-1"]);
        assert_eq!(find(EventFilter { outcome: Some(EventOutcome::Unmatched), ..f() }), ["abc123-3"]);
        assert_eq!(find(EventFilter { outcome: Some(EventOutcome::Retrying), ..f() }), ["abc123-2"]);
        assert_eq!(find(EventFilter { outcome: Some(EventOutcome::Failed), ..f() }), ["abc123-4"]);
        assert_eq!(find(EventFilter { outcome: Some(EventOutcome::Ok), ..f() }), ["abc123-1"]);
        assert_eq!(find(EventFilter { q: Some("ord-77".into()), ..f() }), ["abc123-1"], "the body's text");
        assert_eq!(find(EventFilter { q: Some("stock".into()), ..f() }), ["abc123-3", "abc123-2"]);
        // An id finds exactly that event.
        assert_eq!(find(EventFilter { q: Some("abc123-1".into()), ..f() }), ["abc123-1"]);
        let detail = j.event_detail("abc123-4").unwrap();
        assert_eq!(detail.outcome, EventOutcome::Failed);
        let states: Vec<_> = detail.deliveries.iter().map(|d| (d.app.as_str(), d.outcome)).collect();
        assert_eq!(states, [("v.a@1.0.0", DeliveryState::Pending), ("v.b@2.0.0", DeliveryState::Failed)]);
        let retry = &j.event_detail("abc123-2").unwrap().deliveries[0].attempts[0];
        assert_eq!((retry.error.as_deref(), retry.retry_in_ms, retry.trace), (Some("boom"), Some(50), Some(7)));
    }

    #[test]
    fn logs_filter_by_app_level_and_text() {
        let j = Journal::default();
        j.log("v.a@1.0.0", Level::Debug, "starting", None);
        j.log("v.a@1.0.0", Level::Error, "Order failed", Some("onOrder"));
        j.log("v.b@1.0.0", Level::Warn, "slow stock", None);
        let messages = |page: LogsPage| page.lines.into_iter().map(|l| l.message).collect::<Vec<_>>();
        assert_eq!(messages(j.logs(None, 10, None, Some(Level::Warn), None)), ["slow stock", "Order failed"]);
        assert_eq!(messages(j.logs(None, 10, Some("v.a"), None, None)), ["Order failed", "starting"]);
        assert_eq!(messages(j.logs(None, 10, None, None, Some("order"))), ["Order failed"]);
        let long = "é".repeat(LOG_TEXT);
        j.log("v.a@1.0.0", Level::Info, &long, None);
        let kept = &j.logs(None, 1, None, None, None).lines[0].message;
        assert!(kept.len() < LOG_TEXT + 64 && kept.ends_with("more bytes not kept)"), "{}", kept.len());
    }

    #[tokio::test]
    async fn a_page_that_falls_behind_lags_and_the_journal_never_waits() {
        let j = Journal::default();
        let mut page = j.subscribe();
        for n in 1..=(LIVE_BOUND as u64 + 10) {
            j.event(&event(n, "s.x", "k", json!({})), Vec::new());
        }
        match page.recv().await {
            Err(broadcast::error::RecvError::Lagged(skipped)) => assert_eq!(skipped, 10),
            other => panic!("expected a lag, got {other:?}"),
        }
        let Ok(Live::Event { seq, .. }) = page.recv().await else { panic!("the records after the lag") };
        assert_eq!(seq, 11);
        let record =
            crate::session::dashboard::live::record(&j, Live::Event { seq, event: event(11, "s.x", "k", json!({})) });
        assert!(
            matches!(record, Some(crate::protocol::dashboard::LiveRecord::Event(e)) if e.outcome == EventOutcome::Unmatched)
        );
    }
}
