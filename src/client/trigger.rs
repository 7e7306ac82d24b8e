//! `ioctl events trigger NAME [--set FIELD=VALUE]... | --list`: realistic events from VTEX's
//! platform senders (orders-broadcast, broadcaster, apps), each body complete and plausible,
//! overridable field by field, published through the running session.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::Connection;
use crate::protocol::platform_events::{body, catalog};
use crate::protocol::stream::CommandRecord;
use crate::protocol::{PublishRequest, Scope};

pub fn list(json_out: bool) -> anyhow::Result<ExitCode> {
    for t in catalog() {
        if json_out {
            println!("{}", json!({"name": t.name, "sender": t.sender, "key": t.key, "about": t.about}));
        } else {
            println!("{:<26} {:<22} {:<26} {}", t.name, t.sender, t.key, t.about);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn fire(
    scope: &Scope,
    name: &str,
    sets: &[String],
    json_out: bool,
    timeout: std::time::Duration,
) -> anyhow::Result<ExitCode> {
    let all = catalog();
    let Some(t) = all.iter().find(|t| t.name == name) else {
        bail!("no platform event `{name}`: `ioctl events trigger --list` shows them");
    };
    let mut body = body(t, scope);
    for set in sets {
        let Some((field, text)) = set.split_once('=') else {
            bail!("--set `{}` is not FIELD=VALUE", crate::app::clip(set, 60));
        };
        crate::store::settings::set_path(&mut body, field.trim(), super::settings::loose_value(text))
            .map_err(|e| anyhow::anyhow!("--set {}: {e}", crate::app::clip(set, 60)))?;
    }
    crate::store::settings::check_depth(&body, "the event body").map_err(anyhow::Error::msg)?;
    let session = Connection::find(scope, timeout)?;
    let request = PublishRequest {
        key: t.key.to_string(),
        sender: t.sender.to_string(),
        subject: String::new(),
        body: body.clone(),
        repeat: None,
        rate: None,
    };
    let answer = match super::events::publish(&session, serde_json::to_string(&request)?).await? {
        Ok(answer) => answer,
        Err(cut) => return Err(cut.error.context("the event may not have been published")),
    };
    let id = answer.id.as_deref().unwrap_or("?");
    if json_out {
        let record = CommandRecord::Published {
            id: Some(id),
            published: None,
            deliveries: answer.deliveries,
            stopped: None,
            sender: Some(t.sender),
            key: Some(t.key),
            body: Some(&body),
        };
        println!("{}", record.line());
    } else {
        let n = answer.deliveries;
        let to = if n == 0 { " (no handler subscribes to it)".to_string() } else { format!(" to {n} handler(s)") };
        println!("published {id} {} from {}{to}: {body}", t.key, t.sender);
    }
    Ok(ExitCode::SUCCESS)
}
