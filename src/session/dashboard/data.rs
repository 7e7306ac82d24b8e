//! The dashboard's Data page: app settings (checked against the app's `settingsSchema` as
//! `ioctl settings set` checks them, problems named by field), VBase files (edited with
//! `if_match`, so a concurrent change is a visible conflict) and Master Data (entities,
//! schemas, the `where`/sort/fields search of `ioctl masterdata search`, documents). It reads
//! and writes the session's store, the same files the CLI and the apps use: a change is seen
//! by them at once. Store calls run on blocking threads (SQLite), never on the server's.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::dashboard_data::{
    Bucket, Buckets, Entities, Entity, FieldProblem, SavedFile, SearchPage, Settings, VbaseFile, VbaseFiles, VbaseItem,
};
use crate::protocol::{path, ErrorCode};
use crate::session::server::{body, json_response, refuse};
use crate::session::state::Session;
use crate::store::{self, lock, masterdata, settings, vbase, Store, StoreError};

type Shared = Arc<Session>;

pub fn routes() -> Router<Shared> {
    let api = path::DASHBOARD_API;
    Router::new()
        .route(&format!("{api}/settings/{{app}}"), get(get_settings).post(set_settings))
        .route(&format!("{api}/vbase"), get(buckets))
        .route(&format!("{api}/vbase/files"), get(files))
        .route(&format!("{api}/vbase/file"), get(read_file).post(write_file).delete(delete_file))
        .route(&format!("{api}/masterdata"), get(entities))
        .route(&format!("{api}/masterdata/{{entity}}/search"), get(search))
        .route(&format!("{api}/masterdata/{{entity}}/documents/{{id}}"), get(document).post(save_document))
}

/// Runs `f` on the session's store on a blocking thread; a store error is the answer.
async fn with_store<T: Send + 'static>(
    s: &Session,
    f: impl FnOnce(&Store) -> store::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let store = s.store().clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(e)),
        Err(e) => {
            Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, format!("the store call failed: {e}")))
        }
    }
}

/// A store error as the API answers it (the status VTEX's service would give).
fn store_error(e: StoreError) -> Response {
    let (status, code) = match e.status {
        400 => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
        404 => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        409 | 412 => (StatusCode::PRECONDITION_FAILED, ErrorCode::Conflict),
        413 => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    };
    refuse(status, code, e.message)
}

fn bad(error: String) -> Response {
    refuse(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, error)
}

fn ok(value: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, value)
}

/// `vendor.name` of an app named with or without its version; why not, for a 400.
fn app_name(app: &str) -> Result<String, String> {
    crate::app::AppId::parse(app)
        .map(|id| id.without_version().to_string())
        .map_err(|e| format!("`{}` is not an app: {e}", crate::app::clip(app, 80)))
}

