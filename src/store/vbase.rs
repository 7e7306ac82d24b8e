//! VBase: files per app in named buckets of one workspace, each with a content hash (its
//! etag, which `ifMatch` saves compare against: a stale hash is a 409), a gzip flag, and an
//! optional expiry (`ttl`): an expired file reads as missing and is removed.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::db::backend;
use super::{app_key, now_ms, Db, Result, StoreError};

/// Files listed per page when the caller sets no `limit`, and at most.
pub const LIST_DEFAULT: usize = 1000;
pub const LIST_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub struct File {
    pub data: Vec<u8>,
    pub content_type: String,
    pub gzip: bool,
    pub hash: String,
    /// Milliseconds since the epoch, when a `ttl` was given.
    pub expires_at: Option<i64>,
}

/// One file to save.
pub struct Save<'a> {
    pub data: &'a [u8],
    pub content_type: &'a str,
    pub gzip: bool,
    /// Seconds the file lives.
    pub ttl: Option<f64>,
    /// Save only if the stored file's hash is this one.
    pub if_match: Option<&'a str>,
}

/// A content hash (FNV-1a, 64 bits): an etag that changes with the content, not a digest for security.
pub fn hash(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn missing(bucket: &str, path: &str) -> StoreError {
    StoreError::not_found(format!("VBase: no file `{path}` in bucket `{bucket}`"))
}

pub fn get(db: &Db, app: &str, bucket: &str, path: &str) -> Result<File> {
    let db = backend!(db, pg => pg.run(|c| super::pg::workspace::vbase_get(c, app, bucket, path)));
    let row = db
        .conn
        .query_row(
            "SELECT data, content_type, gzip, hash, expires_at FROM vbase WHERE app = ?1 AND bucket = ?2 AND path = ?3",
            params![app_key(app), bucket, path],
            |r| {
                Ok(File {
                    data: r.get(0)?,
                    content_type: r.get(1)?,
                    gzip: r.get::<_, i64>(2)? != 0,
                    hash: r.get(3)?,
                    expires_at: r.get(4)?,
                })
            },
        )
        .optional()?;
    match row {
        Some(f) if f.expires_at.is_some_and(|t| t <= now_ms()) => {
            db.conn.execute(
                "DELETE FROM vbase WHERE app = ?1 AND bucket = ?2 AND path = ?3 AND expires_at <= ?4",
                params![app_key(app), bucket, path, now_ms()],
            )?;
            Err(missing(bucket, path))
        }
        Some(f) => Ok(f),
        None => Err(missing(bucket, path)),
    }
}

/// Saves a file; returns its new hash. With `if_match`, a file whose hash differs (or that is
/// missing) is left alone and the save is a 409.
pub fn save(db: &mut Db, app: &str, bucket: &str, path: &str, file: &Save) -> Result<String> {
    let db = backend!(db, pg => pg.run(|c| super::pg::workspace::vbase_save(c, app, bucket, path, file)));
    let tx = db.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let hash = save_in(&tx, app, bucket, path, file)?;
    tx.commit()?;
    Ok(hash)
}

/// [`save`] in a write transaction of the caller's.
pub(crate) fn save_in(tx: &Connection, app: &str, bucket: &str, path: &str, file: &Save) -> Result<String> {
    check_name("bucket", bucket)?;
    check_name("path", path)?;
    let app = app_key(app);
    let hash = hash(file.data);
    let now = now_ms();
    let expires_at = expiry(file.ttl, now)?;
    if let Some(expected) = file.if_match {
        let current: Option<String> = tx
            .query_row(
                "SELECT hash FROM vbase WHERE app = ?1 AND bucket = ?2 AND path = ?3 AND (expires_at IS NULL OR expires_at > ?4)",
                params![app, bucket, path, now],
                |r| r.get(0),
            )
            .optional()?;
        check_if_match(bucket, path, expected, current)?;
    }
    tx.execute(
        "INSERT INTO vbase (app, bucket, path, data, content_type, gzip, hash, expires_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (app, bucket, path) DO UPDATE SET data = excluded.data, content_type = excluded.content_type, \
         gzip = excluded.gzip, hash = excluded.hash, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        params![app, bucket, path, file.data, file.content_type, file.gzip as i64, hash, expires_at, now],
    )?;
    Ok(hash)
}

/// When a file saved now with `ttl` (seconds) expires, in milliseconds since the epoch.
pub(crate) fn expiry(ttl: Option<f64>, now: i64) -> Result<Option<i64>> {
    match ttl {
        Some(t) if t.is_finite() && t > 0.0 => Ok(Some(now + (t * 1000.0) as i64)),
        Some(t) => Err(StoreError::bad_request(format!("VBase: ttl must be a positive number of seconds, not {t}"))),
        None => Ok(None),
    }
}

/// A save with `ifMatch` goes ahead only over the file at that hash (quotes of an ETag ignored).
pub(crate) fn check_if_match(bucket: &str, path: &str, expected: &str, current: Option<String>) -> Result<()> {
    if current.as_deref() != Some(expected.trim_matches('"')) {
        let now_is = current.map_or("missing".to_string(), |h| format!("at hash {h}"));
        return Err(StoreError::conflict(format!(
            "VBase: `{path}` in bucket `{bucket}` changed (ifMatch {expected}, the file is {now_is})"
        )));
    }
    Ok(())
}

pub fn delete(db: &Db, app: &str, bucket: &str, path: &str) -> Result<()> {
    let db = backend!(db, pg => pg.run(|c| super::pg::workspace::vbase_delete(c, app, bucket, path)));
    let n = db.conn.execute(
        "DELETE FROM vbase WHERE app = ?1 AND bucket = ?2 AND path = ?3 AND (expires_at IS NULL OR expires_at > ?4)",
        params![app_key(app), bucket, path, now_ms()],
    )?;
    if n == 0 {
        return Err(missing(bucket, path));
    }
    Ok(())
}

/// One page of a listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listing {
    pub data: Vec<Entry>,
    /// Pass as `next` (or `marker`) to get the following page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub path: String,
    pub hash: String,
}

