//! The client commands: short processes that find the link session of a scope (its record)
//! and talk to it over loopback HTTP with the types of `protocol`. Every request has a
//! deadline for its answer's head (`--timeout`), so an unresponsive session is an error that
//! says so, not a hang. The storage commands (`settings`, `vbase`, `masterdata`, `data`) open
//! the workspace's storage directly instead, so they work whether or not a session runs.

pub mod boundary;
pub mod calls;
pub mod dashboard;
pub mod data;
pub mod doctor;
pub mod events;
pub mod graphql;
pub mod healthcheck;
pub mod link;
pub mod masterdata;
pub mod platform;
pub mod settings;
pub mod tail;
pub mod trigger;
pub mod vbase;

use std::time::Duration;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;

use crate::protocol::endpoint::{Endpoint, Method};
use crate::protocol::record::{self, SessionRecord};
use crate::protocol::{ErrorBody, ErrorCode, Scope};

/// The storage of `scope`: SQLite files under `$IOCTL_HOME`, which a running session shares
/// (SQLite orders their writes), or the PostgreSQL database of `--store`/`IOCTL_STORE`.
pub fn local_store(scope: &Scope) -> anyhow::Result<crate::store::Store> {
    let home = crate::layout::home()?;
    Ok(crate::store::Store::new(crate::store::Location::from_env(&home, &scope.account, &scope.workspace)?))
}

/// A command's connection to its scope's session: the session's record (URL, token) and the
/// deadline of each request's answer (`--timeout`).
pub struct Connection {
    pub record: SessionRecord,
    timeout: Duration,
}

/// Why the session did not do what was asked.
#[derive(Debug)]
pub enum Refusal {
    /// It answered with an error code.
    Refused(ErrorBody),
    /// It could not be reached, or did not answer in time, or answered nonsense.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Refusal {
    fn from(e: anyhow::Error) -> Refusal {
        Refusal::Failed(e)
    }
}

impl Refusal {
    /// As the error a command prints.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            Refusal::Refused(e) => anyhow!("{}", e.error),
            Refusal::Failed(e) => e,
        }
    }
}

impl Connection {
    /// The running session of `scope`, or the error that says how to start one.
    pub fn find(scope: &Scope, timeout: Duration) -> anyhow::Result<Connection> {
        Ok(Connection::to(record::require(&crate::layout::home()?, scope)?, timeout))
    }

    /// The session of `record`.
    pub fn to(record: SessionRecord, timeout: Duration) -> Connection {
        Connection { record, timeout }
    }

    pub fn url(&self) -> &str {
        &self.record.url
    }

    /// How long a request waits for the head of the session's answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A request to the control API, with the token; the answer's head within the timeout.
    pub async fn request(&self, method: &str, path: &str, json: Option<String>) -> anyhow::Result<Response<Incoming>> {
        request(method, &self.record.url, path, Some(&self.record.token), json, self.timeout).await
    }

    /// A request to one of the apps' private endpoints as the developer (the token as the
    /// Bearer), sent as the local user `as_user` names (`admin`, `shopper`, `anonymous`): the
    /// session gives the app that user's VTEX credentials and session, never the token.
    pub async fn request_as_developer(
        &self,
        method: &str,
        path: &str,
        json: String,
        as_user: &str,
    ) -> anyhow::Result<Response<Incoming>> {
        let user = ("x-ioctl-as", as_user);
        request_with(method, &self.record.url, path, Some(&self.record.token), Some(json), self.timeout, Some(user))
            .await
    }

    /// A control call whose answer is one JSON value: the answer its [`Endpoint`] says, or the
    /// session's refusal. A `POST` sends `call` as the body.
    pub async fn call<E: Endpoint>(&self, call: &E) -> Result<E::Response, Refusal> {
        self.call_within(call, self.timeout).await
    }

    /// [`Connection::call`] with its own deadline (a forced unlink waits less).
    pub async fn call_within<E: Endpoint>(&self, call: &E, wait: Duration) -> Result<E::Response, Refusal> {
        let body = match E::METHOD {
            Method::Post => Some(serde_json::to_string(call).context("cannot encode the request")?),
            Method::Get | Method::Delete => None,
        };
        let resp =
            request(E::METHOD.as_str(), &self.record.url, &call.path(), Some(&self.record.token), body, wait).await?;
        let status = resp.status();
        let text = tokio::time::timeout(wait, text(resp))
            .await
            .map_err(|_| anyhow!("the link session at {} stopped answering mid-way", self.record.url))??;
        if !status.is_success() {
            return Err(Refusal::Refused(refusal(status, &text)));
        }
        serde_json::from_str(&text)
            .with_context(|| format!("unreadable answer from the link session: {}", text.trim()))
            .map_err(Refusal::Failed)
    }
}

