//! The GraphQL IDE the session serves: GraphiQL's static build (from a pinned npm package
//! set installed once into ioctl's cache, no CDN) on a page with one entry per linked GraphQL
//! app. The browser logs in with a one-time link the link banner prints: it sets a page
//! credential (not the session token) as an HttpOnly, SameSite=Strict `ioctl_login` cookie.
//! Browsers send cookies to every port of a host, so the credential is scoped: the server
//! accepts it only from the session's own origin, and only for the IDE and GraphQL endpoints;
//! it dies with the session.

use crate::lock::Locked;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use axum::extract::Query;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The cookie that carries a page credential.
pub const COOKIE: &str = "ioctl_login";
/// How many unused one-time logins, and how many page credentials, are kept (the oldest is
/// forgotten past that).
const LOGINS_KEPT: usize = 64;

/// The page: GraphiQL on React, an app picker, a fetcher that sends the login cookie.
const PAGE: &str = include_str!("ide/index.html");

/// Files of the IDE package set the page loads, as (name under /_ioctl/ide/static/, path in
/// node_modules, content type).
const STATIC: &[(&str, &str, &str)] = &[
    ("react.js", "react/umd/react.production.min.js", "text/javascript; charset=utf-8"),
    ("react-dom.js", "react-dom/umd/react-dom.production.min.js", "text/javascript; charset=utf-8"),
    ("graphiql.js", "graphiql/graphiql.min.js", "text/javascript; charset=utf-8"),
    ("graphiql.css", "graphiql/graphiql.min.css", "text/css; charset=utf-8"),
];

/// The IDE's state in the session: unused one-time logins, the page credentials they were
/// exchanged for, and where its packages are.
#[derive(Default)]
pub struct Ide {
    logins: Mutex<VecDeque<String>>,
    pages: Mutex<VecDeque<String>>,
    modules: OnceLock<PathBuf>,
}

/// A fresh random secret, kept in `kept` (bounded: the oldest is forgotten).
fn remember(kept: &Mutex<VecDeque<String>>) -> Option<String> {
    let secret = crate::protocol::record::new_token().ok()?;
    let mut kept = kept.locked();
    if kept.len() >= LOGINS_KEPT {
        kept.pop_front();
    }
    kept.push_back(secret.clone());
    Some(secret)
}

/// Whether two secrets (short hex strings) are equal, compared without an early exit.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `secret` is one of `kept`, compared without an early exit.
fn known(kept: &Mutex<VecDeque<String>>, secret: &str) -> Option<usize> {
    kept.locked().iter().position(|k| same_secret(k, secret))
}

impl Ide {
    /// A new one-time login; none when the system has no randomness to make one.
    pub fn issue(&self) -> Option<String> {
        remember(&self.logins)
    }

    /// Uses `login` up; whether it was an unused one.
    pub fn take(&self, login: &str) -> bool {
        let Some(at) = known(&self.logins, login) else { return false };
        self.logins.locked().remove(at);
        true
    }

    /// Exchanges a used login for a page credential (the cookie's value).
    pub fn page_credential(&self) -> Option<String> {
        remember(&self.pages)
    }

    /// Whether `credential` is a page credential this session issued.
    pub fn is_page(&self, credential: &str) -> bool {
        known(&self.pages, credential).is_some()
    }

    /// The IDE package set's node_modules, once installed (the first GraphQL app's link does).
    pub fn set_modules(&self, modules: PathBuf) {
        let _ = self.modules.set(modules);
    }

    /// The page, or a static file of it (`rest` is the path after /_ioctl/ide).
    pub fn serve(&self, rest: &str) -> Response {
        if rest.is_empty() || rest == "/" {
            return ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], PAGE)
                .into_response();
        }
        let Some(name) = rest.strip_prefix("/static/") else {
            return (StatusCode::NOT_FOUND, "no such IDE page\n").into_response();
        };
        let Some((_, file, kind)) = STATIC.iter().find(|(n, _, _)| *n == name) else {
            return (StatusCode::NOT_FOUND, "no such IDE file\n").into_response();
        };
        let Some(modules) = self.modules.get() else {
            let text = "the GraphQL IDE's packages are not installed: link a GraphQL app (with network, once)\n";
            return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
        };
        match std::fs::read(modules.join(file)) {
            Ok(bytes) => {
                ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "max-age=3600")], bytes).into_response()
            }
            Err(e) => {
                (StatusCode::INTERNAL_SERVER_ERROR, format!("{}: {e}\n", modules.join(file).display())).into_response()
            }
        }
    }
}

