//! (being written)

use std::sync::Arc;

use axum::Router;

use crate::session::state::Session;

pub fn routes() -> Router<Arc<Session>> {
    Router::new()
}
