//! What a debugger client set up in the process it debugs (domains enabled, breakpoints by
//! URL, pause-on-exceptions...), kept so that the proxy replays it, in order, into the next
//! process after a relink or a crash restart: the client's breakpoints bind again without
//! the client knowing that the process changed.

use serde_json::{json, Value};

/// The methods whose effect lives in the process and must be set up again in a new one.
/// Breakpoints by script id (`Debugger.setBreakpoint`) are not: script ids do not survive a
/// process, and clients set .ts breakpoints by URL (what VS Code and DevTools do).
const REPLAYED: [&str; 14] = [
    "Runtime.enable",
    "Debugger.enable",
    "Debugger.setPauseOnExceptions",
    "Debugger.setAsyncCallStackDepth",
    "Debugger.setBlackboxPatterns",
    "Debugger.setBlackboxExecutionContexts",
    "Debugger.setSkipAllPauses",
    "Debugger.setBreakpointsActive",
    "Debugger.setBreakpointByUrl",
    "Debugger.setInstrumentationBreakpoint",
    "Profiler.enable",
    "HeapProfiler.enable",
    "Runtime.setAsyncCallStackDepth",
    "Log.enable",
];

/// The client's set-up, as the calls to replay.
#[derive(Debug, Default)]
pub struct Setup {
    /// In the client's order; a later call of the same kind (but breakpoints) replaces an earlier.
    calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    method: String,
    params: Value,
    /// The client's request id, until its answer names the breakpoint (`setBreakpointByUrl`).
    request: Option<u64>,
    breakpoint: Option<String>,
}

impl Setup {
    /// Notes one of the client's requests as it goes to the process.
    pub fn note(&mut self, request: u64, method: &str, params: &Value) {
        match method {
            "Debugger.removeBreakpoint" => {
                let id = params.get("breakpointId").and_then(Value::as_str);
                self.calls.retain(|c| c.breakpoint.is_none() || c.breakpoint.as_deref() != id);
            }
            "Debugger.disable" => self.calls.retain(|c| !c.method.starts_with("Debugger.")),
            "Runtime.disable" => self.calls.retain(|c| !c.method.starts_with("Runtime.")),
            "Profiler.disable" | "HeapProfiler.disable" | "Log.disable" => {
                let domain = method.split('.').next().unwrap_or_default();
                self.calls.retain(|c| !c.method.starts_with(&format!("{domain}.")));
            }
            "Debugger.setBreakpointByUrl" => self.calls.push(Call {
                method: method.into(),
                params: params.clone(),
                request: Some(request),
                breakpoint: None,
            }),
            m if REPLAYED.contains(&m) => {
                self.calls.retain(|c| c.method != m);
                self.calls.push(Call { method: m.into(), params: params.clone(), request: None, breakpoint: None });
            }
            _ => {}
        }
    }

    /// Notes the process's answer to request `request`: a breakpoint by URL gets its id (so
    /// that `removeBreakpoint` finds it); one the process refused is not replayed.
    pub fn answered(&mut self, request: u64, answer: &Value) {
        let Some(at) = self.calls.iter().position(|c| c.request == Some(request)) else { return };
        match answer.pointer("/result/breakpointId").and_then(Value::as_str) {
            Some(id) => {
                let call = &mut self.calls[at];
                call.breakpoint = Some(id.to_string());
                call.request = None;
            }
            None => {
                self.calls.remove(at);
            }
        }
    }

    /// Whether the client enabled `domain` (`Runtime`, `Debugger`).
    pub fn enabled(&self, domain: &str) -> bool {
        let enable = format!("{domain}.enable");
        self.calls.iter().any(|c| c.method == enable)
    }

    /// The calls to send a new process, in order, as CDP requests numbered from `first_id`.
    pub fn replay(&self, first_id: u64) -> Vec<Value> {
        self.calls
            .iter()
            .enumerate()
            .map(|(i, c)| json!({ "id": first_id + i as u64, "method": c.method, "params": c.params }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn methods(setup: &Setup) -> Vec<String> {
        setup.replay(1).iter().map(|c| c["method"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn the_clients_setup_is_replayed_in_order_with_its_breakpoints() {
        let mut s = Setup::default();
        s.note(1, "Runtime.enable", &json!({}));
        s.note(2, "Debugger.enable", &json!({ "maxScriptsCacheSize": 1 }));
        s.note(3, "Debugger.setPauseOnExceptions", &json!({ "state": "none" }));
        s.note(4, "Debugger.setBreakpointByUrl", &json!({ "url": "file:///app/node/a.ts", "lineNumber": 4 }));
        s.answered(4, &json!({ "id": 4, "result": { "breakpointId": "1:4:0:file:///app/node/a.ts" } }));
        s.note(5, "Debugger.setBreakpointByUrl", &json!({ "urlRegex": "b\\.ts$", "lineNumber": 9 }));
        s.answered(5, &json!({ "id": 5, "result": { "breakpointId": "2:9:0:b\\.ts$" } }));
        s.note(6, "Debugger.setPauseOnExceptions", &json!({ "state": "uncaught" }));
        s.note(7, "Runtime.evaluate", &json!({ "expression": "1" }));
        assert_eq!(
            methods(&s),
            [
                "Runtime.enable",
                "Debugger.enable",
                "Debugger.setBreakpointByUrl",
                "Debugger.setBreakpointByUrl",
                "Debugger.setPauseOnExceptions"
            ]
        );
        let replay = s.replay(1_000);
        assert_eq!(replay[0]["id"], 1_000);
        assert_eq!(replay[4]["params"]["state"], "uncaught", "the latest setting wins");
        assert_eq!(replay[3]["params"]["urlRegex"], "b\\.ts$");
        assert!(s.enabled("Runtime") && s.enabled("Debugger") && !s.enabled("Profiler"));
    }

    #[test]
    fn removed_refused_and_disabled_things_are_not_replayed() {
        let mut s = Setup::default();
        s.note(1, "Debugger.enable", &json!({}));
        s.note(2, "Debugger.setBreakpointByUrl", &json!({ "url": "file:///a.ts", "lineNumber": 1 }));
        s.answered(2, &json!({ "id": 2, "result": { "breakpointId": "bp-a" } }));
        s.note(3, "Debugger.setBreakpointByUrl", &json!({ "url": "file:///a.ts", "lineNumber": 1 }));
        s.answered(3, &json!({ "id": 3, "error": { "code": -32000, "message": "already exists" } }));
        s.note(4, "Debugger.setBreakpointByUrl", &json!({ "url": "file:///b.ts", "lineNumber": 2 }));
        s.answered(4, &json!({ "id": 4, "result": { "breakpointId": "bp-b" } }));
        s.note(5, "Debugger.removeBreakpoint", &json!({ "breakpointId": "bp-a" }));
        let replay = s.replay(1);
        assert_eq!(replay.len(), 2);
        assert_eq!(replay[1]["params"]["url"], "file:///b.ts");
        s.note(6, "Runtime.enable", &json!({}));
        s.note(7, "Debugger.disable", &json!({}));
        assert_eq!(methods(&s), ["Runtime.enable"]);
    }
}
