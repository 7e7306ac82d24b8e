//! The session service (`ctx.clients.session`, @vtex/api 6.51.3's `Session` JanusClient):
//! `GET /api/sessions?items=NS.KEY,...` with the session token in the `vtex_session` cookie,
//! on portal.vtexcommercestable.com.br (Janus, `an={account}`) or the account's own hosts. It
//! answers `{id, namespaces}` with VTEX's `{value}` leaves, only the items asked for (`*`,
//! `NS.*` or `NS.KEY`): the local admin's or shopper's session for their session token, an
//! anonymous one for any other. The same session, whole, is what a request's
//! `x-ioctl-session-data` carries (`ctx.vtex.sessionData`).

use serde_json::{json, Map, Value};

use super::{json_answer, Call};
use crate::session::identity::{User, AUTH_COOKIE};
use crate::store::platform::Settings;

/// The signed-in user a session is for.
pub struct Who<'a> {
    pub user: User,
    pub id: &'a str,
    pub email: &'a str,
    /// Its VTEX ID token (VTEX's session keeps the auth cookies in its `cookie` namespace).
    pub auth_token: &'a str,
}

fn leaf(value: impl Into<Value>) -> Value {
    json!({ "value": value.into() })
}

/// The session `token` of `account` for `who` (anonymous when `None`), over the workspace's
/// settings: `account`, `store`, `public`, `profile`, `authentication` and `cookie` namespaces.
pub fn session(token: &str, account: &str, s: &Settings, who: Option<&Who>) -> Value {
    let store = json!({
        "channel": leaf(s.trade_policy.to_string()),
        "countryCode": leaf(s.country.clone()),
        "cultureInfo": leaf(s.locale.clone()),
        "admin_cultureInfo": leaf(s.locale.clone()),
        "currencyCode": leaf(s.currency.clone()),
        "currencySymbol": leaf(s.currency_symbol.clone()),
        "channelPrivacy": leaf("public"),
    });
    let mut profile = Map::new();
    let mut authentication = Map::new();
    let mut cookie = Map::new();
    profile.insert("isAuthenticated".into(), leaf(if who.is_some() { "true" } else { "false" }));
    if let Some(w) = who {
        profile.insert("id".into(), leaf(w.id));
        profile.insert("email".into(), leaf(w.email));
        match w.user {
            User::Admin => {
                authentication.insert("adminUserId".into(), leaf(w.id));
                authentication.insert("adminUserEmail".into(), leaf(w.email));
                cookie.insert(AUTH_COOKIE.into(), leaf(w.auth_token));
            }
            User::Shopper => {
                authentication.insert("storeUserId".into(), leaf(w.id));
                authentication.insert("storeUserEmail".into(), leaf(w.email));
                cookie.insert(format!("{AUTH_COOKIE}_{account}"), leaf(w.auth_token));
            }
            User::Anonymous => {}
        }
    }
    json!({
        "id": token,
        "namespaces": {
            "account": { "accountName": leaf(account) },
            "store": store,
            "public": {},
            "profile": profile,
            "authentication": authentication,
            "cookie": cookie,
        }
    })
}

/// Only the namespaces and keys `items` asks for (`*` is all; `NS.*` a whole namespace).
pub fn only(session: &Value, items: &str) -> Value {
    let wanted: Vec<&str> = items.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
    if wanted.contains(&"*") {
        return session.clone();
    }
    let mut out = Map::new();
    let all = session["namespaces"].as_object().cloned().unwrap_or_default();
    for item in wanted {
        let Some((ns, key)) = item.split_once('.') else { continue };
        let Some(namespace) = all.get(ns).and_then(Value::as_object) else { continue };
        let target = out.entry(ns.to_string()).or_insert_with(|| Value::Object(Map::new()));
        let Some(target) = target.as_object_mut() else { continue };
        if key == "*" {
            target.extend(namespace.clone());
        } else if let Some(v) = namespace.get(key) {
            target.insert(key.to_string(), v.clone());
        }
    }
    json!({ "id": session["id"], "namespaces": out })
}

/// `GET /api/sessions`: the session of the `vtex_session` cookie's token.
pub fn answer(call: &Call) -> Option<crate::runtime::outbound::Answer> {
    if call.method != "GET" || call.target.path.trim_end_matches('/') != "/api/sessions" {
        return None;
    }
    let token = call
        .header("cookie")
        .and_then(|c| c.split(';').filter_map(|p| p.trim().split_once('=')).find(|(k, _)| *k == "vtex_session"))
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    let users = call.identity.users();
    let user = call.identity.user_of_session(token).unwrap_or(User::Anonymous);
    let mut whole = users.session(user).clone();
    if user == User::Anonymous {
        // Another token is an anonymous visitor's session: it keeps its id.
        whole["id"] = Value::String(token.to_string());
    }
    let items = call.target.param("items").unwrap_or("*");
    Some(json_answer(200, &only(&whole, items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_has_vtex_namespaces_with_value_leaves() {
        let s = Settings::defaults("acme");
        let who = Who { user: User::Shopper, id: "u1", email: "ann@x.com", auth_token: "tok" };
        let v = session("sess", "acme", &s, Some(&who));
        assert_eq!(v["id"], "sess");
        let ns = &v["namespaces"];
        assert_eq!(ns["profile"]["email"], json!({"value": "ann@x.com"}));
        assert_eq!(ns["profile"]["isAuthenticated"]["value"], "true");
        assert_eq!(ns["authentication"]["storeUserEmail"]["value"], "ann@x.com");
        assert_eq!(ns["cookie"]["VtexIdclientAutCookie_acme"]["value"], "tok");
        assert_eq!(ns["store"]["channel"]["value"], "1");
        assert_eq!(ns["store"]["cultureInfo"]["value"], "en-US");
        let anonymous = session("", "acme", &s, None);
        assert_eq!(anonymous["namespaces"]["profile"], json!({"isAuthenticated": {"value": "false"}}));
        assert_eq!(anonymous["namespaces"]["authentication"], json!({}));
    }

    #[test]
    fn items_pick_namespaces_and_keys() {
        let s = Settings::defaults("acme");
        let who = Who { user: User::Admin, id: "u1", email: "dev@local", auth_token: "tok" };
        let v = session("sess", "acme", &s, Some(&who));
        assert_eq!(only(&v, "*"), v);
        let some = only(&v, "profile.email,store.*,nope.x,bad");
        assert_eq!(some["id"], "sess");
        assert_eq!(some["namespaces"]["profile"], json!({"email": {"value": "dev@local"}}));
        assert_eq!(some["namespaces"]["store"], v["namespaces"]["store"]);
        assert!(some["namespaces"].get("authentication").is_none());
    }
}
