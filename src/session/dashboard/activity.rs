//! The dashboard's history endpoints, read from the session's journal: events (with filters
//! and free text), one event with its attempts, requests, traces, outbound calls and log
//! lines; lists are newest first and page with `before` (a seq, exclusive) and `limit`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::journal::{EventFilter, PAGE, PAGE_MAX};
use crate::protocol::dashboard::EventOutcome;
use crate::protocol::stream::Level;
use crate::protocol::{ErrorBody, ErrorCode};
use crate::session::state::Session;

pub fn routes() -> Router<Arc<Session>> {
    Router::new()
        .route("/_ioctl/api/events", get(events))
        .route("/_ioctl/api/events/{id}", get(event))
        .route("/_ioctl/api/requests", get(requests))
        .route("/_ioctl/api/traces/{trace}", get(trace))
        .route("/_ioctl/api/calls/{seq}", get(call))
        .route("/_ioctl/api/logs", get(logs))
}

type Params = Query<HashMap<String, String>>;

/// A JSON answer (200).
pub(super) fn json(body: &impl Serialize) -> Response {
    crate::session::server::json_response(StatusCode::OK, body)
}

/// A refused request, as the control API answers it.
fn refuse(status: StatusCode, code: ErrorCode, error: String) -> Response {
    crate::session::server::json_response(status, &ErrorBody { code, error })
}

fn bad(error: String) -> Response {
    refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, error)
}

fn not_found(error: String) -> Response {
    refuse(StatusCode::NOT_FOUND, ErrorCode::NotFound, error)
}

/// A non-empty parameter.
fn text<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// `before` and `limit` of a list.
fn paging(p: &HashMap<String, String>) -> Result<(Option<u64>, usize), String> {
    let before = match text(p, "before") {
        None => None,
        Some(b) => Some(b.parse::<u64>().map_err(|_| format!("before={b}: give the seq of a listed record"))?),
    };
    let limit = match text(p, "limit") {
        None => PAGE,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=PAGE_MAX).contains(&n) => n,
            _ => return Err(format!("limit={l}: give 1 to {PAGE_MAX}")),
        },
    };
    Ok((before, limit))
}

fn lowercase(p: &HashMap<String, String>, name: &str) -> Option<String> {
    text(p, name).map(str::to_lowercase)
}

async fn events(State(s): State<Arc<Session>>, Query(p): Params) -> Response {
    let (before, limit) = match paging(&p) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let outcome = match text(&p, "outcome") {
        None => None,
        Some(o) => match EventOutcome::parse(o) {
            Some(o) => Some(o),
            None => return bad(format!("outcome={o}: give pending, ok, failed, retrying or unmatched")),
        },
    };
    let filter = EventFilter {
        sender: text(&p, "sender").map(String::from),
        key: text(&p, "key").map(String::from),
        app: text(&p, "app").map(String::from),
        handler: text(&p, "handler").map(String::from),
        outcome,
        q: lowercase(&p, "q"),
    };
    // Free text over up to 10,000 bodies: off the async threads.
    let s2 = s.clone();
    let page = tokio::task::spawn_blocking(move || s2.journal().events(before, limit, &filter)).await;
    match page {
        Ok(page) => json(&page),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::BadRequest, format!("listing events: {e}")),
    }
}

async fn event(State(s): State<Arc<Session>>, Path(id): Path<String>) -> Response {
    match s.journal().event_detail(&id) {
        Some(detail) => json(&detail),
        None => not_found(format!(
            "no event {id} in the session's journal (it keeps the newest {} events)",
            super::journal::EVENTS
        )),
    }
}

async fn requests(State(s): State<Arc<Session>>, Query(p): Params) -> Response {
    let (before, limit) = match paging(&p) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let q = lowercase(&p, "q");
    json(&s.journal().requests(before, limit, text(&p, "app"), q.as_deref()))
}

async fn logs(State(s): State<Arc<Session>>, Query(p): Params) -> Response {
    let (before, limit) = match paging(&p) {
        Ok(x) => x,
        Err(e) => return bad(e),
    };
    let level = match text(&p, "level") {
        None => None,
        Some(l) => match serde_json::from_value::<Level>(serde_json::Value::String(l.to_string())) {
            Ok(level) => Some(level),
            Err(_) => return bad(format!("level={l}: give debug, info, warn or error")),
        },
    };
    let q = lowercase(&p, "q");
    json(&s.journal().logs(before, limit, text(&p, "app"), level, q.as_deref()))
}

async fn trace(State(s): State<Arc<Session>>, Path(trace): Path<String>) -> Response {
    let Ok(id) = trace.parse::<u64>() else { return bad(format!("trace {trace}: a trace is a number")) };
    match s.journal().trace(id) {
        Some(t) => json(&t),
        None => not_found(format!(
            "no trace {id} in the session's journal (it keeps the newest {} traces)",
            super::journal::TRACES
        )),
    }
}

async fn call(State(s): State<Arc<Session>>, Path(seq): Path<String>) -> Response {
    let Ok(n) = seq.parse::<u64>() else { return bad(format!("call {seq}: a call's seq is a number")) };
    match s.journal().call_record(n) {
        Some(record) => json(&*record),
        None => not_found(format!(
            "no call {n} in the session's journal (it keeps the newest {} calls)",
            super::journal::CALLS
        )),
    }
}
