//! Master Data v2 of one account: JSON documents in data entities, with generated ids,
//! whole and partial updates, searches (`where`, `fields`, `sort`, pages of at most 100),
//! scrolls with expiring tokens, and JSON Schemas that documents saved under them must match.
//! A search naming a schema returns only the documents that match it: which documents match
//! which schemas is kept in `schema_members`, on every write and every schema save.
//! A field a `where` reads gets an expression index the first time, so an equality search
//! over 100,000 documents reads a handful of rows, not all of them.

pub mod query;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

use super::db::{backend, Sqlite};
use super::pg::masterdata as pg_md;
use super::schema::{Compiled, Invalid};
use super::{now_ms, Db, Result, StoreError};

/// Largest `pageSize` of a search, as on VTEX.
pub const MAX_PAGE_SIZE: usize = 100;
/// Largest `size` of a scroll page, as on VTEX.
pub const MAX_SCROLL_SIZE: usize = 1000;
/// How long a scroll token lives after its last use, unless `IOCTL_MASTERDATA_SCROLL_TTL`
/// (seconds) says otherwise.
const SCROLL_TTL_MS: i64 = 20 * 60 * 1000;

pub(crate) fn scroll_ttl_ms() -> i64 {
    std::env::var("IOCTL_MASTERDATA_SCROLL_TTL")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(SCROLL_TTL_MS, |s| (s * 1000.0) as i64)
}

/// What a create (or create-or-update) answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub id: String,
    pub href: String,
    pub document_id: String,
}

pub(crate) fn created(entity: &str, id: &str) -> Created {
    Created {
        id: format!("{entity}-{id}"),
        href: format!("/api/dataentities/{entity}/documents/{id}"),
        document_id: id.to_string(),
    }
}

pub fn check_entity(entity: &str) -> Result<()> {
    let ok = !entity.is_empty()
        && entity.len() <= 128
        && entity.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::bad_request(format!(
            "Master Data: invalid data entity `{entity}` (letters, digits, `_` and `-`)"
        )))
    }
}

pub(crate) fn not_found(entity: &str, id: &str) -> StoreError {
    StoreError::not_found(format!("Master Data: no document `{id}` in data entity `{entity}`"))
}

/// A fresh document id: a random UUID (v4), as Master Data makes them.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The document's fields: an object whose `id`, when given, must be a non-empty string.
fn object(fields: &Value) -> Result<Map<String, Value>> {
    let Some(map) = fields.as_object() else {
        return Err(StoreError::bad_request("Master Data: a document's fields must be a JSON object"));
    };
    match map.get("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(other) => return Err(StoreError::bad_request(format!("Master Data: `id` must be a string, not {other}"))),
    }
    Ok(map.clone())
}

fn given_id(map: &Map<String, Value>) -> Option<String> {
    map.get("id").and_then(Value::as_str).map(str::to_string)
}

fn load(tx: &rusqlite::Connection, entity: &str, id: &str) -> Result<Option<Map<String, Value>>> {
    let text: Option<String> = tx
        .query_row("SELECT doc FROM documents WHERE entity = ?1 AND id = ?2", params![entity, id], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str::<Value>(&t).ok()).and_then(|v| v.as_object().cloned()))
}

pub(crate) fn no_schema(entity: &str, name: &str) -> StoreError {
    StoreError::not_found(format!("Master Data: no schema `{name}` in data entity `{entity}`"))
}

/// The schemas of an entity, compiled (a body that does not compile matches no document).
pub(crate) type EntitySchemas = Vec<(String, std::result::Result<Compiled, Invalid>)>;

fn entity_schemas(conn: &rusqlite::Connection, entity: &str) -> Result<EntitySchemas> {
    let mut stmt = conn.prepare_cached("SELECT name, body FROM schemas WHERE entity = ?1 ORDER BY name")?;
    let rows = stmt.query_map([entity], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, text) = row?;
        let compiled = serde_json::from_str::<Value>(&text)
            .map_err(|e| Invalid::Schema(format!("stored body is not JSON: {e}")))
            .and_then(|body| Compiled::new(&body));
        out.push((name, compiled));
    }
    Ok(out)
}

/// A document saved under schema `name` must match it.
pub(crate) fn check_schema(entity: &str, name: &str, schemas: &EntitySchemas, doc: &Value) -> Result<()> {
    let Some((_, compiled)) = schemas.iter().find(|(n, _)| n == name) else { return Err(no_schema(entity, name)) };
    compiled.as_ref().map_err(Invalid::clone).and_then(|c| c.check(doc)).map_err(|e| {
        StoreError::bad_request(format!("Master Data: the document does not match schema `{name}` of `{entity}`: {e}"))
    })
}

/// Records which of its entity's schemas document `id` matches, replacing what was recorded.
fn set_members(
    conn: &rusqlite::Connection,
    entity: &str,
    id: &str,
    doc: &Value,
    schemas: &EntitySchemas,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM schema_members WHERE entity = ?1 AND id = ?2")?.execute(params![entity, id])?;
    let mut insert = conn.prepare_cached("INSERT INTO schema_members (entity, id, schema) VALUES (?1, ?2, ?3)")?;
    for (name, compiled) in schemas {
        if compiled.as_ref().is_ok_and(|c| c.accepts(doc)) {
            insert.execute(params![entity, id, name])?;
        }
    }
    Ok(())
}

/// Records anew which documents of `entity` match its schema `name` (saved or changed).
fn recompute_members(conn: &rusqlite::Connection, entity: &str, name: &str, compiled: &Compiled) -> Result<()> {
    conn.execute("DELETE FROM schema_members WHERE entity = ?1 AND schema = ?2", params![entity, name])?;
    let mut docs = conn.prepare("SELECT id, doc FROM documents WHERE entity = ?1")?;
    let mut insert = conn.prepare_cached("INSERT INTO schema_members (entity, id, schema) VALUES (?1, ?2, ?3)")?;
    let mut rows = docs.query([entity])?;
    while let Some(row) = rows.next()? {
        let (id, text): (String, String) = (row.get(0)?, row.get(1)?);
        if serde_json::from_str::<Value>(&text).is_ok_and(|doc| compiled.accepts(&doc)) {
            insert.execute(params![entity, id, name])?;
        }
    }
    Ok(())
}

