//! Dashboard sessions and failed logins. Instants come from the caller and are bound as [`Ts`], so
//! comparing their text compares the time.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use store::{
    LoginFailure, LoginFailureCounts, NewSession, SessionRecord, StoreError, StoreResult,
    TokenHash, User, session_needs_touch,
};

use crate::db::Db;
use crate::error::db_err;
use crate::rows::{USER_COLUMNS, UserRow};
use crate::time::Ts;

/// The user's columns, qualified for a join with the session.
static USER_COLUMNS_OF_U: LazyLock<String> = LazyLock::new(|| {
    USER_COLUMNS
        .split(", ")
        .map(|column| format!("u.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
});

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf_token: String,
    session_created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

pub(crate) async fn create_session(db: &Db, session: NewSession) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    // SQLite's foreign-key failure does not say which reference is missing.
    let user_exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
        .bind(session.user_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    if user_exists.is_none() {
        return Err(StoreError::not_found("user"));
    }
    sqlx::query(
        "INSERT INTO dashboard_sessions \
             (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&session.token_hash[..])
    .bind(session.user_id.0)
    .bind(&session.csrf_token)
    .bind(Ts(session.created_at))
    .bind(Ts(session.created_at))
    .bind(Ts(session.expires_at))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await
}

pub(crate) async fn session(
    db: &Db,
    token_hash: &TokenHash,
    now: DateTime<Utc>,
    idle: chrono::Duration,
) -> StoreResult<Option<SessionRecord>> {
    let idle_since = now
        .checked_sub_signed(idle)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let row: Option<SessionRow> = sqlx::query_as(&format!(
        "SELECT {columns}, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, \
                s.expires_at \
         FROM dashboard_sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen_at > ?",
        columns = USER_COLUMNS_OF_U.as_str()
    ))
    .bind(&token_hash[..])
    .bind(Ts(now))
    .bind(Ts(idle_since))
    .fetch_optional(&db.read)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let mut last_seen_at = row.last_seen_at;
    if session_needs_touch(last_seen_at, now) {
        let mut tx = db.begin().await?;
        // Never backwards: another request may have seen it later meanwhile.
        sqlx::query(
            "UPDATE dashboard_sessions SET last_seen_at = ? \
             WHERE token_hash = ? AND last_seen_at < ?",
        )
        .bind(Ts(now))
        .bind(&token_hash[..])
        .bind(Ts(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        db.commit(tx).await?;
        last_seen_at = now;
    }
    Ok(Some(SessionRecord {
        user: User::try_from(row.user)?,
        csrf_token: row.csrf_token,
        created_at: row.session_created_at,
        last_seen_at,
        expires_at: row.expires_at,
    }))
}

pub(crate) async fn delete_session(db: &Db, token_hash: &TokenHash) -> StoreResult<bool> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = ?")
        .bind(&token_hash[..])
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    db.commit(tx).await?;
    Ok(deleted > 0)
}

pub(crate) async fn delete_expired_sessions(
    db: &Db,
    now: DateTime<Utc>,
    idle: chrono::Duration,
) -> StoreResult<u64> {
    let idle_since = now
        .checked_sub_signed(idle)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut tx = db.begin().await?;
    let deleted =
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= ? OR last_seen_at <= ?")
            .bind(Ts(now))
            .bind(Ts(idle_since))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    db.commit(tx).await?;
    Ok(deleted)
}

pub(crate) async fn record_login_failure(db: &Db, failure: LoginFailure) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO dashboard_login_failures (account, address, failed_at) VALUES (?, ?, ?)",
    )
    .bind(&failure.account)
    .bind(&failure.address)
    .bind(Ts(failure.at))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await
}

pub(crate) async fn login_failures_since(
    db: &Db,
    account: &str,
    address: &str,
    since: DateTime<Utc>,
) -> StoreResult<LoginFailureCounts> {
    let (by_account, by_address): (i64, i64) = sqlx::query_as(
        "SELECT \
             (SELECT count(*) FROM dashboard_login_failures WHERE account = ? AND failed_at >= ?), \
             (SELECT count(*) FROM dashboard_login_failures WHERE address = ? AND failed_at >= ?)",
    )
    .bind(account)
    .bind(Ts(since))
    .bind(address)
    .bind(Ts(since))
    .fetch_one(&db.read)
    .await
    .map_err(db_err)?;
    Ok(LoginFailureCounts {
        account: by_account.unsigned_abs(),
        address: by_address.unsigned_abs(),
    })
}

pub(crate) async fn prune_login_failures(db: &Db, before: DateTime<Utc>) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let deleted = sqlx::query("DELETE FROM dashboard_login_failures WHERE failed_at < ?")
        .bind(Ts(before))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    db.commit(tx).await?;
    Ok(deleted)
}

impl store::SessionStore for crate::SqliteStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        create_session(&self.db, session).await
    }
    async fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<Option<SessionRecord>> {
        session(&self.db, token_hash, now, idle).await
    }
    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        delete_session(&self.db, token_hash).await
    }
    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        delete_expired_sessions(&self.db, now, idle).await
    }
    async fn record_login_failure(&self, failure: LoginFailure) -> StoreResult<()> {
        record_login_failure(&self.db, failure).await
    }
    async fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailureCounts> {
        login_failures_since(&self.db, account, address, since).await
    }
    async fn prune_login_failures(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        prune_login_failures(&self.db, before).await
    }
}
