//! `ioctl healthcheck`: opens the events-example healthcheck route of the scope's session,
//! as opening it in a browser does on VTEX, and prints what it answers.

use std::process::ExitCode;

use anyhow::bail;

use crate::protocol::{sample_sender::HCHECK_PATH, Scope};

pub async fn run(scope: &Scope, timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
    let session = super::Connection::find(scope, timeout)?;
    let resp = super::get_public(session.url(), HCHECK_PATH, timeout).await?;
    let status = resp.status();
    let body = super::text(resp).await?;
    if !status.is_success() {
        bail!("{}{HCHECK_PATH} answered {status}: {}", session.url(), body.trim());
    }
    println!("{}", body.trim_end());
    Ok(ExitCode::SUCCESS)
}
