//! The session's local HTTP server, bound to loopback only: the sample sender's public
//! healthcheck route, and the control API (`/_ioctl/...`) that `events tail` uses, which
//! needs the session token.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::{Bus, Scope};
use crate::sender::{self, Arm};

/// What the handlers share.
#[derive(Clone)]
pub struct Shared {
    pub scope: Scope,
    pub token: String,
    pub bus: Arc<Bus>,
    /// `None` with `--no-sample-sender`.
    pub arm: Option<Arm>,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
}

/// Binds 127.0.0.1:`port` (0 = any free port).
pub async fn bind(port: u16) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}; pick another --port or leave it out for a free one")
    })?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves until the shutdown token is cancelled.
pub async fn serve(listener: TcpListener, shared: Shared) {
    let shutdown = shared.shutdown.clone();
    let app = Router::new()
        .route(sender::HCHECK_PATH, get(hcheck))
        .route("/_ioctl/session", get(session))
        .route("/_ioctl/events/tail", get(tail))
        .fallback(not_found)
        .with_state(shared);
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
}

async fn hcheck(State(s): State<Shared>) -> Response {
    match &s.arm {
        Some(arm) => {
            arm.arm();
            "ok".into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "the sample sender is off in this session (--no-sample-sender)\n",
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no route here\n").into_response()
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", s.token);
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "this endpoint needs the session token (Authorization: Bearer <token>)\n",
    )
        .into_response()
}

async fn session(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let body = json!({"account": s.scope.account, "workspace": s.scope.workspace, "counts": s.bus.counters.snapshot()});
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Streams the scope's activity as NDJSON until the session ends, then a `session_end` line.
async fn tail(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    let mut activity = s.bus.watch();
    let (tx, rx) = mpsc::channel::<Result<String, Infallible>>(256);
    let (scope, bus, shutdown) = (s.scope.clone(), s.bus.clone(), s.shutdown.clone());
    s.tracker.spawn(async move {
        let hello = json!({"type": "hello", "account": scope.account, "workspace": scope.workspace});
        if tx.send(Ok(format!("{hello}\n"))).await.is_err() {
            return;
        }
        loop {
            let line = tokio::select! {
                a = activity.recv() => match a {
                    Ok(a) if a.scope() == &scope => a.to_json(),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(n)) => json!({"type": "lagged", "skipped": n}),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            };
            if tx.send(Ok(format!("{line}\n"))).await.is_err() {
                return;
            }
        }
        let end = json!({"type": "session_end", "counts": bus.counters.snapshot()});
        let _ = tx.send(Ok(format!("{end}\n"))).await;
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response()
}