/// Fills `schema_members` from every document and schema of the file (a file made before the
/// table existed; the caller holds a write transaction).
pub(crate) fn rebuild_members(conn: &rusqlite::Connection) -> Result<()> {
    conn.execute("DELETE FROM schema_members", [])?;
    let all: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare("SELECT entity, name, body FROM schemas")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (entity, name, text) in all {
        let Some(compiled) = serde_json::from_str::<Value>(&text).ok().and_then(|b| Compiled::new(&b).ok()) else {
            continue;
        };
        recompute_members(conn, &entity, &name, &compiled)?;
    }
    Ok(())
}

fn store(
    tx: &rusqlite::Connection,
    entity: &str,
    id: &str,
    doc: &mut Map<String, Value>,
    schema: Option<&str>,
    exists: bool,
) -> Result<()> {
    doc.insert("id".into(), Value::String(id.to_string()));
    let value = Value::Object(doc.clone());
    let schemas = entity_schemas(tx, entity)?;
    if let Some(name) = schema {
        check_schema(entity, name, &schemas, &value)?;
    }
    let text = value.to_string();
    let now = now_ms();
    if exists {
        tx.execute(
            "UPDATE documents SET doc = ?3, schema = coalesce(?4, schema), updated_at = ?5 WHERE entity = ?1 AND id = ?2",
            params![entity, id, text, schema, now],
        )?;
    } else {
        tx.execute(
            "INSERT INTO documents (entity, id, doc, schema, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![entity, id, text, schema, now],
        )?;
    }
    set_members(tx, entity, id, &value, &schemas)
}

/// How a write treats the document that is there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `createDocument`: a new document (an id in use is a 409).
    Create,
    /// `updateEntireDocument`: replaces an existing document (404 when there is none).
    ReplaceExisting,
    /// `updatePartialDocument`: merges into an existing document (404 when there is none).
    MergeExisting,
    /// `createOrUpdateEntireDocument`: replaces, or creates.
    Replace,
    /// `createOrUpdatePartialDocument`: merges, or creates.
    Merge,
}

/// One document write; `id` (else the fields' `id`, else a new one) names the document.
pub fn write(
    db: &mut Db,
    entity: &str,
    mode: Write,
    id: Option<&str>,
    fields: &Value,
    schema: Option<&str>,
) -> Result<Created> {
    check_entity(entity)?;
    let given = object(fields)?;
    let id = id.map(str::to_string).or_else(|| given_id(&given));
    if matches!(mode, Write::ReplaceExisting | Write::MergeExisting) && id.is_none() {
        return Err(StoreError::bad_request("Master Data: an update needs the document's id"));
    }
    let id = id.unwrap_or_else(new_id);
    let db = backend!(db, pg => pg.run(|c| pg_md::write(c, entity, mode, id, given, schema)));
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = load(&tx, entity, &id)?;
    let exists = current.is_some();
    let mut doc = merged(entity, &id, mode, current, given)?;
    store(&tx, entity, &id, &mut doc, schema, exists)?;
    tx.commit()?;
    Ok(created(entity, &id))
}

/// What a write of `mode` saves, given the document there (`current`) and the fields given.
pub(crate) fn merged(
    entity: &str,
    id: &str,
    mode: Write,
    current: Option<Map<String, Value>>,
    mut given: Map<String, Value>,
) -> Result<Map<String, Value>> {
    match (mode, current) {
        (Write::Create, Some(_)) => Err(exists(entity, id)),
        (Write::ReplaceExisting | Write::MergeExisting, None) => Err(not_found(entity, id)),
        (Write::Merge | Write::MergeExisting, Some(mut doc)) => {
            doc.append(&mut given);
            Ok(doc)
        }
        _ => Ok(given),
    }
}

/// A create of an id in use.
pub(crate) fn exists(entity: &str, id: &str) -> StoreError {
    StoreError::conflict(format!(
        "Master Data: document `{id}` exists in `{entity}` (createOrUpdate… replaces or merges)"
    ))
}

/// The field names a caller gave (a list, or comma-separated in each item).
fn named(fields: &[String]) -> Vec<String> {
    fields.iter().flat_map(|f| f.split(',')).map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect()
}

/// The fields a read returns: `None` for all (`_all`, or none named).
pub fn field_list(fields: &[String]) -> Result<Option<Vec<String>>> {
    let names = named(fields);
    if names.is_empty() || names.iter().any(|f| f == "_all") {
        return Ok(None);
    }
    if let Some(bad) = names.iter().find(|f| !query::valid_field(f)) {
        return Err(StoreError::bad_request(format!("Master Data: `{bad}` is not a field name")));
    }
    Ok(Some(names))
}

fn project(doc: &str, fields: &Option<Vec<String>>) -> Value {
    project_value(serde_json::from_str(doc).unwrap_or(Value::Null), fields)
}

