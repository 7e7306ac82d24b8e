//! What the dashboard does, rather than shows: send an event (as `ioctl events send`), replay
//! an event or dead letters (as `ioctl events replay`), the platform events of `ioctl events
//! trigger` as the composer's templates, the dead letters, and a request to a linked app's
//! route as a chosen user (through the same gateway as any request: its trace is journaled).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::protocol::dashboard_data::{
    DeadLetters, ReplayEvent, ReplayLetters, SendEvent, Sent, Template, Tried, TryRoute,
};
use crate::protocol::{path, platform_events, ErrorBody, ErrorCode, PublishRequest, ReplayRequest};
use crate::session::gateway::{Reach, Visitor};
use crate::session::identity::User;
use crate::session::server::{body, json_response, refuse, refused};
use crate::session::state::Session;

type Shared = Arc<Session>;

/// The most of a tried route's answer the page is shown.
pub const TRIED_BODY_MAX: usize = 256 << 10;

pub fn routes() -> Router<Shared> {
    let api = path::DASHBOARD_API;
    Router::new()
        .route(&format!("{api}/events/send"), post(send))
        .route(&format!("{api}/events/replay"), post(replay))
        .route(&format!("{api}/templates"), get(templates))
        .route(&format!("{api}/dead-letters"), get(dead_letters))
        .route(&format!("{api}/dead-letters/replay"), post(replay_letters))
        .route(&format!("{api}/try"), post(try_route))
}

fn ok(value: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, value)
}

/// Publishes one event, as `ioctl events send` does, and answers once it is published.
async fn send(State(s): State<Shared>, req: Request) -> Response {
    let e: SendEvent = match body(req, "event").await {
        Ok(e) => e,
        Err(r) => return r,
    };
    if e.sender.trim().is_empty() {
        return refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "an event needs a sender".into());
    }
    let request =
        PublishRequest { key: e.key, sender: e.sender, subject: String::new(), body: e.body, repeat: None, rate: None };
    let job = match s.start_publish(request) {
        Ok(job) => job,
        Err(e) => return refused(e),
    };
    match job.done.await {
        Ok(done) => match done.id {
            Some(id) => ok(&Sent { id, deliveries: done.deliveries }),
            None => refuse(
                StatusCode::CONFLICT,
                ErrorCode::SessionEnding,
                "the session is ending: nothing was published".into(),
            ),
        },
        Err(_) => refuse(StatusCode::CONFLICT, ErrorCode::SessionEnding, "the session ended before publishing".into()),
    }
}

/// Delivers an event again: its dead letters when it has any (to the handlers that failed
/// it), else the same event to every handler the journal saw it delivered to.
async fn replay(State(s): State<Shared>, req: Request) -> Response {
    let r: ReplayEvent = match body(req, "replay").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match s.replay(&ReplayRequest { event_id: Some(r.id.clone()), all: false }).await {
        Ok(done) => ok(&done),
        Err(ErrorBody { code: ErrorCode::NotFound, .. }) => match s.redeliver_journaled(&r.id).await {
            Ok(done) => ok(&done),
            Err(e) => refused(e),
        },
        Err(e) => refused(e),
    }
}

async fn templates(State(s): State<Shared>) -> Response {
    let all: Vec<Template> = platform_events::catalog()
        .iter()
        .map(|t| Template {
            name: t.name.into(),
            description: t.about.into(),
            sender: t.sender.into(),
            key: t.key.into(),
            body: platform_events::body(t, s.scope()),
        })
        .collect();
    ok(&all)
}

async fn dead_letters(State(s): State<Shared>) -> Response {
    let mut letters = s.dead_letters().list();
    letters.reverse();
    ok(&DeadLetters {
        bound: crate::session::delivery::DEAD_LETTER_BOUND,
        dropped: s.dead_letters().dropped(),
        letters,
    })
}

/// Replays dead letters: one event's, one app's, or all of them.
async fn replay_letters(State(s): State<Shared>, req: Request) -> Response {
    let r: ReplayLetters = match body(req, "replay").await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let answer = match (&r.app, &r.id) {
        (None, id) => s.replay(&ReplayRequest { event_id: id.clone(), all: id.is_none() }).await,
        (Some(app), id) => s.replay_app(app, id.as_deref()).await,
    };
    match answer {
        Ok(done) => ok(&done),
        Err(e) => refused(e),
    }
}

/// A request to a linked app's route as `as` (admin when absent), through the gateway as any
/// request: the answer, its time, and its trace.
async fn try_route(State(s): State<Shared>, req: Request) -> Response {
    let t: TryRoute = match body(req, "request").await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let bad = |error: String| refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, error);
    let Ok(method) = Method::from_bytes(t.method.trim().to_ascii_uppercase().as_bytes()) else {
        return bad(format!("`{}` is not an HTTP method", t.method));
    };
    if !t.path.starts_with('/') {
        return bad(format!("the path must start with `/`, not `{}`", crate::app::clip(&t.path, 80)));
    }
    let user = match t.user.as_deref().map(User::parse) {
        None => User::Admin,
        Some(Some(u)) => u,
        Some(None) => return bad("`as` must be admin, shopper or anonymous".into()),
    };
    let query = t.query.as_deref().map(|q| q.trim_start_matches('?')).filter(|q| !q.is_empty());
    let uri = match query {
        Some(q) => format!("{}?{q}", t.path),
        None => t.path.clone(),
    };
    let has_body = t.body.as_deref().is_some_and(|b| !b.is_empty());
    let mut request = match axum::http::Request::builder()
        .method(method)
        .uri(&uri)
        .header("host", s.url().trim_start_matches("http://"))
        .body(Body::from(t.body.unwrap_or_default()))
    {
        Ok(r) => r,
        Err(e) => return bad(format!("cannot make a request of `{}`: {e}", crate::app::clip(&uri, 80))),
    };
    if has_body {
        request.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    }
    let (domain, local) = s.gateway().domain_of(&t.path);
    let visitor = Visitor { user, chosen: true, reach: Reach::Private };
    let started = Instant::now();
    let Some(answer) = s.gateway().serve(request, &local, &domain, visitor).await else {
        let error = format!("no linked app's route matches {} in {}", t.path, s.scope());
        return refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, error);
    };
    let (parts, answer_body) = answer.into_parts();
    let bytes = axum::body::to_bytes(answer_body, usize::MAX).await;
    let elapsed_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            return refuse(StatusCode::BAD_GATEWAY, ErrorCode::Internal, format!("the route's answer broke off: {e}"))
        }
    };
    let truncated = bytes.len() > TRIED_BODY_MAX;
    let shown = &bytes[..bytes.len().min(TRIED_BODY_MAX)];
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let trace = headers.get("x-ioctl-trace").and_then(|t| t.parse().ok());
    ok(&Tried {
        status: parts.status.as_u16(),
        headers,
        body: String::from_utf8_lossy(shown).into_owned(),
        truncated,
        elapsed_ms,
        trace,
    })
}