async fn get_settings(State(s): State<Shared>, Path(app): Path<String>) -> Response {
    let app = match app_name(&app) {
        Ok(a) => a,
        Err(why) => return bad(why),
    };
    let answer = with_store(&s, move |store| {
        let db = store.workspace()?;
        let db = lock(&db);
        let schema = settings::schema(&db, &app)?;
        let mut value = settings::saved(&db, &app)?;
        if let Some(schema) = &schema {
            settings::fill_defaults(schema, &mut value);
        }
        Ok(Settings { app, schema, value })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

#[derive(Deserialize)]
struct SettingsChange {
    value: Value,
}

/// Saves an app's settings when they pass its `settingsSchema` (defaults filled in, as the app
/// gets them); otherwise a 400 whose `fields` name each offending field's path.
async fn set_settings(State(s): State<Shared>, Path(app): Path<String>, req: Request) -> Response {
    let app = match app_name(&app) {
        Ok(a) => a,
        Err(why) => return bad(why),
    };
    let change: SettingsChange = match body(req, "settings").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !change.value.is_object() {
        return bad(format!("the settings of {app} must be a JSON object"));
    }
    if let Err(e) = settings::check_depth(&change.value, &format!("the settings of {app}")) {
        return bad(e);
    }
    let outcome = with_store(&s, move |store| {
        let db = store.workspace()?;
        let db = lock(&db);
        if let Some(schema) = settings::schema(&db, &app)? {
            let mut effective = change.value.clone();
            settings::fill_defaults(&schema, &mut effective);
            let problems =
                store::schema::problems(&schema, &effective).map_err(|e| StoreError::bad_request(e.to_string()))?;
            if !problems.is_empty() {
                return Ok(Err((app, problems)));
            }
        }
        settings::save(&db, &app, &change.value)?;
        Ok(Ok(change.value))
    })
    .await;
    match outcome {
        Ok(Ok(value)) => ok(&json!({ "value": value })),
        Ok(Err((app, problems))) => {
            let error = format!(
                "settings of {app} not saved: {}",
                problems.iter().map(|(at, what)| format!("{at}: {what}")).collect::<Vec<_>>().join("; ")
            );
            let fields: Vec<FieldProblem> =
                problems.into_iter().map(|(path, message)| FieldProblem { path, message }).collect();
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({ "code": ErrorCode::BadRequest, "error": error, "fields": fields }),
            )
        }
        Err(r) => r,
    }
}

async fn buckets(State(s): State<Shared>) -> Response {
    let answer = with_store(&s, |store| {
        let Some(db) = store.workspace_if_stored()? else { return Ok(Buckets { buckets: Vec::new() }) };
        let db = lock(&db);
        let counts = vbase::buckets(&db)?;
        Ok(Buckets { buckets: counts.into_iter().map(|(app, bucket, files)| Bucket { app, bucket, files }).collect() })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

#[derive(Deserialize)]
struct FileAt {
    app: String,
    bucket: String,
    #[serde(default)]
    path: Option<String>,
}

impl FileAt {
    /// (app, bucket, path), or why they are not usable (for a 400).
    fn checked(self) -> Result<(String, String, Option<String>), String> {
        let app = app_name(&self.app)?;
        if self.bucket.is_empty() {
            return Err("name the VBase bucket (bucket=)".into());
        }
        Ok((app, self.bucket, self.path))
    }

    /// [`FileAt::checked`] of a file: its path is needed.
    fn file(self) -> Result<(String, String, String), String> {
        let (app, bucket, path) = self.checked()?;
        let path = path.filter(|p| !p.is_empty()).ok_or("name the VBase file (path=)")?;
        Ok((app, bucket, path))
    }
}

/// A bucket's files, in path order (at most [`vbase::LIST_MAX`]).
async fn files(State(s): State<Shared>, Query(at): Query<FileAt>) -> Response {
    let (app, bucket, _) = match at.checked() {
        Ok(v) => v,
        Err(why) => return bad(why),
    };
    let answer = with_store(&s, move |store| {
        let db = store.workspace()?;
        let db = lock(&db);
        let listing = vbase::list(&db, &app, &bucket, "", None, Some(vbase::LIST_MAX))?;
        let files = listing.data.into_iter().map(|e| VbaseItem { path: e.path, hash: e.hash }).collect();
        Ok(VbaseFiles { files, more: listing.next.is_some() })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

async fn read_file(State(s): State<Shared>, Query(at): Query<FileAt>) -> Response {
    let (app, bucket, path) = match at.file() {
        Ok(v) => v,
        Err(why) => return bad(why),
    };
    let answer = with_store(&s, move |store| {
        let db = store.workspace()?;
        let db = lock(&db);
        let file = vbase::get(&db, &app, &bucket, &path)?;
        // A file an app saved gzipped is shown as its bytes (base64), not inflated.
        let (content, base64) = match String::from_utf8(file.data) {
            Ok(text) if !file.gzip => (text, false),
            Ok(text) => (base64_of(text.as_bytes()), true),
            Err(e) => (base64_of(e.as_bytes()), true),
        };
        Ok(VbaseFile { path, hash: file.hash, content_type: file.content_type, content, base64 })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Deserialize)]
struct FileChange {
    content: String,
    #[serde(default)]
    if_match: Option<String>,
}

/// Saves a file's text; with `if_match` only if the stored file is still the one read (else a
/// 412 with the current hash, so the page can show the conflict and reload).
async fn write_file(State(s): State<Shared>, Query(at): Query<FileAt>, req: Request) -> Response {
    let (app, bucket, path) = match at.file() {
        Ok(v) => v,
        Err(why) => return bad(why),
    };
    let change: FileChange = match body(req, "VBase file").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let kind = if serde_json::from_str::<Value>(&change.content).is_ok() { "application/json" } else { "text/plain" };
    let shown = path.clone();
    let answer = with_store(&s, move |store| {
        let db = store.workspace()?;
        let mut db = lock(&db);
        let file = vbase::Save {
            data: change.content.as_bytes(),
            content_type: kind,
            gzip: false,
            ttl: None,
            if_match: change.if_match.as_deref(),
        };
        match vbase::save(&mut db, &app, &bucket, &path, &file) {
            Ok(hash) => Ok(Ok(hash)),
            Err(e) if e.status == 412 || e.status == 409 => {
                let current = vbase::get(&db, &app, &bucket, &path).ok().map(|f| f.hash);
                Ok(Err((e.message, current)))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    match answer {
        Ok(Ok(hash)) => ok(&SavedFile { hash }),
        Ok(Err((error, hash))) => json_response(
            StatusCode::PRECONDITION_FAILED,
            &json!({ "code": ErrorCode::Conflict, "error": format!("{shown} changed since it was read: {error}"), "hash": hash }),
        ),
        Err(r) => r,
    }
}

async fn delete_file(State(s): State<Shared>, Query(at): Query<FileAt>) -> Response {
    let (app, bucket, path) = match at.file() {
        Ok(v) => v,
        Err(why) => return bad(why),
    };
    let answer = with_store(&s, move |store| {
        let db = store.workspace()?;
        let db = lock(&db);
        vbase::delete(&db, &app, &bucket, &path)
    })
    .await;
    answer.map_or_else(|r| r, |()| ok(&json!({})))
}

async fn entities(State(s): State<Shared>) -> Response {
    let answer = with_store(&s, |store| {
        let db = store.masterdata()?;
        let db = lock(&db);
        let mut entities: Vec<Entity> = masterdata::entities(&db)?
            .into_iter()
            .map(|entity| Entity { documents: 0, schemas: Vec::new(), entity })
            .collect();
        for (entity, name, _) in masterdata::schemas(&db)? {
            match entities.iter_mut().find(|e| e.entity == entity) {
                Some(e) => e.schemas.push(name),
                None => entities.push(Entity { entity, documents: 0, schemas: vec![name] }),
            }
        }
        for e in &mut entities {
            e.documents = masterdata::count(&db, &e.entity)?;
        }
        entities.sort_by(|a, b| a.entity.cmp(&b.entity));
        Ok(Entities { entities })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

#[derive(Deserialize)]
struct SearchAsked {
    #[serde(default, rename = "where")]
    where_: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    fields: Option<String>,
    #[serde(default)]
    schema: Option<String>,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    page_size: Option<usize>,
}

/// `ioctl masterdata search`'s search: `where`, `sort`, `fields` (comma-separated), a page.
async fn search(State(s): State<Shared>, Path(entity): Path<String>, Query(asked): Query<SearchAsked>) -> Response {
    let nonempty = |v: Option<String>| v.filter(|t| !t.trim().is_empty());
    let query = masterdata::Query {
        entity,
        fields: nonempty(asked.fields).map_or_else(|| vec!["_all".into()], |f| vec![f]),
        where_: nonempty(asked.where_),
        sort: nonempty(asked.sort),
        schema: nonempty(asked.schema),
    };
    let (page, size) = (asked.page.unwrap_or(1), asked.page_size.unwrap_or(50));
    let answer = with_store(&s, move |store| {
        let db = store.masterdata()?;
        let mut db = lock(&db);
        let (documents, total) = masterdata::search(&mut db, &query, page, size)?;
        Ok(SearchPage { total, page, page_size: size, documents })
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

async fn document(State(s): State<Shared>, Path((entity, id)): Path<(String, String)>) -> Response {
    let answer = with_store(&s, move |store| {
        let db = store.masterdata()?;
        let db = lock(&db);
        masterdata::get(&db, &entity, &id, &[])
    })
    .await;
    answer.map_or_else(|r| r, |v| ok(&v))
}

#[derive(Deserialize)]
struct DocumentChange {
    document: Value,
}

/// Replaces a document (`createOrUpdateEntireDocument`), checked against the entity's schemas
/// as the apps' writes are.
async fn save_document(State(s): State<Shared>, Path((entity, id)): Path<(String, String)>, req: Request) -> Response {
    let change: DocumentChange = match body(req, "document").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let answer = with_store(&s, move |store| {
        let db = store.masterdata()?;
        let mut db = lock(&db);
        masterdata::write(&mut db, &entity, masterdata::Write::Replace, Some(&id), &change.document, None)
    })
    .await;
    answer.map_or_else(|r| r, |created| ok(&created))
}
