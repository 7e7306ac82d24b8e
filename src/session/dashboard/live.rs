//! (being written for issue 23; see the dashboard's contract)

use std::sync::Arc;

use axum::Router;

use crate::session::state::Session;

pub fn routes() -> Router<Arc<Session>> {
    Router::new()
}
