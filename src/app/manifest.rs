//! manifest.json: the app's identity (vendor, name, version) and builders.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::id::{is_name, is_semver, is_vendor, AppId};
use super::json;
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub vendor: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub builders: BTreeMap<String, String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    // Informational locally; accepted so they are not reported as unknown.
    #[serde(default)]
    pub dependencies: Option<Value>,
    #[serde(default)]
    pub peer_dependencies: Option<Value>,
    #[serde(default)]
    pub policies: Option<Value>,
    #[serde(default)]
    pub credential_type: Option<Value>,
    #[serde(default)]
    pub scripts: Option<Value>,
    #[serde(default, rename = "$schema")]
    pub schema: Option<Value>,
    #[serde(default)]
    pub registries: Option<Value>,
    #[serde(default)]
    pub settings_schema: Option<Value>,
    #[serde(default)]
    pub billing_options: Option<Value>,
    #[serde(default)]
    pub categories: Option<Value>,
    #[serde(default)]
    pub must_update_at: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

const KNOWN: &str = "vendor, name, version, builders, title, description, dependencies, peerDependencies, \
policies, credentialType, scripts, $schema, registries, settingsSchema, billingOptions, categories, mustUpdateAt";

impl Manifest {
    /// `vendor.name@version`, as `vtex link` names the app (`vendor.name` is the sender of
    /// every event it fires).
    pub fn app_id(&self) -> AppId {
        AppId::of_manifest(&self.vendor, &self.name, &self.version)
    }

