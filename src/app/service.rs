//! node/service.json: sizing, routes and event subscriptions, and which events a
//! subscription matches.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::id::is_sender;
use super::json;
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceJson {
    // The sizing fields are read from the plain JSON by [`sizing`] (any number, capped as VTEX
    // caps it), not by serde: these are the effective values.
    #[serde(skip_deserializing)]
    pub memory: Option<u32>,
    #[serde(skip_deserializing)]
    pub ttl: Option<u32>,
    /// Seconds an incoming request (and, locally, an event delivery) may take, capped at 60.
    #[serde(skip_deserializing)]
    pub timeout: Option<u32>,
    #[serde(skip_deserializing)]
    pub min_replicas: Option<u32>,
    #[serde(skip_deserializing)]
    pub max_replicas: Option<u32>,
    #[serde(skip_deserializing)]
    pub workers: Option<u32>,
    /// The routes the Service serves (never `__graphql`: see `graphql_route`).
    #[serde(default)]
    pub routes: BTreeMap<String, Route>,
    /// The route `__graphql`: not a handler but the settings (policies) of the app's GraphQL
    /// route, as @vtex/api reads `routes.__graphql` (GRAPHQL_ROUTE in
    /// service/worker/runtime/graphql) to build it. GraphQL is served at `/_v/graphql` either way.
    #[serde(skip)]
    pub graphql_route: Option<Route>,
    #[serde(default)]
    pub events: BTreeMap<String, EventSubscription>,
    pub rate_limit_per_replica: Option<Value>,
    pub runtime_args: Option<Value>,
    pub stack: Option<String>,
    pub deterministic_vary: Option<Value>,
    /// Sizing and admin fields published apps carry that ioctl has no use for locally.
    pub cpu: Option<Value>,
    pub settings_ui_schema: Option<Value>,
    pub public: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The top-level fields: @vtex/api 6.51's RawServiceJSON (service/worker/runtime/typings.d.ts)
/// plus those published apps use (`cpu`, `settingsUiSchema`, `public`).
const KNOWN: &str = "memory, ttl, timeout, minReplicas, maxReplicas, workers, routes, events, \
rateLimitPerReplica, runtimeArgs, stack, deterministicVary, cpu, settingsUiSchema, public";

/// The id @vtex/api gives the GraphQL route (GRAPHQL_ROUTE): a service.json route of that
/// name configures it rather than declaring a handler.
pub const GRAPHQL_ROUTE: &str = "__graphql";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub path: String,
    #[serde(default)]
    pub public: bool,
    pub settings_type: Option<Value>,
    /// Resource-based policies (`[{effect, actions, principals}]`): who may call a private
    /// route on VTEX. Shape-checked only; locally the session token decides.
    pub policies: Option<Value>,
    pub access: Option<Value>,
    pub smartcache: Option<Value>,
    pub extensible: Option<Value>,
    pub extensions: Option<Value>,
    pub rate_limit_per_replica: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A route's fields: @vtex/api 6.51's ServiceRoute (path, public, smartcache, extensible,
/// settingsType, rateLimitPerReplica) plus `policies` and `access` (VTEX's docs, "Controlling
/// access to app resources") and `extensions`, which published apps write.
const ROUTE_KNOWN: &str =
    "path, public, settingsType, policies, access, smartcache, extensible, extensions, rateLimitPerReplica";

/// One `events` entry: which events the handler of the same id wants.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSubscription {
    pub sender: Option<String>,
    pub keys: Option<Vec<String>>,
    pub topics: Option<Vec<String>>,
    pub subject: Option<String>,
    pub settings_type: Option<Value>,
    pub rate_limit_per_replica: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl EventSubscription {
    /// Keys from `keys` and `topics` (apps use either, with the same meaning).
    pub fn all_keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().chain(self.topics.iter()).flatten().map(String::as_str)
    }

    /// Same sender when one is declared; key among `keys`/`topics`.
    pub fn matches(&self, sender: &str, key: &str) -> bool {
        self.sender.as_deref().is_none_or(|s| s == sender) && self.all_keys().any(|k| k == key)
    }
}

impl ServiceJson {
    pub fn parse(file: &Path, source: &str) -> Result<(Self, Vec<Diagnostic>), Diagnostic> {
        let source = source.strip_prefix('\u{FEFF}').unwrap_or(source);
        // First as plain JSON, to read what the typed parse would reject in Rust's terms or
        // accept silently (numbers of any size, duplicate ids), with the field's position.
        let raw: Value = json::parse(file, source, WHAT)?;
        let (sizing, mut warnings) = sizing(file, source, &raw)?;
        check_duplicates(file, source)?;
        let mut s: ServiceJson = json::parse(file, source, WHAT)?;
        // serde hands the skipped sizing fields to `extra`; they are read above.
        s.extra.retain(|k, _| !SIZING.iter().any(|b| b.name == k));
        [s.timeout, s.memory, s.ttl, s.min_replicas, s.max_replicas, s.workers] = sizing;
        warnings.extend(json::unknown_fields(file, source, &[], &s.extra, KNOWN));
        for (id, sub) in &s.events {
            check_subscription(file, source, id, sub, &mut warnings)?;
        }
        for (id, route) in &s.routes {
            check_route(file, source, id, route, &mut warnings)?;
        }
        s.graphql_route = s.routes.remove(GRAPHQL_ROUTE);
        Ok((s, warnings))
    }
}

fn check_subscription(
    file: &Path,
    source: &str,
    id: &str,
    sub: &EventSubscription,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    if sub.all_keys().next().is_none() {
        return Err(json::error_at(
            file,
            source,
            &["events", id],
            format!("event handler `{id}` subscribes to no key"),
        )
        .with_help("add \"keys\": [\"some-key\"] (or \"topics\") naming the event keys it handles"));
    }
    if let Some(sender) = &sub.sender {
        if !is_sender(sender) {
            let msg = format!("invalid sender `{}` in event handler `{id}`", json::clip(sender, 60));
            return Err(json::error_at(file, source, &["events", id, "sender"], msg).with_help(
                "a sender is an app id without version, `vendor.name`, e.g. \"vtex.events-example\", or a VTEX system sender (\"apps\")",
            ));
        }
    } else {
        let msg = format!("event handler `{id}` declares no sender: it receives matching keys from any app");
        warnings.push(json::error_at(file, source, &["events", id], msg));
    }
    warnings.extend(json::unknown_fields(
        file,
        source,
        &["events", id],
        &sub.extra,
        "sender, keys, topics, subject, settingsType, rateLimitPerReplica",
    ));
    Ok(())
}

fn check_route(
    file: &Path,
    source: &str,
    id: &str,
    route: &Route,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    if let Err(e) = super::route::Pattern::parse(&route.path) {
        return Err(json::error_at(file, source, &["routes", id, "path"], format!("route `{id}`: {e}")));
    }
    if !route.path.starts_with('/') {
        let msg = format!("route `{id}` has path `{}`, which does not start with `/`", json::clip(&route.path, 60));
        return Err(json::error_at(file, source, &["routes", id, "path"], msg)
            .with_help("write the full path, e.g. \"/_v/app/my-app/status/:code\""));
    }
    if let Some(problem) = route.policies.as_ref().and_then(policies_problem) {
        let msg = format!("route `{id}`: `policies` {problem} (ignored)");
        warnings.push(json::error_at(file, source, &["routes", id, "policies"], msg).with_help(
            "VTEX reads [{\"effect\": \"allow\", \"actions\": [\"get\"], \"principals\": [\"vrn:apps:*:*:*:app/vendor.app@*\"]}]",
        ));
    }
    warnings.extend(json::unknown_fields(file, source, &["routes", id], &route.extra, ROUTE_KNOWN));
    Ok(())
}

/// What is wrong with the shape of a route's `policies`, if anything: an array of objects whose
/// `effect` is a string and `actions` and `principals` arrays of strings. Only the types are
/// checked: VTEX evaluates the values, which mean nothing locally.
fn policies_problem(policies: &Value) -> Option<String> {
    let Some(list) = policies.as_array() else {
        return Some(format!("is {}, not an array of policies", kind(policies)));
    };
    for (i, policy) in list.iter().enumerate() {
        let Some(fields) = policy.as_object() else {
            return Some(format!("[{i}] is {}, not an object", kind(policy)));
        };
        if let Some(effect) = fields.get("effect").filter(|v| !v.is_string()) {
            return Some(format!("[{i}].effect is {}, not a string (\"allow\" or \"deny\")", kind(effect)));
        }
        for key in ["actions", "principals"] {
            let Some(v) = fields.get(key) else { continue };
            if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                return Some(format!("[{i}].{key} is {}, not an array of strings", kind(v)));
            }
        }
    }
    None
}

