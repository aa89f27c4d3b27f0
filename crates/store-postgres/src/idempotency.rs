//! Idempotency keys of API requests. The insert is the claim: whoever inserts the key runs the request;
//! everyone else reads what the row says (same request finished, still running, or a different request).

use domain::UserId;
use sqlx::PgPool;
use store::{IdempotencyBegin, StoreError, StoreResult, StoredResponse};

use crate::error::{bad_column, db_err};

#[derive(sqlx::FromRow)]
struct KeyRow {
    fingerprint: String,
    response_status: Option<i16>,
    response_content_type: Option<String>,
    response_body: Option<Vec<u8>>,
    stale: bool,
}

pub(crate) async fn begin(
    pool: &PgPool,
    user: UserId,
    key: &str,
    fingerprint: &str,
    stale_after: chrono::Duration,
) -> StoreResult<IdempotencyBegin> {
    // A second round only when the row we collided with was abandoned before we could read it.
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, key) DO NOTHING",
        )
        .bind(user.0)
        .bind(key)
        .bind(fingerprint)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        if inserted == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT fingerprint, response_status, response_content_type, response_body, \
                    created_at < now() - $3 AS stale \
             FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user.0)
        .bind(key)
        .bind(stale_after)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { continue };
        if row.fingerprint != fingerprint {
            return Ok(IdempotencyBegin::Mismatch);
        }
        if let Some(status) = row.response_status {
            return stored_response(status, row.response_content_type, row.response_body)
                .map(IdempotencyBegin::Replay);
        }
        if row.stale {
            return take_over(pool, user, key, stale_after).await;
        }
        return Ok(IdempotencyBegin::InProgress);
    }
    Ok(IdempotencyBegin::InProgress)
}

/// A claim that never finished (its process died) is taken over by whoever moves it first; the
/// conditions in the UPDATE make that atomic against another request doing the same.
async fn take_over(
    pool: &PgPool,
    user: UserId,
    key: &str,
    stale_after: chrono::Duration,
) -> StoreResult<IdempotencyBegin> {
    let moved = sqlx::query(
        "UPDATE idempotency_keys SET created_at = now() \
         WHERE user_id = $1 AND key = $2 AND completed_at IS NULL AND created_at < now() - $3",
    )
    .bind(user.0)
    .bind(key)
    .bind(stale_after)
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected();
    if moved == 1 {
        tracing::info!(user = %user, "took over a stale idempotency key");
        Ok(IdempotencyBegin::Started)
    } else {
        Ok(IdempotencyBegin::InProgress)
    }
}

fn stored_response(
    status: i16,
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
    pool: &PgPool,
    user: UserId,
    key: &str,
    response: StoredResponse,
) -> StoreResult<()> {
    let status = i16::try_from(response.status).map_err(|e| StoreError::Other(Box::new(e)))?;
    let stored = sqlx::query(
        "UPDATE idempotency_keys \
         SET response_status = $3, response_content_type = $4, response_body = $5, completed_at = now() \
         WHERE user_id = $1 AND key = $2 AND completed_at IS NULL",
    )
    .bind(user.0)
    .bind(key)
    .bind(status)
    .bind(&response.content_type)
    .bind(&response.body)
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected();
    // Nothing to complete: the claim was abandoned, or another request already finished it.
    if stored == 0 {
        return Err(StoreError::not_found("idempotency key"));
    }
    Ok(())
}

pub(crate) async fn abandon(pool: &PgPool, user: UserId, key: &str) -> StoreResult<()> {
    // A finished request keeps its response; only an unfinished claim is forgotten.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND completed_at IS NULL",
    )
    .bind(user.0)
    .bind(key)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

impl store::IdempotencyStore for crate::PgStore {
    async fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        begin(&self.pool, user, key, fingerprint, stale_after).await
    }
    async fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        complete(&self.pool, user, key, response).await
    }
    async fn idempotency_abandon(&self, user: UserId, key: &str) -> StoreResult<()> {
        abandon(&self.pool, user, key).await
    }
}
