//! The boundary every outbound call of a linked app crosses. The first of these answers it:
//! 1. an app linked in the workspace (`linked`: `app.io.vtex.com/{app}/...` to that app, the
//!    workspace's store domain to its public routes);
//! 2. one of ioctl's local services (`local`: Master Data by URL, VTEX ID, tenant, segment,
//!    session) for the app's own account;
//! 3. the [`Answerer`]s the link was given, in order (fixtures, then the developer's account);
//! 4. else it fails as VTEX fails a call it cannot answer: a `missing` 501 whose message names
//!    the call, says it goes to VTEX's cloud, and how to answer it ([`missing`]).
//!
//! Each answered call is logged (`calls`): a line in the app's link log, a record on the
//! session's calls feed.

pub mod calls;
pub mod linked;
pub mod local;
pub mod target;

pub mod call;
pub mod cloud;
pub mod fixtures;
pub mod record;
pub mod setup;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::protocol::Scope;
pub use crate::runtime::outbound::{Answer, Outbound, Source};
use crate::session::gateway::Gateway;
use target::Target;

/// One way of answering outbound calls (a set of fixtures, the developer's account): `None`
/// when it does not answer this call, so the next one is asked.
pub trait Answerer: Send + Sync {
    fn answer<'a>(&'a self, call: &'a Outbound) -> Pin<Box<dyn Future<Output = Option<Answer>> + Send + 'a>>;
}

/// One linked app's boundary.
pub struct Boundary {
    scope: Scope,
    gateway: Gateway,
    local: local::Local,
    /// Asked in order after the local services: fixtures, then the cloud.
    answerers: Vec<Arc<dyn Answerer>>,
    /// The link's first fixtures folder, where a missing call's message says to write its
    /// fixture (else `fixtures/`, with how to link with it).
    fixtures_dir: Option<std::path::PathBuf>,
    log: calls::Log,
}

impl Boundary {
    pub fn new(scope: Scope, gateway: Gateway, local: local::Local, log: calls::Log) -> Boundary {
        Boundary { scope, gateway, local, answerers: Vec::new(), fixtures_dir: None, log }
    }

    /// The same boundary asking `answerers`, in order, what neither a linked app nor a local
    /// service answers.
    pub fn with_answerers(mut self, answerers: Vec<Arc<dyn Answerer>>) -> Boundary {
        self.answerers = answerers;
        self
    }

    /// The link's fixtures folder (`--fixtures`), which a missing call's message names.
    pub fn with_fixtures_dir(mut self, dir: Option<std::path::PathBuf>) -> Boundary {
        self.fixtures_dir = dir;
        self
    }

    /// Answers one call, and logs it.
    pub async fn answer(&self, call: &Outbound) -> Answer {
        let started = Instant::now();
        let answer = self.resolve(call).await;
        self.log.record(call, &answer, started.elapsed());
        answer
    }

    async fn resolve(&self, call: &Outbound) -> Answer {
        if let Some(target) = Target::parse(&call.url) {
            if let Some(a) = linked::answer(&self.gateway, call, &target).await {
                return a;
            }
            if let Some(a) = self.local.answer(call, &target).await {
                return a;
            }
        }
        for answerer in &self.answerers {
            if let Some(a) = answerer.answer(call).await {
                return a;
            }
        }
        missing(call, &self.scope, self.fixtures_dir.as_deref())
    }
}

/// The answer to a call nothing answers: a 501 (VTEX's "not implemented") whose message, also
/// the body's `message`, names the call and says how to answer it.
pub fn missing(call: &Outbound, scope: &Scope, fixtures_dir: Option<&std::path::Path>) -> Answer {
    let message = missing_message(call, scope, fixtures_dir);
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("content-type".to_string(), "application/json; charset=utf-8".to_string());
    Answer {
        status: 501,
        headers,
        body: Some(json!({ "message": message }).to_string().into_bytes()),
        source: Source::Missing,
        message: Some(message),
    }
}

