//! The dashboard: the workspace in the browser. The page and its files (web/, shipped inside
//! the binary), its login (the GraphQL IDE's one-time links and page credential) and its JSON
//! API under `/_ioctl/api/`, fed by the session's journal of what happened.

pub mod activity;
pub mod assets;
pub mod journal;
pub mod live;
pub mod overview;

use std::sync::Arc;

use axum::Router;

use super::state::Session;

/// The dashboard's API routes (the server puts them behind the page credential or the token).
pub fn api_routes() -> Router<Arc<Session>> {
    Router::new().merge(activity::routes()).merge(live::routes()).merge(overview::routes())
}
