//! The calls log: each outbound call that crossed the boundary is one line in its app's link
//! log (`via` or `METHOD url` → who answered, status, ms), written with the terminal's
//! never-waiting `log`, and one [`CallRecord`] (with its request and answer, bodies capped at
//! [`BODY_CAP`], credentials redacted) on the session's calls feed, a bounded broadcast
//! `ioctl calls tail` reads: a slow tail lags and is told how many it missed, the apps never
//! wait for it. Each record is also kept in the session's journal (the dashboard's history,
//! bounded), with the trace of the request or delivery the call was made in.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::broadcast;

use crate::lock::Locked;
use crate::protocol::stream::{Answered, CallLine, CallRecord, Exchange, Level, LinkRecord, Output};
use crate::runtime::outbound::{Answer, Outbound, Source};
use crate::session::dashboard::journal::{self, Journal};
use crate::terminal::Terminal;

/// How much of each body a calls tail gets.
pub const BODY_CAP: usize = 64 * 1024;
/// Calls a tail may fall behind by before it lags (each record holds up to twice
/// [`BODY_CAP`]: the feed holds at most 32 MiB of bodies).
const FEED_BOUND: usize = 256;
/// Missing calls whose whole message a link log shows once (the first time each is missing);
/// past this many, only their one line.
const EXPLAINED: usize = 1000;
/// A header whose value is a credential: the tail shows `<redacted>`.
const REDACTED: &str = "<redacted>";

/// The session's calls feed: every linked app's boundary publishes on it.
pub struct Feed {
    tx: broadcast::Sender<Arc<CallRecord>>,
    total: AtomicU64,
    /// Where every call is kept (bounded) for the dashboard.
    journal: Arc<Journal>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new(Arc::default())
    }
}

impl Feed {
    /// A feed that keeps its calls in `journal` too.
    pub fn new(journal: Arc<Journal>) -> Feed {
        Feed { tx: broadcast::channel(FEED_BOUND).0, total: AtomicU64::new(0), journal }
    }

    /// A new tail's receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CallRecord>> {
        self.tx.subscribe()
    }

    /// Calls seen since the session started.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// One app's end of the calls log.
pub struct Log {
    app: String,
    terminal: Terminal,
    feed: Arc<Feed>,
    /// Missing calls (method and URL without its query) already explained in the link log.
    explained: Mutex<HashSet<String>>,
}

impl Log {
    pub fn new(app: String, terminal: Terminal, feed: Arc<Feed>) -> Log {
        Log { app, terminal, feed, explained: Mutex::default() }
    }

    /// Logs one answered call.
    pub fn record(&self, call: &Outbound, answer: &Answer, elapsed: Duration) {
        self.feed.total.fetch_add(1, Ordering::Relaxed);
        let line = CallLine {
            app: self.app.clone(),
            via: call.via.clone(),
            method: call.method.to_ascii_uppercase(),
            url: call.url.clone(),
            answered: answered(answer.source),
            status: answer.status,
            elapsed_ms: (elapsed.as_secs_f64() * 100_000.0).round() / 100.0,
        };
        // Made always: the journal keeps it (a call already costs a round trip to the session).
        let record = Arc::new(CallRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            line: line.clone(),
            request: exchange(&call.headers, call.body.as_deref()),
            response: exchange(&answer.headers, answer.body.as_deref()),
            message: answer.message.clone(),
        });
        if self.feed.tx.receiver_count() > 0 {
            let _ = self.feed.tx.send(record.clone());
        }
        let started = std::time::Instant::now().checked_sub(elapsed).unwrap_or_else(std::time::Instant::now);
        self.feed.journal.call(record, journal::current_trace(), started);
        let level = if answer.source == Source::Missing || answer.status >= 500 { Level::Warn } else { Level::Info };
        let mut human = describe(&line);
        if let Some(message) = answer.message.as_deref().filter(|_| self.first_time(call)) {
            human.push('\n');
            human.push_str(message);
        }
        self.terminal.log(Output::Record { level: Some(level), human, record: LinkRecord::Call(line) });
    }

    /// Whether this missing call is explained for the first time (bounded memory).
    fn first_time(&self, call: &Outbound) -> bool {
        let key = format!("{} {}", call.method, call.url.split('?').next().unwrap_or(""));
        let mut seen = self.explained.locked();
        if seen.contains(&key) {
            return false;
        }
        if seen.len() < EXPLAINED {
            seen.insert(key);
        }
        true
    }
}

fn answered(source: Source) -> Answered {
    match source {
        Source::Linked => Answered::Linked,
        Source::Local => Answered::Local,
        Source::Fixture => Answered::Fixture,
        Source::Cloud => Answered::Cloud,
        Source::Missing => Answered::Missing,
    }
}

/// A call as the link log shows it: its client method when the app used a client (a dotted
/// `via`), else METHOD and URL (clipped); then who answered, the status and the time.
pub fn describe(line: &CallLine) -> String {
    let what = if line.via.contains('.') {
        line.via.clone()
    } else {
        format!("{} {}", line.method, crate::app::clip(&line.url, 160))
    };
    let ms = serde_json::to_string(&line.elapsed_ms).unwrap_or_default();
    format!("{what} → {} {} in {ms} ms", line.answered.as_str(), line.status)
}