/// A JSON value's kind as a user would name it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(a) if a.is_empty() => "an empty array",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const WHAT: &str = "node/service.json";

/// One sizing field and the range VTEX's docs give it ("Service", developers.vtex.com/docs/
/// guides/vtex-io-documentation-service, read 2026-12-07).
struct Bound {
    name: &'static str,
    unit: &'static str,
    min: u32,
    max: u32,
    /// What the docs add, for the warning's help.
    note: &'static str,
}

/// In the order [`ServiceJson::parse`] assigns them. Published apps exceed these bounds
/// (vtex.return-app has `"timeout": 5000`) and still run: VTEX caps rather than refuses, so
/// ioctl does too, with one warning naming the bound. No maximum for `minReplicas` is
/// documented; it cannot usefully exceed `maxReplicas`' 60.
const SIZING: [Bound; 6] = [
    Bound { name: "timeout", unit: "seconds", min: 1, max: 60, note: "default 10; it bounds incoming requests" },
    Bound { name: "memory", unit: "MB", min: 1, max: 1024, note: "default 128" },
    Bound { name: "ttl", unit: "minutes", min: 10, max: 60, note: "how long an idle replica lives" },
    Bound { name: "minReplicas", unit: "replicas", min: 1, max: 60, note: "at least 1 for a linked app" },
    Bound { name: "maxReplicas", unit: "replicas", min: 1, max: 60, note: "at most 60" },
    Bound { name: "workers", unit: "workers", min: 1, max: 4, note: "Node processes per replica" },
];

