//! The contract between the client commands and a link session: the control API's paths,
//! typed requests and responses (`endpoint` pairs them), the streams' records (`stream`), error
//! codes, the protocol version, the start handshake and the session record (`record`). Both
//! sides import these types; neither side matches on the other's sentences.

pub mod cluster;
pub mod dashboard;
pub mod dashboard_data;
pub mod endpoint;
pub mod platform_events;
pub mod record;
pub mod stream;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bumped whenever a request, a response or a stream line changes shape. A session record and
/// the first line of every stream carry it; a client meeting another version says so.
pub const VERSION: u32 = 4;

/// The control API (every path needs the session token).
pub mod path {
    pub const SESSION: &str = "/_ioctl/session";
    pub const TAIL: &str = "/_ioctl/events/tail";
    /// `POST`: publish (a [`super::PublishLine`] stream answers). `DELETE {EVENTS}/{job}`
    /// stops a running publish.
    pub const EVENTS: &str = "/_ioctl/events";
    pub const FAILED: &str = "/_ioctl/events/failed";
    pub const REPLAY: &str = "/_ioctl/events/replay";
    pub const APPS: &str = "/_ioctl/apps";
    /// The linked apps' GraphQL endpoints (a list of [`super::GraphqlApp`]).
    pub const GRAPHQL_APPS: &str = "/_ioctl/graphql/apps";
    /// The GraphQL IDE (a browser logs in with `?login=`; its cookie, not the header, after that).
    pub const IDE: &str = "/_ioctl/ide";
    /// Header of a link's response naming the link, for `DELETE /_ioctl/apps/{id}`.
    pub const LINK_ID_HEADER: &str = "x-ioctl-link-id";
    /// The apps' outbound calls as they cross the boundary (a [`super::stream::CallsRecord`] stream).
    pub const CALLS_TAIL: &str = "/_ioctl/calls/tail";
    /// `POST`: the workspace's platform settings changed on disk: the session reads them again.
    pub const PLATFORM_RELOAD: &str = "/_ioctl/platform/reload";
    /// The dashboard's page (a browser logs in with `?login=`, as the IDE's).
    pub const DASHBOARD: &str = "/_ioctl/";
    /// The dashboard's files (its scripts and styles, the same in every install: no login).
    pub const DASHBOARD_STATIC: &str = "/_ioctl/static";
    /// The dashboard's JSON API (the page credential from the session's own page, or the token).
    pub const DASHBOARD_API: &str = "/_ioctl/api";
    /// `POST`: a fresh one-time login link to the dashboard (`ioctl dashboard`).
    pub const DASHBOARD_LOGIN: &str = "/_ioctl/dashboard/login";
}

/// The sample `vtex.events-example` sender: its id and its public healthcheck route.
pub mod sample_sender {
    pub const APP_ID: &str = "vtex.events-example";
    pub const HCHECK_PATH: &str = "/_v/app/events-example/hcheck";
}

/// Account and workspace: nothing crosses from one scope to another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    pub workspace: String,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {}, workspace {}", self.account, self.workspace)
    }
}

/// One published event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub sender: String,
    pub key: String,
    pub subject: String,
    pub body: Value,
    /// Microseconds since the epoch; shown as RFC 3339 (formatting waits until it is shown).
    #[serde(serialize_with = "rfc3339", deserialize_with = "from_rfc3339")]
    pub time: i64,
}

impl Event {
    /// The publish time as RFC 3339 with microseconds.
    pub fn time_rfc3339(&self) -> String {
        chrono::DateTime::from_timestamp_micros(self.time)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }
}

fn rfc3339<S: serde::Serializer>(micros: &i64, s: S) -> Result<S::Ok, S::Error> {
    let t = chrono::DateTime::from_timestamp_micros(*micros).unwrap_or_default();
    s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn from_rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    chrono::DateTime::parse_from_rfc3339(&text).map(|t| t.timestamp_micros()).map_err(serde::de::Error::custom)
}