/// What a missing call's message says: the call (its client method and METHOD URL), that it
/// goes to VTEX's cloud, a fixture to create (its path and an entry to paste: in the link's
/// fixtures folder, which it reads at once, else in `fixtures/`, to link with), or `--cloud`.
pub fn missing_message(call: &Outbound, scope: &Scope, fixtures_dir: Option<&std::path::Path>) -> String {
    let method = call.method.to_ascii_uppercase();
    let what = if call.via.is_empty() || call.via == method {
        format!("{method} {}", call.url)
    } else {
        format!("{} ({method} {})", call.via, call.url)
    };
    let (path, entry) = fixture_skeleton(call, scope);
    let entry = serde_json::to_string_pretty(&entry).unwrap_or_default().replace('\n', "\n    ");
    let (file, then) = match fixtures_dir {
        Some(dir) => (dir.join(&path).display().to_string(), "the link reads it at once".to_string()),
        None => (format!("fixtures/{path}"), "then link with `ioctl link --fixtures fixtures`".to_string()),
    };
    format!(
        "{what} goes to VTEX's cloud, which ioctl does not reach: nothing linked or local answers it.\n\
         Answer it with a fixture: create {file} holding\n    {entry}\n\
         (edit the response); {then}; \
         or answer it from your own account with `ioctl link --cloud ACCOUNT`."
    )
}

/// A fixture file for `call`: where to write it (under the fixtures folder) and the entry to
/// paste, the account and workspace written as `{account}` / `{workspace}`.
pub fn fixture_skeleton(call: &Outbound, scope: &Scope) -> (String, Value) {
    let templated = templated_url(&call.url, scope);
    let target = Target::parse(&call.url);
    let response = json!({ "status": 200, "body": {} });
    if let (Some(app), Some(t)) = (call.app.as_deref(), target.as_ref()) {
        let (_, local) = crate::session::gateway::domain_of(&t.path, scope);
        let name = crate::app::id::unversioned(app).to_string();
        if let Some(operation) = graphql_operation(call) {
            let graphql = json!({ "operationName": operation, "variables": {} });
            let path = format!("app.io.vtex.com/{name}/{}.json", file_part(&operation));
            return (path, json!({ "request": { "app": app, "graphql": graphql }, "response": response }));
        }
        let path = format!("app.io.vtex.com/{name}/{}.json", file_part(&local));
        let request = json!({ "app": app, "method": call.method.to_ascii_uppercase(), "path": local });
        return (path, json!({ "request": request, "response": response }));
    }
    let host = target.as_ref().map_or("unknown-host".to_string(), |t| t.host_name.clone());
    let path_part = target.as_ref().map_or(String::new(), |t| t.path.clone());
    let file = format!("{}/{}.json", file_part(&templated_host(&host, scope)), file_part(&path_part));
    let request = json!({ "method": call.method.to_ascii_uppercase(), "url": templated });
    (file, json!({ "request": request, "response": response }))
}

