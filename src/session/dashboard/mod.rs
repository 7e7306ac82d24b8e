//! The dashboard: the workspace in the browser. The page and its files (web/, shipped inside
//! the binary: nothing from a CDN, works offline), its login (the GraphQL IDE's one-time links
//! and page credential, checked in server.rs) and its JSON API under `/_ioctl/api/`, fed by the
//! session's journal of what happened and by the same store the CLI and the apps use.

pub mod actions;
pub mod activity;
pub mod assets;
pub mod data;
pub mod journal;
pub mod live;
pub mod overview;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::state::Session;

/// The dashboard's API routes (the server puts them behind the page credential or the token).
pub fn api_routes() -> Router<Arc<Session>> {
    Router::new()
        .merge(activity::routes())
        .merge(live::routes())
        .merge(overview::routes())
        .merge(actions::routes())
        .merge(data::routes())
}

/// The page's policy: its own files only (no inline script, no other origin), never framed.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; \
                      base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page (web/index.html).
pub fn page() -> Response {
    let Some((kind, text)) = assets::find("index.html") else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "this ioctl was built without its dashboard page\n")
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        text,
    )
        .into_response()
}

/// One of the page's files (`file`: its path under web/).
pub fn file(file: &str) -> Response {
    match assets::find(file) {
        Some((kind, text)) if file != "index.html" => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            text,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, format!("no dashboard file {file}\n")).into_response(),
    }
}

/// The page without a login.
pub fn login_needed() -> Response {
    let text = "the dashboard needs a login: open the one-time link `ioctl link` printed, or run \
                `ioctl dashboard` for a fresh one (each link works once)\n";
    (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}
