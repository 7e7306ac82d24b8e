//! Where ioctl keeps things on disk, in one place: `$IOCTL_HOME` (session records and logs,
//! each workspace's data, builds, the sockets' fallback folder) and the cache (the runtime's
//! and the IDE's package sets, the host's code). The modules that read and write there take
//! their paths from here; `private_fs` says how they are made (0700/0600, no link followed).
//!
//! ```text
//! $IOCTL_HOME/
//!   sessions/ACCOUNT/WORKSPACE.json   the running session's record (.log beside it)
//!   data/ACCOUNT/WORKSPACE.sqlite     settings and VBase of a workspace
//!   data/ACCOUNT/masterdata.sqlite    Master Data of an account
//!   build/ACCOUNT/WORKSPACE/NAME-HASH the build of one app folder
//!   run/                              the hosts' sockets, without $XDG_RUNTIME_DIR
//! $IOCTL_CACHE (~/.cache/ioctl)/
//!   runtime-HASH/, ide-HASH/, host-HASH/
//!   code-cache/                      V8 code caches of the apps' modules (host/code_cache.js)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use crate::private_fs;

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

/// `$IOCTL_CACHE`, else the user's cache folder + `ioctl` (e.g. ~/.cache/ioctl).
pub fn cache() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("IOCTL_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("ioctl")).ok_or_else(|| {
        anyhow!("no cache folder for ioctl's Node runtime packages: set HOME (or IOCTL_CACHE to a folder)")
    })
}

/// The folder of the V8 code caches of the apps' dependencies and built modules, under the
/// cache: the hosts write and bound it (src/runtime/js/host/code_cache.js).
pub fn code_cache(cache: &Path) -> PathBuf {
    cache.join("code-cache")
}

/// Makes `dir` — `home` or a folder under it — readable by the user only (0700): `home` is
/// created and made 0700, and each folder below it is created one level at a time, checked
/// to be a real folder of the user's (a link is refused, never followed) and made 0700.
pub fn private_dir(home: &Path, dir: &Path) -> anyhow::Result<()> {
    private_fs::private_root(home)?;
    private_fs::dir(home, dir)
}

/// The user's private folder for the Node hosts' unix sockets: `$XDG_RUNTIME_DIR/ioctl` when
/// there is one, else `$IOCTL_HOME/run`; a real folder (not a link), 0700 and owned by the
/// user, or an error says why (and nothing was changed).
pub fn socket_dir(home: &Path) -> anyhow::Result<PathBuf> {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty() && Path::new(d).is_dir()) {
        Some(runtime) => {
            let dir = Path::new(&runtime).join("ioctl");
            private_fs::dir(Path::new(&runtime), &dir)?;
            Ok(dir)
        }
        None => {
            let dir = home.join("run");
            private_dir(home, &dir)?;
            Ok(dir)
        }
    }
}

/// The folder of every account's session records and logs.
pub fn sessions(home: &Path) -> PathBuf {
    home.join("sessions")
}

/// The record of the session of `account`/`workspace` (its log is beside it, `.log`).
pub fn session_record(home: &Path, account: &str, workspace: &str) -> PathBuf {
    sessions(home).join(account).join(format!("{workspace}.json"))
}

/// The database of a workspace's settings and VBase files.
pub fn workspace_db(home: &Path, account: &str, workspace: &str) -> PathBuf {
    home.join("data").join(account).join(format!("{workspace}.sqlite"))
}

/// The database of an account's Master Data (shared by its workspaces, as on VTEX).
pub fn masterdata_db(home: &Path, account: &str) -> PathBuf {
    home.join("data").join(account).join("masterdata.sqlite")
}

/// Where the build of the app at `app_root` goes for one account/workspace, one folder per
/// app folder (two workspaces linking one folder never share a build).
pub fn build_dir(home: &Path, account: &str, workspace: &str, app_root: &Path) -> PathBuf {
    let name = app_root.file_name().unwrap_or_default().to_string_lossy();
    // Stable across ioctl builds (std's hasher is not): the folder outlives the session.
    let key = crate::stable_hash::fnv1a(&[&app_root.to_string_lossy()]);
    home.join("build").join(account).join(workspace).join(format!("{name}-{key:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_of_home() {
        let h = Path::new("/h");
        assert_eq!(session_record(h, "acme", "dev"), Path::new("/h/sessions/acme/dev.json"));
        assert_eq!(workspace_db(h, "acme", "dev"), Path::new("/h/data/acme/dev.sqlite"));
        assert_eq!(masterdata_db(h, "acme"), Path::new("/h/data/acme/masterdata.sqlite"));
        // Pinned: a build folder's name must not change from one ioctl version to the next.
        let dir = build_dir(h, "acme", "dev", Path::new("/apps/my-app"));
        assert_eq!(dir, Path::new("/h/build/acme/dev/my-app-3e4dfc78c236fde9"));
    }
}
