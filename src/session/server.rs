//! The session's local HTTP server, bound to loopback only: the linked apps' routes (private
//! ones behind the session token), the sample sender's public healthcheck route, and the
//! control API (`/_ioctl/...`, typed by `protocol`, every path behind the token). Requests
//! whose Host is not loopback are refused (DNS rebinding); connections that send no complete
//! request head in time are closed, and their number is bounded (silent ones make room).

use crate::lock::Locked;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, Semaphore};
use tokio_stream::wrappers::ReceiverStream;

use super::gateway::{Reach, Visitor};
use super::identity::{self, bearer, User};
use super::state::Session;
use crate::protocol::endpoint::{
    DashboardLogin, Endpoint, GetSession, ListGraphqlApps, NewDashboardLogin, ReloadPlatform, StopPublish, Stopping,
    Unlink, Unlinking,
};
use crate::protocol::stream::{CallsRecord, Output, TailRecord};
use crate::protocol::{
    path, sample_sender, ErrorBody, ErrorCode, FailedHeader, FailedPage, Hello, LinkRequest, PublishLine,
    PublishRequest, ReplayRequest, SessionInfo, PUBLISH_PROGRESS, VERSION,
};

type Shared = Arc<Session>;

/// A connection must send a whole request head within this (idle keep-alive ones included).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; at the bound, the one that has waited longest for a request
/// head is closed to make room (loopback clients are all one).
pub const MAX_CONNECTIONS: usize = 128;
/// Connections accepted beyond the bound when all are busy with requests: theirs are answered
/// 503 with `Retry-After`, unless they carry the session token (the user's own commands).
pub const RESERVE: usize = 32;
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
        .route(path::CALLS_TAIL, get(calls_tail))
        .route(path::PLATFORM_RELOAD, post(reload_platform))
        .route(&format!("{}/{{id}}", path::APPS), delete(unlink_app))
        .route(path::DASHBOARD_LOGIN, post(dashboard_login))
        .route_layer(middleware::from_fn_with_state(session.clone(), require_token));
    // The dashboard's API: the page's credential (from the session's own page) or the token.
    let api = super::dashboard::api_routes()
        .route(&format!("{}/{{*rest}}", path::DASHBOARD_API), axum::routing::any(no_such_api))
        .route_layer(middleware::from_fn_with_state(session.clone(), require_page_or_token));
    let mut app = Router::new()
        .route(path::IDE, get(ide))
        .route(&format!("{}/{{*rest}}", path::IDE), get(ide))
        .route(path::DASHBOARD, get(dashboard))
        .route(path::DASHBOARD.trim_end_matches('/'), get(dashboard))
        .route(&format!("{}/{{*file}}", path::DASHBOARD_STATIC), get(dashboard_file))
        .merge(api);
    // With the sample sender off, its path is free for a linked app's own route.
    if session.sender_switch().is_some() {
        app = app.route(sample_sender::HCHECK_PATH, get(hcheck));
    }
    app.merge(control).fallback(app_route).layer(middleware::from_fn(loopback_host)).with_state(session)
}

