//! The PostgreSQL backend (`--store postgres://…`, `IOCTL_STORE`): a team's one database that
//! several sessions and CLI commands on several machines write at once. This file owns the
//! URL (parsed, its password never shown), the connection (retried within a bound, remade
//! when the server dropped it) and the versioned schema; the operations live beside it.
//!
//! Scope: every row carries its account (and, for settings, platform settings and VBase, its
//! workspace), the key columns standing in for SQLite's file per account and workspace, so
//! one account never reads another's data.

pub mod masterdata;
#[doc(hidden)]
pub mod server;
mod where_sql;
pub mod workspace;

use std::collections::HashSet;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::{Result, StoreError};

/// The URL's form, for the messages that refuse another.
pub const FORM: &str = "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE";

/// A PostgreSQL store's address: the client's configuration, and the URL as it may be shown.
#[derive(Clone)]
pub struct Url {
    config: postgres::Config,
    shown: String,
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Url {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `postgresql://`). The
    /// error never repeats the password.
    pub fn parse(text: &str) -> std::result::Result<Url, String> {
        let text = text.trim();
        let refuse = |why: &str| format!("`{}` {why} (the form is {FORM})", redact(text));
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(refuse("is not a PostgreSQL URL"));
        }
        let config: postgres::Config = text.parse().map_err(|_| refuse("is not a valid PostgreSQL URL"))?;
        let user = config.get_user().filter(|u| !u.is_empty()).ok_or_else(|| refuse("names no user"))?.to_string();
        let host = match config.get_hosts() {
            [postgres::config::Host::Tcp(h)] => h.clone(),
            [] => return Err(refuse("names no host")),
            _ => return Err(refuse("must name one TCP host")),
        };
        let db = config.get_dbname().ok_or_else(|| refuse("names no database"))?.to_string();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let mut config = config;
        config.application_name("ioctl").connect_timeout(CONNECT_TIMEOUT);
        Ok(Url { config, shown: format!("postgres://{user}@{host}:{port}/{db}") })
    }
}

/// `text` with anything between `://USER:` and `@` (a password) replaced by `***`.
pub fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else { return text.to_string() };
    let rest = &text[scheme_end..];
    let Some(at) = rest.rfind('@') else { return text.to_string() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &text[..scheme_end], &rest[..colon], &rest[at..]),
        None => text.to_string(),
    }
}

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pauses between connection attempts: a server restarting (or a team's database behind
/// a flaky tunnel) gets about 4 seconds before the operation fails.
const RETRY_PAUSES: [Duration; 3] = [Duration::from_millis(250), Duration::from_secs(1), Duration::from_secs(3)];

/// The newest schema this ioctl knows; a database at a higher version was made by a newer
/// ioctl and is refused.
pub const SCHEMA_VERSION: i32 = 1;

/// Migration `n` takes the schema from version `n` to `n + 1`. Each runs in the transaction
/// that holds the migration lock and records the version, so it is all or nothing.
const MIGRATIONS: [&str; 1] = [include_str!("schema_v1.sql")];

/// Which advisory lock orders migrations across every machine (any constant, ioctl's own).
const MIGRATION_LOCK: i64 = 0x696f_6374_6c00_0001;

/// A connection, and the account and workspace its rows belong to.
pub struct Conn {
    pub(crate) client: Client,
    pub(crate) account: String,
    pub(crate) workspace: String,
    /// Master Data fields known to have an expression index (see `masterdata`).
    pub(crate) indexed: HashSet<String>,
}

/// One open PostgreSQL store of an account/workspace.
pub struct Pg {
    /// Behind the store's own lock already; this one lets reads take `&Db`, as on SQLite.
    /// `None` only while being dropped.
    conn: std::sync::Mutex<Option<Conn>>,
    url: Url,
}

impl Pg {
    /// Connects (retrying within a bound) and brings the schema up to date.
    pub fn open(url: &Url, account: &str, workspace: &str) -> anyhow::Result<Pg> {
        let client = off_runtime(|| connect(url))?;
        let conn =
            Conn { client, account: account.to_string(), workspace: workspace.to_string(), indexed: HashSet::new() };
        Ok(Pg { conn: std::sync::Mutex::new(Some(conn)), url: url.clone() })
    }

    /// The URL, password hidden.
    pub fn describe(&self) -> String {
        self.url.shown.clone()
    }

    /// Runs `f` on the connection (remade first if the server dropped it). The `postgres`
    /// client blocks on a runtime of its own, which tokio refuses inside another runtime's
    /// context: see [`off_runtime`].
    pub fn run<T: Send>(&self, f: impl FnOnce(&mut Conn) -> Result<T> + Send) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(conn) = conn.as_mut() else { return Err(StoreError::new(500, "the PostgreSQL store was closed")) };
        let url = &self.url;
        off_runtime(move || {
            if conn.client.is_closed() {
                conn.client = connect(url).map_err(StoreError::from)?;
                conn.indexed.clear();
            }
            f(conn)
        })
    }
}

