//! `ioctl events trigger NAME [--set FIELD=VALUE]... | --list`: realistic events from VTEX's
//! platform senders (orders-broadcast, broadcaster, apps), each body complete and plausible,
//! overridable field by field, published through the running session.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::{json, Value};

use super::Connection;
use crate::protocol::stream::CommandRecord;
use crate::protocol::{PublishRequest, Scope};

const ORDERS: &str = "vtex.orders-broadcast";
const BROADCASTER: &str = "vtex.broadcaster";
const APPS: &str = "apps";

/// The order states orders-broadcast fires a key for, each with the state before it.
const ORDER_STATES: &[(&str, &str)] = &[
    ("order-created", "order-created"),
    ("payment-pending", "order-created"),
    ("payment-approved", "payment-pending"),
    ("payment-denied", "payment-pending"),
    ("ready-for-handling", "payment-approved"),
    ("window-to-cancel", "payment-approved"),
    ("handling", "ready-for-handling"),
    ("invoiced", "handling"),
    ("cancel", "ready-for-handling"),
    ("canceled", "cancel"),
    ("incomplete", "order-created"),
];

/// One event `trigger` can fire.
pub struct Trigger {
    pub name: &'static str,
    pub sender: &'static str,
    pub key: &'static str,
    pub about: &'static str,
}

pub fn catalog() -> Vec<Trigger> {
    let mut all = vec![Trigger {
        name: "order-status-updated",
        sender: ORDERS,
        key: "order-status-updated",
        about: "an order changed state (every change)",
    }];
    for (state, _) in ORDER_STATES {
        all.push(Trigger { name: state, sender: ORDERS, key: state, about: "an order reached this state" });
    }
    all.push(Trigger {
        name: "broadcaster.notification",
        sender: BROADCASTER,
        key: "broadcaster.notification",
        about: "a SKU's catalog data, price or stock changed",
    });
    all.push(Trigger { name: "setup", sender: APPS, key: "setup", about: "an app was installed in the workspace" });
    all
}

fn digits(n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + fastrand::u8(0..10))).collect()
}

/// The event's full default body.
fn body(t: &Trigger, scope: &Scope) -> Value {
    let now = chrono::Utc::now();
    let iso = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let before = now - chrono::Duration::minutes(5);
    match t.sender {
        ORDERS => {
            let (current, last) = match ORDER_STATES.iter().find(|(s, _)| *s == t.key) {
                Some((s, l)) => (*s, *l),
                None => ("ready-for-handling", "payment-approved"),
            };
            json!({
                "domain": "Marketplace",
                "orderId": format!("{}-01", digits(13)),
                "currentState": current,
                "lastState": last,
                "currentChangeDate": iso(now),
                "lastChangeDate": iso(before),
            })
        }
        BROADCASTER => json!({
            "IdSku": digits(4).trim_start_matches('0').to_string() + "1",
            "ProductId": fastrand::u64(1000..10_000),
            "An": scope.account,
            "IdAffiliate": "SCA",
            "DateModified": iso(now),
            "IsActive": true,
            "StockModified": true,
            "PriceModified": false,
            "HasStockKeepingUnitModified": true,
            "HasStockKeepingUnitRemovedFromAffiliate": false,
        }),
        _ => json!({
            "id": "vendor.installed-app@1.0.0",
            "account": scope.account,
            "workspace": scope.workspace,
            "event": "installed",
            "date": iso(now),
        }),
    }
}

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
