//! Local platform storage — app settings, VBase, Master Data and the workspace's platform
//! settings — in SQLite files under `$IOCTL_HOME/data`, or in a team's PostgreSQL database
//! (`--store`, `IOCTL_STORE`): a leaf that the session (for the apps' clients) and the CLI
//! commands (`settings`, `vbase`, `masterdata`, `data`) both open, together or apart.

pub mod call;
mod db;
pub mod masterdata;
pub mod pg;
pub mod platform;
pub mod schema;
pub mod settings;
pub mod snapshot;
pub mod vbase;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use db::{Db, Sqlite};

/// A refused or failed storage operation, with the HTTP status VTEX's service would answer
/// (the apps' clients turn it into an error whose `response.status` is this status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub status: u16,
    pub message: String,
}

impl StoreError {
    pub fn new(status: u16, message: impl Into<String>) -> StoreError {
        StoreError { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> StoreError {
        StoreError::new(400, message)
    }
    pub fn not_found(message: impl Into<String>) -> StoreError {
        StoreError::new(404, message)
    }
    pub fn conflict(message: impl Into<String>) -> StoreError {
        StoreError::new(409, message)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::new(500, format!("local storage failed: {e}"))
    }
}

impl From<anyhow::Error> for StoreError {
    fn from(e: anyhow::Error) -> StoreError {
        StoreError::new(500, format!("{e:#}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The environment variable naming a PostgreSQL store (`--store` sets it for the session a
/// link starts).
pub const STORE_ENV: &str = "IOCTL_STORE";

/// Where the data of an account and workspace lives: `DATA/ACCOUNT/WORKSPACE.sqlite` (app
/// settings and VBase) and `DATA/ACCOUNT/masterdata.sqlite` (Master Data is per account), or
/// the rows of that account and workspace in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct Location {
    /// `$IOCTL_HOME`: no link below it is followed.
    pub home: PathBuf,
    pub account: String,
    pub workspace: String,
    /// The PostgreSQL store, when there is one.
    pub database: Option<pg::Url>,
}

impl Location {
    /// The SQLite databases of `account`/`workspace` under `home` (see [`crate::layout`]).
    pub fn new(home: &Path, account: &str, workspace: &str) -> Location {
        Location {
            home: home.to_path_buf(),
            account: account.to_string(),
            workspace: workspace.to_string(),
            database: None,
        }
    }

    /// [`Location::new`], in the PostgreSQL database `IOCTL_STORE` names when it is set.
    pub fn from_env(home: &Path, account: &str, workspace: &str) -> anyhow::Result<Location> {
        let database = match std::env::var(STORE_ENV) {
            Ok(url) if !url.trim().is_empty() => {
                Some(pg::Url::parse(&url).map_err(|e| anyhow::anyhow!("{STORE_ENV}: {e}"))?)
            }
            _ => None,
        };
        Ok(Location { database, ..Location::new(home, account, workspace) })
    }

    /// The same account and workspace in the PostgreSQL database at `url`.
    pub fn on(self, url: pg::Url) -> Location {
        Location { database: Some(url), ..self }
    }

    pub fn workspace_file(&self) -> PathBuf {
        crate::layout::workspace_db(&self.home, &self.account, &self.workspace)
    }

    pub fn masterdata_file(&self) -> PathBuf {
        crate::layout::masterdata_db(&self.home, &self.account)
    }
}

/// The storage of one account/workspace, its two databases opened on first use. Each
/// connection is behind a mutex: callers run on blocking threads (`spawn_blocking`), and
/// SQLite's own locks (WAL, busy timeout) order them against other processes.
pub struct Store {
    location: Location,
    workspace: Mutex<Option<Arc<Mutex<Db>>>>,
    masterdata: Mutex<Option<Arc<Mutex<Db>>>>,
}

impl Store {
    pub fn new(location: Location) -> Store {
        Store { location, workspace: Mutex::default(), masterdata: Mutex::default() }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The workspace database (settings, VBase), opened on first use.
    pub fn workspace(&self) -> Result<Arc<Mutex<Db>>> {
        self.opened(&self.workspace, db::Kind::Workspace)
    }

    /// The workspace database if it was opened or exists on disk; None when nothing was ever
    /// stored in this workspace (so there is nothing to read or remove).
    pub fn workspace_if_stored(&self) -> Result<Option<Arc<Mutex<Db>>>> {
        if !self.workspace_stored() {
            return Ok(None);
        }
        self.workspace().map(Some)
    }

    /// Whether anything was ever stored in this workspace: its database is open or on disk
    /// (a stat, cheap enough for an async task).
    /// A PostgreSQL store is always there to read.
    pub fn workspace_stored(&self) -> bool {
        self.location.database.is_some()
            || self.workspace.lock().unwrap_or_else(|p| p.into_inner()).is_some()
            || self.location.workspace_file().exists()
    }

    /// The account's Master Data database, opened on first use.
    pub fn masterdata(&self) -> Result<Arc<Mutex<Db>>> {
        self.opened(&self.masterdata, db::Kind::MasterData)
    }

    fn opened(&self, slot: &Mutex<Option<Arc<Mutex<Db>>>>, kind: db::Kind) -> Result<Arc<Mutex<Db>>> {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let l = &self.location;
        let opened = match (&l.database, kind) {
            (Some(url), _) => Db::Postgres(Box::new(pg::Pg::open(url, &l.account, &l.workspace)?)),
            (None, db::Kind::Workspace) => Db::Sqlite(Sqlite::open_in(&l.home, &l.workspace_file(), kind)?),
            (None, db::Kind::MasterData) => Db::Sqlite(Sqlite::open_in(&l.home, &l.masterdata_file(), kind)?),
        };
        let db = Arc::new(Mutex::new(opened));
        *slot = Some(db.clone());
        Ok(db)
    }
}

/// Locks a connection; a panic while it was held leaves SQLite consistent (its transaction
/// rolled back when dropped), so a poisoned lock is still usable.
pub fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    db.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// An app's storage key: `vendor.name`, whatever version (`vendor.name@1.2.3`) a caller names.
pub fn app_key(app: &str) -> String {
    crate::app::id::unversioned(app).to_string()
}
