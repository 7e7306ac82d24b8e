//! `ioctl data export | import | reset`: a workspace's local data (settings, VBase files,
//! platform settings) and its account's Master Data as readable JSON files, with or without a
//! running session.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use crate::protocol::Scope;
use crate::store::snapshot;

pub fn export(scope: &Scope, dir: &Path) -> anyhow::Result<ExitCode> {
    let counts = snapshot::export(&super::local_store(scope)?, dir)?;
    println!("exported {counts} of {scope} to {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

pub fn import(scope: &Scope, dir: &Path) -> anyhow::Result<ExitCode> {
    let counts = snapshot::import(&super::local_store(scope)?, dir).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nnothing was imported: the settings, VBase files and Master Data of {scope} are as they were"
        )
    })?;
    println!("imported {counts} into {scope} from {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Clears the data after a `y` on stdin (or with `--yes`); anything else leaves it alone.
pub fn reset(scope: &Scope, yes: bool) -> anyhow::Result<ExitCode> {
    let what = format!(
        "the app settings, VBase files and platform settings of {scope}, and the Master Data of account {}",
        scope.account
    );
    if !yes {
        eprint!("clear {what}? [y/N] ");
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("\nnothing was cleared (pass --yes to skip the question)");
            return Ok(ExitCode::from(1));
        }
    }
    snapshot::reset(&super::local_store(scope)?)?;
    println!("cleared {what}");
    Ok(ExitCode::SUCCESS)
}
