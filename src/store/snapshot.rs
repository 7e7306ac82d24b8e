//! Snapshots of a workspace's data as readable JSON files a team can commit as fixtures:
//! `settings.json` (app → settings), `vbase.json` (every file: JSON content inline, other
//! text as `text`, bytes as `base64`), `platform.json` (the platform settings that were set,
//! key → value) and `masterdata/ENTITY.json` (the documents) beside
//! `masterdata/_schemas.json`. Import saves over what is there; reset clears everything.

use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{lock, masterdata, pg, platform, settings, vbase, Db, Store};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VbaseFile {
    app: String,
    bucket: String,
    path: String,
    content_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    gzip: bool,
    /// Milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SchemaFile {
    entity: String,
    name: String,
    body: Value,
}

/// What an export or import moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub settings: usize,
    pub files: usize,
    pub documents: usize,
    pub schemas: usize,
    pub platform: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} app settings, {} VBase files, {} Master Data documents, {} schemas, {} platform settings",
            self.settings, self.files, self.documents, self.schemas, self.platform
        )
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

/// A snapshot file as `T`; `None` when it is absent. Only a regular file of at most
/// [`MAX_FILE`](crate::files::MAX_FILE) is read (a FIFO or a device is refused).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    match crate::files::read_to_string(path, crate::files::MAX_FILE) {
        Ok(text) => serde_json::from_str(&text).map(Some).with_context(|| format!("{}: not valid", path.display())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn export(store: &Store, dir: &Path) -> anyhow::Result<Counts> {
    let md_dir = dir.join("masterdata");
    std::fs::create_dir_all(&md_dir).with_context(|| format!("{}: cannot create", md_dir.display()))?;
    let mut counts = Counts::default();
    let ws = store.workspace()?;
    let ws = lock(&ws);
    let all: Map<String, Value> = settings::all(&ws)?.into_iter().collect();
    counts.settings = all.len();
    write_json(&dir.join("settings.json"), &all)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut files = Vec::new();
    for (app, bucket, path, f) in vbase::all(&ws)? {
        let text = String::from_utf8(f.data.clone()).ok();
        let json =
            text.as_deref().filter(|_| f.content_type.contains("json")).and_then(|t| serde_json::from_str(t).ok());
        let (text, base64) = match (&json, text) {
            (Some(_), _) => (None, None),
            (None, Some(t)) => (Some(t), None),
            (None, None) => (None, Some(b64.encode(&f.data))),
        };
        let (content_type, gzip, expires_at) = (f.content_type, f.gzip, f.expires_at);
        files.push(VbaseFile { app, bucket, path, content_type, gzip, expires_at, json, text, base64 });
    }
    counts.files = files.len();
    write_json(&dir.join("vbase.json"), &files)?;
    let platform = platform::saved(&ws)?;
    counts.platform = platform.len();
    write_json(&dir.join("platform.json"), &platform)?;
    drop(ws);

    let md = store.masterdata()?;
    let md = lock(&md);
    let schemas: Vec<SchemaFile> =
        masterdata::schemas(&md)?.into_iter().map(|(entity, name, body)| SchemaFile { entity, name, body }).collect();
    counts.schemas = schemas.len();
    write_json(&md_dir.join("_schemas.json"), &schemas)?;
    for entity in masterdata::entities(&md)? {
        let docs = masterdata::export(&md, &entity)?;
        counts.documents += docs.len();
        write_json(&md_dir.join(format!("{entity}.json")), &docs)?;
    }
    Ok(counts)
}

/// What a snapshot holds for the workspace database, read and checked before anything is written.
struct WorkspaceFiles {
    settings: Map<String, Value>,
    /// Each file with its content decoded.
    files: Vec<(VbaseFile, Vec<u8>)>,
    /// The platform settings to set, checked.
    platform: Vec<(String, String)>,
}

fn read_workspace_files(dir: &Path) -> anyhow::Result<WorkspaceFiles> {
    let settings = read_json::<Map<String, Value>>(&dir.join("settings.json"))?.unwrap_or_default();
    if let Some((app, _)) = settings.iter().find(|(_, v)| !v.is_object()) {
        bail!("settings.json: {app}: app settings must be a JSON object");
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut files = Vec::new();
    for f in read_json::<Vec<VbaseFile>>(&dir.join("vbase.json"))?.unwrap_or_default() {
        let data = match (&f.json, &f.text, &f.base64) {
            (Some(j), _, _) => j.to_string().into_bytes(),
            (None, Some(t), _) => t.clone().into_bytes(),
            (None, None, Some(b)) => b64.decode(b).with_context(|| format!("vbase.json: {}: bad base64", f.path))?,
            (None, None, None) => Vec::new(),
        };
        files.push((f, data));
    }
    Ok(WorkspaceFiles { settings, files, platform: read_platform(dir)? })
}

/// `platform.json`'s settings (a value may be written as a JSON string or number), each key
/// and value checked as `ioctl platform set` checks them.
fn read_platform(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let map = read_json::<Map<String, Value>>(&dir.join("platform.json"))?.unwrap_or_default();
    let mut pairs = Vec::new();
    for (key, value) in map {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => bail!("platform.json: {key}: give the value as text, not {other}"),
        };
        platform::check(&key, text.trim()).map_err(|e| anyhow::anyhow!("platform.json: {e}"))?;
        pairs.push((key, text));
    }
    Ok(pairs)
}

/// Each app's settings must pass its recorded `settingsSchema`, as `ioctl settings set` checks them.
fn check_settings(ws: &rusqlite::Connection, settings: &Map<String, Value>) -> anyhow::Result<()> {
    for (app, value) in settings {
        if let Some(schema) = settings::schema_in(ws, app)? {
            settings::check(&schema, value).map_err(|e| anyhow::anyhow!("settings.json: {app}: {e}"))?;
        }
    }
    Ok(())
}

/// The snapshot's Master Data entity files, `masterdata/ENTITY.json`, in name order.
fn entity_files(md_dir: &Path) -> anyhow::Result<Vec<(String, std::path::PathBuf)>> {
    if !md_dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(md_dir).with_context(|| format!("{}: cannot read", md_dir.display()))?;
    let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let Some(entity) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if entity != "_schemas" {
            masterdata::check_entity(entity).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            out.push((entity.to_string(), path));
        }
    }
    Ok(out)
}

