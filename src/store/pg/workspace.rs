//! App settings, recorded `settingsSchema`s, platform settings and VBase of one
//! account/workspace on PostgreSQL: the same answers as SQLite's `settings`, `platform` and
//! `vbase` (whose checks, hashes and messages they share).

use std::collections::BTreeMap;

use postgres::GenericClient;
use serde_json::{Map, Value};

use super::Conn;
use crate::store::vbase::{self, Entry, File, Listing, Save, LIST_MAX};
use crate::store::{app_key, now_ms, platform, settings, Result, StoreError};

pub fn settings_saved(c: &mut Conn, app: &str) -> Result<Value> {
    let row = c.client.query_opt(
        "SELECT value FROM settings WHERE account = $1 AND workspace = $2 AND app = $3",
        &[&c.account, &c.workspace, &app_key(app)],
    )?;
    let text: Option<String> = row.map(|r| r.get(0));
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(|| Value::Object(Map::new())))
}

pub fn settings_save(c: &mut Conn, app: &str, value: &Value) -> Result<()> {
    let (account, workspace) = (c.account.clone(), c.workspace.clone());
    settings_save_in(&mut c.client, &account, &workspace, app, value)
}

pub(crate) fn settings_save_in(
    c: &mut impl GenericClient,
    account: &str,
    workspace: &str,
    app: &str,
    value: &Value,
) -> Result<()> {
    if !value.is_object() {
        return Err(StoreError::bad_request("app settings must be a JSON object"));
    }
    c.execute(
        "INSERT INTO settings (account, workspace, app, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account, workspace, app) DO UPDATE SET value = excluded.value",
        &[&account, &workspace, &app_key(app), &value.to_string()],
    )?;
    Ok(())
}

pub fn settings_all(c: &mut Conn) -> Result<Vec<(String, Value)>> {
    let rows = c.client.query(
        "SELECT app, value FROM settings WHERE account = $1 AND workspace = $2 ORDER BY app COLLATE \"C\"",
        &[&c.account, &c.workspace],
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), serde_json::from_str(r.get::<_, &str>(1)).unwrap_or(Value::Null)))
        .collect())
}

pub(crate) fn settings_schema_in(
    c: &mut impl GenericClient,
    account: &str,
    workspace: &str,
    app: &str,
) -> Result<Option<Value>> {
    let row = c.query_opt(
        "SELECT schema FROM settings_schemas WHERE account = $1 AND workspace = $2 AND app = $3",
        &[&account, &workspace, &app_key(app)],
    )?;
    Ok(row.and_then(|r| serde_json::from_str(r.get::<_, &str>(0)).ok()))
}

pub fn settings_schema(c: &mut Conn, app: &str) -> Result<Option<Value>> {
    let (account, workspace) = (c.account.clone(), c.workspace.clone());
    settings_schema_in(&mut c.client, &account, &workspace, app)
}

pub fn record_schema(c: &mut Conn, app: &str, schema: Option<&Value>) -> Result<()> {
    let key = app_key(app);
    match schema {
        Some(s) => c.client.execute(
            "INSERT INTO settings_schemas (account, workspace, app, schema) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account, workspace, app) DO UPDATE SET schema = excluded.schema",
            &[&c.account, &c.workspace, &key, &s.to_string()],
        )?,
        None => c.client.execute(
            "DELETE FROM settings_schemas WHERE account = $1 AND workspace = $2 AND app = $3",
            &[&c.account, &c.workspace, &key],
        )?,
    };
    Ok(())
}

/// Every saved settings value with its schema's defaults filled in ([`settings::effective`]).
pub fn settings_effective(c: &mut Conn, app: &str) -> Result<Value> {
    let mut value = settings_saved(c, app)?;
    if let Some(schema) = settings_schema(c, app)? {
        settings::fill_defaults(&schema, &mut value);
    }
    Ok(value)
}

