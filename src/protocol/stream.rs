//! The records of the streams a session sends: a link's output ([`Output`], which the link
//! command prints for people or as `--json` [`LinkRecord`]s), an events tail's ([`TailRecord`])
//! and a calls tail's ([`CallsRecord`]). Both ends use these types; a record's `type` is
//! matched here and nowhere else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Counts, Event, Hello};
use crate::diagnostic::Diagnostic;

/// How much a line matters, as the VTEX toolbelt shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Level {
        match s {
            "debug" | "trace" => Level::Debug,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            _ => Level::Info,
        }
    }
}

/// One thing a linked app's link command shows: each line of `POST /_ioctl/apps`'s answer
/// after its [`Hello`] (externally tagged: `{"Log": {...}}`). The session's tasks send it to
/// the app's terminal; the link command renders it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Output {
    /// `HH:MM:SS.mmm - level: message  app` — app output (with the handler it came from) or,
    /// with no app, ioctl's own status lines.
    Log { level: Level, message: String, app: Option<String>, handler: Option<String> },
    /// A positioned problem in a user file.
    Diagnostic { level: Level, diagnostic: Diagnostic },
    /// A structured record: `human` for people (as a log line at `level`, or plain when
    /// `None`), `record` for `--json`.
    Record {
        level: Option<Level>,
        human: String,
        #[serde(rename = "json")]
        record: LinkRecord,
    },
    /// A type check's result: its errors (each positioned, with a code frame), then a summary.
    TypeCheck(TypeCheckReport),
}

/// What one type check of a linked app found (`ioctl link --json`: a `typecheck` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeCheckReport {
    pub errors: Vec<TypeError>,
    pub outcome: TypeCheckOutcome,
    /// The TypeScript version that checked (the builder's, or the app's own).
    pub typescript: String,
    /// The app's own files in the program.
    pub files: usize,
    /// From the request to the answer, to 0.1 ms.
    pub elapsed_ms: f64,
    /// `--strict-types`: the errors refused the relink.
    #[serde(default)]
    pub refused: bool,
    /// The first check since the link started, for its one `types are clean` line.
    #[serde(default)]
    pub first: bool,
}

/// One type error: TypeScript's code (2322 for TS2322) and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeError {
    pub code: u32,
    #[serde(flatten)]
    pub at: Diagnostic,
}

/// How a type check compares with the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeCheckOutcome {
    Errors,
    /// No errors, nor in the check before.
    Clean,
    /// No errors, after a check that had some.
    CleanAgain,
}

impl TypeCheckReport {
    /// The report for people: each error positioned (`type error TS2322: ...`), then its
    /// summary line (or nothing, for a clean check after a clean one).
    pub fn lines(&self) -> (Vec<Diagnostic>, Option<(Level, String)>) {
        let errors = self
            .errors
            .iter()
            .map(|e| Diagnostic { message: format!("type error TS{}: {}", e.code, e.at.message), ..e.at.clone() })
            .collect();
        let n = self.errors.len();
        let took = format!("TypeScript {}, {:.2} s", self.typescript, self.elapsed_ms / 1000.0);
        let summary = match self.outcome {
            TypeCheckOutcome::Errors => {
                let what = if n == 1 { "1 type error".to_string() } else { format!("{n} type errors") };
                let then = if self.refused {
                    "--strict-types refuses the build, as VTEX's node builder does: the previous version keeps running"
                } else {
                    "the app runs the last build anyway"
                };
                Some((Level::Warn, format!("{what}; {then} ({took})")))
            }
            TypeCheckOutcome::CleanAgain => Some((Level::Info, format!("types are clean again ({took})"))),
            TypeCheckOutcome::Clean if self.first => {
                Some((Level::Info, format!("types are clean ({took}, {} files)", self.files)))
            }
            TypeCheckOutcome::Clean => None,
        };
        (errors, summary)
    }
}

