//! One debugger client's session through the proxy: CDP messages relayed both ways between
//! the client's WebSocket and the inspector of the app's current process. The relay watches
//! what goes by: the client's set-up (replayed into the next process), the scripts parsed
//! (to say where a pause is), `Debugger.paused` / `Debugger.resumed` (the pause state the
//! timeouts and the watchdog honour). When the process changes (a relink, a crash restart),
//! the client is told that the old one's execution contexts are gone, the relay attaches to
//! the new one, replays the set-up, and goes on, on the same connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as UpMessage;
use tokio_util::sync::CancellationToken;

use super::location::Scripts;
use super::setup::Setup;
use super::{Shared, Upstream};

type Process = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
type Client = futures_util::stream::SplitSink<WebSocket, Message>;

/// Request ids of the proxy's own calls: above what a client counts to, and within V8's
/// ids (32-bit signed integers). Their answers are not relayed.
const OWN_IDS: u64 = 2_000_000_000;
/// Client messages held while no process is attached (a restart): beyond, the client is
/// going too fast for a process that is not there, and the session ends.
const HELD_BOUND: usize = 4096;
/// How long the proxy reads what a replaced process still sends after it leaves it.
const LAST_WORDS: std::time::Duration = std::time::Duration::from_millis(250);
/// How often a process told to run from its wait for a debugger is told again, until its
/// entry loads (see `Relay::releasing`).
const RELEASE_AGAIN: std::time::Duration = std::time::Duration::from_millis(50);

/// What the proxy asked the process itself.
enum Own {
    Replay,
    /// The breakpoint on the entry's first line (`--inspect-brk`).
    EntryBreakpoint,
    Other,
}

struct Relay {
    shared: Arc<Shared>,
    setup: Setup,
    scripts: Scripts,
    next_own: u64,
    own: HashMap<u64, Own>,
    /// The entry breakpoint's id, while it is set.
    entry_breakpoint: Option<String>,
    /// The attached process waits for a debugger, and the entry breakpoint is not set yet.
    must_arm: bool,
    /// This client saw the process pause (and not resume).
    paused: bool,
    /// The process was told to run from its wait for a debugger and has not required the
    /// entry yet. The host says it waits just before it blocks: a `runIfWaitingForDebugger`
    /// that arrives in between does nothing, so the proxy says it again until the entry loads.
    releasing: bool,
    held: VecDeque<String>,
}

