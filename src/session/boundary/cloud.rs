//! The developer's own account (`ioctl link --cloud ACCOUNT`): calls to VTEX that nothing local
//! answers go to that account's real APIs over HTTPS with the developer's credentials, writes
//! only with `--cloud-writes`; with `--record DIR` each answer is also written as a fixture.
//!
//! Which account: the app addresses the linked account (`{account}.vtexcommercestable.com.br`,
//! `api.vtex.com/{account}/...`, an app's `/{vendor}.{name}/v{major}/{account}/{workspace}`);
//! when ACCOUNT differs, the linked account's name is replaced by ACCOUNT in the host's first
//! label (`acme.`, `dev--acme.`), in path segments and in `an=`. The workspace is kept as linked.
//! `IOCTL_CLOUD_URL` (of the link command) replaces the scheme and host: the call's path and
//! query go there, with VTEX's host in `x-forwarded-host`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::call::{is_vtex_host, CallView, OperationKind};
use super::record::Recorder;
use super::{Answer, Answerer, Outbound, Source};
use crate::protocol::stream::Level;
use crate::protocol::{CloudOptions, Credentials, Scope};
use crate::terminal::Terminal;

/// How long a connection to VTEX may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long VTEX may take to answer, body included.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer taken (an app's own HTTP client would buffer it whole too).
pub const MAX_ANSWER: usize = 16 << 20;

/// POSTs that only read, let through without `--cloud-writes`: VTEX ID's validation of a token
/// and checkout's simulation. (A GraphQL POST whose operation is a query reads too: apps'
/// GraphQL clients send every operation, queries included, as a POST.)
const READ_ONLY_POSTS: &[&str] = &["/api/vtexid/credential/validate", "/api/checkout/pub/orderForms/simulation"];

/// Request headers never forwarded: hop-by-hop and recomputed ones, the app's own (local)
/// credentials, and what would make the answer compressed or proxied.
const DROPPED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
    "authorization",
    "proxy-authorization",
    "vtexidclientautcookie",
    "x-vtex-credential",
    "x-vtex-api-appkey",
    "x-vtex-api-apptoken",
    "x-vtex-use-https",
    "x-forwarded-host",
    "x-forwarded-for",
    "x-forwarded-proto",
];

/// Answer headers not passed on: hop-by-hop, and the length (the answer is whole).
const DROPPED_ANSWER: &[&str] = &["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"];

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The limits of the cloud's calls (tests shorten them).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    pub answer: Duration,
    pub max_answer: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { connect: CONNECT_TIMEOUT, answer: ANSWER_TIMEOUT, max_answer: MAX_ANSWER }
    }
}

/// Where calls go instead of VTEX's hosts (`IOCTL_CLOUD_URL`).
#[derive(Debug, Clone)]
struct Base {
    scheme: String,
    authority: String,
    /// Its path, without a trailing `/` (a proxy may serve under a prefix).
    prefix: String,
}

/// The developer's account, answering the calls nothing local answers.
pub struct Cloud {
    client: HttpsClient,
    account: String,
    linked: Scope,
    credentials: Credentials,
    writes: bool,
    base: Option<Base>,
    limits: Limits,
    recorder: Option<Arc<Recorder>>,
    terminal: Terminal,
}

impl Cloud {
    /// The cloud of one linked app (`linked`: its account and workspace); recording failures
    /// are said on `terminal`.
    pub fn new(options: &CloudOptions, linked: Scope, terminal: Terminal, limits: Limits) -> anyhow::Result<Cloud> {
        let base = options.base_url.as_deref().map(parse_base).transpose()?;
        let recorder = options.record.as_ref().map(|dir| {
            let secrets = options.credentials.secrets().into_iter().map(str::to_string).collect();
            Arc::new(Recorder::new(dir.clone(), linked.clone(), secrets))
        });
        Ok(Cloud {
            client: https_client(limits.connect)?,
            account: options.account.clone(),
            linked,
            credentials: options.credentials.clone(),
            writes: options.writes,
            base,
            limits,
            recorder,
            terminal,
        })
    }

    /// One line for the link banner: where calls go, with what, and what is refused.
    pub fn describe(&self) -> String {
        let target = match &self.base {
            Some(b) => {
                format!("account {} through IOCTL_CLOUD_URL {}://{}{}", self.account, b.scheme, b.authority, b.prefix)
            }
            None => format!("account {}", self.account),
        };
        let renamed = if self.account != self.linked.account {
            format!(" (calls naming account {} go to {})", self.linked.account, self.account)
        } else {
            String::new()
        };
        let writes =
            if self.writes { "writes allowed (--cloud-writes)" } else { "writes refused (--cloud-writes allows them)" };
        let record =
            self.recorder.as_ref().map(|r| format!("; recording into {}", r.dir().display())).unwrap_or_default();
        format!(
            "cloud: calls nothing local answers go to VTEX {target}{renamed} with {}; {writes}{record}",
            self.credentials.describe()
        )
    }

