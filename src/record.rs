//! Session records: how `healthcheck` and `events tail` find the link session of an account
//! and workspace. One JSON file per scope under `$IOCTL_HOME/sessions/`, readable by the
//! user only (it holds the session token), removed when link ends; a record left by a
//! killed link is recognised as stale by its dead pid.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::bus::Scope;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub url: String,
    pub pid: u32,
    pub token: String,
    pub account: String,
    pub workspace: String,
    pub apps: Vec<String>,
    pub started: String,
}

/// ioctl's per-user state folder: `$IOCTL_HOME`, else the platform's state (or data) dir.
pub fn home() -> anyhow::Result<PathBuf> {
    if let Some(h) = std::env::var_os("IOCTL_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("ioctl"))
        .context("cannot find a folder for ioctl's state; set IOCTL_HOME")
}

pub fn path(home: &Path, scope: &Scope) -> PathBuf {
    home.join("sessions").join(&scope.account).join(format!("{}.json", scope.workspace))
}

/// Whether a process with this pid exists (and is not a zombie waiting to be reaped).
fn alive(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        return !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The live session of a scope, if any. A stale record is removed.
pub fn find(home: &Path, scope: &Scope) -> anyhow::Result<Option<Record>> {
    let p = path(home, scope);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read session record", p.display())),
    };
    let record: Record = match serde_json::from_str(&text) {
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
pub fn require(home: &Path, scope: &Scope) -> anyhow::Result<Record> {
    match find(home, scope)? {
        Some(r) => Ok(r),
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
    pub fn write(home: &Path, record: &Record) -> anyhow::Result<Written> {
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
            .and_then(|t| serde_json::from_str::<Record>(&t).ok())
            .is_some_and(|r| r.pid == std::process::id());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes (or rewrites) a scope's record atomically, readable by the user only.
pub fn write(home: &Path, record: &Record) -> anyhow::Result<PathBuf> {
    let scope = Scope { account: record.account.clone(), workspace: record.workspace.clone() };
    let path = path(home, &scope);
    let dir = path.parent().expect("record path has a parent");
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create folder", dir.display()))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("{}: cannot write session record", tmp.display()))?;
        f.write_all(serde_json::to_string_pretty(record)?.as_bytes())?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("{}: cannot write session record", path.display()))?;
    Ok(path)
}

/// A random token for the control API (from the OS's random source).
pub fn new_token() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for the session token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_find_and_stale() {
        let home = tempfile::tempdir().unwrap();
        let scope = Scope { account: "acme".into(), workspace: "dev".into() };
        let mut rec = Record {
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
