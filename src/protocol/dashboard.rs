//! The typed wire of the dashboard's history, live stream and overview (issue 23's contract,
//! "Live stream", "History" and `GET /_ioctl/api/overview`): what the session's journal answers
//! the page, in one place. Times are RFC 3339; `seq` numbers are per kind, from 1.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::stream::{Answered, CallLine, Level, Outcome, RelinkPhases};
use super::{Counts, Event};

/// How an event stands, over all its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    /// A delivery has not run (or not finished) its first attempt.
    Pending,
    /// Every delivery succeeded.
    Ok,
    /// A delivery failed for good.
    Failed,
    /// A delivery waits to retry.
    Retrying,
    /// No handler matched it.
    Unmatched,
}

impl EventOutcome {
    pub fn parse(text: &str) -> Option<EventOutcome> {
        match text {
            "pending" => Some(EventOutcome::Pending),
            "ok" => Some(EventOutcome::Ok),
            "failed" => Some(EventOutcome::Failed),
            "retrying" => Some(EventOutcome::Retrying),
            "unmatched" => Some(EventOutcome::Unmatched),
            _ => None,
        }
    }
}

/// How one delivery stands: its last attempt's outcome, or pending before one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Ok,
    Retry,
    Failed,
}

/// One delivery of an event in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverySummary {
    pub app: String,
    pub handler: String,
    pub outcome: DeliveryState,
    pub attempts: u32,
}

/// One event in a list (and the live `event` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    pub seq: u64,
    pub id: String,
    pub time: String,
    pub sender: String,
    pub key: String,
    pub outcome: EventOutcome,
    pub deliveries: Vec<DeliverySummary>,
}

/// `GET /_ioctl/api/events`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventsPage {
    /// Events the journal keeps now, and has seen since the session started.
    pub kept: usize,
    pub seen: u64,
    /// Older events match beyond this page (ask with `before` = the last one's seq).
    pub more: bool,
    pub events: Vec<EventSummary>,
}

/// One attempt of a delivery, in an event's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptDetail {
    /// 1 for the first; 0 for a delivery that never ran (the link stopped first).
    pub attempt: u32,
    pub started: String,
    pub elapsed_ms: f64,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The wait before the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// The attempt's trace (`GET /_ioctl/api/traces/{trace}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<u64>,
}

/// One delivery with its attempts, in an event's detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryDetail {
    pub app: String,
    pub handler: String,
    pub outcome: DeliveryState,
    pub attempts: Vec<AttemptDetail>,
    /// Attempts past the journal's bound per delivery, not kept (the first and last are).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts_not_kept: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `GET /_ioctl/api/events/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventDetail {
    pub seq: u64,
    pub outcome: EventOutcome,
    pub event: Arc<Event>,
    pub deliveries: Vec<DeliveryDetail>,
}

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    Route,
    Graphql,
}

/// One route or GraphQL request (and the live `request` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    pub seq: u64,
    pub trace: u64,
    pub time: String,
    pub app: String,
    pub kind: RequestKind,
    /// The route id, or `graphql`.
    pub route: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub status: u16,
    /// Until the response's head (a streamed body may go on).
    pub elapsed_ms: f64,
    /// admin, shopper, anonymous.
    pub user: String,
}

/// `GET /_ioctl/api/requests`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestsPage {
    pub kept: usize,
    pub seen: u64,
    pub more: bool,
    pub requests: Vec<RequestSummary>,
}

/// What a trace follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceKind {
    Request,
    Delivery,
}

/// What a span was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanKind {
    /// A local platform client's call (settings, VBase, Master Data).
    Platform,
    /// An outbound HTTP call across the boundary.
    Outbound,
}

/// One call made inside a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub kind: SpanKind,
    /// `vbase.saveFile`, or `GET https://…`.
    pub name: String,
    /// From the trace's start.
    pub start_ms: f64,
    pub elapsed_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<Answered>,
    /// The seq of the call's whole record (`GET /_ioctl/api/calls/{seq}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<u64>,
}