    async fn ask(&self, call: &Outbound) -> Option<Answer> {
        let view = CallView::new(call)?;
        // Only VTEX's hosts get the developer's credentials.
        if !is_vtex_host(&view.url.host) {
            return None;
        }
        if !self.writes && writes(&view) {
            return Some(self.refused(call));
        }
        let (request, shown) = match self.request(call) {
            Ok(r) => r,
            Err(e) => return Some(failure(502, format!("{} {}: {e}", call.method, call.url))),
        };
        let sent = tokio::time::timeout(self.limits.answer, self.send(request)).await;
        let answer = match sent {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Some(failure(502, format!("{} {shown}: {e}", call.method))),
            Err(_) => {
                let secs = self.limits.answer.as_secs_f64();
                return Some(failure(504, format!("{} {shown}: VTEX did not answer within {secs} s", call.method)));
            }
        };
        tracing::debug!(method = call.method, url = shown, status = answer.status, "cloud answered");
        if let Some(recorder) = &self.recorder {
            self.record(recorder.clone(), call, &answer).await;
        }
        Some(answer)
    }

    async fn record(&self, recorder: Arc<Recorder>, call: &Outbound, answer: &Answer) {
        let (call, answer) = (call.clone(), answer.clone());
        let written = tokio::task::spawn_blocking(move || recorder.write(&call, &answer)).await;
        let error = match written {
            Ok(Ok(_)) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(e) => e.to_string(),
        };
        self.terminal.status(Level::Warn, format!("--record: cannot write the answer: {error}")).await;
    }

    /// The call as sent to the account: its URL rewritten (account, base), the app's own
    /// credentials replaced by the developer's. Also the URL as shown in messages.
    fn request(&self, call: &Outbound) -> anyhow::Result<(hyper::Request<Full<Bytes>>, String)> {
        let uri: hyper::Uri = call.url.parse()?;
        let authority = uri.authority().ok_or_else(|| anyhow::anyhow!("no host"))?;
        let host = self.rename_host(authority.as_str());
        let path = self.rename_path(uri.path_and_query().map_or("/", |p| p.as_str()));
        let (url, forwarded) = match &self.base {
            Some(b) => (format!("{}://{}{}{path}", b.scheme, b.authority, b.prefix), Some(host.clone())),
            None => (format!("https://{host}{path}"), None),
        };
        let shown = format!("https://{host}{path}");
        let mut builder = hyper::Request::builder().method(call.method.to_ascii_uppercase().as_str()).uri(&url);
        for (name, value) in &call.headers {
            let lower = name.to_ascii_lowercase();
            if DROPPED.contains(&lower.as_str()) || lower.starts_with("x-ioctl-") {
                continue;
            }
            let value = if lower == "cookie" { without_auth_cookies(value) } else { value.clone() };
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(lower.as_bytes()), HeaderValue::from_str(&value)) {
                if !v.is_empty() {
                    builder = builder.header(n, v);
                }
            }
        }
        if let Some(host) = forwarded {
            builder = builder.header("x-forwarded-host", host);
        }
        builder = match &self.credentials {
            Credentials::AppKey { key, token } => {
                builder.header("x-vtex-api-appkey", secret(key)?).header("x-vtex-api-apptoken", secret(token)?)
            }
            Credentials::Token { token } => builder.header("vtexidclientautcookie", secret(token)?),
        };
        let body = Full::new(Bytes::from(call.body.clone().unwrap_or_default()));
        Ok((builder.body(body)?, shown))
    }

    async fn send(&self, request: hyper::Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        let response = self.client.request(request).await.map_err(crate::hyper_error::unwrapped)?;
        let (parts, body) = response.into_parts();
        let too_large = || {
            anyhow::anyhow!(
                "the answer is larger than {}: ioctl refuses answers that large",
                crate::files::size(self.limits.max_answer as u64)
            )
        };
        let declared =
            parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.limits.max_answer) {
            return Err(too_large());
        }
        let bytes = Limited::new(body, self.limits.max_answer).collect().await.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                too_large()
            } else {
                anyhow::anyhow!("the answer broke off: {e}")
            }
        })?;
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            if DROPPED_ANSWER.contains(&name.as_str()) {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers.entry(name.as_str().to_string()).and_modify(|v| *v = format!("{v}, {value}")).or_insert(value);
        }
        let body = bytes.to_bytes();
        let body = (!body.is_empty()).then(|| body.to_vec());
        Ok(Answer { status: parts.status.as_u16(), headers, body, source: Source::Cloud, message: None })
    }

    /// `acme.vtexcommercestable.com.br` → `ACCOUNT.vtex...`, `dev--acme.myvtex.com` → `dev--ACCOUNT...`.
    fn rename_host(&self, authority: &str) -> String {
        super::call::with_account_label(authority, &self.linked.account, |workspace| match workspace {
            None => self.account.clone(),
            Some(ws) => format!("{ws}--{}", self.account),
        })
    }

    /// Path segments and `an=` naming the linked account name ACCOUNT instead.
    fn rename_path(&self, path_and_query: &str) -> String {
        let linked = &self.linked.account;
        if *linked == self.account {
            return path_and_query.to_string();
        }
        let (path, query) = path_and_query.split_once('?').map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let path: Vec<&str> = path.split('/').map(|s| if s == linked { self.account.as_str() } else { s }).collect();
        let mut out = path.join("/");
        if let Some(q) = query {
            let an = format!("an={linked}");
            let pairs: Vec<String> =
                q.split('&').map(|p| if p == an { format!("an={}", self.account) } else { p.to_string() }).collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    /// A write without `--cloud-writes`: refused with 403, which an app's error handling reads
    /// as "not allowed" and @vtex/api does not retry (it retries 5xx of idempotent methods,
    /// PUT and DELETE included, so a 501 would be sent again and again).
    fn refused(&self, call: &Outbound) -> Answer {
        let message = format!(
            "{} {} would write to your VTEX account {}: ioctl refuses writes to the real account unless the link has --cloud-writes; answer it with a fixture (--fixtures DIR), or link again with --cloud-writes to let it through",
            call.method, call.url, self.account
        );
        let mut answer = failure(403, message);
        answer.source = Source::Missing;
        answer
    }
}

impl Answerer for Cloud {
    fn answer<'a>(
        &'a self,
        call: &'a Outbound,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Answer>> + Send + 'a>> {
        Box::pin(self.ask(call))
    }
}

/// Whether the call changes something: any method but GET, HEAD and OPTIONS, except a GraphQL
/// query sent as a POST and VTEX's read-only POSTs ([`READ_ONLY_POSTS`]).
fn writes(view: &CallView) -> bool {
    match view.method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => false,
        "POST" => {
            let path = view.url.path();
            let graphql_query = view.graphql().is_some_and(|g| g.kind == OperationKind::Query);
            !(graphql_query || READ_ONLY_POSTS.iter().any(|p| path.ends_with(p)))
        }
        _ => true,
    }
}

