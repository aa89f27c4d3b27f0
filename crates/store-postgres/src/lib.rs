//! The PostgreSQL backend of the mentor-status [`Store`]: the production database, shared safely by several
//! instances. SQL lives here and only here; every write method is one transaction.

mod alerts;
mod appends;
mod changes;
mod compensation;
mod delivery;
mod digest;
mod error;
mod history;
mod idempotency;
mod ledgers;
mod mentors;
mod notifications;
mod orgs_users;
mod plans;
mod rows;
mod runs;
mod sessions;
mod sync;
mod wakeups;
mod worklist;

use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use store::{SchemaStatus, StoreError, StoreResult, SyncWakeups};

use crate::error::db_err;

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A handle to the database; cloning shares the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The process's one LISTEN connection, started by the first relay that asks.
    wakeups: std::sync::Arc<std::sync::Mutex<Option<SyncWakeups>>>,
}

impl PgStore {
    /// Open a pool of at most `max_connections` and check that the server answers. Any failure is
    /// `Unavailable`; the error names the cause, never the URL (it may hold a password).
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            // Planned once per connection; large batches ask for plans of their own (see plans.rs).
            .options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Fail fast when the server is down: callers (readiness, requests) should answer, not hang.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> PgStore {
        PgStore {
            pool,
            wakeups: Default::default(),
        }
    }

    /// The pool, for jobs that need Postgres-specific features (LISTEN/NOTIFY, SKIP LOCKED claims).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn migrate_err(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(Box::new(other)),
    }
}

impl store::SchemaStore for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        // The migrator holds an advisory lock, so instances starting together apply each migration once.
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)?;
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
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