/// The document, or only the named fields of it (`a.b` reads inside `a`; a missing one is null).
pub(crate) fn project_value(value: Value, fields: &Option<Vec<String>>) -> Value {
    let Some(names) = fields else { return value };
    let mut out = Map::new();
    for name in names {
        let mut at = Some(&value);
        for part in name.split('.') {
            at = at.and_then(|v| v.get(part));
        }
        out.insert(name.clone(), at.cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

pub fn get(db: &Db, entity: &str, id: &str, fields: &[String]) -> Result<Value> {
    check_entity(entity)?;
    let fields = field_list(fields)?;
    let db = backend!(db, pg => pg.run(|c| pg_md::get(c, entity, id, &fields)));
    let text: Option<String> = db
        .conn
        .query_row("SELECT doc FROM documents WHERE entity = ?1 AND id = ?2", params![entity, id], |r| r.get(0))
        .optional()?;
    match text {
        Some(t) => Ok(project(&t, &fields)),
        None => Err(not_found(entity, id)),
    }
}

/// The fields a search returns: those named; with none named, the `v-default-fields` of the
/// schema it names, as on VTEX, else every field (`_all` is every field, whatever the schema).
pub(crate) fn search_fields(fields: &[String], schema: Option<&Value>) -> Result<Option<Vec<String>>> {
    if named(fields).is_empty() {
        if let Some(defaults) = schema.and_then(default_fields) {
            return Ok(Some(defaults));
        }
    }
    field_list(fields)
}

/// A schema's `v-default-fields` (none when absent or empty).
fn default_fields(schema: &Value) -> Option<Vec<String>> {
    let list = schema.get("v-default-fields")?.as_array()?;
    let names: Vec<String> = list.iter().filter_map(Value::as_str).map(str::to_string).collect();
    (!names.is_empty()).then_some(names)
}

pub fn delete(db: &mut Db, entity: &str, id: &str) -> Result<()> {
    check_entity(entity)?;
    let db = backend!(db, pg => pg.run(|c| pg_md::delete(c, entity, id)));
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tx.execute("DELETE FROM documents WHERE entity = ?1 AND id = ?2", params![entity, id])? == 0 {
        return Err(not_found(entity, id));
    }
    tx.execute("DELETE FROM schema_members WHERE entity = ?1 AND id = ?2", params![entity, id])?;
    tx.commit()?;
    Ok(())
}

/// A search's condition, order and fields.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Query {
    pub entity: String,
    #[serde(default)]
    pub fields: Vec<String>,
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    #[serde(default)]
    pub sort: Option<String>,
    /// Only the documents that match this schema of the entity (a 404 when it has none such).
    #[serde(default)]
    pub schema: Option<String>,
}

/// How to run a query: the condition (after `FROM documents WHERE`) and its parameters, the
/// order, and the fields to return.
struct Plan {
    cond: String,
    params: Vec<SqlValue>,
    order: String,
    fields: Option<Vec<String>>,
}

/// Plans a query, indexing the fields its `where` reads.
fn plan(db: &mut Sqlite, q: &Query) -> Result<Plan> {
    check_entity(&q.entity)?;
    let mut params = vec![SqlValue::Text(q.entity.clone())];
    let mut cond = String::from("entity = ?");
    let schema = match q.schema.as_deref() {
        Some(name) => {
            let body = schema_body(&db.conn, &q.entity, name)?;
            cond.push_str(
                " AND EXISTS (SELECT 1 FROM schema_members m \
                 WHERE m.entity = documents.entity AND m.id = documents.id AND m.schema = ?)",
            );
            params.push(SqlValue::Text(name.to_string()));
            Some(body)
        }
        None => None,
    };
    let fields = search_fields(&q.fields, schema.as_ref())?;
    let source = q.where_.as_deref().unwrap_or("");
    let expr =
        query::parse(source).map_err(|e| StoreError::bad_request(format!("Master Data: {}", e.render(source))))?;
    if let Some(expr) = expr {
        let mut read = Vec::new();
        query::fields(&expr, &mut read);
        for f in read {
            ensure_index(db, &f)?;
        }
        cond.push_str(" AND ");
        cond.push_str(&query::to_sql(&expr, &mut params));
    }
    Ok(Plan { cond, params, order: order_by(q.sort.as_deref())?, fields })
}

fn order_by(sort: Option<&str>) -> Result<String> {
    let mut parts: Vec<String> = sort_items(sort)?
        .into_iter()
        .map(|(field, desc)| format!("{} {}", query::field_sql(&field), if desc { "DESC" } else { "ASC" }))
        .collect();
    parts.push("seq ASC".into());
    Ok(parts.join(", "))
}

/// A `sort` (`field ASC|DESC`, comma-separated) as (field, descending) pairs.
pub(crate) fn sort_items(sort: Option<&str>) -> Result<Vec<(String, bool)>> {
    let mut items = Vec::new();
    for item in sort.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split_whitespace();
        let field = words.next().unwrap_or("");
        let desc = match words.next().map(|d| d.to_ascii_lowercase()).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(d) => {
                return Err(StoreError::bad_request(format!("Master Data: sort `{item}`: `{d}` is not ASC or DESC")))
            }
        };
        if !query::valid_field(field) || words.next().is_some() {
            return Err(StoreError::bad_request(format!("Master Data: sort `{item}` is not `field ASC|DESC`")));
        }
        items.push((field.to_string(), desc));
    }
    Ok(items)
}

/// An expression index for `field` (once per file): equality and range searches on it then
/// read only the matching rows.
fn ensure_index(db: &mut Sqlite, field: &str) -> Result<()> {
    if db.indexed.contains(field) || !query::valid_field(field) {
        return Ok(());
    }
    let name = format!("documents_by_{}", field.replace(['.', '-'], "_"));
    let name = format!("{name}_{}", &super::vbase::hash(field.as_bytes())[..8]);
    db.conn.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS \"{name}\" ON documents (entity, {})",
        query::field_sql(field)
    ))?;
    db.indexed.insert(field.to_string());
    Ok(())
}

/// One page of a search (1-based `page`), and the total number of matching documents.
pub fn search(db: &mut Db, q: &Query, page: usize, page_size: usize) -> Result<(Vec<Value>, u64)> {
    if page == 0 {
        return Err(StoreError::bad_request("Master Data: page starts at 1"));
    }
    if page_size == 0 || page_size > MAX_PAGE_SIZE {
        return Err(StoreError::bad_request(format!(
            "Master Data: pageSize must be from 1 to {MAX_PAGE_SIZE}, not {page_size} (scrollDocuments reads more)"
        )));
    }
    // A page past every document SQLite could hold (page × pageSize overflowing included) is
    // empty, as any page past the end is.
    let offset = (page - 1).saturating_mul(page_size);
    search_range(db, q, offset, page_size)
}

