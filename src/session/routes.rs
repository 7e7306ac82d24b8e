//! The session's route table: every linked app's service.json routes, each served by the
//! app's live version; the server looks requests up here.

use crate::lock::ReadWrite;
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
    /// The app that serves it, parsed once when its routes are set (a lookup compares parts).
    pub app: AppId,
    /// The service.json route id; for the GraphQL endpoint, its path.
    pub id: String,
    pub public: bool,
    pub pattern: Pattern,
    /// How long the app may take to answer (service.json `timeout`, seconds; 10 by default).
    pub timeout: std::time::Duration,
    /// The app's live version (its host serves the route on its routes socket).
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
        let mut all = self.routes.writing();
        all.retain(|r| r.app.as_str() != app);
        all.extend(routes);
    }

    /// The GraphQL endpoints of the linked apps, by app id.
    pub fn graphql_apps(&self) -> Vec<GraphqlApp> {
        let all = self.routes.reading();
        let mut apps: Vec<GraphqlApp> =
            all.iter().filter(|r| r.graphql).map(|r| GraphqlApp { app: r.app.clone(), path: r.id.clone() }).collect();
        apps.sort_by(|a, b| a.app.cmp(&b.app));
        apps
    }

    /// Whether an app of id `vendor.name` at major `major` serves any route (is linked here).
    pub fn serves(&self, id: &str, major: &str) -> bool {
        self.routes.reading().iter().any(|r| r.app.without_version() == id && r.app.major() == Some(major))
    }

    /// The first route whose pattern matches `path`, with its params.
    pub fn lookup(&self, path: &str) -> Option<(Route, BTreeMap<String, String>)> {
        self.lookup_on(path, &Domain::Store)
    }

    /// The route `path` reaches on `domain`, as VTEX routes it: a public and a private route
    /// may share a path; the store's domain prefers the public one, an app's private domain
    /// (only that app's routes) the private one.
    pub fn lookup_on(&self, path: &str, domain: &Domain) -> Option<(Route, BTreeMap<String, String>)> {
        let all = self.routes.reading();
        let mut matching = all
            .iter()
            .filter(|r| match domain {
                Domain::Store => !r.graphql,
                Domain::App { id, major } => r.app.without_version() == id && r.app.major() == Some(major.as_str()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn route(app: &str, id: &str, path: &str, public: bool) -> Route {
        Route {
            app: AppId::parse(app).unwrap(),
            id: id.into(),
            public,
            pattern: Pattern::parse(path).unwrap(),
            timeout: std::time::Duration::from_secs(10),
            worker: watch::channel(None).1,
            graphql: path == "/_v/graphql",
        }
    }

    /// A GraphQL endpoint's id is its path on the app's domain.
    const GQL: &str = "/v.a/v1/acme/dev/_v/graphql";

    fn table() -> Table {
        let t = Table::default();
        let a = "v.a@1.2.0";
        t.set(
            a,
            vec![route(a, "open", "/x", true), route(a, "closed", "/x", false), route(a, GQL, "/_v/graphql", false)],
        );
        t.set("v.b@12.0.0-rc.1", vec![route("v.b@12.0.0-rc.1", "b", "/x/:id", false)]);
        t
    }

    fn found(t: &Table, path: &str, domain: &Domain) -> Option<(String, String)> {
        t.lookup_on(path, domain).map(|(r, _)| (r.app.to_string(), r.id))
    }

    fn on(id: &str, major: &str) -> Domain {
        Domain::App { id: id.into(), major: major.into() }
    }

    #[test]
    fn the_store_prefers_public_routes_and_an_apps_domain_its_private_ones() {
        let t = table();
        assert_eq!(found(&t, "/x", &Domain::Store), Some(("v.a@1.2.0".into(), "open".into())));
        assert_eq!(found(&t, "/x", &on("v.a", "1")), Some(("v.a@1.2.0".into(), "closed".into())));
        assert_eq!(found(&t, "/x/7", &on("v.b", "12")), Some(("v.b@12.0.0-rc.1".into(), "b".into())));
    }

    #[test]
    fn an_apps_domain_reaches_only_that_app_at_that_major_as_written() {
        let t = table();
        for (id, major) in [("v.a", "2"), ("v.a", "01"), ("v.b", "1"), ("v.c", "1"), ("v", "1")] {
            assert_eq!(found(&t, "/x", &on(id, major)), None, "{id} v{major}");
        }
        assert_eq!(found(&t, "/x/7", &on("v.a", "1")), None);
    }

    #[test]
    fn graphql_is_served_on_its_apps_domain_only() {
        let t = table();
        assert_eq!(found(&t, "/_v/graphql", &Domain::Store), None);
        assert_eq!(found(&t, "/_v/graphql", &on("v.a", "1")), Some(("v.a@1.2.0".into(), GQL.into())));
        let apps = t.graphql_apps();
        assert_eq!(apps, vec![GraphqlApp { app: "v.a@1.2.0".parse().unwrap(), path: GQL.into() }]);
    }

    #[test]
    fn an_app_is_served_at_its_major_only() {
        let t = table();
        assert!(t.serves("v.a", "1") && t.serves("v.b", "12"));
        assert!(!t.serves("v.a", "2") && !t.serves("v.c", "1"));
    }
}
