//! VTEX ID for the session's local users, on vtexid.vtex.com.br, the portal (Janus) and the
//! account's hosts ({account}.vtexcommercestable.com.br, {account}.myvtex.com):
//! - `POST /api/vtexid/credential/validate` `{"token": T}`: for a local user's token, 200
//!   `{authStatus: "Success", id, user (the email), account, audience, tokenType: "user"}` (the
//!   shape of VTEX's guide "Checking authenticated users"; `audience` is `admin` for the
//!   admin, `webstore` for the shopper); any other token is a 401, as VTEX answers a user who
//!   is not authenticated.
//! - `GET /api/vtexid/pub/authenticated/user?authToken=T` (or the token as the
//!   `VtexIdclientAutCookie` header or cookie): `{userId, user, userType, account}`, or `null`
//!   for an unknown token (VTEX answers 200 with `null`: the toolbelt and @vtex/api's own @auth
//!   test the body for null). `account` is there because @vtex/api's @auth compares it with
//!   the request's account; `userType` "F" is what VTEX answers for a person (not documented).
//! - `POST /api/vtexid/apptoken/login` `{"appkey": K, "apptoken": T}` (apps that log in with a
//!   key pair kept in their settings): 200 `{authStatus: "Success", token, expires}` (VTEX's
//!   documented shape, `expires` in seconds since the epoch, 24 h ahead) with the local admin's
//!   token. Locally no pair is checked: there is no account to hold keys, and the admin is the
//!   user a key pair's roles stand for. A body without both is 401 `WrongCredentials`.

use serde_json::{json, Value};

use super::{json_answer, Call};
use crate::runtime::outbound::Answer;
use crate::session::boundary::target::Host;
use crate::session::identity::{User, AUTH_COOKIE};

const VALIDATE: &str = "/api/vtexid/credential/validate";
const AUTHENTICATED_USER: &str = "/api/vtexid/pub/authenticated/user";
const APPTOKEN_LOGIN: &str = "/api/vtexid/apptoken/login";
/// How long VTEX ID's tokens last.
const TOKEN_LIFE_S: u64 = 24 * 60 * 60;

pub fn answer(call: &Call) -> Option<Answer> {
    let on_vtexid = matches!(call.target.host, Host::VtexId) || super::on_account_api(call.target);
    if !on_vtexid {
        return None;
    }
    match (call.method.as_str(), call.target.path.trim_end_matches('/')) {
        ("POST", VALIDATE) => Some(validate(call)),
        ("GET", AUTHENTICATED_USER) => Some(authenticated_user(call)),
        ("POST", APPTOKEN_LOGIN) => Some(apptoken_login(call)),
        _ => None,
    }
}

fn validate(call: &Call) -> Answer {
    let token = call.json_body().and_then(|b| b.get("token").and_then(Value::as_str).map(str::to_string));
    let user = token.as_deref().and_then(|t| call.identity.user_of_token(t));
    let users = call.identity.users();
    match user.and_then(|u| users.who(u).map(|who| (u, who))) {
        Some((user, (id, email))) => json_answer(
            200,
            &json!({
                "authStatus": "Success",
                "id": id,
                "user": email,
                "account": call.scope.account,
                "audience": if user == User::Admin { "admin" } else { "webstore" },
                "tokenType": "user",
            }),
        ),
        None => json_answer(401, &json!({ "authStatus": "InvalidToken", "id": null, "user": null })),
    }
}