pub fn platform_saved(c: &mut Conn) -> Result<BTreeMap<String, String>> {
    let rows = c
        .client
        .query("SELECT key, value FROM platform WHERE account = $1 AND workspace = $2", &[&c.account, &c.workspace])?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub fn platform_set(c: &mut Conn, pairs: &[(String, String)]) -> Result<()> {
    let (account, workspace) = (c.account.clone(), c.workspace.clone());
    let mut tx = c.client.transaction()?;
    platform_set_in(&mut tx, &account, &workspace, pairs)?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn platform_set_in(
    c: &mut impl GenericClient,
    account: &str,
    workspace: &str,
    pairs: &[(String, String)],
) -> Result<()> {
    for (key, value) in pairs {
        platform::check(key, value.trim()).map_err(StoreError::bad_request)?;
    }
    for (key, value) in pairs {
        c.execute(
            "INSERT INTO platform (account, workspace, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account, workspace, key) DO UPDATE SET value = excluded.value",
            &[&account, &workspace, key, &platform::normalized(key, value)],
        )?;
    }
    Ok(())
}

fn missing(bucket: &str, path: &str) -> StoreError {
    StoreError::not_found(format!("VBase: no file `{path}` in bucket `{bucket}`"))
}

fn file(r: &postgres::Row, at: usize) -> File {
    File {
        data: r.get(at),
        content_type: r.get(at + 1),
        gzip: r.get(at + 2),
        hash: r.get(at + 3),
        expires_at: r.get(at + 4),
    }
}

pub fn vbase_get(c: &mut Conn, app: &str, bucket: &str, path: &str) -> Result<File> {
    let app = app_key(app);
    let row = c.client.query_opt(
        "SELECT data, content_type, gzip, hash, expires_at FROM vbase \
         WHERE account = $1 AND workspace = $2 AND app = $3 AND bucket = $4 AND path = $5",
        &[&c.account, &c.workspace, &app, &bucket, &path],
    )?;
    match row.map(|r| file(&r, 0)) {
        Some(f) if f.expires_at.is_some_and(|t| t <= now_ms()) => {
            c.client.execute(
                "DELETE FROM vbase WHERE account = $1 AND workspace = $2 AND app = $3 AND bucket = $4 \
                 AND path = $5 AND expires_at <= $6",
                &[&c.account, &c.workspace, &app, &bucket, &path, &now_ms()],
            )?;
            Err(missing(bucket, path))
        }
        Some(f) => Ok(f),
        None => Err(missing(bucket, path)),
    }
}

pub fn vbase_save(c: &mut Conn, app: &str, bucket: &str, path: &str, file: &Save) -> Result<String> {
    let (account, workspace) = (c.account.clone(), c.workspace.clone());
    if file.if_match.is_none() {
        // One statement: its own transaction, one round trip instead of three.
        return vbase_save_in(&mut c.client, &account, &workspace, app, bucket, path, file);
    }
    let mut tx = c.client.transaction()?;
    let hash = vbase_save_in(&mut tx, &account, &workspace, app, bucket, path, file)?;
    tx.commit()?;
    Ok(hash)
}

/// Saves a file in the caller's transaction. With `ifMatch`, the current row is read `FOR
/// UPDATE`: two machines saving over the same hash at once are ordered by that row lock, and
/// the second finds the first's hash (a 409).
pub(crate) fn vbase_save_in(
    tx: &mut impl GenericClient,
    account: &str,
    workspace: &str,
    app: &str,
    bucket: &str,
    path: &str,
    file: &Save,
) -> Result<String> {
    vbase::check_name("bucket", bucket)?;
    vbase::check_name("path", path)?;
    let app = app_key(app);
    let hash = vbase::hash(file.data);
    let now = now_ms();
    let expires_at = vbase::expiry(file.ttl, now)?;
    if let Some(expected) = file.if_match {
        let row = tx.query_opt(
            "SELECT hash FROM vbase WHERE account = $1 AND workspace = $2 AND app = $3 AND bucket = $4 \
             AND path = $5 AND (expires_at IS NULL OR expires_at > $6) FOR UPDATE",
            &[&account, &workspace, &app, &bucket, &path, &now],
        )?;
        let current: Option<String> = row.map(|r| r.get(0));
        vbase::check_if_match(bucket, path, expected, current)?;
    }
    tx.execute(
        "INSERT INTO vbase (account, workspace, app, bucket, path, data, content_type, gzip, hash, expires_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (account, workspace, app, bucket, path) DO UPDATE SET data = excluded.data, \
         content_type = excluded.content_type, gzip = excluded.gzip, hash = excluded.hash, \
         expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        &[
            &account,
            &workspace,
            &app,
            &bucket,
            &path,
            &file.data,
            &file.content_type,
            &file.gzip,
            &hash,
            &expires_at,
            &now,
        ],
    )?;
    Ok(hash)
}

pub fn vbase_delete(c: &mut Conn, app: &str, bucket: &str, path: &str) -> Result<()> {
    let n = c.client.execute(
        "DELETE FROM vbase WHERE account = $1 AND workspace = $2 AND app = $3 AND bucket = $4 AND path = $5 \
         AND (expires_at IS NULL OR expires_at > $6)",
        &[&c.account, &c.workspace, &app_key(app), &bucket, &path, &now_ms()],
    )?;
    if n == 0 {
        return Err(missing(bucket, path));
    }
    Ok(())
}

pub fn vbase_list(
    c: &mut Conn,
    app: &str,
    bucket: &str,
    prefix: &str,
    marker: Option<&str>,
    limit: usize,
) -> Result<Listing> {
    if limit == 0 || limit > LIST_MAX {
        return Err(StoreError::bad_request(format!("VBase: limit must be from 1 to {LIST_MAX}, not {limit}")));
    }
    let rows = c.client.query(
        "SELECT path, hash FROM vbase WHERE account = $1 AND workspace = $2 AND app = $3 AND bucket = $4 \
         AND left(path, length($5)) = $5 AND path > $6 AND (expires_at IS NULL OR expires_at > $7) \
         ORDER BY path LIMIT $8",
        &[
            &c.account,
            &c.workspace,
            &app_key(app),
            &bucket,
            &prefix,
            &marker.unwrap_or(""),
            &now_ms(),
            &((limit + 1) as i64),
        ],
    )?;
    let mut data: Vec<Entry> = rows.iter().map(|r| Entry { path: r.get(0), hash: r.get(1) }).collect();
    let next = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|e| e.path.clone())
    } else {
        None
    };
    Ok(Listing { data, next })
}

