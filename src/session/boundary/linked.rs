//! Outbound calls an app linked in the workspace answers: an AppClient's or AppGraphQLClient's
//! call to `http://app.io.vtex.com/{vendor}.{name}/v{major}/{account}/{workspace}/{path}` goes
//! to that app's private domain, and a call to the workspace's store domain
//! (`{workspace}--{account}.myvtex.com/{path}`) to the session's public routes, through the
//! same gateway the session's HTTP server uses. An app's call reaches private routes (an app's
//! token does on VTEX); its user is the local user whose token it forwards, if any.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method};

use super::target::{Host, Target};
use crate::runtime::outbound::{Answer, Outbound, Source};
use crate::session::gateway::{Gateway, Reach, Visitor};
use crate::session::identity::User;
use crate::session::routes::Domain;

/// The largest answer an app's call gets from another app (it crosses the host's socket as
/// one base64 line).
pub const MAX_ANSWER: usize = 16 << 20;

/// The linked app's answer; `None` when no app linked here is the call's.
pub async fn answer(gateway: &Gateway, call: &Outbound, target: &Target) -> Option<Answer> {
    // The store domain of this workspace only (`{account}.myvtex.com` is the master workspace).
    let scope = gateway.scope();
    let scope_ok = |account: &str, workspace: Option<&str>| {
        account.eq_ignore_ascii_case(&scope.account)
            && workspace.is_some_and(|w| w.eq_ignore_ascii_case(&scope.workspace))
    };
    let (domain, local) = match &target.host {
        Host::AppIo => match gateway.domain_of(&target.path) {
            // Linked here, or perhaps on another machine of the team workspace.
            (Domain::App { id, major }, local) if gateway.serves(&id, &major) || gateway.has_team() => {
                (Domain::App { id, major }, local)
            }
            _ => return None,
        },
        Host::Store { account, workspace } if scope_ok(account, workspace.as_deref()) => {
            (Domain::Store, target.path.clone())
        }
        _ => return None,
    };
    let request = request(call, target, &local).ok()?;
    let user = gateway.identity().carried(request.headers()).unwrap_or(User::Anonymous);
    let visitor = Visitor { user, chosen: false, reach: Reach::Private };
    let resp = gateway.serve(request, &local, &domain, visitor).await?;
    Some(into_answer(resp).await)
}

/// The call as a request to the app's host.
fn request(call: &Outbound, target: &Target, local: &str) -> anyhow::Result<axum::extract::Request> {
    let query = target.raw_query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
    let mut req = axum::http::Request::builder()
        .method(Method::from_bytes(call.method.to_ascii_uppercase().as_bytes())?)
        .uri(format!("{local}{query}"))
        .body(Body::from(call.body.clone().unwrap_or_default()))?;
    let headers = req.headers_mut();
    for (name, value) in &call.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.append(n, v);
        }
    }
    // The host the app addressed, as the app on VTEX would see it.
    headers.insert(axum::http::header::HOST, HeaderValue::from_str(&target.host_name)?);
    Ok(req)
}

async fn into_answer(resp: axum::response::Response) -> Answer {
    let (parts, body) = resp.into_parts();
    let mut headers = std::collections::BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value)
            })
            .or_insert(value);
    }
    match axum::body::to_bytes(body, MAX_ANSWER).await {
        Ok(bytes) => Answer {
            status: parts.status.as_u16(),
            headers,
            body: (!bytes.is_empty()).then(|| bytes.to_vec()),
            source: Source::Linked,
            message: None,
        },
        Err(e) => {
            let message =
                format!("the linked app's answer could not be read whole (at most {} MiB): {e}", MAX_ANSWER >> 20);
            Answer {
                status: 502,
                headers: Default::default(),
                body: Some(serde_json::json!({ "message": message }).to_string().into_bytes()),
                source: Source::Linked,
                message: Some(message),
            }
        }
    }
}
