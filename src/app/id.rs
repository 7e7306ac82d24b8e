//! App ids as VTEX writes them (`vendor.name`, optionally `@version`): parsing, their parts,
//! the app's private domain path, and which senders an event may name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::json::clip;

/// What an app id looks like, for messages.
pub const FORM: &str = "an app id is `vendor.name`, lowercase letters, digits and `-` (the name starting \
with a letter), optionally with `@version`, e.g. vtex.service-course or vtex.service-course@0.0.1";

/// VTEX's system senders: not `vendor.name` ids, but valid senders (`apps` fires `setup` to an
/// app when it is installed in a workspace).
pub const SYSTEM_SENDERS: &[&str] = &["apps"];

/// `vendor.name` or `vendor.name@version`, checked; kept as its text (what the wire and the
/// logs carry) with the places of its `.` and `@`, so every part is a slice of it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId {
    text: String,
    /// Where the `.` between vendor and name is.
    dot: usize,
    /// Where the `@` before the version is; `text.len()` when there is no version.
    at: usize,
}

/// A text that is no app id; its message names it and says what an id looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAppId(String);

impl fmt::Display for InvalidAppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid app id `{}`: {FORM}", clip(&self.0, 60))
    }
}

impl std::error::Error for InvalidAppId {}

impl AppId {
    /// `vendor.name` (the vendor may start with a digit, the name may not), optionally with
    /// `@version` (letters, digits, `.`, `-`, `+`: a version or a range such as `0.x`).
    pub fn parse(text: &str) -> Result<AppId, InvalidAppId> {
        let invalid = || InvalidAppId(text.to_string());
        let at = text.find('@').unwrap_or(text.len());
        let dot = text[..at].find('.').ok_or_else(invalid)?;
        let version = text.get(at + 1..);
        let ok = is_vendor(&text[..dot]) && is_name(&text[dot + 1..at]) && version.is_none_or(is_version);
        ok.then(|| AppId { text: text.to_string(), dot, at }).ok_or_else(invalid)
    }

    /// The id of a manifest.json whose vendor, name and version were checked
    /// ([`is_vendor`], [`is_name`], [`is_semver`]).
    pub(super) fn of_manifest(vendor: &str, name: &str, version: &str) -> AppId {
        AppId { text: format!("{vendor}.{name}@{version}"), dot: vendor.len(), at: vendor.len() + 1 + name.len() }
    }

    /// The whole id, as it was written (`vendor.name@version`, or `vendor.name`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn vendor(&self) -> &str {
        &self.text[..self.dot]
    }

    pub fn name(&self) -> &str {
        &self.text[self.dot + 1..self.at]
    }

    pub fn version(&self) -> Option<&str> {
        self.text.get(self.at + 1..)
    }

    /// `vendor.name`: how events name their sender and the platform keys an app's data.
    pub fn without_version(&self) -> &str {
        &self.text[..self.at]
    }

    /// The version's first part (`1` of `1.2.3`), as written; none without a version.
    pub fn major(&self) -> Option<&str> {
        self.version().and_then(|v| v.split('.').next())
    }

    /// The app's private domain, `/{vendor}.{name}/v{major}/{account}/{workspace}`, as VTEX
    /// routes it; none for an id without version (no major to route by).
    pub fn private_path(&self, account: &str, workspace: &str) -> Option<String> {
        let major = self.major()?;
        Some(format!("/{}/v{major}/{account}/{workspace}", self.without_version()))
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl std::str::FromStr for AppId {
    type Err = InvalidAppId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AppId::parse(s)
    }
}

impl AsRef<str> for AppId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// On the wire an id is its text.
impl Serialize for AppId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AppId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        AppId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The text before a name's `@version`, trimmed, for a name no one checked: an app's platform
/// call may name any app (`apps.getAppSettings(process.env.VTEX_APP_ID)`), and its data is
/// keyed by `vendor.name` whatever version it names.
pub fn unversioned(text: &str) -> &str {
    text.split('@').next().unwrap_or(text).trim()
}

/// Whether an event may name `s` as its sender (service.json's `sender`, `events send
/// --sender`): a VTEX system sender, or `vendor.name` in lowercase letters, digits and `-`.
/// Looser than an app's own id (a name may start with a digit or `-`), as ioctl has always
/// taken senders: tightening it would refuse service.json files that link today.
pub fn is_sender(s: &str) -> bool {
    if SYSTEM_SENDERS.contains(&s) {
        return true;
    }
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    s.split_once('.').is_some_and(|(v, n)| word(v) && word(n))
}

/// The segments of a request path on an app's private domain, the inverse of
/// [`AppId::private_path`]: `(vendor.name, major, rest)` of `/{vendor}.{name}/v{major}{rest}`,
/// `rest` empty or starting with `/`. Loose on purpose: any segment with a `.` names an app's
/// domain, so a mistyped id answers 404 there rather than reaching a store route.
pub fn split_private_path(path: &str) -> Option<(&str, &str, &str)> {
    let path = path.trim_start_matches('/');
    let (app, after) = path.split_once('/')?;
    let (major, rest) = after.find('/').map_or((after, ""), |i| after.split_at(i));
    let major = major.strip_prefix('v').filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))?;
    app.contains('.').then_some((app, major, rest))
}

/// A vendor: lowercase letters, digits and `-`, starting with a letter or a digit.
pub fn is_vendor(s: &str) -> bool {
    is_word(s, true)
}

/// An app name: lowercase letters, digits and `-`, starting with a letter.
pub fn is_name(s: &str) -> bool {
    is_word(s, false)
}

