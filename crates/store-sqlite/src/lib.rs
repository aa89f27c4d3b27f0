//! The embedded SQLite backend of the mentor-status [`Store`]: the whole service from one file, no
//! database server. It keeps every guarantee of the PostgreSQL backend — unique claims,
//! compare-and-set transitions, one transaction per change with its history, outbox and
//! notifications — for one process per file (see `db.rs`). SQL lives here and only here.

mod alerts;
mod appends;
mod changes;
mod compensation;
mod db;
mod delivery;
mod digest;
mod error;
mod exists;
mod history;
mod idempotency;
mod ledgers;
mod mentors;
mod notifications;
mod orgs_users;
mod rows;
mod runs;
mod sessions;
mod sync;
mod time;
mod worklist;

use sqlx::migrate::{MigrateError, Migrator};
use store::{SchemaStatus, StoreError, StoreResult};

pub use crate::db::Access;
use crate::db::Db;
use crate::error::db_err;

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A handle to the database file; cloning shares the connections and the file lock.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Db,
}

impl SqliteStore {
    /// Open (creating it and its directory if missing) the database a `sqlite://` URL names, with
    /// up to `readers` read connections. With [`Access::Exclusive`] it fails as `Unavailable` when
    /// another server holds the file.
    pub async fn connect(
        url: &str,
        readers: u32,
        access: Access,
    ) -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore {
            db: Db::open(url, readers, access).await?,
        })
    }
}

fn migrate_err(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(Box::new(other)),
    }
}

impl store::SchemaStore for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(self.db.writer()).await.map_err(migrate_err)?;
        tracing::info!(
            migrations = MIGRATOR.iter().count(),
            "database schema is current"
        );
        Ok(())
    }
    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        let known: Vec<i64> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        // A database that was never migrated has no migrations table: nothing applied, not an error.
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.db.read)
        .await
        .map_err(db_err)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.db.read)
                .await
                .map_err(db_err)?
        } else {
            Vec::new()
        };
        Ok(SchemaStatus {
            known: known.len(),
            applied: applied.iter().filter(|v| known.contains(v)).count(),
        })
    }
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.read)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
