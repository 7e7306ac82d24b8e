//! Where an outbound call goes, read from its URL as VTEX routes it: which of VTEX's hosts, and
//! for which account and workspace (from the host, the `an` query parameter Janus clients add,
//! or the path of `api.vtex.com/{account}/...`). The resolver's answerers match on this.

use url::Url;

/// VTEX's hosts an app calls, as far as the boundary tells them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `app.io.vtex.com`: a VTEX IO app, `/{vendor}.{name}/v{major}/{account}/{workspace}/...`.
    AppIo,
    /// `{workspace}--{account}.myvtex.com`, or `{account}.myvtex.com` (the master workspace).
    Store { account: String, workspace: Option<String> },
    /// `{account}.vtexcommercestable.com.br` (or `vtexcommercebeta`): the account's REST APIs.
    Commerce { account: String },
    /// `portal.vtexcommercestable.com.br`: Janus, the account in the `an` parameter.
    Portal,
    /// `api.vtex.com`: `/{account}/dataentities/...`, or `/api/dataentities/...?an={account}`.
    Api,
    /// `vtexid.vtex.com.br`.
    VtexId,
    /// Any other host.
    Other,
}

/// A call's URL, parsed.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: Host,
    /// The host as written, lower case.
    pub host_name: String,
    /// The path, percent-encoded as sent (`/api/dataentities/CL/search`).
    pub path: String,
    /// The query's pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The query as sent (without `?`).
    pub raw_query: Option<String>,
}

impl Target {
    /// The URL's target; `None` when it is no absolute http(s) URL.
    pub fn parse(url: &str) -> Option<Target> {
        let url = Url::parse(url).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host_name = url.host_str()?.to_ascii_lowercase();
        let host = host_of(&host_name);
        let query = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let raw_query = url.query().map(str::to_string);
        Some(Target { host, host_name, path: url.path().to_string(), query, raw_query })
    }

    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find_map(|(k, v)| (k == name).then_some(v.as_str()))
    }

    /// The path's segments, without the empty first one.
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').skip(1).collect()
    }

    /// The account the call is for: from the host, else the `an` parameter, else (on
    /// `api.vtex.com`) the path's first segment when it is not `api`.
    pub fn account(&self) -> Option<&str> {
        match &self.host {
            Host::Store { account, .. } | Host::Commerce { account } => Some(account),
            Host::Api => self.param("an").or_else(|| self.segments().first().copied().filter(|s| *s != "api")),
            Host::Portal | Host::VtexId | Host::AppIo | Host::Other => self.param("an"),
        }
    }

    /// The workspace the host names (`{workspace}--{account}.myvtex.com`), if it names one.
    pub fn workspace(&self) -> Option<&str> {
        match &self.host {
            Host::Store { workspace, .. } => workspace.as_deref(),
            _ => None,
        }
    }

    /// Whether the call is for `account` (and, when the host names one, `workspace`): a call
    /// that names another account or workspace never reaches this workspace's data. A call
    /// that names no account (`vtexid.vtex.com.br`) is for whoever its token says.
    pub fn is_for(&self, account: &str, workspace: &str) -> bool {
        self.account().is_none_or(|a| a.eq_ignore_ascii_case(account))
            && self.workspace().is_none_or(|w| w.eq_ignore_ascii_case(workspace))
    }
}

fn host_of(name: &str) -> Host {
    if name == "app.io.vtex.com" {
        return Host::AppIo;
    }
    if name == "vtexid.vtex.com.br" {
        return Host::VtexId;
    }
    if name == "api.vtex.com" {
        return Host::Api;
    }
    if name == "portal.vtexcommercestable.com.br" || name == "portal.vtexcommercebeta.com.br" {
        return Host::Portal;
    }
    for suffix in [".vtexcommercestable.com.br", ".vtexcommercebeta.com.br"] {
        if let Some(account) = name.strip_suffix(suffix).filter(|a| !a.is_empty() && !a.contains('.')) {
            return Host::Commerce { account: account.to_string() };
        }
    }
    if let Some(label) = name.strip_suffix(".myvtex.com").filter(|a| !a.is_empty() && !a.contains('.')) {
        return match label.split_once("--") {
            Some((workspace, account)) => {
                Host::Store { account: account.to_string(), workspace: Some(workspace.to_string()) }
            }
            None => Host::Store { account: label.to_string(), workspace: None },
        };
    }
    Host::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|| panic!("{url}"))
    }

    #[test]
    fn each_vtex_host_names_its_account_where_vtex_puts_it() {
        assert_eq!(t("https://acme.vtexcommercestable.com.br/api/x").account(), Some("acme"));
        assert_eq!(t("http://acme.vtexcommercebeta.com.br/api/x").host, Host::Commerce { account: "acme".into() });
        assert_eq!(
            t("http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=acme&an=acme").account(),
            Some("acme")
        );
        assert_eq!(t("http://portal.vtexcommercestable.com.br/api/x").account(), None);
        assert_eq!(t("https://api.vtex.com/acme/dataentities/CL/search").account(), Some("acme"));
        assert_eq!(t("http://api.vtex.com/api/dataentities/CL/search?an=acme").account(), Some("acme"));
        let store = t("https://dev--acme.myvtex.com/_v/x?a=1");
        assert_eq!((store.account(), store.workspace(), store.path.as_str()), (Some("acme"), Some("dev"), "/_v/x"));
        assert_eq!(t("https://acme.myvtex.com/api/x").workspace(), None);
        assert_eq!(t("http://vtexid.vtex.com.br/api/vtexid/pub/authenticated/user?authToken=t").host, Host::VtexId);
        assert_eq!(t("http://app.io.vtex.com/vtex.search-graphql/v0/acme/dev/_v/graphql").host, Host::AppIo);
        assert_eq!(t("https://example.com/x").host, Host::Other);
        assert_eq!(t("https://a.b.myvtex.com/x").host, Host::Other, "one label before the domain");
        assert!(Target::parse("ftp://acme.myvtex.com/x").is_none());
        assert!(Target::parse("/relative").is_none());
    }

    #[test]
    fn another_account_or_workspace_is_not_this_one() {
        assert!(t("https://acme.vtexcommercestable.com.br/api/x").is_for("acme", "dev"));
        assert!(!t("https://other.vtexcommercestable.com.br/api/x").is_for("acme", "dev"));
        assert!(!t("https://api.vtex.com/other/dataentities/CL/search").is_for("acme", "dev"));
        assert!(!t("https://prod--acme.myvtex.com/x").is_for("acme", "dev"));
        assert!(t("https://DEV--Acme.myvtex.com/x").is_for("acme", "dev"), "host names are case-insensitive");
        assert!(t("http://vtexid.vtex.com.br/api/vtexid/credential/validate").is_for("acme", "dev"));
        assert_eq!(t("https://x.io/p?q=a%20b&q=c").query, [("q".into(), "a b".into()), ("q".into(), "c".into())]);
    }
}
