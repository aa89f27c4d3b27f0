//! Tests written once, generic over [`TestBackend`], and run on PostgreSQL and on SQLite by
//! [`on_both_backends!`](crate::on_both_backends): every guarantee the engine and the API rely on is
//! checked on both stores.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, PgConnection};
use store::{SchemaStore, Store};
use store_postgres::PgStore;
use store_sqlite::{Access, SqliteStore};

use crate::TestDatabase;

/// A store backend as tests see it: an empty database that lives as long as its value, stores on it
/// (each like another instance's), and plain SQL on it as an operator would type it. SQL given to
/// [`TestBackend::scalar`] and friends must be portable between PostgreSQL and SQLite.
pub trait TestBackend: Send + Sync + 'static {
    type Store: Store;
    type Database: Send + Sync + 'static;
    const NAME: &'static str;

    /// An empty database, removed when the value drops.
    fn create() -> impl Future<Output = Self::Database> + Send;
    /// A migrated store on `db` with up to `connections` connections; every call gives another
    /// handle, as another instance (or process) would have.
    fn open(db: &Self::Database, connections: u32) -> impl Future<Output = Self::Store> + Send;
    /// The URL a `mentor-status` process uses for `db`.
    fn url(db: &Self::Database) -> String;
    /// Run a statement; returns the rows it changed.
    fn execute(db: &Self::Database, sql: &str) -> impl Future<Output = u64> + Send;
    /// The one integer a query returns.
    fn scalar(db: &Self::Database, sql: &str) -> impl Future<Output = i64> + Send;
    /// The one text column of every row a query returns.
    fn strings(db: &Self::Database, sql: &str) -> impl Future<Output = Vec<String>> + Send;
}

/// The production backend.
pub struct Postgres;

impl TestBackend for Postgres {
    type Store = PgStore;
    type Database = TestDatabase;
    const NAME: &'static str = "postgres";

    async fn create() -> TestDatabase {
        TestDatabase::create().await
    }

    async fn open(db: &TestDatabase, connections: u32) -> PgStore {
        let store = PgStore::connect(db.url(), connections)
            .await
            .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
        store.migrate().await.expect("migrate the test database");
        store
    }

    fn url(db: &TestDatabase) -> String {
        db.url().to_owned()
    }

    async fn execute(db: &TestDatabase, sql: &str) -> u64 {
        let mut conn = PgConnection::connect(db.url()).await.expect("connect");
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    async fn scalar(db: &TestDatabase, sql: &str) -> i64 {
        let mut conn = PgConnection::connect(db.url()).await.expect("connect");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn strings(db: &TestDatabase, sql: &str) -> Vec<String> {
        let mut conn = PgConnection::connect(db.url()).await.expect("connect");
        sqlx::query_scalar(sql)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// The embedded backend.
pub struct Sqlite;

/// A database file in a temporary directory, removed with it.
pub struct SqliteDatabase {
    dir: tempfile::TempDir,
}

impl SqliteDatabase {
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("mentor-status.db")
    }

    async fn connection(&self) -> SqliteConnection {
        let options = SqliteConnectOptions::from_str(&Sqlite::url(self))
            .expect("a SQLite URL")
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        SqliteConnection::connect_with(&options)
            .await
            .expect("open the test database file")
    }
}

impl TestBackend for Sqlite {
    type Store = SqliteStore;
    type Database = SqliteDatabase;
    const NAME: &'static str = "sqlite";

    async fn create() -> SqliteDatabase {
        SqliteDatabase {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    async fn open(db: &SqliteDatabase, connections: u32) -> SqliteStore {
        let store = SqliteStore::connect(&Self::url(db), connections, Access::Shared)
            .await
            .unwrap_or_else(|e| panic!("open the test database: {e}"));
        store.migrate().await.expect("migrate the test database");
        store
    }

    fn url(db: &SqliteDatabase) -> String {
        format!("sqlite://{}", db.path().display())
    }

    async fn execute(db: &SqliteDatabase, sql: &str) -> u64 {
        sqlx::query(sql)
            .execute(&mut db.connection().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    async fn scalar(db: &SqliteDatabase, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&mut db.connection().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn strings(db: &SqliteDatabase, sql: &str) -> Vec<String> {
        sqlx::query_scalar(sql)
            .fetch_all(&mut db.connection().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Run each named test (`async fn name<B: TestBackend>()`) on both backends, as
/// `postgres::name` and `sqlite::name`, on a multi-threaded runtime.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test::<$crate::Postgres>().await
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test::<$crate::Sqlite>().await
                }
            )+
        }
    };
}
