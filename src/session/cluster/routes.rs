//! Routes and app-to-app calls across the team workspace: a request for an app's private
//! domain (`/{vendor}.{name}/v{major}/{account}/{workspace}/…`) that no app linked here serves
//! is forwarded over NATS request/reply to a machine that links it (its replicas answer as one
//! queue group); that machine serves it with the caller this one identified (the same token
//! rules), and the answer comes back whole. A body over the server's max payload is refused
//! with 413 rather than cut.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::stream::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Cluster;
use crate::protocol::cluster::{self as wire, ForwardedAnswer, ForwardedRequest};
use crate::session::gateway::{Gateway, Reach, Visitor};
use crate::session::identity::User;

/// How long a forwarded request may take (the route's own `timeout` is applied where it runs;
/// this only bounds a machine that went away mid-request).
const FORWARD_LIMIT: Duration = Duration::from_secs(120);
/// Forwarded requests one machine serves at once per app.
const SERVING: usize = 64;
/// Room kept for the head (the JSON header) within the server's max payload.
const HEAD_ROOM: usize = 16 << 10;

fn reach_name(r: Reach) -> &'static str {
    match r {
        Reach::Private => "private",
        Reach::Graphql => "graphql",
        Reach::Public(_) => "public",
    }
}

fn reach_of(name: &str) -> Reach {
    match name {
        "private" => Reach::Private,
        "graphql" => Reach::Graphql,
        _ => Reach::Public(None),
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    (status, text).into_response()
}

/// Forwards `req` (on app `id`'s domain, major `major`) to a machine that links the app;
/// `None` when no machine of the workspace does (or the id is not one).
pub async fn forward(cluster: &Cluster, req: Request, id: &str, major: &str, visitor: Visitor) -> Option<Response> {
    let subject = wire::app_subject(cluster.scope(), id, major)?;
    let max = cluster.max_payload();
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, max.saturating_sub(HEAD_ROOM)).await {
        Ok(b) => b,
        Err(_) => {
            let text = format!(
                "the request body is over what the team workspace's NATS server carries ({} bytes, its max_payload): \
                 {id} is linked on another machine\n",
                max.saturating_sub(HEAD_ROOM)
            );
            return Some(plain(StatusCode::PAYLOAD_TOO_LARGE, text));
        }
    };
    let head = ForwardedRequest {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        user: visitor.user.as_str().to_string(),
        chosen: visitor.chosen,
        reach: reach_name(visitor.reach).to_string(),
    };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(wire::HEAD_HEADER, serde_json::to_string(&head).unwrap_or_default().as_str());
    let request = async_nats::Request::new().headers(headers).payload(body).timeout(Some(FORWARD_LIMIT));
    let answer = match cluster.client.send_request(subject, request).await {
        Ok(m) => m,
        Err(e) => {
            use async_nats::RequestErrorKind as K;
            return match e.kind() {
                K::NoResponders => None,
                K::TimedOut => Some(plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("{id} (linked on another machine) did not answer within {} s\n", FORWARD_LIMIT.as_secs()),
                )),
                _ => Some(plain(
                    StatusCode::BAD_GATEWAY,
                    format!("{id} is linked on another machine, which the team workspace cannot reach now: {e}\n"),
                )),
            };
        }
    };
    let head: Option<ForwardedAnswer> = answer
        .headers
        .as_ref()
        .and_then(|h| h.get(wire::HEAD_HEADER))
        .and_then(|v| serde_json::from_str(v.as_str()).ok());
    let Some(head) = head else {
        return Some(plain(
            StatusCode::BAD_GATEWAY,
            format!("{id}'s machine answered something else than a route's answer\n"),
        ));
    };
    let mut resp = Response::builder().status(head.status);
    for (k, v) in &head.headers {
        resp = resp.header(k, v);
    }
    tracing::debug!(app = id, machine = %head.machine, status = head.status, "answered by another machine");
    Some(resp.body(Body::from(answer.payload)).unwrap_or_else(|e| plain(StatusCode::BAD_GATEWAY, format!("{e}\n"))))
}

