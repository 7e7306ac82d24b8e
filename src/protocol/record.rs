//! Session records: how the client commands find the link session of an account and
//! workspace. One JSON file per scope under `$IOCTL_HOME/sessions/`, readable by the user
//! only (it holds the session token), removed when the session ends; a record left by a
//! killed session is recognised as stale by its dead pid. Every folder ioctl makes is 0700.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::Scope;
use crate::private_fs;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's protocol version ([`super::VERSION`]); absent in older records.
    #[serde(default)]
    pub protocol: u32,
    pub url: String,
    pub pid: u32,
    pub token: String,
    pub account: String,
    pub workspace: String,
    pub apps: Vec<String>,
    pub started: String,
}

impl SessionRecord {
    /// A session of another protocol version cannot be talked to: say which, and what to do.
    pub fn check_version(&self) -> anyhow::Result<()> {
        if self.protocol != super::VERSION {
            bail!("{} (pid {})", super::version_mismatch((self.protocol != 0).then_some(self.protocol)), self.pid);
        }
        Ok(())
    }
}

/// How long logs of ended sessions are kept.
const LOG_KEEP: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// Opens a new session's log (0600): the previous one of the scope becomes `.log.1`, and logs
/// of any scope untouched for 14 days are removed.
pub fn session_log(log_path: &Path) -> anyhow::Result<std::fs::File> {
    // Not renamed aside either: a link here is refused, as the log itself would be.
    private_fs::not_a_link(log_path)?;
    if log_path.exists() {
        let _ = std::fs::rename(log_path, log_path.with_extension("log.1"));
    }
    if let Some(sessions) = log_path.parent().and_then(Path::parent) {
        remove_old_logs(sessions);
    }
    private_fs::create(log_path, true).context("cannot create the session log")
}

/// Removes old logs from the account folders under `sessions`; a link there is not followed.
fn remove_old_logs(sessions: &Path) {
    let Ok(accounts) = std::fs::read_dir(sessions) else { return };
    for account in accounts.flatten() {
        if !account.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(account.path()) else { continue };
        for f in files.flatten() {
            let p = f.path();
            let is_log =
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".log") || n.ends_with(".log.1"));
            // The entry's own metadata: a link's, not its target's.
            let old = f
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > LOG_KEEP);
            if is_log && old {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// The record of `scope`'s session (see [`crate::layout`]).
pub fn path(home: &Path, scope: &Scope) -> PathBuf {
    crate::layout::session_record(home, &scope.account, &scope.workspace)
}

/// Whether a process with this pid exists (and is not a zombie waiting to be reaped).
pub fn alive(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        return !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The live session of a scope, if any. A stale record is removed.
pub fn find(home: &Path, scope: &Scope) -> anyhow::Result<Option<SessionRecord>> {
    let p = path(home, scope);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read session record", p.display())),
    };
    let record: SessionRecord = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(_) => {
            let _ = std::fs::remove_file(&p);
            return Ok(None);
        }
    };
    if !alive(record.pid) {
        let _ = std::fs::remove_file(&p);
        return Ok(None);
    }
    Ok(Some(record))
}

/// Like [`find`], but a missing session is the user-facing error the commands print.
pub fn require(home: &Path, scope: &Scope) -> anyhow::Result<SessionRecord> {
    match find(home, scope)? {
        Some(r) => {
            r.check_version()?;
            Ok(r)
        }
        None => bail!(
            "no link session runs for {scope}; start one with `ioctl link -a {} -w {}` in your app folder",
            scope.account,
            scope.workspace
        ),
    }
}

/// The record of the running link; removes the file when dropped.
pub struct Written {
    path: PathBuf,
}

impl Written {
    pub fn write(home: &Path, record: &SessionRecord) -> anyhow::Result<Written> {
        Ok(Written { path: write(home, record)? })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Written {
    /// Removes the record, unless it is no longer ours: a session that starts while this one
    /// is ending writes its own record at the same path, and that one must stay.
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str::<SessionRecord>(&t).ok())
            .is_some_and(|r| r.pid == std::process::id());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes (or rewrites) a scope's record atomically, readable by the user only.
pub fn write(home: &Path, record: &SessionRecord) -> anyhow::Result<PathBuf> {
    let scope = Scope { account: record.account.clone(), workspace: record.workspace.clone() };
    let path = path(home, &scope);
    crate::layout::private_dir(home, path.parent().expect("record path has a parent"))?;
    private_fs::not_a_link(&path)?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    private_fs::write(&tmp, serde_json::to_string_pretty(record)?.as_bytes()).context("cannot write session record")?;
    std::fs::rename(&tmp, &path).with_context(|| format!("{}: cannot write session record", path.display()))?;
    Ok(path)
}

/// A random token for the control API (from the OS's random source).
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot get randomness for the session token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_find_and_stale() {
        let home = tempfile::tempdir().unwrap();
        let scope = Scope { account: "acme".into(), workspace: "dev".into() };
        let mut rec = SessionRecord {
            protocol: crate::protocol::VERSION,
            url: "http://127.0.0.1:1".into(),
            pid: std::process::id(),
            token: new_token().unwrap(),
            account: "acme".into(),
            workspace: "dev".into(),
            apps: vec![],
            started: String::new(),
        };
        {
            let w = Written::write(home.path(), &rec).unwrap();
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(w.path()).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(find(home.path(), &scope).unwrap().unwrap().token, rec.token);
            let other = Scope { account: "acme".into(), workspace: "other".into() };
            assert!(find(home.path(), &other).unwrap().is_none());
        }
        assert!(find(home.path(), &scope).unwrap().is_none(), "dropped record is removed");
        rec.pid = 0x7fff_fff0; // no such process
        std::mem::forget(Written::write(home.path(), &rec).unwrap());
        assert!(find(home.path(), &scope).unwrap().is_none(), "stale record is ignored");
        assert!(!path(home.path(), &scope).exists(), "and removed");
    }
}
