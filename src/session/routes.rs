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
    /// The service.json route id; for the GraphQL endpoint, its path.
    pub id: String,
    pub public: bool,
    pub pattern: Pattern,
    /// How long the app may take to answer (service.json `timeout`, seconds; 10 by default).
    pub timeout: std::time::Duration,
    /// The app's live version (its host serves the route on `routes_port`).
    pub worker: watch::Receiver<Option<Arc<Worker>>>,
    /// The app's GraphQL endpoint (`/_v/graphql`) rather than a service.json route.
    pub graphql: bool,
}

/// One linked app's GraphQL endpoint, as `ioctl graphql` and the IDE list them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct GraphqlApp {
    /// `vendor.name@version`.
    pub app: String,
    /// The endpoint's path on the session (`/{vendor}.{name}/v{major}/{account}/{workspace}/_v/graphql`).
    pub path: String,
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

    /// The GraphQL endpoints of the linked apps, by app id.
    pub fn graphql_apps(&self) -> Vec<GraphqlApp> {
        let all = self.routes.read().unwrap();
        let mut apps: Vec<GraphqlApp> =
            all.iter().filter(|r| r.graphql).map(|r| GraphqlApp { app: r.app.clone(), path: r.id.clone() }).collect();
        apps.sort_by(|a, b| a.app.cmp(&b.app));
        apps
    }

    /// The first route whose pattern matches `path`, with its params.
    pub fn lookup(&self, path: &str) -> Option<(Route, BTreeMap<String, String>)> {
        let all = self.routes.read().unwrap();
        all.iter().find_map(|r| r.pattern.matches(path).map(|p| (r.clone(), p)))
    }
}
