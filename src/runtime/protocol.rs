//! The messages ioctl and the Node host (host.js) exchange: one JSON object per line over a
//! unix socket. host/messages.js builds the host's side; both sides name every field in
//! snake_case, as ioctl's control API and streams do. src/runtime/fixtures/host-messages/ holds
//! an example line of each message, which this file's tests and the host's (`node --test`)
//! both check, so that a field renamed on one side fails the other's tests.
//!
//! No version travels with these messages: the host's JavaScript is embedded in this binary
//! and written to a cache folder named by the hash of its files (install.rs), so a host only
//! ever speaks with the build it came from.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::Event;

/// Where the host's `load` went, in ms.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
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
#[cfg_attr(test, derive(Serialize))]
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
    /// The host runs under `--inspect` (`link --inspect`): its inspector's WebSocket URL, on
    /// 127.0.0.1 and a port the OS chose. Its first line; with `waiting`, it waits for a
    /// debugger before it requires the app (`--inspect-brk`).
    Inspector {
        url: String,
        #[serde(default)]
        waiting: bool,
    },
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
    Platform {
        request: u64,
        /// The session's trace of the request or delivery attempt the call was made in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<u64>,
        call: Value,
    },
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
#[cfg_attr(test, derive(Serialize))]
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
#[cfg_attr(test, derive(Serialize))]
pub struct HostError {
    #[serde(default)]
    pub name: String,
    pub message: String,
    #[serde(default)]
    pub stack: Option<String>,
}

/// Why a platform call failed: the status VTEX's service would answer, and why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
pub struct PlatformError {
    pub status: u16,
    pub message: String,
}

/// ioctl → Node.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(Deserialize))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHost<'a> {
    /// Run event handler `handler` on `event`; the host answers with a `result` of the same
    /// `delivery`. (`attempt`, 1 for the first, is for whoever reads the line: the host does not
    /// use it.)
    Deliver {
        delivery: u64,
        attempt: u32,
        /// The attempt's trace: the host tags the platform calls made in it.
        trace: u64,
        handler: &'a str,
        /// Borrowed when ioctl sends it (a `Cow` so that the tests can read a fixture back).
        event: Cow<'a, Event>,
    },
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

#[cfg(test)]
mod tests {
    //! Every fixture in src/runtime/fixtures/host-messages/ read into its type and written back
    //! unchanged; the host's tests (test/host_messages.test.js) check its side against the same
    //! files.

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::runtime::outbound::{Answer, Outbound, Source};
    use crate::store::call::{AppsCall, Call, MasterdataCall, VbaseCall};