/// Counts that add up: deliveries = delivered + failed + in flight, each read from real state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub published: u64,
    pub unmatched: u64,
    pub deliveries: u64,
    pub delivered: u64,
    pub failed: u64,
    pub in_flight: u64,
}

/// One failed attempt, as dead letters keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub elapsed_ms: f64,
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// An event whose last attempt at one handler failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event: Arc<Event>,
    pub app: String,
    pub handler: String,
    pub attempts: Vec<AttemptRecord>,
    pub failed_at: String,
}

/// `POST /_ioctl/apps`: `ioctl link` asks the session to link an app.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkRequest {
    pub root: PathBuf,
    pub watch: bool,
    /// When the link command started (µs since the epoch), for its `ready in N ms`.
    pub started_at_us: u64,
    /// How the app's outbound calls that nothing local answers are answered: fixtures, the
    /// developer's own account (`--fixtures`, `--cloud`, `--record`).
    #[serde(default)]
    pub boundary: BoundaryOptions,
    /// `--inspect` / `--inspect-brk`: the app runs under the debugger, reached at `addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect: Option<InspectOptions>,
    /// What the type check after each good build does (`--no-typecheck`, `--strict-types`).
    #[serde(default)]
    pub typecheck: TypeCheckMode,
}

/// `ioctl link --inspect[=[HOST:]PORT]` or `--inspect-brk[=...]`, validated by the link command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectOptions {
    /// Where the session's inspector proxy listens (127.0.0.1:9229 unless the user says).
    pub addr: std::net::SocketAddr,
    /// Pause before the app's first line on each load.
    #[serde(default)]
    pub brk: bool,
}

/// The type check of a linked app: off, reported beside the running build (the default), or
/// refusing a build with type errors as VTEX's node builder does (`--strict-types`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeCheckMode {
    Off,
    #[default]
    Report,
    Strict,
}

/// `ioctl link --fixtures DIR... --cloud ACCOUNT --record DIR --cloud-writes`, as the session
/// gets them (paths absolute: the session does not share the link command's current folder).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BoundaryOptions {
    #[serde(default)]
    pub fixtures: Vec<PathBuf>,
    #[serde(default)]
    pub cloud: Option<CloudOptions>,
}

/// The developer's own account (`--cloud ACCOUNT`). Travels over loopback in the token-protected
/// link request and lives only in the session's memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudOptions {
    /// The real account the calls go to.
    pub account: String,
    pub credentials: Credentials,
    /// `--cloud-writes`: POST/PUT/PATCH/DELETE reach the account too.
    #[serde(default)]
    pub writes: bool,
    /// `--record DIR`: each answer is written there as a fixture.
    #[serde(default)]
    pub record: Option<PathBuf>,
    /// `IOCTL_CLOUD_URL` of the link command: the scheme and host calls go to instead of VTEX's.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// The developer's VTEX credentials. Never logged, shown or written: `Debug` says
/// `<redacted>`, and nothing but the link request and the cloud client's headers carries them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    /// `VTEX_APP_KEY` / `VTEX_APP_TOKEN`: sent as `X-VTEX-API-AppKey` / `X-VTEX-API-AppToken`.
    AppKey { key: String, token: String },
    /// The token `vtex login` stored: sent as `VtexIdclientAutCookie`.
    Token { token: String },
}

impl Credentials {
    /// The secret values, for scrubbing them out of anything written.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::AppKey { key, token } => vec![key, token],
            Credentials::Token { token } => vec![token],
        }
    }

    /// Where they came from, in words (never the values).
    pub fn describe(&self) -> &'static str {
        match self {
            Credentials::AppKey { .. } => "the app key in VTEX_APP_KEY/VTEX_APP_TOKEN",
            Credentials::Token { .. } => "the token `vtex login` stored",
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::AppKey { .. } => f.write_str("AppKey { key: <redacted>, token: <redacted> }"),
            Credentials::Token { .. } => f.write_str("Token { token: <redacted> }"),
        }
    }
}