pub fn vbase_buckets(c: &mut Conn) -> Result<Vec<(String, String, u64)>> {
    let rows = c.client.query(
        "SELECT app, bucket, count(*) FROM vbase WHERE account = $1 AND workspace = $2 \
         AND (expires_at IS NULL OR expires_at > $3) GROUP BY app, bucket ORDER BY app COLLATE \"C\", bucket COLLATE \"C\"",
        &[&c.account, &c.workspace, &now_ms()],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64)).collect())
}

pub fn vbase_all(c: &mut Conn) -> Result<Vec<(String, String, String, File)>> {
    let rows = c.client.query(
        "SELECT app, bucket, path, data, content_type, gzip, hash, expires_at FROM vbase \
         WHERE account = $1 AND workspace = $2 AND (expires_at IS NULL OR expires_at > $3) \
         ORDER BY app COLLATE \"C\", bucket COLLATE \"C\", path",
        &[&c.account, &c.workspace, &now_ms()],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), file(r, 3))).collect())
}

/// Clears the workspace's settings, VBase files and platform settings in the caller's
/// transaction (the recorded `settingsSchema`s stay, as on SQLite).
pub(crate) fn clear_in(tx: &mut impl GenericClient, account: &str, workspace: &str) -> Result<()> {
    for table in ["settings", "vbase", "platform"] {
        tx.execute(&format!("DELETE FROM {table} WHERE account = $1 AND workspace = $2"), &[&account, &workspace])?;
    }
    Ok(())
}
