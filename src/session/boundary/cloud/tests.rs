//! The cloud against a fake one: a hyper server on 127.0.0.1:0 reached through
//! `IOCTL_CLOUD_URL`, which records what it was sent.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Mutex;

use http_body_util::combinators::BoxBody;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;

use super::*;
use crate::lock::Locked;
use crate::protocol::stream::Output;

const KEY: &str = "vtexappkey-acme-ABCDEF";
const TOKEN: &str = "APPTOKEN-very-secret-0123456789";

/// One request the fake cloud got.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// The fake cloud: answers by path (`/slow` never, `/big` and `/chunked` with 2 KiB, others
/// with a JSON echo of the path) and keeps what it was sent.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn fake() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move { Ok::<_, Infallible>(serve(req, log).await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Fake { url, seen }
}

async fn serve(
    req: hyper::Request<hyper::body::Incoming>,
    log: Arc<Mutex<Vec<Seen>>>,
) -> hyper::Response<BoxBody<Bytes, Infallible>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    let headers = parts.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let path = parts.uri.path().to_string();
    log.locked().push(Seen { method: parts.method.to_string(), uri: parts.uri.to_string(), headers, body });
    let full = |b: Vec<u8>| Full::new(Bytes::from(b)).boxed();
    match path.as_str() {
        "/slow" => std::future::pending().await,
        "/big" => hyper::Response::new(full(vec![b'x'; 2048])),
        "/chunked" => {
            let frames = (0..4).map(|_| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'y'; 512]))));
            hyper::Response::new(BodyExt::boxed(http_body_util::StreamBody::new(tokio_stream::iter(frames))))
        }
        _ => hyper::Response::builder()
            .status(if path.ends_with("/missing") { 404 } else { 200 })
            .header("content-type", "application/json")
            .header("set-cookie", "VtexIdclientAutCookie_acme=from-cloud")
            .body(full(serde_json::to_vec(&serde_json::json!({"path": path})).unwrap()))
            .unwrap(),
    }
}

fn options(fake: &Fake, credentials: Credentials) -> CloudOptions {
    CloudOptions {
        account: "realacct".into(),
        credentials,
        writes: false,
        record: None,
        base_url: Some(fake.url.clone()),
    }
}

fn linked() -> Scope {
    Scope { account: "local".into(), workspace: "dev".into() }
}

fn app_key() -> Credentials {
    Credentials::AppKey { key: KEY.into(), token: TOKEN.into() }
}

fn cloud(options: &CloudOptions, limits: Limits) -> Cloud {
    Cloud::new(options, linked(), Terminal::discard(), limits).unwrap()
}

