//! Watching the app folder: the notify callback only forwards paths; an async task collects
//! them until a quiet window passes and hands over one batch of changes per burst of saves.
//! node_modules (but for the marker files an install rewrites), ioctl's .ioctl output,
//! dot-folders and editor temp files are ignored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Quiet time after the last file event before a batch is handed over.
pub const QUIET: Duration = Duration::from_millis(20);

/// Quiet time after an event that completes a save (the file closed after writing, renamed
/// into place, or removed): what else belongs to the same save follows within microseconds.
pub const QUIET_AFTER_SAVE: Duration = Duration::from_millis(4);

/// Whether `kind` ends a save, rather than being part of one still going on.
fn completes_save(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::EventKind::{Access, Modify, Remove};
    matches!(
        kind,
        Access(AccessKind::Close(AccessMode::Write))
            | Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
            | Remove(_)
    )
}

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
    let (raw_tx, mut raw_rx) = mpsc::channel::<Seen>(4096);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let complete = completes_save(&event.kind);
            if matches!(event.kind, notify::EventKind::Access(_)) && !complete {
                return;
            }
            let created = matches!(event.kind, notify::EventKind::Create(_));
            for path in event.paths {
                // Blocks notify's thread if the collector is behind: backpressure, not loss.
                let _ = raw_tx.blocking_send(Seen { path, complete, created });
            }
        }
    })
    .context("cannot start the file watcher")?;
    watcher.watch(root, RecursiveMode::Recursive).with_context(|| format!("{}: cannot watch", root.display()))?;

    let (tx, rx) = mpsc::channel(16);
    let root = root.to_path_buf();
    tokio::spawn(async move {
        while let Some(first) = raw_rx.recv().await {
            let batch = collect_batch(&root, first, &mut raw_rx).await;
            if !batch.is_empty() && tx.send(batch).await.is_err() {
                break;
            }
        }
    });
    Ok((Watch { _watcher: watcher }, rx))
}

/// One file event, as the collector needs it.
struct Seen {
    path: PathBuf,
    /// The event completes a save (see [`completes_save`]).
    complete: bool,
    /// The file was created.
    created: bool,
}

/// The events of one burst of saves, from `first` until a quiet window passes, as changes.
/// A file created and gone again within the burst (`sed -i`'s temp file, renamed over the
/// real one) is no change.
async fn collect_batch(root: &Path, first: Seen, raw_rx: &mut mpsc::Receiver<Seen>) -> Vec<Change> {
    let mut created = BTreeSet::new();
    let mut paths = BTreeSet::new();
    let mut next = Some(first);
    while let Some(seen) = next.take() {
        if seen.created {
            created.insert(seen.path.clone());
        }
        paths.insert(seen.path);
        let quiet = if seen.complete { QUIET_AFTER_SAVE } else { QUIET };
        // None: the quiet window passed, or the watcher is gone.
        next = tokio::time::timeout(quiet, raw_rx.recv()).await.ok().flatten();
    }
    // By path, as the user's tree lists them.
    let mut changes = std::collections::BTreeMap::new();
    for p in paths {
        let Ok(rel) = p.strip_prefix(root).map(Path::to_path_buf) else { continue };
        if ignored(&rel) {
            continue;
        }
        if p.is_dir() {
            // A folder made in the burst (`mkdir -p a/b && cp x a/b/`): files written into it
            // before the watcher had added it raise no event of their own, so they are read
            // from the folder itself.
            if created.contains(&p) {
                changes
                    .extend(files_in(root, &p).into_iter().map(|path| (path.clone(), Change { deleted: false, path })));
            }
            continue;
        }
        let deleted = !p.exists();
        if !(deleted && created.contains(&p)) {
            changes.insert(rel.clone(), Change { deleted, path: rel });
        }
    }
    changes.into_values().collect()
}

/// The files under `dir` a save would count (paths relative to `root`), not entering ignored
/// folders; at most `NEW_FOLDER_FILES` (a folder of thousands is an install, not a save).
fn files_in(root: &Path, dir: &Path) -> Vec<PathBuf> {
    const NEW_FOLDER_FILES: usize = 1000;
    let relative = |p: &Path| p.strip_prefix(root).map(Path::to_path_buf).ok();
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| relative(e.path()).is_some_and(|rel| !ignored(&rel)))
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| relative(e.path()))
        .take(NEW_FOLDER_FILES)
        .collect()
}

/// Paths a save of the user's never touches: dependencies, ioctl's output, VCS, editor files.
pub fn ignored(rel: &Path) -> bool {
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.is_empty() {
        return true;
    }
    // An install (npm, yarn, pnpm) rewrites one of these last: the app's dependencies changed.
    if let [node, modules, marker] = parts.as_slice() {
        if node == "node" && modules == "node_modules" && crate::runtime::INSTALL_MARKERS.contains(&marker.as_str()) {
            return false;
        }
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
        assert!(!ignored(Path::new("node/node_modules/.package-lock.json")), "npm install relinks");
        assert!(ignored(Path::new("node/node_modules/x/.package-lock.json")));
        assert!(ignored(Path::new("node/.cache/build/index.js")));
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
        // sed -i: a temp file written, then renamed over the real one.
        std::fs::write(root.join("node/sedAb12Cd"), "export const a = 'sed'\n").unwrap();
        std::fs::rename(root.join("node/sedAb12Cd"), root.join("node/a.ts")).unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch, vec![Change { path: PathBuf::from("node/a.ts"), deleted: false }]);
        std::fs::remove_file(root.join("node/a.ts")).unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        assert_eq!(batch, vec![Change { path: PathBuf::from("node/a.ts"), deleted: true }]);
    }

    #[tokio::test]
    async fn files_written_into_a_new_folder_come_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("fx/app.io.vtex.com/search")).unwrap();
        std::fs::write(root.join("fx/app.io.vtex.com/search/a.json"), "{}").unwrap();
        std::fs::create_dir_all(root.join("fx/node_modules/x")).unwrap();
        std::fs::write(root.join("fx/node_modules/x/b.json"), "{}").unwrap();
        // The watcher saw the folder made, and nothing of the files written into it before it
        // added the folder.
        let (tx, mut rx) = mpsc::channel(1);
        drop(tx);
        let made = Seen { path: root.join("fx"), complete: false, created: true };
        let batch = collect_batch(&root, made, &mut rx).await;
        assert_eq!(batch, vec![Change { path: PathBuf::from("fx/app.io.vtex.com/search/a.json"), deleted: false }]);
    }
}
