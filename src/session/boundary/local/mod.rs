//! ioctl's local versions of VTEX's platform services, reached by URL as VTEX's own clients
//! and the apps' own HTTP reach them: Master Data v2 (on the workspace's store), VTEX ID,
//! License Manager's resource checks, tenant, segment and session (from the users and the workspace's platform settings). Each
//! service has its file, which lists the paths it answers. A call for another account or
//! workspace than the app's is none of theirs (it goes on to fixtures, the cloud, or missing).

pub mod license_manager;
pub mod masterdata;
pub mod segment;
pub mod session;
pub mod tenant;
pub mod vtexid;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::target::Target;
use crate::protocol::Scope;
use crate::runtime::outbound::{Answer, Outbound, Source};
use crate::session::identity::Identity;
use crate::store::Store;

/// One call as the local services see it.
pub struct Call<'a> {
    pub outbound: &'a Outbound,
    /// Upper case.
    pub method: String,
    pub target: &'a Target,
    pub identity: &'a Identity,
    pub scope: &'a Scope,
}

impl Call<'_> {
    /// A request header (names are lower case on the wire).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.outbound.headers.get(name).map(String::as_str)
    }

    /// The body as JSON, when it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        self.outbound.body.as_deref().and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// An answer of a local service: `value` as JSON.
pub fn json_answer(status: u16, value: &Value) -> Answer {
    with_headers(status, Some(value.to_string().into_bytes()), &[])
}

/// An answer with a body (JSON when present) and extra headers.
pub fn with_headers(status: u16, body: Option<Vec<u8>>, extra: &[(&str, String)]) -> Answer {
    let mut headers = BTreeMap::new();
    if body.is_some() {
        headers.insert("content-type".to_string(), "application/json; charset=utf-8".to_string());
    }
    for (name, value) in extra {
        headers.insert(name.to_string(), value.clone());
    }
    Answer { status, headers, body, source: Source::Local, message: None }
}

/// The local services of one session.
#[derive(Clone)]
pub struct Local {
    pub scope: Scope,
    pub identity: Arc<Identity>,
    pub store: Arc<Store>,
}

impl Local {
    /// The answer of the local service the call is for; `None` when none is.
    pub async fn answer(&self, outbound: &Outbound, target: &Target) -> Option<Answer> {
        if !target.is_for(&self.scope.account, &self.scope.workspace) {
            return None;
        }
        let call = Call {
            outbound,
            method: outbound.method.to_ascii_uppercase(),
            target,
            identity: &self.identity,
            scope: &self.scope,
        };
        if let Some(a) = vtexid::answer(&call)
            .or_else(|| license_manager::answer(&call))
            .or_else(|| tenant::answer(&call))
            .or_else(|| segment::answer(&call))
            .or_else(|| session::answer(&call))
        {
            return Some(a);
        }
        let request = masterdata::Request::of(&call)?;
        // Master Data is SQLite: on a blocking thread.
        let store = self.store.clone();
        let answered = tokio::task::spawn_blocking(move || request.run(&store)).await;
        Some(answered.unwrap_or_else(|e| {
            json_answer(500, &serde_json::json!({"Message": format!("Master Data call failed: {e}")}))
        }))
    }
}

/// Whether the call reaches VTEX's Janus (the portal or the account's own hosts), where the
/// account's REST APIs (`/api/...`) answer.
pub fn on_account_api(target: &Target) -> bool {
    use super::target::Host;
    matches!(target.host, Host::Portal | Host::Commerce { .. } | Host::Store { .. })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::platform::Settings;

    /// The local services of account `acme`, workspace `dev`, on a store in `home`.
    pub fn local(home: &std::path::Path) -> Local {
        let scope = Scope { account: "acme".into(), workspace: "dev".into() };
        let identity = Identity::new(scope.clone(), "c0ntrol".into(), Settings::defaults("acme")).unwrap();
        let store = Store::new(crate::store::Location::new(home, "acme", "dev"));
        Local { scope, identity: Arc::new(identity), store: Arc::new(store) }
    }

    pub fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Outbound {
        Outbound {
            via: "axios".into(),
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.map(|b| b.as_bytes().to_vec()),
            app: None,
        }
    }

    /// (status, JSON body) of the local answer to a call; panics when nothing local answers.
    pub async fn ask(local: &Local, outbound: Outbound) -> (u16, Value, Answer) {
        let target = Target::parse(&outbound.url).unwrap();
        let a = local.answer(&outbound, &target).await.unwrap_or_else(|| panic!("no local answer to {outbound:?}"));
        let body = a.body.as_deref().map(|b| serde_json::from_slice(b).unwrap_or(Value::Null)).unwrap_or(Value::Null);
        (a.status, body, a)
    }

    #[tokio::test]
    async fn another_accounts_call_is_not_answered_locally() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        for url in [
            "http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=other&an=other",
            "https://other.vtexcommercestable.com.br/api/dataentities/CL/search",
            "https://api.vtex.com/other/dataentities/CL/search",
            "https://prod--acme.myvtex.com/api/sessions",
            "https://example.com/api/dataentities/CL/search",
        ] {
            let c = call("GET", url, &[], None);
            assert!(l.answer(&c, &Target::parse(url).unwrap()).await.is_none(), "{url}");
        }
        assert!(!l.store.workspace_stored(), "nothing was opened for them");
    }
}
