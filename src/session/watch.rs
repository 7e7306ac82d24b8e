//! Watching the app folder: the notify callback only forwards paths; an async task collects
//! them until a quiet window passes and hands over one batch of changes per burst of saves.
//! node_modules, ioctl's .ioctl output, dot-folders and editor temp files are ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last file event before a batch is handed over.
pub const QUIET: Duration = Duration::from_millis(20);

/// One changed file, relative to the app root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: PathBuf,
    pub deleted: bool,
}

/// Keeps the OS watch alive; dropping it stops watching and closes the batch channel.
pub struct Watch {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `root`; batches of changes arrive on the returned receiver.
pub fn start(root: &Path) -> anyhow::Result<(Watch, mpsc::Receiver<Vec<Change>>)> {
    let (raw_tx, mut raw_rx) = mpsc::channel::<PathBuf>(4096);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if matches!(event.kind, notify::EventKind::Access(_)) {
                return;
            }
            for p in event.paths {
                // Blocks notify's thread if the collector is behind: backpressure, not loss.
                let _ = raw_tx.blocking_send(p);
            }
        }
    })
    .context("cannot start the file watcher")?;
    watcher.watch(root, RecursiveMode::Recursive).with_context(|| format!("{}: cannot watch", root.display()))?;

    let (tx, rx) = mpsc::channel(16);
    let root = root.to_path_buf();
    tokio::spawn(async move {
        while let Some(first) = raw_rx.recv().await {
            let mut paths = BTreeSet::from([first]);
            loop {
                match tokio::time::timeout(QUIET, raw_rx.recv()).await {
                    Ok(Some(p)) => {
                        paths.insert(p);
                    }
                    Ok(None) => break,
                    Err(_) => break, // quiet window passed
                }
            }
            let batch: Vec<Change> = paths
                .into_iter()
                .filter_map(|p| {
                    let rel = p.strip_prefix(&root).ok()?.to_path_buf();
                    (!ignored(&rel) && !p.is_dir()).then(|| Change { deleted: !p.exists(), path: rel })
                })
                .collect();
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                break;
            }
        }
    });
    Ok((Watch { _watcher: watcher }, rx))
}

/// Paths a save of the user's never touches: dependencies, ioctl's output, VCS, editor files.
pub fn ignored(rel: &Path) -> bool {
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.is_empty() {
        return true;
    }
    if parts.iter().any(|p| p == "node_modules" || p.starts_with('.')) {
        return true;
    }
    let name = parts.last().map(String::as_str).unwrap_or("");
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_what_is_not_source() {
        assert!(ignored(Path::new("node/node_modules/x/index.js")));
        assert!(ignored(Path::new("node/.ioctl/build/index.js")));
        assert!(ignored(Path::new(".git/index")));
        assert!(ignored(Path::new("node/index.ts~")));
        assert!(ignored(Path::new("node/.index.ts.swp")));
        assert!(ignored(Path::new("node/4913")));
        assert!(!ignored(Path::new("node/event/liveUsersUpdate.ts")));
        assert!(!ignored(Path::new("manifest.json")));
    }

    #[tokio::test]
    async fn a_burst_of_saves_is_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("node")).unwrap();
        let (_w, mut rx) = start(&root).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for i in 0..20 {
            std::fs::write(root.join("node/a.ts"), format!("export const a = {i}\n")).unwrap();
        }
        std::fs::write(root.join("node/.a.ts.swp"), "x").unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch, vec![Change { path: PathBuf::from("node/a.ts"), deleted: false }]);
        std::fs::remove_file(root.join("node/a.ts")).unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch, vec![Change { path: PathBuf::from("node/a.ts"), deleted: true }]);
    }
}
