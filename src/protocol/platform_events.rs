//! The platform events ioctl can fire as VTEX's senders would (orders-broadcast, broadcaster,
//! apps): their names, senders, keys and complete, plausible bodies. `ioctl events trigger`
//! publishes them; the dashboard's composer offers them as templates.

use serde_json::{json, Value};

use super::Scope;

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

/// Every platform event `trigger` knows (and the dashboard offers as templates).
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
pub fn body(t: &Trigger, scope: &Scope) -> Value {
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
