//! The app's installed dependencies as they are on disk. A warm standby host preloads the
//! packages the last version required; it may serve a relink only while these are unchanged.

use std::path::Path;
use std::time::SystemTime;

/// What a user edits or an install rewrites under node/: the manifests, the lockfiles and
/// node_modules itself.
const MANIFESTS: [&str; 5] = ["package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "node_modules"];

/// Names under node/node_modules that npm, yarn and pnpm rewrite whenever an install changed
/// what it holds (the watcher relinks on them, though it ignores the rest of node_modules).
pub const INSTALL_MARKERS: [&str; 3] = [".package-lock.json", ".yarn-integrity", ".modules.yaml"];

/// Modification time and size of each of [`MANIFESTS`] and [`INSTALL_MARKERS`] under node/
/// (None when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsState(Vec<Option<(SystemTime, u64)>>);

impl DepsState {
    /// Reads the state now: a handful of `stat` calls.
    pub fn read(node_dir: &Path) -> DepsState {
        let modules = node_dir.join("node_modules");
        let files =
            MANIFESTS.iter().map(|rel| node_dir.join(rel)).chain(INSTALL_MARKERS.iter().map(|m| modules.join(m)));
        DepsState(
            files
                .map(|path| {
                    let m = std::fs::metadata(path).ok()?;
                    Some((m.modified().ok()?, m.len()))
                })
                .collect(),
        )
    }
}

/// What a standby host is started with: the packages to preload and the state they were
/// read in.
#[derive(Debug, Clone)]
pub struct Preload {
    /// Absolute files, in the order the app first required them.
    pub files: Vec<String>,
    pub deps: DepsState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_install_changes_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path();
        std::fs::write(node.join("package.json"), "{}").unwrap();
        let before = DepsState::read(node);
        assert_eq!(before, DepsState::read(node), "reading twice is the same state");
        std::fs::create_dir_all(node.join("node_modules")).unwrap();
        std::fs::write(node.join("node_modules/.package-lock.json"), "{\"lockfileVersion\":3}").unwrap();
        assert_ne!(before, DepsState::read(node), "npm install wrote node_modules");
        let installed = DepsState::read(node);
        std::fs::write(node.join("package.json"), "{\"dependencies\":{}}").unwrap();
        assert_ne!(installed, DepsState::read(node), "package.json saved");
    }
}
