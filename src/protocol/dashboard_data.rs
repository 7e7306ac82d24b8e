//! The dashboard API's answers and requests for its actions (send, replay, dead letters, try
//! a route) and its Data page (settings, VBase, Master Data): the wire the page's scripts
//! read (src/session/dashboard/web), in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::DeadLetter;

/// `GET /_ioctl/api/settings/{app}`: the settings the app gets (defaults filled in) and the
/// schema the page makes its form of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub app: String,
    pub schema: Option<Value>,
    pub value: Value,
}

/// One field a value was refused for: its JSON pointer (`/a/b`, `/` for the whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub path: String,
    pub message: String,
}

/// `GET /_ioctl/api/vbase`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Buckets {
    pub buckets: Vec<Bucket>,
}

/// An app's VBase bucket and how many live files it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub app: String,
    pub bucket: String,
    pub files: u64,
}

/// `GET /_ioctl/api/vbase/files`: a bucket's files in path order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VbaseFiles {
    pub files: Vec<VbaseItem>,
    /// Whether the bucket holds more than were listed.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VbaseItem {
    pub path: String,
    pub hash: String,
}

/// `GET /_ioctl/api/vbase/file`: a file's content, and the hash to send back as `if_match`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VbaseFile {
    pub path: String,
    pub hash: String,
    pub content_type: String,
    /// The text, or base64 of the bytes when `base64` (not UTF-8, or saved gzipped).
    pub content: String,
    #[serde(default)]
    pub base64: bool,
}

/// A saved VBase file's new hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedFile {
    pub hash: String,
}

/// `GET /_ioctl/api/masterdata`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entities {
    pub entities: Vec<Entity>,
}

/// A Master Data entity: its documents and schemas.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entity {
    pub entity: String,
    pub documents: u64,
    pub schemas: Vec<String>,
}

/// `GET /_ioctl/api/masterdata/{entity}/search`: one page of a search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchPage {
    pub total: u64,
    pub page: usize,
    pub page_size: usize,
    pub documents: Vec<Value>,
}

/// `POST /_ioctl/api/events/send`: one event, as `ioctl events send` publishes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendEvent {
    pub sender: String,
    pub key: String,
    #[serde(default)]
    pub body: Value,
}

/// What a send published: the event's id and how many handlers it went to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub id: String,
    pub deliveries: u64,
}

/// `POST /_ioctl/api/events/replay`: deliver an event again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayEvent {
    pub id: String,
}

/// `POST /_ioctl/api/dead-letters/replay`: one app's letters, one event's, or all (neither).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplayLetters {
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `GET /_ioctl/api/templates`: a platform event of `ioctl events trigger`, to start from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub sender: String,
    pub key: String,
    pub body: Value,
}

/// `GET /_ioctl/api/dead-letters`: the letters (newest first), and how many each app dropped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetters {
    pub bound: usize,
    pub dropped: BTreeMap<String, u64>,
    pub letters: Vec<Arc<DeadLetter>>,
}

/// `POST /_ioctl/api/try`: one request to a linked app's route, as a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TryRoute {
    pub method: String,
    /// The path on the session (`/_v/...`, or the app's private path).
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// `admin`, `shopper` or `anonymous`.
    #[serde(default, rename = "as")]
    pub user: Option<String>,
}

/// The route's answer (its body as text, capped).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tried {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    #[serde(default)]
    pub truncated: bool,
    pub elapsed_ms: f64,
    /// The request's trace in the journal (`GET /_ioctl/api/traces/{trace}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<u64>,
}
