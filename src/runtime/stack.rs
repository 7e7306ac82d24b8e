//! Reading JavaScript stack traces (already source-mapped to .ts by Node): find the app's own
//! frame for a positioned diagnostic, and shorten paths for the terminal.

use std::path::{Path, PathBuf};

/// The first frame that points into the app's own sources (not node_modules, not ioctl's
/// runtime), as (absolute path, line, column).
pub fn first_app_frame(stack: &str, app_root: &Path) -> Option<(PathBuf, usize, usize)> {
    let root = app_root.to_string_lossy();
    stack
        .lines()
        .filter_map(frame_location)
        .find(|(path, _, _)| path.starts_with(&*root) && !path.contains("/node_modules/") && !path.contains("/.ioctl/"))
        .map(|(p, l, c)| (PathBuf::from(p), l, c))
}

/// `    at fn (/path/file.ts:12:5)` or `    at /path/file.ts:12:5` or a bare `/path/file.ts:3`
/// (the first line of a SyntaxError) → (path, line, column).
fn frame_location(line: &str) -> Option<(String, usize, usize)> {
    let t = line.trim();
    let inner = match (t.rfind('('), t.ends_with(')')) {
        (Some(i), true) => &t[i + 1..t.len() - 1],
        _ => t.strip_prefix("at ").unwrap_or(t),
    };
    let inner = inner.strip_prefix("file://").unwrap_or(inner);
    if !inner.starts_with('/') {
        return None;
    }
    let mut parts = inner.rsplitn(3, ':');
    let last: usize = parts.next()?.parse().ok()?;
    let mid = parts.next()?;
    match (mid.parse::<usize>(), parts.next()) {
        (Ok(line), Some(path)) => Some((path.to_string(), line, last)),
        _ => Some((mid.to_string(), last, 1)).filter(|(p, _, _)| p.starts_with('/')),
    }
}

/// The stack as the user should read it: app paths relative to the app root, the frames of
/// ioctl's runtime (in `runtime_dir`) and Node internals dropped.
pub fn tidy(stack: &str, app_root: &Path, runtime_dir: &Path) -> String {
    let prefix = format!("{}/", app_root.display());
    let runtime = format!("{}/", runtime_dir.display());
    stack
        .lines()
        .filter(|l| !(l.contains(&runtime) || l.contains("(node:") || l.trim_start().starts_with("at node:")))
        .map(|l| l.replace(&prefix, ""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "ReferenceError: foo is not defined\n    at Object.<anonymous> (/app/node/node_modules/x/index.js:1:1)\n    at Object.<anonymous> (/app/node/event/a.ts:4:11)\n    at Module._compile (node:internal/modules/cjs/loader:1256:14)\n    at run (/cache/ioctl/host-0123/host.js:9:3)";

    #[test]
    fn finds_app_frame() {
        let (p, l, c) = first_app_frame(STACK, Path::new("/app")).unwrap();
        assert_eq!((p.to_str().unwrap(), l, c), ("/app/node/event/a.ts", 4, 11));
        assert!(first_app_frame("Error: x\n    at f (/other/y.ts:1:2)", Path::new("/app")).is_none());
        let (p, l, _) = first_app_frame("/app/node/index.ts:3\nfoo(\n^\nSyntaxError: x", Path::new("/app")).unwrap();
        assert_eq!((p.to_str().unwrap(), l), ("/app/node/index.ts", 3));
    }

    #[test]
    fn tidy_drops_host_frames_and_shortens() {
        let t = tidy(STACK, Path::new("/app"), Path::new("/cache/ioctl/host-0123"));
        assert!(t.contains("(node/event/a.ts:4:11)"), "{t}");
        assert!(!t.contains("host.js"));
        assert!(!t.contains("node:internal"));
    }
}
