//! npm installs of what the benchmarks compare against or run on (tsx, the real-sized app's
//! dependencies): once, under target/tmp, with a deadline and npm's last error line on failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// `npm install --prefix DIR PACKAGES...` (no packages: those of DIR/package.json).
pub fn install(dir: &Path, packages: &[&str], what: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    // npm's messages go to a file: a full pipe nobody reads would stall it.
    let log = dir.join("npm-install.log");
    let mut npm = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
        .arg(dir)
        .args(packages)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("cannot run npm")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = npm.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = npm.kill();
            bail!("npm install of {what} did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        let err = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("npm install of {what} failed: {}", err.trim().lines().last().unwrap_or("no message"));
    }
    Ok(())
}
