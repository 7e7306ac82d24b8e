//! Build script: links the `ioctl` binary with compact relative relocations (DT_RELR) where
//! the machine can run them (glibc 2.36 or newer). Its ~29,000 relative relocations then take
//! a few kB instead of the ~700 kB table the loader reads in each of a session's two ioctl
//! processes at start. Elsewhere (other libcs, older glibc, cross builds) the classic table stays.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
