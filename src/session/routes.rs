//! The session's route table: every linked app's service.json routes, each served by the
//! app's live version; the server looks requests up here.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::app::route::Pattern;
use crate::runtime::Worker;

/// One declared route of one linked app.
#[derive(Clone)]
pub struct Route {
    pub app: String,
    pub id: String,
    pub public: bool,
    pub pattern: Pattern,
    /// How long the app may take to answer (service.json `timeout`, seconds; 10 by default).
    pub timeout: std::time::Duration,
    /// The app's live version (its host serves the route on `routes_port`).
    pub worker: watch::Receiver<Option<Arc<Worker>>>,
}

/// All routes of the session; the server reads, link replaces an app's routes on relink.
#[derive(Default)]
pub struct Table {
    routes: std::sync::RwLock<Vec<Route>>,
}

impl Table {
    /// Replaces the routes of `app`.
    pub fn set(&self, app: &str, routes: Vec<Route>) {
        let mut all = self.routes.write().unwrap();
        all.retain(|r| r.app != app);
        all.extend(routes);
    }

    /// The first route whose pattern matches `path`, with its params.
    pub fn lookup(&self, path: &str) -> Option<(Route, BTreeMap<String, String>)> {
        let all = self.routes.read().unwrap();
        all.iter().find_map(|r| r.pattern.matches(path).map(|p| (r.clone(), p)))
    }
}