/// A GraphQL call's operation: the body's `operationName`, else the first operation's name in
/// its query, else `query`.
fn graphql_operation(call: &Outbound) -> Option<String> {
    let body: Value = serde_json::from_slice(call.body.as_deref()?).ok()?;
    let query = body.get("query")?.as_str()?;
    if let Some(name) = body.get("operationName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    let mut words = query.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty());
    while let Some(w) = words.next() {
        if matches!(w, "query" | "mutation" | "subscription") {
            return Some(words.next().unwrap_or(w).to_string());
        }
    }
    Some("query".to_string())
}

/// A name fit for a file: letters, digits, `.`, `_`, `-` (others become `-`), at most 80.
fn file_part(text: &str) -> String {
    let cleaned: String = text
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '{' | '}') { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    let cut: String = cleaned.chars().take(80).collect();
    if cut.is_empty() {
        "index".to_string()
    } else {
        cut
    }
}

fn templated_host(host: &str, scope: &Scope) -> String {
    let mut labels: Vec<String> = host.split('.').map(str::to_string).collect();
    if let Some(first) = labels.first_mut() {
        let replaced = match first.split_once("--") {
            Some((ws, acc))
                if ws.eq_ignore_ascii_case(&scope.workspace) && acc.eq_ignore_ascii_case(&scope.account) =>
            {
                Some("{workspace}--{account}".to_string())
            }
            Some((ws, acc)) if acc.eq_ignore_ascii_case(&scope.account) => Some(format!("{ws}--{{account}}")),
            _ if first.eq_ignore_ascii_case(&scope.account) => Some("{account}".to_string()),
            _ => None,
        };
        if let Some(r) = replaced {
            *first = r;
        }
    }
    labels.join(".")
}

/// The URL with the account (a host label, a path segment, `an=`) and the workspace (a path
/// segment after the account) written `{account}` / `{workspace}`, as fixtures match them.
pub fn templated_url(url: &str, scope: &Scope) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return url.to_string() };
    let host = parsed.host_str().map(|h| templated_host(h, scope));
    let segments: Vec<String> = parsed
        .path()
        .split('/')
        .map(|s| if s.eq_ignore_ascii_case(&scope.account) { "{account}".to_string() } else { s.to_string() })
        .collect();
    let mut path = segments.join("/");
    let account_then_ws = format!("{{account}}/{}/", scope.workspace);
    if let Some(at) = path.find(&account_then_ws) {
        path.replace_range(at..at + account_then_ws.len(), "{account}/{workspace}/");
    }
    let query: Option<String> = parsed.query().map(|_| {
        parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if v.eq_ignore_ascii_case(&scope.account) { "{account}".to_string() } else { v.into_owned() };
                if v.is_empty() {
                    k.into_owned()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    parsed.set_query(None);
    parsed.set_path("");
    let base = parsed.to_string();
    let base = base.trim_end_matches('/');
    let base = match (host, parsed.host_str()) {
        (Some(t), Some(h)) => base.replacen(h, &t, 1),
        _ => base.to_string(),
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{base}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::identity::Identity;
    use crate::store::platform::Settings;
    use crate::terminal::Terminal;

    fn scope() -> Scope {
        Scope { account: "acme".into(), workspace: "dev".into() }
    }

    fn call(via: &str, method: &str, url: &str, app: Option<&str>, body: Option<&str>) -> Outbound {
        Outbound {
            via: via.into(),
            method: method.into(),
            url: url.into(),
            headers: Default::default(),
            body: body.map(|b| b.as_bytes().to_vec()),
            app: app.map(String::from),
        }
    }

    /// An answerer that answers what its URL prefix matches, saying so.
    struct Fixed(&'static str, Source);

    impl Answerer for Fixed {
        fn answer<'a>(&'a self, call: &'a Outbound) -> Pin<Box<dyn Future<Output = Option<Answer>> + Send + 'a>> {
            Box::pin(async move {
                call.url.starts_with(self.0).then(|| Answer {
                    status: 200,
                    headers: Default::default(),
                    body: Some(format!("{:?}", self.1).into_bytes()),
                    source: self.1,
                    message: None,
                })
            })
        }
    }

    fn boundary(
        home: &std::path::Path,
    ) -> (Boundary, Arc<calls::Feed>, tokio::sync::mpsc::Receiver<crate::terminal::Output>) {
        let identity = Arc::new(Identity::new(scope(), "c0ntrol".into(), Settings::defaults("acme")).unwrap());
        let store = Arc::new(crate::store::Store::new(crate::store::Location::new(home, "acme", "dev")));
        let routes = Arc::new(crate::session::routes::Table::default());
        let gateway = Gateway::new(scope(), routes, Default::default(), identity.clone());
        let local = local::Local { scope: scope(), identity, store };
        let feed = Arc::new(calls::Feed::default());
        let (terminal, out) = Terminal::channel();
        let log = calls::Log::new("acme.app@1.0.0".into(), terminal, feed.clone());
        (Boundary::new(scope(), gateway, local, log), feed, out)
    }

    #[tokio::test]
    async fn local_services_come_before_the_answerers_and_fixtures_before_the_cloud() {
        let home = tempfile::tempdir().unwrap();
        let (b, feed, _out) = boundary(home.path());
        let b = b.with_answerers(vec![
            Arc::new(Fixed("https://acme.vtexcommercestable.com.br/api/", Source::Fixture)),
            Arc::new(Fixed("https://", Source::Cloud)),
        ]);
        let tenant = call(
            "ctx.clients.tenant.info",
            "GET",
            "https://acme.vtexcommercestable.com.br/api/tenant/tenants?q=acme",
            None,
            None,
        );
        assert_eq!(b.answer(&tenant).await.source, Source::Local, "a local service answers before any fixture");
        let catalog = call("axios", "GET", "https://acme.vtexcommercestable.com.br/api/catalog/pvt/sku/1", None, None);
        assert_eq!(b.answer(&catalog).await.source, Source::Fixture);
        let other =
            call("axios", "GET", "https://other.vtexcommercestable.com.br/api/tenant/tenants?q=other", None, None);
        assert_eq!(b.answer(&other).await.source, Source::Cloud, "another account's tenant is not local");
        let unanswered =
            call("axios", "GET", "http://portal.vtexcommercestable.com.br/api/oms/pvt/orders?an=acme", None, None);
        let a = b.answer(&unanswered).await;
        assert_eq!((a.source, a.status), (Source::Missing, 501));
        assert_eq!(feed.total(), 4, "every call is logged");
    }

    /// A route of `app` (not running: its gateway answers 503 saying so, no Node needed).
    fn route(app: &str, id: &str, path: &str, public: bool) -> crate::session::routes::Route {
        crate::session::routes::Route {
            app: crate::app::AppId::parse(app).unwrap(),
            id: id.into(),
            public,
            pattern: crate::app::route::Pattern::parse(path).unwrap(),
            timeout: std::time::Duration::from_secs(1),
            worker: tokio::sync::watch::channel(None).1,
            graphql: path == "/_v/graphql",
        }
    }

    #[tokio::test]
    async fn a_linked_app_answers_first_on_its_domain_and_the_workspaces_store_domain() {
        let home = tempfile::tempdir().unwrap();
        let (b, _, _) = boundary(home.path());
        let app = "vendor.app@1.2.0";
        b.gateway.routes_for_tests().set(
            app,
            vec![
                route(app, "/vendor.app/v1/acme/dev/_v/graphql", "/_v/graphql", false),
                route(app, "hi", "/_v/hi", true),
            ],
        );
        let linked = |url: &str, app: Option<&str>| call("AppGraphQLClient", "POST", url, app, Some("{}"));
        let a =
            b.answer(&linked("http://app.io.vtex.com/vendor.app/v1/acme/dev/_v/graphql", Some("vendor.app@1.x"))).await;
        assert_eq!((a.source, a.status), (Source::Linked, 503), "{:?}", a.body.map(String::from_utf8));
        let a = b.answer(&call("axios", "GET", "https://dev--acme.myvtex.com/_v/hi", None, None)).await;
        assert_eq!((a.source, a.status), (Source::Linked, 503), "the store domain reaches its public routes");
        // Not linked at that major, or another workspace's: not this workspace's app.
        for url in [
            "http://app.io.vtex.com/vendor.app/v2/acme/dev/_v/graphql",
            "http://app.io.vtex.com/vendor.app/v1/acme/prod/_v/graphql",
            "http://app.io.vtex.com/vendor.app/v1/other/dev/_v/graphql",
        ] {
            assert_eq!(b.answer(&linked(url, Some("vendor.app@2.x"))).await.source, Source::Missing, "{url}");
        }
        assert_eq!(
            b.answer(&call("axios", "GET", "https://prod--acme.myvtex.com/_v/hi", None, None)).await.source,
            Source::Missing
        );
        // A store-domain path no route of the workspace serves goes on to the local services.
        let session = call(
            "ctx.clients.session.getSession",
            "GET",
            "https://dev--acme.myvtex.com/api/sessions?items=*",
            None,
            None,
        );
        assert_eq!(b.answer(&session).await.source, Source::Local);
    }

    #[tokio::test]
    async fn an_unlinked_app_is_missing_with_a_fixture_to_paste() {
        let home = tempfile::tempdir().unwrap();
        let (b, _, _) = boundary(home.path());
        let body = r#"{"query":"query Products($term: String) { products(term: $term) { id } }","variables":{}}"#;
        let gql = call(
            "SearchGraphQL.products",
            "POST",
            "http://app.io.vtex.com/vtex.search-graphql/v0/acme/dev/_v/graphql",
            Some("vtex.search-graphql@0.x"),
            Some(body),
        );
        let a = b.answer(&gql).await;
        assert_eq!((a.status, a.source), (501, Source::Missing));
        let m = a.message.unwrap();
        assert!(m.starts_with("SearchGraphQL.products (POST http://app.io.vtex.com/vtex.search-graphql/v0/acme/dev/_v/graphql) goes to VTEX's cloud"), "{m}");
        assert!(m.contains("create fixtures/app.io.vtex.com/vtex.search-graphql/Products.json"), "{m}");
        assert!(
            m.contains(r#""app": "vtex.search-graphql@0.x""#) && m.contains(r#""operationName": "Products""#),
            "{m}"
        );
        assert!(m.contains("`ioctl link --fixtures fixtures`") && m.contains("`ioctl link --cloud ACCOUNT`"), "{m}");
        let body: Value = serde_json::from_slice(&a.body.unwrap()).unwrap();
        assert!(body["message"].as_str().unwrap().starts_with("SearchGraphQL.products"));

        // Linked with --fixtures: the file goes in that folder, which the link reads at once.
        let b = b.with_fixtures_dir(Some(home.path().join("fx")));
        let m = b.answer(&gql).await.message.unwrap();
        let file = home.path().join("fx/app.io.vtex.com/vtex.search-graphql/Products.json");
        assert!(m.contains(&format!("create {} holding", file.display())), "{m}");
        assert!(
            m.contains("(edit the response); the link reads it at once;") && !m.contains("--fixtures fixtures"),
            "{m}"
        );
    }

    #[test]
    fn a_rest_calls_skeleton_has_the_account_templated() {
        let c = call(
            "axios",
            "get",
            "https://acme.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/7?an=acme&x=1",
            None,
            None,
        );
        let (path, entry) = fixture_skeleton(&c, &scope());
        assert_eq!(path, "{account}.vtexcommercestable.com.br/api-catalog_system-pvt-sku-stockkeepingunitbyid-7.json");
        assert_eq!(
            entry["request"],
            json!({"method": "GET", "url": "https://{account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/7?an={account}&x=1"})
        );
        assert_eq!(entry["response"]["status"], 200);
        assert_eq!(
            templated_url("https://api.vtex.com/acme/dataentities/CL/search", &scope()),
            "https://api.vtex.com/{account}/dataentities/CL/search"
        );
        assert_eq!(
            templated_url("https://dev--acme.myvtex.com/_v/x", &scope()),
            "https://{workspace}--{account}.myvtex.com/_v/x"
        );
        assert_eq!(
            templated_url("http://app.io.vtex.com/v.a/v1/acme/dev/x", &scope()),
            "http://app.io.vtex.com/v.a/v1/{account}/{workspace}/x"
        );
        let app = call(
            "Mine.get",
            "GET",
            "http://app.io.vtex.com/vendor.app/v1/acme/dev/items/3",
            Some("vendor.app@1.x"),
            None,
        );
        let (path, entry) = fixture_skeleton(&app, &scope());
        assert_eq!(path, "app.io.vtex.com/vendor.app/items-3.json");
        assert_eq!(entry["request"], json!({"app": "vendor.app@1.x", "method": "GET", "path": "/items/3"}));
    }
}
