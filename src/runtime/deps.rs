//! The app's installed dependencies as they are on disk. A warm standby host preloads the
//! packages the last version required; it may serve a relink only while these are unchanged.

use std::path::Path;
use std::time::SystemTime;

/// Files npm, yarn and pnpm rewrite whenever they change what node/node_modules holds, plus
/// the manifests a user edits.
const WATCHED: [&str; 8] = [
    "package.json",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "node_modules",
    "node_modules/.package-lock.json",
    "node_modules/.yarn-integrity",
    "node_modules/.modules.yaml",
];

/// Names under node/node_modules whose change means an install happened (the watcher relinks
/// on them, though it ignores the rest of node_modules).
pub const INSTALL_MARKERS: [&str; 3] = [".package-lock.json", ".yarn-integrity", ".modules.yaml"];

/// Modification time and size of each of [`WATCHED`] under node/ (None when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsState(Vec<Option<(SystemTime, u64)>>);

impl DepsState {
    /// Reads the state now: a handful of `stat` calls.
    pub fn read(node_dir: &Path) -> DepsState {
        DepsState(
            WATCHED
                .iter()
                .map(|rel| {
                    let m = std::fs::metadata(node_dir.join(rel)).ok()?;
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
