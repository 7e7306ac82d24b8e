//! ioctl's own folders on disk ($IOCTL_HOME, the runtime cache, the sockets folder): folders
//! 0700 and files 0600, made and opened without following a symbolic link below the root the
//! user named, so a link planted in them cannot send a write, or a chmod, out of them.
//!
//! A leaf every layer uses (records, storage, builds, the runtime cache): the rules live here
//! once. The root itself (`$IOCTL_HOME`, `$IOCTL_CACHE`, `$XDG_RUNTIME_DIR`) is the user's
//! setting and may be reached through links; every folder and file ioctl makes below it is
//! checked with `lstat`/`O_NOFOLLOW` before it is changed or written.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

/// The error for a link where ioctl keeps its own file or folder.
pub fn link_refused(path: &Path) -> anyhow::Error {
    anyhow!("{}: is a symlink; ioctl does not follow links out of its folders; remove it", path.display())
}

/// Refuses `path` if it is a symbolic link (dangling or not); a missing path is fine.
pub fn not_a_link(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(link_refused(path)),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Creates `root` (and its parents) if it is missing, 0700; it must be a folder. A link to it
/// is followed: the root is the folder the user named.
pub fn root(root: &Path) -> anyhow::Result<()> {
    if !root.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("{}: cannot create folder", root.display()))?;
    }
    Ok(())
}

/// [`root`], then made 0700 when it is the user's (`$IOCTL_HOME`, which holds the tokens).
pub fn private_root(root_dir: &Path) -> anyhow::Result<()> {
    root(root_dir)?;
    let meta = std::fs::metadata(root_dir).with_context(|| format!("{}: cannot read", root_dir.display()))?;
    if meta.mode() & 0o7777 != 0o700 {
        std::fs::set_permissions(root_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("{}: cannot make it private (0700)", root_dir.display()))?;
    }
    Ok(())
}

/// Makes `dir` — `root` or a folder under it — exist, one level at a time below `root`: each
/// folder is created 0700, or must already be a real folder (not a link) owned by the user,
/// and is then made 0700. Nothing is changed before it has been checked.
pub fn dir(root_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let rel = dir
        .strip_prefix(root_dir)
        .map_err(|_| anyhow!("{}: not under ioctl's folder {}", dir.display(), root_dir.display()))?;
    root(root_dir)?;
    let mut at = root_dir.to_path_buf();
    for part in rel.components() {
        let std::path::Component::Normal(part) = part else {
            bail!("{}: not a plain path under {}", dir.display(), root_dir.display());
        };
        at.push(part);
        match std::fs::DirBuilder::new().mode(0o700).create(&at) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create folder", at.display())),
        }
        own_folder(&at)?;
    }
    Ok(())
}

/// Checks that `path` is a real folder of the user's, then makes it 0700 (through the opened
/// folder, so a link swapped in after the check is not followed either).
fn own_folder(path: &Path) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if meta.file_type().is_symlink() {
        return Err(link_refused(path));
    }
    if !meta.is_dir() {
        bail!("{}: not a folder; ioctl keeps its own folders here; remove it", path.display());
    }
    let folder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refusal(path, e, "cannot open folder"))?;
    let meta = folder.metadata().with_context(|| format!("{}: cannot read", path.display()))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    if meta.uid() != unsafe { libc::geteuid() } {
        bail!("{}: not a folder of yours; remove it, or point ioctl elsewhere", path.display());
    }
    if meta.mode() & 0o7777 != 0o700 {
        folder
            .set_permissions(std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("{}: cannot make it private (0700)", path.display()))?;
    }
    Ok(())
}

/// ELOOP from an `O_NOFOLLOW` open is a link; anything else is said as `what`.
fn refusal(path: &Path, e: std::io::Error, what: &str) -> anyhow::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return link_refused(path);
    }
    anyhow::Error::new(e).context(format!("{}: {what}", path.display()))
}

/// Opens `path` for writing, creating it 0600 (an existing file is made 0600), emptied when
/// `truncate`. A link or anything but a regular file at `path` is refused. Its folder must
/// be one of ioctl's ([`dir`]).
pub fn create(path: &Path, truncate: bool) -> anyhow::Result<File> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(link_refused(path)),
        Ok(meta) if !meta.is_file() => {
            bail!("{}: not a regular file; ioctl keeps its own files here; remove it", path.display())
        }
        _ => {}
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refusal(path, e, "cannot create"))?;
    let mode = file.metadata().with_context(|| format!("{}: cannot read", path.display()))?.mode();
    if mode & 0o7777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("{}: cannot make it private (0600)", path.display()))?;
    }
    Ok(file)
}

