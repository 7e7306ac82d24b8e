//! Keep-alive connections from the session to the apps' route servers: one pool of idle
//! HTTP/1.1 connections per host socket, so a route or GraphQL request does not pay for a
//! connect and two handshakes. A connection goes back to its pool once its response has been
//! read to the end; one that closed is dropped. A socket that was removed under the session
//! (`rm -rf $IOCTL_HOME`) is an error saying so, not a bare "No such file or directory".

use crate::lock::Locked;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use axum::body::Body;
use hyper::client::conn::http1::SendRequest;

use crate::runtime::RoutesAt;

/// Idle connections kept per host (more in flight at once are opened, then closed).
const IDLE_PER_HOST: usize = 32;

/// The session's pools, by host address.
#[derive(Default, Clone)]
pub struct Upstream {
    idle: Arc<Mutex<HashMap<String, Vec<SendRequest<Body>>>>>,
}

impl Upstream {
    /// Sends `request` to the host at `at` on an idle connection, or a new one.
    pub async fn send(
        &self,
        at: &RoutesAt,
        request: axum::http::Request<Body>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let key = key(at);
        let mut sender = match self.take(&key) {
            Some(s) => s,
            None => connect(at).await?,
        };
        let response = sender.send_request(request).await?;
        // Ready again once this response's body has been read: then it can be reused.
        let pool = self.clone();
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                pool.put(key, sender);
            }
        });
        Ok(response)
    }

    fn take(&self, key: &str) -> Option<SendRequest<Body>> {
        let mut idle = self.idle.locked();
        let list = idle.get_mut(key)?;
        while let Some(s) = list.pop() {
            if s.is_ready() && !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put(&self, key: String, sender: SendRequest<Body>) {
        let mut idle = self.idle.locked();
        // Connections to hosts that are gone (relinked or stopped versions) closed: drop them.
        idle.retain(|_, list| {
            list.retain(|s| !s.is_closed());
            !list.is_empty()
        });
        let list = idle.entry(key).or_default();
        if list.len() < IDLE_PER_HOST {
            list.push(sender);
        }
    }
}

fn key(at: &RoutesAt) -> String {
    match at {
        RoutesAt::Socket(p) => p.to_string_lossy().into_owned(),
        RoutesAt::Port(port) => format!("127.0.0.1:{port}"),
    }
}

async fn connect(at: &RoutesAt) -> anyhow::Result<SendRequest<Body>> {
    match at {
        RoutesAt::Socket(p) => match tokio::net::UnixStream::connect(p).await {
            Ok(stream) => handshake(stream).await,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(socket_gone(p)),
            Err(e) => Err(e.into()),
        },
        RoutesAt::Port(port) => handshake(tokio::net::TcpStream::connect(("127.0.0.1", *port)).await?).await,
    }
}

async fn handshake<S>(stream: S) -> anyhow::Result<SendRequest<Body>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    // Driven for as long as the connection lives (in the pool, between requests, too).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A host's socket file that is no longer there: it (or `$IOCTL_HOME`, the whole folder) was
/// removed under the running session, which cannot reach the app again: say so and what to do.
fn socket_gone(socket: &Path) -> anyhow::Error {
    match socket.ancestors().skip(1).take_while(|dir| !dir.exists()).last() {
        Some(folder) => anyhow!(
            "the app's socket {} is gone: ioctl's folder {} was removed while the session ran; stop the link and link again",
            socket.display(),
            folder.display()
        ),
        None => anyhow!(
            "the app's socket {} is gone: it was removed while the session ran; stop the link and link again",
            socket.display()
        ),
    }
}
