//! Keep-alive connections from the session to the apps' route servers: hyper-util's pooling
//! client over the hosts' unix sockets, one pool of idle HTTP/1.1 connections per socket, so a
//! route or GraphQL request does not pay for a connect and a handshake. A connection goes back
//! to its pool once its response has been read to the end (responses stream); one that closed
//! is dropped, and one idle for [`IDLE_TIMEOUT`] is closed. A socket that was removed under the
//! session (`rm -rf $IOCTL_HOME`) is an error saying so, not a bare "No such file or directory".

use std::future::Future;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use axum::body::Body;
use axum::http::uri::{Authority, Scheme, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::UnixStream;

/// Idle connections kept per host (more in flight at once are opened, then closed).
const IDLE_PER_HOST: usize = 32;
/// An idle connection is closed after this. Long enough that a burst of requests, or a page
/// and the calls it makes, reuse one; short enough that the connections to a version that was
/// relinked or stopped (its host gone) and a burst's surplus do not stay open all session. A
/// response being streamed is not idle: it is never cut by this.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The session's pools, by host socket.
#[derive(Clone)]
pub struct Upstream {
    client: Client<Sockets, Body>,
}

impl Default for Upstream {
    fn default() -> Self {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .pool_idle_timeout(IDLE_TIMEOUT)
            // Closes expired idle connections in the background, not only when next checked out.
            .pool_timer(TokioTimer::new())
            // The request's own Host header (the browser's) goes to the app, or none, as sent.
            .set_host(false)
            .build(Sockets);
        Upstream { client }
    }
}

impl Upstream {
    /// Sends `request` (its URI a path and query) to the host serving on `socket` on an idle
    /// connection, or a new one.
    pub async fn send(
        &self,
        socket: &Path,
        mut request: axum::http::Request<Body>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        let mut uri = std::mem::take(request.uri_mut()).into_parts();
        uri.scheme = Some(Scheme::HTTP);
        uri.authority = Some(authority_of(socket)?);
        *request.uri_mut() = Uri::from_parts(uri).context("the route's URL")?;
        self.client.request(request).await.map_err(crate::hyper_error::unwrapped)
    }
}

/// Connects to the host socket that a request's authority names. A pool is kept per
/// authority, so the authority carries the socket's path, hex-encoded (a path is no host name).
#[derive(Clone, Copy)]
struct Sockets;

impl tower::Service<Uri> for Sockets {
    type Response = TokioIo<UnixStream>;
    type Error = anyhow::Error;
    // Boxed once per new connection, not per request.
    type Future = Pin<Box<dyn Future<Output = anyhow::Result<TokioIo<UnixStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<anyhow::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let socket = socket_of(&uri)?;
            match UnixStream::connect(&socket).await {
                Ok(stream) => Ok(TokioIo::new(stream)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(socket_gone(&socket)),
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// The authority that names `socket`: its path's bytes in hex.
fn authority_of(socket: &Path) -> anyhow::Result<Authority> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = socket.as_os_str().as_bytes();
    let mut hex = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.extend([HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
    Authority::from_maybe_shared(axum::body::Bytes::from(hex))
        .with_context(|| format!("the app's socket {}", socket.display()))
}

/// The socket an [`authority_of`] names.
fn socket_of(uri: &Uri) -> anyhow::Result<PathBuf> {
    let hex = uri.host().unwrap_or("").as_bytes();
    let digit = |c: u8| (c as char).to_digit(16);
    let bytes: Option<Vec<u8>> =
        hex.chunks(2).map(|pair| Some((digit(pair[0])? * 16 + digit(*pair.get(1)?)?) as u8)).collect();
    match bytes {
        Some(bytes) if !bytes.is_empty() => Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes))),
        _ => Err(anyhow!("{uri} names no app socket")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::{Bytes, Frame};
    use std::convert::Infallible;
    use tokio::net::UnixListener;
    use tokio::sync::mpsc;

    /// What the test host saw: a connection opened (`true`) or ended (`false`).
    type Seen = mpsc::UnboundedReceiver<bool>;

    /// A host on a socket in `dir`: `/` answers "ok"; `/slow` streams "a", then "b" a minute later.
    fn host(dir: &Path) -> (PathBuf, Seen) {
        let socket = dir.join("routes.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let (seen, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                let _ = seen.send(true);
                tokio::spawn(async move {
                    let serve = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(2);
                        let slow = req.uri().path() == "/slow";
                        tokio::spawn(async move {
                            let _ = tx.send(Ok(Frame::data(Bytes::from(if slow { "a" } else { "ok" })))).await;
                            if slow {
                                tokio::time::sleep(Duration::from_secs(60)).await;
                                let _ = tx.send(Ok(Frame::data(Bytes::from("b")))).await;
                            }
                        });
                        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
                        Ok::<_, Infallible>(hyper::Response::new(body))
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), serve).await;
                    let _ = seen.send(false);
                });
            }
        });
        (socket, rx)
    }

    async fn get(upstream: &Upstream, at: &Path, path: &str) -> String {
        let request = axum::http::Request::get(path).body(Body::empty()).unwrap();
        let body = upstream.send(at, request).await.unwrap().into_body().collect().await.unwrap();
        String::from_utf8(body.to_bytes().to_vec()).unwrap()
    }

    /// Lets every task that can run do so (the clock is paused: this advances no real time).
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_reused_then_closed_once_idle_for_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let (at, mut seen) = host(dir.path());
        let upstream = Upstream::default();
        assert_eq!(get(&upstream, &at, "/").await, "ok");
        settle().await;
        assert_eq!(get(&upstream, &at, "/").await, "ok");
        assert_eq!(seen.recv().await, Some(true));
        tokio::time::sleep(IDLE_TIMEOUT - Duration::from_secs(1)).await;
        assert!(seen.try_recv().is_err(), "one connection, still open");
        tokio::time::sleep(IDLE_TIMEOUT * 2).await;
        assert_eq!(seen.try_recv(), Ok(false), "closed once idle");
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_streamed_longer_than_the_idle_timeout_is_not_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (at, _seen) = host(dir.path());
        assert_eq!(get(&Upstream::default(), &at, "/slow").await, "ab");
    }

    #[tokio::test(start_paused = true)]
    async fn connections_in_flight_at_once_are_each_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let (at, mut seen) = host(dir.path());
        let upstream = Upstream::default();
        let (a, b) = tokio::join!(get(&upstream, &at, "/slow"), get(&upstream, &at, "/"));
        assert_eq!((a.as_str(), b.as_str()), ("ab", "ok"));
        assert_eq!((seen.recv().await, seen.recv().await), (Some(true), Some(true)));
    }

    #[tokio::test]
    async fn a_removed_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let at = home.join("run/routes.sock");
        let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        let error = Upstream::default().send(&at, request).await.unwrap_err().to_string();
        let said = format!(
            "ioctl's folder {} was removed while the session ran; stop the link and link again",
            home.display()
        );
        assert!(error.starts_with("the app's socket ") && error.ends_with(&said), "{error}");
    }

    #[test]
    fn a_socket_path_round_trips_through_its_authority() {
        let socket = Path::new("/tmp/ioctl é/run/a b.sock");
        let uri = Uri::builder().scheme("http").authority(authority_of(socket).unwrap()).path_and_query("/").build();
        assert_eq!(socket_of(&uri.unwrap()).unwrap(), socket);
        assert!(socket_of(&"http://abc/".parse().unwrap()).is_err());
        assert!(socket_of(&"http://zz/".parse().unwrap()).is_err());
    }
}
