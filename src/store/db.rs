//! Opening a storage database: folders 0700, files 0600, WAL with `synchronous=FULL` (a
//! commit is on disk before it is acknowledged, so it survives `kill -9` and power loss), a
//! busy timeout (several processes write one file without losing a write), and the tables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
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
CREATE TABLE IF NOT EXISTS scrolls (
  token TEXT PRIMARY KEY,
  query TEXT NOT NULL,
  position INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// One open database file.
pub struct Db {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Master Data fields that have an expression index in this file (see `masterdata`).
    pub(crate) indexed: std::collections::HashSet<String>,
}

impl Db {
    pub fn open(path: &Path, kind: Kind) -> anyhow::Result<Db> {
        if let Some(dir) = path.parent() {
            crate::protocol::record::private_dir(dir)?;
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the
            // same permissions.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("{}: cannot create", path.display()))?;
        }
        let conn = Connection::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "{}: cannot use WAL mode (got {mode})", path.display());
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        let tables = match kind {
            Kind::Workspace => WORKSPACE_TABLES,
            Kind::MasterData => MASTERDATA_TABLES,
        };
        conn.execute_batch(tables).with_context(|| format!("{}: cannot create its tables", path.display()))?;
        Ok(Db { conn, path: path.to_path_buf(), indexed: Default::default() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}
