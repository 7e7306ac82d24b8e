//! The session's local HTTP server, bound to loopback only: the linked apps' routes (private
//! ones behind the session token), the sample sender's public healthcheck route, and the
//! control API (`/_ioctl/...`, typed by `protocol`, every path behind the token). Requests
//! whose Host is not loopback are refused (DNS rebinding); connections that send no complete
//! request head in time are closed, and their number is bounded (silent ones make room).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

use super::routes::{Domain, Route};
use super::state::Session;
use crate::protocol::{
    path, sample_sender, ErrorBody, ErrorCode, FailedHeader, Hello, LinkRequest, PublishLine, PublishRequest,
    ReplayRequest, SessionInfo, PUBLISH_PROGRESS, VERSION,
};
use crate::runtime::RoutesAt;
use crate::terminal::Output;

type Shared = Arc<Session>;

/// A connection must send a whole request head within this (idle keep-alive ones included).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at accept (loopback clients are all one).
pub const MAX_CONNECTIONS: usize = 128;
/// Largest control request body (a manual event's data included).
pub const MAX_BODY: usize = crate::protocol::MAX_BODY;

/// Binds 127.0.0.1:`port` (0 = any free port).
pub async fn bind(port: u16) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}; pick another --port or leave it out for a free one")
    })?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

fn router(session: Shared) -> Router {
    let control = Router::new()
        .route(path::SESSION, get(session_info))
        .route(path::TAIL, get(tail))
        .route(path::EVENTS, post(publish))
        .route(&format!("{}/{{job}}", path::EVENTS), delete(stop_publish))
        .route(path::FAILED, get(failed))
        .route(path::REPLAY, post(replay))
        .route(path::APPS, post(link_app))
        .route(path::GRAPHQL_APPS, get(graphql_apps))
        .route(&format!("{}/{{id}}", path::APPS), delete(unlink_app))
        .route_layer(middleware::from_fn_with_state(session.clone(), require_token));
    let mut app = Router::new().route(path::IDE, get(ide)).route(&format!("{}/{{*rest}}", path::IDE), get(ide));
    // With the sample sender off, its path is free for a linked app's own route.
    if session.arm().is_some() {
        app = app.route(sample_sender::HCHECK_PATH, get(hcheck));
    }
    app.merge(control).fallback(app_route).layer(middleware::from_fn(loopback_host)).with_state(session)
}

/// Serves until the session's shutdown token is cancelled.
pub async fn serve(listener: TcpListener, session: Shared) {
    let router = router(session.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let silent = Silent::default();
    loop {
        let stream = tokio::select! {
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors, typically: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = session.shutdown().cancelled() => break,
        };
        // At the bound, the oldest connection that has sent nothing yet makes room: silent
        // ones (port scans, a page holding sockets open) must not lock the user out.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let evicted = silent.evict_oldest();
                let wait = tokio::time::timeout(Duration::from_secs(1), slots.clone().acquire_owned());
                match (evicted, wait.await) {
                    (true, Ok(Ok(slot))) => slot,
                    _ => {
                        tracing::warn!("{MAX_CONNECTIONS} connections are open and busy: closing a new one");
                        continue;
                    }
                }
            }
        };
        tracing::debug!("client connected");
        let (stream, conn_state) = silent.watch(stream);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Dropping an evicted connection closes its socket.
            tokio::select! {
                _ = conn => {}
                _ = conn_state.evict.cancelled() => {}
            }
            conn_state.done.store(true, Ordering::Relaxed);
            drop(slot);
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

/// The open connections, oldest first, with whether each has sent a byte yet.
#[derive(Default)]
struct Silent {
    conns: std::sync::Mutex<std::collections::VecDeque<Arc<ConnState>>>,
}

struct ConnState {
    spoke: AtomicBool,
    done: AtomicBool,
    /// Cancelled to close the connection (held by its task).
    evict: tokio_util::sync::CancellationToken,
}

impl Silent {
    fn watch(&self, stream: TcpStream) -> (Spoke, Arc<ConnState>) {
        let state = Arc::new(ConnState {
            spoke: AtomicBool::new(false),
            done: AtomicBool::new(false),
            evict: tokio_util::sync::CancellationToken::new(),
        });
        let mut conns = self.conns.lock().unwrap();
        conns.retain(|c| !c.done.load(Ordering::Relaxed));
        conns.push_back(state.clone());
        (Spoke { inner: stream, state: state.clone() }, state)
    }

    /// Closes the oldest connection that has sent nothing; false if every one has spoken.
    fn evict_oldest(&self) -> bool {
        let mut conns = self.conns.lock().unwrap();
        conns.retain(|c| !c.done.load(Ordering::Relaxed));
        let Some(i) = conns.iter().position(|c| !c.spoke.load(Ordering::Relaxed)) else {
            return false;
        };
        let c = conns.remove(i).expect("index from position");
        tracing::debug!("closing a connection that sent nothing, to make room");
        c.evict.cancel();
        true
    }
}

/// A connection's stream that notes its first byte read.
struct Spoke {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl tokio::io::AsyncRead for Spoke {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.spoke.store(true, Ordering::Relaxed);
        }
        poll
    }
}