/// `GET /_ioctl/api/traces/{trace}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trace {
    pub trace: u64,
    pub kind: TraceKind,
    pub app: String,
    /// The route id (or `graphql`) or the handler.
    pub name: String,
    pub started: String,
    /// Absent while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<f64>,
    pub spans: Vec<Span>,
    /// Spans past the journal's bound per trace, not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spans_not_kept: u32,
}

/// One line an app logged (and the live `log` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub seq: u64,
    pub time: String,
    pub app: String,
    pub level: Level,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
}

/// `GET /_ioctl/api/logs`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogsPage {
    pub kept: usize,
    pub seen: u64,
    pub more: bool,
    pub lines: Vec<LogLine>,
}

/// A linked app's Node process, as the overview shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppState {
    /// Building and starting its first version.
    Starting,
    Running,
    /// Its process crashed: a new one starts after a backoff.
    Restarting,
    /// No process runs (its build failed, or a restart did).
    Stopped,
}

/// The last relink of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelinkInfo {
    pub at: String,
    pub elapsed_ms: u64,
    pub phases: RelinkPhases,
}

/// One event subscription of node/service.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    pub handler: String,
    /// `None`: any sender.
    pub sender: Option<String>,
    pub keys: Vec<String>,
}

/// One route of node/service.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteInfo {
    pub id: String,
    pub path: String,
    pub public: bool,
}

/// One linked app in the overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppOverview {
    /// `vendor.name@version`.
    pub id: String,
    /// The session's id of the link.
    pub link: u64,
    pub state: AppState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The process's resident memory (VmRSS), read when the overview is asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    pub restarts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relink: Option<RelinkInfo>,
    pub events: Vec<SubscriptionInfo>,
    pub routes: Vec<RouteInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphql: Option<String>,
    /// Whether manifest.json has a settingsSchema.
    pub settings: bool,
}

/// `GET /_ioctl/api/overview`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Overview {
    pub account: String,
    pub workspace: String,
    pub url: String,
    pub counts: Counts,
    pub apps: Vec<AppOverview>,
}

/// One record of `GET /_ioctl/api/live`: a line of a message (`data: <json>`; records waiting
/// together share a message, a record a line).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveRecord {
    Hello {
        account: String,
        workspace: String,
        protocol: u32,
    },
    /// An event was published (pending, or unmatched).
    Event(EventSummary),
    /// One delivery attempt ended.
    Delivery {
        event_id: String,
        /// The event's seq.
        seq: u64,
        app: String,
        handler: String,
        outcome: Outcome,
        attempt: u32,
        elapsed_ms: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    Request(RequestSummary),
    Log(LogLine),
    /// An outbound call finished (its whole record: `GET /_ioctl/api/calls/{seq}`).
    Call {
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<u64>,
        #[serde(flatten)]
        line: CallLine,
    },
    /// The workspace's counts changed (at most every 250 ms).
    Counts {
        counts: Counts,
    },
    /// The set of linked apps, or one's state, changed: fetch the overview again.
    Apps,
    /// This page fell behind and missed `skipped` records.
    Lagged {
        skipped: u64,
    },
    /// Last: the session ended.
    SessionEnd,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_records_are_flat_objects_with_a_type() {
        let r = LiveRecord::Counts { counts: Counts::default() };
        assert_eq!(serde_json::to_value(&r).unwrap()["type"], "counts");
        let e = LiveRecord::Event(EventSummary {
            seq: 1,
            id: "a-1".into(),
            time: "t".into(),
            sender: "s".into(),
            key: "k".into(),
            outcome: EventOutcome::Unmatched,
            deliveries: vec![],
        });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"type": "event", "seq": 1, "id": "a-1", "time": "t", "sender": "s", "key": "k",
                   "outcome": "unmatched", "deliveries": []})
        );
        assert_eq!(serde_json::to_value(LiveRecord::SessionEnd).unwrap(), json!({"type": "session_end"}));
        assert_eq!(
            serde_json::to_value(LiveRecord::Lagged { skipped: 3 }).unwrap(),
            json!({"type": "lagged", "skipped": 3})
        );
    }
}
