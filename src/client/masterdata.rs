//! `ioctl masterdata search | import | export ENTITY`: an account's Master Data documents.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Value};

use crate::protocol::Scope;
use crate::store::lock;
use crate::store::masterdata::{self, Query};

pub struct Search {
    pub entity: String,
    pub where_: Option<String>,
    pub fields: Option<String>,
    pub sort: Option<String>,
    pub schema: Option<String>,
    pub page: usize,
    pub page_size: usize,
    pub json: bool,
}

pub fn search(scope: &Scope, s: &Search) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.masterdata()?;
    let q = Query {
        entity: s.entity.clone(),
        fields: s.fields.iter().cloned().collect(),
        where_: s.where_.clone(),
        sort: s.sort.clone(),
        schema: s.schema.clone(),
    };
    let (data, total) = match masterdata::search(&mut lock(&db), &q, s.page, s.page_size) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {}", e.message);
            return Ok(ExitCode::from(1));
        }
    };
    if s.json {
        println!("{}", json!({"data": data, "total": total, "page": s.page, "pageSize": s.page_size}));
    } else {
        for doc in &data {
            println!("{doc}");
        }
        // A page is non-empty only when page × pageSize fits; saturating keeps it from overflowing.
        let first = (s.page - 1).saturating_mul(s.page_size);
        let shown = if data.is_empty() { "none".to_string() } else { format!("{}-{}", first + 1, first + data.len()) };
        eprintln!("{shown} of {total} documents in {} of account {}", s.entity, scope.account);
    }
    Ok(ExitCode::SUCCESS)
}

/// Documents from a JSON array, or one JSON object per line (NDJSON).
pub fn read_documents(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = crate::files::read_to_string(path, crate::files::MAX_FILE)?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of documents", path.display()));
    }
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        docs.push(
            serde_json::from_str(line).with_context(|| format!("{}:{}: not a JSON document", path.display(), i + 1))?,
        );
    }
    Ok(docs)
}

pub fn import(scope: &Scope, entity: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let docs = read_documents(file)?;
    let store = super::local_store(scope)?;
    let db = store.masterdata()?;
    let started = std::time::Instant::now();
    let n = masterdata::import(&mut lock(&db), entity, &docs).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!(
        "imported {n} documents into {entity} of account {} in {} ms",
        scope.account,
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export(scope: &Scope, entity: &str) -> anyhow::Result<ExitCode> {
    let store = super::local_store(scope)?;
    let db = store.masterdata()?;
    let docs = masterdata::export(&lock(&db), entity).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    println!("{}", serde_json::to_string_pretty(&docs)?);
    Ok(ExitCode::SUCCESS)
}