/// Files of `bucket` whose path starts with `prefix`, in path order, after `marker`.
pub fn list(
    db: &Db,
    app: &str,
    bucket: &str,
    prefix: &str,
    marker: Option<&str>,
    limit: Option<usize>,
) -> Result<Listing> {
    let limit = limit.unwrap_or(LIST_DEFAULT);
    let db = backend!(db, pg => pg.run(|c| super::pg::workspace::vbase_list(c, app, bucket, prefix, marker, limit)));
    if limit == 0 || limit > LIST_MAX {
        return Err(StoreError::bad_request(format!("VBase: limit must be from 1 to {LIST_MAX}, not {limit}")));
    }
    let mut stmt = db.conn.prepare_cached(
        "SELECT path, hash FROM vbase WHERE app = ?1 AND bucket = ?2 AND substr(path, 1, length(?3)) = ?3 \
         AND path > ?4 AND (expires_at IS NULL OR expires_at > ?5) ORDER BY path LIMIT ?6",
    )?;
    let rows = stmt
        .query_map(params![app_key(app), bucket, prefix, marker.unwrap_or(""), now_ms(), (limit + 1) as i64], |r| {
            Ok(Entry { path: r.get(0)?, hash: r.get(1)? })
        })?;
    let mut data = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let next = if data.len() > limit {
        data.truncate(limit);
        data.last().map(|e| e.path.clone())
    } else {
        None
    };
    Ok(Listing { data, next })
}