/// At most `limit` (≤ [`MAX_PAGE_SIZE`]) matching documents from the `offset`th on (a REST
/// search's `REST-Range: resources=FROM-TO`), and the total number of matching documents.
pub fn search_range(db: &mut Db, q: &Query, offset: usize, limit: usize) -> Result<(Vec<Value>, u64)> {
    if limit > MAX_PAGE_SIZE {
        return Err(StoreError::bad_request(format!(
            "Master Data: at most {MAX_PAGE_SIZE} documents per search, not {limit} (scroll reads more)"
        )));
    }
    let db = backend!(db, pg => pg.run(|c| pg_md::search_range(c, q, offset, limit)));
    let Plan { cond, mut params, order, fields } = plan(db, q)?;
    let total: i64 = db.conn.query_row(
        &format!("SELECT count(*) FROM documents WHERE {cond}"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    let Ok(offset) = i64::try_from(offset) else {
        return Ok((Vec::new(), total as u64));
    };
    params.push(SqlValue::Integer(limit as i64));
    params.push(SqlValue::Integer(offset));
    let mut stmt =
        db.conn.prepare_cached(&format!("SELECT doc FROM documents WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?"))?;
    let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(0))?;
    let mut data = Vec::new();
    for row in rows {
        data.push(project(&row?, &fields));
    }
    Ok((data, total as u64))
}

#[derive(Serialize, serde::Deserialize)]
pub(crate) struct Scroll {
    pub(crate) query: Query,
    pub(crate) size: usize,
}

impl Scroll {
    /// A new scroll of `q` in pages of `size`.
    pub(crate) fn start(q: &Query, size: usize) -> Result<Scroll> {
        if size == 0 || size > MAX_SCROLL_SIZE {
            return Err(StoreError::bad_request(format!(
                "Master Data: scroll size must be from 1 to {MAX_SCROLL_SIZE}, not {size}"
            )));
        }
        Ok(Scroll { query: q.clone(), size })
    }
}

/// A scroll token that is unknown, or expired.
pub(crate) fn scroll_expired(token: &str) -> StoreError {
    StoreError::bad_request(format!(
        "Master Data: the mdToken `{token}` has expired or is unknown: start a new scroll without it"
    ))
}

/// One page of a scroll: the first call (no token) starts one; each token lives
/// `IOCTL_MASTERDATA_SCROLL_TTL` seconds (20 minutes) after its last use.
pub fn scroll(db: &mut Db, q: &Query, size: usize, token: Option<&str>) -> Result<(String, Vec<Value>)> {
    let db = backend!(db, pg => pg.run(|c| pg_md::scroll(c, q, size, token)));
    let now = now_ms();
    db.conn.execute("DELETE FROM scrolls WHERE expires_at <= ?1", [now])?;
    let (token, scroll, position) = match token {
        Some(t) => {
            let row: Option<(String, i64)> = db
                .conn
                .query_row("SELECT query, position FROM scrolls WHERE token = ?1", [t], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((text, position)) = row else { return Err(scroll_expired(t)) };
            let scroll: Scroll = serde_json::from_str(&text).map_err(|e| StoreError::new(500, e.to_string()))?;
            (t.to_string(), scroll, position as usize)
        }
        None => (new_id().replace('-', ""), Scroll::start(q, size)?, 0),
    };
    let Plan { cond, mut params, order, fields } = plan(db, &scroll.query)?;
    params.push(SqlValue::Integer(scroll.size as i64));
    params.push(SqlValue::Integer(position as i64));
    let data = {
        let mut stmt = db
            .conn
            .prepare_cached(&format!("SELECT doc FROM documents WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?"))?;
        let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(0))?;
        rows.map(|r| r.map(|d| project(&d, &fields))).collect::<rusqlite::Result<Vec<_>>>()?
    };
    let text = serde_json::to_string(&scroll).map_err(|e| StoreError::new(500, e.to_string()))?;
    db.conn.execute(
        "INSERT INTO scrolls (token, query, position, expires_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (token) DO UPDATE SET position = excluded.position, expires_at = excluded.expires_at",
        params![token, text, (position + data.len()) as i64, now + scroll_ttl_ms()],
    )?;
    Ok((token, data))
}

/// The body of schema `name` of `entity`, if it has one.
fn stored_schema(conn: &rusqlite::Connection, entity: &str, name: &str) -> Result<Option<Value>> {
    let text: Option<String> = conn
        .query_row("SELECT body FROM schemas WHERE entity = ?1 AND name = ?2", params![entity, name], |r| r.get(0))
        .optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// [`stored_schema`], a 404 when missing: what a search or write under a schema needs.
fn schema_body(conn: &rusqlite::Connection, entity: &str, name: &str) -> Result<Value> {
    stored_schema(conn, entity, name)?.ok_or_else(|| no_schema(entity, name))
}

/// The schema `name` of `entity`, `None` when it has none. VTEX answers a missing schema with an
/// empty 200 rather than a 404 (inferred from apps: @vtex/api's getSchema is a plain GET with
/// no nullIfNotFound, and VTEX's own training code relies on `if (!schema)` to create it), so a
/// missing schema is not an error here, as it is for a search or write under it.
pub fn get_schema(db: &Db, entity: &str, name: &str) -> Result<Option<Value>> {
    check_entity(entity)?;
    let db = backend!(db, pg => pg.run(|c| pg_md::get_schema(c, entity, name)));
    stored_schema(&db.conn, entity, name)
}

/// Saves a schema (a JSON Schema; its `v-indexed` fields get an index, its `v-default-fields`
/// are what a search under it returns when it names no fields) and records which documents
/// of the entity match it.
pub fn put_schema(db: &mut Db, entity: &str, name: &str, body: &Value) -> Result<()> {
    let db = backend!(db, pg => pg.run(|c| pg_md::put_schema(c, entity, name, body)));
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    put_schema_in(&tx, entity, name, body)?;
    tx.commit()?;
    index_schema_fields_in(db, body)
}

/// Gives the fields a schema's `v-indexed` names an index (after its transaction committed).
pub(crate) fn index_schema_fields(db: &mut Db, body: &Value) -> Result<()> {
    let db = backend!(db, pg => pg.run(|c| pg_md::index_schema_fields(c, body)));
    index_schema_fields_in(db, body)
}

fn index_schema_fields_in(db: &mut Sqlite, body: &Value) -> Result<()> {
    for field in body.get("v-indexed").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        ensure_index(db, field)?;
    }
    Ok(())
}

/// [`put_schema`] in a write transaction of the caller's, but for the indexes of its
/// `v-indexed` fields ([`index_schema_fields`] once committed).
pub(crate) fn put_schema_in(tx: &rusqlite::Connection, entity: &str, name: &str, body: &Value) -> Result<()> {
    let compiled = checked_schema(entity, name, body)?;
    tx.execute(
        "INSERT INTO schemas (entity, name, body) VALUES (?1, ?2, ?3) ON CONFLICT (entity, name) DO UPDATE SET body = excluded.body",
        params![entity, name, body.to_string()],
    )?;
    recompute_members(tx, entity, name, &compiled)
}

/// A schema body as a save accepts it: a JSON Schema whose `v-indexed` and `v-default-fields`
/// are arrays of field names, compiled.
pub(crate) fn checked_schema(entity: &str, name: &str, body: &Value) -> Result<Compiled> {
    check_entity(entity)?;
    if name.is_empty() {
        return Err(StoreError::bad_request("Master Data: a schema needs a name"));
    }
    let compiled =
        Compiled::new(body).map_err(|e| StoreError::bad_request(format!("Master Data: schema `{name}`: {e}")))?;
    for key in ["v-indexed", "v-default-fields"] {
        let ok = body.get(key).is_none_or(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)));
        if !ok {
            return Err(StoreError::bad_request(format!(
                "Master Data: schema `{name}`: `{key}` must be an array of field names"
            )));
        }
    }
    Ok(compiled)
}

