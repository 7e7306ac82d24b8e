//! What `ioctl link --fixtures DIR --cloud ACCOUNT --record DIR --cloud-writes` sends the
//! session: folders made absolute (the session does not share this command's current folder),
//! and the developer's credentials, read here from the environment or `vtex login`'s files.
//! The credentials go only into the link request (loopback, token-protected); they are never
//! printed or written.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use base64::Engine as _;
use serde::Deserialize;

use crate::protocol::{BoundaryOptions, CloudOptions, Credentials};

/// The flags, as the CLI validated them.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub fixtures: Vec<PathBuf>,
    pub cloud: Option<String>,
    pub record: Option<PathBuf>,
    pub cloud_writes: bool,
}

/// The largest toolbelt session file read (they hold a few tokens).
const MAX_SESSION_FILE: u64 = 1 << 20;

/// The options for the link request: `--record`'s folder made (0700) if missing, `--fixtures`
/// folders checked, credentials found. Errors say what to do.
pub fn options(flags: &Flags) -> anyhow::Result<BoundaryOptions> {
    let record = flags.record.as_deref().map(record_dir).transpose()?;
    let mut fixtures = Vec::new();
    for dir in &flags.fixtures {
        let abs = std::path::absolute(dir).with_context(|| format!("--fixtures {}: cannot read", dir.display()))?;
        match std::fs::metadata(&abs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("--fixtures {}: not a folder; name the folder that holds the fixture files", dir.display()),
            Err(e) => bail!("--fixtures {}: {e}; name an existing folder of fixture files", dir.display()),
        }
        let real = abs.canonicalize().with_context(|| format!("--fixtures {}: cannot read", dir.display()))?;
        if !fixtures.contains(&real) {
            fixtures.push(real);
        }
    }
    let cloud = match &flags.cloud {
        None => None,
        Some(account) => {
            let base_url = std::env::var("IOCTL_CLOUD_URL").ok().filter(|u| !u.is_empty());
            if let Some(url) = &base_url {
                check_base_url(url)?;
            }
            let home = dirs::home_dir();
            let credentials = credentials(account, env("VTEX_APP_KEY"), env("VTEX_APP_TOKEN"), home.as_deref())?;
            Some(CloudOptions { account: account.clone(), credentials, writes: flags.cloud_writes, record, base_url })
        }
    };
    Ok(BoundaryOptions { fixtures, cloud })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `--record DIR`: made if missing, and private (0700: recorded answers hold the account's data).
fn record_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(dir).with_context(|| format!("--record {}: cannot read", dir.display()))?;
    if abs.exists() && !abs.is_dir() {
        bail!("--record {}: not a folder; name a folder to write the recorded fixtures into", dir.display());
    }
    crate::private_fs::private_root(&abs).with_context(|| format!("--record {}", dir.display()))?;
    abs.canonicalize().with_context(|| format!("--record {}: cannot read", dir.display()))
}

fn check_base_url(url: &str) -> anyhow::Result<()> {
    let uri: hyper::Uri = url.parse().map_err(|e| anyhow!("IOCTL_CLOUD_URL `{url}` is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        bail!("IOCTL_CLOUD_URL `{url}` is not an http:// or https:// URL with a host (e.g. http://127.0.0.1:8080)");
    }
    Ok(())
}

/// The developer's credentials for `account`: `VTEX_APP_KEY` and `VTEX_APP_TOKEN` when set,
/// else the token `vtex login` stored for it.
fn credentials(
    account: &str,
    key: Option<String>,
    token: Option<String>,
    home: Option<&Path>,
) -> anyhow::Result<Credentials> {
    match (key, token) {
        (Some(key), Some(token)) => return Ok(Credentials::AppKey { key, token }),
        (Some(_), None) => bail!("VTEX_APP_KEY is set but VTEX_APP_TOKEN is not: set both (an app key of account {account} and its token), or neither to use the token of `vtex login`"),
        (None, Some(_)) => bail!("VTEX_APP_TOKEN is set but VTEX_APP_KEY is not: set both (an app key of account {account} and its token), or neither to use the token of `vtex login`"),
        (None, None) => {}
    }
    let token = home.map(|h| toolbelt_token(h, account)).transpose()?.flatten().ok_or_else(|| {
        anyhow!(
            "--cloud {account} needs your credentials: set VTEX_APP_KEY and VTEX_APP_TOKEN (an app key of account {account} and its token), or log in with `vtex login {account}` (ioctl reads the token it keeps in ~/.vtex/session/)"
        )
    })?;
    if let Some(expired) = expired_at(&token) {
        bail!("the token `vtex login` stored for account {account} expired at {expired}: log in again with `vtex login {account}`");
    }
    Ok(Credentials::Token { token })
}

/// The toolbelt's session (vtex/toolbelt, src/api/session/SessionsPersister.ts): configstore
/// JSON files under ~/.vtex/session/: `tokens.json` maps each account logged into to its
/// token (`{"acme": "eyJ...", "acme_refresh_token": "..."}`), and `session.json` holds the
/// current login (`{"account": "acme", "login": "dev@acme.com", "token": "eyJ..."}`).
/// The account's own entry in tokens.json first, else session.json's when it is that account.
fn toolbelt_token(home: &Path, account: &str) -> anyhow::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Session {
        account: Option<String>,
        token: Option<String>,
    }
    let dir = home.join(".vtex/session");
    if let Some(text) = read_optional(&dir.join("tokens.json"))? {
        let tokens: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not the JSON `vtex login` writes", dir.join("tokens.json").display()))?;
        if let Some(t) = tokens.get(account).and_then(|v| v.as_str()).filter(|t| !t.is_empty()) {
            return Ok(Some(t.to_string()));
        }
    }
    if let Some(text) = read_optional(&dir.join("session.json"))? {
        let session: Session = serde_json::from_str(&text)
            .with_context(|| format!("{}: not the JSON `vtex login` writes", dir.join("session.json").display()))?;
        if session.account.as_deref() == Some(account) {
            return Ok(session.token.filter(|t| !t.is_empty()));
        }
    }
    Ok(None)
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match crate::files::read_to_string(path, MAX_SESSION_FILE) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// When a JWT's `exp` has passed, that time (RFC 3339); none for a live token or one that is
/// no JWT (VTEX then says whether it takes it).
fn expired_at(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?.get("exp")?.as_i64()?;
    let now = chrono::Utc::now().timestamp();
    (exp < now).then(|| chrono::DateTime::from_timestamp(exp, 0).unwrap_or_default().to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: i64) -> String {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", enc(r#"{"alg":"ES256"}"#), enc(&format!(r#"{{"exp":{exp},"account":"acme"}}"#)))
    }

    #[test]
    fn an_app_key_in_the_environment_comes_first_and_must_be_whole() {
        let c = credentials("acme", Some("k".into()), Some("t".into()), None).unwrap();
        assert_eq!(c, Credentials::AppKey { key: "k".into(), token: "t".into() });
        let e = credentials("acme", Some("k".into()), None, None).unwrap_err().to_string();
        assert!(e.starts_with("VTEX_APP_KEY is set but VTEX_APP_TOKEN is not"), "{e}");
        let e = credentials("acme", None, None, None).unwrap_err().to_string();
        assert!(e.contains("set VTEX_APP_KEY and VTEX_APP_TOKEN") && e.contains("`vtex login acme`"), "{e}");
    }

    #[test]
    fn the_token_of_vtex_login_is_read_from_its_session_files() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".vtex/session");
        std::fs::create_dir_all(&dir).unwrap();
        let live = jwt(chrono::Utc::now().timestamp() + 3600);
        std::fs::write(
            dir.join("session.json"),
            format!(r#"{{"account": "acme", "login": "dev@acme.com", "token": "{live}"}}"#),
        )
        .unwrap();
        let c = credentials("acme", None, None, Some(home.path())).unwrap();
        assert_eq!(c, Credentials::Token { token: live.clone() });
        assert!(credentials("other", None, None, Some(home.path())).is_err(), "session.json is acme's");

        std::fs::write(dir.join("tokens.json"), r#"{"other": "opaque-token", "other_refresh_token": "r"}"#).unwrap();
        let c = credentials("other", None, None, Some(home.path())).unwrap();
        assert_eq!(c, Credentials::Token { token: "opaque-token".into() }, "a token that is no JWT is taken as it is");

        std::fs::write(dir.join("tokens.json"), format!(r#"{{"acme": "{}"}}"#, jwt(1_600_000_000))).unwrap();
        let e = credentials("acme", None, None, Some(home.path())).unwrap_err().to_string();
        assert!(e.contains("expired at 2020-09-13T12:26:40+00:00: log in again with `vtex login acme`"), "{e}");
        assert!(!e.contains("eyJ"), "the token is never shown: {e}");

        std::fs::write(dir.join("tokens.json"), "not json").unwrap();
        let e = format!("{:#}", credentials("acme", None, None, Some(home.path())).unwrap_err());
        assert!(e.contains("tokens.json: not the JSON `vtex login` writes"), "{e}");
    }

    #[test]
    fn folders_are_made_absolute_and_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let fx = tmp.path().join("fx");
        std::fs::create_dir(&fx).unwrap();
        let rec = tmp.path().join("rec/deeper");
        let flags = Flags {
            fixtures: vec![fx.clone(), fx.clone()],
            cloud: None,
            record: Some(rec.clone()),
            cloud_writes: false,
        };
        let o = options(&flags).unwrap();
        assert_eq!(o.fixtures, vec![fx.canonicalize().unwrap()], "once each");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&rec).unwrap().permissions().mode() & 0o777, 0o700);
        let missing = Flags { fixtures: vec![tmp.path().join("nope")], ..Flags::default() };
        let e = options(&missing).unwrap_err().to_string();
        assert!(
            e.contains("nope: No such file or directory") && e.ends_with("name an existing folder of fixture files"),
            "{e}"
        );
        assert!(check_base_url("ftp://x").is_err() && check_base_url("http://127.0.0.1:1").is_ok());
    }
}
