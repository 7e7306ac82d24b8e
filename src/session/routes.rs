//! The session's route table: every linked app's service.json routes, each served by the
//! app's live version; the server looks requests up here.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::app::route::Pattern;
use crate::app::AppId;
use crate::protocol::GraphqlApp;
use crate::runtime::Worker;

/// One declared route of one linked app.
#[derive(Clone)]
pub struct Route {
    /// `vendor.name@version` (an [`AppId`]'s text).
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
        self.lookup_on(path, &Domain::Store)
    }

    /// The route `path` reaches on `domain`, as VTEX routes it: a public and a private route
    /// may share a path; the store's domain prefers the public one, an app's private domain
    /// (only that app's routes) the private one.
    pub fn lookup_on(&self, path: &str, domain: &Domain) -> Option<(Route, BTreeMap<String, String>)> {
        let all = self.routes.read().unwrap();
        let mut matching = all
            .iter()
            .filter(|r| match domain {
                Domain::Store => !r.graphql,
                Domain::App { id, major } => AppId::parse(&r.app)
                    .is_ok_and(|app| app.without_version() == id && app.major() == Some(major.as_str())),
            })
            .filter_map(|r| r.pattern.matches(path).map(|p| (r, p)));
        let preferred_public = matches!(domain, Domain::Store);
        let first = matching.next()?;
        if first.0.public == preferred_public {
            return Some((first.0.clone(), first.1));
        }
        let better = matching.find(|(r, _)| r.public == preferred_public);
        let (r, p) = better.unwrap_or(first);
        Some((r.clone(), p))
    }
}

/// Where a request arrived, as on VTEX: the store's domain (`{workspace}--{account}.myvtex.com`,
/// here the session URL), or an app's private domain (`/{vendor}.{name}/v{major}/...`).
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Store,
    /// The path's `vendor.name` and major, as written (an app matches when its id has them).
    App {
        id: String,
        major: String,
    },
}