/// A cookie header without VTEX ID's cookies (the app's are local tokens).
fn without_auth_cookies(cookie: &str) -> String {
    cookie
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.to_ascii_lowercase().starts_with("vtexidclientautcookie"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A credential as a header value, marked sensitive (hyper keeps it out of its debug output).
fn secret(value: &str) -> anyhow::Result<HeaderValue> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| anyhow::anyhow!("the credential holds characters a header cannot carry"))?;
    v.set_sensitive(true);
    Ok(v)
}

/// The cloud could not answer: a 502/504 whose `message` (and JSON body) says why.
fn failure(status: u16, message: String) -> Answer {
    let code = match status {
        403 => "IOCTL_CLOUD_WRITE_REFUSED",
        504 => "IOCTL_CLOUD_TIMEOUT",
        _ => "IOCTL_CLOUD_UNREACHABLE",
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let headers = [("content-type".to_string(), "application/json; charset=utf-8".to_string())].into();
    Answer { status, headers, body: serde_json::to_vec(&body).ok(), source: Source::Cloud, message: Some(message) }
}

/// `IOCTL_CLOUD_URL`: an http(s) URL with a host; its path is a prefix.
fn parse_base(text: &str) -> anyhow::Result<Base> {
    let uri: hyper::Uri = text.parse().map_err(|e| anyhow::anyhow!("IOCTL_CLOUD_URL `{text}` is not a URL: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s.to_string(),
        _ => anyhow::bail!("IOCTL_CLOUD_URL `{text}` is not an http:// or https:// URL"),
    };
    let authority = uri.authority().ok_or_else(|| anyhow::anyhow!("IOCTL_CLOUD_URL `{text}` names no host"))?;
    Ok(Base { scheme, authority: authority.to_string(), prefix: uri.path().trim_end_matches('/').to_string() })
}

/// HTTPS (and, for IOCTL_CLOUD_URL, plain HTTP) with rustls on ring and Mozilla's roots.
fn https_client(connect: Duration) -> anyhow::Result<HttpsClient> {
    use hyper_rustls::ConfigBuilderExt as _;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect));
    // rustls 0.23.48 deprecates ring's provider for lacking post-quantum key exchange; the
    // alternative (aws-lc-rs) is a much larger C build for every developer. X25519 and P-256,
    // as most HTTPS clients still use, are what this provider offers.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_webpki_roots()
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(8)
        .build(https))
}

#[cfg(test)]
mod tests;
