//! Master Data of one account on PostgreSQL: documents as JSONB rows, the schemas and which
//! documents match them, scrolls. The checks, ids, messages and merge rules are `masterdata`'s
//! own; what differs is the SQL (`where_sql`) and how writers on several machines are
//! ordered: a document's row lock (`FOR UPDATE`) or its primary key (a second create of an id
//! is a 409, whichever machine made the first).

use postgres::GenericClient;
use serde_json::Value;

use super::where_sql::{self, bind, Params};
use super::Conn;
use crate::store::masterdata::{self as md, query, Created, Query, Write};
use crate::store::schema::{Compiled, Invalid};
use crate::store::{now_ms, Result, StoreError};

/// The schemas of an entity, compiled (a body that does not compile matches no document).
type EntitySchemas = Vec<(String, std::result::Result<Compiled, Invalid>)>;

fn entity_schemas(c: &mut impl GenericClient, account: &str, entity: &str) -> Result<EntitySchemas> {
    let rows = c.query(
        "SELECT name, body FROM md_schemas WHERE account = $1 AND entity = $2 ORDER BY name COLLATE \"C\"",
        &[&account, &entity],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            let compiled = serde_json::from_str::<Value>(r.get(1))
                .map_err(|e| Invalid::Schema(format!("stored body is not JSON: {e}")))
                .and_then(|body| Compiled::new(&body));
            (r.get::<_, String>(0), compiled)
        })
        .collect())
}

fn set_members(
    c: &mut impl GenericClient,
    account: &str,
    entity: &str,
    id: &str,
    doc: &Value,
    schemas: &EntitySchemas,
) -> Result<()> {
    c.execute("DELETE FROM schema_members WHERE account = $1 AND entity = $2 AND id = $3", &[&account, &entity, &id])?;
    for (name, compiled) in schemas {
        if compiled.as_ref().is_ok_and(|c| c.accepts(doc)) {
            c.execute(
                "INSERT INTO schema_members (account, entity, id, schema) VALUES ($1, $2, $3, $4)",
                &[&account, &entity, &id, name],
            )?;
        }
    }
    Ok(())
}

pub fn write(
    c: &mut Conn,
    entity: &str,
    mode: Write,
    id: String,
    given: serde_json::Map<String, Value>,
    schema: Option<&str>,
) -> Result<Created> {
    let account = c.account.clone();
    let mut tx = c.client.transaction()?;
    let row = tx.query_opt(
        "SELECT doc FROM documents WHERE account = $1 AND entity = $2 AND id = $3 FOR UPDATE",
        &[&account, &entity, &id],
    )?;
    let current = row.and_then(|r| r.get::<_, Value>(0).as_object().cloned());
    let exists = current.is_some();
    let mut doc = md::merged(entity, &id, mode, current, given)?;
    doc.insert("id".into(), Value::String(id.clone()));
    let value = Value::Object(doc);
    let schemas = entity_schemas(&mut tx, &account, entity)?;
    if let Some(name) = schema {
        md::check_schema(entity, name, &schemas, &value)?;
    }
    let now = now_ms();
    if exists {
        tx.execute(
            "UPDATE documents SET doc = $4, schema = coalesce($5, schema), updated_at = $6 \
             WHERE account = $1 AND entity = $2 AND id = $3",
            &[&account, &entity, &id, &value, &schema, &now],
        )?;
    } else {
        // Another machine may have created this id since the read: the key decides, and a
        // create that lost is the 409 it would have been a moment later.
        let n = tx.execute(
            "INSERT INTO documents (account, entity, id, doc, schema, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (account, entity, id) DO NOTHING",
            &[&account, &entity, &id, &value, &schema, &now],
        )?;
        if n == 0 {
            return Err(md::exists(entity, &id));
        }
    }
    set_members(&mut tx, &account, entity, &id, &value, &schemas)?;
    tx.commit()?;
    Ok(md::created(entity, &id))
}