/// Relays until the client leaves or the app is unlinked (`stop`).
pub async fn run(socket: WebSocket, shared: Arc<Shared>, stop: CancellationToken) {
    let (mut client, mut from_client) = socket.split();
    let mut follow = shared.upstream.clone();
    let mut relay = Relay {
        shared,
        setup: Setup::default(),
        scripts: Scripts::default(),
        next_own: OWN_IDS,
        own: HashMap::new(),
        entry_breakpoint: None,
        must_arm: false,
        paused: false,
        releasing: false,
        held: VecDeque::new(),
    };
    let mut kick = tokio::time::interval(RELEASE_AGAIN);
    let mut process: Option<Process> = None;
    let mut attached_to: Option<String> = None;
    loop {
        if process.is_none() {
            let target = follow.borrow_and_update().clone();
            if let Some(target) = target.filter(|t| attached_to.as_ref() != Some(&t.url)) {
                attached_to = Some(target.url.clone());
                process = relay.attach(&target).await;
            }
        }
        tokio::select! {
            m = from_client.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    if !relay.on_client(text.as_str(), process.as_mut()).await {
                        break;
                    }
                }
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            m = async { process.as_mut()?.next().await }, if process.is_some() => match m {
                Some(Ok(UpMessage::Text(text))) => {
                    if let Some(out) = relay.on_process(text.as_str(), process.as_mut()).await {
                        if client.send(Message::Text(out.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    process = None;
                    if relay.process_gone(&mut client).await.is_err() {
                        break;
                    }
                }
            },
            changed = follow.changed() => {
                if changed.is_err() {
                    break;
                }
                let moved = follow.borrow().as_ref().map(|t| &t.url) != attached_to.as_ref();
                if moved {
                    attached_to = None;
                    // The old process is being replaced: leave it (linked_app stops it), with
                    // what it still had to say (the answer to a `resume` that let it end).
                    if let Some(mut old) = process.take() {
                        let _ = old.close(None).await;
                        let last = tokio::time::timeout(LAST_WORDS, async {
                            while let Some(Ok(m)) = old.next().await {
                                if let UpMessage::Text(text) = m {
                                    if let Some(out) = relay.on_process(text.as_str(), None).await {
                                        let _ = client.send(Message::Text(out.into())).await;
                                    }
                                }
                            }
                        });
                        let _ = last.await;
                        if relay.process_gone(&mut client).await.is_err() {
                            break;
                        }
                    }
                }
            }
            _ = kick.tick(), if relay.releasing && process.is_some() => {
                if let Some(process) = process.as_mut() {
                    let go = relay.own_call(Own::Other, "Runtime.runIfWaitingForDebugger", json!({}));
                    let _ = process.send(UpMessage::Text(go.into())).await;
                }
            }
            _ = stop.cancelled() => break,
        }
    }
    // A process a client leaves while paused goes on (V8 resumes a session's pause as it ends).
    if relay.paused {
        relay.shared.paused(None).await;
    }
    let _ = client.close().await;
}

impl Relay {
    /// Connects to a process's inspector and replays the client's set-up into it; then sends
    /// what the client said meanwhile.
    async fn attach(&mut self, target: &Upstream) -> Option<Process> {
        let (mut process, _) = match tokio_tungstenite::connect_async(target.url.as_str()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(url = target.url, "cannot attach to the app's inspector: {e}");
                return None;
            }
        };
        self.must_arm = target.waiting;
        self.releasing = false;
        for call in self.setup.replay(self.next_own) {
            self.next_own += 1;
            if let Some(id) = call["id"].as_u64() {
                self.own.insert(id, Own::Replay);
            }
            if process.send(UpMessage::Text(call.to_string().into())).await.is_err() {
                return None;
            }
        }
        // A process that waits and a client already set up (a relink): the proxy lets it run
        // to the app's first line itself; a new client does when it says so.
        if target.waiting && self.setup.enabled("Debugger") {
            if !self.arm(&mut process).await {
                return None;
            }
            let go = self.own_call(Own::Other, "Runtime.runIfWaitingForDebugger", json!({}));
            if process.send(UpMessage::Text(go.into())).await.is_err() {
                return None;
            }
            self.releasing = true;
        }
        while let Some(held) = self.held.pop_front() {
            if !self.forward(&held, &mut process).await {
                return None;
            }
        }
        Some(process)
    }

    /// Sets the breakpoint on the entry's first line (`--inspect-brk`).
    async fn arm(&mut self, process: &mut Process) -> bool {
        self.must_arm = false;
        let params = json!({ "url": self.shared.entry_url, "lineNumber": 0, "columnNumber": 0 });
        let call = self.own_call(Own::EntryBreakpoint, "Debugger.setBreakpointByUrl", params);
        process.send(UpMessage::Text(call.into())).await.is_ok()
    }

    fn own_call(&mut self, why: Own, method: &str, params: Value) -> String {
        let id = self.next_own;
        self.next_own += 1;
        self.own.insert(id, why);
        json!({ "id": id, "method": method, "params": params }).to_string()
    }

    /// A client message: to the process, or held until one is attached. False ends the session.
    async fn on_client(&mut self, text: &str, process: Option<&mut Process>) -> bool {
        match process {
            Some(process) => {
                // A process that cannot take it is going: its connection's end says so.
                let _ = self.forward(text, process).await;
                true
            }
            None if self.held.len() < HELD_BOUND => {
                self.held.push_back(text.to_string());
                true
            }
            None => false,
        }
    }

    /// Sends a client message to the process, noting its set-up. A client that lets a waiting
    /// process run (`Runtime.runIfWaitingForDebugger`) first gets the entry breakpoint set.
    async fn forward(&mut self, text: &str, process: &mut Process) -> bool {
        if let Ok(message) = serde_json::from_str::<Value>(text) {
            let method = message["method"].as_str().unwrap_or_default();
            if method == "Runtime.runIfWaitingForDebugger" && self.must_arm {
                if !self.arm(process).await {
                    return false;
                }
                self.releasing = true;
            }
            if let Some(id) = message["id"].as_u64() {
                self.setup.note(id, method, &message["params"]);
            }
        }
        process.send(UpMessage::Text(text.into())).await.is_ok()
    }

    /// A process message: what the client gets of it (`None`: nothing, an answer to the proxy).
    async fn on_process(&mut self, text: &str, process: Option<&mut Process>) -> Option<String> {
        let Ok(mut message) = serde_json::from_str::<Value>(text) else { return Some(text.to_string()) };
        if let Some(id) = message["id"].as_u64() {
            if let Some(why) = self.own.remove(&id) {
                if let (Own::EntryBreakpoint, Some(bp)) = (why, message.pointer("/result/breakpointId")) {
                    self.entry_breakpoint = bp.as_str().map(String::from);
                }
                return None;
            }
            self.setup.answered(id, &message);
            return Some(text.to_string());
        }
        match message["method"].as_str().unwrap_or_default() {
            "Debugger.scriptParsed" => {
                if self.releasing && message["params"]["url"].as_str() == Some(self.shared.entry_url.as_str()) {
                    self.releasing = false;
                }
                self.scripts.parsed(&message["params"], &self.shared.app_root)
            }
            "Debugger.paused" => {
                self.releasing = false;
                self.leave_entry_breakpoint(&mut message, process).await;
                let params = &message["params"];
                let (file, line) = self.scripts.paused_at(params, &self.shared.app_root).unwrap_or_default();
                let reason = params["reason"].as_str().unwrap_or("other").to_string();
                self.paused = true;
                self.shared.paused(Some((file, line, reason))).await;
                return Some(message.to_string());
            }
            "Debugger.resumed" => {
                self.paused = false;
                self.shared.paused(None).await;
            }
            _ => {}
        }
        Some(text.to_string())
    }

    /// A pause at the entry breakpoint is the first line's: the breakpoint goes (it was the
    /// proxy's), and the client sees a pause of its own.
    async fn leave_entry_breakpoint(&mut self, message: &mut Value, process: Option<&mut Process>) {
        let Some(bp) = self.entry_breakpoint.clone() else { return };
        let Some(hit) = message.pointer_mut("/params/hitBreakpoints").and_then(Value::as_array_mut) else { return };
        if !hit.iter().any(|h| h.as_str() == Some(&bp)) {
            return;
        }
        hit.retain(|h| h.as_str() != Some(&bp));
        self.entry_breakpoint = None;
        if let Some(process) = process {
            let call = self.own_call(Own::Other, "Debugger.removeBreakpoint", json!({ "breakpointId": bp }));
            let _ = process.send(UpMessage::Text(call.into())).await;
        }
    }

    /// The process went (it exited, or a new version replaces it): the client is told that a
    /// pause ended and that the process's execution contexts are gone, so that VS Code and
    /// DevTools drop its scripts and frames before the next process's arrive.
    async fn process_gone(&mut self, client: &mut Client) -> Result<(), axum::Error> {
        self.scripts.clear();
        self.own.clear();
        self.entry_breakpoint = None;
        self.releasing = false;
        if self.paused {
            self.paused = false;
            self.shared.paused(None).await;
            client
                .send(Message::Text(json!({ "method": "Debugger.resumed", "params": {} }).to_string().into()))
                .await?;
        }
        if self.setup.enabled("Runtime") {
            let cleared = json!({ "method": "Runtime.executionContextsCleared", "params": {} });
            client.send(Message::Text(cleared.to_string().into())).await?;
        }
        Ok(())
    }
}