impl tokio::io::AsyncWrite for Spoke {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Refuses requests whose Host is not this machine's loopback (a page using DNS rebinding
/// would send its own name).
async fn loopback_host(req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    if matches!(name.to_ascii_lowercase().as_str(), "127.0.0.1" | "localhost" | "::1") {
        return next.run(req).await;
    }
    let error = format!("Host `{host}` is not loopback: the session answers http://127.0.0.1 only");
    refuse(StatusCode::MISDIRECTED_REQUEST, ErrorCode::ForbiddenHost, error)
}

/// The control API's token check: `Authorization: Bearer <token>`.
async fn require_token(State(s): State<Shared>, req: Request, next: Next) -> Response {
    if bearer(req.headers()).is_some_and(|t| s.token_is(t)) {
        return next.run(req).await;
    }
    let error = "this endpoint needs the session token (Authorization: Bearer <token>)".to_string();
    refuse(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, error)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{text}\n")).into_response()
}

fn refuse(status: StatusCode, code: ErrorCode, error: String) -> Response {
    json_response(status, &ErrorBody { code, error })
}

fn refused(e: ErrorBody) -> Response {
    let status = match e.code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::SessionEnding | ErrorCode::AlreadyLinked => StatusCode::CONFLICT,
        ErrorCode::ForbiddenHost => StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
    };
    json_response(status, &e)
}

/// A control request's JSON body as `T`, within [`MAX_BODY`].
async fn body<T: DeserializeOwned>(req: Request, what: &str) -> Result<T, Response> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| {
        let error = format!("the {what} is over the session's limit of {} MiB", MAX_BODY >> 20);
        refuse(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, error)
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, format!("bad {what}: {e}")))
}

/// An NDJSON stream fed by a channel.
fn ndjson(rx: mpsc::Receiver<Result<String, Infallible>>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(ReceiverStream::new(rx))).into_response()
}

fn line(value: &impl Serialize) -> Result<String, Infallible> {
    let mut text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    Ok(text)
}

/// The sample sender's healthcheck: arms it. A linked app that declares this path itself
/// (the real events-example) takes precedence.
async fn hcheck(State(s): State<Shared>, req: Request) -> Response {
    if s.route(sample_sender::HCHECK_PATH).is_some() {
        return app_route(State(s), req).await;
    }
    if let Some(arm) = s.arm() {
        if arm.arm() {
            tracing::info!("sample sender armed");
        }
    }
    "ok".into_response()
}