pub fn get(c: &mut Conn, entity: &str, id: &str, fields: &Option<Vec<String>>) -> Result<Value> {
    let row = c.client.query_opt(
        "SELECT doc FROM documents WHERE account = $1 AND entity = $2 AND id = $3",
        &[&c.account, &entity, &id],
    )?;
    match row {
        Some(r) => Ok(md::project_value(r.get(0), fields)),
        None => Err(md::not_found(entity, id)),
    }
}

pub fn delete(c: &mut Conn, entity: &str, id: &str) -> Result<()> {
    let account = c.account.clone();
    let mut tx = c.client.transaction()?;
    if tx.execute("DELETE FROM documents WHERE account = $1 AND entity = $2 AND id = $3", &[&account, &entity, &id])?
        == 0
    {
        return Err(md::not_found(entity, id));
    }
    tx.execute("DELETE FROM schema_members WHERE account = $1 AND entity = $2 AND id = $3", &[&account, &entity, &id])?;
    tx.commit()?;
    Ok(())
}

/// A query's condition (after `FROM documents WHERE`), its values, order and fields.
struct Plan {
    cond: String,
    params: Params,
    order: String,
    fields: Option<Vec<String>>,
}

fn plan(c: &mut Conn, q: &Query) -> Result<Plan> {
    md::check_entity(&q.entity)?;
    let mut params = Params::new();
    let mut cond = format!(
        "account = {} AND entity = {}",
        bind(&mut params, c.account.clone()),
        bind(&mut params, q.entity.clone())
    );
    let schema = match q.schema.as_deref() {
        Some(name) => {
            let body = stored_schema(&mut c.client, &c.account, &q.entity, name)?
                .ok_or_else(|| md::no_schema(&q.entity, name))?;
            let p = bind(&mut params, name.to_string());
            cond.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM schema_members m WHERE m.account = documents.account \
                 AND m.entity = documents.entity AND m.id = documents.id AND m.schema = {p})"
            ));
            Some(body)
        }
        None => None,
    };
    let fields = md::search_fields(&q.fields, schema.as_ref())?;
    let source = q.where_.as_deref().unwrap_or("");
    let expr =
        query::parse(source).map_err(|e| StoreError::bad_request(format!("Master Data: {}", e.render(source))))?;
    if let Some(expr) = expr {
        let mut read = Vec::new();
        query::fields(&expr, &mut read);
        for f in read {
            ensure_index(c, &f)?;
        }
        cond.push_str(" AND ");
        cond.push_str(&where_sql::condition(&expr, &mut params));
    }
    let order = where_sql::order(&md::sort_items(q.sort.as_deref())?);
    Ok(Plan { cond, params, order, fields })
}

/// An expression index on the field (`account, entity, value`), made once per database: a
/// `where` on it, or a schema's `v-indexed` field, then reads only the matching rows. Two
/// machines making it at once: the loser's error is that it exists, which is the goal.
fn ensure_index(c: &mut Conn, field: &str) -> Result<()> {
    if c.indexed.contains(field) || !query::valid_field(field) {
        return Ok(());
    }
    let name = format!("documents_by_{}", field.replace(['.', '-'], "_"));
    let name = format!("{}_{}", &name[..name.len().min(40)], &crate::store::vbase::hash(field.as_bytes())[..8]);
    let sql =
        format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON documents (account, entity, ({}))", where_sql::field(field));
    if let Err(e) = c.client.batch_execute(&sql) {
        let raced = e.code().is_some_and(|code| {
            *code == postgres::error::SqlState::UNIQUE_VIOLATION || *code == postgres::error::SqlState::DUPLICATE_TABLE
        });
        if !raced {
            return Err(e.into());
        }
    }
    c.indexed.insert(field.to_string());
    Ok(())
}

fn refs(params: &Params) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn postgres::types::ToSql + Sync)).collect()
}

fn page(c: &mut Conn, plan: &mut Plan, limit: usize, offset: i64) -> Result<Vec<Value>> {
    let l = bind(&mut plan.params, limit as i64);
    let o = bind(&mut plan.params, offset);
    let sql = format!("SELECT doc FROM documents WHERE {} ORDER BY {} LIMIT {l} OFFSET {o}", plan.cond, plan.order);
    let rows = c.client.query(&sql, &refs(&plan.params))?;
    Ok(rows.iter().map(|r| md::project_value(r.get(0), &plan.fields)).collect())
}