/// Answers the team workspace's requests for one linked app's routes, until `stop`.
pub struct Responder {
    pub cluster: Arc<Cluster>,
    pub gateway: Gateway,
    /// `vendor.name` and its major.
    pub id: String,
    pub major: String,
    pub tracker: TaskTracker,
    pub stop: CancellationToken,
}

impl Responder {
    pub async fn run(self) {
        let Some(subject) = wire::app_subject(self.cluster.scope(), &self.id, &self.major) else { return };
        let mut requests = loop {
            match self.cluster.client.queue_subscribe(subject.clone(), "replicas".to_string()).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(app = %self.id, error = %e, "cannot answer the team workspace's requests; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = self.stop.cancelled() => return,
            }
        };
        let room = Arc::new(Semaphore::new(SERVING));
        let me = Arc::new(self);
        loop {
            let message = tokio::select! {
                m = requests.next() => match m { Some(m) => m, None => break },
                _ = me.stop.cancelled() => break,
            };
            let Ok(permit) = room.clone().acquire_owned().await else { break };
            let me2 = me.clone();
            me.tracker.spawn(async move {
                let _permit = permit;
                me2.answer(message).await;
            });
        }
        let _ = requests.unsubscribe().await;
    }

    async fn answer(&self, message: async_nats::Message) {
        let Some(reply) = message.reply.clone() else { return };
        let (status, headers, body) = match self.serve(&message).await {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                let max = self.cluster.max_payload().saturating_sub(HEAD_ROOM);
                match axum::body::to_bytes(body, max).await {
                    Ok(b) => {
                        let headers = parts
                            .headers
                            .iter()
                            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
                            .collect();
                        (parts.status.as_u16(), headers, b)
                    }
                    Err(_) => (
                        502,
                        Vec::new(),
                        format!(
                            "{}'s answer is over what the team workspace's NATS server carries ({max} bytes)\n",
                            self.id
                        )
                        .into(),
                    ),
                }
            }
            Err(text) => (400, Vec::new(), text.into()),
        };
        let head = ForwardedAnswer { status, headers, machine: self.cluster.machine().to_string() };
        let mut h = async_nats::HeaderMap::new();
        h.insert(wire::HEAD_HEADER, serde_json::to_string(&head).unwrap_or_default().as_str());
        if let Err(e) = self.cluster.client.publish_with_headers(reply, h, body).await {
            tracing::warn!(app = %self.id, error = %e, "could not answer a request of the team workspace");
        }
    }

    /// Serves one forwarded request on this machine's routes (never forwarded again).
    async fn serve(&self, message: &async_nats::Message) -> Result<Response, String> {
        let head: ForwardedRequest = message
            .headers
            .as_ref()
            .and_then(|h| h.get(wire::HEAD_HEADER))
            .and_then(|v| serde_json::from_str(v.as_str()).ok())
            .ok_or("not a forwarded request\n")?;
        let mut req = axum::http::Request::builder().method(head.method.as_str()).uri(head.uri.as_str());
        for (k, v) in &head.headers {
            req = req.header(k, v);
        }
        let req = req.body(Body::from(message.payload.clone())).map_err(|e| format!("bad forwarded request: {e}\n"))?;
        let visitor = Visitor {
            user: User::parse(&head.user).unwrap_or(User::Anonymous),
            chosen: head.chosen,
            reach: reach_of(&head.reach),
        };
        let path = req.uri().path().to_string();
        let (domain, local) = self.gateway.domain_of(&path);
        Ok(match self.gateway.serve_here(req, &local, &domain, visitor).await {
            Some(resp) => resp,
            None => plain(StatusCode::NOT_FOUND, format!("no route matches {path} in {}\n", self.cluster.scope())),
        })
    }
}