/// Whether a header carries a credential (its value never reaches a tail).
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "set-cookie"
            | "x-vtex-api-appkey"
            | "x-vtex-api-apptoken"
            | "x-vtex-credential"
    ) || name.starts_with("vtexidclientautcookie")
}

/// Headers and a body as a tail gets them.
fn exchange(headers: &BTreeMap<String, String>, body: Option<&[u8]>) -> Exchange {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.clone(), if is_credential(k) { REDACTED.to_string() } else { v.clone() }))
        .collect();
    let bytes = body.unwrap_or_default();
    let size = bytes.len();
    let truncated = size > BODY_CAP;
    let kept = &bytes[..size.min(BODY_CAP)];
    let (body, base64) = match std::str::from_utf8(kept) {
        Ok(text) => (text.to_string(), false),
        // Cut inside a character: keep the whole ones.
        Err(e) if truncated && e.error_len().is_none() => {
            (String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned(), false)
        }
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(kept), true),
    };
    Exchange { headers, body: (!body.is_empty()).then_some(body), base64, size, truncated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(via: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Outbound {
        Outbound {
            via: via.into(),
            method: "post".into(),
            url: "https://api.vtex.com/acme/dataentities/CL/documents?x=1".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body,
            app: None,
        }
    }

    fn answer(source: Source, status: u16, message: Option<&str>) -> Answer {
        let mut headers = BTreeMap::new();
        headers.insert("set-cookie".to_string(), "vtex_segment=abc".to_string());
        Answer { status, headers, body: Some(b"{}".to_vec()), source, message: message.map(String::from) }
    }

    #[tokio::test]
    async fn each_call_is_a_line_in_the_link_log_and_a_record_for_a_tail() {
        let (terminal, mut out) = Terminal::channel();
        let feed = Arc::new(Feed::default());
        let log = Log::new("acme.app@1.0.0".into(), terminal, feed.clone());
        log.record(&outbound("axios", &[], None), &answer(Source::Local, 201, None), Duration::from_micros(1234));
        assert_eq!(feed.total(), 1, "counted even with no tail");
        let Some(Output::Record { level, human, record }) = out.recv().await else { panic!() };
        assert_eq!(level, Some(Level::Info));
        assert_eq!(human, "POST https://api.vtex.com/acme/dataentities/CL/documents?x=1 → local 201 in 1.23 ms");
        assert_eq!(record.app(), Some("acme.app@1.0.0"));

        let mut tail = feed.subscribe();
        let secret = [("authorization", "Bearer s3cret"), ("VtexIdclientAutCookie_acme", "s3cret"), ("accept", "*/*")];
        log.record(
            &outbound("ctx.clients.tenant.info", &secret, Some(b"{\"a\":1}".to_vec())),
            &answer(Source::Cloud, 200, None),
            Duration::ZERO,
        );
        let got = tail.recv().await.unwrap();
        let text = serde_json::to_string(&*got).unwrap();
        assert!(!text.contains("s3cret") && !text.contains("vtex_segment=abc"), "{text}");
        assert_eq!(got.request.headers["accept"], "*/*");
        assert_eq!((got.request.body.as_deref(), got.response.body.as_deref()), (Some("{\"a\":1}"), Some("{}")));
        let Some(Output::Record { human, .. }) = out.recv().await else { panic!() };
        assert!(human.starts_with("ctx.clients.tenant.info → cloud 200 in 0.0 ms"), "{human}");
    }

    #[tokio::test]
    async fn a_missing_call_is_a_warning_explained_once() {
        let (terminal, mut out) = Terminal::channel();
        let log = Log::new("acme.app@1.0.0".into(), terminal, Arc::default());
        let missing = answer(Source::Missing, 501, Some("it goes to VTEX's cloud: add a fixture"));
        for _ in 0..2 {
            log.record(&outbound("axios", &[], None), &missing, Duration::ZERO);
        }
        let Some(Output::Record { level, human, .. }) = out.recv().await else { panic!() };
        assert_eq!(level, Some(Level::Warn));
        assert!(human.ends_with("→ missing 501 in 0.0 ms\nit goes to VTEX's cloud: add a fixture"), "{human}");
        let Some(Output::Record { human, .. }) = out.recv().await else { panic!() };
        assert!(!human.contains('\n'), "the second time, one line: {human}");
    }

    #[test]
    fn bodies_are_capped_and_kept_as_text_or_base64() {
        let big = vec![b'a'; BODY_CAP + 10];
        let e = exchange(&BTreeMap::new(), Some(&big));
        assert_eq!(
            (e.size, e.truncated, e.base64, e.body.as_ref().map(String::len)),
            (BODY_CAP + 10, true, false, Some(BODY_CAP))
        );
        let mut accented = vec![b'a'; BODY_CAP - 1];
        accented.extend("é and more".as_bytes());
        let e = exchange(&BTreeMap::new(), Some(&accented));
        assert_eq!((e.truncated, e.base64, e.body.as_ref().map(String::len)), (true, false, Some(BODY_CAP - 1)));
        let e = exchange(&BTreeMap::new(), Some(&[0xff, 0x00]));
        assert_eq!((e.body.as_deref(), e.base64), (Some("/wA="), true));
        let e = exchange(&BTreeMap::new(), None);
        assert_eq!((e.body, e.size), (None, 0));
        assert!(
            is_credential("X-VTEX-API-AppToken")
                && is_credential("vtexidclientautcookie_acme")
                && !is_credential("accept")
        );
    }
}
