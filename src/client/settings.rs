//! `ioctl settings get | set`: an app's settings in a workspace, checked against its
//! `settingsSchema` (from the app in the current folder, else the one recorded when it was
//! last linked) before they are saved.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::app::AppId;
use crate::protocol::Scope;
use crate::store::{lock, settings};

/// The app of the current folder: (`vendor.name`, its settingsSchema).
fn current_app() -> anyhow::Result<Option<(String, Option<Value>)>> {
    let Some(root) = crate::app::locate(Path::new("."))? else { return Ok(None) };
    let path = root.join("manifest.json");
    let text = crate::files::read_to_string(&path, crate::files::MAX_FILE)?;
    let (manifest, _) = crate::app::manifest::Manifest::parse(&path, &text)
        .map_err(|d| anyhow::anyhow!("{}: {}", path.display(), d.message))?;
    Ok(Some((manifest.app_id().without_version().to_string(), manifest.settings_schema.clone())))
}

/// The app named (or the current folder's) and the schema its settings are checked against.
fn resolve(app: Option<&AppId>, db: &crate::store::Db) -> anyhow::Result<(String, Option<Value>)> {
    let here = current_app()?;
    let id = match (app, &here) {
        (Some(a), _) => a.without_version().to_string(),
        (None, Some((id, _))) => id.clone(),
        (None, None) => bail!("no app named and no manifest.json here or above: pass the app id (vendor.name)"),
    };
    let schema = match here {
        Some((here_id, schema)) if here_id == id && schema.is_some() => schema,
        _ => settings::schema(db, &id)?,
    };
    Ok((id, schema))
}

pub fn get(scope: &Scope, app: Option<&AppId>, json: bool) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    let db = lock(&db);
    let (id, schema) = resolve(app, &db)?;
    let mut value = settings::saved(&db, &id)?;
    if let Some(s) = &schema {
        settings::fill_defaults(s, &mut value);
    }
    if json {
        println!("{value}");
    } else {
        println!("settings of {id} in {scope}:");
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// A KEY=VALUE pair's value: JSON when it parses, else the text itself.
pub fn loose_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

pub fn set(scope: &Scope, args: &[String], file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (app, pairs) = match args.first() {
        Some(first) if !first.contains('=') => match AppId::parse(first) {
            Ok(app) => (Some(app), &args[1..]),
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(crate::USAGE));
            }
        },
        _ => (None, args),
    };
    if pairs.is_empty() == file.is_none() {
        eprintln!("error: give KEY=VALUE pairs or --file FILE (one of them)");
        return Ok(ExitCode::from(crate::USAGE));
    }
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    let db = lock(&db);
    let (id, schema) = resolve(app.as_ref(), &db)?;
    let mut value = match file {
        Some(f) => {
            let text = crate::files::read_to_string(f, crate::files::MAX_FILE)?;
            let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", f.display()))?;
            if !v.is_object() {
                bail!("{}: the settings must be a JSON object", f.display());
            }
            v
        }
        None => settings::saved(&db, &id)?,
    };
    for pair in pairs {
        let Some((key, text)) = pair.split_once('=') else {
            eprintln!("error: `{}` is not KEY=VALUE", crate::app::clip(pair, 60));
            return Ok(ExitCode::from(crate::USAGE));
        };
        settings::set_path(&mut value, key.trim(), loose_value(text)).map_err(anyhow::Error::msg)?;
    }
    settings::check_depth(&value, &format!("the settings of {id}")).map_err(anyhow::Error::msg)?;
    match &schema {
        Some(s) => {
            if let Err(e) = settings::check(s, &value) {
                eprintln!("error: settings of {id} not saved: {e}");
                return Ok(ExitCode::from(1));
            }
        }
        None => eprintln!(
            "warning: no settingsSchema known for {id} (link it once, or run this in its folder): saved unchecked"
        ),
    }
    settings::save(&db, &id, &value)?;
    println!("saved settings of {id} in {scope}");
    Ok(ExitCode::SUCCESS)
}