/// What `ioctl link --json` prints, one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LinkRecord {
    /// The app's first version is live (`elapsed_ms` since the link command started).
    Ready { app: String, account: String, workspace: String, url: String, elapsed_ms: u64, linked: bool },
    /// A line the app wrote (a handler's log, console output).
    Log {
        level: Level,
        message: String,
        app: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handler: Option<String>,
    },
    /// ioctl's own line about the link.
    Status { level: Level, message: String },
    /// A file the watch saw change.
    Change { op: ChangeOp, path: String },
    /// A save's new version is live: `elapsed_ms` from rereading the app to the switch, by phase.
    Relinked { elapsed_ms: u64, phases: RelinkPhases },
    /// The app did not build or start; `at` when the problem has a place in a user file.
    Error {
        message: String,
        #[serde(flatten)]
        at: Option<Position>,
    },
    /// A problem in a user file that does not stop the link.
    Warning {
        message: String,
        #[serde(flatten)]
        at: Position,
    },
    /// The app was unlinked: its own counts (`app`) and its workspace's (`counts`).
    Stopped { app: Counts, counts: Counts },
    /// One outbound call of the app and who answered it (`ioctl calls tail` shows its bodies).
    Call(CallLine),
    /// `link --inspect`: the app stands in the debugger at `file:line` (the app's .ts file,
    /// relative to the app, when the pause is in its code); `reason` as the inspector says
    /// (`other` for a breakpoint or `debugger;`, `exception`...).
    Paused { app: String, file: String, line: u32, reason: String },
    /// The app goes on after a pause.
    Resumed { app: String },
    /// A type check's result, after a good build (off the relink's path).
    Typecheck(TypeCheckReport),
}

/// An outbound call as the link's log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallLine {
    /// `vendor.name@version` of the calling app.
    pub app: String,
    /// The client method (`ctx.clients.tenant.info`) or library (`axios`) that made it.
    pub via: String,
    pub method: String,
    pub url: String,
    pub answered: Answered,
    pub status: u16,
    /// To 0.01 ms.
    pub elapsed_ms: f64,
}

/// Who answered an outbound call (the boundary's order: an app linked in the workspace, a
/// local service, a fixture, the developer's own account, else nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answered {
    Linked,
    Local,
    Fixture,
    Cloud,
    Missing,
}

impl Answered {
    pub fn as_str(self) -> &'static str {
        match self {
            Answered::Linked => "linked",
            Answered::Local => "local",
            Answered::Fixture => "fixture",
            Answered::Cloud => "cloud",
            Answered::Missing => "missing",
        }
    }
}

/// The lines of `GET /_ioctl/calls/tail`, as `ioctl calls tail --json` prints them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallsRecord {
    /// First: who is talking, in which protocol version.
    Hello(Hello),
    /// One outbound call, with its request and answer.
    Call(Arc<CallRecord>),
    /// This tail fell behind and missed `skipped` calls (the apps never wait for it).
    Lagged { skipped: u64 },
    /// Last: the session ended, having seen `calls` outbound calls in all.
    SessionEnd { calls: u64 },
}

/// One outbound call of an app, whole: [`CallLine`]'s fields plus what was sent and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// When it was made, RFC 3339 with microseconds.
    pub time: String,
    #[serde(flatten)]
    pub line: CallLine,
    pub request: Exchange,
    pub response: Exchange,
    /// Why nothing answered it, and how to answer it (a `missing` call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One side of a call: its headers (credentials redacted) and body (capped).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as text, or base64 when it is not UTF-8 (`base64` says so); none when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub base64: bool,
    /// The whole body's size in bytes.
    pub size: usize,
    /// Whether `body` holds only the body's first bytes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Updated (`U`) or deleted (`D`), as `vtex link` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeOp {
    #[serde(rename = "U")]
    Updated,
    #[serde(rename = "D")]
    Deleted,
}

impl ChangeOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Updated => "U",
            ChangeOp::Deleted => "D",
        }
    }
}

/// Where a relink spent its time, in milliseconds (to 0.1 ms); the Node host's own timings
/// are `None` when it did not report them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RelinkPhases {
    pub read_ms: f64,
    pub build_ms: f64,
    pub load_ms: f64,
    pub switch_ms: f64,
    pub app_modules_ms: Option<f64>,
    pub graphql_ms: Option<f64>,
}

