//! Runs a SQL file against a SQLite database file with the SQLite the binary embeds, so the
//! benchmarks need no `sqlite3` command: `scripts/bench-backends.sh` seeds its population with it.
//!
//! ```sh
//! cargo run --release -p mentor-status-cli --example bench_sqlite_exec -- \
//!     FILE.db bench/seed-backends-sqlite.sql today=2026-11-30
//! ```
//!
//! Every `NAME=VALUE` argument is a row of the temporary table `bench_params(name, value)`, which the
//! file reads (SQLite has no client-side variables like psql's `-v`). The file runs on one connection
//! with foreign keys on, as the store's own connections have them; it manages its own transactions.
//! Prints `SQLite <version>` (the embedded library's) when done.

use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench_sqlite_exec FILE.db SCRIPT.sql [NAME=VALUE ...]";
    let database = args.next().ok_or(usage)?;
    let script_path = args.next().ok_or(usage)?;
    let script = std::fs::read_to_string(&script_path)
        .map_err(|e| format!("cannot read {script_path}: {e}"))?;

    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{database}"))?
        .foreign_keys(true)
        .connect()
        .await?;
    sqlx::raw_sql("CREATE TEMP TABLE bench_params (name TEXT PRIMARY KEY, value TEXT)")
        .execute(&mut conn)
        .await?;
    for param in args {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| format!("`{param}` is not NAME=VALUE; {usage}"))?;
        sqlx::query("INSERT INTO bench_params (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(value)
            .execute(&mut conn)
            .await?;
    }
    sqlx::raw_sql(&script)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("{script_path}: {e}"))?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    println!("SQLite {version}");
    Ok(())
}
