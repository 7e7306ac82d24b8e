//! The way into the linked apps' routes, for the session's HTTP server and for the apps' own
//! calls to each other through the boundary alike: a request is looked up on the domain it
//! arrived on (the store's, or an app's private `/{vendor}.{name}/v{major}/{account}/{workspace}`),
//! checked against the route's privacy, given its user's credentials and session (see
//! `identity`), and proxied to the app's Node host over its private socket. Each request that
//! reaches a route is a trace (the host tags its calls with it; the answer carries it in
//! `x-ioctl-trace`) and a record of the session's journal.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::dashboard::journal::{Journal, RequestReport};
use super::identity::{Identity, User};
use super::routes::{self, Domain, Route};
use super::upstream::Upstream;
use crate::protocol::dashboard::{RequestKind, TraceKind};
use crate::protocol::Scope;

/// Which routes a request may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Private ones too: the session's token, a local admin's token, an app's call.
    Private,
    /// The IDE's page: public routes and the apps' GraphQL.
    Graphql,
    /// Public routes only; with why a credential it carried was refused.
    Public(Option<&'static str>),
}

/// Who a request is, as the session decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visitor {
    pub user: User,
    /// Chosen with the session's credential (every VTEX ID credential it carried then goes).
    pub chosen: bool,
    pub reach: Reach,
}

/// The session's route table, the connections to the apps, and who its users are.
#[derive(Clone)]
pub struct Gateway {
    scope: Scope,
    routes: Arc<routes::Table>,
    upstream: Upstream,
    identity: Arc<Identity>,
    /// Where requests and their traces are kept.
    journal: Arc<Journal>,
    /// The team workspace (`link --cluster`): requests for an app linked on another machine
    /// go there.
    team: Option<Arc<super::cluster::Cluster>>,
}

/// The header naming a request's trace: to the app's host (its calls carry it), and on the
/// answer (the dashboard's "try a route" opens it).
pub const TRACE_HEADER: &str = "x-ioctl-trace";

impl Gateway {
    pub fn new(scope: Scope, routes: Arc<routes::Table>, upstream: Upstream, identity: Arc<Identity>) -> Gateway {
        Gateway { scope, routes, upstream, identity, journal: Arc::default(), team: None }
    }

    /// The same gateway, keeping its requests in `journal`.
    pub fn with_journal(mut self, journal: Arc<Journal>) -> Gateway {
        self.journal = journal;
        self
    }

    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether an app of id `vendor.name` and major `major` is linked (serves any route).
    pub fn serves(&self, id: &str, major: &str) -> bool {
        self.routes.serves(id, major)
    }

    /// The route table, for tests that set routes of their own.
    #[cfg(test)]
    pub fn routes_for_tests(&self) -> &routes::Table {
        &self.routes
    }

    /// Which domain a request path is on, and the route path there (see [`domain_of`]).
    pub fn domain_of(&self, path: &str) -> (Domain, String) {
        domain_of(path, &self.scope)
    }

    /// Sends requests for apps linked on other machines of `team` there.
    pub fn with_team(mut self, team: Option<Arc<super::cluster::Cluster>>) -> Gateway {
        self.team = team;
        self
    }

    /// Whether the session is part of a team workspace (an app not linked here may be linked
    /// on another machine).
    pub fn has_team(&self) -> bool {
        self.team.is_some()
    }

    /// Serves `req` with the route `local` reaches on `domain`; `None` when no route does. In a
    /// team workspace, a request on the domain of an app not linked here goes to a machine
    /// that links it.
    pub async fn serve(&self, req: Request, local: &str, domain: &Domain, visitor: Visitor) -> Option<Response> {
        if let (Some(team), Domain::App { id, major }) = (&self.team, domain) {
            if !self.routes.serves(id, major) {
                return super::cluster::routes::forward(team, req, id, major, visitor).await;
            }
        }
        self.serve_here(req, local, domain, visitor).await
    }

    /// Serves `req` with a route of an app linked here; `None` when none matches.
    pub async fn serve_here(&self, req: Request, local: &str, domain: &Domain, visitor: Visitor) -> Option<Response> {
        let (route, params) = self.routes.lookup_on(local, domain)?;
        let name: Arc<str> = if route.graphql { "graphql".into() } else { route.id.as_str().into() };
        let app = route.app.to_string();
        let trace = self.journal.begin_trace(TraceKind::Request, app.as_str().into(), name.clone());
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        let started = std::time::Instant::now();
        let (req, operation) = if route.graphql { graphql_operation(req).await } else { (req, None) };
        let mut resp = self.serve_route(req, local, &route, &params, visitor, trace).await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        self.journal.end_trace(trace, elapsed_ms);
        resp.headers_mut().insert(TRACE_HEADER, trace.into());
        self.journal.request(RequestReport {
            trace,
            app,
            kind: if route.graphql { RequestKind::Graphql } else { RequestKind::Route },
            route: name.to_string(),
            method,
            path,
            operation,
            status: resp.status().as_u16(),
            elapsed_ms,
            user: visitor.user.as_str(),
        });
        Some(resp)
    }

