//! `ioctl vbase ls | get | put | rm APP BUCKET [PATH]`: an app's VBase files in a workspace.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;

use crate::app::AppId;
use crate::protocol::Scope;
use crate::store::{lock, vbase, StoreError};

/// A missing file is a plain error (exit 1), not an internal failure.
fn user_error(e: StoreError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

pub fn ls(scope: &Scope, app: &AppId, bucket: &str, prefix: Option<&str>, json_out: bool) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    let db = lock(&db);
    let mut marker: Option<String> = None;
    let mut count = 0;
    loop {
        let page = vbase::list(&db, app.as_str(), bucket, prefix.unwrap_or(""), marker.as_deref(), None)
            .map_err(user_error)?;
        for e in &page.data {
            count += 1;
            if json_out {
                println!("{}", json!({"path": e.path, "hash": e.hash}));
            } else {
                println!("{}  {}", e.hash, e.path);
            }
        }
        match page.next {
            Some(n) => marker = Some(n),
            None => break,
        }
    }
    if !json_out && count == 0 {
        eprintln!("no files in bucket {bucket} of {} in {scope}", app.without_version());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn get(scope: &Scope, app: &AppId, bucket: &str, path: &str) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    let file = vbase::get(&lock(&db), app.as_str(), bucket, path).map_err(user_error)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&file.data)?;
    if file.content_type.contains("json") && !file.data.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn put(
    scope: &Scope,
    target: (&AppId, &str, &str),
    data: Option<&str>,
    file: Option<&Path>,
    ttl: Option<f64>,
) -> anyhow::Result<ExitCode> {
    let (app, bucket, path) = target;
    let (bytes, content_type) = match (data, file) {
        (Some(d), _) => {
            let v: serde_json::Value =
                serde_json::from_str(d).context("--data must be JSON (use --file for other content)")?;
            (v.to_string().into_bytes(), "application/json")
        }
        (None, Some(f)) => {
            let bytes = crate::files::read(f, crate::files::MAX_FILE)?;
            let json = f.extension().is_some_and(|e| e == "json");
            (bytes, if json { "application/json" } else { "application/octet-stream" })
        }
        (None, None) => bail!("give --data JSON or --file FILE"),
    };
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    let save = vbase::Save { data: &bytes, content_type, gzip: false, ttl, if_match: None };
    let hash = vbase::save(&mut lock(&db), app.as_str(), bucket, path, &save).map_err(user_error)?;
    println!("saved {path} in bucket {bucket} of {} ({} bytes, hash {hash})", app.without_version(), bytes.len());
    Ok(ExitCode::SUCCESS)
}

pub fn rm(scope: &Scope, app: &AppId, bucket: &str, path: &str) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.workspace()?;
    vbase::delete(&lock(&db), app.as_str(), bucket, path).map_err(user_error)?;
    println!("removed {path} from bucket {bucket} of {}", app.without_version());
    Ok(ExitCode::SUCCESS)
}
