//! Dashboard sessions and failed logins. Instants come from the caller (the application's clock).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use store::{
    LoginFailure, LoginFailureCounts, NewSession, SessionRecord, StoreResult, TokenHash, User,
    session_needs_touch,
};

use crate::error::db_err;
use crate::rows::{USER_COLUMNS, UserRow};

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

pub(crate) async fn create_session(pool: &PgPool, session: NewSession) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dashboard_sessions \
             (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(&session.token_hash[..])
    .bind(session.user_id.0)
    .bind(&session.csrf_token)
    .bind(session.created_at)
    .bind(session.expires_at)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn session(
    pool: &PgPool,
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
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
        columns = USER_COLUMNS_OF_U.as_str()
    ))
    .bind(&token_hash[..])
    .bind(now)
    .bind(idle_since)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let mut last_seen_at = row.last_seen_at;
    if session_needs_touch(last_seen_at, now) {
        // Never backwards: another request may have seen it later meanwhile.
        sqlx::query(
            "UPDATE dashboard_sessions SET last_seen_at = $2 \
             WHERE token_hash = $1 AND last_seen_at < $2",
        )
        .bind(&token_hash[..])
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)?;
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

pub(crate) async fn delete_session(pool: &PgPool, token_hash: &TokenHash) -> StoreResult<bool> {
    let deleted = sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
        .bind(&token_hash[..])
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
    Ok(deleted > 0)
}

pub(crate) async fn delete_expired_sessions(
    pool: &PgPool,
    now: DateTime<Utc>,
    idle: chrono::Duration,
) -> StoreResult<u64> {
    let idle_since = now
        .checked_sub_signed(idle)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(idle_since)
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected(),
    )
}

pub(crate) async fn record_login_failure(pool: &PgPool, failure: LoginFailure) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dashboard_login_failures (account, address, failed_at) VALUES ($1, $2, $3)",
    )
    .bind(&failure.account)
    .bind(&failure.address)
    .bind(failure.at)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn login_failures_since(
    pool: &PgPool,
    account: &str,
    address: &str,
    since: DateTime<Utc>,
) -> StoreResult<LoginFailureCounts> {
    let (by_account, by_address): (i64, i64) = sqlx::query_as(
        "SELECT \
             (SELECT count(*) FROM dashboard_login_failures WHERE account = $1 AND failed_at >= $3), \
             (SELECT count(*) FROM dashboard_login_failures WHERE address = $2 AND failed_at >= $3)",
    )
    .bind(account)
    .bind(address)
    .bind(since)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(LoginFailureCounts {
        account: by_account.unsigned_abs(),
        address: by_address.unsigned_abs(),
    })
}

pub(crate) async fn prune_login_failures(pool: &PgPool, before: DateTime<Utc>) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM dashboard_login_failures WHERE failed_at < $1")
            .bind(before)
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected(),
    )
}

impl store::SessionStore for crate::PgStore {
    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        create_session(&self.pool, session).await
    }
    async fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<Option<SessionRecord>> {
        session(&self.pool, token_hash, now, idle).await
    }
    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        delete_session(&self.pool, token_hash).await
    }
    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        delete_expired_sessions(&self.pool, now, idle).await
    }
    async fn record_login_failure(&self, failure: LoginFailure) -> StoreResult<()> {
        record_login_failure(&self.pool, failure).await
    }
    async fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailureCounts> {
        login_failures_since(&self.pool, account, address, since).await
    }
    async fn prune_login_failures(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        prune_login_failures(&self.pool, before).await
    }
}