pub fn search_range(c: &mut Conn, q: &Query, offset: usize, limit: usize) -> Result<(Vec<Value>, u64)> {
    let mut plan = plan(c, q)?;
    let total: i64 =
        c.client.query_one(&format!("SELECT count(*) FROM documents WHERE {}", plan.cond), &refs(&plan.params))?.get(0);
    let Ok(offset) = i64::try_from(offset) else { return Ok((Vec::new(), total as u64)) };
    Ok((page(c, &mut plan, limit, offset)?, total as u64))
}

pub fn scroll(c: &mut Conn, q: &Query, size: usize, token: Option<&str>) -> Result<(String, Vec<Value>)> {
    let now = now_ms();
    let account = c.account.clone();
    c.client.execute("DELETE FROM scrolls WHERE account = $1 AND expires_at <= $2", &[&account, &now])?;
    let (token, scroll, position) = match token {
        Some(t) => {
            let row = c
                .client
                .query_opt("SELECT query, position FROM scrolls WHERE account = $1 AND token = $2", &[&account, &t])?;
            let Some(row) = row else { return Err(md::scroll_expired(t)) };
            let scroll: md::Scroll =
                serde_json::from_str(row.get(0)).map_err(|e| StoreError::new(500, e.to_string()))?;
            (t.to_string(), scroll, row.get::<_, i64>(1) as usize)
        }
        None => (md::new_id().replace('-', ""), md::Scroll::start(q, size)?, 0),
    };
    let mut plan = plan(c, &scroll.query)?;
    let data = page(c, &mut plan, scroll.size, position as i64)?;
    let text = serde_json::to_string(&scroll).map_err(|e| StoreError::new(500, e.to_string()))?;
    c.client.execute(
        "INSERT INTO scrolls (account, token, query, position, expires_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account, token) DO UPDATE SET position = excluded.position, expires_at = excluded.expires_at",
        &[&account, &token, &text, &((position + data.len()) as i64), &(now + md::scroll_ttl_ms())],
    )?;
    Ok((token, data))
}

fn stored_schema(c: &mut impl GenericClient, account: &str, entity: &str, name: &str) -> Result<Option<Value>> {
    let row = c.query_opt(
        "SELECT body FROM md_schemas WHERE account = $1 AND entity = $2 AND name = $3",
        &[&account, &entity, &name],
    )?;
    Ok(row.and_then(|r| serde_json::from_str(r.get(0)).ok()))
}

pub fn get_schema(c: &mut Conn, entity: &str, name: &str) -> Result<Option<Value>> {
    stored_schema(&mut c.client, &c.account, entity, name)
}

pub fn put_schema(c: &mut Conn, entity: &str, name: &str, body: &Value) -> Result<()> {
    let account = c.account.clone();
    let mut tx = c.client.transaction()?;
    put_schema_in(&mut tx, &account, entity, name, body)?;
    tx.commit()?;
    index_schema_fields(c, body)
}

pub fn index_schema_fields(c: &mut Conn, body: &Value) -> Result<()> {
    for field in body.get("v-indexed").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        ensure_index(c, field)?;
    }
    Ok(())
}

/// Saves a schema and records anew which documents of the entity match it, in the caller's
/// transaction (the entity's documents are read in pages, not all at once).
pub(crate) fn put_schema_in(
    tx: &mut impl GenericClient,
    account: &str,
    entity: &str,
    name: &str,
    body: &Value,
) -> Result<()> {
    let compiled = md::checked_schema(entity, name, body)?;
    tx.execute(
        "INSERT INTO md_schemas (account, entity, name, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account, entity, name) DO UPDATE SET body = excluded.body",
        &[&account, &entity, &name, &body.to_string()],
    )?;
    tx.execute(
        "DELETE FROM schema_members WHERE account = $1 AND entity = $2 AND schema = $3",
        &[&account, &entity, &name],
    )?;
    let mut after = String::new();
    loop {
        let rows = tx.query(
            "SELECT id, doc FROM documents WHERE account = $1 AND entity = $2 AND id > $3 ORDER BY id LIMIT 1000",
            &[&account, &entity, &after],
        )?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        let members: Vec<String> =
            rows.iter().filter(|r| compiled.accepts(&r.get::<_, Value>(1))).map(|r| r.get(0)).collect();
        tx.execute(
            "INSERT INTO schema_members (account, entity, id, schema) SELECT $1, $2, unnest($3::text[]), $4",
            &[&account, &entity, &members, &name],
        )?;
    }
    Ok(())
}

