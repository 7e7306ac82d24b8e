//! Snapshots of a workspace's data as readable JSON files a team can commit as fixtures:
//! `settings.json` (app → settings), `vbase.json` (every file: JSON content inline, other
//! text as `text`, bytes as `base64`), and `masterdata/ENTITY.json` (the documents) beside
//! `masterdata/_schemas.json`. Import saves over what is there; reset clears everything.

use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{lock, masterdata, settings, vbase, Store};

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
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} app settings, {} VBase files, {} Master Data documents, {} schemas",
            self.settings, self.files, self.documents, self.schemas
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

pub fn import(store: &Store, dir: &Path) -> anyhow::Result<Counts> {
    if !dir.is_dir() {
        bail!("{}: no such folder (`ioctl data export DIR` writes one)", dir.display());
    }
    let mut counts = Counts::default();
    let ws = store.workspace()?;
    let mut ws = lock(&ws);
    if let Some(all) = read_json::<Map<String, Value>>(&dir.join("settings.json"))? {
        for (app, value) in &all {
            settings::save(&ws, app, value).map_err(|e| anyhow::anyhow!("settings.json: {app}: {e}"))?;
        }
        counts.settings = all.len();
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    for f in read_json::<Vec<VbaseFile>>(&dir.join("vbase.json"))?.unwrap_or_default() {
        let data = match (&f.json, &f.text, &f.base64) {
            (Some(j), _, _) => j.to_string().into_bytes(),
            (None, Some(t), _) => t.clone().into_bytes(),
            (None, None, Some(b)) => b64.decode(b).with_context(|| format!("vbase.json: {}: bad base64", f.path))?,
            (None, None, None) => Vec::new(),
        };
        let ttl = f.expires_at.map(|t| ((t - super::now_ms()) as f64 / 1000.0).max(0.001));
        let save = vbase::Save { data: &data, content_type: &f.content_type, gzip: f.gzip, ttl, if_match: None };
        vbase::save(&mut ws, &f.app, &f.bucket, &f.path, &save)
            .map_err(|e| anyhow::anyhow!("vbase.json: {}: {e}", f.path))?;
        counts.files += 1;
    }
    drop(ws);

    let md_dir = dir.join("masterdata");
    let md = store.masterdata()?;
    let mut md = lock(&md);
    for s in read_json::<Vec<SchemaFile>>(&md_dir.join("_schemas.json"))?.unwrap_or_default() {
        masterdata::put_schema(&mut md, &s.entity, &s.name, &s.body)
            .map_err(|e| anyhow::anyhow!("masterdata/_schemas.json: {e}"))?;
        counts.schemas += 1;
    }
    if md_dir.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(&md_dir)?.flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let Some(entity) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if entity == "_schemas" {
                continue;
            }
            let docs: Vec<Value> = read_json(&path)?.unwrap_or_default();
            counts.documents +=
                masterdata::import(&mut md, entity, &docs).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
    }
    Ok(counts)
}

/// Clears the workspace's settings and VBase files and the account's Master Data (documents,
/// schemas and which documents match them, scrolls). Rows are deleted, not files, so a running session's connections stay good.
pub fn reset(store: &Store) -> anyhow::Result<()> {
    let ws = store.workspace()?;
    lock(&ws).conn.execute_batch("BEGIN IMMEDIATE; DELETE FROM settings; DELETE FROM vbase; COMMIT;")?;
    let md = store.masterdata()?;
    lock(&md).conn.execute_batch(
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

    /// The ids a search under schema `v1` of `reviews` returns, and its total.
    fn under_v1(store: &Store) -> (Vec<String>, u64) {
        let md = store.masterdata().unwrap();
        let q = masterdata::Query { entity: "reviews".into(), schema: Some("v1".into()), ..Default::default() };
        let (docs, total) = masterdata::search(&mut lock(&md), &q, 1, 10).unwrap();
        (docs.iter().map(|d| d["id"].as_str().unwrap().to_string()).collect(), total)
    }

    #[test]
    fn reset_and_import_keep_which_documents_match_a_schema() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(Location::new(home.path(), "acc", "dev"));
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
        let left: i64 = lock(&store.masterdata().unwrap())
            .conn
            .query_row("SELECT count(*) FROM schema_members", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "reset forgets the memberships with the documents");

        let counts = import(&store, &snap).unwrap();
        assert_eq!((counts.documents, counts.schemas), (2, 1));
        assert_eq!(under_v1(&store), (vec!["a".to_string()], 1));
    }
}