impl Drop for Pg {
    /// Closing the client blocks on its runtime too (it says goodbye to the server).
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            off_runtime(move || drop(conn));
        }
    }
}

/// Runs `f` where the `postgres` client may block on its own runtime: here outside tokio or
/// on a blocking thread of a multi-thread runtime (the session's store calls), through
/// `block_in_place` on a worker of one (which leaves the runtime's context for the call), and
/// on a scoped thread on a current-thread runtime (a CLI command; one thread start per call).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
    }
}

/// A connection with an up-to-date schema. A refused login, a missing database or a newer
/// schema fail at once; a server that cannot be reached is tried again after each pause.
fn connect(url: &Url) -> anyhow::Result<Client> {
    let mut pauses = RETRY_PAUSES.iter();
    loop {
        match url.config.connect(NoTls) {
            Ok(mut client) => {
                migrate(&mut client).map_err(|e| anyhow::anyhow!("the PostgreSQL store {url}: {e}"))?;
                return Ok(client);
            }
            Err(e) if e.as_db_error().is_none() => match pauses.next() {
                Some(pause) => std::thread::sleep(*pause),
                None => anyhow::bail!(
                    "cannot reach the PostgreSQL store {url}: {} (tried {} times over about 4 s): check that \
                     the server runs, listens on that host and port, and lets this machine connect",
                    db_message(&e),
                    RETRY_PAUSES.len() + 1
                ),
            },
            Err(e) => anyhow::bail!(
                "the PostgreSQL store {url} refused the connection: {}: check the user, password and database \
                 in the URL",
                db_message(&e)
            ),
        }
    }
}

/// Applies the migrations this database lacks, under an advisory lock held by the
/// transaction (two machines starting at once: the second waits, then finds it done).
fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS ioctl_schema (version integer NOT NULL)")?;
    let version: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM ioctl_schema", &[])?.get(0);
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "its schema is at version {version}, made by a newer ioctl (this one knows up to version \
             {SCHEMA_VERSION}): upgrade ioctl on this machine, or point --store at another database"
        );
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(|e| anyhow::anyhow!("migration to version {}: {}", n + 1, db_message(&e)))?;
    }
    if version < SCHEMA_VERSION {
        tx.execute("DELETE FROM ioctl_schema", &[])?;
        tx.execute("INSERT INTO ioctl_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])?;
    }
    tx.commit()?;
    Ok(())
}