pub fn schemas(c: &mut Conn) -> Result<Vec<(String, String, Value)>> {
    let rows = c.client.query(
        "SELECT entity, name, body FROM md_schemas WHERE account = $1 ORDER BY entity COLLATE \"C\", name COLLATE \"C\"",
        &[&c.account],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1), serde_json::from_str(r.get(2)).unwrap_or(Value::Null))).collect())
}

pub fn import(c: &mut Conn, entity: &str, docs: &[Value]) -> Result<usize> {
    let account = c.account.clone();
    let mut tx = c.client.transaction()?;
    let n = import_in(&mut tx, &account, entity, docs)?;
    tx.commit()?;
    Ok(n)
}

/// Saves many documents in the caller's transaction, a thousand rows per statement (each
/// created, or replaced when its id exists).
pub(crate) fn import_in(tx: &mut impl GenericClient, account: &str, entity: &str, docs: &[Value]) -> Result<usize> {
    md::check_entity(entity)?;
    let now = now_ms();
    let schemas = entity_schemas(tx, account, entity)?;
    let mut prepared = Vec::with_capacity(docs.len());
    for (i, doc) in docs.iter().enumerate() {
        prepared.push(md::import_doc(i, doc)?);
    }
    for chunk in prepared.chunks(1000) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let bodies: Vec<&Value> = chunk.iter().map(|(_, d)| d).collect();
        tx.execute(
            "INSERT INTO documents (account, entity, id, doc, created_at, updated_at) \
             SELECT $1, $2, id, doc, $5, $5 FROM unnest($3::text[], $4::jsonb[]) AS t (id, doc) \
             ON CONFLICT (account, entity, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
            &[&account, &entity, &ids, &bodies, &now],
        )?;
        if !schemas.is_empty() {
            tx.execute(
                "DELETE FROM schema_members WHERE account = $1 AND entity = $2 AND id = ANY($3)",
                &[&account, &entity, &ids],
            )?;
            for (name, compiled) in &schemas {
                let Ok(compiled) = compiled else { continue };
                let members: Vec<&str> =
                    chunk.iter().filter(|(_, d)| compiled.accepts(d)).map(|(id, _)| id.as_str()).collect();
                tx.execute(
                    "INSERT INTO schema_members (account, entity, id, schema) SELECT $1, $2, unnest($3::text[]), $4",
                    &[&account, &entity, &members, name],
                )?;
            }
        }
    }
    Ok(docs.len())
}

pub fn export(c: &mut Conn, entity: &str) -> Result<Vec<Value>> {
    let rows = c
        .client
        .query("SELECT doc FROM documents WHERE account = $1 AND entity = $2 ORDER BY seq", &[&c.account, &entity])?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub fn count(c: &mut Conn, entity: &str) -> Result<u64> {
    let n: i64 = c
        .client
        .query_one("SELECT count(*) FROM documents WHERE account = $1 AND entity = $2", &[&c.account, &entity])?
        .get(0);
    Ok(n as u64)
}

pub fn entities(c: &mut Conn) -> Result<Vec<String>> {
    let rows = c.client.query(
        "SELECT DISTINCT entity FROM documents WHERE account = $1 UNION SELECT entity FROM md_schemas \
         WHERE account = $1 ORDER BY 1",
        &[&c.account],
    )?;
    let mut out: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    out.sort();
    Ok(out)
}

/// Clears the account's Master Data in the caller's transaction.
pub(crate) fn clear_in(tx: &mut impl GenericClient, account: &str) -> Result<()> {
    for table in ["documents", "md_schemas", "schema_members", "scrolls"] {
        tx.execute(&format!("DELETE FROM {table} WHERE account = $1"), &[&account])?;
    }
    Ok(())
}