    /// Parses and validates; returns the manifest and its warnings.
    pub fn parse(file: &Path, source: &str) -> Result<(Self, Vec<Diagnostic>), Diagnostic> {
        let source = source.strip_prefix('\u{FEFF}').unwrap_or(source);
        if let Some((name, second, _)) = json::duplicate_key(source, &[]) {
            return Err(Diagnostic::at_offset(
                file,
                source,
                second,
                format!("duplicate field `{}`", json::clip(&name, 60)),
            )
            .with_help("keep one: the last one would silently replace the first"));
        }
        let m: Manifest = json::parse(file, source, "manifest.json")?;
        if !is_vendor(&m.vendor) {
            return Err(json::error_at(
                file,
                source,
                &["vendor"],
                format!("invalid vendor `{}`", json::clip(&m.vendor, 60)),
            )
            .with_help("use lowercase letters, digits and `-`, e.g. \"vtex\""));
        }
        if !is_name(&m.name) {
            return Err(json::error_at(
                file,
                source,
                &["name"],
                format!("invalid app name `{}`", json::clip(&m.name, 60)),
            )
            .with_help("use lowercase letters, digits and `-`, not starting with a digit, e.g. \"service-course\""));
        }
        if !is_semver(&m.version) {
            return Err(json::error_at(
                file,
                source,
                &["version"],
                format!("invalid version `{}`", json::clip(&m.version, 60)),
            )
            .with_help("use semver MAJOR.MINOR.PATCH, e.g. \"0.0.1\""));
        }
        if !m.builders.contains_key("node") {
            return Err(json::error_at(file, source, &["builders"], "this app has no `node` builder")
                .with_help("a Node service app declares \"builders\": { \"node\": \"6.x\" }"));
        }
        let node = &m.builders["node"];
        let major: Option<u32> = node.split('.').next().and_then(|v| v.parse().ok());
        if major.is_some_and(|v| v < 4) {
            return Err(json::error_at(
                file,
                source,
                &["builders", "node"],
                format!("node builder {node} is the pre-Service API, which ioctl (and VTEX today) no longer runs"),
            )
            .with_help(
                "move to \"node\": \"6.x\" and export `new Service({ routes, events })` from '@vtex/api' in node/index.ts",
            ));
        }
        let warnings = json::unknown_fields(file, source, &[], &m.extra, KNOWN);
        Ok((m, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"vendor":"vtex","name":"service-course","version":"0.0.1","builders":{"node":"6.x"}}"#;

    #[test]
    fn parses_ids() {
        let (m, w) = Manifest::parse(Path::new("manifest.json"), GOOD).unwrap();
        assert_eq!(m.app_id().without_version(), "vtex.service-course");
        assert_eq!(m.app_id().to_string(), "vtex.service-course@0.0.1");
        assert!(w.is_empty());
    }

    #[test]
    fn rejects_bad_name_with_position() {
        let src = "{\n  \"vendor\": \"vtex\",\n  \"name\": \"1Bad\",\n  \"version\": \"0.0.1\",\n  \"builders\": {\"node\": \"6.x\"}\n}";
        let e = Manifest::parse(Path::new("manifest.json"), src).unwrap_err();
        assert_eq!((e.line, e.column), (3, 3));
        assert!(e.message.contains("invalid app name `1Bad`"));
    }

    #[test]
    fn rejects_bad_version_and_missing_builder() {
        let src = r#"{"vendor":"vtex","name":"a","version":"1.0","builders":{"node":"6.x"}}"#;
        assert!(Manifest::parse(Path::new("m"), src).unwrap_err().message.contains("invalid version"));
        let src = r#"{"vendor":"vtex","name":"a","version":"1.0.0","builders":{"docs":"0.x"}}"#;
        assert!(Manifest::parse(Path::new("m"), src).unwrap_err().message.contains("no `node` builder"));
    }

    #[test]
    fn wrong_type_is_positioned() {
        let src = "{\n  \"vendor\": 3\n}";
        let e = Manifest::parse(Path::new("manifest.json"), src).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn error_points_at_the_key_not_an_equal_string_before_it() {
        let src = "{\n  \"title\": \"name\",\n  \"vendor\": \"vtex\",\n  \"name\": \"Bad\",\n  \"version\": \"0.0.1\",\n  \"builders\": {\"node\": \"6.x\"}\n}";
        let e = Manifest::parse(Path::new("manifest.json"), src).unwrap_err();
        assert_eq!((e.line, e.column), (4, 3), "{e}");
    }

    #[test]
    fn bom_duplicates_and_non_objects() {
        let (m, _) = Manifest::parse(Path::new("manifest.json"), &format!("\u{FEFF}{GOOD}")).unwrap();
        assert_eq!(m.app_id().without_version(), "vtex.service-course");
        let e = Manifest::parse(Path::new("manifest.json"), "[]").unwrap_err();
        assert_eq!(e.message, "manifest.json must be a JSON object, not an array");
        let e = Manifest::parse(Path::new("manifest.json"), r#"{"name":"a","name":"b"}"#).unwrap_err();
        assert_eq!((e.message.as_str(), e.column), ("duplicate field `name`", 13));
    }

    #[test]
    fn long_values_are_clipped_in_messages() {
        let src = format!(
            r#"{{"vendor":"vtex","name":"a","version":"{}","builders":{{"node":"6.x"}}}}"#,
            "9".repeat(100_000)
        );
        let e = Manifest::parse(Path::new("manifest.json"), &src).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message.len());
    }

    #[test]
    fn a_prerelease_outside_an_ids_characters_is_refused_at_the_version() {
        let src = "{\n  \"vendor\": \"vtex\",\n  \"name\": \"a\",\n  \"version\": \"1.0.0-beta 1\",\n  \"builders\": {\"node\": \"6.x\"}\n}";
        let e = Manifest::parse(Path::new("manifest.json"), src).unwrap_err();
        assert_eq!((e.message.as_str(), e.line, e.column), ("invalid version `1.0.0-beta 1`", 4, 3));
        let src = r#"{"vendor":"vtex","name":"a","version":"1.0.0-beta.1+7","builders":{"node":"6.x"}}"#;
        let (m, _) = Manifest::parse(Path::new("manifest.json"), src).unwrap();
        assert_eq!(m.app_id(), "vtex.a@1.0.0-beta.1+7".parse().unwrap());
    }

    #[test]
    fn unknown_field_warns() {
        let src = r#"{"vendor":"vtex","name":"a","version":"1.0.0","builders":{"node":"6.x"},"colour":1}"#;
        let (_, w) = Manifest::parse(Path::new("m"), src).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("unknown field `colour`"));
    }
}
