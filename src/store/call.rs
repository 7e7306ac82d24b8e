//! The platform calls the Node side's clients make (`ctx.clients.apps`, `.vbase`,
//! `.masterdata`), typed as host.js sends them in a `platform` message, and their dispatch to
//! the storage: each answers a JSON value or a [`StoreError`] with VTEX's status.
//!
//! Fields are snake_case, as in every message between ioctl and the host; `method` (and a
//! write's `mode`) is the name of the @vtex/api client method the app called. The values
//! answered are data, not message fields: what the method resolves with, in @vtex/api's own
//! shapes (`{mdToken, data}`, `{Id, Href, DocumentId}`), or what the client shapes it from
//! (getFile's `{data, content_type, gzip, hash}`, a search's `{data, total}`).

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::masterdata::{self, Query, Write};
use super::{lock, settings, vbase, Result, Store, StoreError};

/// One call, as the host sends it. (Also `Serialize` in tests: runtime/protocol.rs's tests write
/// each fixture call back.)
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(tag = "service", rename_all = "lowercase")]
pub enum Call {
    Apps(AppsCall),
    Vbase(VbaseCall),
    Masterdata(MasterdataCall),
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum AppsCall {
    GetAppSettings { app: String },
    SaveAppSettings { app: String, settings: Value },
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum VbaseCall {
    GetFile {
        bucket: String,
        path: String,
    },
    SaveFile {
        bucket: String,
        path: String,
        /// The content, base64.
        data: String,
        #[serde(default)]
        content_type: Option<String>,
        #[serde(default)]
        gzip: bool,
        #[serde(default)]
        ttl: Option<f64>,
        #[serde(default)]
        if_match: Option<String>,
    },
    DeleteFile {
        bucket: String,
        path: String,
    },
    ListFiles {
        bucket: String,
        #[serde(default)]
        prefix: Option<String>,
        #[serde(default)]
        marker: Option<String>,
        #[serde(default)]
        limit: Option<usize>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "camelCase")]
pub enum WriteMode {
    CreateDocument,
    UpdateEntireDocument,
    UpdatePartialDocument,
    CreateOrUpdateEntireDocument,
    CreateOrUpdatePartialDocument,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(tag = "method", rename_all = "camelCase")]
pub enum MasterdataCall {
    Write {
        mode: WriteMode,
        data_entity: String,
        #[serde(default)]
        id: Option<String>,
        fields: Value,
        #[serde(default)]
        schema: Option<String>,
    },
    GetDocument {
        data_entity: String,
        id: String,
        #[serde(default)]
        fields: Vec<String>,
    },
    DeleteDocument {
        data_entity: String,
        id: String,
    },
    SearchDocuments {
        data_entity: String,
        #[serde(default)]
        fields: Vec<String>,
        #[serde(default, rename = "where")]
        where_: Option<String>,
        #[serde(default)]
        sort: Option<String>,
        /// Only documents that match this schema of the entity.
        #[serde(default)]
        schema: Option<String>,
        page: usize,
        page_size: usize,
    },
    ScrollDocuments {
        data_entity: String,
        #[serde(default)]
        fields: Vec<String>,
        #[serde(default, rename = "where")]
        where_: Option<String>,
        #[serde(default)]
        sort: Option<String>,
        #[serde(default)]
        schema: Option<String>,
        #[serde(default)]
        size: Option<usize>,
        #[serde(default)]
        md_token: Option<String>,
    },
    GetSchema {
        data_entity: String,
        schema: String,
    },
    CreateOrUpdateSchema {
        data_entity: String,
        schema_name: String,
        schema_body: Value,
    },
}

impl Store {
    /// Runs one call of `app` (`vendor.name`: VBase files are the calling app's). Blocking:
    /// the session runs it on a blocking thread.
    pub fn handle(&self, app: &str, call: Call) -> Result<Value> {
        match call {
            Call::Apps(c) => self.apps(c),
            Call::Vbase(c) => self.vbase(app, c),
            Call::Masterdata(c) => self.masterdata_call(c),
        }
    }

    fn apps(&self, call: AppsCall) -> Result<Value> {
        let db = self.workspace()?;
        let db = lock(&db);
        match call {
            AppsCall::GetAppSettings { app } => settings::effective(&db, &app),
            AppsCall::SaveAppSettings { app, settings: value } => {
                settings::save(&db, &app, &value)?;
                Ok(Value::Null)
            }
        }
    }

    fn vbase(&self, app: &str, call: VbaseCall) -> Result<Value> {
        let db = self.workspace()?;
        let mut db = lock(&db);
        let b64 = base64::engine::general_purpose::STANDARD;
        match call {
            VbaseCall::GetFile { bucket, path } => {
                let f = vbase::get(&db, app, &bucket, &path)?;
                Ok(json!({"data": b64.encode(&f.data), "content_type": f.content_type, "gzip": f.gzip, "hash": f.hash}))
            }
            VbaseCall::SaveFile { bucket, path, data, content_type, gzip, ttl, if_match } => {
                let data = b64
                    .decode(data)
                    .map_err(|e| StoreError::bad_request(format!("VBase: unreadable file data: {e}")))?;
                let save = vbase::Save {
                    data: &data,
                    content_type: content_type.as_deref().unwrap_or("application/octet-stream"),
                    gzip,
                    ttl,
                    if_match: if_match.as_deref(),
                };
                let hash = vbase::save(&mut db, app, &bucket, &path, &save)?;
                Ok(json!({ "hash": hash }))
            }
            VbaseCall::DeleteFile { bucket, path } => {
                vbase::delete(&db, app, &bucket, &path)?;
                Ok(Value::Null)
            }
            VbaseCall::ListFiles { bucket, prefix, marker, limit } => {
                let listing =
                    vbase::list(&db, app, &bucket, prefix.as_deref().unwrap_or(""), marker.as_deref(), limit)?;
                Ok(serde_json::to_value(listing).unwrap_or_default())
            }
        }
    }

    fn masterdata_call(&self, call: MasterdataCall) -> Result<Value> {
        let db = self.masterdata()?;
        let mut db = lock(&db);
        match call {
            MasterdataCall::Write { mode, data_entity, id, fields, schema } => {
                let mode = match mode {
                    WriteMode::CreateDocument => Write::Create,
                    WriteMode::UpdateEntireDocument => Write::ReplaceExisting,
                    WriteMode::UpdatePartialDocument => Write::MergeExisting,
                    WriteMode::CreateOrUpdateEntireDocument => Write::Replace,
                    WriteMode::CreateOrUpdatePartialDocument => Write::Merge,
                };
                let created =
                    masterdata::write(&mut db, &data_entity, mode, id.as_deref(), &fields, schema.as_deref())?;
                Ok(serde_json::to_value(created).unwrap_or_default())
            }
            MasterdataCall::GetDocument { data_entity, id, fields } => masterdata::get(&db, &data_entity, &id, &fields),
            MasterdataCall::DeleteDocument { data_entity, id } => {
                masterdata::delete(&mut db, &data_entity, &id)?;
                Ok(Value::Null)
            }
            MasterdataCall::SearchDocuments { data_entity, fields, where_, sort, schema, page, page_size } => {
                let q = Query { entity: data_entity, fields, where_, sort, schema };
                let (data, total) = masterdata::search(&mut db, &q, page, page_size)?;
                Ok(json!({ "data": data, "total": total }))
            }
            MasterdataCall::ScrollDocuments { data_entity, fields, where_, sort, schema, size, md_token } => {
                let q = Query { entity: data_entity, fields, where_, sort, schema };
                let (token, data) = masterdata::scroll(&mut db, &q, size.unwrap_or(100), md_token.as_deref())?;
                Ok(json!({ "mdToken": token, "data": data }))
            }
            // A missing schema answers null: the stand-in's getSchema resolves it as an empty body.
            MasterdataCall::GetSchema { data_entity, schema } => {
                Ok(masterdata::get_schema(&db, &data_entity, &schema)?.unwrap_or(Value::Null))
            }
            MasterdataCall::CreateOrUpdateSchema { data_entity, schema_name, schema_body } => {
                masterdata::put_schema(&mut db, &data_entity, &schema_name, &schema_body)?;
                Ok(Value::Null)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Location;

    #[test]
    fn an_apps_search_of_a_page_past_any_count_is_empty() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::new(Location::new(home.path(), "acc", "dev"));
        let call = |text: &str| store.handle("acme.app", serde_json::from_str(text).unwrap());
        call(
            r#"{"service":"masterdata","method":"write","mode":"createDocument","data_entity":"E","fields":{"id":"a"}}"#,
        )
        .unwrap();
        let search = |page: &str| {
            call(&format!(
                r#"{{"service":"masterdata","method":"searchDocuments","data_entity":"E","page":{page},"page_size":100}}"#
            ))
            .unwrap()
        };
        assert_eq!(search("1"), json!({"data": [{"id": "a"}], "total": 1}));
        for far in ["9223372036854775807", "18446744073709551615", "92233720368547759"] {
            assert_eq!(search(far), json!({"data": [], "total": 1}), "page {far}");
        }
    }
}