/// The error body of a refused request (or one made of its status and text).
pub fn refusal(status: hyper::StatusCode, text: &str) -> ErrorBody {
    serde_json::from_str(text).unwrap_or_else(|_| ErrorBody {
        code: match status.as_u16() {
            401 => ErrorCode::Unauthorized,
            404 => ErrorCode::NotFound,
            413 => ErrorCode::TooLarge,
            _ => ErrorCode::BadRequest,
        },
        error: format!("the link session answered {status}: {}", text.trim()),
    })
}

/// GET a public path of the session at `base` (`http://127.0.0.1:PORT`), no token, the
/// answer's head within `wait`.
pub async fn get_public(base: &str, path: &str, wait: Duration) -> anyhow::Result<Response<Incoming>> {
    request("GET", base, path, None, None, wait).await
}

async fn request(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    json: Option<String>,
    wait: Duration,
) -> anyhow::Result<Response<Incoming>> {
    request_with(method, base, path, token, json, wait, None).await
}

async fn request_with(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    json: Option<String>,
    wait: Duration,
    extra: Option<(&str, &str)>,
) -> anyhow::Result<Response<Incoming>> {
    let authority =
        base.strip_prefix("http://").ok_or_else(|| anyhow!("session url {base} is not http://"))?.trim_end_matches('/');
    let mut req = Request::builder().method(method).uri(format!("http://{authority}{path}")).header("host", authority);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some((name, value)) = extra {
        req = req.header(name, value);
    }
    let body = match json {
        Some(j) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(j))
        }
        None => Full::new(Bytes::new()),
    };
    let req = req.body(body).with_context(|| format!("{method} {base}{path}"))?;
    // The deadline covers the connect, the request and the answer's head, not its body: a
    // stream (a link's output, tail, publish progress) lasts as long as it lasts.
    match tokio::time::timeout(wait, http().request(req)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) if e.is_connect() => Err(crate::hyper_error::unwrapped(e))
            .with_context(|| format!("cannot reach the link session at {base}; is `ioctl link` still running?")),
        Ok(Err(e)) => Err(crate::hyper_error::unwrapped(e)).with_context(|| format!("{method} {base}{path}")),
        Err(_) => bail!(
            "the link session at {base} did not answer within {:.1} s (is it stopped or overloaded?); `--timeout SECONDS` waits longer",
            wait.as_secs_f64()
        ),
    }
}

/// hyper-util's client, without a pool: a command makes a request or two, and a connection
/// kept idle for a next one would only race the session's header-read timeout and its evictor
/// of silent connections (session/server.rs). So each request has a connection of its own,
/// closed once its answer has been read; no idle timeout can cut a stream.
fn http() -> Client<Loopback, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(Loopback)
}

/// Connects to the session's address, a request's authority (`127.0.0.1:PORT`, which
/// `TcpStream::connect` parses without a lookup). Not hyper-util's `HttpConnector`: it brings a
/// name resolver on blocking threads and socket options a loopback session has no use for.
#[derive(Clone, Copy)]
struct Loopback;

impl tower::Service<Uri> for Loopback {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<TokioIo<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let authority = uri.authority().map_or("", |a| a.as_str());
            TcpStream::connect(authority).await.map(TokioIo::new)
        })
    }
}

