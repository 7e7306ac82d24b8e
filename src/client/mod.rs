//! The client commands: short processes that find the link session of a scope (its record)
//! and talk to it over loopback HTTP with the types of `protocol`. Every request has a
//! deadline for its answer's head (`--timeout`), so an unresponsive session is an error that
//! says so, not a hang. The storage commands (`settings`, `vbase`, `masterdata`, `data`) open
//! the workspace's storage directly instead, so they work whether or not a session runs.

pub mod data;
pub mod events;
pub mod graphql;
pub mod healthcheck;
pub mod link;
pub mod masterdata;
pub mod settings;
pub mod tail;
pub mod trigger;
pub mod vbase;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::protocol::endpoint::{Endpoint, Method};
use crate::protocol::record::{self, Record};
use crate::protocol::{ErrorBody, ErrorCode, Scope};

/// How long a request waits for the session's answer (milliseconds); `--timeout` sets it.
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(10_000);

/// Sets the deadline of every request to a session.
pub fn set_timeout(timeout: Duration) {
    TIMEOUT_MS.store(timeout.as_millis().clamp(1, u64::MAX.into()) as u64, Ordering::Relaxed);
}

pub fn timeout() -> Duration {
    Duration::from_millis(TIMEOUT_MS.load(Ordering::Relaxed))
}

/// The local storage of `scope` under `$IOCTL_HOME`, which a running session shares (SQLite
/// orders their writes).
pub fn local_store(scope: &Scope) -> anyhow::Result<crate::store::Store> {
    let home = crate::layout::home()?;
    Ok(crate::store::Store::new(crate::store::Location::new(&home, &scope.account, &scope.workspace)))
}

/// A session the command talks to: its record (URL, token).
pub struct Session {
    pub record: Record,
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

impl Session {
    /// The running session of `scope`, or the error that says how to start one.
    pub fn find(scope: &Scope) -> anyhow::Result<Session> {
        Ok(Session { record: record::require(&crate::layout::home()?, scope)? })
    }

    pub fn url(&self) -> &str {
        &self.record.url
    }

    /// A request to the control API, with the token; the answer's head within `wait`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<String>,
        wait: Duration,
    ) -> anyhow::Result<Response<Incoming>> {
        request(method, &self.record.url, path, Some(&self.record.token), json, wait).await
    }

    /// A request to one of the apps' private endpoints as the developer: the token as the
    /// Bearer and as the `VtexIdclientAutCookie` VTEX's @auth reads (the admin's login).
    pub async fn request_as_developer(
        &self,
        method: &str,
        path: &str,
        json: String,
        wait: Duration,
    ) -> anyhow::Result<Response<Incoming>> {
        let user = ("vtexidclientautcookie", self.record.token.as_str());
        request_with(method, &self.record.url, path, Some(&self.record.token), Some(json), wait, Some(user)).await
    }

    /// A control call whose answer is one JSON value: the answer its [`Endpoint`] says, or the
    /// session's refusal. A `POST` sends `call` as the body.
    pub async fn call<E: Endpoint>(&self, call: &E, wait: Duration) -> Result<E::Response, Refusal> {
        let body = match E::METHOD {
            Method::Post => Some(serde_json::to_string(call).context("cannot encode the request")?),
            Method::Get | Method::Delete => None,
        };
        let resp = self.request(E::METHOD.as_str(), &call.path(), body, wait).await?;
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

/// GET a public path of the session at `base` (`http://127.0.0.1:PORT`), no token.
pub async fn get_public(base: &str, path: &str) -> anyhow::Result<Response<Incoming>> {
    request("GET", base, path, None, None, timeout()).await
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
    let exchange = async {
        let stream = TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot reach the link session at {base}; is `ioctl link` still running?"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder().method(method).uri(path).header("host", authority);
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
        sender.send_request(req.body(body)?).await.with_context(|| format!("{method} {base}{path}"))
    };
    match tokio::time::timeout(wait, exchange).await {
        Ok(answer) => answer,
        Err(_) => bail!(
            "the link session at {base} did not answer within {:.1} s (is it stopped or overloaded?); `--timeout SECONDS` waits longer",
            wait.as_secs_f64()
        ),
    }
}

/// The whole body as text.
pub async fn text(resp: Response<Incoming>) -> anyhow::Result<String> {
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A streamed body read one newline-terminated JSON line at a time (tail, a link's output).
pub struct Lines {
    body: Incoming,
    buf: Vec<u8>,
}

impl Lines {
    pub fn new(resp: Response<Incoming>) -> Lines {
        Lines { body: resp.into_body(), buf: Vec::new() }
    }

    /// The next line; `None` when the stream ended cleanly, an error when the connection broke.
    /// Cancel-safe: bytes already received stay buffered.
    pub async fn next(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                return Ok(Some(self.buf.drain(..=nl).collect()));
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
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