/// `POST /_ioctl/events`: a manual event (`ioctl events send`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishRequest {
    pub key: String,
    pub sender: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: Value,
    /// Publish the same event this many times (load and soak tests); 1 when absent.
    #[serde(default)]
    pub repeat: Option<u64>,
    /// With `repeat`: events per second (as fast as the handlers take them when absent).
    #[serde(default)]
    pub rate: Option<f64>,
}

/// Largest control request body the session reads (a manual event's data included).
pub const MAX_BODY: usize = 2 << 20;

/// The accepted range of `PublishRequest::rate` (`events send --rate`), events per second:
/// beyond it pacing means nothing (faster than one event per 10 µs, or slower than one per
/// ~17 minutes). The CLI checks it up front, the session again.
pub const RATE_RANGE: std::ops::RangeInclusive<f64> = 0.001..=100_000.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishResponse {
    /// The first event's id.
    pub id: Option<String>,
    pub deliveries: u64,
    pub published: u64,
    /// Whether the publish was stopped (`DELETE`, or the session ending) before `repeat`.
    #[serde(default)]
    pub stopped: bool,
    /// Sent to a team workspace (`link --cluster`): its deliveries are made on whichever
    /// machines take them, so `deliveries` is 0 here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub team: bool,
}

/// The NDJSON lines that answer `POST /_ioctl/events`. The events are published by a task of
/// the session, not by the request: a client that goes away stops the publishing between two
/// events (never in the middle of one), and the counts stay whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PublishLine {
    /// First: the job's id, for `DELETE /_ioctl/events/{job}`.
    Started { job: u64 },
    /// Every [`PUBLISH_PROGRESS`] while publishing, even when full queues hold the publisher
    /// back: a session that says nothing for the client's `--timeout` has stopped answering.
    Progress { published: u64, deliveries: u64 },
    /// Last: how it ended.
    Done(PublishResponse),
}

/// How often a running publish reports its progress.
pub const PUBLISH_PROGRESS: std::time::Duration = std::time::Duration::from_millis(100);
/// The least silence after which a client takes a publishing session for stopped, whatever
/// its `--timeout`: ten progress reports missed, not one late.
pub const PUBLISH_SILENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// `POST /_ioctl/events/replay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplayRequest {
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replayed {
    pub event_id: String,
    pub app: String,
    pub handler: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayResponse {
    pub replayed: Vec<Replayed>,
}

/// `GET /_ioctl/session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub protocol: u32,
    pub account: String,
    pub workspace: String,
    pub counts: Counts,
    /// The team workspace the session joined (`link --cluster`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<cluster::Team>,
}

/// One linked app's GraphQL endpoint, as `ioctl graphql` and the IDE list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphqlApp {
    /// `vendor.name@version` (on the wire, its text).
    pub app: crate::app::AppId,
    /// The endpoint's path on the session (`/{vendor}.{name}/v{major}/{account}/{workspace}/_v/graphql`).
    pub path: String,
}

/// `GET /_ioctl/events/failed`: the first line of the NDJSON stream; one [`DeadLetter`] per
/// line follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedHeader {
    pub protocol: u32,
    /// Letters dropped because an app's bound was reached (oldest first), per app.
    pub dropped: std::collections::BTreeMap<String, u64>,
    /// How many letters each app keeps at most.
    pub bound: usize,
    /// How many bytes of letters each app keeps at most.
    #[serde(default)]
    pub bytes_bound: usize,
    /// How many letters are kept in all (the page may hold fewer).
    #[serde(default)]
    pub total: usize,
    /// How many of the newest letters were skipped before this page.
    #[serde(default)]
    pub skipped: usize,
}

/// `GET /_ioctl/events/failed?limit=N&skip=K`: a page of the dead letters, counted from the
/// newest (the page itself is oldest first); all of them without `limit`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct FailedPage {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub skip: usize,
}

