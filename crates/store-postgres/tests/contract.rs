//! The store contract suite (crate `store`, feature `contract`) on PostgreSQL: a fresh database per
//! check, dropped when it ends.

use mentor_status_store_postgres::PgStore;
use store::prelude::*;
use testkit::TestDatabase;

async fn fresh() -> (PgStore, TestDatabase) {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(db.url(), 12).await.expect("connect");
    store.migrate().await.expect("migrate");
    (store, db)
}

store::store_contract_tests!(fresh);
