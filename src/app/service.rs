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
    pub memory: Option<u32>,
    pub ttl: Option<u32>,
    pub timeout: Option<u32>,
    pub min_replicas: Option<u32>,
    pub max_replicas: Option<u32>,
    pub workers: Option<u32>,
    #[serde(default)]
    pub routes: BTreeMap<String, Route>,
    #[serde(default)]
    pub events: BTreeMap<String, EventSubscription>,
    pub rate_limit_per_replica: Option<Value>,
    pub runtime_args: Option<Value>,
    pub stack: Option<String>,
    pub deterministic_vary: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

const KNOWN: &str = "memory, ttl, timeout, minReplicas, maxReplicas, workers, routes, events, \
rateLimitPerReplica, runtimeArgs, stack, deterministicVary";

#[derive(Debug, Clone, Deserialize)]
pub struct Route {
    pub path: String,
    #[serde(default)]
    pub public: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

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
        // First as plain JSON, to check what the typed parse would reject in Rust's terms or
        // accept silently (numbers out of range, duplicate ids), with the field's position.
        let raw: Value = json::parse(file, source, WHAT)?;
        check_numbers(file, source, &raw)?;
        check_duplicates(file, source)?;
        let s: ServiceJson = json::parse(file, source, WHAT)?;
        let mut warnings = json::unknown_fields(file, source, &[], &s.extra, KNOWN);
        for (id, sub) in &s.events {
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
        }
        for (id, route) in &s.routes {
            if let Err(e) = super::route::Pattern::parse(&route.path) {
                return Err(json::error_at(file, source, &["routes", id, "path"], format!("route `{id}`: {e}")));
            }
            if !route.path.starts_with('/') {
                let msg =
                    format!("route `{id}` has path `{}`, which does not start with `/`", json::clip(&route.path, 60));
                return Err(json::error_at(file, source, &["routes", id, "path"], msg)
                    .with_help("write the full path, e.g. \"/_v/app/my-app/status/:code\""));
            }
            warnings.extend(json::unknown_fields(
                file,
                source,
                &["routes", id],
                &route.extra,
                "path, public, settingsType",
            ));
        }
        Ok((s, warnings))
    }
}

const WHAT: &str = "node/service.json";

/// The sizing fields VTEX documents: (name, unit, smallest, largest). VTEX states no maximum
/// for `timeout`; ioctl accepts up to an hour. The others are only refused when they are
/// obviously wrong (negative, fractional, zero where zero means nothing runs).
const NUMBERS: &[(&str, &str, u64, u64)] = &[
    ("timeout", "seconds", 1, 3600),
    ("memory", "MB", 1, u32::MAX as u64),
    ("ttl", "minutes", 1, u32::MAX as u64),
    ("minReplicas", "replicas", 0, u32::MAX as u64),
    ("maxReplicas", "replicas", 1, u32::MAX as u64),
    ("workers", "workers", 1, u32::MAX as u64),
];

fn check_numbers(file: &Path, source: &str, raw: &Value) -> Result<(), Diagnostic> {
    for &(name, unit, min, max) in NUMBERS {
        let Some(v) = raw.get(name).filter(|v| !v.is_null()) else { continue };
        if v.as_u64().is_some_and(|n| (min..=max).contains(&n)) {
            continue;
        }
        let range = if max == u32::MAX as u64 { format!("≥ {min}") } else { format!("from {min} to {max}") };
        let shown = json::clip(&v.to_string(), 60);
        let mut e = json::error_at(
            file,
            source,
            &[name],
            format!("`{name}` must be a whole number of {unit} {range}, not {shown}"),
        );
        if name == "timeout" {
            e = e.with_help(
                "the time a request or event handler may take, in seconds; VTEX states no maximum, ioctl accepts 1 to 3600",
            );
        }
        return Err(e);
    }
    let replicas = |k| raw.get(k).and_then(Value::as_u64);
    if let (Some(min), Some(max)) = (replicas("minReplicas"), replicas("maxReplicas")) {
        if max < min {
            return Err(json::error_at(
                file,
                source,
                &["maxReplicas"],
                format!("`maxReplicas` ({max}) is less than `minReplicas` ({min})"),
            ));
        }
    }
    Ok(())
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
    fn sizing_numbers_out_of_range_are_positioned() {
        let e = parse("{\n  \"memory\": 256,\n  \"timeout\": 0\n}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
        assert_eq!(e.message, "`timeout` must be a whole number of seconds from 1 to 3600, not 0");
        assert!(e.help.as_deref().unwrap().contains("1 to 3600"));
        for bad in ["3601", "1.5", "-1", "\"10\"", "1e30"] {
            let e = parse(&format!("{{\"timeout\": {bad}}}")).unwrap_err();
            assert!(e.message.starts_with("`timeout` must be"), "{bad}: {e}");
        }
        for (field, bad) in
            [("memory", "-128"), ("ttl", "2.5"), ("minReplicas", "-1"), ("maxReplicas", "0"), ("workers", "true")]
        {
            let e = parse(&format!("{{\"events\": {{}},\n \"{field}\": {bad}}}")).unwrap_err();
            assert!(e.message.starts_with(&format!("`{field}` must be a whole number")), "{e}");
            assert_eq!((e.line, e.column), (2, 2), "{e}");
        }
        let e = parse(r#"{"minReplicas": 4, "maxReplicas": 2}"#).unwrap_err();
        assert!(e.message.contains("less than `minReplicas`"), "{e}");
        let (s, _) =
            parse(r#"{"memory": 256, "ttl": 10, "timeout": 3600, "minReplicas": 0, "maxReplicas": 4, "workers": 1}"#)
                .unwrap();
        assert_eq!(s.timeout, Some(3600));
    }

    #[test]
    fn unknown_top_level_field_warns() {
        let (_, w) = parse(r#"{"memroy": 128}"#).unwrap();
        assert!(w[0].message.contains("unknown field `memroy`"));
    }
}
