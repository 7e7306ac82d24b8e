//! Master Data v2 by URL, on the same store `ctx.clients.masterdata` uses (store/masterdata),
//! so a document an app saved through its client is found by its own axios, and the other way
//! round. The URLs VTEX answers it on, and so this does (for the app's own account only):
//! `https://api.vtex.com/{account}/dataentities/{E}/...`, `http://api.vtex.com/api/dataentities/{E}/...?an={account}`
//! (@vtex/api's MasterData client), and `/api/dataentities/{E}/...` on
//! `{account}.vtexcommercestable.com.br`, `{account}.myvtex.com` and the portal (`an`):
//! - `GET documents/{id}?_fields=a,b` → the document (404 when missing);
//! - `POST documents[?_schema=S]` → 201 `{Id, Href, DocumentId}` (a new document);
//!   `PUT documents` / `PATCH documents` (the body's `id`) → 200, created or replaced / merged;
//! - `PUT documents/{id}` / `PATCH documents/{id}` → 204, replaced / merged (404 when missing);
//!   `DELETE documents/{id}` → 204;
//! - `GET search?_where=&_fields=&_sort=&_schema=` plus `field=value` filters, the page in
//!   `REST-Range: resources=FROM-TO` (TO excluded, at most 100; without it the first 100) →
//!   the documents, with `REST-Content-Range: resources FROM-TO/TOTAL`;
//! - `GET scroll?_size=&_token=` (and the search's parameters) → a page, the token in
//!   `X-VTEX-MD-TOKEN`;
//! - `GET schemas/{name}` → the schema (an empty 200 when there is none, which apps' own
//!   `if (!schema)` relies on); `PUT schemas/{name}` → 204.
//!   `_keyword` (full-text search) is not emulated: a 400 says so.

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::{json_answer, on_account_api, with_headers, Call};
use crate::runtime::outbound::Answer;
use crate::session::boundary::target::Host;
use crate::store::masterdata::{self, Query, Write, MAX_PAGE_SIZE};
use crate::store::{lock, Store, StoreError};

/// What the path asks of a data entity.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resource {
    Documents,
    Document(String),
    Search,
    Scroll,
    Schema(String),
}

/// A Master Data call, owned (it runs on a blocking thread).
#[derive(Debug)]
pub struct Request {
    method: String,
    entity: String,
    resource: Resource,
    query: Vec<(String, String)>,
    range: Option<String>,
    body: Option<Vec<u8>>,
}

