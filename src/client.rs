//! A small HTTP/1.1 client for talking to a link session on loopback (healthcheck, tail).

use anyhow::{anyhow, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// GET `path` of the session at `base` (`http://127.0.0.1:PORT`).
pub async fn get(base: &str, path: &str, token: Option<&str>) -> anyhow::Result<Response<Incoming>> {
    request("GET", base, path, token, None).await
}

/// POST a JSON body to `path` of the session.
pub async fn post(base: &str, path: &str, token: Option<&str>, json: String) -> anyhow::Result<Response<Incoming>> {
    request("POST", base, path, token, Some(json)).await
}

/// DELETE `path` of the session.
pub async fn delete(base: &str, path: &str, token: Option<&str>) -> anyhow::Result<Response<Incoming>> {
    request("DELETE", base, path, token, None).await
}

async fn request(
    method: &str,
    base: &str,
    path: &str,
    token: Option<&str>,
    json: Option<String>,
) -> anyhow::Result<Response<Incoming>> {
    let authority =
        base.strip_prefix("http://").ok_or_else(|| anyhow!("session url {base} is not http://"))?.trim_end_matches('/');
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
    let body = match json {
        Some(j) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(j))
        }
        None => Full::new(Bytes::new()),
    };
    let resp = sender.send_request(req.body(body)?).await.with_context(|| format!("{method} {base}{path}"))?;
    Ok(resp)
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
}
