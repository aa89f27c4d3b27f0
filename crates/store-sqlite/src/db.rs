//! The database file and how this process uses it: one writer connection (SQLite runs one write
//! transaction at a time anyway, so a queue in this process beats retrying on SQLITE_BUSY), a pool
//! of read-only connections (WAL lets them read while the writer writes), for a server an exclusive
//! lock on the file for the life of the process, and in-process wake-ups for the relays.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use store::{StoreError, StoreResult, SyncWakeups};
use tokio::sync::watch;

use crate::error::db_err;

/// How long a statement waits for a lock held by someone else (a checkpoint, a hand-run `sqlite3`)
/// before it fails as unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection (the writer included) before the database
/// counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub(crate) struct Db {
    /// The one connection that writes; every write transaction begins IMMEDIATE on it.
    writer: SqlitePool,
    /// Read-only connections for queries outside write transactions.
    pub(crate) read: SqlitePool,
    wake: Arc<watch::Sender<u64>>,
    _lock: Option<Arc<FileLock>>,
}

/// Whether this process claims the database file for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A server: no other server may use the file while this one runs (see [`FileLock`]).
    Exclusive,
    /// A one-shot command (a migration, a manual run): it may run beside the server, its
    /// transactions queue behind the server's.
    Shared,
}

impl Db {
    pub(crate) async fn open(url: &str, readers: u32, access: Access) -> StoreResult<Db> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let path = options.get_filename().to_owned();
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            return Err(StoreError::Other(
                "an in-memory SQLite database cannot be shared by the pool: name a file, \
                 e.g. sqlite://./data/mentor-status.db"
                    .into(),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(
                    format!("cannot create the directory {}: {e}", dir.display()).into(),
                )
            })?;
        }
        let lock = match access {
            Access::Exclusive => Some(Arc::new(FileLock::acquire(&path)?)),
            Access::Shared => None,
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The source of truth: a commit is on disk when it returns, power cut or not.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // The writer first: it creates the file and switches it to WAL, which readers rely on.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let read = SqlitePoolOptions::new()
            .max_connections(readers.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Db {
            writer,
            read,
            wake: Arc::new(watch::channel(0).0),
            _lock: lock,
        })
    }

    /// The writer connection, for the migrator.
    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Begin a write transaction. IMMEDIATE takes the write lock at once, so a transaction that
    /// reads before it writes never fails half-way on a lock another connection took meanwhile.
    pub(crate) async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)
    }

    pub(crate) async fn commit(&self, tx: Transaction<'static, Sqlite>) -> StoreResult<()> {
        tx.commit().await.map_err(db_err)
    }

    /// Commit a transaction that queued sync outbox rows, and wake the relays.
    pub(crate) async fn commit_queued(&self, tx: Transaction<'static, Sqlite>) -> StoreResult<()> {
        tx.commit().await.map_err(db_err)?;
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    pub(crate) fn wakeups(&self) -> SyncWakeups {
        self.wake.subscribe()
    }
}

/// An exclusive advisory lock on `<database>.lock`, held by a server while it runs. Every guarantee
/// lives in transactions, so a one-shot command beside the server is safe; but two servers would
/// each wake only their own relays and queue their writers against each other through SQLite's
/// file lock, and SQLite is the backend for one instance — several belong on PostgreSQL.
#[derive(Debug)]
struct FileLock {
    _file: File,
}

impl FileLock {
    fn acquire(database: &Path) -> StoreResult<FileLock> {
        let path = lock_path(database);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                StoreError::Unavailable(
                    format!("cannot open the lock file {}: {e}", path.display()).into(),
                )
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                file.read_to_string(&mut holder).ok();
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                };
                return Err(StoreError::Unavailable(
                    format!(
                        "the SQLite database {} is already served by another mentor-status \
                         process{by}; one server may use a database file at a time — stop the \
                         other one, or use PostgreSQL to run several instances",
                        database.display()
                    )
                    .into(),
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::Unavailable(
                    format!("cannot lock {}: {e}", path.display()).into(),
                ));
            }
        }
        // Who holds it, for the message another process shows; the lock works without it.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        Ok(FileLock { _file: file })
    }
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}
