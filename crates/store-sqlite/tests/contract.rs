//! The store contract suite (crate `store`, feature `contract`) on SQLite: a fresh database file in a
//! temporary directory per check, removed when it ends.

use mentor_status_store_sqlite::{Access, SqliteStore};
use store::prelude::*;
use tempfile::TempDir;

async fn fresh() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = SqliteStore::connect(&url, 8, Access::Exclusive)
        .await
        .expect("open");
    store.migrate().await.expect("migrate");
    (store, dir)
}

store::store_contract_tests!(fresh);
