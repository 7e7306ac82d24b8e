//! The session's local HTTP server, bound to loopback only: the sample sender's public
//! healthcheck route, and the control API (`/_ioctl/...`) that `events tail` uses, which
//! needs the session token.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::bus::Delivery;
use crate::routes;
use crate::sender;
use crate::terminal::Output;

/// What the handlers share: the session.
type Shared = Arc<crate::session::Shared>;

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
    let mut app = Router::new();
    // With the sample sender off, its path is free for a linked app's own route.
    if shared.arm.is_some() {
        app = app.route(sender::HCHECK_PATH, get(hcheck));
    }
    let app = app
        .route("/_ioctl/session", get(session))
        .route("/_ioctl/events/tail", get(tail))
        .route("/_ioctl/events", post(publish))
        .route("/_ioctl/events/failed", get(failed))
        .route("/_ioctl/events/replay", post(replay))
        .route("/_ioctl/apps", post(link_app))
        .route("/_ioctl/apps/{id}", axum::routing::delete(unlink_app))
        .fallback(app_route)
        .with_state(shared);
    let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await;
}

/// The sample sender's healthcheck: arms it. A linked app that declares this path itself
/// (the real events-example) takes precedence.
async fn hcheck(State(s): State<Shared>, req: axum::extract::Request) -> Response {
    if s.routes.lookup(sender::HCHECK_PATH).is_some() {
        return app_route(State(s), req).await;
    }
    if let Some(arm) = &s.arm {
        arm.arm();
    }
    "ok".into_response()
}

/// A request for a linked app's route: matched against service.json paths (optionally under
/// the VTEX-style `/{account}/{workspace}` prefix), private routes checked for the session
/// token, then proxied to the app's Node host.
async fn app_route(State(s): State<Shared>, req: axum::extract::Request) -> Response {
    let path = req.uri().path().to_string();
    let prefix = format!("/{}/{}/", s.scope.account, s.scope.workspace);
    let local = path.strip_prefix(&prefix[..prefix.len() - 1]).filter(|p| p.starts_with('/')).unwrap_or(&path);
    let Some((route, params)) = s.routes.lookup(local) else {
        return (StatusCode::NOT_FOUND, format!("no route matches {path} in {}\n", s.scope)).into_response();
    };
    if !route.public && !authorized(&s, req.headers()) && !vtex_cookie(&s, req.headers()) {
        return (
            StatusCode::UNAUTHORIZED,
            format!(
                "route `{}` of {} is private: send the session token (Authorization: Bearer <token>)\n",
                route.id, route.app
            ),
        )
            .into_response();
    }
    let worker = route.worker.borrow().clone();
    let Some(port) = worker.as_ref().and_then(|w| w.loaded.routes_port) else {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{} is not running (see the link terminal)\n", route.app))
            .into_response();
    };
    match proxy(req, port, local, &route, &params).await {
        Ok(resp) => resp,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{} did not answer: {e:#}\n", route.app)).into_response(),
    }
}

/// `VtexIdclientAutCookie: <token>` is how VTEX apps pass credentials; accept it too.
fn vtex_cookie(s: &Shared, headers: &HeaderMap) -> bool {
    headers.get("vtexidclientautcookie").and_then(|v| v.to_str().ok()) == Some(s.token.as_str())
}

async fn proxy(
    req: axum::extract::Request,
    port: u16,
    local_path: &str,
    route: &routes::Route,
    params: &std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Response> {
    let (mut parts, body) = req.into_parts();
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    parts.uri = format!("{local_path}{query}").parse()?;
    let h = &mut parts.headers;
    h.insert("x-ioctl-route-id", route.id.parse()?);
    h.insert("x-ioctl-route-params", encode_uri_component(&serde_json::to_string(params)?).parse()?);
    h.insert("x-ioctl-route-type", if route.public { "public" } else { "private" }.parse()?);
    h.insert("x-ioctl-request-id", next_request_id().parse()?);
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // As on VTEX, a request longer than the service's `timeout` is cut off.
    let answer = tokio::time::timeout(route.timeout, sender.send_request(axum::http::Request::from_parts(parts, body)));
    let Ok(resp) = answer.await else {
        let message = format!(
            "route `{}` of {} did not answer within {} s (node/service.json `timeout`)\n",
            route.id,
            route.app,
            route.timeout.as_secs()
        );
        return Ok((StatusCode::GATEWAY_TIMEOUT, message).into_response());
    };
    let resp = resp?;
    let (parts, body) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::new(body)))
}

fn next_request_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{:x}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// JavaScript's encodeURIComponent.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {}", s.token);
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "this endpoint needs the session token (Authorization: Bearer <token>)\n")
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
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(ReceiverStream::new(rx))).into_response()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{body}\n")).into_response()
}

fn bad_request(message: String) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

/// A control request: the session token checked, then its JSON body read as `T`.
fn control<T: serde::de::DeserializeOwned>(
    s: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    what: &str,
) -> Result<T, Box<Response>> {
    if !authorized(s, headers) {
        return Err(Box::new(unauthorized()));
    }
    serde_json::from_slice(body).map_err(|e| Box::new(bad_request(format!("bad {what}: {e}"))))
}