/// Serves until the session's shutdown token is cancelled.
pub async fn serve(listener: TcpListener, session: Shared) {
    let router = router(session.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let reserve = Arc::new(Semaphore::new(RESERVE));
    let conns = Arc::new(Conns::default());
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
        let Some((slot, reserved)) = admit(&slots, &reserve, &conns).await else {
            tracing::warn!("{} connections are open and busy: closing a new one", MAX_CONNECTIONS + RESERVE);
            continue;
        };
        tracing::debug!(reserved, "client connected");
        let conn = conns.add();
        let service = ConnService { router: router.clone(), session: session.clone(), conn: conn.clone(), reserved };
        let served = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let served = graceful.watch(served);
        tokio::spawn(async move {
            // Dropping an evicted connection closes its socket.
            tokio::select! {
                _ = served => {}
                _ = conn.evict.cancelled() => {}
            }
            conn.done.store(true, Ordering::Relaxed);
            drop(slot);
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

/// A slot for a new connection: a free one; else the one of the connection that has waited
/// longest for a request head (silent, sending its head slowly, or idle between requests) is
/// freed for it; else one of the reserve, whose requests only the session token gets served.
/// `None` when even the reserve is busy. The bool says whether the slot is of the reserve.
async fn admit(
    slots: &Arc<Semaphore>,
    reserve: &Arc<Semaphore>,
    conns: &Conns,
) -> Option<(tokio::sync::OwnedSemaphorePermit, bool)> {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return Some((slot, false));
    }
    if conns.evict_longest_waiting() {
        // The evicted connection's task gives its slot back as soon as it runs.
        if let Ok(Ok(slot)) = tokio::time::timeout(Duration::from_secs(1), slots.clone().acquire_owned()).await {
            return Some((slot, false));
        }
    }
    reserve.clone().try_acquire_owned().ok().map(|slot| (slot, true))
}

/// Serves one connection's requests with the router, noting when the connection is busy with
/// a request and when it waits for the next head. A connection admitted into the reserve
/// (over the bound) answers 503 with `Retry-After` unless the request carries the token.
struct ConnService {
    router: Router,
    session: Shared,
    conn: Arc<Conn>,
    reserved: bool,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        use tower::ServiceExt as _;
        self.conn.busy();
        let idle = IdleOnDrop(self.conn.clone());
        if self.reserved && !bearer(req.headers()).is_some_and(|t| self.session.token_is(t)) {
            return Box::pin(async move {
                drop(idle);
                Ok(overloaded())
            });
        }
        let router = self.router.clone();
        Box::pin(async move {
            let resp = router.oneshot(req.map(Body::new)).await.unwrap_or_else(|e| match e {});
            // The connection waits for its next head once the whole answer is sent.
            Ok(resp.map(|body| Body::new(Guarded { inner: body, _idle: idle })))
        })
    }
}

/// The answer over the connection bound.
fn overloaded() -> Response {
    let error = format!("the session serves {MAX_CONNECTIONS} connections at once and all are busy; retry shortly");
    let mut resp = refuse(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Overloaded, error);
    resp.headers_mut().insert(header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    resp.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    resp
}

/// A response body that marks its connection as waiting for a head again when dropped.
struct Guarded {
    inner: Body,
    _idle: IdleOnDrop,
}

impl hyper::body::Body for Guarded {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

struct IdleOnDrop(Arc<Conn>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.answered();
    }
}

/// The open connections, oldest first, with since when each waits for a request head.
/// By hand: hyper-util's server and tower's limits bound connections by refusing or queueing
/// new ones; none closes the one that has waited longest for a request head to make room,
/// which needs each connection's state between requests, seen only by this accept loop.
#[derive(Default)]
struct Conns {
    list: std::sync::Mutex<std::collections::VecDeque<Arc<Conn>>>,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

struct Conn {
    /// Milliseconds (since the epoch of [`Conns`], plus one) since which it has waited for a
    /// request head; [`BUSY`] while one of its requests is served.
    waiting_since: AtomicU64,
    /// Its requests whose answers are not sent yet (a pipelined one may start before the
    /// previous answer's body is dropped).
    in_flight: std::sync::atomic::AtomicU32,
    epoch: std::time::Instant,
    done: AtomicBool,
    /// Cancelled to close the connection (held by its task).
    evict: tokio_util::sync::CancellationToken,
}

const BUSY: u64 = 0;

impl Conn {
    fn busy(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.waiting_since.store(BUSY, Ordering::Relaxed);
    }

    /// A request's answer is sent: the connection waits for a head again when it was the last.
    fn answered(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.waiting();
        }
    }

    fn waiting(&self) {
        self.waiting_since.store(self.epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
    }
}

impl Conns {
    fn add(&self) -> Arc<Conn> {
        let epoch = *self.epoch.get_or_init(std::time::Instant::now);
        let conn = Arc::new(Conn {
            waiting_since: AtomicU64::new(BUSY),
            in_flight: Default::default(),
            epoch,
            done: AtomicBool::new(false),
            evict: tokio_util::sync::CancellationToken::new(),
        });
        conn.waiting();
        let mut list = self.list.locked();
        list.retain(|c| !c.done.load(Ordering::Relaxed));
        list.push_back(conn.clone());
        conn
    }

    /// Closes the connection that has waited longest for a request head; false if every one
    /// is busy with a request.
    fn evict_longest_waiting(&self) -> bool {
        let mut list = self.list.locked();
        list.retain(|c| !c.done.load(Ordering::Relaxed));
        let since = |c: &Arc<Conn>| c.waiting_since.load(Ordering::Relaxed);
        let Some(i) = (0..list.len()).filter(|&i| since(&list[i]) != BUSY).min_by_key(|&i| since(&list[i])) else {
            return false;
        };
        let c = list.remove(i).expect("index in range");
        tracing::debug!("closing the connection that waited longest for a request head, to make room");
        c.evict.cancel();
        true
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

/// The dashboard API's check: the session token, or the page credential sent by the session's
/// own page (a change must then be JSON: see [`from_own_page`]).
async fn require_page_or_token(State(s): State<Shared>, req: Request, next: Next) -> Response {
    match caller(&s, &req) {
        Caller::Token | Caller::Page => next.run(req).await,
        Caller::Refused(why) => refuse(StatusCode::FORBIDDEN, ErrorCode::Unauthorized, why.to_string()),
        Caller::Nobody => {
            let error =
                "the dashboard's API needs its login (open the link `ioctl dashboard` prints) or the session token"
                    .to_string();
            refuse(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, error)
        }
    }
}

async fn no_such_api(req: Request) -> Response {
    let error = format!("no dashboard API {} {}", req.method(), req.uri().path());
    refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, error)
}

pub(super) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{text}\n")).into_response()
}

/// A control call's answer: the one its [`Endpoint`] says.
fn answer<E: Endpoint>(body: &E::Response) -> Response {
    json_response(StatusCode::OK, body)
}

pub(super) fn refuse(status: StatusCode, code: ErrorCode, error: String) -> Response {
    json_response(status, &ErrorBody { code, error })
}

pub(super) fn refused(e: ErrorBody) -> Response {
    let status = match e.code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::SessionEnding | ErrorCode::AlreadyLinked => StatusCode::CONFLICT,
        ErrorCode::ForbiddenHost => StatusCode::MISDIRECTED_REQUEST,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Conflict => StatusCode::PRECONDITION_FAILED,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_response(status, &e)
}

/// A control request's JSON body as `T`, within [`MAX_BODY`].
pub(super) async fn body<T: DeserializeOwned>(req: Request, what: &str) -> Result<T, Response> {
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
    if let Some(switch) = s.sender_switch() {
        if switch.turn_on() {
            tracing::info!("sample sender armed");
        }
    }
    "ok".into_response()
}

/// A request for a linked app's route: matched against service.json paths (optionally under
/// the VTEX-style `/{account}/{workspace}` prefix), its caller identified (private routes need
/// the session's credential or a local admin's), then proxied to the app's Node host as its
/// user (see `gateway` and `identity`).
async fn app_route(State(s): State<Shared>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let scope = s.scope();
    let (domain, local) = s.gateway().domain_of(&path);
    let visitor = match visitor(&s, &req) {
        Ok(v) => v,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
    };
    match s.gateway().serve(req, &local, &domain, visitor).await {
        Some(resp) => resp,
        None => (StatusCode::NOT_FOUND, format!("no route matches {path} in {scope}\n")).into_response(),
    }
}

/// Who a request to an app is: the session's credential (its token, the IDE's page) is the
/// admin or whom `x-ioctl-as` names; a local user's token passes as that user (and the
/// admin's, or the hosts' own Bearer, reaches private routes, as an app's token does on VTEX);
/// anything else is anonymous, on public routes. An `x-ioctl-as` naming nobody is an error.
fn visitor(s: &Session, req: &Request) -> Result<Visitor, String> {
    let identity = s.identity();
    let headers = req.headers();
    let refused = match caller(s, req) {
        Caller::Token => {
            return Ok(Visitor { user: identity.user_of(headers, true)?, chosen: true, reach: Reach::Private })
        }
        Caller::Page => {
            return Ok(Visitor { user: identity.user_of(headers, true)?, chosen: true, reach: Reach::Graphql })
        }
        Caller::Refused(why) => Some(why),
        Caller::Nobody => None,
    };
    let user = identity.user_of(headers, false)?;
    let app = bearer(headers).is_some_and(|t| identity.user_of_token(t) == Some(User::Admin));
    let reach = if user == User::Admin || app { Reach::Private } else { Reach::Public(refused) };
    Ok(Visitor { user, chosen: false, reach })
}

/// Whether a request carries the session's credential, as far as the session can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// It carries the session token: `Authorization: Bearer`, or a `VtexIdclientAutCookie`
    /// header or cookie (as VTEX apps pass credentials).
    Token,
    /// The IDE's page: its login cookie, sent from the session's own origin.
    Page,
    /// Nothing of the session's.
    Nobody,
    /// A login cookie from where the page cannot be: another origin (any page on any port of
    /// this host gets the cookie), a script without a browser's headers, or a form.
    Refused(&'static str),
}

fn caller(s: &Session, req: &Request) -> Caller {
    let headers = req.headers();
    let header = headers.get(identity::AUTH_COOKIE).and_then(|v| v.to_str().ok());
    let cookie = super::ide::cookie(headers, identity::AUTH_COOKIE);
    if [bearer(headers), header, cookie].into_iter().flatten().any(|t| s.token_is(t)) {
        return Caller::Token;
    }
    match super::ide::cookie(headers, super::ide::COOKIE) {
        Some(c) if s.ide().is_page(c) => match from_own_page(req) {
            Ok(()) => Caller::Page,
            Err(why) => Caller::Refused(why),
        },
        _ => Caller::Nobody,
    }
}

/// Whether a cookie-borne request comes from the session's own pages: the browser's
/// `Sec-Fetch-Site` says same-origin (or the user's own navigation), its `Origin` (when sent)
/// is this server, and a request that changes something is JSON (which a form or a
/// cross-origin `fetch` without a preflight cannot send).
fn from_own_page(req: &Request) -> Result<(), &'static str> {
    let headers = req.headers();
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let site = get("sec-fetch-site");
    let origin = get("origin");
    if site.is_none() && origin.is_none() {
        return Err("the login cookie is for the browser page; scripts send the session token");
    }
    if site.is_some_and(|site| site != "same-origin" && site != "none") {
        return Err("the login cookie only works from the session's own pages (Sec-Fetch-Site is not same-origin)");
    }
    let own = get("host").map(|host| format!("http://{host}"));
    if origin.is_some_and(|origin| Some(origin) != own.as_deref()) {
        return Err("the login cookie only works from the session's own pages (Origin is another site)");
    }
    let reads = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let json = get("content-type").is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !reads && !json {
        return Err(
            "a request with the login cookie that changes something must be JSON (Content-Type: application/json)",
        );
    }
    Ok(())
}

/// The linked apps' GraphQL endpoints, for `ioctl graphql`.
async fn graphql_apps(State(s): State<Shared>) -> Response {
    answer::<ListGraphqlApps>(&s.graphql_apps())
}

/// The GraphQL IDE: `?login=` (one-time) sets the cookie; then the page, its files and the app list.
async fn ide(State(s): State<Shared>, req: Request) -> Response {
    let rest = req.uri().path().strip_prefix(path::IDE).unwrap_or("").to_string();
    if let Some(login) = super::ide::login_in(req.uri()) {
        if s.take_ide_login(&login) {
            if let Some(credential) = s.ide().page_credential() {
                // The page's other parameters (?app=, ?query=) stay; the login leaves the URL.
                return super::ide::logged_in(&credential, path::IDE, req.uri().query().unwrap_or(""));
            }
        }
    }
    match caller(&s, &req) {
        Caller::Token | Caller::Page => {}
        Caller::Refused(why) => return (StatusCode::FORBIDDEN, format!("{why}\n")).into_response(),
        Caller::Nobody => return super::ide::login_needed(),
    }
    if rest == "/apps" {
        // The IDE's own copy of the list (its page reads it with the IDE's cookie).
        return json_response(StatusCode::OK, &s.graphql_apps());
    }
    s.ide().serve(&rest)
}

/// The dashboard's page: a one-time login in its URL logs the browser in (as the IDE's does);
/// without the login cookie (or the token), a word on how to get one.
async fn dashboard(State(s): State<Shared>, req: Request) -> Response {
    if let Some(login) = super::ide::login_in(req.uri()) {
        if s.take_ide_login(&login) {
            if let Some(credential) = s.ide().page_credential() {
                return super::ide::logged_in(&credential, path::DASHBOARD, req.uri().query().unwrap_or(""));
            }
        }
    }
    match caller(&s, &req) {
        Caller::Token | Caller::Page => super::dashboard::page(),
        Caller::Refused(why) => (StatusCode::FORBIDDEN, format!("{why}\n")).into_response(),
        Caller::Nobody => super::dashboard::login_needed(),
    }
}

async fn dashboard_file(Path(file): Path<String>) -> Response {
    super::dashboard::file(&file)
}

/// `ioctl dashboard`: a fresh one-time login link.
async fn dashboard_login(State(s): State<Shared>) -> Response {
    match s.ide().issue() {
        Some(login) => {
            let url = format!("{}{}?login={login}", s.url(), path::DASHBOARD);
            answer::<NewDashboardLogin>(&DashboardLogin { url })
        }
        None => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "no login link: the system's randomness (/dev/urandom) cannot be read".into(),
        ),
    }
}

async fn session_info(State(s): State<Shared>) -> Response {
    let scope = s.scope();
    let info = SessionInfo {
        protocol: VERSION,
        account: scope.account.clone(),
        workspace: scope.workspace.clone(),
        counts: s.counts(),
        team: s.team().await,
    };
    answer::<GetSession>(&info)
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
        if tx.send(line(&TailRecord::Hello(hello(&session)))).await.is_err() {
            return;
        }
        let shutdown = session.shutdown().clone();
        loop {
            let next = tokio::select! {
                a = activity.recv() => match a {
                    Ok(a) if a.scope() == session.scope() => a.to_record(),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(skipped)) => TailRecord::Lagged { skipped },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            };
            if tx.send(line(&next)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(line(&TailRecord::SessionEnd { counts: session.counts() })).await;
    });
    ndjson(rx)
}

/// Streams the apps' outbound calls as NDJSON ([`CallsRecord`]) until the session ends, then a
/// `session_end` line. The feed is a bounded broadcast: a tail that falls behind is told how
/// many calls it missed; the apps never wait for it.
async fn calls_tail(State(s): State<Shared>) -> Response {
    let mut calls = s.calls().subscribe();
    let (tx, rx) = mpsc::channel(256);
    let session = s.clone();
    s.tracker().spawn(async move {
        if tx.send(line(&CallsRecord::Hello(hello(&session)))).await.is_err() {
            return;
        }
        let shutdown = session.shutdown().clone();
        loop {
            let next = tokio::select! {
                c = calls.recv() => match c {
                    Ok(call) => CallsRecord::Call(call),
                    Err(broadcast::error::RecvError::Lagged(skipped)) => CallsRecord::Lagged { skipped },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.cancelled() => break,
                _ = tx.closed() => return,
            };
            if tx.send(line(&next)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(line(&CallsRecord::SessionEnd { calls: session.calls().total() })).await;
    });
    ndjson(rx)
}

/// `POST /_ioctl/platform/reload`: reads the workspace's platform settings again.
async fn reload_platform(State(s): State<Shared>) -> Response {
    match s.reload_platform().await {
        Ok(settings) => answer::<ReloadPlatform>(&settings),
        Err(e) => refused(e),
    }
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
        answer::<StopPublish>(&Stopping { stopping: job })
    } else {
        refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no running publish {job} in this session"))
    }
}

/// A page of the dead letters as NDJSON: a [`FailedHeader`], then one letter per line, written
/// as the reader takes them (the letters are shared, not copied into one big answer).
async fn failed(State(s): State<Shared>, Query(page): Query<FailedPage>) -> Response {
    // In a team workspace, every machine's (this one's alone if the server does not answer).
    let shared = match s.cluster() {
        Some(c) => c.dead_letters().await.inspect_err(|e| tracing::warn!("{e:#}: listing this machine's")).ok(),
        None => None,
    };
    let mut letters = shared.unwrap_or_else(|| s.dead_letters().list());
    let total = letters.len();
    let end = total.saturating_sub(page.skip);
    let start = page.limit.map_or(0, |limit| end.saturating_sub(limit));
    letters.truncate(end);
    letters.drain(..start);
    let header = FailedHeader {
        protocol: VERSION,
        dropped: s.dead_letters().dropped(),
        bound: super::delivery::DEAD_LETTER_BOUND,
        bytes_bound: super::delivery::DEAD_LETTER_BYTES,
        total,
        skipped: total - end,
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
        Ok(replayed) => answer::<ReplayRequest>(&replayed),
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
    match s.link(r, super::linked_app::run) {
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
        answer::<Unlink>(&Unlinking { unlinking: id })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().method(method).uri("/x").header("host", "127.0.0.1:4000");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_login_cookie_is_taken_only_from_the_sessions_own_page() {
        let own = [("sec-fetch-site", "same-origin")];
        assert!(from_own_page(&request("GET", &own)).is_ok());
        assert!(from_own_page(&request("GET", &[("sec-fetch-site", "none")])).is_ok(), "the user's own navigation");
        assert!(from_own_page(&request("GET", &[("sec-fetch-site", "same-site")])).is_err(), "another port");
        assert!(from_own_page(&request("GET", &[("sec-fetch-site", "cross-site")])).is_err());
        assert!(from_own_page(&request("GET", &[])).is_err(), "no browser headers: a script");
        let json = [("origin", "http://127.0.0.1:4000"), ("content-type", "application/json; charset=utf-8")];
        assert!(from_own_page(&request("POST", &json)).is_ok());
        let form = [("origin", "http://127.0.0.1:4000"), ("content-type", "text/plain")];
        assert!(from_own_page(&request("POST", &form)).is_err(), "a change must be JSON");
        let other = [("origin", "http://127.0.0.1:9999"), ("content-type", "application/json")];
        assert!(from_own_page(&request("POST", &other)).is_err());
        assert!(from_own_page(&request("POST", &[("origin", "null"), ("content-type", "application/json")])).is_err());
    }

    #[test]
    fn at_the_bound_the_connection_waiting_longest_for_a_head_goes_never_a_busy_one() {
        let conns = Conns::default();
        let busy = conns.add();
        busy.busy();
        let first = conns.add();
        let second = conns.add();
        // The first answered a request since: it has waited for its next head for less long.
        first.waiting_since.store(20, Ordering::Relaxed);
        second.waiting_since.store(10, Ordering::Relaxed);
        assert!(conns.evict_longest_waiting());
        assert!(second.evict.is_cancelled() && !first.evict.is_cancelled() && !busy.evict.is_cancelled());
        assert!(conns.evict_longest_waiting());
        assert!(first.evict.is_cancelled());
        assert!(!conns.evict_longest_waiting(), "the busy one stays");
        assert!(!busy.evict.is_cancelled());
    }

    #[test]
    fn a_connection_is_busy_until_its_last_request_in_flight_is_answered() {
        let conn = Conns::default().add();
        assert_ne!(conn.waiting_since.load(Ordering::Relaxed), BUSY, "a new connection waits for a head");
        conn.busy();
        conn.busy(); // a pipelined request starts before the first answer's body is gone
        conn.answered();
        assert_eq!(conn.waiting_since.load(Ordering::Relaxed), BUSY);
        conn.answered();
        assert_ne!(conn.waiting_since.load(Ordering::Relaxed), BUSY);
    }

    #[tokio::test]
    async fn over_the_bound_a_connection_gets_a_reserve_slot_until_those_run_out() {
        let (slots, reserve) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
        let conns = Conns::default();
        let (slot, reserved) = admit(&slots, &reserve, &conns).await.unwrap();
        assert!(!reserved);
        conns.add().busy();
        let (extra, reserved) = admit(&slots, &reserve, &conns).await.unwrap();
        assert!(reserved, "every connection is busy: the reserve");
        assert!(admit(&slots, &reserve, &conns).await.is_none(), "bound and reserve full: closed");
        drop((slot, extra));
    }

    #[test]
    fn the_overloaded_answer_says_when_to_retry() {
        let resp = overloaded();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        assert_eq!(resp.headers()[header::CONNECTION], "close");
    }
}
