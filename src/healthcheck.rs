//! `ioctl healthcheck`: opens the events-example healthcheck route of the scope's session,
//! as opening it in a browser does on VTEX, and prints what it answers.

use std::process::ExitCode;

use anyhow::bail;

use crate::bus::Scope;
use crate::{client, record, sender};

pub async fn run(scope: &Scope) -> anyhow::Result<ExitCode> {
    let home = record::home()?;
    let record = record::require(&home, scope)?;
    let resp = client::get(&record.url, sender::HCHECK_PATH, None).await?;
    let status = resp.status();
    let body = client::text(resp).await?;
    if !status.is_success() {
        bail!("{}{} answered {status}: {}", record.url, sender::HCHECK_PATH, body.trim());
    }
    println!("{}", body.trim_end());
    Ok(ExitCode::SUCCESS)
}