/// Every schema: (entity, name, body).
pub fn schemas(db: &Db) -> Result<Vec<(String, String, Value)>> {
    let db = backend!(db, pg => pg.run(pg_md::schemas));
    let mut stmt = db.conn.prepare("SELECT entity, name, body FROM schemas ORDER BY entity, name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (e, n, b) = row?;
        out.push((e, n, serde_json::from_str(&b).unwrap_or(Value::Null)));
    }
    Ok(out)
}

/// Saves many documents in one transaction (each created, or replaced when its `id` exists).
pub fn import(db: &mut Db, entity: &str, docs: &[Value]) -> Result<usize> {
    check_entity(entity)?;
    let db = backend!(db, pg => pg.run(|c| pg_md::import(c, entity, docs)));
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = import_in(&tx, entity, docs)?;
    tx.commit()?;
    Ok(n)
}

/// [`import`] in a write transaction of the caller's.
pub(crate) fn import_in(tx: &rusqlite::Connection, entity: &str, docs: &[Value]) -> Result<usize> {
    check_entity(entity)?;
    let now = now_ms();
    let schemas = entity_schemas(tx, entity)?;
    let mut insert = tx.prepare(
        "INSERT INTO documents (entity, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
         ON CONFLICT (entity, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
    )?;
    for (i, doc) in docs.iter().enumerate() {
        let (id, doc) = import_doc(i, doc)?;
        insert.execute(params![entity, id, doc.to_string(), now])?;
        set_members(tx, entity, &id, &doc, &schemas)?;
    }
    Ok(docs.len())
}

/// The `i`th document of an import, checked, with its id (given, or a new one).
pub(crate) fn import_doc(i: usize, doc: &Value) -> Result<(String, Value)> {
    let mut map = object(doc).map_err(|e| StoreError::bad_request(format!("document {}: {}", i + 1, e.message)))?;
    let id = given_id(&map).unwrap_or_else(new_id);
    map.insert("id".into(), Value::String(id.clone()));
    Ok((id, Value::Object(map)))
}

/// Every document of `entity`, in creation order.
pub fn export(db: &Db, entity: &str) -> Result<Vec<Value>> {
    check_entity(entity)?;
    let db = backend!(db, pg => pg.run(|c| pg_md::export(c, entity)));
    let mut stmt = db.conn.prepare("SELECT doc FROM documents WHERE entity = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([entity], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?).unwrap_or(Value::Null));
    }
    Ok(out)
}

/// The data entities that hold documents or schemas.
/// How many documents `entity` holds.
pub fn count(db: &Db, entity: &str) -> Result<u64> {
    let db = backend!(db, pg => pg.run(|c| pg_md::count(c, entity)));
    let n: i64 = db.conn.query_row("SELECT count(*) FROM documents WHERE entity = ?1", [entity], |r| r.get(0))?;
    Ok(n as u64)
}

pub fn entities(db: &Db) -> Result<Vec<String>> {
    let db = backend!(db, pg => pg.run(pg_md::entities));
    let mut stmt = db.conn.prepare("SELECT entity FROM documents UNION SELECT entity FROM schemas ORDER BY 1")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{backends, exec, Kind};
    use serde_json::json;

    #[test]
    fn new_ids_are_uuid_v4() {
        let (a, b) = (new_id(), new_id());
        let id = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!((id.get_version_num(), a.len(), a.to_lowercase() == a), (4, 36, true), "{a}");
        assert_ne!(a, b);
    }

    fn q(entity: &str, where_: Option<&str>, schema: Option<&str>) -> Query {
        Query {
            entity: entity.into(),
            fields: vec!["id".into()],
            where_: where_.map(Into::into),
            schema: schema.map(Into::into),
            sort: None,
        }
    }

    fn ids(docs: &[Value]) -> Vec<&str> {
        docs.iter().map(|d| d["id"].as_str().unwrap_or("?")).collect()
    }

    fn put(db: &mut Db, entity: &str, fields: Value) {
        write(db, entity, Write::Replace, None, &fields, None).unwrap();
    }

    /// `people`: p00..p09, ages 20..29, even ones `red`.
    fn people(db: &mut Db) {
        let docs: Vec<Value> = (0..10)
            .map(|i| json!({"id": format!("p{i:02}"), "age": 20 + i, "team": if i % 2 == 0 { "red" } else { "blue" }}))
            .collect();
        assert_eq!(import(db, "people", &docs).unwrap(), 10);
    }

    #[test]
    fn documents_are_created_read_updated_and_deleted() {
        for (_dir, mut db) in backends(Kind::MasterData, "documents_are_created_read_updated_and_deleted") {
            let c = write(&mut db, "CL", Write::Create, None, &json!({"name": "Ann", "age": 31}), None).unwrap();
            let id = c.document_id.clone();
            assert_eq!((c.id, c.href), (format!("CL-{id}"), format!("/api/dataentities/CL/documents/{id}")));
            assert_eq!(get(&db, "CL", &id, &["name".into()]).unwrap(), json!({"name": "Ann"}));
            assert_eq!(get(&db, "CL", &id, &["_all".into()]).unwrap(), json!({"id": id, "name": "Ann", "age": 31}));
            assert_eq!(get(&db, "CL", &id, &["name,nope".into()]).unwrap(), json!({"name": "Ann", "nope": null}));

            let dup = write(&mut db, "CL", Write::Create, None, &json!({"id": id, "name": "dup"}), None).unwrap_err();
            assert_eq!(dup.status, 409, "{}", dup.message);
            write(&mut db, "CL", Write::MergeExisting, Some(&id), &json!({"city": "Rio"}), None).unwrap();
            assert_eq!(get(&db, "CL", &id, &[]).unwrap(), json!({"id": id, "name": "Ann", "age": 31, "city": "Rio"}));
            write(&mut db, "CL", Write::ReplaceExisting, Some(&id), &json!({"name": "Ann B"}), None).unwrap();
            assert_eq!(get(&db, "CL", &id, &[]).unwrap(), json!({"id": id, "name": "Ann B"}));

            for mode in [Write::MergeExisting, Write::ReplaceExisting] {
                let e = write(&mut db, "CL", mode, Some("nope"), &json!({"a": 1}), None).unwrap_err();
                assert_eq!(
                    (e.status, e.message.as_str()),
                    (404, "Master Data: no document `nope` in data entity `CL`")
                );
                assert_eq!(write(&mut db, "CL", mode, None, &json!({"a": 1}), None).unwrap_err().status, 400);
            }
            write(&mut db, "CL", Write::Replace, None, &json!({"id": "u1", "name": "Uma", "age": 20}), None).unwrap();
            write(&mut db, "CL", Write::Merge, None, &json!({"id": "u1", "email": "u@x"}), None).unwrap();
            assert_eq!(
                get(&db, "CL", "u1", &[]).unwrap(),
                json!({"id": "u1", "name": "Uma", "age": 20, "email": "u@x"})
            );

            delete(&mut db, "CL", &id).unwrap();
            assert_eq!(get(&db, "CL", &id, &[]).unwrap_err().status, 404);
            assert_eq!(delete(&mut db, "CL", &id).unwrap_err().status, 404);
            for bad in [json!([1]), json!({"id": 5}), json!({"id": ""})] {
                assert_eq!(write(&mut db, "CL", Write::Create, None, &bad, None).unwrap_err().status, 400, "{bad}");
            }
            assert_eq!(get(&db, "bad entity", "x", &[]).unwrap_err().status, 400);
        }
    }

    #[test]
    fn searches_filter_sort_and_page_with_the_total() {
        for (_dir, mut db) in backends(Kind::MasterData, "searches_filter_sort_and_page_with_the_total") {
            people(&mut db);
            let (found, total) = search(&mut db, &q("people", Some("team=red AND age>23"), None), 1, 100).unwrap();
            assert_eq!((ids(&found), total), (vec!["p04", "p06", "p08"], 3));
            let sorted = Query { sort: Some("age DESC".into()), ..q("people", None, None) };
            let (page, total) = search(&mut db, &sorted, 2, 3).unwrap();
            assert_eq!((ids(&page), total), (vec!["p06", "p05", "p04"], 10));
            let (past, total) = search(&mut db, &sorted, 5, 3).unwrap();
            assert_eq!((past.len(), total), (0, 10), "a page past the end is empty, the total still counts");
            for (page, size) in [(usize::MAX, MAX_PAGE_SIZE), (i64::MAX as usize, 3), (i64::MAX as usize / 3 + 2, 3)] {
                let (far, total) = search(&mut db, &sorted, page, size).unwrap();
                assert_eq!((far.len(), total), (0, 10), "page {page} × {size} overflows: empty, not page 1");
            }
            assert_eq!(search(&mut db, &sorted, 0, 3).unwrap_err().status, 400);
            assert_eq!(search(&mut db, &sorted, 1, MAX_PAGE_SIZE + 1).unwrap_err().status, 400);
            let e = search(&mut db, &q("people", Some("age="), None), 1, 10).unwrap_err();
            assert!(e.status == 400 && e.message.contains("invalid where at column 5"), "{}", e.message);
            let e =
                search(&mut db, &Query { sort: Some("age UP".into()), ..q("people", None, None) }, 1, 10).unwrap_err();
            assert_eq!(e.status, 400);
        }
    }

    #[test]
    fn the_most_complex_where_runs_and_a_more_complex_one_is_a_positioned_400() {
        for (_dir, mut db) in
            backends(Kind::MasterData, "the_most_complex_where_runs_and_a_more_complex_one_is_a_positioned_400")
        {
            people(&mut db);
            let deepest =
                format!("{}age=20{}", "(NOT ".repeat(query::MAX_NESTING / 2), ")".repeat(query::MAX_NESTING / 2));
            let ands =
                (0..query::MAX_CONDITIONS - 1).map(|i| format!("age<>{}", 1000 + i)).collect::<Vec<_>>().join(" AND ");
            let (found, total) =
                search(&mut db, &q("people", Some(&format!("{deepest} OR ({ands})")), None), 1, 100).unwrap();
            assert_eq!((found.len(), total), (10, 10), "SQLite takes the largest `where` the parser lets through");
            let ors = |n: usize| (0..n).map(|i| format!("age={i}")).collect::<Vec<_>>().join(" OR ");
            let e = search(&mut db, &q("people", Some(&ors(5000)), None), 1, 10).unwrap_err();
            assert_eq!(e.status, 400, "{}", e.message);
            let column = ors(query::MAX_CONDITIONS).len() + " OR ".len() + 1;
            let expected = format!("Master Data: invalid where at column {column}: the condition is too complex");
            assert!(e.message.starts_with(&expected), "{}", e.message);
        }
    }

    #[test]
    fn scrolls_page_through_everything_and_unknown_or_expired_tokens_are_refused() {
        for (_dir, mut db) in
            backends(Kind::MasterData, "scrolls_page_through_everything_and_unknown_or_expired_tokens_are_refused")
        {
            people(&mut db);
            let query = q("people", Some("team=red"), None);
            let (token, first) = scroll(&mut db, &query, 2, None).unwrap();
            assert_eq!(ids(&first), ["p00", "p02"]);
            let (same, second) = scroll(&mut db, &query, 2, Some(&token)).unwrap();
            assert_eq!((same.as_str(), ids(&second)), (token.as_str(), vec!["p04", "p06"]));
            assert_eq!(ids(&scroll(&mut db, &query, 2, Some(&token)).unwrap().1), ["p08"]);
            assert!(scroll(&mut db, &query, 2, Some(&token)).unwrap().1.is_empty());
            assert_eq!(scroll(&mut db, &query, 0, None).unwrap_err().status, 400);
            assert_eq!(scroll(&mut db, &query, MAX_SCROLL_SIZE + 1, None).unwrap_err().status, 400);
            assert!(scroll(&mut db, &query, 2, Some("nope")).unwrap_err().message.contains("expired or is unknown"));
            let sql = format!("UPDATE scrolls SET expires_at = {}", now_ms() - 1);
            exec(&db, &sql, &sql);
            assert_eq!(scroll(&mut db, &query, 2, Some(&token)).unwrap_err().status, 400);
        }
    }

    fn rated() -> Value {
        json!({"type": "object", "required": ["rating"], "properties": {"rating": {"type": "integer", "maximum": 5}}})
    }

    #[test]
    fn a_search_under_a_schema_returns_and_counts_only_the_documents_that_match_it() {
        for (_dir, mut db) in
            backends(Kind::MasterData, "a_search_under_a_schema_returns_and_counts_only_the_documents_that_match_it")
        {
            put_schema(&mut db, "reviews", "v1", &rated()).unwrap();
            for i in 0..12 {
                // r00, r03, r06, r09 have no rating; r01, r04, r07, r10 a rating of 9.
                let rating = match i % 3 {
                    0 => Value::Null,
                    1 => json!(9),
                    _ => json!(4),
                };
                let mut doc = json!({"id": format!("r{i:02}"), "text": "ok"});
                if !rating.is_null() {
                    doc["rating"] = rating;
                }
                put(&mut db, "reviews", doc);
            }
            let (page, total) = search(&mut db, &q("reviews", None, Some("v1")), 1, 3).unwrap();
            assert_eq!((ids(&page), total), (vec!["r02", "r05", "r08"], 4));
            let (page, total) = search(&mut db, &q("reviews", None, Some("v1")), 2, 3).unwrap();
            assert_eq!((ids(&page), total), (vec!["r11"], 4));
            let (all, total) = search(&mut db, &q("reviews", None, None), 1, 100).unwrap();
            assert_eq!((all.len(), total), (12, 12), "without a schema, every document");
            let (found, total) = search(&mut db, &q("reviews", Some("id=r0*"), Some("v1")), 1, 100).unwrap();
            assert_eq!((ids(&found), total), (vec!["r02", "r05", "r08"], 3));

            let e = search(&mut db, &q("reviews", None, Some("v9")), 1, 10).unwrap_err();
            assert_eq!((e.status, e.message.as_str()), (404, "Master Data: no schema `v9` in data entity `reviews`"));
            assert_eq!(scroll(&mut db, &q("reviews", None, Some("v9")), 10, None).unwrap_err().status, 404);
            let (_, scrolled) = scroll(&mut db, &q("reviews", None, Some("v1")), 10, None).unwrap();
            assert_eq!(ids(&scrolled), ["r02", "r05", "r08", "r11"]);

            // Writes and deletes move documents in and out; a changed schema re-sorts them all.
            write(&mut db, "reviews", Write::MergeExisting, Some("r00"), &json!({"rating": 3}), None).unwrap();
            write(&mut db, "reviews", Write::MergeExisting, Some("r02"), &json!({"rating": 7}), None).unwrap();
            delete(&mut db, "reviews", "r05").unwrap();
            let under = |db: &mut Db, schema: &str| {
                ids(&search(db, &q("reviews", None, Some(schema)), 1, 100).unwrap().0).join(",")
            };
            assert_eq!(under(&mut db, "v1"), "r00,r08,r11");
            let loose = json!({"type": "object", "properties": {"rating": {"type": "integer", "maximum": 10}}});
            put_schema(&mut db, "reviews", "v1", &loose).unwrap();
            assert_eq!(under(&mut db, "v1"), "r00,r01,r02,r03,r04,r06,r07,r08,r09,r10,r11");
            put_schema(&mut db, "reviews", "v2", &rated()).unwrap();
            assert_eq!(under(&mut db, "v2"), "r00,r08,r11", "each schema has its own documents");
            put_schema(&mut db, "other", "v1", &rated()).unwrap();
            assert_eq!(search(&mut db, &q("other", None, Some("v1")), 1, 10).unwrap().1, 0, "and each entity");
        }
    }

    #[test]
    fn writes_under_a_schema_must_match_it() {
        for (_dir, mut db) in backends(Kind::MasterData, "writes_under_a_schema_must_match_it") {
            let e = write(&mut db, "reviews", Write::Create, None, &json!({"rating": 1}), Some("v1")).unwrap_err();
            assert_eq!((e.status, e.message.as_str()), (404, "Master Data: no schema `v1` in data entity `reviews`"));
            put_schema(&mut db, "reviews", "v1", &rated()).unwrap();
            let e = write(&mut db, "reviews", Write::Create, None, &json!({"rating": 9}), Some("v1")).unwrap_err();
            assert!(e.status == 400 && e.message.contains("/rating: "), "{}", e.message);
            write(&mut db, "reviews", Write::Create, Some("ok"), &json!({"rating": 2}), Some("v1")).unwrap();
            assert_eq!(get_schema(&db, "reviews", "v1").unwrap(), Some(rated()));
            assert_eq!(get_schema(&db, "reviews", "v2").unwrap(), None, "a missing schema is no error");
            assert_eq!(get_schema(&db, "bad entity", "v1").unwrap_err().status, 400);
            for bad in [json!({"type": 5}), json!({"v-default-fields": "id"}), json!({"v-indexed": [1]})] {
                assert_eq!(put_schema(&mut db, "reviews", "bad", &bad).unwrap_err().status, 400, "{bad}");
            }
            assert_eq!(put_schema(&mut db, "reviews", "", &rated()).unwrap_err().status, 400);
        }
    }

    #[test]
    fn a_search_under_a_schema_with_no_fields_returns_its_v_default_fields() {
        for (_dir, mut db) in
            backends(Kind::MasterData, "a_search_under_a_schema_with_no_fields_returns_its_v_default_fields")
        {
            let body = json!({"type": "object", "v-default-fields": ["id", "name"]});
            put_schema(&mut db, "CL", "v1", &body).unwrap();
            put(&mut db, "CL", json!({"id": "a", "name": "Ann", "age": 31}));
            let none = Query { fields: vec![], ..q("CL", None, Some("v1")) };
            assert_eq!(search(&mut db, &none, 1, 10).unwrap().0, [json!({"id": "a", "name": "Ann"})]);
            let named = Query { fields: vec!["age".into()], ..none.clone() };
            assert_eq!(search(&mut db, &named, 1, 10).unwrap().0, [json!({"age": 31})]);
            let all = Query { fields: vec!["_all".into()], ..none.clone() };
            assert_eq!(search(&mut db, &all, 1, 10).unwrap().0, [json!({"id": "a", "name": "Ann", "age": 31})]);
            let (_, scrolled) = scroll(&mut db, &none, 10, None).unwrap();
            assert_eq!(scrolled, [json!({"id": "a", "name": "Ann"})]);
            let unscoped = Query { schema: None, ..none };
            assert_eq!(search(&mut db, &unscoped, 1, 10).unwrap().0, [json!({"id": "a", "name": "Ann", "age": 31})]);
        }
    }

    #[test]
    fn a_file_from_before_schema_members_gets_them_filled_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("masterdata.sqlite");
        {
            let mut db = Db::Sqlite(Sqlite::open(&path, Kind::MasterData).unwrap());
            put_schema(&mut db, "reviews", "v1", &rated()).unwrap();
            put(&mut db, "reviews", json!({"id": "good", "rating": 1}));
            put(&mut db, "reviews", json!({"id": "bad"}));
            exec(&db, "DROP TABLE schema_members", "");
        }
        let mut db = Db::Sqlite(Sqlite::open(&path, Kind::MasterData).unwrap());
        let (found, total) = search(&mut db, &q("reviews", None, Some("v1")), 1, 10).unwrap();
        assert_eq!((ids(&found), total), (vec!["good"], 1));
    }

    /// Both backends give the same ids, in the same order, for the same `where` and `sort`
    /// over documents whose fields mix numbers, text, booleans, nulls and absences.
    #[test]
    fn both_backends_answer_the_same_searches() {
        let docs: Vec<Value> = vec![
            json!({"id": "n1", "v": 1, "s": "apple", "o": {"k": 2}}),
            json!({"id": "n2", "v": 2.5, "s": "Banana"}),
            json!({"id": "n3", "v": 10, "s": "cherry", "o": {"k": 11}}),
            json!({"id": "t1", "v": "10", "s": "apple pie"}),
            json!({"id": "t2", "v": "abc", "s": "a_b%c"}),
            json!({"id": "b1", "v": true, "s": "true"}),
            json!({"id": "b0", "v": false}),
            json!({"id": "z0", "v": null, "s": null}),
            json!({"id": "m0"}),
        ];
        let wheres = [
            "v=10",
            "v=1",
            "v=true",
            "v=false",
            "v='10'",
            "v<>10",
            "v>2",
            "v<2",
            "v>'a'",
            "v<'b'",
            "v between 1 and 10",
            "v is null",
            "v is not null",
            "s=apple*",
            "s=*A*",
            "s='a_b%c'",
            "s=*_*",
            "not v>2",
            "(v=1 OR v=2.5) AND s is not null",
            "o.k>5",
            "o.k is null",
            "v=10 OR s=cherry",
        ];
        let sorts = [None, Some("v ASC"), Some("v DESC"), Some("s ASC, v DESC"), Some("o.k DESC")];
        let mut answers: Vec<Vec<String>> = Vec::new();
        for (_dir, mut db) in backends(Kind::MasterData, "both_backends_answer_the_same_searches") {
            import(&mut db, "mix", &docs).unwrap();
            let mut seen = Vec::new();
            for w in wheres {
                for sort in sorts {
                    let q = Query { sort: sort.map(Into::into), ..q("mix", Some(w), None) };
                    let (found, total) = search(&mut db, &q, 1, 100).unwrap();
                    seen.push(format!("{w} / {sort:?}: {total} {:?}", ids(&found)));
                }
            }
            answers.push(seen);
        }
        if let [sqlite, postgres] = &answers[..] {
            for (a, b) in sqlite.iter().zip(postgres) {
                assert_eq!(a, b, "SQLite, then PostgreSQL");
            }
        }
    }
}
