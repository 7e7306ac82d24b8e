//! The inspector proxy's HTTP side, as Node's inspector answers it: `/json/version`,
//! `/json/list` (`/json`) naming the app's target, and the WebSocket upgrade at the target's
//! random id, which hands the connection to a relay. Every request passes the Host check;
//! the upgrade the Origin check too (guard.rs).

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{guard, relay, Shared};

#[derive(Clone)]
struct Proxy {
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// Serves until `stop`; each client's relay runs on `tasks`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    let proxy = Proxy { shared, stop: stop.clone(), tasks };
    let app = Router::new()
        .route("/json", get(list))
        .route("/json/list", get(list))
        .route("/json/version", get(version))
        .route("/{id}", get(upgrade))
        .fallback(not_found)
        .with_state(proxy);
    let served = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
    if let Err(e) = served.await {
        tracing::warn!("the inspector proxy stopped: {e}");
    }
}

/// The Host check of every request (DNS rebinding), or the refusal to answer.
fn refused(proxy: &Proxy, headers: &HeaderMap) -> Option<Response> {
    let host = headers.get(header::HOST).map(|h| h.to_str().unwrap_or("\u{0}"));
    if guard::host_allowed(host, proxy.shared.bound.ip()) {
        return None;
    }
    let message = "Host header is not a loopback IP address or localhost: refused (as Node's inspector refuses it)\n";
    Some((StatusCode::FORBIDDEN, message).into_response())
}

async fn version(State(proxy): State<Proxy>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&proxy, &headers) {
        return r;
    }
    as_json(json!({ "Browser": "node.js (ioctl inspector proxy)", "Protocol-Version": "1.1" }))
}

async fn list(State(proxy): State<Proxy>, headers: HeaderMap) -> Response {
    if let Some(r) = refused(&proxy, &headers) {
        return r;
    }
    let s = &proxy.shared;
    // As Node: the address the client used (its Host header), else the bound one.
    let at = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map_or_else(|| s.bound.to_string(), String::from);
    let ws = format!("{at}/{}", s.id);
    as_json(json!([{
        "description": "node.js instance",
        "devtoolsFrontendUrl": format!("devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws={ws}"),
        "devtoolsFrontendUrlCompat": format!("devtools://devtools/bundled/inspector.html?experiments=true&v8only=true&ws={ws}"),
        "faviconUrl": "https://nodejs.org/static/images/favicons/favicon.ico",
        "id": s.id,
        "title": format!("{} (ioctl link)", s.app),
        "type": "node",
        "url": s.entry_url,
        "webSocketDebuggerUrl": format!("ws://{ws}"),
    }]))
}

fn as_json(value: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json; charset=UTF-8")], value.to_string()).into_response()
}

async fn upgrade(
    State(proxy): State<Proxy>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(r) = refused(&proxy, &headers) {
        return r;
    }
    let origin = headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or("\u{0}"));
    if !guard::origin_allowed(origin) {
        let message = "WebSocket from a web page of another origin: refused (the debugger runs any code in the app)\n";
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    // Compared whole: the id is the target's secret.
    if id != proxy.shared.id {
        return not_found().await;
    }
    let Ok(ws) = ws else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade\n").into_response();
    };
    let (shared, stop, tasks) = (proxy.shared.clone(), proxy.stop.clone(), proxy.tasks.clone());
    ws.max_message_size(256 << 20).on_upgrade(move |socket| async move {
        tasks.spawn(relay::run(socket, shared, stop));
    })
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such target: see /json/list\n").into_response()
}