/// A request for a linked app's route: matched against service.json paths (optionally under
/// the VTEX-style `/{account}/{workspace}` prefix), private routes checked for the session
/// token, then proxied to the app's Node host over its private socket.
async fn app_route(State(s): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let scope = s.scope();
    let (domain, local) = domain_of(&path, scope);
    let Some((route, params)) = s.route_on(&local, &domain) else {
        return (StatusCode::NOT_FOUND, format!("no route matches {path} in {scope}\n")).into_response();
    };
    let authorized = authorized(&s, req.headers());
    if !route.public && !authorized {
        let message = format!(
            "route `{}` of {} is private: send the session token (Authorization: Bearer <token>)\n",
            route.id, route.app
        );
        return (StatusCode::UNAUTHORIZED, message).into_response();
    }
    let worker = route.worker.borrow().clone();
    if !route.graphql && worker.as_ref().is_some_and(|w| !w.loaded.route_ids.contains(&route.id)) {
        let message = format!(
            "the Service of {} has no handler for route `{}` (declared in node/service.json, missing from `routes` in node/index.ts)\n",
            route.app, route.id
        );
        return (StatusCode::NOT_FOUND, message).into_response();
    }
    let Some(at) = worker.as_ref().and_then(|w| w.loaded.routes.clone()) else {
        let message = format!("{} is not running (see the link terminal)\n", route.app);
        return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
    };
    match proxy(s.upstream(), req, &at, &local, &route, &params).await {
        Ok(resp) => resp,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{} did not answer: {e:#}\n", route.app)).into_response(),
    }
}

/// Which domain a path arrived on, and the route path on it: `/{vendor}.{name}/v{major}/
/// {account}/{workspace}/rest` is an app's private domain; otherwise the store's, with an
/// optional `/{account}/{workspace}` prefix.
fn domain_of(path: &str, scope: &crate::protocol::Scope) -> (Domain, String) {
    let scoped = format!("/{}/{}", scope.account, scope.workspace);
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    if let (Some(app), Some(major)) = (parts.next(), parts.next()) {
        let major = major.strip_prefix('v').filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
        let rest = parts.next().map(|r| format!("/{r}")).unwrap_or_default();
        if let (Some(major), true) = (major, app.contains('.')) {
            if let Some(local) = rest.strip_prefix(&scoped).filter(|p| p.starts_with('/')) {
                return (Domain::App { id: app.to_string(), major: major.to_string() }, local.to_string());
            }
        }
    }
    let local = path.strip_prefix(&scoped).filter(|p| p.starts_with('/')).unwrap_or(path);
    (Domain::Store, local.to_string())
}

/// Whether the request carries the session token: `Authorization: Bearer`, or as VTEX apps
/// pass credentials, a `VtexIdclientAutCookie` header or cookie (the IDE's login sets that).
fn authorized(s: &Session, headers: &HeaderMap) -> bool {
    let header = headers.get("vtexidclientautcookie").and_then(|v| v.to_str().ok());
    [bearer(headers), header, super::ide::cookie(headers, super::ide::COOKIE)]
        .into_iter()
        .flatten()
        .any(|t| s.token_is(t))
}

/// The linked apps' GraphQL endpoints, for `ioctl graphql`.
async fn graphql_apps(State(s): State<Shared>) -> Response {
    json_response(StatusCode::OK, &s.graphql_apps())
}

/// The GraphQL IDE: `?login=` (one-time) sets the cookie; then the page, its files and the app list.
async fn ide(State(s): State<Shared>, req: Request) -> Response {
    let rest = req.uri().path().strip_prefix(path::IDE).unwrap_or("").to_string();
    let login = req.uri().query().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("login=")));
    if let Some(login) = login {
        if s.take_ide_login(login) {
            // The page's other parameters (?app=, ?query=) stay; the login leaves the URL.
            let rest: Vec<&str> =
                req.uri().query().unwrap_or("").split('&').filter(|p| !p.starts_with("login=")).collect();
            return super::ide::logged_in(s.token(), &rest.join("&"));
        }
    }
    if !authorized(&s, req.headers()) {
        return super::ide::login_needed();
    }
    if rest == "/apps" {
        return json_response(StatusCode::OK, &s.graphql_apps());
    }
    s.ide().serve(&rest)
}

