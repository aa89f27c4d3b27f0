//! How statements that bind whole batches as arrays are planned.
//!
//! Connections plan generically (`plan_cache_mode = force_generic_plan`, see `PgStore::connect`): the
//! API's one-mentor changes were otherwise planned anew on every execution, which cost more than
//! running them. A generic plan does not know how long the arrays are or which dates are asked for,
//! though: for the nightly run's batches of thousands it joined them row by row (seconds per batch),
//! and its worklist scanned whole tables. Large batches, the nightly run's reads, claims and run
//! bookkeeping therefore run in transactions planned for their actual arguments.

use sqlx::{PgPool, Postgres, Transaction};
use store::StoreResult;

use crate::error::db_err;

/// From this many rows a batch is planned for its actual size.
pub(crate) const LARGE_BATCH: usize = 32;

/// A transaction whose statements are planned for their actual arguments.
pub(crate) async fn begin_custom_planned(
    pool: &PgPool,
) -> StoreResult<Transaction<'static, Postgres>> {
    pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_custom_plan")
        .await
        .map_err(db_err)
}

/// A transaction whose statements find a batch's rows key by key: nested loops over index scans only
/// (seq scans, bitmap scans, hash and merge joins off). The outbox changes faster than its
/// statistics: one not analysed yet looks tiny to the planner, which then sorts the whole queue for
/// every claim, ANDs a bitmap of every pending row into each per-mentor lookup, or hash-joins a batch
/// of 100 against the whole queue (up to seconds per statement at 100,000 rows, growing with it).
pub(crate) async fn begin_index_lookups(
    pool: &PgPool,
) -> StoreResult<Transaction<'static, Postgres>> {
    pool.begin_with(
        "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan; \
         SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off; \
         SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
    )
    .await
    .map_err(db_err)
}
