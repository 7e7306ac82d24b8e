//! The messages ioctl and the Node host (host.js) exchange: one JSON object per line over a
//! unix socket. host/messages.js builds the host's side; both sides name every field in
//! snake_case, as ioctl's control API and streams do.
//!
//! No version travels with these messages: the host's JavaScript is embedded in this binary
//! and written to a cache folder named by the hash of its files (install.rs), so a host only
//! ever speaks with the build it came from.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::Event;

/// Where the host's `load` went, in ms.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoadTimings {
    /// Requiring the app's entry: its modules (and any package not preloaded) and their top level.
    pub require_ms: Option<f64>,
    /// Building the GraphQL schema (null when the Service declares no `graphql`).
    pub schema_ms: Option<f64>,
    /// The runtime's modules loaded from bundle.js, and those of them V8's code cache served.
    pub runtime_modules: Option<u32>,
    pub cached_modules: Option<u32>,
}

/// Node → ioctl.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromHost {
    /// The app's module loaded and exports a Service.
    Loaded {
        #[serde(default)]
        events: Vec<String>,
        #[serde(default)]
        routes: Vec<String>,
        /// Event handlers the Service declares that cannot be called, with what they are.
        #[serde(default)]
        bad_events: std::collections::BTreeMap<String, String>,
        /// `clients.options` of the Service (JSON values only), as the app wrote it.
        #[serde(default)]
        client_options: Value,
        /// The unix socket (IOCTL_ROUTES_SOCKET) the host serves the routes on, when it has any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routes_socket: Option<std::path::PathBuf>,
        /// The Service declares `graphql` and its schema built: served on the routes socket.
        #[serde(default)]
        graphql: bool,
        /// The packages the app required by name (and the runtime parts it used), for the
        /// next standby to preload.
        #[serde(default)]
        preload: Vec<String>,
        /// How long loading took inside Node.
        #[serde(default)]
        timings: LoadTimings,
    },
    /// A warm standby host is up and waits for `load`.
    Standby,
    /// Answer to `ping`: the event loop is not blocked.
    Pong { id: u64 },
    /// Requiring the app failed, or it exports no Service; the host exits after this.
    LoadError {
        message: String,
        #[serde(default)]
        stack: Option<String>,
        /// Problems positioned in the app's files (its GraphQL schema), when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        diagnostics: Option<Vec<HostDiagnostic>>,
    },
    /// console.* or ctx.vtex.logger.* output.
    Log {
        level: String,
        message: String,
        #[serde(default)]
        handler: Option<String>,
        #[serde(default)]
        delivery: Option<u64>,
    },
    /// A handler finished one attempt.
    Result {
        delivery: u64,
        ok: bool,
        #[serde(default)]
        elapsed_ms: f64,
        /// Why it failed (absent when `ok`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<HostError>,
    },
    /// A call of a local platform client (apps, vbase, masterdata): `call` is a
    /// [`crate::store::call::Call`], parsed on arrival so that a malformed one is answered.
    Platform { request: u64, call: Value },
    /// ctx.clients.events.sendEvent(subject, key, body).
    SendEvent {
        request: u64,
        subject: String,
        key: String,
        #[serde(default)]
        body: Value,
    },
}

/// A problem the host found at a place of one of the app's files (path relative to the app).
#[derive(Debug, Clone, Deserialize)]
pub struct HostDiagnostic {
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub line: usize,
    #[serde(default)]
    pub column: usize,
    pub message: String,
}

/// An error the app's code threw, as the host read it.
#[derive(Debug, Clone, Deserialize)]
pub struct HostError {
    #[serde(default)]
    pub name: String,
    pub message: String,
    #[serde(default)]
    pub stack: Option<String>,
}

/// Why a platform call failed: the status VTEX's service would answer, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformError {
    pub status: u16,
    pub message: String,
}

/// ioctl → Node.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHost<'a> {
    /// Run event handler `handler` on `event`; the host answers with a `result` of the same
    /// `delivery`. (`attempt`, 1 for the first, is for whoever reads the line: the host does not
    /// use it.)
    Deliver { delivery: u64, attempt: u32, handler: &'a str, event: &'a Event },
    /// The answer to one `send_event`: the published event's id, or why it was not.
    SendEventAck {
        request: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The answer to one `platform` call.
    PlatformResult {
        request: u64,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<PlatformError>,
    },
    /// Load the app (a standby host): `entry` is node/index.ts's absolute path, `env` the
    /// environment variables that changed since the standby started.
    Load { entry: &'a str, env: Value },
    /// Answered by `pong` with the same id, unless the event loop is blocked.
    Ping { id: u64 },
    /// Exit once what was written is flushed.
    Shutdown,
}

impl ToHost<'_> {
    pub fn line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("protocol messages serialize");
        s.push('\n');
        s
    }
}