/// Saves a snapshot over what is there, all or nothing: every file is read and checked (each
/// app's settings against its recorded `settingsSchema`, documents and schemas as a write
/// checks them) inside one write transaction per database, and both commit only when every
/// file passed; a failure names the file (and the app, document or field) and changes nothing.
pub fn import(store: &Store, dir: &Path) -> anyhow::Result<Counts> {
    if !dir.is_dir() {
        bail!("{}: no such folder (`ioctl data export DIR` writes one)", dir.display());
    }
    let ws_files = read_workspace_files(dir)?;
    let md_dir = dir.join("masterdata");
    let schema_files = read_json::<Vec<SchemaFile>>(&md_dir.join("_schemas.json"))?.unwrap_or_default();
    let entities = entity_files(&md_dir)?;
    if store.location().database.is_some() {
        let md = store.masterdata()?;
        let md = lock(&md);
        if let Db::Postgres(pg) = &*md {
            let counts = pg.run(|c| import_pg(c, &ws_files, &schema_files, &entities).map_err(Into::into));
            return counts.map_err(|e| anyhow::anyhow!(e.message));
        }
    }
    let ws = store.workspace()?;
    let mut ws = lock(&ws);
    let ws = sqlite(&mut ws)?;
    check_settings(&ws.conn, &ws_files.settings)?;

    let md = store.masterdata()?;
    let mut md_guard = lock(&md);
    let md = sqlite(&mut md_guard)?;
    let mut counts = Counts::default();
    // Master Data first: its files are the big ones, read one at a time while only its
    // database is locked; the workspace's writes are quick and come last.
    let md_tx = md.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for s in &schema_files {
        masterdata::put_schema_in(&md_tx, &s.entity, &s.name, &s.body)
            .map_err(|e| anyhow::anyhow!("masterdata/_schemas.json: {e}"))?;
        counts.schemas += 1;
    }
    for (entity, path) in &entities {
        let docs: Vec<Value> = read_json(path)?.unwrap_or_default();
        counts.documents +=
            masterdata::import_in(&md_tx, entity, &docs).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    let ws_tx = ws.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (app, value) in &ws_files.settings {
        settings::save_in(&ws_tx, app, value).map_err(|e| anyhow::anyhow!("settings.json: {app}: {e}"))?;
        counts.settings += 1;
    }
    for (f, data) in &ws_files.files {
        let ttl = f.expires_at.map(|t| ((t - super::now_ms()) as f64 / 1000.0).max(0.001));
        let save = vbase::Save { data, content_type: &f.content_type, gzip: f.gzip, ttl, if_match: None };
        vbase::save_in(&ws_tx, &f.app, &f.bucket, &f.path, &save)
            .map_err(|e| anyhow::anyhow!("vbase.json: {}: {e}", f.path))?;
        counts.files += 1;
    }
    platform::set_in(&ws_tx, &ws_files.platform).map_err(|e| anyhow::anyhow!("platform.json: {e}"))?;
    counts.platform = ws_files.platform.len();
    // Both transactions hold their write locks and every write succeeded: only a failing disk
    // could now commit one without the other.
    ws_tx.commit().context("saving the workspace's settings and VBase files")?;
    md_tx.commit().context("saving the account's Master Data")?;
    for s in &schema_files {
        masterdata::index_schema_fields(&mut md_guard, &s.body)?;
    }
    Ok(counts)
}

/// [`import`] into PostgreSQL: the workspace's and the account's rows live in one database,
/// so the whole snapshot is one transaction, committed only when every file passed.
fn import_pg(
    c: &mut pg::Conn,
    ws_files: &WorkspaceFiles,
    schema_files: &[SchemaFile],
    entities: &[(String, std::path::PathBuf)],
) -> anyhow::Result<Counts> {
    let (account, workspace) = (c.account.clone(), c.workspace.clone());
    let mut tx = c.client.transaction()?;
    for (app, value) in &ws_files.settings {
        if let Some(schema) = pg::workspace::settings_schema_in(&mut tx, &account, &workspace, app)? {
            settings::check(&schema, value).map_err(|e| anyhow::anyhow!("settings.json: {app}: {e}"))?;
        }
    }
    let mut counts = Counts::default();
    for s in schema_files {
        pg::masterdata::put_schema_in(&mut tx, &account, &s.entity, &s.name, &s.body)
            .map_err(|e| anyhow::anyhow!("masterdata/_schemas.json: {e}"))?;
        counts.schemas += 1;
    }
    for (entity, path) in entities {
        let docs: Vec<Value> = read_json(path)?.unwrap_or_default();
        counts.documents += pg::masterdata::import_in(&mut tx, &account, entity, &docs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    for (app, value) in &ws_files.settings {
        pg::workspace::settings_save_in(&mut tx, &account, &workspace, app, value)
            .map_err(|e| anyhow::anyhow!("settings.json: {app}: {e}"))?;
        counts.settings += 1;
    }
    for (f, data) in &ws_files.files {
        let ttl = f.expires_at.map(|t| ((t - super::now_ms()) as f64 / 1000.0).max(0.001));
        let save = vbase::Save { data, content_type: &f.content_type, gzip: f.gzip, ttl, if_match: None };
        pg::workspace::vbase_save_in(&mut tx, &account, &workspace, &f.app, &f.bucket, &f.path, &save)
            .map_err(|e| anyhow::anyhow!("vbase.json: {}: {e}", f.path))?;
        counts.files += 1;
    }
    pg::workspace::platform_set_in(&mut tx, &account, &workspace, &ws_files.platform)
        .map_err(|e| anyhow::anyhow!("platform.json: {e}"))?;
    counts.platform = ws_files.platform.len();
    tx.commit().context("saving the snapshot in PostgreSQL")?;
    for s in schema_files {
        pg::masterdata::index_schema_fields(c, &s.body)?;
    }
    Ok(counts)
}

/// The SQLite file behind `db` (a store without `--store` opens only those).
fn sqlite(db: &mut Db) -> anyhow::Result<&mut super::Sqlite> {
    match db {
        Db::Sqlite(s) => Ok(s),
        Db::Postgres(_) => bail!("a PostgreSQL store was opened where SQLite files were expected"),
    }
}

/// Clears the workspace's settings, VBase files and platform settings and the account's Master
/// Data (documents, schemas and which documents match them, scrolls). Rows are deleted, not
/// files, so a running session's connections stay good.
pub fn reset(store: &Store) -> anyhow::Result<()> {
    if store.location().database.is_some() {
        let md = store.masterdata()?;
        let md = lock(&md);
        if let Db::Postgres(pg) = &*md {
            // One database: the workspace's rows and the account's Master Data go together.
            return pg
                .run(|c| {
                    let (account, workspace) = (c.account.clone(), c.workspace.clone());
                    let mut tx = c.client.transaction()?;
                    pg::workspace::clear_in(&mut tx, &account, &workspace)?;
                    pg::masterdata::clear_in(&mut tx, &account)?;
                    Ok(tx.commit()?)
                })
                .map_err(|e| anyhow::anyhow!(e.message));
        }
    }
    let ws = store.workspace()?;
    {
        let mut ws = lock(&ws);
        let tx = sqlite(&mut ws)?.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch("DELETE FROM settings; DELETE FROM vbase;")?;
        platform::clear_in(&tx)?;
        tx.commit()?;
    }
    let md = store.masterdata()?;
    sqlite(&mut lock(&md))?.conn.execute_batch(
        "BEGIN IMMEDIATE; DELETE FROM documents; DELETE FROM schemas; DELETE FROM schema_members; \
         DELETE FROM scrolls; COMMIT;",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Location;
    use serde_json::json;

    /// A store in a fresh home on each backend (PostgreSQL when it runs here).
    fn stores(hint: &str) -> Vec<(tempfile::TempDir, Store)> {
        let home = tempfile::tempdir().unwrap();
        let mut out = vec![];
        if let Some(url) = crate::store::db::test_database(hint) {
            let pg_home = tempfile::tempdir().unwrap();
            let store = Store::new(Location::new(pg_home.path(), "acc", "dev").on(url));
            out.push((pg_home, store));
        }
        let store = Store::new(Location::new(home.path(), "acc", "dev"));
        out.insert(0, (home, store));
        out
    }

    /// The ids a search under schema `v1` of `reviews` returns, and its total.
    fn under_v1(store: &Store) -> (Vec<String>, u64) {
        let md = store.masterdata().unwrap();
        let q = masterdata::Query { entity: "reviews".into(), schema: Some("v1".into()), ..Default::default() };
        let (docs, total) = masterdata::search(&mut lock(&md), &q, 1, 10).unwrap();
        (docs.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect(), total)
    }

    #[test]
    fn reset_and_import_keep_which_documents_match_a_schema() {
        for (home, store) in stores("reset_and_import_keep_which_documents_match_a_schema") {
            {
                let md = store.masterdata().unwrap();
                let mut md = lock(&md);
                let body = json!({"type": "object", "required": ["rating"]});
                masterdata::put_schema(&mut md, "reviews", "v1", &body).unwrap();
                masterdata::import(&mut md, "reviews", &[json!({"id": "a", "rating": 1}), json!({"id": "b"})]).unwrap();
            }
            assert_eq!(under_v1(&store), (vec!["a".to_string()], 1));
            let snap = home.path().join("snap");
            assert_eq!(export(&store, &snap).unwrap().schemas, 1);

            reset(&store).unwrap();
            let sql = "SELECT count(*) FROM schema_members";
            let left = crate::store::db::number(&lock(&store.masterdata().unwrap()), sql, sql);
            assert_eq!(left, 0, "reset forgets the memberships with the documents");

            let counts = import(&store, &snap).unwrap();
            assert_eq!((counts.documents, counts.schemas), (2, 1));
            assert_eq!(under_v1(&store), (vec!["a".to_string()], 1));
        }
    }

    #[test]
    fn platform_settings_travel_with_a_snapshot_whole_or_not_at_all() {
        for (home, store) in stores("platform_settings_travel_with_a_snapshot_whole_or_not_at_all") {
            let pairs = [("user.email".to_string(), "ana@acc.com".to_string()), ("trade_policy".into(), "3".into())];
            platform::set(&mut lock(&store.workspace().unwrap()), &pairs).unwrap();
            let snap = home.path().join("snap");
            assert_eq!(export(&store, &snap).unwrap().platform, 2);
            let written: Value =
                serde_json::from_str(&std::fs::read_to_string(snap.join("platform.json")).unwrap()).unwrap();
            assert_eq!(written, json!({"trade_policy": "3", "user.email": "ana@acc.com"}));

            reset(&store).unwrap();
            let effective = || platform::effective(&lock(&store.workspace().unwrap()), "acc").unwrap();
            assert_eq!(effective(), platform::Settings::defaults("acc"), "reset forgets them");

            // A bad value anywhere: nothing of the snapshot is saved.
            std::fs::write(snap.join("platform.json"), r#"{"user.email": "x@y", "currency": "dollars"}"#).unwrap();
            let e = format!("{:#}", import(&store, &snap).unwrap_err());
            assert!(e.starts_with("platform.json: currency: `dollars` is not a currency code"), "{e}");
            assert_eq!(effective(), platform::Settings::defaults("acc"));
            std::fs::write(snap.join("platform.json"), r#"{"nope": "1"}"#).unwrap();
            let e = format!("{:#}", import(&store, &snap).unwrap_err());
            assert!(e.starts_with("platform.json: unknown platform setting `nope`; the keys are: user.email"), "{e}");

            std::fs::write(snap.join("platform.json"), r#"{"user.email": "x@y", "trade_policy": 2}"#).unwrap();
            assert_eq!(import(&store, &snap).unwrap().platform, 2);
            let s = effective();
            assert_eq!((s.user_email.as_str(), s.trade_policy), ("x@y", 2));
        }
    }

    /// Settings, VBase and Master Data as a CLI would read them back.
    fn state(store: &Store) -> (Vec<(String, Value)>, Vec<String>, Vec<Value>) {
        let ws = store.workspace().unwrap();
        let ws = lock(&ws);
        let files =
            vbase::all(&ws).unwrap().into_iter().map(|(a, b, p, f)| format!("{a}/{b}/{p}:{:?}", f.data)).collect();
        let md = store.masterdata().unwrap();
        let md = lock(&md);
        let docs =
            masterdata::entities(&md).unwrap().iter().flat_map(|e| masterdata::export(&md, e).unwrap()).collect();
        (settings::all(&ws).unwrap(), files, docs)
    }

    #[test]
    fn an_import_with_one_bad_file_changes_nothing() {
        for (home, store) in stores("an_import_with_one_bad_file_changes_nothing") {
            {
                let ws = store.workspace().unwrap();
                let mut ws = lock(&ws);
                let schema = json!({"type": "object", "properties": {"maxItems": {"type": "integer", "maximum": 50}}});
                settings::record_schema(&ws, "acme.a", Some(&schema)).unwrap();
                settings::save(&ws, "acme.a", &json!({"maxItems": 20})).unwrap();
                let save = vbase::Save {
                    data: b"1",
                    content_type: "application/json",
                    gzip: false,
                    ttl: None,
                    if_match: None,
                };
                vbase::save(&mut ws, "acme.a", "b", "x.json", &save).unwrap();
                let md = store.masterdata().unwrap();
                masterdata::import(&mut lock(&md), "things", &[json!({"id": "1", "name": "one"})]).unwrap();
            }
            let before = state(&store);
            let snap = home.path().join("snap");
            std::fs::create_dir_all(snap.join("masterdata")).unwrap();
            let write = |rel: &str, v: Value| std::fs::write(snap.join(rel), v.to_string()).unwrap();
            write(
                "vbase.json",
                json!([{"app": "acme.a", "bucket": "b", "path": "x.json", "contentType": "application/json", "json": 2}]),
            );
            write("masterdata/things.json", json!([{"id": "1", "name": "changed"}, {"id": "2"}]));
            write("masterdata/_schemas.json", json!([{"entity": "things", "name": "v1", "body": {"type": "object"}}]));

            // A value over the app's recorded settingsSchema: refused, named, nothing written.
            write("settings.json", json!({"acme.a": {"maxItems": 999}, "acme.b": {"x": 1}}));
            let e = format!("{:#}", import(&store, &snap).unwrap_err());
            assert!(e.starts_with("settings.json: acme.a: /maxItems: ") && e.contains("50"), "{e}");
            assert_eq!(state(&store), before);

            // Good settings, then a bad document in the last entity file: still nothing written.
            write("settings.json", json!({"acme.a": {"maxItems": 30}}));
            write("masterdata/zz.json", json!([{"id": "z"}, 5]));
            let e = format!("{:#}", import(&store, &snap).unwrap_err());
            assert!(e.contains("zz.json: document 2: Master Data: a document's fields must be a JSON object"), "{e}");
            assert_eq!(state(&store), before);
            let md = store.masterdata().unwrap();
            assert!(masterdata::schemas(&lock(&md)).unwrap().is_empty(), "the schema was not saved either");

            std::fs::remove_file(snap.join("masterdata/zz.json")).unwrap();
            let counts = import(&store, &snap).unwrap();
            assert_eq!((counts.settings, counts.files, counts.documents, counts.schemas), (1, 1, 2, 1));
            assert_ne!(state(&store), before);
        }
    }
}