    /// `(name without .json, text)` of each fixture of one folder.
    fn fixtures(folder: &str) -> Vec<(String, String)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime/fixtures/host-messages").join(folder);
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        found.sort();
        found
            .into_iter()
            .map(|path| {
                let name = path.file_name().unwrap().to_str().unwrap().strip_suffix(".json").unwrap().to_string();
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.ends_with('\n') && text.lines().count() == 1,
                    "{}: one line, as on the wire",
                    path.display()
                );
                (name, text)
            })
            .collect()
    }

    /// The message type a fixture's name promises (`result.failed` is a `result`).
    fn kind(name: &str) -> &str {
        name.split('.').next().unwrap()
    }

    /// Every kind of message from the host: a new variant does not compile here until it is
    /// named, and then fails until it has a fixture.
    fn from_host_kind(message: &FromHost) -> &'static str {
        match message {
            FromHost::Loaded { .. } => "loaded",
            FromHost::Standby => "standby",
            FromHost::Inspector { .. } => "inspector",
            FromHost::Pong { .. } => "pong",
            FromHost::LoadError { .. } => "load_error",
            FromHost::Log { .. } => "log",
            FromHost::Result { .. } => "result",
            FromHost::Platform { .. } => "platform",
            FromHost::SendEvent { .. } => "send_event",
        }
    }
    const FROM_HOST: [&str; 9] =
        ["inspector", "load_error", "loaded", "log", "platform", "pong", "result", "send_event", "standby"];

    fn to_host_kind(message: &ToHost) -> &'static str {
        match message {
            ToHost::Deliver { .. } => "deliver",
            ToHost::SendEventAck { .. } => "send_event_ack",
            ToHost::PlatformResult { .. } => "platform_result",
            ToHost::Load { .. } => "load",
            ToHost::Ping { .. } => "ping",
            ToHost::Shutdown => "shutdown",
        }
    }
    const TO_HOST: [&str; 6] = ["deliver", "load", "ping", "platform_result", "send_event_ack", "shutdown"];

    /// `service.method` of a platform call.
    fn call_name(call: &Call) -> &'static str {
        match call {
            Call::Apps(AppsCall::GetAppSettings { .. }) => "apps.getAppSettings",
            Call::Apps(AppsCall::SaveAppSettings { .. }) => "apps.saveAppSettings",
            Call::Vbase(VbaseCall::GetFile { .. }) => "vbase.getFile",
            Call::Vbase(VbaseCall::SaveFile { .. }) => "vbase.saveFile",
            Call::Vbase(VbaseCall::DeleteFile { .. }) => "vbase.deleteFile",
            Call::Vbase(VbaseCall::ListFiles { .. }) => "vbase.listFiles",
            Call::Masterdata(MasterdataCall::Write { .. }) => "masterdata.write",
            Call::Masterdata(MasterdataCall::GetDocument { .. }) => "masterdata.getDocument",
            Call::Masterdata(MasterdataCall::DeleteDocument { .. }) => "masterdata.deleteDocument",
            Call::Masterdata(MasterdataCall::SearchDocuments { .. }) => "masterdata.searchDocuments",
            Call::Masterdata(MasterdataCall::ScrollDocuments { .. }) => "masterdata.scrollDocuments",
            Call::Masterdata(MasterdataCall::GetSchema { .. }) => "masterdata.getSchema",
            Call::Masterdata(MasterdataCall::CreateOrUpdateSchema { .. }) => "masterdata.createOrUpdateSchema",
        }
    }
    const CALLS: [&str; 13] = [
        "apps.getAppSettings",
        "apps.saveAppSettings",
        "masterdata.createOrUpdateSchema",
        "masterdata.deleteDocument",
        "masterdata.getDocument",
        "masterdata.getSchema",
        "masterdata.scrollDocuments",
        "masterdata.searchDocuments",
        "masterdata.write",
        "vbase.deleteFile",
        "vbase.getFile",
        "vbase.listFiles",
        "vbase.saveFile",
    ];

    #[test]
    fn every_message_from_the_host_reads_and_writes_back_as_its_fixture() {
        let mut kinds = BTreeSet::new();
        for (name, text) in fixtures("from-host") {
            let message: FromHost = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
            assert_eq!(from_host_kind(&message), kind(&name), "{name}.json");
            let fixture: Value = serde_json::from_str(&text).unwrap();
            // A field the type does not know (or names otherwise) would be dropped or defaulted here.
            assert_eq!(serde_json::to_value(&message).unwrap(), fixture, "{name}.json");
            if let FromHost::Platform { call, .. } = message {
                serde_json::from_value::<Call>(call).unwrap_or_else(|e| panic!("{name}.json: its call: {e}"));
            }
            kinds.insert(kind(&name).to_string());
        }
        assert_eq!(kinds, FROM_HOST.map(String::from).into(), "a fixture for every message from the host");
    }

    #[test]
    fn every_message_to_the_host_is_written_as_its_fixture_line() {
        let mut kinds = BTreeSet::new();
        for (name, text) in fixtures("to-host") {
            let message: ToHost = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
            assert_eq!(to_host_kind(&message), kind(&name), "{name}.json");
            // Byte for byte: the line ioctl writes on the socket.
            assert_eq!(message.line(), text, "{name}.json");
            // The answer to an `http` call is the boundary's Answer, as runtime/outbound.rs writes it.
            if let (true, ToHost::PlatformResult { value: Some(value), .. }) = (name.contains("http"), &message) {
                let answer: Answer =
                    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{name}.json: {e}"));
                assert_eq!(&serde_json::to_value(&answer).unwrap(), value, "{name}.json");
                assert_eq!(
                    answer.source == Source::Missing,
                    answer.message.is_some(),
                    "{name}.json: a message iff missing"
                );
            }
            kinds.insert(kind(&name).to_string());
        }
        assert_eq!(kinds, TO_HOST.map(String::from).into(), "a fixture for every message to the host");
    }

    #[test]
    fn every_platform_call_reads_and_writes_back_as_its_fixture() {
        let mut names = BTreeSet::new();
        for (name, text) in fixtures("platform-calls") {
            let fixture: Value = serde_json::from_str(&text).unwrap();
            if name == "http" {
                // An outbound HTTP call crossing the boundary (runtime/outbound.rs), not a store call.
                let outbound: Outbound =
                    serde_json::from_value(fixture.clone()).unwrap_or_else(|e| panic!("http.json: {e}"));
                assert!(outbound.body.is_some() && outbound.app.is_some(), "http.json: body and app both exercised");
                let mut written = serde_json::to_value(&outbound).unwrap();
                written.as_object_mut().unwrap().insert("service".into(), "http".into());
                assert_eq!(written, fixture, "http.json");
                continue;
            }
            let call: Call = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"));
            assert_eq!(call_name(&call), name, "{name}.json");
            assert_eq!(serde_json::to_value(&call).unwrap(), fixture, "{name}.json");
            names.insert(name);
        }
        assert_eq!(names, CALLS.map(String::from).into(), "a fixture for every platform call");
    }
}