/// A place in a user file (1-based line and column), with the help that goes with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub help: Option<String>,
}

impl LinkRecord {
    /// A diagnostic as `--json` shows it: an `error`, or a `warning` at any other level.
    pub fn diagnostic(level: Level, d: &Diagnostic) -> LinkRecord {
        let at = Position {
            file: d.file.to_string_lossy().into_owned(),
            line: d.line,
            column: d.column,
            help: d.help.clone(),
        };
        match level {
            Level::Error => LinkRecord::Error { message: d.message.clone(), at: Some(at) },
            _ => LinkRecord::Warning { message: d.message.clone(), at },
        }
    }

    /// Whether this says the app is live (the link then ends with success).
    pub fn is_ready(&self) -> bool {
        matches!(self, LinkRecord::Ready { .. })
    }

    /// The app a record is about, when its line ends with it (a call's).
    pub fn app(&self) -> Option<&str> {
        match self {
            LinkRecord::Call(c) => Some(&c.app),
            _ => None,
        }
    }
}

impl From<&Output> for LinkRecord {
    /// What `--json` prints for one output: an app's line is a `log`, ioctl's own a `status`.
    fn from(output: &Output) -> LinkRecord {
        match output {
            Output::Log { level, message, app: Some(app), handler } => {
                LinkRecord::Log { level: *level, message: message.clone(), app: app.clone(), handler: handler.clone() }
            }
            Output::Log { level, message, app: None, .. } => {
                LinkRecord::Status { level: *level, message: message.clone() }
            }
            Output::Diagnostic { level, diagnostic } => LinkRecord::diagnostic(*level, diagnostic),
            Output::Record { record, .. } => record.clone(),
            Output::TypeCheck(report) => LinkRecord::Typecheck(report.clone()),
        }
    }
}

/// The lines of `GET /_ioctl/events/tail`, as `ioctl events tail --json` prints them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TailRecord {
    /// First: who is talking, in which protocol version.
    Hello(Hello),
    /// An event published in the workspace.
    Event(Arc<Event>),
    /// How one attempt to deliver an event to one handler ended.
    Delivery(DeliveryAttempt),
    /// This tail fell behind and missed `skipped` records (the session does not wait for it).
    Lagged { skipped: u64 },
    /// Last: the session ended, with the workspace's counts.
    SessionEnd { counts: Counts },
}

/// One delivery attempt of an event to a handler, as tail shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub app: String,
    pub handler: String,
    pub outcome: Outcome,
    pub attempt: u32,
    /// To 0.01 ms.
    pub elapsed_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// In a team workspace (`link --cluster`): the machine that ran it, when not this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Retry,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Retry => "retry",
            Outcome::Failed => "failed",
        }
    }
}

/// The `--json` records of the one-shot event commands (`events send`, `events trigger`,
/// `events failed`, `status`), one per line with `type` first.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CommandRecord<'a> {
    /// `events send` and `events trigger`: what was published. `send` tells how many and
    /// whether it was stopped; `trigger` the event it made.
    Published {
        id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        published: Option<u64>,
        deliveries: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        stopped: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sender: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<&'a serde_json::Value>,
    },
    /// `events send` was cut off (the session went silent or away): how far it got.
    CutOff { published: u64, deliveries: u64, repeat: u64 },
    /// `events failed`: one dead letter.
    Failed {
        event: &'a Event,
        app: &'a str,
        handler: &'a str,
        attempts: &'a [super::AttemptRecord],
        failed_at: &'a str,
    },
    /// `events failed`: the page shown, when there are more letters than it holds.
    Page { shown: usize, skipped: usize, older: usize, total: usize },
    /// `events failed`: letters dropped at an app's bound.
    Dropped { dropped: &'a std::collections::BTreeMap<String, u64>, bound: usize, bytes_bound: usize },
    /// `ioctl status`.
    Status {
        url: &'a str,
        pid: u32,
        apps: &'a [String],
        account: &'a str,
        workspace: &'a str,
        counts: &'a Counts,
        /// With `link --cluster`: every machine of the team workspace.
        #[serde(skip_serializing_if = "Option::is_none")]
        team: Option<&'a super::cluster::Team>,
    },
}

