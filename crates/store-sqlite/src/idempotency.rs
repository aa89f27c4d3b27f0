//! Idempotency keys of API requests. The insert is the claim: whoever inserts the key runs the request;
//! everyone else reads what the row says (same request finished, still running, or a different request).
//! Insert, read and takeover happen in one write transaction, so no other request moves the row between.

use chrono::{DateTime, Utc};
use domain::UserId;
use store::{IdempotencyBegin, StoreError, StoreResult, StoredResponse};

use crate::db::Db;
use crate::error::{bad_column, db_err};
use crate::time::Ts;

#[derive(sqlx::FromRow)]
struct KeyRow {
    fingerprint: String,
    response_status: Option<i64>,
    response_content_type: Option<String>,
    response_body: Option<Vec<u8>>,
    stale: bool,
}

pub(crate) async fn begin(
    db: &Db,
    user: UserId,
    key: &str,
    fingerprint: &str,
    stale_after: chrono::Duration,
) -> StoreResult<IdempotencyBegin> {
    let now = Utc::now();
    // Claims stamped before this are stale. This process's clock stamped them (see `time.rs`).
    let stale_before = now
        .checked_sub_signed(stale_after)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut tx = db.begin().await?;
    // SQLite's foreign-key failure does not name the key; PostgreSQL's says "user".
    let user_exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = ?")
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    if user_exists.is_none() {
        return Err(StoreError::not_found("user"));
    }
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, created_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user.0)
    .bind(key)
    .bind(fingerprint)
    .bind(Ts(now))
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    if inserted == 1 {
        db.commit(tx).await?;
        return Ok(IdempotencyBegin::Started);
    }
    let row: KeyRow = sqlx::query_as(
        "SELECT fingerprint, response_status, response_content_type, response_body, \
                created_at < ? AS stale \
         FROM idempotency_keys WHERE user_id = ? AND key = ?",
    )
    .bind(Ts(stale_before))
    .bind(user.0)
    .bind(key)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    let outcome = if row.fingerprint != fingerprint {
        IdempotencyBegin::Mismatch
    } else if let Some(status) = row.response_status {
        IdempotencyBegin::Replay(stored_response(
            status,
            row.response_content_type,
            row.response_body,
        )?)
    } else if row.stale {
        // A claim that never finished (its process died) is taken over by restamping it.
        sqlx::query("UPDATE idempotency_keys SET created_at = ? WHERE user_id = ? AND key = ?")
            .bind(Ts(now))
            .bind(user.0)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tracing::info!(user = %user, "took over a stale idempotency key");
        IdempotencyBegin::Started
    } else {
        IdempotencyBegin::InProgress
    };
    db.commit(tx).await?;
    Ok(outcome)
}

fn stored_response(
    status: i64,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
) -> StoreResult<StoredResponse> {
    // A CHECK stores the three response columns together.
    match (u16::try_from(status), content_type, body) {
        (Ok(status), Some(content_type), Some(body)) => Ok(StoredResponse {
            status,
            content_type,
            body,
        }),
        _ => Err(bad_column("idempotency_keys.response_status")),
    }
}

pub(crate) async fn complete(
    db: &Db,
    user: UserId,
    key: &str,
    response: StoredResponse,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let stored = sqlx::query(
        "UPDATE idempotency_keys \
         SET response_status = ?, response_content_type = ?, response_body = ?, completed_at = ? \
         WHERE user_id = ? AND key = ? AND completed_at IS NULL",
    )
    .bind(i64::from(response.status))
    .bind(&response.content_type)
    .bind(&response.body)
    .bind(Ts::now())
    .bind(user.0)
    .bind(key)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    // Nothing to complete: the claim was abandoned, or another request already finished it.
    if stored == 0 {
        return Err(StoreError::not_found("idempotency key"));
    }
    db.commit(tx).await
}

pub(crate) async fn abandon(db: &Db, user: UserId, key: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    // A finished request keeps its response; only an unfinished claim is forgotten.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND completed_at IS NULL",
    )
    .bind(user.0)
    .bind(key)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await
}

impl store::IdempotencyStore for crate::SqliteStore {
    async fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        begin(&self.db, user, key, fingerprint, stale_after).await
    }
    async fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        complete(&self.db, user, key, response).await
    }
    async fn idempotency_abandon(&self, user: UserId, key: &str) -> StoreResult<()> {
        abandon(&self.db, user, key).await
    }
}