/// Writes `bytes` as the whole of `path` ([`create`]: 0600, no link followed).
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    create(path, true)?.write_all(bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Makes a tree ioctl installed private, walking it once without following a link: folders
/// 0700, files 0600, or 0700 when any execute bit was set (npm's `.bin` entries are links to
/// such files, and links have no mode of their own).
pub fn make_tree_private(top: &Path) -> anyhow::Result<()> {
    let mut pending: Vec<PathBuf> = vec![top.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let mode = if meta.is_dir() {
            let entries = std::fs::read_dir(&path).with_context(|| format!("{}: cannot list", path.display()))?;
            for entry in entries {
                pending.push(entry.with_context(|| format!("{}: cannot list", path.display()))?.path());
            }
            0o700
        } else if meta.is_file() {
            if meta.mode() & 0o111 != 0 {
                0o700
            } else {
                0o600
            }
        } else {
            continue;
        };
        if meta.mode() & 0o7777 != mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("{}: cannot make it private", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn folders_are_made_one_level_at_a_time_and_links_are_refused_before_any_change() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("home");
        dir(&root, &root.join("a/b")).unwrap();
        assert_eq!((mode(&root.join("a")), mode(&root.join("a/b"))), (0o700, 0o700));

        // A link to a 0755 folder is refused, and the folder keeps its mode.
        let victim = tmp.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("run")).unwrap();
        let e = dir(&root, &root.join("run")).unwrap_err().to_string();
        assert!(e.contains("run: is a symlink; ioctl does not follow links out of its folders; remove it"), "{e}");
        let e = dir(&root, &root.join("run/deeper")).unwrap_err().to_string();
        assert!(e.contains("is a symlink"), "{e}");
        assert_eq!(mode(&victim), 0o755);
        assert!(!victim.join("deeper").exists());

        // A file where a folder belongs is named too; an existing folder is made private.
        std::fs::write(root.join("file"), "").unwrap();
        assert!(dir(&root, &root.join("file/x")).unwrap_err().to_string().contains("not a folder"));
        std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o755)).unwrap();
        dir(&root, &root.join("a")).unwrap();
        assert_eq!(mode(&root.join("a")), 0o700);
        assert!(dir(&root, tmp.path()).is_err(), "outside the root");
    }

    #[test]
    fn files_are_created_private_and_never_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let link = tmp.path().join("W.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write(&link, b"x").unwrap_err().to_string();
        assert!(e.contains("W.log: is a symlink"), "{e}");
        assert!(!target.exists(), "a dangling link's target is not created");
        assert!(not_a_link(&link).is_err() && not_a_link(&target).is_ok());

        let file = tmp.path().join("f");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"new").unwrap();
        assert_eq!((std::fs::read_to_string(&file).unwrap().as_str(), mode(&file)), ("new", 0o600));
        assert!(write(tmp.path(), b"x").unwrap_err().to_string().contains("not a regular file"));
    }

    #[test]
    fn a_tree_is_made_private_without_following_links() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("pkgs");
        std::fs::create_dir_all(top.join("node_modules/.bin")).unwrap();
        std::fs::create_dir_all(top.join("node_modules/x/bin")).unwrap();
        std::fs::write(top.join("node_modules/x/index.js"), "").unwrap();
        std::fs::write(top.join("node_modules/x/bin/x.js"), "").unwrap();
        std::fs::set_permissions(top.join("node_modules/x/bin/x.js"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("../x/bin/x.js", top.join("node_modules/.bin/x")).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, top.join("node_modules/out")).unwrap();
        make_tree_private(&top).unwrap();
        assert_eq!(mode(&top.join("node_modules/.bin")), 0o700);
        assert_eq!(mode(&top.join("node_modules/x/index.js")), 0o600);
        assert_eq!(mode(&top.join("node_modules/x/bin/x.js")), 0o700, "executables stay executable");
        assert_eq!(mode(&outside), 0o644, "a link's target is not changed");
    }
}