fn is_word(s: &str, digit_first_ok: bool) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || (digit_first_ok && c.is_ascii_digit()) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A version as an id may carry it: letters, digits, `.`, `-` and `+`.
fn is_version(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
}

/// manifest.json's version: `MAJOR.MINOR.PATCH` in digits, optionally `-pre` and `+build`,
/// in the characters an id's version may hold (so every app's id parses back).
pub fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    is_version(s) && parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> AppId {
        AppId::parse(text).unwrap()
    }

    #[test]
    fn parts_of_a_versioned_id() {
        let a = id("vtex.service-course@0.0.1");
        assert_eq!((a.vendor(), a.name(), a.version()), ("vtex", "service-course", Some("0.0.1")));
        assert_eq!(a.without_version(), "vtex.service-course");
        assert_eq!(a.major(), Some("0"));
        assert_eq!(id("acme.shop@12.3.4-beta.1+7").major(), Some("12"));
        assert_eq!(id("1vendor.app@0.x").major(), Some("0"));
    }

    #[test]
    fn an_id_without_version_has_no_major() {
        let a = id("vtex.events-example");
        assert_eq!((a.vendor(), a.name(), a.version()), ("vtex", "events-example", None));
        assert_eq!(a.without_version(), "vtex.events-example");
        assert_eq!((a.major(), a.private_path("local", "dev")), (None, None));
    }

    #[test]
    fn prints_and_serializes_as_written() {
        for text in ["vtex.service-course", "acme.store-app@1.2.3", "a.b@1.0.0-beta+7"] {
            let a = id(text);
            assert_eq!(a.to_string(), text);
            assert_eq!(a.as_str(), text);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<AppId>(&json).unwrap(), a);
            assert_eq!(text.parse::<AppId>().unwrap(), a);
        }
        let e = serde_json::from_str::<AppId>("\"Not.an-id\"").unwrap_err().to_string();
        assert!(e.starts_with("invalid app id `Not.an-id`: an app id is `vendor.name`"), "{e}");
    }

    #[test]
    fn a_manifest_id_is_the_one_its_text_parses_to() {
        let m = AppId::of_manifest("vtex", "service-course", "1.2.3-rc.1");
        assert_eq!(m, id("vtex.service-course@1.2.3-rc.1"));
        assert_eq!((m.vendor(), m.name(), m.version()), ("vtex", "service-course", Some("1.2.3-rc.1")));
    }

    #[test]
    fn the_private_domain_path() {
        let a = id("vtex.service-course@2.10.0");
        assert_eq!(a.private_path("acme", "dev").unwrap(), "/vtex.service-course/v2/acme/dev");
        let path = format!("{}/_v/graphql", a.private_path("acme", "dev").unwrap());
        assert_eq!(split_private_path(&path), Some(("vtex.service-course", "2", "/acme/dev/_v/graphql")));
    }

    #[test]
    fn request_paths_on_a_private_domain() {
        assert_eq!(split_private_path("/a.b/v1/x/y"), Some(("a.b", "1", "/x/y")));
        assert_eq!(split_private_path("//a.b/v01"), Some(("a.b", "01", "")));
        assert_eq!(split_private_path("/a.b/v1/"), Some(("a.b", "1", "/")));
        assert_eq!(split_private_path("/Any.Thing/v7/z"), Some(("Any.Thing", "7", "/z")), "loose on purpose");
        for store in ["/", "/a.b", "/ab/v1/x", "/a.b/1/x", "/a.b/v/x", "/a.b/v1x/y", "/a.b/vx"] {
            assert_eq!(split_private_path(store), None, "{store}");
        }
    }

    #[test]
    fn bad_ids_name_themselves_and_the_form() {
        for bad in [
            "",
            "not an app",
            "vtex",
            "vtex.",
            ".app",
            "Vtex.app",
            "vtex.1app",
            "vtex.-app",
            "-vtex.app",
            "vtex.a.b",
            "vtex.app@",
            "a.b@1 0",
            "a.b@1@2",
            "a/b.c",
            "vtex@1.0.0",
            "vtex@1.0.0.app",
        ] {
            let e = AppId::parse(bad).unwrap_err().to_string();
            assert_eq!(e, format!("invalid app id `{bad}`: {FORM}"));
        }
        let e = AppId::parse(&"x".repeat(5000)).unwrap_err().to_string();
        assert!(e.len() < 300, "clipped: {}", e.len());
    }

    #[test]
    fn senders_are_app_ids_without_version_or_system_senders() {
        for good in ["vtex.events-example", "apps", "1a.2b", "vtex.1app", "-.-"] {
            assert!(is_sender(good), "{good}");
        }
        for bad in
            ["", "Bad Sender", "vtex", "vtex.", ".x", "vtex.a.b", "vtex.app@1.0.0", "Vtex.app", "app", "apps.", "APPS"]
        {
            assert!(!is_sender(bad), "{bad}");
        }
    }

    #[test]
    fn unversioned_names_keep_their_text_before_the_version() {
        assert_eq!(unversioned("vtex.app@1.2.3"), "vtex.app");
        assert_eq!(unversioned(" vtex.app @1"), "vtex.app");
        assert_eq!(unversioned("anything"), "anything");
        assert_eq!(unversioned("@1"), "");
    }

    #[test]
    fn manifest_versions_are_semver_in_id_characters() {
        for good in ["0.0.1", "10.18.0", "1.0.0-beta.1", "1.0.0+build-7", "1.2.3-rc.1+x"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["1.0", "1.0.0.0", "v1.0.0", "1.x.0", "", "1..0", "1.0.0-beta 1", "1.0.0-ä", "1.0.0@2"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