/// The effective sizing values (in [`SIZING`]'s order) and a warning for each one moved into
/// VTEX's documented range. Any number is accepted (a fraction is rounded up, as ioctl counts
/// whole units); a negative number, or anything but a number, is refused.
fn sizing(file: &Path, source: &str, raw: &Value) -> Result<([Option<u32>; 6], Vec<Diagnostic>), Diagnostic> {
    let mut values = [None; 6];
    let mut warnings = Vec::new();
    for (slot, b) in values.iter_mut().zip(&SIZING) {
        let Some(v) = raw.get(b.name).filter(|v| !v.is_null()) else { continue };
        let shown = json::clip(&v.to_string(), 60);
        let Some(n) = v.as_f64().filter(|n| *n >= 0.0) else {
            let msg = format!(
                "`{}` must be a number of {} (VTEX documents {} to {}), not {shown}",
                b.name, b.unit, b.min, b.max
            );
            return Err(json::error_at(file, source, &[b.name], msg).with_help(format!("{}: {}", b.name, b.note)));
        };
        let used = n.ceil().clamp(f64::from(b.min), f64::from(b.max)) as u32;
        *slot = Some(used);
        let why = if n > f64::from(b.max) {
            format!("over the {} VTEX documents, which it caps", b.max)
        } else if n < f64::from(b.min) {
            format!("under the {} VTEX documents", b.min)
        } else if n.fract() != 0.0 {
            "not a whole number".to_string()
        } else {
            continue;
        };
        let msg = format!("`{}` is {shown} {}, {why}: using {used}", b.name, b.unit);
        let help = format!("VTEX documents {} from {} to {} {} ({})", b.name, b.min, b.max, b.unit, b.note);
        warnings.push(json::error_at(file, source, &[b.name], msg).with_help(help));
    }
    let written = |k| raw.get(k).and_then(Value::as_f64);
    if let (Some(min), Some(max)) = (written("minReplicas"), written("maxReplicas")) {
        if max < min {
            return Err(json::error_at(
                file,
                source,
                &["maxReplicas"],
                format!("`maxReplicas` ({max}) is less than `minReplicas` ({min})"),
            ));
        }
    }
    Ok((values, warnings))
}

