//! The wire formats of a team workspace on NATS (`link --cluster`): the names of the stream,
//! consumers, bucket and subjects of an account/workspace (each carries both, so nothing
//! crosses them), the event message (an [`Event`] as JSON) and a machine's presence record.

use serde::{Deserialize, Serialize};

use super::{Counts, Event, Scope};

/// The version of these formats; a machine ignores presence records of another version.
pub const VERSION: u32 = 1;

/// The subject every event of `scope` is published on (account and workspace are letters,
/// digits, `-` and `_`: valid subject tokens).
pub fn events_subject(scope: &Scope) -> String {
    format!("ioctl.{}.{}.events", scope.account, scope.workspace)
}

/// The subject the machines of `scope` share their delivery attempts on, for each other's
/// tails (core NATS: not stored).
pub fn activity_subject(scope: &Scope) -> String {
    format!("ioctl.{}.{}.activity", scope.account, scope.workspace)
}

/// One delivery attempt as a machine shares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedAttempt {
    pub machine: String,
    pub attempt: super::stream::DeliveryAttempt,
}

/// `account` and `workspace` in one name without ambiguity: the account's length first, so
/// `a_b`/`c` and `a`/`b_c` stay apart although both may contain `_`.
fn scoped(prefix: &str, scope: &Scope) -> String {
    format!("{prefix}_{}_{}_{}", scope.account.len(), scope.account, scope.workspace)
}

/// The JetStream stream that keeps the events of `scope`.
pub fn stream_name(scope: &Scope) -> String {
    scoped("IOCTL_EVENTS", scope)
}

/// The key-value bucket where the machines of `scope` say they are there.
pub fn presence_bucket(scope: &Scope) -> String {
    scoped("ioctl_presence", scope)
}

/// The key-value bucket of the workspace's dead letters (every machine's).
pub fn dead_bucket(scope: &Scope) -> String {
    scoped("ioctl_dead", scope)
}

/// A dead letter's key in [`dead_bucket`]: its app, handler and event id, hex-encoded (key
/// characters are few; one letter per app, handler and event, as on one machine).
pub fn letter_key(app: &str, handler: &str, event_id: &str) -> String {
    format!("{app}\n{handler}\n{event_id}").bytes().map(|b| format!("{b:02x}")).collect()
}

/// Headers of an event sent again by `events replay` from any machine: only the app (and its
/// handler) they name delivers it; every other app's consumer acknowledges it unread.
pub const REPLAY_APP: &str = "Ioctl-Replay-App";
pub const REPLAY_HANDLER: &str = "Ioctl-Replay-Handler";

/// The durable pull consumer an app's replicas share (`vendor.name@version`, as VTEX scopes
/// an app's subscriptions): every character a consumer name may not hold becomes `_`.
pub fn consumer_name(app: &str) -> String {
    let clean: String = app.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("app_{clean}")
}

/// A key of the presence bucket for one machine (a session): valid key characters only.
pub fn machine_key(machine: &str) -> String {
    machine.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The message of one event on the stream.
pub fn encode_event(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).unwrap_or_default()
}

/// An event read from the stream; `Err` says why it is not one (another tool's message).
pub fn decode_event(payload: &[u8]) -> Result<Event, String> {
    serde_json::from_slice(payload).map_err(|e| format!("not an ioctl event: {e}"))
}

/// The subject an app's routes are asked on (`vendor.name`, its major): its replicas answer
/// it as one queue group. `None` when the parts are not an app id's (not subject-safe).
pub fn app_subject(scope: &Scope, id: &str, major: &str) -> Option<String> {
    let ok = |s: &str, dot: bool| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || (dot && c == '.'))
    };
    let one_dot = id.matches('.').count() == 1 && !id.starts_with('.') && !id.ends_with('.');
    (ok(id, true) && one_dot && ok(major, false))
        .then(|| format!("ioctl.{}.{}.app.{id}.{major}", scope.account, scope.workspace))
}

/// The NATS header that carries a forwarded request's head, and its answer's (JSON).
pub const HEAD_HEADER: &str = "Ioctl-Head";

/// A request to an app's route forwarded to the machine that links it: the HTTP head, and
/// who the receiving machine decided the caller is (its token was checked there). The body
/// is the message's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardedRequest {
    pub method: String,
    /// The path (and query) as it arrived.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    /// `admin`, `shopper` or `anonymous`.
    pub user: String,
    pub chosen: bool,
    /// `private`, `graphql` or `public`: which routes the caller may reach.
    pub reach: String,
}

/// The answer of a forwarded request (its body is the message's payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardedAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The machine that answered.
    pub machine: String,
}

/// What one machine of the workspace says about itself, refreshed every few seconds in the
/// presence bucket (gone when it stops refreshing: the bucket's entries expire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub version: u32,
    /// `HOST-PID`: the session on that host.
    pub machine: String,
    /// The session's local URL (loopback on that machine).
    pub url: String,
    /// The apps it links (`vendor.name@version`).
    pub apps: Vec<String>,
    /// Its own delivery counts.
    pub counts: Counts,
    /// When it said so (RFC 3339).
    pub updated: String,
}

/// The team workspace as `ioctl status` shows it: the server, this machine, every machine
/// present, and their counts summed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    /// The NATS server (without its password).
    pub server: String,
    /// This session's machine name.
    pub machine: String,
    pub machines: Vec<Presence>,
    /// Every present machine's counts added up (deliveries = delivered + failed + in flight
    /// holds for the sum when it holds for each).
    pub counts: Counts,
}

impl Team {
    /// The team of `machines` (their counts summed).
    pub fn new(server: String, machine: String, machines: Vec<Presence>) -> Team {
        let mut c = Counts::default();
        for m in &machines {
            c.published += m.counts.published;
            c.unmatched += m.counts.unmatched;
            c.deliveries += m.counts.deliveries;
            c.delivered += m.counts.delivered;
            c.failed += m.counts.failed;
            c.in_flight += m.counts.in_flight;
        }
        Team { server, machine, machines, counts: c }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(a: &str, w: &str) -> Scope {
        Scope { account: a.into(), workspace: w.into() }
    }

    #[test]
    fn names_carry_account_and_workspace_without_ambiguity() {
        assert_eq!(events_subject(&scope("acme", "dev")), "ioctl.acme.dev.events");
        assert_eq!(stream_name(&scope("acme", "dev")), "IOCTL_EVENTS_4_acme_dev");
        assert_ne!(stream_name(&scope("a_b", "c")), stream_name(&scope("a", "b_c")));
        assert_ne!(presence_bucket(&scope("a_b", "c")), presence_bucket(&scope("a", "b_c")));
        assert_eq!(consumer_name("vtex.service-course@0.0.1"), "app_vtex_service-course_0_0_1");
        assert_eq!(machine_key("box.local-12"), "box_local-12");
        assert_eq!(letter_key("v.a@1.0.0", "h", "e1"), "762e6140312e302e300a680a6531");
        assert_ne!(dead_bucket(&scope("a_b", "c")), dead_bucket(&scope("a", "b_c")));
    }

    #[test]
    fn an_event_travels_whole_and_a_foreign_message_is_refused() {
        let event = Event {
            id: "a-1".into(),
            sender: "s.x".into(),
            key: "k".into(),
            subject: "".into(),
            body: serde_json::json!({"n": 1}),
            time: 1_700_000_000_000_000,
        };
        let back = decode_event(&encode_event(&event)).unwrap();
        assert_eq!((back.id, back.body, back.time), (event.id, event.body, event.time));
        assert!(decode_event(b"hello").unwrap_err().contains("not an ioctl event"));
    }
}