    async fn serve_route(
        &self,
        req: Request,
        local: &str,
        route: &Route,
        params: &BTreeMap<String, String>,
        visitor: Visitor,
        trace: u64,
    ) -> Response {
        let allowed =
            route.public || visitor.reach == Reach::Private || (visitor.reach == Reach::Graphql && route.graphql);
        if !allowed {
            let message = match visitor.reach {
                Reach::Public(Some(why)) => format!("route `{}` of {}: {why}\n", route.id, route.app),
                _ => format!(
                    "route `{}` of {} is private: send the session token (Authorization: Bearer <token>)\n",
                    route.id, route.app
                ),
            };
            return (StatusCode::UNAUTHORIZED, message).into_response();
        }
        let worker = route.worker.borrow().clone();
        if !route.graphql && worker.as_ref().is_some_and(|w| !w.loaded.route_ids.contains(&route.id)) {
            let message = format!(
                "the Service of {} has no handler for route `{}` (declared in node/service.json, missing from `routes` in node/index.ts)\n",
                route.app, route.id
            );
            return (StatusCode::NOT_FOUND, message).into_response();
        }
        let Some(at) = worker.as_ref().and_then(|w| w.loaded.routes.clone()) else {
            let message = format!("{} is not running (see the link terminal)\n", route.app);
            return (StatusCode::SERVICE_UNAVAILABLE, message).into_response();
        };
        match self.proxy(req, &at, local, route, params, (visitor, trace)).await {
            Ok(resp) => resp,
            Err(e) => (StatusCode::BAD_GATEWAY, format!("{} did not answer: {e:#}\n", route.app)).into_response(),
        }
    }

    async fn proxy(
        &self,
        req: Request,
        at: &std::path::Path,
        local_path: &str,
        route: &Route,
        params: &BTreeMap<String, String>,
        (visitor, trace): (Visitor, u64),
    ) -> anyhow::Result<Response> {
        let (mut parts, body) = req.into_parts();
        let query = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
        parts.uri = format!("{local_path}{query}").parse()?;
        let h = &mut parts.headers;
        // The session's credentials stay with the session; the app gets its user's, as VTEX
        // passes them.
        self.identity.prepare(h, visitor.user, visitor.chosen);
        h.insert("x-ioctl-route-id", route.id.parse()?);
        h.insert("x-ioctl-route-params", encode_uri_component(&serde_json::to_string(params)?).parse()?);
        let kind = if route.graphql {
            "graphql"
        } else if route.public {
            "public"
        } else {
            "private"
        };
        h.insert("x-ioctl-route-type", kind.parse()?);
        h.insert("x-ioctl-request-id", next_request_id().parse()?);
        h.insert(TRACE_HEADER, trace.into());
        let request = axum::http::Request::from_parts(parts, body);
        // As on VTEX, a request longer than the service's `timeout` is cut off.
        // Time the app spends paused in the debugger does not count (`link --inspect`).
        let paused = route.worker.borrow().as_ref().and_then(|w| w.paused().cloned());
        let answer = crate::runtime::pause::timeout(paused.as_ref(), route.timeout, self.upstream.send(at, request))
            .await
            .ok_or(());
        let Ok(resp) = answer else {
            let message = format!(
                "route `{}` of {} did not answer within {} s (node/service.json `timeout`)\n",
                route.id,
                route.app,
                route.timeout.as_secs()
            );
            return Ok((StatusCode::GATEWAY_TIMEOUT, message).into_response());
        };
        let (parts, body) = resp?.into_parts();
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// Which domain a path arrived on, and the route path on it: `/{vendor}.{name}/v{major}/
/// {account}/{workspace}/rest` is an app's private domain; otherwise the store's, with an
/// optional `/{account}/{workspace}` prefix.
pub fn domain_of(path: &str, scope: &Scope) -> (Domain, String) {
    let scoped = format!("/{}/{}", scope.account, scope.workspace);
    if let Some((app, major, rest)) = crate::app::id::split_private_path(path) {
        if let Some(local) = rest.strip_prefix(&scoped).filter(|p| p.starts_with('/')) {
            return (Domain::App { id: app.to_string(), major: major.to_string() }, local.to_string());
        }
    }
    let local = path.strip_prefix(&scoped).filter(|p| p.starts_with('/')).unwrap_or(path);
    (Domain::Store, local.to_string())
}

/// GraphQL bodies the gateway reads for their operation's name (larger ones, or ones without a
/// length, go through unread and unnamed).
const OPERATION_BODY_MAX: u64 = 64 << 10;

/// A GraphQL request's operation name, for the journal: from the query string (GET) or from
/// a small JSON body (POST: `operationName`, else the name its `query` gives the operation),
/// which is read whole and handed on unchanged.
async fn graphql_operation(req: Request) -> (Request, Option<String>) {
    let query = req.uri().query().and_then(|q| {
        let pairs: BTreeMap<String, String> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        named(pairs.get("operationName").map(String::as_str), pairs.get("query").map(String::as_str))
    });
    if query.is_some() {
        return (req, query);
    }
    let length =
        req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if !length.is_some_and(|n| n > 0 && n <= OPERATION_BODY_MAX) {
        return (req, None);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, OPERATION_BODY_MAX as usize).await else {
        // Unreadable: the app would not have read it either; it answers the (now empty) body.
        return (Request::from_parts(parts, Body::empty()), None);
    };
    let operation = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| named(v.get("operationName").and_then(|o| o.as_str()), v.get("query").and_then(|q| q.as_str())));
    (Request::from_parts(parts, Body::from(bytes)), operation)
}

/// `operationName`, else the name of the query's first operation (`query Books { … }`).
fn named(operation: Option<&str>, query: Option<&str>) -> Option<String> {
    if let Some(name) = operation.filter(|o| !o.is_empty()) {
        return Some(name.to_string());
    }
    let query = query?.trim_start();
    let rest = ["query", "mutation", "subscription"].iter().find_map(|k| query.strip_prefix(k))?;
    if !rest.starts_with(char::is_whitespace) {
        return None; // `query{…}`, or a word that only starts like one
    }
    let name: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

fn next_request_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{:x}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// JavaScript's encodeURIComponent.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope { account: "local".into(), workspace: "dev".into() }
    }

