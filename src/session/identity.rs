//! Who is who in a session: its two local users — an admin of the account and a shopper, each
//! with a VTEX ID token and a session token of its own, random per session and never the
//! control token — and who a request to an app is. The session's credential (the control
//! token, the IDE's page) makes a request the admin, or the user `x-ioctl-as` names; a local
//! user's token (`VtexIdclientAutCookie` header or cookie, `VtexIdclientAutCookie_{account}`)
//! makes it that user; anything else is anonymous. The app then gets the user's credentials as
//! VTEX passes them, and the session service's data in `x-ioctl-session-data`, built once per
//! change of the workspace's platform settings (not per request).

use std::sync::{Arc, RwLock};

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use serde_json::Value;

use super::boundary::local::{segment, session};
use crate::protocol::Scope;
use crate::store::platform::Settings;

/// Chooses the user of a request that carries the session's credential (`ioctl graphql --as`).
pub const AS_HEADER: &str = "x-ioctl-as";
/// The session service's data for the request's user (base64 JSON); the host reads it into
/// `ctx.vtex.sessionData` and removes it.
pub const SESSION_DATA_HEADER: &str = "x-ioctl-session-data";
/// VTEX ID's cookie (and header): an admin's token as `VtexIdclientAutCookie`, a shopper's as
/// `VtexIdclientAutCookie_{account}`.
pub const AUTH_COOKIE: &str = "VtexIdclientAutCookie";
/// The headers VTEX's router sets from the `vtex_segment` and `vtex_session` cookies
/// (@vtex/api reads `ctx.vtex.segmentToken` / `sessionToken` from them).
const SEGMENT_HEADER: &str = "x-vtex-segment";
const SESSION_HEADER: &str = "x-vtex-session";

/// A user a request can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    Admin,
    Shopper,
    Anonymous,
}

impl User {
    /// `admin`, `shopper` or `anonymous`.
    pub fn parse(text: &str) -> Option<User> {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(User::Admin),
            "shopper" => Some(User::Shopper),
            "anonymous" => Some(User::Anonymous),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            User::Admin => "admin",
            User::Shopper => "shopper",
            User::Anonymous => "anonymous",
        }
    }
}

/// One local user's secrets.
struct Tokens {
    /// Its VTEX ID token (VtexIdclientAutCookie).
    auth: String,
    /// Its session service token (vtex_session).
    session: String,
}

impl Tokens {
    fn new() -> anyhow::Result<Tokens> {
        Ok(Tokens { auth: crate::protocol::record::new_token()?, session: crate::protocol::record::new_token()? })
    }
}

/// The session's users and the workspace's platform settings they are made of.
pub struct Identity {
    scope: Scope,
    /// The control token: compared, stripped, never forwarded.
    control: String,
    admin: Tokens,
    shopper: Tokens,
    /// Rebuilt when the platform settings change ([`Identity::set_settings`]); read per request.
    users: RwLock<Arc<Users>>,
}

/// What the platform settings make of the users, built once per settings change.
pub struct Users {
    pub settings: Settings,
    /// The users' ids (stable for an email: VTEX ID's `id`/`userId`, the session's profile id).
    pub admin_id: String,
    pub shopper_id: String,
    /// Each user's session (`{id, namespaces}`), as the session service answers it.
    admin_session: Value,
    shopper_session: Value,
    anonymous_session: Value,
    admin_data: HeaderValue,
    shopper_data: HeaderValue,
    /// The segment token (`vtex_segment`: the segment's JSON, base64).
    segment_token: HeaderValue,
}

impl Users {
    /// The session (`{id, namespaces}`) of `user`.
    pub fn session(&self, user: User) -> &Value {
        match user {
            User::Admin => &self.admin_session,
            User::Shopper => &self.shopper_session,
            User::Anonymous => &self.anonymous_session,
        }
    }

