//! License Manager's resource check for the session's local users, on the portal (Janus) and
//! the account's hosts: the admin check apps make before an admin-only action.
//! - `GET /api/license-manager/resources/{resourceKey}/access` with the user's token as the
//!   `VtexIdclientAutCookie` header (@vtex/api's `LicenseManager.canAccessResource`, which reads
//!   any 2xx as "granted" and anything else as "not"): 200 for the local admin — locally the
//!   admin holds every resource — and 403 for the shopper or any other token.
//! - `GET /api/license-manager/pvt/accounts/{accountId}/products/{productCode}/logins/{email}/resources/{resourceCode}/granted`
//!   (the v1 check b2b apps make with the app's token): `true` when `email` is the local
//!   admin's, else `false` (VTEX answers the boolean as JSON).

use serde_json::Value;

use super::{json_answer, with_headers, Call};
use crate::runtime::outbound::Answer;
use crate::session::identity::{User, AUTH_COOKIE};

const PREFIX: &str = "/api/license-manager/";

pub fn answer(call: &Call) -> Option<Answer> {
    if !super::on_account_api(call.target) || call.method != "GET" {
        return None;
    }
    let path = call.target.path.trim_end_matches('/').strip_prefix(PREFIX)?;
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["resources", _resource, "access"] => Some(resource_access(call)),
        ["pvt", "accounts", _, "products", _, "logins", email, "resources", _, "granted"] => {
            let email = super::super::call::percent_decode(email);
            let admin = call.identity.users().who(User::Admin).map(|(_, e)| e.to_string());
            Some(json_answer(200, &Value::Bool(admin.is_some_and(|a| a.eq_ignore_ascii_case(&email)))))
        }
        _ => None,
    }
}

fn resource_access(call: &Call) -> Answer {
    let from_cookie = call.header("cookie").and_then(|c| {
        c.split(';').filter_map(|p| p.trim().split_once('=')).find(|(k, _)| *k == AUTH_COOKIE).map(|(_, v)| v)
    });
    let token = call.header(&AUTH_COOKIE.to_ascii_lowercase()).or(from_cookie);
    match token.and_then(|t| call.identity.user_of_token(t)) {
        Some(User::Admin) => with_headers(200, None, &[]),
        _ => json_answer(403, &serde_json::json!({ "message": "The user does not have access to this resource" })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ask, call, local};
    use super::*;

    #[tokio::test]
    async fn only_the_local_admin_can_access_a_resource() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let admin = l.identity.admin_token().to_string();
        let shopper = l.identity.shopper_token().to_string();
        for url in [
            "http://portal.vtexcommercestable.com.br/api/license-manager/resources/b2b-organizations-edit/access?an=acme",
            "https://acme.vtexcommercestable.com.br/api/license-manager/resources/b2b-organizations-edit/access",
        ] {
            assert_eq!(ask(&l, call("GET", url, &[("vtexidclientautcookie", &admin)], None)).await.0, 200, "{url}");
            let cookie = format!("{AUTH_COOKIE}={admin}");
            assert_eq!(ask(&l, call("GET", url, &[("cookie", &cookie)], None)).await.0, 200, "{url}");
            assert_eq!(ask(&l, call("GET", url, &[("vtexidclientautcookie", &shopper)], None)).await.0, 403);
            assert_eq!(ask(&l, call("GET", url, &[("vtexidclientautcookie", "c0ntrol")], None)).await.0, 403);
            assert_eq!(ask(&l, call("GET", url, &[], None)).await.0, 403);
        }
    }

    #[tokio::test]
    async fn the_v1_grant_check_is_true_for_the_local_admins_email() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let url = |email: &str| {
            format!("https://acme.vtexcommercestable.com.br/api/license-manager/pvt/accounts/acme/products/97/logins/{email}/resources/Edit%20B2B/granted")
        };
        assert_eq!(ask(&l, call("GET", &url("dev%40local"), &[], None)).await.1, Value::Bool(true));
        assert_eq!(ask(&l, call("GET", &url("DEV@local"), &[], None)).await.1, Value::Bool(true));
        assert_eq!(ask(&l, call("GET", &url("shopper@local"), &[], None)).await.1, Value::Bool(false));
        let other = "https://acme.vtexcommercestable.com.br/api/license-manager/account";
        let target = crate::session::boundary::target::Target::parse(other).unwrap();
        assert!(l.answer(&call("GET", other, &[], None), &target).await.is_none(), "not answered: a fixture may");
    }
}