/// The platform settings of a workspace, key → effective value (`ioctl platform show`, and the
/// answer to [`endpoint::ReloadPlatform`]).
pub type PlatformSettings = std::collections::BTreeMap<String, String>;

/// The first line of a link's output stream and of a tail: who is talking, in which version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub account: String,
    pub workspace: String,
}

/// The first line a starting session (`ioctl session-serve`) writes on its stdout, read by the
/// link command that started it: where it listens, or why it could not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Handshake {
    Listening { url: String, pid: u32 },
    Failed { error: String },
}

/// Why the session refused a request; clients branch on the code, and show the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No or wrong session token.
    Unauthorized,
    /// The request is malformed or out of range.
    BadRequest,
    /// No such event, link or route.
    NotFound,
    /// The session is ending: start a new one.
    SessionEnding,
    /// The app (or another with its id) is linked already.
    AlreadyLinked,
    /// The Host header is not loopback (DNS rebinding).
    ForbiddenHost,
    /// The body is over the limit.
    TooLarge,
    /// Every connection the session serves is busy: retry shortly.
    Overloaded,
    /// What the request would change was changed since it was read (a VBase `if_match`).
    Conflict,
    /// The session failed at something it should have done (its storage, say).
    Internal,
}

/// The body of every refused control request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub error: String,
}

/// A control stream's first line when it is not a [`Hello`] of this version, in words.
pub fn version_mismatch(theirs: Option<u32>) -> String {
    let theirs = theirs.map_or("an older ioctl".to_string(), |v| format!("protocol {v}"));
    format!(
        "the running link session speaks {theirs}, this ioctl speaks protocol {VERSION}: stop the old session (Ctrl-C its `ioctl link`s, or kill the pid in its record) and link again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_handshake_keeps_its_wire_form_and_round_trips() {
        let cases = [
            (
                Handshake::Listening { url: "http://127.0.0.1:33965".into(), pid: 42 },
                r#"{"url":"http://127.0.0.1:33965","pid":42}"#,
            ),
            (
                Handshake::Failed { error: "cannot listen on 127.0.0.1:80".into() },
                r#"{"error":"cannot listen on 127.0.0.1:80"}"#,
            ),
        ];
        for (handshake, wire) in cases {
            assert_eq!(serde_json::to_string(&handshake).unwrap(), wire);
            assert_eq!(serde_json::from_str::<Handshake>(wire).unwrap(), handshake);
        }
        assert!(serde_json::from_str::<Handshake>("{}").is_err(), "neither where nor why");
    }

    #[test]
    fn credentials_never_show_in_debug_and_an_older_link_request_still_reads() {
        let creds = Credentials::AppKey { key: "vtexappkey-acme-XYZ".into(), token: "SECRETTOKEN".into() };
        let cloud = CloudOptions {
            account: "acme".into(),
            credentials: creds.clone(),
            writes: false,
            record: None,
            base_url: None,
        };
        let req = LinkRequest {
            root: "/app".into(),
            watch: true,
            started_at_us: 1,
            boundary: BoundaryOptions { fixtures: vec![], cloud: Some(cloud) },
            inspect: None,
            typecheck: TypeCheckMode::Report,
        };
        let shown = format!("{req:?} {req:#?}");
        assert!(!shown.contains("XYZ") && !shown.contains("SECRETTOKEN") && shown.contains("<redacted>"), "{shown}");
        let token = Credentials::Token { token: "eyJhbGciOi.secret".into() };
        assert_eq!(format!("{token:?}"), "Token { token: <redacted> }");
        let wire = serde_json::to_string(&req).unwrap();
        let back: LinkRequest = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.boundary.cloud.unwrap().credentials, creds);
        let old: LinkRequest = serde_json::from_str(r#"{"root": "/app", "watch": false, "started_at_us": 0}"#).unwrap();
        assert!(old.boundary.fixtures.is_empty() && old.boundary.cloud.is_none());
    }
}
