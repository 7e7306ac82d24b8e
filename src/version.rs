//! What `ioctl --version` prints: ioctl's version, the commit it was built from and the
//! Node.js it will run apps with (found as a link finds it: `$IOCTL_NODE`, else `node` on
//! PATH), so a bug report carries all three.

use std::process::ExitCode;

/// The `--version` text: `ioctl 0.1.0 (commit 1dcd363abcde)` and a line for Node.js.
pub fn text(commit: &str) -> String {
    let node = match crate::runtime::find_node() {
        Ok(path) => match node_version(&path) {
            Some(v) => format!("Node.js {v} ({})", path.display()),
            None => format!("Node.js at {} does not answer `--version`", path.display()),
        },
        Err(e) => format!("Node.js: {e:#}"),
    };
    format!("ioctl {} (commit {commit})\n{node}", env!("CARGO_PKG_VERSION"))
}

/// Prints [`text`]; exit 0 (even without Node.js: the version was asked, not a check).
pub fn print(commit: &str) -> ExitCode {
    println!("{}", text(commit));
    ExitCode::SUCCESS
}

/// `node --version`'s answer (`v20.20.2`).
pub fn node_version(node: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new(node).arg("--version").stdin(std::process::Stdio::null()).output().ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && v.starts_with('v')).then_some(v)
}
