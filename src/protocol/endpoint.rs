//! The control API's calls that answer with one JSON value: each request type names its
//! method and path and the type of its answer, so neither side can pair a path with another
//! endpoint's answer. (The streaming paths — tail, publish, failed, link — answer NDJSON.)

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{path, GraphqlApp, PlatformSettings, ReplayRequest, ReplayResponse, SessionInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One call of the control API: the request (sent as the JSON body with `POST`; `GET` and
/// `DELETE` carry what they need in the path) and the answer it gets.
pub trait Endpoint: Serialize {
    const METHOD: Method;
    type Response: Serialize + DeserializeOwned;
    /// The path this request goes to (with its id or query, for those that take one).
    fn path(&self) -> String;
}

/// `GET /_ioctl/session`: the session's scope and counts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GetSession;

impl Endpoint for GetSession {
    const METHOD: Method = Method::Get;
    type Response = SessionInfo;
    fn path(&self) -> String {
        path::SESSION.into()
    }
}

/// `GET /_ioctl/graphql/apps`: the linked apps' GraphQL endpoints, by app id.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ListGraphqlApps;

impl Endpoint for ListGraphqlApps {
    const METHOD: Method = Method::Get;
    type Response = Vec<GraphqlApp>;
    fn path(&self) -> String {
        path::GRAPHQL_APPS.into()
    }
}

impl Endpoint for ReplayRequest {
    const METHOD: Method = Method::Post;
    type Response = ReplayResponse;
    fn path(&self) -> String {
        path::REPLAY.into()
    }
}

/// `DELETE /_ioctl/events/{job}`: stops a running publish (its stream then ends with the count).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StopPublish {
    pub job: u64,
}

/// The answer to [`StopPublish`]: the job that is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopping {
    pub stopping: u64,
}

impl Endpoint for StopPublish {
    const METHOD: Method = Method::Delete;
    type Response = Stopping;
    fn path(&self) -> String {
        format!("{}/{}", path::EVENTS, self.job)
    }
}

/// `DELETE /_ioctl/apps/{id}[?force=true]`: a graceful unlink, or with `force` (a second
/// Ctrl-C) one that ends the app's processes without waiting for running handlers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Unlink {
    /// The link, as the link's answer named it in [`path::LINK_ID_HEADER`].
    pub id: u64,
    pub force: bool,
}

/// The answer to [`Unlink`]: the link that is being unlinked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlinking {
    pub unlinking: u64,
}

impl Endpoint for Unlink {
    const METHOD: Method = Method::Delete;
    type Response = Unlinking;
    fn path(&self) -> String {
        let force = if self.force { "?force=true" } else { "" };
        format!("{}/{}{force}", path::APPS, self.id)
    }
}

/// `POST /_ioctl/platform/reload`: the workspace's platform settings were changed on disk
/// (`ioctl platform set`, `data import | reset`): the session reads them again and answers
/// them, so the next request's identity and the local services use them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ReloadPlatform;

impl Endpoint for ReloadPlatform {
    const METHOD: Method = Method::Post;
    type Response = PlatformSettings;
    fn path(&self) -> String {
        path::PLATFORM_RELOAD.into()
    }
}

/// `POST /_ioctl/dashboard/login`: a fresh one-time login link to the dashboard.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NewDashboardLogin;

/// The answer to [`NewDashboardLogin`]: the link that logs a browser in (once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardLogin {
    pub url: String,
}

impl Endpoint for NewDashboardLogin {
    const METHOD: Method = Method::Post;
    type Response = DashboardLogin;
    fn path(&self) -> String {
        path::DASHBOARD_LOGIN.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_call_goes_to_its_path() {
        assert_eq!((GetSession::METHOD, GetSession.path()), (Method::Get, "/_ioctl/session".into()));
        assert_eq!(ListGraphqlApps.path(), "/_ioctl/graphql/apps");
        assert_eq!(ReplayRequest::default().path(), "/_ioctl/events/replay");
        assert_eq!((StopPublish::METHOD, StopPublish { job: 7 }.path()), (Method::Delete, "/_ioctl/events/7".into()));
        assert_eq!(Unlink { id: 3, force: false }.path(), "/_ioctl/apps/3");
        assert_eq!(Unlink { id: 3, force: true }.path(), "/_ioctl/apps/3?force=true");
        assert_eq!((ReloadPlatform::METHOD, ReloadPlatform.path()), (Method::Post, "/_ioctl/platform/reload".into()));
        assert_eq!(NewDashboardLogin.path(), "/_ioctl/dashboard/login");
    }

    #[test]
    fn answers_keep_their_wire_form() {
        assert_eq!(serde_json::to_string(&Stopping { stopping: 7 }).unwrap(), r#"{"stopping":7}"#);
        assert_eq!(serde_json::to_string(&Unlinking { unlinking: 3 }).unwrap(), r#"{"unlinking":3}"#);
        assert_eq!(serde_json::from_str::<Unlinking>(r#"{"unlinking":3}"#).unwrap(), Unlinking { unlinking: 3 });
        let apps = vec![GraphqlApp { app: "v.a@1.0.0".parse().unwrap(), path: "/v.a/v1/local/dev/_v/graphql".into() }];
        let text = serde_json::to_string(&apps).unwrap();
        assert_eq!(text, r#"[{"app":"v.a@1.0.0","path":"/v.a/v1/local/dev/_v/graphql"}]"#);
        assert_eq!(serde_json::from_str::<Vec<GraphqlApp>>(&text).unwrap(), apps);
    }
}