/// The server's own message when it sent one, else the client's with its cause
/// (`error connecting to server: Connection refused (os error 111)`).
pub(crate) fn db_message(e: &postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => db.message().to_string(),
        (None, Some(cause)) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
        (None, _) => e.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::new(500, format!("the PostgreSQL store failed: {}", db_message(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password_and_bad_ones_are_refused_without_it() {
        let url = Url::parse("postgres://ann:s3cret@db.team.example:6543/shared").unwrap();
        assert_eq!(url.to_string(), "postgres://ann@db.team.example:6543/shared");
        assert_eq!(format!("{url:?}"), "postgres://ann@db.team.example:6543/shared");
        assert_eq!(Url::parse("postgresql://ann@localhost/x").unwrap().to_string(), "postgres://ann@localhost:5432/x");
        for bad in ["mysql://ann:s3cret@h/db", "postgres://ann:s3cret@h", "postgres://:s3cret@h/db"] {
            let e = Url::parse(bad).unwrap_err();
            assert!(!e.contains("s3cret") && e.contains(FORM), "{e}");
        }
        assert_eq!(redact("postgres://ann:p@ss@h/db"), "postgres://ann:***@h/db");
    }

    fn database(hint: &str) -> Option<Url> {
        crate::store::db::test_database(hint)
    }

    #[test]
    fn migrations_run_once_when_many_start_at_once_and_a_newer_schema_is_refused() {
        let Some(url) = database("migrations") else { return };
        let opened: Vec<_> = (0..6)
            .map(|i| {
                let url = url.clone();
                std::thread::spawn(move || Pg::open(&url, "acc", &format!("w{i}")).map(|_| ()))
            })
            .collect();
        for t in opened {
            t.join().unwrap().unwrap();
        }
        let pg = Pg::open(&url, "acc", "dev").unwrap();
        let versions: Vec<i32> = pg
            .run(|c| Ok(c.client.query("SELECT version FROM ioctl_schema", &[])?.iter().map(|r| r.get(0)).collect()))
            .unwrap();
        assert_eq!(versions, [SCHEMA_VERSION]);
        pg.run(|c| Ok(c.client.batch_execute("UPDATE ioctl_schema SET version = 99")?)).unwrap();
        let e = format!("{:#}", Pg::open(&url, "acc", "dev").err().unwrap());
        assert!(e.contains("schema is at version 99, made by a newer ioctl") && e.contains("upgrade ioctl"), "{e}");
        assert!(e.starts_with(&format!("the PostgreSQL store {url}")), "{e}");
    }

    #[test]
    fn accounts_and_workspaces_are_kept_apart_as_sqlite_files_keep_them() {
        use crate::store::{masterdata, settings, vbase, Db};
        let Some(url) = database("scopes") else { return };
        let open = |account: &str, workspace: &str| Db::Postgres(Box::new(Pg::open(&url, account, workspace).unwrap()));
        let (mut mine, other_ws, mut other_acc) = (open("acme", "dev"), open("acme", "prod"), open("globex", "dev"));
        let save = vbase::Save { data: b"1", content_type: "text/plain", gzip: false, ttl: None, if_match: None };
        vbase::save(&mut mine, "acme.app", "b", "f", &save).unwrap();
        settings::save(&mine, "acme.app", &serde_json::json!({"on": true})).unwrap();
        masterdata::import(&mut mine, "CL", &[serde_json::json!({"id": "1"})]).unwrap();
        for db in [&other_ws, &other_acc] {
            assert_eq!(vbase::get(db, "acme.app", "b", "f").unwrap_err().status, 404);
            assert_eq!(settings::saved(db, "acme.app").unwrap(), serde_json::json!({}));
        }
        assert_eq!(masterdata::count(&other_ws, "CL").unwrap(), 1, "Master Data is the account's");
        assert_eq!(masterdata::count(&other_acc, "CL").unwrap(), 0);
        masterdata::import(&mut other_acc, "CL", &[serde_json::json!({"id": "1", "x": 2})]).unwrap();
        assert_eq!(masterdata::get(&mine, "CL", "1", &[]).unwrap(), serde_json::json!({"id": "1"}));
        vbase::delete(&mine, "acme.app", "b", "f").unwrap();
        assert_eq!(vbase::delete(&other_ws, "acme.app", "b", "f").unwrap_err().status, 404);
    }

    #[test]
    fn a_connection_the_server_dropped_is_remade_on_the_next_call() {
        use crate::store::{settings, Db};
        let Some(url) = database("reconnect") else { return };
        let db = Db::Postgres(Box::new(Pg::open(&url, "acc", "dev").unwrap()));
        settings::save(&db, "acme.app", &serde_json::json!({"n": 1})).unwrap();
        let Db::Postgres(pg) = &db else { unreachable!() };
        let pid: i32 = pg.run(|c| Ok(c.client.query_one("SELECT pg_backend_pid()", &[])?.get(0))).unwrap();
        let killer = Pg::open(&url, "acc", "dev").unwrap();
        killer.run(|c| Ok(c.client.execute("SELECT pg_terminate_backend($1)", &[&pid])?)).unwrap();
        // The call that finds the connection gone says so plainly; the next one reconnects.
        if let Err(e) = settings::saved(&db, "acme.app") {
            assert!(e.message.starts_with("the PostgreSQL store failed: "), "{}", e.message);
        }
        assert_eq!(settings::saved(&db, "acme.app").unwrap(), serde_json::json!({"n": 1}));
    }
}