/// A manual event (`ioctl events send`).
#[derive(Deserialize)]
struct Publish {
    key: String,
    sender: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: Value,
    /// Publish the same event this many times (load and soak tests); 1 when absent.
    #[serde(default)]
    repeat: Option<u64>,
    /// With `repeat`: events per second (as fast as the handlers take them when absent).
    #[serde(default)]
    rate: Option<f64>,
}

async fn publish(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let p: Publish = match control(&s, &headers, &body, "event") {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    if p.key.is_empty() {
        return bad_request("an event needs a key".into());
    }
    let repeat = p.repeat.unwrap_or(1).max(1);
    let (mut first, mut deliveries) = (None, 0);
    let mut pace = p.rate.filter(|r| *r > 0.0).map(|r| {
        let mut t = tokio::time::interval(std::time::Duration::from_secs_f64(1.0 / r));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    for _ in 0..repeat {
        if let Some(t) = pace.as_mut() {
            t.tick().await;
        }
        // Each publish waits for room in full queues: a big repeat is paced by the handlers.
        let (event, n) = s.bus.publish(&s.scope, &p.sender, &p.key, &p.subject, p.body.clone()).await;
        first.get_or_insert(event.id.clone());
        deliveries += n;
    }
    json_response(StatusCode::OK, json!({ "id": first, "deliveries": deliveries, "published": repeat }))
}

async fn failed(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    json_response(StatusCode::OK, json!(s.dead.list()))
}

#[derive(Deserialize)]
struct Replay {
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    all: bool,
}

/// Delivers dead letters again (to the handler that failed them); a new failure puts them back.
async fn replay(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let r: Replay = match control(&s, &headers, &body, "replay request") {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if r.event_id.is_none() && !r.all {
        return bad_request("name an event id or ask for all failed events".into());
    }
    let letters = s.dead.take(r.event_id.as_deref());
    if letters.is_empty() {
        let what = r.event_id.map_or("no failed events".to_string(), |id| format!("no failed event with id {id}"));
        return json_response(StatusCode::NOT_FOUND, json!({ "error": what }));
    }
    let mut replayed = Vec::new();
    for letter in letters {
        let target = s.queues.lock().unwrap().get(&letter.app).cloned();
        let Some((queue, app_counts)) = target else {
            s.dead.push(letter);
            continue;
        };
        let count = |which: fn(&crate::bus::Counters) -> &std::sync::atomic::AtomicU64| {
            which(&s.bus.counters).fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            which(&app_counts).fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        };
        count(|c| &c.deliveries);
        let id = letter.event.id.clone();
        if queue.send(Delivery { event: letter.event.clone(), handler: letter.handler.as_str().into() }).await.is_err()
        {
            count(|c| &c.failed);
            s.dead.push(letter);
            continue;
        }
        replayed.push(json!({ "event_id": id, "app": letter.app, "handler": letter.handler }));
    }
    json_response(StatusCode::OK, json!({ "replayed": replayed }))
}

/// `ioctl link` asking to link an app.
#[derive(Deserialize)]
struct LinkApp {
    root: std::path::PathBuf,
    watch: bool,
    /// When the link command started (µs since the epoch), for its `ready in N ms`.
    started_at_us: u64,
}

/// Links an app into the session and streams its output (NDJSON of [`Output`]) until it is
/// unlinked. The link id for `DELETE /_ioctl/apps/{id}` is in the `x-ioctl-link-id` header.
/// If the link command goes away (the stream is dropped), the app is unlinked.
async fn link_app(State(s): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let r: LinkApp = match control(&s, &headers, &body, "link request") {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let started_at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(r.started_at_us);
    let req = crate::linked::Request { root: r.root, watch: r.watch, started_at };
    match s.link(req) {
        Ok((id, rx, unlink)) => {
            let stream = OutputStream { rx, _unlink_on_drop: unlink.drop_guard() };
            let mut resp =
                ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response();
            resp.headers_mut().insert("x-ioctl-link-id", id.into());
            resp
        }
        Err(message) => json_response(StatusCode::CONFLICT, json!({ "error": message })),
    }
}

async fn unlink_app(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if !authorized(&s, &headers) {
        return unauthorized();
    }
    if s.unlink(id) {
        json_response(StatusCode::OK, json!({ "unlinking": id }))
    } else {
        json_response(StatusCode::NOT_FOUND, json!({ "error": format!("no link {id} in this session") }))
    }
}

/// An app's output as NDJSON lines; dropping it (the link command went away) unlinks the app.
struct OutputStream {
    rx: mpsc::Receiver<Output>,
    _unlink_on_drop: tokio_util::sync::DropGuard,
}

impl tokio_stream::Stream for OutputStream {
    type Item = Result<String, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|o| {
            o.map(|msg| {
                let mut line = serde_json::to_string(&msg).unwrap_or_else(|_| "{}".into());
                line.push('\n');
                Ok(line)
            })
        })
    }
}