/// Every bucket with live files, as (app, bucket, files), in app and bucket order.
pub fn buckets(db: &Db) -> Result<Vec<(String, String, u64)>> {
    let db = backend!(db, pg => pg.run(super::pg::workspace::vbase_buckets));
    let mut stmt = db.conn.prepare(
        "SELECT app, bucket, count(*) FROM vbase WHERE expires_at IS NULL OR expires_at > ?1 \
         GROUP BY app, bucket ORDER BY app, bucket",
    )?;
    let rows = stmt.query_map([now_ms()], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Every live file of the workspace, for export: (app, bucket, path, file).
pub fn all(db: &Db) -> Result<Vec<(String, String, String, File)>> {
    let db = backend!(db, pg => pg.run(super::pg::workspace::vbase_all));
    let mut stmt = db.conn.prepare(
        "SELECT app, bucket, path, data, content_type, gzip, hash, expires_at FROM vbase \
         WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY app, bucket, path",
    )?;
    let rows = stmt.query_map([now_ms()], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            File {
                data: r.get(3)?,
                content_type: r.get(4)?,
                gzip: r.get::<_, i64>(5)? != 0,
                hash: r.get(6)?,
                expires_at: r.get(7)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 1024 || name.contains('\0') {
        return Err(StoreError::bad_request(format!("VBase: invalid {what} `{name}`")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::{backends, exec, number, Kind};

    fn plain(data: &[u8]) -> Save<'_> {
        Save { data, content_type: "application/json", gzip: false, ttl: None, if_match: None }
    }

    /// Makes a file's `ttl` run out now, rather than sleeping until it does.
    fn expire(db: &Db, path: &str) {
        let sql = format!("UPDATE vbase SET expires_at = {} WHERE path = '{path}'", now_ms() - 1);
        exec(db, &sql, &sql);
    }

    #[test]
    fn saved_files_read_back_per_app_and_missing_ones_are_404() {
        for (_dir, mut db) in backends(Kind::Workspace, "saved_files_read_back_per_app_and_missing_ones_are_404") {
            let hash = save(&mut db, "acme.app@1.2.3", "b", "k.json", &plain(br#"{"a":1}"#)).unwrap();
            let f = get(&db, "acme.app", "b", "k.json").unwrap();
            assert_eq!(
                (f.data.as_slice(), f.content_type.as_str(), f.hash.as_str()),
                (&br#"{"a":1}"#[..], "application/json", hash.as_str())
            );
            // A JSON `null` is a file like any other, not a missing one.
            save(&mut db, "acme.app", "b", "null.json", &plain(b"null")).unwrap();
            assert_eq!(get(&db, "acme.app", "b", "null.json").unwrap().data, b"null");
            let e = get(&db, "acme.other", "b", "k.json").unwrap_err();
            assert_eq!((e.status, e.message.as_str()), (404, "VBase: no file `k.json` in bucket `b`"));
            delete(&db, "acme.app", "b", "k.json").unwrap();
            assert_eq!(get(&db, "acme.app", "b", "k.json").unwrap_err().status, 404);
            assert_eq!(delete(&db, "acme.app", "b", "k.json").unwrap_err().status, 404);
            assert_eq!(save(&mut db, "acme.app", "", "k", &plain(b"1")).unwrap_err().status, 400);
        }
    }

    #[test]
    fn if_match_saves_only_over_the_hash_it_names() {
        for (_dir, mut db) in backends(Kind::Workspace, "if_match_saves_only_over_the_hash_it_names") {
            let first = save(&mut db, "acme.app", "b", "k", &plain(b"1")).unwrap();
            let second = save(&mut db, "acme.app", "b", "k", &Save { if_match: Some(&first), ..plain(b"2") }).unwrap();
            assert_ne!(first, second);
            let stale =
                save(&mut db, "acme.app", "b", "k", &Save { if_match: Some(&first), ..plain(b"3") }).unwrap_err();
            assert_eq!(stale.status, 409);
            assert!(
                stale.message.contains(&format!("ifMatch {first}, the file is at hash {second}")),
                "{}",
                stale.message
            );
            assert_eq!(get(&db, "acme.app", "b", "k").unwrap().data, b"2", "a refused save changes nothing");
            let quoted = format!("\"{second}\"");
            save(&mut db, "acme.app", "b", "k", &Save { if_match: Some(&quoted), ..plain(b"4") }).unwrap();
            let missing = save(&mut db, "acme.app", "b", "new", &Save { if_match: Some(&first), ..plain(b"1") });
            assert!(missing.unwrap_err().message.contains("the file is missing"));
        }
    }

    #[test]
    fn a_file_past_its_ttl_reads_as_missing_and_is_not_listed() {
        for (_dir, mut db) in backends(Kind::Workspace, "a_file_past_its_ttl_reads_as_missing_and_is_not_listed") {
            save(&mut db, "acme.app", "b", "short", &Save { ttl: Some(60.0), ..plain(b"1") }).unwrap();
            save(&mut db, "acme.app", "b", "kept", &plain(b"1")).unwrap();
            let f = get(&db, "acme.app", "b", "short").unwrap();
            assert!(f.expires_at.is_some_and(|t| t > now_ms() + 59_000), "{:?}", f.expires_at);
            expire(&db, "short");
            let paths: Vec<String> =
                list(&db, "acme.app", "b", "", None, None).unwrap().data.into_iter().map(|e| e.path).collect();
            assert_eq!(paths, ["kept"]);
            assert_eq!(get(&db, "acme.app", "b", "short").unwrap_err().status, 404);
            let left = number(&db, "SELECT count(*) FROM vbase", "SELECT count(*) FROM vbase");
            assert_eq!(left, 1, "reading an expired file removes it");
            for bad in [0.0, -1.0, f64::NAN] {
                let e = save(&mut db, "acme.app", "b", "x", &Save { ttl: Some(bad), ..plain(b"1") }).unwrap_err();
                assert_eq!(e.status, 400, "ttl {bad}");
            }
        }
    }

    #[test]
    fn listings_page_in_path_order_with_next_and_limit() {
        for (_dir, mut db) in backends(Kind::Workspace, "listings_page_in_path_order_with_next_and_limit") {
            for p in ["a/3", "a/1", "b/1", "a/5", "a/2", "a/4"] {
                save(&mut db, "acme.app", "b", p, &plain(p.as_bytes())).unwrap();
            }
            let page = |next: Option<&str>| list(&db, "acme.app", "b", "a/", next, Some(2)).unwrap();
            let paths = |l: &Listing| l.data.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
            let first = page(None);
            assert_eq!((paths(&first), first.next.as_deref()), (vec!["a/1".to_string(), "a/2".into()], Some("a/2")));
            let second = page(first.next.as_deref());
            assert_eq!((paths(&second), second.next.as_deref()), (vec!["a/3".to_string(), "a/4".into()], Some("a/4")));
            let last = page(second.next.as_deref());
            assert_eq!((paths(&last), last.next), (vec!["a/5".to_string()], None));
            let exact = list(&db, "acme.app", "b", "", None, Some(6)).unwrap();
            assert_eq!((exact.data.len(), exact.next), (6, None), "no `next` when the page holds the rest");
            assert_eq!(list(&db, "acme.app", "b", "", None, None).unwrap().data.len(), 6);
            assert_eq!(list(&db, "acme.app", "b", "", None, Some(0)).unwrap_err().status, 400);
            assert_eq!(list(&db, "acme.app", "b", "", None, Some(LIST_MAX + 1)).unwrap_err().status, 400);
        }
    }
}