/// The value of cookie `name` in the request's Cookie headers: the first one sent (browsers
/// send the most specific path's first), as sent (quotes, if any, are part of the value, as RFC
/// 6265 says; ioctl's credentials are never quoted). By hand: no crate in the tree parses a
/// Cookie header (`http` and axum do not; `cookie` and axum-extra are not built), and finding
/// one name in `a=1; b=2` is two splits.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    super::identity::cookies(headers).find_map(|(k, v)| (k == name).then_some(v))
}

/// The one-time login a page's URL carries (`?login=`, percent-decoded; the first if several).
pub fn login_in(uri: &Uri) -> Option<String> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    pairs.into_iter().find_map(|(k, v)| (k == "login").then_some(v))
}

/// The answer to a valid one-time login: the cookie with a page credential, and the page
/// (`page`: the IDE's or the dashboard's path) without the login in its URL. `query`: the page
/// URL's, whose other parameters (`?app=`, `?query=`) stay as they were.
pub fn logged_in(credential: &str, page: &str, query: &str) -> Response {
    let cookie = format!("{COOKIE}={credential}; Path=/; HttpOnly; SameSite=Strict");
    let rest: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("login=")).collect();
    let page = if rest.is_empty() { page.to_string() } else { format!("{page}?{}", rest.join("&")) };
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, page)]).into_response()
}

/// The answer without a login.
pub fn login_needed() -> Response {
    let text = "this GraphQL IDE needs a login: open the one-time `graphql IDE` link `ioctl link` printed \
                (each link works once; relink or link again for a new one)\n";
    (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::path;

    #[test]
    fn a_login_works_once() {
        let ide = Ide::default();
        let login = ide.issue().unwrap();
        assert!(!ide.take("nope"));
        assert!(ide.take(&login));
        assert!(!ide.take(&login));
        let page = ide.page_credential().unwrap();
        assert!(ide.is_page(&page) && !ide.is_page(&login) && !ide.is_page(""));
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; ioctl_login=t0k".parse().unwrap());
        h.append(header::COOKIE, "b=2".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("t0k"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn odd_cookie_headers_are_read_as_browsers_send_them() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, ";; flag;  ioctl_login=first ; q=\"quoted\";e=;x=a=b".parse().unwrap());
        h.append(header::COOKIE, "ioctl_login=second".parse().unwrap());
        h.append(header::COOKIE, header::HeaderValue::from_bytes(b"n=\xff").unwrap());
        assert_eq!(cookie(&h, COOKIE), Some("first"), "the first of the same name wins");
        assert_eq!(cookie(&h, "q"), Some("\"quoted\""));
        assert_eq!(cookie(&h, "e"), Some(""));
        assert_eq!(cookie(&h, "x"), Some("a=b"));
        assert_eq!(cookie(&h, "flag"), None);
        assert_eq!(cookie(&h, "n"), None, "not text");
        assert_eq!(cookie(&h, "ioctl_login "), None);
    }

    #[test]
    fn the_login_is_read_percent_decoded() {
        let login = |uri: &str| login_in(&uri.parse().unwrap());
        assert_eq!(login("/_ioctl/ide?app=a&login=%61b%2Bc+d").as_deref(), Some("ab+c d"));
        assert_eq!(login("/_ioctl/ide?login=one&login=two").as_deref(), Some("one"));
        assert_eq!(login("/_ioctl/ide?app=a"), None);
        assert_eq!(login("/_ioctl/ide"), None);
    }

    #[test]
    fn a_login_leaves_the_url_and_the_other_parameters_stay() {
        let location =
            |query: &str| logged_in("c", path::IDE, query).headers()[header::LOCATION].to_str().unwrap().to_string();
        assert_eq!(
            location("login=x&app=vtex.a%401&query=%7B%20a%20%7D"),
            "/_ioctl/ide?app=vtex.a%401&query=%7B%20a%20%7D"
        );
        assert_eq!(location("login=x"), "/_ioctl/ide");
        assert_eq!(location(""), "/_ioctl/ide");
        let answer = logged_in("c", path::IDE, "login=x");
        assert_eq!(logged_in("c", path::DASHBOARD, "login=x").headers()[header::LOCATION], "/_ioctl/");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()[header::SET_COOKIE], "ioctl_login=c; Path=/; HttpOnly; SameSite=Strict");
    }
}