impl CommandRecord<'_> {
    /// The record as one JSON line (without its newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("a command record serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::VERSION;
    use std::path::PathBuf;

    fn counts() -> Counts {
        Counts { published: 5, unmatched: 1, deliveries: 5, delivered: 4, failed: 1, in_flight: 0 }
    }
    const COUNTS: &str = r#"{"published":5,"unmatched":1,"deliveries":5,"delivered":4,"failed":1,"in_flight":0}"#;

    fn at(help: Option<&str>) -> Position {
        Position { file: "node/index.ts".into(), line: 3, column: 1, help: help.map(String::from) }
    }

    /// One record of each kind with its wire form, as the session wrote it before these types
    /// (`json!` literals) and as the e2e tests and users' scripts read it.
    fn link_samples() -> Vec<(LinkRecord, String)> {
        let ready = LinkRecord::Ready {
            app: "vtex.service-course@0.0.1".into(),
            account: "local".into(),
            workspace: "dev".into(),
            url: "http://127.0.0.1:33965".into(),
            elapsed_ms: 66,
            linked: true,
        };
        let log = |handler: Option<&str>| LinkRecord::Log {
            level: Level::Info,
            message: "EVENT HANDLER: received event".into(),
            app: "vtex.service-course@0.0.1".into(),
            handler: handler.map(String::from),
        };
        let phases = RelinkPhases {
            read_ms: 0.1,
            build_ms: 1.2,
            load_ms: 2.0,
            switch_ms: 0.3,
            app_modules_ms: Some(0.75),
            graphql_ms: None,
        };
        vec![
            (
                ready,
                r#"{"type":"ready","app":"vtex.service-course@0.0.1","account":"local","workspace":"dev","url":"http://127.0.0.1:33965","elapsed_ms":66,"linked":true}"#.into(),
            ),
            (
                log(Some("liveUsersUpdate")),
                r#"{"type":"log","level":"info","message":"EVENT HANDLER: received event","app":"vtex.service-course@0.0.1","handler":"liveUsersUpdate"}"#.into(),
            ),
            (
                log(None),
                r#"{"type":"log","level":"info","message":"EVENT HANDLER: received event","app":"vtex.service-course@0.0.1"}"#.into(),
            ),
            (
                LinkRecord::Status { level: Level::Warn, message: "delivery policy: x".into() },
                r#"{"type":"status","level":"warn","message":"delivery policy: x"}"#.into(),
            ),
            (
                LinkRecord::Change { op: ChangeOp::Updated, path: "node/index.ts".into() },
                r#"{"type":"change","op":"U","path":"node/index.ts"}"#.into(),
            ),
            (
                LinkRecord::Change { op: ChangeOp::Deleted, path: "node/old.ts".into() },
                r#"{"type":"change","op":"D","path":"node/old.ts"}"#.into(),
            ),
            (
                LinkRecord::Relinked { elapsed_ms: 3, phases },
                r#"{"type":"relinked","elapsed_ms":3,"phases":{"read_ms":0.1,"build_ms":1.2,"load_ms":2.0,"switch_ms":0.3,"app_modules_ms":0.75,"graphql_ms":null}}"#.into(),
            ),
            (
                LinkRecord::Error { message: "cannot start Node.js".into(), at: None },
                r#"{"type":"error","message":"cannot start Node.js"}"#.into(),
            ),
            (
                LinkRecord::Error { message: "Expected ',', got '}'".into(), at: Some(at(None)) },
                r#"{"type":"error","message":"Expected ',', got '}'","file":"node/index.ts","line":3,"column":1,"help":null}"#.into(),
            ),
            (
                LinkRecord::Warning { message: "unknown key".into(), at: at(Some("remove it")) },
                r#"{"type":"warning","message":"unknown key","file":"node/index.ts","line":3,"column":1,"help":"remove it"}"#.into(),
            ),
            (
                LinkRecord::Stopped { app: counts(), counts: counts() },
                format!(r#"{{"type":"stopped","app":{COUNTS},"counts":{COUNTS}}}"#),
            ),
            (LinkRecord::Call(call_line()), format!(r#"{{"type":"call",{CALL_LINE}}}"#)),
            (
                LinkRecord::Paused {
                    app: "vtex.app@0.0.1".into(),
                    file: "node/events/x.ts".into(),
                    line: 12,
                    reason: "other".into(),
                },
                r#"{"type":"paused","app":"vtex.app@0.0.1","file":"node/events/x.ts","line":12,"reason":"other"}"#.into(),
            ),
            (LinkRecord::Resumed { app: "vtex.app@0.0.1".into() }, r#"{"type":"resumed","app":"vtex.app@0.0.1"}"#.into()),
            (
                LinkRecord::Typecheck(TypeCheckReport {
                    errors: vec![TypeError {
                        code: 2322,
                        at: Diagnostic::at_line_col(
                            &PathBuf::from("node/index.ts"),
                            None,
                            5,
                            14,
                            "Type 'string' is not assignable to type 'number'.",
                        ),
                    }],
                    outcome: TypeCheckOutcome::Errors,
                    typescript: "3.9.7".into(),
                    files: 3,
                    elapsed_ms: 310.5,
                    refused: false,
                    first: false,
                }),
                r#"{"type":"typecheck","errors":[{"code":2322,"file":"node/index.ts","line":5,"column":14,"message":"Type 'string' is not assignable to type 'number'.","help":null}],"outcome":"errors","typescript":"3.9.7","files":3,"elapsed_ms":310.5,"refused":false,"first":false}"#.into(),
            ),
        ]
    }

    fn call_line() -> CallLine {
        CallLine {
            app: "vtex.service-course@0.0.1".into(),
            via: "ctx.clients.tenant.info".into(),
            method: "GET".into(),
            url: "http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=local".into(),
            answered: Answered::Local,
            status: 200,
            elapsed_ms: 0.42,
        }
    }
    const CALL_LINE: &str = r#""app":"vtex.service-course@0.0.1","via":"ctx.clients.tenant.info","method":"GET","url":"http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=local","answered":"local","status":200,"elapsed_ms":0.42"#;

    /// Every link record kind: a new one fails to compile here until it has a sample above.
    fn link_kind(r: &LinkRecord) -> usize {
        match r {
            LinkRecord::Ready { .. } => 0,
            LinkRecord::Log { .. } => 1,
            LinkRecord::Status { .. } => 2,
            LinkRecord::Change { .. } => 3,
            LinkRecord::Relinked { .. } => 4,
            LinkRecord::Error { .. } => 5,
            LinkRecord::Warning { .. } => 6,
            LinkRecord::Stopped { .. } => 7,
            LinkRecord::Call(_) => 8,
            LinkRecord::Paused { .. } => 9,
            LinkRecord::Resumed { .. } => 10,
            LinkRecord::Typecheck(_) => 11,
        }
    }
    const LINK_KINDS: usize = 12;

    fn event() -> Arc<Event> {
        Arc::new(Event {
            id: "49deac-5".into(),
            sender: "vtex.events-example".into(),
            key: "send-event".into(),
            subject: "".into(),
            body: serde_json::json!({"random": "85"}),
            time: 1_767_342_604_187_123,
        })
    }

    fn tail_samples() -> Vec<(TailRecord, String)> {
        let hello = Hello { protocol: VERSION, account: "local".into(), workspace: "dev".into() };
        let attempt = |outcome, error: Option<&str>, retry_in_ms| DeliveryAttempt {
            event_id: "49deac-5".into(),
            app: "vtex.service-course@0.0.1".into(),
            handler: "liveUsersUpdate".into(),
            outcome,
            attempt: 1,
            elapsed_ms: 0.98,
            error: error.map(String::from),
            retry_in_ms,
            machine: None,
        };
        vec![
            (
                TailRecord::Hello(hello),
                format!(r#"{{"type":"hello","protocol":{VERSION},"account":"local","workspace":"dev"}}"#),
            ),
            (
                TailRecord::Event(event()),
                r#"{"type":"event","id":"49deac-5","sender":"vtex.events-example","key":"send-event","subject":"","body":{"random":"85"},"time":"2026-01-02T08:30:04.187123Z"}"#.into(),
            ),
            (
                TailRecord::Delivery(attempt(Outcome::Ok, None, None)),
                r#"{"type":"delivery","event_id":"49deac-5","app":"vtex.service-course@0.0.1","handler":"liveUsersUpdate","outcome":"ok","attempt":1,"elapsed_ms":0.98}"#.into(),
            ),
            (
                TailRecord::Delivery(attempt(Outcome::Retry, Some("boom"), Some(50))),
                r#"{"type":"delivery","event_id":"49deac-5","app":"vtex.service-course@0.0.1","handler":"liveUsersUpdate","outcome":"retry","attempt":1,"elapsed_ms":0.98,"error":"boom","retry_in_ms":50}"#.into(),
            ),
            (TailRecord::Lagged { skipped: 17 }, r#"{"type":"lagged","skipped":17}"#.into()),
            (TailRecord::SessionEnd { counts: counts() }, format!(r#"{{"type":"session_end","counts":{COUNTS}}}"#)),
        ]
    }

    /// Every tail record kind: a new one fails to compile here until it has a sample above.
    fn tail_kind(r: &TailRecord) -> usize {
        match r {
            TailRecord::Hello(_) => 0,
            TailRecord::Event(_) => 1,
            TailRecord::Delivery(_) => 2,
            TailRecord::Lagged { .. } => 3,
            TailRecord::SessionEnd { .. } => 4,
        }
    }
    const TAIL_KINDS: usize = 5;

    fn kinds<T>(samples: &[(T, String)], kind: fn(&T) -> usize) -> Vec<usize> {
        let mut seen: Vec<usize> = samples.iter().map(|(r, _)| kind(r)).collect();
        seen.dedup();
        seen
    }

    #[test]
    fn link_records_keep_their_wire_form_and_round_trip() {
        let samples = link_samples();
        assert_eq!(
            kinds(&samples, link_kind),
            (0..LINK_KINDS).collect::<Vec<_>>(),
            "one sample of each kind, in order"
        );
        for (record, wire) in samples {
            assert_eq!(serde_json::to_string(&record).unwrap(), wire);
            let back: LinkRecord = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
            assert_eq!(back, record, "{wire}");
        }
    }

    #[test]
    fn tail_records_keep_their_wire_form_and_round_trip() {
        let samples = tail_samples();
        assert_eq!(
            kinds(&samples, tail_kind),
            (0..TAIL_KINDS).collect::<Vec<_>>(),
            "one sample of each kind, in order"
        );
        for (record, wire) in samples {
            assert_eq!(serde_json::to_string(&record).unwrap(), wire);
            let back: TailRecord = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
            assert_eq!(serde_json::to_string(&back).unwrap(), wire);
            assert_eq!(tail_kind(&back), tail_kind(&record));
        }
    }

    #[test]
    fn a_link_reads_the_tail_hello_and_the_tail_reads_a_plain_one() {
        // The first line of every stream is read as a Hello, with or without its `type`.
        let tail_hello = format!(r#"{{"type":"hello","protocol":{VERSION},"account":"a","workspace":"w"}}"#);
        let h: Hello = serde_json::from_str(&tail_hello).unwrap();
        assert_eq!((h.protocol, h.account.as_str(), h.workspace.as_str()), (VERSION, "a", "w"));
    }

    fn diagnostic(help: Option<&str>) -> Diagnostic {
        let d = Diagnostic::at_line_col(&PathBuf::from("node/index.ts"), None, 3, 1, "Expected ',', got '}'");
        match help {
            Some(h) => d.with_help(h),
            None => d,
        }
    }

    #[test]
    fn the_link_stream_keeps_its_wire_form() {
        let outputs = [
            (
                Output::Log { level: Level::Info, message: "m".into(), app: None, handler: None },
                r#"{"Log":{"level":"info","message":"m","app":null,"handler":null}}"#,
            ),
            (
                Output::Diagnostic { level: Level::Error, diagnostic: diagnostic(None) },
                r#"{"Diagnostic":{"level":"error","diagnostic":{"file":"node/index.ts","line":3,"column":1,"message":"Expected ',', got '}'","help":null}}}"#,
            ),
            (
                Output::Record {
                    level: Some(Level::Info),
                    human: "U node/index.ts".into(),
                    record: LinkRecord::Change { op: ChangeOp::Updated, path: "node/index.ts".into() },
                },
                r#"{"Record":{"level":"info","human":"U node/index.ts","json":{"type":"change","op":"U","path":"node/index.ts"}}}"#,
            ),
        ];
        for (output, wire) in outputs {
            assert_eq!(serde_json::to_string(&output).unwrap(), wire);
            let back: Output = serde_json::from_str(wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
            assert_eq!(serde_json::to_string(&back).unwrap(), wire);
        }
    }

    #[test]
    fn json_shows_app_lines_as_log_ioctl_lines_as_status_and_diagnostics_by_level() {
        let app_line = Output::Log {
            level: Level::Warn,
            message: "m".into(),
            app: Some("a.b@1.0.0".into()),
            handler: Some("h".into()),
        };
        let expected = LinkRecord::Log {
            level: Level::Warn,
            message: "m".into(),
            app: "a.b@1.0.0".into(),
            handler: Some("h".into()),
        };
        assert_eq!(LinkRecord::from(&app_line), expected);
        let own = Output::Log { level: Level::Info, message: "m".into(), app: None, handler: None };
        assert_eq!(LinkRecord::from(&own), LinkRecord::Status { level: Level::Info, message: "m".into() });
        let error = Output::Diagnostic { level: Level::Error, diagnostic: diagnostic(None) };
        let message = "Expected ',', got '}'".to_string();
        assert_eq!(LinkRecord::from(&error), LinkRecord::Error { message: message.clone(), at: Some(at(None)) });
        let warning = Output::Diagnostic { level: Level::Warn, diagnostic: diagnostic(Some("remove it")) };
        assert_eq!(LinkRecord::from(&warning), LinkRecord::Warning { message, at: at(Some("remove it")) });
        let ready = link_samples().remove(0).0;
        assert!(ready.is_ready());
        let record = Output::Record { level: None, human: "ready in 66 ms".into(), record: ready.clone() };
        assert_eq!(LinkRecord::from(&record), ready);
        assert!(!LinkRecord::Status { level: Level::Info, message: "ready".into() }.is_ready());
    }

    /// The record types README's `--json` bullet lists for `command` (`link: `a`, `b`; ...`).
    fn readme_types(command: &str) -> Vec<String> {
        let readme = include_str!("../../README.md");
        let bullet = readme
            .split("\n- ")
            .find(|b| b.starts_with("`--json` prints one JSON object per line"))
            .expect("README's --json bullet");
        let list = bullet.split_once(&format!("{command}: ")).expect("the command in the bullet").1;
        let list = list.split(';').next().unwrap_or_default();
        let mut types: Vec<String> = list.split('`').skip(1).step_by(2).map(String::from).collect();
        types.sort();
        types
    }

    fn wire_types<T>(samples: Vec<(T, String)>) -> Vec<String> {
        let mut types: Vec<String> = samples
            .iter()
            .map(|(_, wire)| serde_json::from_str::<serde_json::Value>(wire).unwrap()["type"].as_str().unwrap().into())
            .collect();
        types.sort();
        types.dedup();
        types
    }

    #[test]
    fn readme_lists_every_record_type() {
        assert_eq!(readme_types("link"), wire_types(link_samples()));
        assert_eq!(readme_types("tail"), wire_types(tail_samples()));
        assert_eq!(readme_types("calls tail"), wire_types(calls_samples()));
    }

    fn calls_samples() -> Vec<(CallsRecord, String)> {
        let hello = Hello { protocol: VERSION, account: "local".into(), workspace: "dev".into() };
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("cookie".to_string(), "<redacted>".to_string());
        let record = CallRecord {
            time: "2026-01-02T08:30:04.187123Z".into(),
            line: CallLine { answered: Answered::Missing, status: 501, ..call_line() },
            request: Exchange { headers, body: None, base64: false, size: 0, truncated: false },
            response: Exchange {
                headers: Default::default(),
                body: Some("AAE=".into()),
                base64: true,
                size: 70000,
                truncated: true,
            },
            message: Some("goes to VTEX's cloud".into()),
        };
        let missing = CALL_LINE.replace(r#""local","status":200"#, r#""missing","status":501"#);
        vec![
            (
                CallsRecord::Hello(hello),
                format!(r#"{{"type":"hello","protocol":{VERSION},"account":"local","workspace":"dev"}}"#),
            ),
            (
                CallsRecord::Call(Arc::new(record)),
                format!(
                    r#"{{"type":"call","time":"2026-01-02T08:30:04.187123Z",{missing},"request":{{"headers":{{"cookie":"<redacted>"}},"size":0}},"response":{{"headers":{{}},"body":"AAE=","base64":true,"size":70000,"truncated":true}},"message":"goes to VTEX's cloud"}}"#
                ),
            ),
            (CallsRecord::Lagged { skipped: 3 }, r#"{"type":"lagged","skipped":3}"#.into()),
            (CallsRecord::SessionEnd { calls: 12 }, r#"{"type":"session_end","calls":12}"#.into()),
        ]
    }

    #[test]
    fn calls_records_keep_their_wire_form_and_round_trip() {
        for (record, wire) in calls_samples() {
            assert_eq!(serde_json::to_string(&record).unwrap(), wire);
            let back: CallsRecord = serde_json::from_str(&wire).unwrap_or_else(|e| panic!("{wire}: {e}"));
            assert_eq!(serde_json::to_string(&back).unwrap(), wire);
        }
    }

    #[test]
    fn command_records_name_their_type_first_and_leave_out_what_a_command_does_not_say() {
        let sent = CommandRecord::Published {
            id: Some("e-1"),
            published: Some(3),
            deliveries: 6,
            stopped: Some(false),
            sender: None,
            key: None,
            body: None,
        };
        assert_eq!(sent.line(), r#"{"type":"published","id":"e-1","published":3,"deliveries":6,"stopped":false}"#);
        let body = serde_json::json!({"a": 1});
        let fired = CommandRecord::Published {
            id: Some("e-2"),
            published: None,
            deliveries: 1,
            stopped: None,
            sender: Some("vtex.broadcaster"),
            key: Some("broadcaster.notification"),
            body: Some(&body),
        };
        assert_eq!(
            fired.line(),
            r#"{"type":"published","id":"e-2","deliveries":1,"sender":"vtex.broadcaster","key":"broadcaster.notification","body":{"a":1}}"#
        );
        let cut = CommandRecord::CutOff { published: 2, deliveries: 4, repeat: 10 };
        assert_eq!(cut.line(), r#"{"type":"cut_off","published":2,"deliveries":4,"repeat":10}"#);
        let c = counts();
        let apps = ["vtex.a@1.0.0".to_string()];
        let status = CommandRecord::Status {
            url: "http://127.0.0.1:1",
            pid: 7,
            apps: &apps,
            account: "a",
            workspace: "w",
            counts: &c,
            team: None,
        };
        assert_eq!(
            status.line(),
            format!(
                r#"{{"type":"status","url":"http://127.0.0.1:1","pid":7,"apps":["vtex.a@1.0.0"],"account":"a","workspace":"w","counts":{COUNTS}}}"#
            )
        );
    }
}