/// Duplicate keys, which serde would resolve silently by keeping the last.
fn check_duplicates(file: &Path, source: &str) -> Result<(), Diagnostic> {
    for (path, what) in [(&[][..], "field"), (&["events"][..], "event handler id"), (&["routes"][..], "route id")] {
        if let Some((name, second, first)) = json::duplicate_key(source, path) {
            let (line, column) = crate::diagnostic::line_col(source, first);
            let place = path.first().map(|p| format!(" in `{p}`")).unwrap_or_default();
            let name = json::clip(&name, 60);
            return Err(Diagnostic::at_offset(
                file,
                source,
                second,
                format!("duplicate {what} `{name}`{place} (first at line {line}, column {column})"),
            )
            .with_help(format!("keep one `{name}`: the last one would silently replace the first")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<(ServiceJson, Vec<Diagnostic>), Diagnostic> {
        ServiceJson::parse(Path::new("node/service.json"), src)
    }

    #[test]
    fn subscription_matching() {
        let (s, w) =
            parse(r#"{"events":{"a":{"sender":"vtex.events-example","keys":["send-event"]},"b":{"topics":["t"]}}}"#)
                .unwrap();
        let a = &s.events["a"];
        assert!(a.matches("vtex.events-example", "send-event"));
        assert!(!a.matches("vtex.other", "send-event"));
        assert!(!a.matches("vtex.events-example", "other"));
        let b = &s.events["b"];
        assert!(b.matches("anyone.app", "t"));
        assert_eq!(w.len(), 1, "missing sender warns");
    }

    #[test]
    fn syntax_error_is_positioned() {
        let e = parse("{\n  \"memory\": 128,\n  \"events\": {\n    \"a\": {\"keys\": [\"k\"],}\n  }\n}").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert_eq!(e.file, Path::new("node/service.json"));
    }

    #[test]
    fn subscription_without_keys_is_an_error() {
        let e = parse("{\"events\": {\n \"a\": {\"sender\": \"vtex.x\"}}}").unwrap_err();
        assert!(e.message.contains("subscribes to no key"));
        assert_eq!(e.line, 2);
    }

    #[test]
    fn senders_follow_the_one_sender_rule() {
        for sender in ["apps", "vtex.events-example", "1acme.2app"] {
            let src = format!(r#"{{"events":{{"a":{{"sender":"{sender}","keys":["k"]}}}}}}"#);
            assert!(parse(&src).is_ok(), "{sender}");
        }
        let e = parse(r#"{"events":{"a":{"sender":"vtex.app@1.0.0","keys":["k"]}}}"#).unwrap_err();
        assert_eq!(e.message, "invalid sender `vtex.app@1.0.0` in event handler `a`");
    }

    #[test]
    fn bad_sender_and_route_path() {
        assert!(parse(r#"{"events":{"a":{"sender":"Bad Sender","keys":["k"]}}}"#)
            .unwrap_err()
            .message
            .contains("invalid sender"));
        assert!(parse(r#"{"routes":{"r":{"path":"x"}}}"#).unwrap_err().message.contains("does not start with `/`"));
    }

    #[test]
    fn duplicate_handler_and_route_ids_are_refused_at_the_second() {
        let e = parse("{\"events\": {\n  \"a\": {\"keys\": [\"k\"]},\n  \"a\": {\"keys\": [\"j\"]}\n}}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
        assert!(e.message.contains("duplicate event handler id `a` in `events` (first at line 2, column 3)"), "{e}");
        let e = parse("{\"routes\": {\"r\": {\"path\": \"/a\"}, \"r\": {\"path\": \"/b\"}}}").unwrap_err();
        assert!(e.message.contains("duplicate route id `r`"), "{e}");
        assert_eq!(e.column, 34, "{e}");
    }

    #[test]
    fn non_object_is_named_in_json_terms() {
        for (src, kind) in [("[]", "an array"), ("\"x\"", "a string"), ("3", "a number"), ("null", "null")] {
            let e = parse(src).unwrap_err();
            assert_eq!(e.message, format!("node/service.json must be a JSON object, not {kind}"));
        }
        let e = parse(r#"{"routes": []}"#).unwrap_err();
        assert!(!e.message.contains("struct") && e.message.contains("expected an object"), "{e}");
    }

    #[test]
    fn bom_is_accepted() {
        let (s, _) = parse("\u{FEFF}{\"timeout\": 5}").unwrap();
        assert_eq!(s.timeout, Some(5));
    }

    #[test]
    fn sizing_numbers_past_vtexs_bounds_are_capped_with_one_positioned_warning_each() {
        let (s, w) = parse("{\n  \"memory\": 256,\n  \"timeout\": 5000\n}").unwrap();
        assert_eq!((s.timeout, s.memory), (Some(60), Some(256)));
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].line, w[0].column), (3, 3), "{}", w[0]);
        assert_eq!(w[0].message, "`timeout` is 5000 seconds, over the 60 VTEX documents, which it caps: using 60");
        assert!(w[0].help.as_deref().unwrap().contains("timeout from 1 to 60 seconds"), "{:?}", w[0].help);
        let (s, w) = parse(
            r#"{"timeout": 1e30, "memory": 4096, "ttl": 5, "minReplicas": 0, "maxReplicas": 100, "workers": 2.5}"#,
        )
        .unwrap();
        let effective = [s.timeout, s.memory, s.ttl, s.min_replicas, s.max_replicas, s.workers];
        assert_eq!(effective, [60, 1024, 10, 1, 60, 3].map(Some));
        let messages: Vec<&str> = w.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`timeout` is 1e+30 seconds, over the 60 VTEX documents, which it caps: using 60",
                "`memory` is 4096 MB, over the 1024 VTEX documents, which it caps: using 1024",
                "`ttl` is 5 minutes, under the 10 VTEX documents: using 10",
                "`minReplicas` is 0 replicas, under the 1 VTEX documents: using 1",
                "`maxReplicas` is 100 replicas, over the 60 VTEX documents, which it caps: using 60",
                "`workers` is 2.5 workers, not a whole number: using 3",
            ]
        );
        let (s, w) =
            parse(r#"{"memory": 1024, "ttl": 60, "timeout": 60, "minReplicas": 1, "maxReplicas": 60, "workers": 4}"#)
                .unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!((s.timeout, s.workers), (Some(60), Some(4)));
        assert!(s.extra.is_empty(), "the sizing fields are known: {:?}", s.extra);
    }

    #[test]
    fn negative_or_non_numeric_sizing_is_refused_at_its_place() {
        for bad in ["-1", "\"10\"", "true", "[]", "{}"] {
            let e = parse(&format!("{{\"events\": {{}},\n \"timeout\": {bad}}}")).unwrap_err();
            assert_eq!(e.message, format!("`timeout` must be a number of seconds (VTEX documents 1 to 60), not {bad}"));
            assert_eq!((e.line, e.column), (2, 2), "{e}");
        }
        for (field, bad) in [("memory", "-128"), ("ttl", "\"x\""), ("minReplicas", "-1"), ("workers", "false")] {
            let e = parse(&format!("{{\"events\": {{}},\n \"{field}\": {bad}}}")).unwrap_err();
            assert!(e.message.starts_with(&format!("`{field}` must be a number of")), "{e}");
        }
        let e = parse(r#"{"minReplicas": 4, "maxReplicas": 2}"#).unwrap_err();
        assert!(e.message.contains("less than `minReplicas`"), "{e}");
        assert!(parse(r#"{"timeout": null}"#).unwrap().0.timeout.is_none(), "null is absent");
    }

    #[test]
    fn fields_of_published_apps_are_known() {
        let src = r#"{"cpu": {"type": "shared", "value": 10}, "settingsUiSchema": {}, "public": true,
          "rateLimitPerReplica": {"perMinute": 100}, "runtimeArgs": [], "stack": "nodejs", "deterministicVary": true,
          "routes": {"r": {"path": "/_v/r", "public": false, "access": "authorized", "smartcache": true,
            "extensible": true, "extensions": {}, "settingsType": "workspace", "rateLimitPerReplica": {"concurrent": 5},
            "policies": [{"effect": "allow", "actions": ["get", "post"], "principals": ["vrn:apps:*:*:*:app/vtex.x@*"]}]}}}"#;
        let (s, w) = parse(src).unwrap();
        assert!(w.is_empty(), "{:?}", w.iter().map(|d| &d.message).collect::<Vec<_>>());
        assert!(s.routes["r"].policies.is_some());
    }

    #[test]
    fn a_policies_shape_of_the_wrong_type_warns_at_its_place() {
        for (policies, problem) in [
            (r#"{"effect": "allow"}"#, "is an object, not an array of policies"),
            (r#"["allow"]"#, "[0] is a string, not an object"),
            (r#"[{"effect": true}]"#, "[0].effect is a boolean, not a string (\"allow\" or \"deny\")"),
            (r#"[{"effect": "allow", "actions": "get"}]"#, "[0].actions is a string, not an array of strings"),
            (r#"[{}, {"principals": [1]}]"#, "[1].principals is an array, not an array of strings"),
        ] {
            let src = format!("{{\"routes\": {{\"r\": {{\"path\": \"/_v/r\",\n  \"policies\": {policies}}}}}}}");
            let (s, w) = parse(&src).unwrap();
            assert_eq!(w.len(), 1, "{policies}");
            assert_eq!(w[0].message, format!("route `r`: `policies` {problem} (ignored)"));
            assert_eq!((w[0].line, w[0].column), (2, 3), "{}", w[0]);
            assert!(s.routes.contains_key("r"), "the route still serves");
        }
    }

    #[test]
    fn the_graphql_route_configures_graphql_and_is_no_handler_route() {
        let src = r#"{"routes": {"__graphql": {"path": "/_v/graphql", "policies": [{"effect": "allow", "actions": ["post"], "principals": ["vrn:apps:*"]}]},
                      "status": {"path": "/_v/status", "public": true}}}"#;
        let (s, w) = parse(src).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.routes.keys().collect::<Vec<_>>(), ["status"]);
        assert_eq!(s.graphql_route.unwrap().path, "/_v/graphql");
        // Its path is still checked as any route's.
        assert!(parse(r#"{"routes": {"__graphql": {"path": "_v/graphql"}}}"#).is_err());
    }

    #[test]
    fn unknown_top_level_field_warns() {
        let (_, w) = parse(r#"{"memroy": 128}"#).unwrap();
        assert!(w[0].message.contains("unknown field `memroy`"));
    }
}
