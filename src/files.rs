//! Reading a file the user named (an event body, an import, a settings file, an app's JSON):
//! only a regular file (a symlink is followed to one), never more than a stated limit, and
//! never blocking on a FIFO or a device.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most a file ioctl reads may hold, but an event body (`protocol::MAX_BODY`): an import
/// (`masterdata import FILE`, `settings set --file`, `vbase put --file`, each file of a `data
/// import` folder) or one of the app's own files (manifest.json, node/service.json, sources).
pub const MAX_FILE: u64 = 256 << 20;

/// Why a user's file was not read.
#[derive(Debug)]
pub enum Error {
    /// Missing, unreadable, or failing while being read.
    Io { path: PathBuf, source: std::io::Error },
    /// A folder, FIFO, device or socket.
    NotAFile { path: PathBuf, kind: &'static str },
    /// Over `limit` bytes.
    TooBig { path: PathBuf, limit: u64 },
    /// Not UTF-8 (for a text read), at byte `at`.
    NotText { path: PathBuf, at: usize },
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl Error {
    /// What went wrong, without the path.
    pub fn reason(&self) -> String {
        match self {
            Error::Io { source, .. } => format!("cannot read: {source}"),
            Error::NotAFile { kind, .. } => format!("is {kind}, not a regular file: name a file"),
            Error::TooBig { limit, .. } => format!("is larger than {}, the most ioctl reads from it", size(*limit)),
            Error::NotText { at, .. } => format!("is not UTF-8 text (at byte {at})"),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::NotAFile { path, .. }
            | Error::TooBig { path, .. }
            | Error::NotText { path, .. } => path,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for Error {}

/// `limit` in MiB (or KiB, or bytes) as people write it.
pub fn size(limit: u64) -> String {
    match limit {
        l if l >= 1 << 20 && l % (1 << 20) == 0 => format!("{} MiB", l >> 20),
        l if l >= 1 << 10 && l % (1 << 10) == 0 => format!("{} KiB", l >> 10),
        l => format!("{l} bytes"),
    }
}

/// What a file system entry is, when it is not a regular file ("a folder", "a FIFO", ...).
pub fn not_regular(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a folder")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// The bytes of the regular file at `path` (a symlink is followed), at most `limit` of them.
/// What it is is checked before opening (a device is never opened) and again on the opened
/// file (it may have been swapped in between); the open does not wait for a FIFO's writer.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let check = |meta: &std::fs::Metadata| match not_regular(meta.file_type()) {
        Some(kind) => Err(Error::NotAFile { path: path.to_path_buf(), kind }),
        None if meta.len() > limit => Err(Error::TooBig { path: path.to_path_buf(), limit }),
        None => Ok(()),
    };
    check(&std::fs::metadata(path).map_err(io)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(io)?;
    check(&file.metadata().map_err(io)?)?;
    // The size may grow while it is read: the limit holds whatever the file does.
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooBig { path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}

/// The text of the regular file at `path`, as [`read`] reads it.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, Error> {
    String::from_utf8(read(path, limit)?)
        .map_err(|e| Error::NotText { path: path.to_path_buf(), at: e.utf8_error().valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    }

    #[test]
    fn only_regular_files_are_read_and_never_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.json");
        std::fs::write(&ok, "{}").unwrap();
        assert_eq!(read_to_string(&ok, 2).unwrap(), "{}");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        assert_eq!(read_to_string(&link, 2).unwrap(), "{}", "the user's symlink to a file is followed");

        let e = read(&ok, 1).unwrap_err();
        assert!(matches!(e, Error::TooBig { limit: 1, .. }), "{e}");
        assert!(e.to_string().ends_with("ok.json: is larger than 1 bytes, the most ioctl reads from it"), "{e}");

        let cases = [
            (fifo(dir.path()), "a FIFO (named pipe)"),
            (dir.path().to_path_buf(), "a folder"),
            (PathBuf::from("/dev/zero"), "a character device"),
            (PathBuf::from("/dev/urandom"), "a character device"),
        ];
        for (path, kind) in cases {
            let e = read(&path, MAX_FILE).unwrap_err();
            assert_eq!(e.to_string(), format!("{}: is {kind}, not a regular file: name a file", path.display()));
        }
        let to_device = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &to_device).unwrap();
        assert!(matches!(read(&to_device, MAX_FILE).unwrap_err(), Error::NotAFile { .. }));

        let missing = read(&dir.path().join("nope"), 10).unwrap_err();
        assert!(missing.is_not_found() && missing.to_string().contains("nope: cannot read: "), "{missing}");
        std::fs::write(&ok, b"a\xffb").unwrap();
        assert_eq!(
            read_to_string(&ok, 10).unwrap_err().to_string(),
            format!("{}: is not UTF-8 text (at byte 1)", ok.display())
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(
            (size(MAX_FILE), size(2 << 20), size(4096), size(7)),
            ("256 MiB".into(), "2 MiB".into(), "4 KiB".into(), "7 bytes".into())
        );
    }
}
