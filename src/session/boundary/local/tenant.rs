//! The tenant service (`ctx.clients.tenant.info()`, @vtex/api 6.51.3's `TenantClient`, a
//! JanusClient): `GET /api/tenant/tenants?q={account}` on portal.vtexcommercestable.com.br
//! (with `an={account}`) or the account's hosts. It answers the `Tenant` of @vtex/api's typings
//! (`id`, `slug`, `title`, `edition`, `infra`, `bindings`, `defaultCurrency`, `defaultLocale`,
//! `metadata`) with one binding made of the workspace's platform settings.

use serde_json::{json, Value};

use super::{json_answer, on_account_api, Call};
use crate::runtime::outbound::Answer;
use crate::store::platform::Settings;

/// The tenant of `account` with the workspace's settings.
pub fn tenant(account: &str, s: &Settings) -> Value {
    let binding_id = {
        let h = crate::stable_hash::fnv1a(&["ioctl binding", account, &s.binding_host]);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&h.to_be_bytes());
        bytes[8..].copy_from_slice(&h.rotate_left(29).to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    };
    json!({
        "id": account,
        "slug": account,
        "title": s.store_name,
        "edition": "vtex.edition-store@3.x",
        "infra": "VTEXCommerceStable",
        "bindings": [{
            "id": binding_id,
            "canonicalBaseAddress": s.binding_host,
            "alternateBaseAddresses": [],
            "defaultLocale": s.locale,
            "supportedLocales": [s.locale],
            "defaultCurrency": s.currency,
            "supportedCurrencies": [s.currency],
            // (inferred) a store binding names its trade policy here.
            "extraContext": { "portal": { "salesChannel": s.trade_policy.to_string() } },
            "targetProduct": "vtex-storefront",
        }],
        "defaultCurrency": s.currency,
        "defaultLocale": s.locale,
        "metadata": {},
    })
}

pub fn answer(call: &Call) -> Option<Answer> {
    if call.method != "GET" || !on_account_api(call.target) {
        return None;
    }
    if call.target.path.trim_end_matches('/') != "/api/tenant/tenants" {
        return None;
    }
    let account = &call.scope.account;
    // `q` names the tenant: another account's is none of this workspace's.
    if call.target.param("q").is_some_and(|q| !q.eq_ignore_ascii_case(account)) {
        return None;
    }
    Some(json_answer(200, &tenant(account, &call.identity.users().settings)))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ask, call, local};

    #[tokio::test]
    async fn the_tenant_has_one_binding_of_the_workspaces_settings() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let url = "http://portal.vtexcommercestable.com.br/api/tenant/tenants?q=acme&an=acme";
        let (status, v, _) = ask(&l, call("GET", url, &[], None)).await;
        assert_eq!(status, 200);
        assert_eq!(
            (v["id"].as_str(), v["title"].as_str(), v["defaultLocale"].as_str()),
            (Some("acme"), Some("acme"), Some("en-US"))
        );
        let b = &v["bindings"][0];
        assert_eq!(b["canonicalBaseAddress"], "acme.myvtex.com");
        assert_eq!((b["defaultCurrency"].as_str(), b["supportedLocales"][0].as_str()), (Some("USD"), Some("en-US")));
        assert_eq!(v["bindings"].as_array().unwrap().len(), 1);
        let mut s = l.identity.users().settings.clone();
        s.locale = "pt-BR".into();
        s.store_name = "Loja".into();
        l.identity.set_settings(s);
        let (_, v, _) =
            ask(&l, call("GET", "https://acme.vtexcommercestable.com.br/api/tenant/tenants?q=acme", &[], None)).await;
        assert_eq!((v["title"].as_str(), v["bindings"][0]["defaultLocale"].as_str()), (Some("Loja"), Some("pt-BR")));
    }
}
