//! `ioctl platform show | set`: a workspace's platform settings (the local users, the tenant's
//! binding, locale and currency, the segment's trade policy and country), read and written in
//! its database whether or not a session runs; a running session is told to read them again,
//! so its next request and call use them.

use std::process::ExitCode;

use crate::protocol::endpoint::ReloadPlatform;
use crate::protocol::Scope;
use crate::store::{lock, platform};

pub fn show(scope: &Scope, json: bool) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    // Nothing stored yet: the defaults, without creating a database to find that out.
    let (settings, saved) = match store.workspace_if_stored()? {
        Some(db) => {
            let db = lock(&db);
            (platform::effective(&db, &scope.account)?, platform::saved(&db)?)
        }
        None => (platform::Settings::defaults(&scope.account), Default::default()),
    };
    let pairs = settings.pairs();
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), serde_json::Value::String(v))).collect();
        println!("{}", serde_json::Value::Object(map));
        return Ok(ExitCode::SUCCESS);
    }
    println!("platform settings of {scope}:");
    let width = platform::KEYS.iter().map(|k| k.name.len()).max().unwrap_or(0);
    let value_width = pairs.iter().map(|(_, v)| v.chars().count()).max().unwrap_or(0).min(40);
    for ((key, value), k) in pairs.iter().zip(platform::KEYS) {
        let origin = if saved.contains_key(*key) { "set" } else { "default" };
        println!("  {key:width$}  {value:value_width$}  ({origin}) {}", k.help);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn set(scope: &Scope, pairs: &[String], timeout: std::time::Duration) -> anyhow::Result<ExitCode> {
    let mut parsed = Vec::new();
    for pair in pairs {
        let Some((key, _)) = pair.split_once('=') else {
            eprintln!("error: `{}` is not KEY=VALUE", crate::app::clip(pair, 60));
            return Ok(ExitCode::from(crate::USAGE));
        };
        if !platform::KEYS.iter().any(|k| k.name == key.trim()) {
            eprintln!("error: {}", platform::unknown(key.trim()));
            return Ok(ExitCode::from(crate::USAGE));
        }
        match platform::parse_pair(pair) {
            Ok(p) => parsed.push(p),
            Err(e) => {
                eprintln!("error: {e}; nothing was saved");
                return Ok(ExitCode::from(1));
            }
        }
    }
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    platform::set(&mut lock(&db), &parsed)?;
    let keys: Vec<&str> = parsed.iter().map(|(k, _)| k.as_str()).collect();
    println!("saved {} of {scope}", keys.join(", "));
    if tell_session(scope, timeout).await {
        println!("the running link session uses them now");
    }
    Ok(ExitCode::SUCCESS)
}

/// Tells the session of `scope`, if one runs, to read the platform settings again (they were
/// changed on disk); whether it did. A session that does not answer is said so, not an error:
/// what was saved stays saved, and a session started later reads it.
pub async fn tell_session(scope: &Scope, timeout: std::time::Duration) -> bool {
    let Ok(home) = crate::layout::home() else { return false };
    let Ok(Some(record)) = crate::protocol::record::find(&home, scope) else { return false };
    if record.check_version().is_err() {
        return false;
    }
    let session = super::Connection::to(record, timeout);
    match session.call(&ReloadPlatform).await {
        Ok(_) => true,
        Err(e) => {
            eprintln!(
                "warning: the link session of {scope} did not take the new platform settings ({:#}); relink to use them",
                e.into_error()
            );
            false
        }
    }
}
