//! Fixtures the Postgres-only test binaries share. Each uses a part of them, hence the allowance.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use domain::{OrgSlug, OrgTimeZone};
use mentor_status_store_postgres::PgStore;
use store::prelude::*;
use store::{NewOrg, Org};
use testkit::TestDatabase;

/// A migrated store on its own database; the database is dropped with this value.
pub struct Db {
    pub store: PgStore,
    pub _db: TestDatabase,
}

pub async fn db() -> Db {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(db.url(), 5).await.expect("connect");
    store.migrate().await.expect("migrate");
    Db { store, _db: db }
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 instant")
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("YYYY-MM-DD")
}

pub async fn org(store: &PgStore, slug: &str) -> Org {
    store
        .create_org(NewOrg {
            slug: OrgSlug::parse(slug).unwrap(),
            name: slug.to_uppercase(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .expect("create org")
}

/// Rows in `table`.
pub async fn count(store: &PgStore, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap()
}
