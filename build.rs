//! Build script: links the `ioctl` binary with compact relative relocations (DT_RELR) where
//! the machine can run them (glibc 2.36 or newer). Its ~29,000 relative relocations then take
//! a few kB instead of the ~700 kB table the loader reads in each of a session's two ioctl
//! processes at start. Elsewhere (other libcs, older glibc, cross builds) the classic table stays.
//! It also names the commit the binary is built from (`IOCTL_COMMIT`, for `ioctl --version`):
//! `git rev-parse` when the source is a git checkout, else `$IOCTL_COMMIT` (a packager's), else
//! "unknown".

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=IOCTL_COMMIT");
    println!("cargo:rustc-env=IOCTL_COMMIT={}", commit());
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    if target == host && target.contains("-linux-gnu") && glibc_runs_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc (`getconf GNU_LIBC_VERSION`: "glibc 2.36") reads DT_RELR.
fn glibc_runs_relr() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else { return false };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text.trim().trim_start_matches("glibc ").split('.').map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}

/// The commit checked out (12 hex digits); the script reruns when it moves.
fn commit() -> String {
    if let Ok(given) = std::env::var("IOCTL_COMMIT") {
        return given;
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(dir) = git(&["rev-parse", "--git-dir"]) else { return "unknown".into() };
    // A worktree's HEAD is its own; the refs are the common folder's.
    let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_else(|| dir.clone());
    // HEAD, the branch it points at (its folder: a commit may make its loose ref) and packed
    // refs: any commit or checkout reruns this. Only paths that exist: cargo reruns a script
    // that watches a missing file on every build (a release build of ioctl each time).
    let mut watched = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(format!("{common}/{branch}"));
        if let Some((folder, _)) = branch.rsplit_once('/') {
            watched.push(format!("{common}/{folder}"));
        }
    }
    for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into())
}