    #[test]
    fn an_apps_private_domain_is_told_from_the_store() {
        let (domain, local) = domain_of("/vtex.books/v2/local/dev/_v/graphql", &scope());
        assert!(matches!(&domain, Domain::App { id, major } if id == "vtex.books" && major == "2"), "{domain:?}");
        assert_eq!(local, "/_v/graphql");
        // The store's domain, with or without the workspace prefix.
        let (domain, local) = domain_of("/local/dev/_v/ping", &scope());
        assert!(matches!(domain, Domain::Store) && local == "/_v/ping");
        let (domain, local) = domain_of("/_v/ping", &scope());
        assert!(matches!(domain, Domain::Store) && local == "/_v/ping");
    }

    #[test]
    fn any_dotted_segment_is_an_apps_domain_and_only_with_a_route_path_after_the_scope() {
        // Even one no app could have: a mistyped id answers 404 there rather than reaching a
        // store route.
        let (domain, local) = domain_of("/Not.An-App/v1/local/dev/x", &scope());
        assert!(matches!(&domain, Domain::App { id, major } if id == "Not.An-App" && major == "1"), "{domain:?}");
        assert_eq!(local, "/x");
        for path in ["/vtexbooks/v2/local/dev/x", "/vtex.books/2/local/dev/x", "/vtex.books/v2/local/dev"] {
            assert_eq!(domain_of(path, &scope()), (Domain::Store, path.to_string()), "{path}");
        }
    }

    #[test]
    fn another_workspaces_paths_are_not_this_ones() {
        let (domain, local) = domain_of("/local/other/_v/ping", &scope());
        assert!(matches!(domain, Domain::Store));
        assert_eq!(local, "/local/other/_v/ping", "not stripped: no route of this workspace matches it");
        let (domain, _) = domain_of("/vtex.books/v2/local/other/_v/graphql", &scope());
        assert!(matches!(domain, Domain::Store), "an app domain of another workspace is no app domain here");
        let (domain, _) = domain_of("/vtex.books/vX/local/dev/_v/graphql", &scope());
        assert!(matches!(domain, Domain::Store), "a major is digits");
    }

    #[test]
    fn a_graphql_operation_is_named_by_operation_name_or_by_its_query() {
        assert_eq!(named(Some("Books"), Some("query Other { a }")).as_deref(), Some("Books"));
        assert_eq!(named(None, Some("  query Books($n: Int) { a }")).as_deref(), Some("Books"));
        assert_eq!(named(Some(""), Some("mutation Save{ a }")).as_deref(), Some("Save"));
        assert_eq!(named(None, Some("{ books { title } }")), None);
        assert_eq!(named(None, Some("query { a }")), None);
        assert_eq!(named(None, Some("queryX { a }")), None);
        assert_eq!(named(None, None), None);
    }

    #[tokio::test]
    async fn a_graphql_bodys_operation_is_read_and_the_body_handed_on_unchanged() {
        let text = r#"{"query":"query Books { books }","variables":{}}"#;
        let req = axum::http::Request::post("/_v/graphql")
            .header("content-length", text.len())
            .body(Body::from(text))
            .unwrap();
        let (req, operation) = graphql_operation(req).await;
        assert_eq!(operation.as_deref(), Some("Books"));
        let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
        assert_eq!(body, text.as_bytes());
        let get = axum::http::Request::get("/_v/graphql?operationName=Q&query=%7Ba%7D").body(Body::empty()).unwrap();
        assert_eq!(graphql_operation(get).await.1.as_deref(), Some("Q"));
    }

    #[test]
    fn route_params_are_encoded_as_javascript_does() {
        assert_eq!(encode_uri_component(r#"{"id":"a b/é"}"#), "%7B%22id%22%3A%22a%20b%2F%C3%A9%22%7D");
        assert_eq!(encode_uri_component("-_.!~*'()"), "-_.!~*'()");
    }
}