fn decoded(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

impl Request {
    /// The Master Data call this is, if it is one.
    pub fn of(call: &Call) -> Option<Request> {
        let segments = call.target.segments();
        let at = match (&call.target.host, segments.as_slice()) {
            (Host::Api, [first, "dataentities", ..]) if *first == "api" || *first == call.scope.account => 2,
            (_, ["api", "dataentities", ..]) if on_account_api(call.target) => 2,
            _ => return None,
        };
        let entity = decoded(segments.get(at)?);
        let resource = match &segments[at + 1..] {
            ["documents"] | ["documents", ""] => Resource::Documents,
            ["documents", id] => Resource::Document(decoded(id)),
            ["search"] => Resource::Search,
            ["scroll"] => Resource::Scroll,
            ["schemas", name] => Resource::Schema(decoded(name)),
            _ => return None,
        };
        Some(Request {
            method: call.method.clone(),
            entity,
            resource,
            query: call.target.query.clone(),
            range: call.header("rest-range").map(str::to_string),
            body: call.outbound.body.clone(),
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find_map(|(k, v)| (k == name).then_some(v.as_str()))
    }

    /// Runs it on the store (blocking).
    pub fn run(&self, store: &Store) -> Answer {
        match self.answer(store) {
            Ok(a) => a,
            Err(e) => json_answer(e.status, &json!({ "Message": e.message })),
        }
    }

    fn answer(&self, store: &Store) -> Result<Answer, StoreError> {
        let db = store.masterdata()?;
        let mut db = lock(&db);
        let entity = self.entity.as_str();
        let schema = self.param("_schema").filter(|s| !s.is_empty());
        match (self.method.as_str(), &self.resource) {
            ("GET", Resource::Document(id)) => Ok(json_answer(200, &masterdata::get(&db, entity, id, &self.fields())?)),
            ("POST", Resource::Documents) => {
                let created = masterdata::write(&mut db, entity, Write::Create, None, &self.json()?, schema)?;
                Ok(json_answer(201, &serde_json::to_value(created).unwrap_or_default()))
            }
            (method @ ("PUT" | "PATCH"), Resource::Documents) => {
                let mode = if method == "PUT" { Write::Replace } else { Write::Merge };
                let created = masterdata::write(&mut db, entity, mode, None, &self.json()?, schema)?;
                Ok(json_answer(200, &serde_json::to_value(created).unwrap_or_default()))
            }
            (method @ ("PUT" | "PATCH"), Resource::Document(id)) => {
                let mode = if method == "PUT" { Write::ReplaceExisting } else { Write::MergeExisting };
                masterdata::write(&mut db, entity, mode, Some(id), &self.json()?, schema)?;
                Ok(with_headers(204, None, &[]))
            }
            ("DELETE", Resource::Document(id)) => {
                masterdata::delete(&mut db, entity, id)?;
                Ok(with_headers(204, None, &[]))
            }
            ("GET", Resource::Search) => {
                let (from, to) = self.range()?;
                let (docs, total) = masterdata::search_range(&mut db, &self.query()?, from, to - from)?;
                let range = format!("resources {from}-{}/{total}", from + docs.len());
                let body = Value::Array(docs).to_string().into_bytes();
                Ok(with_headers(200, Some(body), &[("rest-content-range", range)]))
            }
            ("GET", Resource::Scroll) => {
                let size = match self.param("_size") {
                    None => 100,
                    Some(s) => {
                        s.parse().map_err(|_| StoreError::bad_request(format!("_size `{s}` is not a number")))?
                    }
                };
                let (token, docs) = masterdata::scroll(&mut db, &self.query()?, size, self.param("_token"))?;
                let body = Value::Array(docs).to_string().into_bytes();
                Ok(with_headers(200, Some(body), &[("x-vtex-md-token", token)]))
            }
            // A schema the entity lacks is an empty 200 (apps' `if (!schema)` relies on it).
            ("GET", Resource::Schema(name)) => match masterdata::get_schema(&db, entity, name)? {
                Some(body) => Ok(json_answer(200, &body)),
                None => Ok(with_headers(200, None, &[])),
            },
            ("PUT", Resource::Schema(name)) => {
                masterdata::put_schema(&mut db, entity, name, &self.json()?)?;
                Ok(with_headers(204, None, &[]))
            }
            (method, _) => Err(StoreError::new(
                405,
                format!("Master Data: {method} is not answered on this path (ioctl's local Master Data)"),
            )),
        }
    }

    fn json(&self) -> Result<Value, StoreError> {
        let bytes = self.body.as_deref().unwrap_or(b"");
        serde_json::from_slice(bytes)
            .map_err(|e| StoreError::bad_request(format!("Master Data: the body is not JSON: {e}")))
    }

    fn fields(&self) -> Vec<String> {
        self.param("_fields").map(|f| vec![f.to_string()]).unwrap_or_default()
    }

    /// The search's condition: `_where`, and each `field=value` parameter, all together.
    fn query(&self) -> Result<Query, StoreError> {
        if self.param("_keyword").is_some() {
            return Err(StoreError::bad_request(
                "Master Data: _keyword (full-text search) is not emulated by ioctl; search with _where",
            ));
        }
        let mut conditions: Vec<String> =
            self.param("_where").filter(|w| !w.trim().is_empty()).map(|w| format!("({w})")).into_iter().collect();
        for (name, value) in &self.query {
            if name.starts_with('_') || name == "an" {
                continue;
            }
            if !masterdata::query::valid_field(name) {
                return Err(StoreError::bad_request(format!("Master Data: `{name}` is not a field name")));
            }
            conditions.push(format!("{name}={}", literal(value)));
        }
        Ok(Query {
            entity: self.entity.clone(),
            fields: self.fields(),
            where_: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            sort: self.param("_sort").map(str::to_string),
            schema: self.param("_schema").filter(|s| !s.is_empty()).map(str::to_string),
        })
    }

    /// `REST-Range: resources=FROM-TO` (TO excluded), at most [`MAX_PAGE_SIZE`] documents.
    fn range(&self) -> Result<(usize, usize), StoreError> {
        let Some(text) = self.range.as_deref() else { return Ok((0, MAX_PAGE_SIZE)) };
        let bad = || StoreError::bad_request(format!("Master Data: REST-Range `{text}` is not resources=FROM-TO"));
        let (from, to) = text.trim().strip_prefix("resources=").and_then(|r| r.split_once('-')).ok_or_else(bad)?;
        let (from, to): (usize, usize) =
            (from.trim().parse().map_err(|_| bad())?, to.trim().parse().map_err(|_| bad())?);
        if to < from || to - from > MAX_PAGE_SIZE {
            return Err(StoreError::bad_request(format!(
                "Master Data: REST-Range `{text}`: at most {MAX_PAGE_SIZE} documents per search (scroll reads more)"
            )));
        }
        Ok((from, to))
    }
}

/// A filter's value in the `where` grammar: bare when it reads as one word, else quoted.
fn literal(value: &str) -> String {
    let bare = !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || "()=<>'\"".contains(c));
    if bare && !["AND", "OR", "NOT", "between", "is"].iter().any(|k| value.eq_ignore_ascii_case(k)) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ask, call, local};
    use super::*;

    const API: &str = "https://api.vtex.com/acme/dataentities/CL";

    #[tokio::test]
    async fn documents_are_written_read_and_deleted_on_the_clients_store() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let (status, v, _) =
            ask(&l, call("POST", &format!("{API}/documents"), &[], Some(r#"{"id":"ann","email":"a@x.com","age":31}"#)))
                .await;
        assert_eq!((status, v["DocumentId"].as_str(), v["Id"].as_str()), (201, Some("ann"), Some("CL-ann")));
        // The same document, through every URL form VTEX answers it on.
        for url in [
            format!("{API}/documents/ann?_fields=email,age"),
            "http://api.vtex.com/api/dataentities/CL/documents/ann?_fields=email,age&an=acme".into(),
            "https://acme.vtexcommercestable.com.br/api/dataentities/CL/documents/ann?_fields=email,age".into(),
            "https://acme.myvtex.com/api/dataentities/CL/documents/ann?_fields=email,age".into(),
        ] {
            let (status, v, _) = ask(&l, call("GET", &url, &[], None)).await;
            assert_eq!((status, v), (200, json!({"email": "a@x.com", "age": 31})), "{url}");
        }
        // As ctx.clients.masterdata reads it.
        let md = l.store.masterdata().unwrap();
        assert_eq!(masterdata::get(&lock(&md), "CL", "ann", &[]).unwrap()["age"], 31);

        let (status, _, a) = ask(&l, call("PATCH", &format!("{API}/documents/ann"), &[], Some(r#"{"age":32}"#))).await;
        assert_eq!((status, a.body), (204, None));
        let (_, v, _) = ask(&l, call("GET", &format!("{API}/documents/ann"), &[], None)).await;
        assert_eq!(v, json!({"id": "ann", "email": "a@x.com", "age": 32}));
        let (status, v, _) =
            ask(&l, call("PUT", &format!("{API}/documents"), &[], Some(r#"{"id":"bo","age":5}"#))).await;
        assert_eq!((status, v["DocumentId"].as_str()), (200, Some("bo")));
        assert_eq!(ask(&l, call("PUT", &format!("{API}/documents/nope"), &[], Some("{}"))).await.0, 404);
        assert_eq!(ask(&l, call("DELETE", &format!("{API}/documents/bo"), &[], None)).await.0, 204);
        let (status, v, _) = ask(&l, call("GET", &format!("{API}/documents/bo"), &[], None)).await;
        assert_eq!((status, v["Message"].as_str()), (404, Some("Master Data: no document `bo` in data entity `CL`")));
        assert_eq!(ask(&l, call("POST", &format!("{API}/documents"), &[], Some("[1]"))).await.0, 400);
    }

    #[tokio::test]
    async fn search_pages_with_rest_range_and_filters_as_vtex_does() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let docs: Vec<Value> = (0..12)
            .map(|i| json!({"id": format!("c{i:02}"), "n": i, "team": if i % 2 == 0 { "red" } else { "blue" }}))
            .collect();
        masterdata::import(&mut lock(&l.store.masterdata().unwrap()), "CL", &docs).unwrap();

        let url = format!("{API}/search?_fields=id&_sort=n%20ASC&_where=n%3E3");
        let (status, v, a) = ask(&l, call("GET", &url, &[("rest-range", "resources=0-5")], None)).await;
        assert_eq!(status, 200);
        assert_eq!(v, json!([{"id": "c04"}, {"id": "c05"}, {"id": "c06"}, {"id": "c07"}, {"id": "c08"}]));
        assert_eq!(a.headers["rest-content-range"], "resources 0-5/8");
        let (_, v, a) = ask(&l, call("GET", &url, &[("rest-range", "resources=5-10")], None)).await;
        assert_eq!((v.as_array().unwrap().len(), a.headers["rest-content-range"].as_str()), (3, "resources 5-8/8"));

        let filtered = format!("{API}/search?team=red&_fields=id&_where=n%3C6");
        let (_, v, a) = ask(&l, call("GET", &filtered, &[], None)).await;
        assert_eq!(v, json!([{"id": "c00"}, {"id": "c02"}, {"id": "c04"}]));
        assert_eq!(a.headers["rest-content-range"], "resources 0-3/3");
        let quoted = format!("{API}/search?team=red%20team&_fields=id");
        assert_eq!(ask(&l, call("GET", &quoted, &[], None)).await.1, json!([]));

        for (range, what) in [("resources=0-101", "at most 100"), ("items=0-5", "is not resources=FROM-TO")] {
            let (status, v, _) = ask(&l, call("GET", &url, &[("rest-range", range)], None)).await;
            assert!(status == 400 && v["Message"].as_str().unwrap().contains(what), "{range}: {v}");
        }
        let (status, v, _) = ask(&l, call("GET", &format!("{API}/search?_keyword=ann"), &[], None)).await;
        assert!(status == 400 && v["Message"].as_str().unwrap().contains("_keyword"), "{v}");
        let (status, _, _) = ask(&l, call("GET", &format!("{API}/search?_where=n%3D"), &[], None)).await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn scroll_and_schemas_answer_as_the_client_expects() {
        let home = tempfile::tempdir().unwrap();
        let l = local(home.path());
        let docs: Vec<Value> = (0..5).map(|i| json!({"id": format!("d{i}")})).collect();
        masterdata::import(&mut lock(&l.store.masterdata().unwrap()), "CL", &docs).unwrap();
        let (_, first, a) = ask(&l, call("GET", &format!("{API}/scroll?_size=3&_fields=id"), &[], None)).await;
        assert_eq!(first.as_array().unwrap().len(), 3);
        let token = a.headers["x-vtex-md-token"].clone();
        let (_, rest, _) = ask(&l, call("GET", &format!("{API}/scroll?_token={token}"), &[], None)).await;
        assert_eq!(rest, json!([{"id": "d3"}, {"id": "d4"}]));

        let (status, _, a) = ask(&l, call("GET", &format!("{API}/schemas/v1"), &[], None)).await;
        assert_eq!((status, a.body), (200, None), "a missing schema is an empty 200");
        let schema = r#"{"type":"object","properties":{"email":{"type":"string"}}}"#;
        assert_eq!(ask(&l, call("PUT", &format!("{API}/schemas/v1"), &[], Some(schema))).await.0, 204);
        let (status, v, _) = ask(&l, call("GET", &format!("{API}/schemas/v1"), &[], None)).await;
        assert_eq!((status, v), (200, serde_json::from_str::<Value>(schema).unwrap()));
        let bad = r#"{"email": 5}"#;
        assert_eq!(ask(&l, call("POST", &format!("{API}/documents?_schema=v1"), &[], Some(bad))).await.0, 400);
    }

    #[test]
    fn filter_values_are_quoted_when_they_are_more_than_a_word() {
        assert_eq!(literal("a@x.com"), "a@x.com");
        assert_eq!(literal("red team"), "'red team'");
        assert_eq!(literal("O'Hara"), "'O''Hara'");
        assert_eq!(literal("AND"), "'AND'");
        assert_eq!(literal(""), "''");
    }
}