async fn proxy(
    upstream: &super::upstream::Upstream,
    req: Request,
    at: &RoutesAt,
    local_path: &str,
    route: &Route,
    params: &BTreeMap<String, String>,
) -> anyhow::Result<Response> {
    let (mut parts, body) = req.into_parts();
    let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    parts.uri = format!("{local_path}{query}").parse()?;
    let h = &mut parts.headers;
    h.insert("x-ioctl-route-id", route.id.parse()?);
    h.insert("x-ioctl-route-params", encode_uri_component(&serde_json::to_string(params)?).parse()?);
    let kind = if route.graphql {
        "graphql"
    } else if route.public {
        "public"
    } else {
        "private"
    };
    h.insert("x-ioctl-route-type", kind.parse()?);
    h.insert("x-ioctl-request-id", next_request_id().parse()?);
    let request = axum::http::Request::from_parts(parts, body);
    // As on VTEX, a request longer than the service's `timeout` is cut off.
    let answer = tokio::time::timeout(route.timeout, upstream.send(at, request)).await;
    let Ok(resp) = answer else {
        let message = format!(
            "route `{}` of {} did not answer within {} s (node/service.json `timeout`)\n",
            route.id,
            route.app,
            route.timeout.as_secs()
        );
        return Ok((StatusCode::GATEWAY_TIMEOUT, message).into_response());
    };
    let (parts, body) = resp?.into_parts();
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

async fn session_info(State(s): State<Shared>) -> Response {
    let scope = s.scope();
    let info = SessionInfo {
        protocol: VERSION,
        account: scope.account.clone(),
        workspace: scope.workspace.clone(),
        counts: s.counts(),
    };
    json_response(StatusCode::OK, &info)
}

fn hello(s: &Session) -> Hello {
    Hello { protocol: VERSION, account: s.scope().account.clone(), workspace: s.scope().workspace.clone() }
}

/// Streams the scope's activity as NDJSON until the session ends, then a `session_end` line.
async fn tail(State(s): State<Shared>) -> Response {
    tracing::debug!("tail connected");
    let mut activity = s.watch();
    let (tx, rx) = mpsc::channel(256);
    let session = s.clone();
    s.tracker().spawn(async move {
        let mut first = serde_json::to_value(hello(&session)).unwrap_or_default();
        first["type"] = json!("hello");
        if tx.send(line(&first)).await.is_err() {
            return;
        }
        let shutdown = session.shutdown().clone();
        loop {
            let next = tokio::select! {
                a = activity.recv() => match a {
                    Ok(a) if a.scope() == session.scope() => a.to_json(),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(n)) => json!({"type": "lagged", "skipped": n}),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            };
            if tx.send(line(&next)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(line(&json!({"type": "session_end", "counts": session.counts()}))).await;
    });
    ndjson(rx)
}

/// Publishes in a task of the session and streams its [`PublishLine`]s: the job, its progress
/// every [`PUBLISH_PROGRESS`], then the answer. A client that goes away stops the job.
async fn publish(State(s): State<Shared>, req: Request) -> Response {
    let p: PublishRequest = match body(req, "event").await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let job = match s.start_publish(p) {
        Ok(job) => job,
        Err(e) => return refused(e),
    };
    let (tx, rx) = mpsc::channel(16);
    s.tracker().spawn(async move {
        let _stop_when_gone = job.stop.clone().drop_guard();
        if tx.send(line(&PublishLine::Started { job: job.id })).await.is_err() {
            return;
        }
        let mut tick = tokio::time::interval(PUBLISH_PROGRESS);
        tick.tick().await;
        let mut done = job.done;
        loop {
            tokio::select! {
                answer = &mut done => {
                    if let Ok(answer) = answer {
                        let _ = tx.send(line(&PublishLine::Done(answer))).await;
                    }
                    return;
                }
                _ = tick.tick() => {
                    let (published, deliveries) = job.progress.get();
                    if tx.send(line(&PublishLine::Progress { published, deliveries })).await.is_err() {
                        return;
                    }
                }
                _ = tx.closed() => return,
            }
        }
    });
    ndjson(rx)
}

/// `DELETE /_ioctl/events/{job}`: stops a running publish (its stream then ends with the count).
async fn stop_publish(State(s): State<Shared>, Path(job): Path<u64>) -> Response {
    if s.stop_publish(job) {
        json_response(StatusCode::OK, &json!({ "stopping": job }))
    } else {
        refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no running publish {job} in this session"))
    }
}

/// The dead letters as NDJSON: a [`FailedHeader`], then one letter per line, written as the
/// reader takes them (the letters are shared, not copied into one big answer).
async fn failed(State(s): State<Shared>) -> Response {
    let letters = s.dead_letters().list();
    let header = FailedHeader {
        protocol: VERSION,
        dropped: s.dead_letters().dropped(),
        bound: super::delivery::DEAD_LETTER_BOUND,
    };
    let (tx, rx) = mpsc::channel(64);
    s.tracker().spawn(async move {
        if tx.send(line(&header)).await.is_err() {
            return;
        }
        for letter in letters {
            if tx.send(line(&*letter)).await.is_err() {
                return;
            }
        }
    });
    ndjson(rx)
}

async fn replay(State(s): State<Shared>, req: Request) -> Response {
    let r: ReplayRequest = match body(req, "replay request").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match s.replay(&r).await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(e) => refused(e),
    }
}

/// Links an app into the session and streams its output (a [`Hello`], then NDJSON of
/// [`Output`]) until it is unlinked. The link id for `DELETE /_ioctl/apps/{id}` is in the
/// `x-ioctl-link-id` header. If the link command goes away (the stream is dropped), the app
/// is unlinked.
async fn link_app(State(s): State<Shared>, req: Request) -> Response {
    let r: LinkRequest = match body(req, "link request").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match s.link(r) {
        Ok(accepted) => {
            let first = line(&hello(&s)).unwrap_or_default();
            let stream =
                OutputStream { first: Some(first), rx: accepted.output, _unlink_on_drop: accepted.unlink.drop_guard() };
            let mut resp =
                ([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response();
            resp.headers_mut().insert(path::LINK_ID_HEADER, accepted.id.into());
            resp
        }
        Err(e) => refused(e),
    }
}

/// `DELETE /_ioctl/apps/{id}[?force=true]`: a graceful unlink, or with `force` (a second
/// Ctrl-C) one that ends the app's processes without waiting for running handlers.
async fn unlink_app(State(s): State<Shared>, Path(id): Path<u64>, req: Request) -> Response {
    let force = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "force=true"));
    if s.unlink(id, force) {
        json_response(StatusCode::OK, &json!({ "unlinking": id }))
    } else {
        refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no link {id} in this session"))
    }
}

/// An app's output as NDJSON lines; dropping it (the link command went away) unlinks the app.
struct OutputStream {
    first: Option<String>,
    rx: mpsc::Receiver<Output>,
    _unlink_on_drop: tokio_util::sync::DropGuard,
}

impl tokio_stream::Stream for OutputStream {
    type Item = Result<String, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return std::task::Poll::Ready(Some(Ok(first)));
        }
        self.rx.poll_recv(cx).map(|o| o.map(|msg| line(&msg)))
    }
}