fn apptoken_login(call: &Call) -> Answer {
    let body = call.json_body().unwrap_or_default();
    let given = |name: &str| body.get(name).and_then(Value::as_str).is_some_and(|v| !v.trim().is_empty());
    if !(given("appkey") && given("apptoken")) {
        return json_answer(401, &json!({ "authStatus": "WrongCredentials", "token": null, "expires": 0 }));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let token = call.identity.admin_token();
    json_answer(200, &json!({ "authStatus": "Success", "token": token, "expires": now + TOKEN_LIFE_S }))
}

fn authenticated_user(call: &Call) -> Answer {
    let from_cookie = call.header("cookie").and_then(|c| {
        c.split(';').filter_map(|p| p.trim().split_once('=')).find(|(k, _)| *k == AUTH_COOKIE).map(|(_, v)| v)
    });
    let token =
        call.target.param("authToken").or_else(|| call.header(&AUTH_COOKIE.to_ascii_lowercase())).or(from_cookie);
    let users = call.identity.users();
    let who = token.and_then(|t| call.identity.user_of_token(t)).and_then(|u| users.who(u));
    match who {
        Some((id, email)) => {
            json_answer(200, &json!({ "userId": id, "user": email, "userType": "F", "account": call.scope.account }))
        }
        None => json_answer(200, &Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ask, call, local};
    use super::*;

    #[tokio::test]
    async fn validate_answers_the_local_users_and_refuses_anything_else() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let admin = l.identity.admin_token().to_string();
        let body = json!({ "token": admin }).to_string();
        for url in [
            "http://vtexid.vtex.com.br/api/vtexid/credential/validate",
            "https://acme.vtexcommercestable.com.br/api/vtexid/credential/validate?an=acme",
            "http://portal.vtexcommercestable.com.br/api/vtexid/credential/validate?an=acme",
            "https://acme.myvtex.com/api/vtexid/credential/validate",
        ] {
            let (status, v, _) = ask(&l, call("POST", url, &[], Some(&body))).await;
            assert_eq!(status, 200, "{url}");
            assert_eq!((v["authStatus"].as_str(), v["user"].as_str()), (Some("Success"), Some("dev@local")), "{url}");
            assert_eq!((v["account"].as_str(), v["audience"].as_str()), (Some("acme"), Some("admin")));
            assert_eq!(v["id"].as_str(), Some(l.identity.users().admin_id.as_str()));
        }
        let url = "http://vtexid.vtex.com.br/api/vtexid/credential/validate";
        for token in ["c0ntrol", "nope", ""] {
            let (status, v, _) = ask(&l, call("POST", url, &[], Some(&json!({ "token": token }).to_string()))).await;
            assert_eq!((status, v["authStatus"].as_str()), (401, Some("InvalidToken")), "{token}");
        }
        let (status, _, _) = ask(&l, call("POST", url, &[], Some("not json"))).await;
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn an_app_key_pair_logs_in_as_the_local_admin() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let url = "https://vtexid.vtex.com.br/api/vtexid/apptoken/login?an=acme";
        let pair = json!({ "appkey": "vtexappkey-acme-ABC", "apptoken": "T0K" }).to_string();
        let (status, v, _) = ask(&l, call("POST", url, &[], Some(&pair))).await;
        assert_eq!((status, v["authStatus"].as_str()), (200, Some("Success")));
        assert_eq!(v["token"].as_str(), Some(l.identity.admin_token()));
        assert!(v["expires"].as_u64().unwrap() > 1_700_000_000, "{v}");
        // The token it gave validates as the admin.
        let validate = "http://vtexid.vtex.com.br/api/vtexid/credential/validate";
        let body = json!({ "token": v["token"] }).to_string();
        assert_eq!(ask(&l, call("POST", validate, &[], Some(&body))).await.1["audience"], "admin");
        for bad in [json!({ "appkey": "k" }), json!({ "appkey": "", "apptoken": "t" }), json!("nope")] {
            let (status, v, _) = ask(&l, call("POST", url, &[], Some(&bad.to_string()))).await;
            assert_eq!((status, v["authStatus"].as_str()), (401, Some("WrongCredentials")), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_authenticated_user_is_the_tokens_or_null() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let admin = l.identity.admin_token().to_string();
        let url = format!("http://vtexid.vtex.com.br/api/vtexid/pub/authenticated/user?authToken={admin}");
        let (status, v, _) = ask(&l, call("GET", &url, &[], None)).await;
        assert_eq!(status, 200);
        assert_eq!((v["user"].as_str(), v["account"].as_str()), (Some("dev@local"), Some("acme")));
        assert_eq!(v["userId"].as_str(), Some(l.identity.users().admin_id.as_str()));
        let by_header = "http://acme.vtexcommercestable.com.br/api/vtexid/pub/authenticated/user";
        let (_, v, _) = ask(&l, call("GET", by_header, &[("vtexidclientautcookie", &admin)], None)).await;
        assert_eq!(v["user"], "dev@local");
        let unknown = "http://vtexid.vtex.com.br/api/vtexid/pub/authenticated/user?authToken=c0ntrol";
        assert_eq!(ask(&l, call("GET", unknown, &[], None)).await.1, Value::Null);
    }
}
