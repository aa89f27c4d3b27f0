//! A fresh PostgreSQL database for each test, dropped when the test ends (also when it panics); with
//! the `backends` feature, tests written once and run on both backends (see [`backends`]).
//!
//! The server is found through `TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A test fails with a clear message when it is
//! not reachable; it never skips.

#[cfg(feature = "backends")]
pub mod backends;
pub mod cluster;
mod poll;

#[cfg(feature = "backends")]
pub use backends::{Postgres, Sqlite, SqliteDatabase, TestBackend};
pub use cluster::PrivateCluster;
pub use poll::{poll_until, poll_until_watching};

use sqlx::{Connection, Executor, PgConnection};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for the lifetime of this value.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Create an empty database with a unique name.
    pub async fn create() -> TestDatabase {
        Self::create_on(admin_url()).await
    }

    /// Create an empty database with a unique name on the server of `admin_url` (e.g. a
    /// [`PrivateCluster`]'s).
    pub async fn create_on(admin_url: String) -> TestDatabase {
        let name = format!("mentor_status_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at TEST_DATABASE_URL ({}): {e}. \
                 Start it (see README: Testing) or set TEST_DATABASE_URL.",
                redact(&admin_url)
            )
        });
        admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        admin.close().await.ok();
        let url = with_database(&admin_url, &name);
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside a Tokio runtime (or while unwinding), where blocking on async work is
        // not allowed; a short-lived thread with its own runtime does the cleanup.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build runtime for test database cleanup");
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// The admin connection to the test server: `TEST_DATABASE_URL`, or [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// The same server URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let credentials = &url[start + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }

    #[test]
    fn hides_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[tokio::test]
    async fn a_test_database_exists_until_dropped() {
        let db = TestDatabase::create().await;
        let mut conn = PgConnection::connect(db.url()).await.unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        conn.close().await.unwrap();
        let name = db.name().to_owned();
        drop(db);
        let mut admin = PgConnection::connect(&admin_url()).await.unwrap();
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        assert!(!exists, "test database {name} should be dropped");
    }
}
