//! A storage database, embedded SQLite (the default) or a team's PostgreSQL ([`super::pg`]),
//! behind one [`Db`] that every operation of `store` takes. Opening a SQLite file: folders 0700, files 0600, no link followed (see `private_fs`),
//! WAL with `synchronous=FULL` (a commit is on disk before it is acknowledged, so it survives
//! `kill -9` and power loss), a busy timeout (several processes write one file without losing
//! a write), and the tables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::private_fs;

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// App settings and VBase of one account/workspace.
    Workspace,
    /// Master Data of one account.
    MasterData,
}

const WORKSPACE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS settings (
  app TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings_schemas (
  app TEXT PRIMARY KEY,
  schema TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vbase (
  app TEXT NOT NULL,
  bucket TEXT NOT NULL,
  path TEXT NOT NULL,
  data BLOB NOT NULL,
  content_type TEXT NOT NULL,
  gzip INTEGER NOT NULL DEFAULT 0,
  hash TEXT NOT NULL,
  expires_at INTEGER,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (app, bucket, path)
) WITHOUT ROWID;
-- The workspace's platform settings (see `platform`): only the keys that were set.
CREATE TABLE IF NOT EXISTS platform (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
";

const MASTERDATA_TABLES: &str = "
CREATE TABLE IF NOT EXISTS documents (
  seq INTEGER PRIMARY KEY,
  entity TEXT NOT NULL,
  id TEXT NOT NULL,
  doc TEXT NOT NULL,
  schema TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_id ON documents (entity, id);
CREATE TABLE IF NOT EXISTS schemas (
  entity TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (entity, name)
) WITHOUT ROWID;
-- Which documents match which schemas of their entity (a search with `schema` returns only
-- those): kept by every document write and delete and by every schema save; filled from the
-- documents the first time a file gets this table (see `Db::open`).
CREATE TABLE IF NOT EXISTS schema_members (
  entity TEXT NOT NULL,
  id TEXT NOT NULL,
  schema TEXT NOT NULL,
  PRIMARY KEY (entity, id, schema)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scrolls (
  token TEXT PRIMARY KEY,
  query TEXT NOT NULL,
  position INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// One open storage database: each operation of `settings`, `platform`, `vbase` and
/// `masterdata` takes a `Db` and runs on the backend it holds (SQLite's code is the one it
/// always was; PostgreSQL's lives in `pg`).
pub enum Db {
    Sqlite(Sqlite),
    /// Boxed: its configuration is large, and a `Db` is made once per store.
    Postgres(Box<super::pg::Pg>),
}

impl Db {
    /// The SQLite file's path, or the database's URL with its password hidden.
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite(s) => s.path.display().to_string(),
            Db::Postgres(p) => p.describe(),
        }
    }

    /// The SQLite database, for what only a file can do (tests reach into it); `None` on
    /// PostgreSQL.
    pub fn sqlite(&self) -> Option<&Sqlite> {
        match self {
            Db::Sqlite(s) => Some(s),
            Db::Postgres(_) => None,
        }
    }
}

/// Runs the SQLite body of an operation, or returns what `pg` answers for PostgreSQL:
/// `let db = backend!(db, pg => pg::vbase::get(pg, …));`.
macro_rules! backend {
    ($db:expr, $pg:ident => $on_pg:expr) => {
        match $db {
            $crate::store::Db::Sqlite(s) => s,
            $crate::store::Db::Postgres($pg) => return $on_pg,
        }
    };
}
pub(crate) use backend;

/// One open SQLite file.
pub struct Sqlite {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Master Data fields that have an expression index in this file (see `masterdata`).
    pub(crate) indexed: std::collections::HashSet<String>,
}

impl Sqlite {
    /// Opens (creating it) the database at `path`, a file under ioctl's folder `root`: no link
    /// is followed below `root`, nor at the file or SQLite's `-wal`, `-shm` and `-journal`
    /// beside it (SQLite itself is told not to follow one either).
    pub fn open_in(root: &Path, path: &Path, kind: Kind) -> anyhow::Result<Sqlite> {
        // SQLite's NOFOLLOW refuses a link anywhere in the path, the root's own included (a
        // home folder reached through one): open through the root's real path.
        private_fs::root(root)?;
        let real_root = root.canonicalize().with_context(|| format!("{}: cannot resolve", root.display()))?;
        let rel =
            path.strip_prefix(root).with_context(|| format!("{}: not under {}", path.display(), root.display()))?;
        let path = &real_root.join(rel);
        if let Some(dir) = path.parent() {
            private_fs::dir(&real_root, dir)?;
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            private_fs::not_a_link(&PathBuf::from(format!("{}{suffix}", path.display())))?;
        }
        if !path.exists() {
            // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
            // same permissions.
            private_fs::create(path, false)?;
        }
        let flags = OpenFlags::default() | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn =
            Connection::open_with_flags(path, flags).with_context(|| format!("{}: cannot open", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "{}: cannot use WAL mode (got {mode})", path.display());
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        let mut db = Sqlite { conn, path: path.to_path_buf(), indexed: Default::default() };
        db.create_tables(kind).with_context(|| format!("{}: cannot create its tables", path.display()))?;
        Ok(db)
    }

    /// Creates the tables a file lacks. A Master Data file made before `schema_members`
    /// existed gets it filled from its documents and schemas, in one write transaction, so
    /// two processes opening such a file at once do not both fill it. (Once the table is
    /// there, opening takes no write lock.)
    fn create_tables(&mut self, kind: Kind) -> anyhow::Result<()> {
        if kind == Kind::Workspace {
            self.conn.execute_batch(WORKSPACE_TABLES)?;
            return Ok(());
        }
        if has_members(&self.conn)? {
            self.conn.execute_batch(MASTERDATA_TABLES)?;
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let filled = has_members(&tx)?;
        tx.execute_batch(MASTERDATA_TABLES)?;
        if !filled {
            super::masterdata::rebuild_members(&tx).map_err(|e| anyhow::anyhow!("filling schema_members: {e}"))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// [`Db::open_in`] the file's own folder (the tests' databases).
    #[cfg(test)]
    pub fn open(path: &Path, kind: Kind) -> anyhow::Result<Sqlite> {
        Sqlite::open_in(path.parent().expect("a database file in a folder"), path, kind)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

fn has_members(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_members'", [], |r| {
        r.get(0)
    })
}

/// A database of `kind` in a fresh temporary folder (removed when the folder is dropped).
#[cfg(test)]
pub(crate) fn temp(kind: Kind) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = Sqlite::open(&dir.path().join("test.sqlite"), kind).expect("a test database");
    (dir, Db::Sqlite(db))
}

/// The test database of PostgreSQL, when its server runs here: `None` (with a note) when
/// PostgreSQL is not installed, unless `IOCTL_PG_TEST=1` (CI) makes that a failure.
#[cfg(test)]
pub(crate) fn test_database(hint: &str) -> Option<super::pg::Url> {
    match super::pg::server::shared() {
        Ok(server) => {
            let url = server.create_database(hint).expect("a test database");
            Some(super::pg::Url::parse(&url).expect("the test database's URL"))
        }
        Err(why) if std::env::var("IOCTL_PG_TEST").as_deref() == Ok("1") => panic!("IOCTL_PG_TEST=1: {why}"),
        Err(why) => {
            eprintln!("{hint}: PostgreSQL half skipped: {why}");
            None
        }
    }
}

/// A database of `kind` on each backend: SQLite in a fresh folder (kept with it), and
/// PostgreSQL in a fresh database (account `acc`, workspace `dev`) when it runs here.
#[cfg(test)]
pub(crate) fn backends(kind: Kind, hint: &str) -> Vec<(Option<tempfile::TempDir>, Db)> {
    let (dir, db) = temp(kind);
    let mut out = vec![(Some(dir), db)];
    if let Some(url) = test_database(hint) {
        out.push((None, Db::Postgres(Box::new(super::pg::Pg::open(&url, "acc", "dev").expect("the test database")))));
    }
    out
}

/// Runs a statement with no parameters on either backend (tests reaching past the interface).
#[cfg(test)]
pub(crate) fn exec(db: &Db, sqlite: &str, postgres: &str) {
    match db {
        Db::Sqlite(s) => s.conn.execute_batch(sqlite).unwrap(),
        Db::Postgres(p) => p.run(|c| Ok(c.client.batch_execute(postgres)?)).unwrap(),
    }
}

/// The first column of the first row of a query on either backend, as a number.
#[cfg(test)]
pub(crate) fn number(db: &Db, sqlite: &str, postgres: &str) -> i64 {
    match db {
        Db::Sqlite(s) => s.conn.query_row(sqlite, [], |r| r.get(0)).unwrap(),
        Db::Postgres(p) => p.run(|c| Ok(c.client.query_one(postgres, &[])?.get(0))).unwrap(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_below_the_root_is_refused_and_the_root_may_be_reached_through_one() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let home = tmp.path().join("home");
        std::os::unix::fs::symlink(&real, &home).unwrap();
        let db = Sqlite::open_in(&home, &home.join("data/acc/dev.sqlite"), Kind::Workspace).unwrap();
        assert!(real.join("data/acc/dev.sqlite").is_file());
        drop(db);
        let elsewhere = tmp.path().join("elsewhere.sqlite");
        std::os::unix::fs::symlink(&elsewhere, real.join("data/acc/masterdata.sqlite")).unwrap();
        let e = Sqlite::open_in(&home, &home.join("data/acc/masterdata.sqlite"), Kind::MasterData).err().unwrap();
        assert!(format!("{e:#}").contains("masterdata.sqlite: is a symlink"), "{e:#}");
        assert!(!elsewhere.exists());
    }
}