/// The whole body as text.
pub async fn text(resp: Response<Incoming>) -> anyhow::Result<String> {
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A streamed body read one newline-terminated JSON line at a time (tail, a link's output).
/// Lines are not bounded in length: the session writes them (serde_json, one record each).
pub struct Lines {
    lines: FramedRead<StreamReader<Chunks, Bytes>, LinesCodec>,
}

/// A body's data, as the bytes [`StreamReader`] reads.
type Chunks = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

impl Lines {
    pub fn new(resp: Response<Incoming>) -> Lines {
        Lines::of(resp.into_body())
    }

    fn of<B>(body: B) -> Lines
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let chunks: Chunks = Box::pin(body.into_data_stream().map(|c| c.map_err(std::io::Error::other)));
        Lines { lines: FramedRead::new(StreamReader::new(chunks), LinesCodec::new()) }
    }

    /// The next line, without its newline; `None` when the stream ended cleanly, an error when
    /// the connection broke. Cancel-safe: bytes already received stay buffered.
    pub async fn next(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        match self.lines.next().await {
            None => Ok(None),
            Some(Ok(line)) => Ok(Some(line.into_bytes())),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Reads the stream's first line, a [`crate::protocol::Hello`] of this protocol version,
    /// within `wait`.
    pub async fn hello(&mut self, wait: Duration) -> anyhow::Result<crate::protocol::Hello> {
        let first = match tokio::time::timeout(wait, self.next()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) => bail!("the link session closed the stream before saying hello"),
            Err(_) => bail!("the link session did not start the stream within {:.1} s", wait.as_secs_f64()),
        };
        let value: serde_json::Value = serde_json::from_slice(&first).unwrap_or_default();
        let theirs = value.get("protocol").and_then(serde_json::Value::as_u64).map(|v| v as u32);
        if theirs != Some(crate::protocol::VERSION) {
            bail!("{}", crate::protocol::version_mismatch(theirs));
        }
        serde_json::from_value(value).context("unreadable hello from the link session")
    }
}

/// What following a session's stream gave next.
pub enum Next<R> {
    Record(R),
    /// Whoever read our stdout has gone away (`| head -1` ended).
    ReaderGone,
    /// The stream ended, or the connection broke.
    Ended,
}

/// The next record of a followed stream (`events tail`, `calls tail`); a line that is no
/// record of this stream (a newer session's) is skipped.
pub async fn next_record<R: serde::de::DeserializeOwned>(lines: &mut Lines) -> Next<R> {
    loop {
        let line = tokio::select! {
            l = lines.next() => l,
            _ = stdout_closed() => return Next::ReaderGone,
        };
        let Ok(Some(line)) = line else { return Next::Ended };
        if let Ok(record) = serde_json::from_slice(&line) {
            return Next::Record(record);
        }
    }
}

/// Resolves when whoever reads our stdout has gone away (`| head -1` ended), so a command
/// that may write nothing for a long time (a quiet tail) still ends.
pub async fn stdout_closed() {
    loop {
        let mut fd = libc::pollfd { fd: 1, events: 0, revents: 0 };
        // SAFETY: one valid pollfd, no waiting; POLLERR/POLLHUP are reported whatever `events` says.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        if n > 0 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    type Chunk = Result<Frame<Bytes>, std::io::Error>;

    fn body(chunks: Vec<Chunk>) -> StreamBody<tokio_stream::Iter<std::vec::IntoIter<Chunk>>> {
        StreamBody::new(tokio_stream::iter(chunks))
    }

    fn data(text: &'static str) -> Chunk {
        Ok(Frame::data(Bytes::from(text)))
    }

    async fn line(lines: &mut Lines) -> Option<String> {
        lines.next().await.unwrap().map(|l| String::from_utf8(l).unwrap())
    }

    #[tokio::test]
    async fn lines_split_across_chunks_come_whole() {
        let mut lines = Lines::of(body(vec![data("{\"a\":1}\n{\"b\""), data(""), data(":2}\r\n{}\n")]));
        assert_eq!(line(&mut lines).await.as_deref(), Some("{\"a\":1}"));
        assert_eq!(line(&mut lines).await.as_deref(), Some("{\"b\":2}"));
        assert_eq!(line(&mut lines).await.as_deref(), Some("{}"));
        assert_eq!(line(&mut lines).await, None);
    }

    #[tokio::test]
    async fn a_stream_broken_mid_line_is_an_error() {
        let broken = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let mut lines = Lines::of(body(vec![data("{\"a\":1}\n{\"b"), Err(broken)]));
        assert_eq!(line(&mut lines).await.as_deref(), Some("{\"a\":1}"));
        let error = lines.next().await.unwrap_err();
        assert!(format!("{error:#}").contains("connection reset"), "{error:#}");
    }

    #[tokio::test]
    async fn a_session_that_is_not_there_says_how_to_start_one() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let error = get_public(&base, "/", Duration::from_secs(10)).await.unwrap_err();
        let said = format!("cannot reach the link session at {base}; is `ioctl link` still running?: ");
        assert!(format!("{error:#}").starts_with(&said), "{error:#}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_that_does_not_answer_in_time_is_an_error_naming_the_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // Accepts, reads nothing, answers nothing.
        tokio::spawn(async move {
            let _held = listener.accept().await;
            std::future::pending::<()>().await
        });
        let error = request("GET", &base, "/", None, None, Duration::from_millis(1500)).await.unwrap_err();
        assert!(
            error.to_string().starts_with(&format!("the link session at {base} did not answer within 1.5 s")),
            "{error}"
        );
    }
}