    /// The id and email of a signed-in user.
    pub fn who(&self, user: User) -> Option<(&str, &str)> {
        match user {
            User::Admin => Some((&self.admin_id, &self.settings.user_email)),
            User::Shopper => Some((&self.shopper_id, &self.settings.shopper_email)),
            User::Anonymous => None,
        }
    }
}

/// A user id for an email: a UUID made from it, so it stays the same across sessions.
fn user_id(email: &str) -> String {
    let a = crate::stable_hash::fnv1a(&["ioctl user", email]);
    let b = crate::stable_hash::fnv1a(&[email, "ioctl user"]);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

fn base64_header(value: &Value) -> HeaderValue {
    let text = base64::engine::general_purpose::STANDARD.encode(value.to_string());
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl Identity {
    /// The users of a session of `scope`, with `settings` (the workspace's, read at start).
    pub fn new(scope: Scope, control: String, settings: Settings) -> anyhow::Result<Identity> {
        let (admin, shopper) = (Tokens::new()?, Tokens::new()?);
        let mut identity = Identity { scope, control, admin, shopper, users: RwLock::new(Arc::new(empty())) };
        identity.users = RwLock::new(Arc::new(identity.build(settings)));
        Ok(identity)
    }

    /// The users now.
    pub fn users(&self) -> Arc<Users> {
        self.users.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The platform settings changed: the users' data is built anew.
    pub fn set_settings(&self, settings: Settings) {
        let users = Arc::new(self.build(settings));
        *self.users.write().unwrap_or_else(|p| p.into_inner()) = users;
    }

    fn build(&self, settings: Settings) -> Users {
        let admin_id = user_id(&settings.user_email);
        let shopper_id = user_id(&settings.shopper_email);
        let account = &self.scope.account;
        let signed_in = |user: User, id: &str, email: &str, tokens: &Tokens| {
            let who = session::Who { user, id, email, auth_token: &tokens.auth };
            session::session(&tokens.session, account, &settings, Some(&who))
        };
        let admin_session = signed_in(User::Admin, &admin_id, &settings.user_email, &self.admin);
        let shopper_session = signed_in(User::Shopper, &shopper_id, &settings.shopper_email, &self.shopper);
        let anonymous_session = session::session("", account, &settings, None);
        let segment_token = HeaderValue::from_str(&segment::token(&segment::data(&settings)))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        Users {
            admin_data: base64_header(&admin_session),
            shopper_data: base64_header(&shopper_session),
            admin_session,
            shopper_session,
            anonymous_session,
            segment_token,
            admin_id,
            shopper_id,
            settings,
        }
    }

    /// Whether `token` is the session's control token.
    pub fn is_control(&self, token: &str) -> bool {
        super::ide::same_secret(token, &self.control)
    }

    /// The local user whose VTEX ID token this is.
    pub fn user_of_token(&self, token: &str) -> Option<User> {
        if super::ide::same_secret(token, &self.admin.auth) {
            Some(User::Admin)
        } else if super::ide::same_secret(token, &self.shopper.auth) {
            Some(User::Shopper)
        } else {
            None
        }
    }

    /// The local user whose session token (`vtex_session`) this is.
    pub fn user_of_session(&self, token: &str) -> Option<User> {
        if super::ide::same_secret(token, &self.admin.session) {
            Some(User::Admin)
        } else if super::ide::same_secret(token, &self.shopper.session) {
            Some(User::Shopper)
        } else {
            None
        }
    }

    /// The local shopper's VTEX ID token.
    #[cfg(test)]
    pub fn shopper_token(&self) -> &str {
        &self.shopper.auth
    }

    /// The local admin's VTEX ID token (never the control token).
    pub fn admin_token(&self) -> &str {
        &self.admin.auth
    }

    /// The `VtexIdclientAutCookie` cookie name of this account's shoppers.
    fn shopper_cookie(&self) -> String {
        format!("{AUTH_COOKIE}_{}", self.scope.account)
    }

    /// The local user whose token a request carries, if any (the admin's wins).
    pub fn carried(&self, headers: &HeaderMap) -> Option<User> {
        let header = headers.get(AUTH_COOKIE).and_then(|v| v.to_str().ok());
        let shopper_cookie = self.shopper_cookie();
        let cookies = cookies(headers).filter(|(name, _)| *name == AUTH_COOKIE || *name == shopper_cookie);
        let found: Vec<User> =
            header.into_iter().chain(cookies.map(|(_, v)| v)).filter_map(|t| self.user_of_token(t)).collect();
        found.iter().copied().find(|u| *u == User::Admin).or(found.first().copied())
    }

    /// The user of a request: with the session's credential, as `x-ioctl-as` says (the admin
    /// when it says nothing); otherwise the local user whose token it carries, else anonymous.
    /// An `x-ioctl-as` that names no user is an error to show.
    pub fn user_of(&self, headers: &HeaderMap, session_credential: bool) -> Result<User, String> {
        if !session_credential {
            return Ok(self.carried(headers).unwrap_or(User::Anonymous));
        }
        match headers.get(AS_HEADER) {
            None => Ok(User::Admin),
            Some(v) => v.to_str().ok().and_then(User::parse).ok_or_else(|| {
                format!(
                    "{AS_HEADER} must be admin, shopper or anonymous, not `{}`",
                    String::from_utf8_lossy(v.as_bytes())
                )
            }),
        }
    }

    /// Makes a request's headers what the app gets on VTEX for `user`: the session's own
    /// credentials and any incoming `x-ioctl-*` header go; when the user was `chosen` with the
    /// session's credential every VTEX ID credential goes too; then the user's are set (an
    /// admin's token as the `VtexIdclientAutCookie` header and cookie, a shopper's as the
    /// `VtexIdclientAutCookie_{account}` cookie), with its session (`x-vtex-session`, the
    /// session data) and the workspace's segment (`x-vtex-segment`).
    pub fn prepare(&self, headers: &mut HeaderMap, user: User, chosen: bool) {
        let strip: Vec<header::HeaderName> =
            headers.keys().filter(|k| k.as_str().starts_with("x-ioctl-")).cloned().collect();
        for name in strip {
            headers.remove(name);
        }
        if bearer(headers).is_some_and(|t| self.is_control(t) || self.user_of_token(t).is_some()) {
            headers.remove(header::AUTHORIZATION);
        }
        if headers.get(AUTH_COOKIE).and_then(|v| v.to_str().ok()).is_some_and(|t| chosen || self.is_control(t)) {
            headers.remove(AUTH_COOKIE);
        }
        let shopper_cookie = self.shopper_cookie();
        let users = self.users();
        let mut add = Vec::new();
        match user {
            User::Admin => {
                if let Ok(v) = HeaderValue::from_str(&self.admin.auth) {
                    headers.insert(AUTH_COOKIE, v);
                }
                add.push(format!("{AUTH_COOKIE}={}", self.admin.auth));
                headers.insert(SESSION_DATA_HEADER, users.admin_data.clone());
                set(headers, SESSION_HEADER, &self.admin.session);
            }
            User::Shopper => {
                add.push(format!("{shopper_cookie}={}", self.shopper.auth));
                headers.insert(SESSION_DATA_HEADER, users.shopper_data.clone());
                set(headers, SESSION_HEADER, &self.shopper.session);
            }
            User::Anonymous => {}
        }
        headers.insert(SEGMENT_HEADER, users.segment_token.clone());
        let added: Vec<&str> = add.iter().filter_map(|a| a.split_once('=').map(|(n, _)| n)).collect();
        rewrite_cookies(
            headers,
            |name, value| {
                let credential = name == AUTH_COOKIE || name == shopper_cookie;
                name != super::ide::COOKIE
                    && !added.contains(&name)
                    && !(credential && (chosen || self.is_control(value)))
            },
            &add,
        );
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Users with nothing in them, before the first build.
fn empty() -> Users {
    Users {
        settings: Settings::defaults(""),
        admin_id: String::new(),
        shopper_id: String::new(),
        admin_session: Value::Null,
        shopper_session: Value::Null,
        anonymous_session: Value::Null,
        admin_data: HeaderValue::from_static(""),
        shopper_data: HeaderValue::from_static(""),
        segment_token: HeaderValue::from_static(""),
    }
}

/// `Authorization: Bearer TOKEN`'s token.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// Every cookie of the request's Cookie headers, as (name, value).
pub fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// Keeps the cookies `keep` says yes to and appends `add` (`name=value` each), as one Cookie
/// header (none when nothing is left).
pub fn rewrite_cookies(headers: &mut HeaderMap, keep: impl Fn(&str, &str) -> bool, add: &[String]) {
    let mut pairs: Vec<String> =
        cookies(headers).filter(|(name, value)| keep(name, value)).map(|(n, v)| format!("{n}={v}")).collect();
    pairs.extend(add.iter().cloned());
    headers.remove(header::COOKIE);
    if !pairs.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&pairs.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        let scope = Scope { account: "acme".into(), workspace: "dev".into() };
        Identity::new(scope.clone(), "c0ntrol".into(), Settings::defaults("acme")).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    fn session_data(h: &HeaderMap) -> Value {
        let text = base64::engine::general_purpose::STANDARD.decode(h[SESSION_DATA_HEADER].as_bytes()).unwrap();
        serde_json::from_slice(&text).unwrap()
    }

    fn cookie(h: &HeaderMap) -> String {
        h.get(header::COOKIE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }

    #[test]
    fn the_session_credential_is_the_admin_unless_x_ioctl_as_says_otherwise() {
        let id = identity();
        assert_eq!(id.user_of(&headers(&[]), true), Ok(User::Admin));
        assert_eq!(id.user_of(&headers(&[(AS_HEADER, "Shopper")]), true), Ok(User::Shopper));
        assert_eq!(id.user_of(&headers(&[(AS_HEADER, "anonymous")]), true), Ok(User::Anonymous));
        let e = id.user_of(&headers(&[(AS_HEADER, "root")]), true).unwrap_err();
        assert_eq!(e, "x-ioctl-as must be admin, shopper or anonymous, not `root`");
        assert_eq!(
            id.user_of(&headers(&[(AS_HEADER, "admin")]), false),
            Ok(User::Anonymous),
            "only with the credential"
        );
    }

    #[test]
    fn a_local_token_passes_as_its_user_and_anything_else_is_anonymous() {
        let id = identity();
        let (admin, shopper) = (id.admin.auth.clone(), id.shopper.auth.clone());
        assert_eq!(id.user_of(&headers(&[(AUTH_COOKIE, &admin)]), false), Ok(User::Admin));
        let cookie = format!("a=1; VtexIdclientAutCookie_acme={shopper}");
        assert_eq!(id.user_of(&headers(&[("cookie", &cookie)]), false), Ok(User::Shopper));
        let other_account = format!("VtexIdclientAutCookie_other={shopper}");
        assert_eq!(id.user_of(&headers(&[("cookie", &other_account)]), false), Ok(User::Anonymous));
        assert_eq!(id.user_of(&headers(&[(AUTH_COOKIE, "c0ntrol")]), false), Ok(User::Anonymous));
        assert_eq!(id.user_of(&headers(&[(AUTH_COOKIE, "forged")]), false), Ok(User::Anonymous));
        assert_ne!(id.admin_token(), "c0ntrol");
        assert_eq!(id.user_of_token(id.admin_token()), Some(User::Admin));
    }

    #[test]
    fn the_admin_gets_its_token_its_session_and_never_the_control_token() {
        let id = identity();
        let mut h = headers(&[
            ("authorization", "Bearer c0ntrol"),
            (AUTH_COOKIE, "c0ntrol"),
            ("cookie", "ioctl_login=page; keep=1; VtexIdclientAutCookie=c0ntrol"),
            ("x-ioctl-as", "admin"),
            ("x-ioctl-session-data", "forged"),
            ("x-ioctl-route-id", "forged"),
        ]);
        id.prepare(&mut h, User::Admin, true);
        let all = format!("{h:?}");
        assert!(!all.contains("c0ntrol") && !all.contains("forged") && !all.contains("page"), "{all}");
        assert!(h.get("authorization").is_none() && h.get(AS_HEADER).is_none());
        assert_eq!(h[AUTH_COOKIE], id.admin.auth.as_str());
        assert_eq!(cookie(&h), format!("keep=1; VtexIdclientAutCookie={}", id.admin.auth));
        assert_eq!(h[SESSION_HEADER], id.admin.session.as_str());
        let data = session_data(&h);
        assert_eq!(data["namespaces"]["authentication"]["adminUserEmail"]["value"], "dev@local");
        assert_eq!(data["namespaces"]["store"]["currencyCode"]["value"], "USD");
        assert!(h.get(SEGMENT_HEADER).is_some());
    }

    #[test]
    fn a_shopper_or_anonymous_choice_leaves_no_admin_credential() {
        let id = identity();
        let admin_cookie = format!("VtexIdclientAutCookie={}", id.admin.auth);
        for user in [User::Shopper, User::Anonymous] {
            let mut h = headers(&[("authorization", "Bearer c0ntrol"), ("cookie", &admin_cookie)]);
            id.prepare(&mut h, user, true);
            assert!(!format!("{h:?}").contains(&id.admin.auth), "{user:?}: {h:?}");
            assert!(h.get(AUTH_COOKIE).is_none());
            match user {
                User::Shopper => {
                    assert_eq!(cookie(&h), format!("VtexIdclientAutCookie_acme={}", id.shopper.auth));
                    let data = session_data(&h);
                    assert_eq!(data["namespaces"]["profile"]["email"]["value"], "shopper@local");
                    assert_eq!(data["namespaces"]["profile"]["isAuthenticated"]["value"], "true");
                }
                _ => assert!(h.get(SESSION_DATA_HEADER).is_none() && h.get(header::COOKIE).is_none()),
            }
        }
    }

    #[test]
    fn a_user_passing_with_its_own_token_keeps_it_and_gets_its_session() {
        let id = identity();
        let shopper_cookie = format!("VtexIdclientAutCookie_acme={}", id.shopper.auth);
        let mut h = headers(&[("cookie", &shopper_cookie), ("authorization", "Basic abc")]);
        id.prepare(&mut h, User::Shopper, false);
        assert_eq!(cookie(&h), shopper_cookie);
        assert_eq!(h["authorization"], "Basic abc", "an app's own authorization stays");
        assert_eq!(session_data(&h)["id"], id.shopper.session.as_str());
    }

    #[test]
    fn new_settings_rebuild_the_users_data() {
        let id = identity();
        let before = id.users().admin_id.clone();
        let mut s = Settings::defaults("acme");
        s.user_email = "ana@acme.com".into();
        s.currency = "BRL".into();
        id.set_settings(s);
        let users = id.users();
        assert_ne!(users.admin_id, before, "the id follows the email");
        assert_eq!(users.admin_id, user_id("ana@acme.com"), "and stays the same for it");
        let mut h = HeaderMap::new();
        id.prepare(&mut h, User::Admin, true);
        let data = session_data(&h);
        assert_eq!(data["namespaces"]["authentication"]["adminUserEmail"]["value"], "ana@acme.com");
        assert_eq!(data["namespaces"]["store"]["currencyCode"]["value"], "BRL");
    }
}