fn call(method: &str, url: &str, body: Option<&str>) -> Outbound {
    Outbound {
        via: "test".into(),
        method: method.into(),
        url: url.into(),
        headers: [
            ("authorization", "local-app-token"),
            ("vtexidclientautcookie", "local-admin-token"),
            ("cookie", "VtexIdclientAutCookie_local=local-shopper; vtex_segment=seg1"),
            ("x-vtex-use-https", "true"),
            ("accept-encoding", "gzip"),
            ("x-ioctl-session-data", "e30="),
            ("x-custom", "kept"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        body: body.map(|b| b.as_bytes().to_vec()),
        app: None,
    }
}

fn text(a: &Answer) -> String {
    String::from_utf8(a.body.clone().unwrap_or_default()).unwrap()
}

#[tokio::test]
async fn calls_go_to_the_account_with_the_developers_credentials_only() {
    let fake = fake().await;
    let c = cloud(&options(&fake, app_key()), Limits::default());
    let url =
        "http://local.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/1?an=local&x=local";
    let a = c.answer(&call("GET", url, None)).await.unwrap();
    assert_eq!((a.status, a.source, a.message.as_deref()), (200, Source::Cloud, None), "{}", text(&a));
    assert_eq!(text(&a), r#"{"path":"/api/catalog_system/pvt/sku/stockkeepingunitbyid/1"}"#);
    assert_eq!(a.headers["content-type"], "application/json");
    let seen = fake.seen.locked()[0].clone();
    assert_eq!(seen.uri, "/api/catalog_system/pvt/sku/stockkeepingunitbyid/1?an=realacct&x=local");
    assert_eq!(
        seen.headers["x-forwarded-host"], "realacct.vtexcommercestable.com.br",
        "VTEX's host, the account renamed"
    );
    assert_eq!(
        (seen.headers["x-vtex-api-appkey"].as_str(), seen.headers["x-vtex-api-apptoken"].as_str()),
        (KEY, TOKEN)
    );
    assert_eq!(seen.headers["cookie"], "vtex_segment=seg1", "VTEX ID's cookies (local tokens) are not sent");
    assert_eq!(seen.headers["x-custom"], "kept");
    for gone in
        ["authorization", "vtexidclientautcookie", "x-vtex-use-https", "accept-encoding", "x-ioctl-session-data"]
    {
        assert!(!seen.headers.contains_key(gone), "{gone}: {seen:?}");
    }

    // The token of `vtex login` goes as VtexIdclientAutCookie; paths naming the account too.
    let token = Credentials::Token { token: "eyJhbGciOiJFUzI1NiJ9.login.token".into() };
    let c = cloud(&options(&fake, token), Limits::default());
    let a = c.answer(&call("GET", "https://api.vtex.com/local/dataentities/CL/missing", None)).await.unwrap();
    assert_eq!(a.status, 404, "VTEX's status is passed on");
    let seen = fake.seen.locked()[1].clone();
    assert_eq!(seen.uri, "/realacct/dataentities/CL/missing");
    assert_eq!(seen.headers["x-forwarded-host"], "api.vtex.com");
    assert_eq!(seen.headers["vtexidclientautcookie"], "eyJhbGciOiJFUzI1NiJ9.login.token");
    assert!(!seen.headers.contains_key("x-vtex-api-appkey"));

    // Not VTEX's: not the cloud's to answer, and no credential leaves.
    assert!(c.answer(&call("GET", "https://example.com/api", None)).await.is_none());
    assert!(c.answer(&call("GET", "not a url", None)).await.is_none());
    assert_eq!(fake.seen.locked().len(), 2);
    assert!(
        c.describe().contains("account realacct through IOCTL_CLOUD_URL") && !c.describe().contains("eyJ"),
        "{}",
        c.describe()
    );
}

#[tokio::test]
async fn writes_are_refused_unless_allowed_but_reads_sent_as_posts_go_through() {
    let fake = fake().await;
    let mut opts = options(&fake, app_key());
    let c = cloud(&opts, Limits::default());
    let orders = "https://local.vtexcommercestable.com.br/api/oms/pvt/orders/1/cancel";
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let a = c.answer(&call(method, orders, Some("{}"))).await.unwrap();
        assert_eq!((a.status, a.source), (403, Source::Missing), "{method}");
        let m = a.message.clone().unwrap();
        assert!(
            m.starts_with(&format!("{method} {orders} would write to your VTEX account realacct"))
                && m.contains("--cloud-writes"),
            "{m}"
        );
        let body: serde_json::Value = serde_json::from_slice(&a.body.unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "IOCTL_CLOUD_WRITE_REFUSED");
    }
    let mutation = r#"{"query": "mutation Save { save }"}"#;
    let graphql = "http://app.io.vtex.com/vtex.search-graphql/v0/local/dev/_v/graphql";
    assert_eq!(c.answer(&call("POST", graphql, Some(mutation))).await.unwrap().status, 403);
    assert!(fake.seen.locked().is_empty(), "nothing was sent");

    let query = r#"{"query": "query Search { search }"}"#;
    assert_eq!(c.answer(&call("POST", graphql, Some(query))).await.unwrap().status, 200);
    let validate = "https://vtexid.vtex.com.br/api/vtexid/credential/validate";
    assert_eq!(c.answer(&call("POST", validate, Some(r#"{"token": "t"}"#))).await.unwrap().status, 200);
    let seen = fake.seen.locked().clone();
    assert_eq!(seen[0].uri, "/vtex.search-graphql/v0/realacct/dev/_v/graphql");
    assert_eq!((seen[0].method.as_str(), seen[0].body.as_slice()), ("POST", query.as_bytes()));

    opts.writes = true;
    let c = cloud(&opts, Limits::default());
    let a = c.answer(&call("DELETE", orders, None)).await.unwrap();
    assert_eq!((a.status, a.source), (200, Source::Cloud));
    assert_eq!(fake.seen.locked().last().unwrap().method, "DELETE");
}

#[tokio::test]
async fn answers_too_large_or_too_slow_and_closed_ports_are_said() {
    let fake = fake().await;
    let limits = Limits { connect: CONNECT_TIMEOUT, answer: Duration::from_millis(300), max_answer: 1024 };
    let c = cloud(&options(&fake, app_key()), limits);
    for path in ["/big", "/chunked"] {
        let a = c.answer(&call("GET", &format!("https://api.vtex.com{path}"), None)).await.unwrap();
        let m = a.message.unwrap();
        assert_eq!(a.status, 502, "{path}: {m}");
        assert!(m.ends_with("the answer is larger than 1 KiB: ioctl refuses answers that large"), "{path}: {m}");
    }
    let a = c.answer(&call("GET", "https://api.vtex.com/slow", None)).await.unwrap();
    assert_eq!(
        (a.status, a.message.as_deref()),
        (504, Some("GET https://api.vtex.com/slow: VTEX did not answer within 0.3 s"))
    );

    // A port nobody listens on (bound, then closed).
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let mut opts = options(&fake, app_key());
    opts.base_url = Some(format!("http://{closed}"));
    let a = cloud(&opts, Limits::default()).answer(&call("GET", "https://api.vtex.com/x", None)).await.unwrap();
    let m = a.message.unwrap();
    assert_eq!(a.status, 502);
    assert!(m.starts_with("GET https://api.vtex.com/x: ") && m.to_lowercase().contains("refused"), "{m}");
    assert!(!m.contains(TOKEN) && !m.contains(KEY));
}

#[tokio::test]
async fn recorded_answers_hold_no_credential_and_answer_again_offline() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let mut opts = options(&fake, app_key());
    opts.record = Some(rec.clone());
    let (terminal, mut out) = Terminal::channel();
    let c = Cloud::new(&opts, linked(), terminal, Limits::default()).unwrap();
    assert!(format!("{opts:?}").contains("<redacted>") && !format!("{opts:?}").contains(TOKEN));
    let sku =
        call("GET", "https://local.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/7", None);
    let live = c.answer(&sku).await.unwrap();
    assert_eq!(live.status, 200);
    // A refused write is not recorded.
    c.answer(&call("POST", "https://local.vtexcommercestable.com.br/api/x", Some("{}"))).await.unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&rec).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let written = std::fs::read_to_string(&files[0]).unwrap();
    for secret in [KEY, TOKEN, "local-app-token", "local-admin-token", "from-cloud", "127.0.0.1"] {
        assert!(!written.contains(secret), "{secret} in:\n{written}");
    }
    assert!(
        written
            .contains("https://{account}.vtexcommercestable.com.br/api/catalog_system/pvt/sku/stockkeepingunitbyid/7"),
        "{written}"
    );
    let (fixtures, _) = super::super::fixtures::Fixtures::load(vec![rec], dir.path(), linked());
    let (offline, _) = fixtures.find(&sku).unwrap();
    assert_eq!((offline.status, offline.body), (live.status, live.body));
    drop(c);
    while let Ok(o) = out.try_recv() {
        assert!(!matches!(o, Output::Log { level: Level::Warn, .. }), "no recording failure: {o:?}");
    }
}

#[test]
fn a_bad_cloud_url_is_refused_at_start() {
    let opts = |u: &str| CloudOptions {
        account: "a".into(),
        credentials: app_key(),
        writes: false,
        record: None,
        base_url: Some(u.into()),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = rt.enter();
    for (url, says) in
        [("ftp://x", "not an http:// or https:// URL"), ("/just/a/path", "not an http:// or https:// URL")]
    {
        let e = Cloud::new(&opts(url), linked(), Terminal::discard(), Limits::default()).err().unwrap().to_string();
        assert!(e.contains(says), "{url}: {e}");
    }
    let c = Cloud::new(&opts("http://127.0.0.1:9/prefix/"), linked(), Terminal::discard(), Limits::default()).unwrap();
    assert_eq!(c.base.unwrap().prefix, "/prefix");
}
