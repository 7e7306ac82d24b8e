//! Master Data v2 of one account: JSON documents in data entities, with generated ids,
//! whole and partial updates, searches (`where`, `fields`, `sort`, pages of at most 100),
//! scrolls with expiring tokens, and JSON Schemas that documents saved under them must match.
//! A field a `where` reads gets an expression index the first time, so an equality search
//! over 100,000 documents reads a handful of rows, not all of them.

pub mod query;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{now_ms, Db, Result, StoreError};

/// Largest `pageSize` of a search, as on VTEX.
pub const MAX_PAGE_SIZE: usize = 100;
/// Largest `size` of a scroll page, as on VTEX.
pub const MAX_SCROLL_SIZE: usize = 1000;
/// How long a scroll token lives after its last use, unless `IOCTL_MASTERDATA_SCROLL_TTL`
/// (seconds) says otherwise.
const SCROLL_TTL_MS: i64 = 20 * 60 * 1000;

fn scroll_ttl_ms() -> i64 {
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

fn created(entity: &str, id: &str) -> Created {
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

fn not_found(entity: &str, id: &str) -> StoreError {
    StoreError::not_found(format!("Master Data: no document `{id}` in data entity `{entity}`"))
}

/// A fresh document id (a UUID-shaped random hex string).
pub fn new_id() -> String {
    let (a, b) = (crate::random::next_u64(), crate::random::next_u64());
    let hex = format!("{a:016x}{b:016x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
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

fn check_schema(tx: &rusqlite::Connection, entity: &str, schema: Option<&str>, doc: &Map<String, Value>) -> Result<()> {
    let Some(name) = schema else { return Ok(()) };
    let body = schema_body(tx, entity, name)?;
    let doc = Value::Object(doc.clone());
    super::schema::validate(&body, &doc).map_err(|e| {
        StoreError::bad_request(format!("Master Data: the document does not match schema `{name}` of `{entity}`: {e}"))
    })
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
    check_schema(tx, entity, schema, doc)?;
    let text = Value::Object(doc.clone()).to_string();
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
    Ok(())
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
    let mut given = object(fields)?;
    let id = id.map(str::to_string).or_else(|| given_id(&given));
    if matches!(mode, Write::ReplaceExisting | Write::MergeExisting) && id.is_none() {
        return Err(StoreError::bad_request("Master Data: an update needs the document's id"));
    }
    let id = id.unwrap_or_else(new_id);
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = load(&tx, entity, &id)?;
    let exists = current.is_some();
    let mut doc = match (mode, current) {
        (Write::Create, Some(_)) => {
            return Err(StoreError::conflict(format!(
                "Master Data: document `{id}` exists in `{entity}` (createOrUpdate… replaces or merges)"
            )))
        }
        (Write::ReplaceExisting | Write::MergeExisting, None) => return Err(not_found(entity, &id)),
        (Write::Merge | Write::MergeExisting, Some(mut doc)) => {
            doc.append(&mut given);
            doc
        }
        _ => given,
    };
    store(&tx, entity, &id, &mut doc, schema, exists)?;
    tx.commit()?;
    Ok(created(entity, &id))
}

/// The fields a read returns: `None` for all (`_all`, or none named).
pub fn field_list(fields: &[String]) -> Result<Option<Vec<String>>> {
    let names: Vec<String> =
        fields.iter().flat_map(|f| f.split(',')).map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
    if names.is_empty() || names.iter().any(|f| f == "_all") {
        return Ok(None);
    }
    if let Some(bad) = names.iter().find(|f| !query::valid_field(f)) {
        return Err(StoreError::bad_request(format!("Master Data: `{bad}` is not a field name")));
    }
    Ok(Some(names))
}

fn project(doc: &str, fields: &Option<Vec<String>>) -> Value {
    let value: Value = serde_json::from_str(doc).unwrap_or(Value::Null);
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
    let text: Option<String> = db
        .conn
        .query_row("SELECT doc FROM documents WHERE entity = ?1 AND id = ?2", params![entity, id], |r| r.get(0))
        .optional()?;
    match text {
        Some(t) => Ok(project(&t, &fields)),
        None => Err(not_found(entity, id)),
    }
}

pub fn delete(db: &Db, entity: &str, id: &str) -> Result<()> {
    check_entity(entity)?;
    match db.conn.execute("DELETE FROM documents WHERE entity = ?1 AND id = ?2", params![entity, id])? {
        0 => Err(not_found(entity, id)),
        _ => Ok(()),
    }
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
}

/// SQL (after `FROM documents`) and parameters for a query, indexing the fields it reads.
fn plan(db: &mut Db, q: &Query) -> Result<(String, Vec<SqlValue>, String)> {
    check_entity(&q.entity)?;
    let mut params = vec![SqlValue::Text(q.entity.clone())];
    let mut cond = String::from("entity = ?");
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
    Ok((cond, params, order_by(q.sort.as_deref())?))
}

fn order_by(sort: Option<&str>) -> Result<String> {
    let mut parts = Vec::new();
    for item in sort.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut words = item.split_whitespace();
        let field = words.next().unwrap_or("");
        let dir = match words.next().map(|d| d.to_ascii_lowercase()).as_deref() {
            None | Some("asc") => "ASC",
            Some("desc") => "DESC",
            Some(d) => {
                return Err(StoreError::bad_request(format!("Master Data: sort `{item}`: `{d}` is not ASC or DESC")))
            }
        };
        if !query::valid_field(field) || words.next().is_some() {
            return Err(StoreError::bad_request(format!("Master Data: sort `{item}` is not `field ASC|DESC`")));
        }
        parts.push(format!("{} {dir}", query::field_sql(field)));
    }
    parts.push("seq ASC".into());
    Ok(parts.join(", "))
}

/// An expression index for `field` (once per file): equality and range searches on it then
/// read only the matching rows.
fn ensure_index(db: &mut Db, field: &str) -> Result<()> {
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
    let fields = field_list(&q.fields)?;
    let (cond, mut params, order) = plan(db, q)?;
    let total: i64 = db.conn.query_row(
        &format!("SELECT count(*) FROM documents WHERE {cond}"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?;
    params.push(SqlValue::Integer(page_size as i64));
    params.push(SqlValue::Integer(((page - 1) * page_size) as i64));
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
struct Scroll {
    query: Query,
    size: usize,
}

/// One page of a scroll: the first call (no token) starts one; each token lives
/// `IOCTL_MASTERDATA_SCROLL_TTL` seconds (20 minutes) after its last use.
pub fn scroll(db: &mut Db, q: &Query, size: usize, token: Option<&str>) -> Result<(String, Vec<Value>)> {
    let now = now_ms();
    db.conn.execute("DELETE FROM scrolls WHERE expires_at <= ?1", [now])?;
    let (token, scroll, position) = match token {
        Some(t) => {
            let row: Option<(String, i64)> = db
                .conn
                .query_row("SELECT query, position FROM scrolls WHERE token = ?1", [t], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((text, position)) = row else {
                return Err(StoreError::bad_request(format!(
                    "Master Data: the mdToken `{t}` has expired or is unknown: start a new scroll without it"
                )));
            };
            let scroll: Scroll = serde_json::from_str(&text).map_err(|e| StoreError::new(500, e.to_string()))?;
            (t.to_string(), scroll, position as usize)
        }
        None => {
            if size == 0 || size > MAX_SCROLL_SIZE {
                return Err(StoreError::bad_request(format!(
                    "Master Data: scroll size must be from 1 to {MAX_SCROLL_SIZE}, not {size}"
                )));
            }
            (new_id().replace('-', ""), Scroll { query: q.clone(), size }, 0)
        }
    };
    let fields = field_list(&scroll.query.fields)?;
    let (cond, mut params, order) = plan(db, &scroll.query)?;
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

fn schema_body(conn: &rusqlite::Connection, entity: &str, name: &str) -> Result<Value> {
    let text: Option<String> = conn
        .query_row("SELECT body FROM schemas WHERE entity = ?1 AND name = ?2", params![entity, name], |r| r.get(0))
        .optional()?;
    text.and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| StoreError::not_found(format!("Master Data: no schema `{name}` in data entity `{entity}`")))
}

pub fn get_schema(db: &Db, entity: &str, name: &str) -> Result<Value> {
    check_entity(entity)?;
    schema_body(&db.conn, entity, name)
}

/// Saves a schema (a JSON Schema; its `v-indexed` fields get an index).
pub fn put_schema(db: &mut Db, entity: &str, name: &str, body: &Value) -> Result<()> {
    check_entity(entity)?;
    if name.is_empty() {
        return Err(StoreError::bad_request("Master Data: a schema needs a name"));
    }
    if let Err(e @ super::schema::Invalid::Schema(_)) = super::schema::validate(body, &Value::Object(Map::new())) {
        return Err(StoreError::bad_request(format!("Master Data: schema `{name}`: {e}")));
    }
    db.conn.execute(
        "INSERT INTO schemas (entity, name, body) VALUES (?1, ?2, ?3) ON CONFLICT (entity, name) DO UPDATE SET body = excluded.body",
        params![entity, name, body.to_string()],
    )?;
    for field in body.get("v-indexed").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        ensure_index(db, field)?;
    }
    Ok(())
}

/// Every schema: (entity, name, body).
pub fn schemas(db: &Db) -> Result<Vec<(String, String, Value)>> {
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
    let now = now_ms();
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO documents (entity, id, doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
             ON CONFLICT (entity, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        )?;
        for (i, doc) in docs.iter().enumerate() {
            let mut map =
                object(doc).map_err(|e| StoreError::bad_request(format!("document {}: {}", i + 1, e.message)))?;
            let id = given_id(&map).unwrap_or_else(new_id);
            map.insert("id".into(), Value::String(id.clone()));
            insert.execute(params![entity, id, Value::Object(map).to_string(), now])?;
        }
    }
    tx.commit()?;
    Ok(docs.len())
}

/// Every document of `entity`, in creation order.
pub fn export(db: &Db, entity: &str) -> Result<Vec<Value>> {
    check_entity(entity)?;
    let mut stmt = db.conn.prepare("SELECT doc FROM documents WHERE entity = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([entity], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?).unwrap_or(Value::Null));
    }
    Ok(out)
}

/// The data entities that hold documents or schemas.
pub fn entities(db: &Db) -> Result<Vec<String>> {
    let mut stmt = db.conn.prepare("SELECT entity FROM documents UNION SELECT entity FROM schemas ORDER BY 1")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
