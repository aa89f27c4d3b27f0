//! Alerts for the operations team: one open alert per incident. The partial unique index on open
//! alerts' dedupe keys makes "open or count again" one atomic upsert, whoever raises it concurrently.

use chrono::{DateTime, Utc};
use domain::{OrgId, UserId};
use sqlx::PgPool;
use store::{AlertOpened, AlertRecord, NewAlert, Page, Severity, StoreError, StoreResult};
use uuid::Uuid;

use crate::error::{bad_column, db_err};

pub(crate) const ALERT_COLUMNS: &str = "id, org_id, kind, severity, dedupe_key, summary, first_seen, last_seen, \
     count, acknowledged_by, acknowledged_at, resolved_at";

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: Uuid,
    org_id: Option<Uuid>,
    kind: String,
    severity: String,
    dedupe_key: String,
    summary: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
    acknowledged_by: Option<Uuid>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

impl TryFrom<AlertRow> for AlertRecord {
    type Error = StoreError;
    fn try_from(row: AlertRow) -> Result<Self, StoreError> {
        Ok(AlertRecord {
            id: row.id,
            org_id: row.org_id.map(OrgId),
            kind: row.kind,
            severity: Severity::parse(&row.severity)
                .ok_or_else(|| bad_column("alerts.severity"))?,
            dedupe_key: row.dedupe_key,
            summary: row.summary,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            count: row.count,
            acknowledged_by: row.acknowledged_by.map(UserId),
            acknowledged_at: row.acknowledged_at,
            resolved_at: row.resolved_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OpenedRow {
    #[sqlx(flatten)]
    alert: AlertRow,
    inserted: bool,
}

pub(crate) async fn open_alert(pool: &PgPool, alert: NewAlert) -> StoreResult<AlertOpened> {
    // `xmax = 0` on the returned row: this statement inserted it (an update leaves its own xid there).
    let row: OpenedRow = sqlx::query_as(&format!(
        "INSERT INTO alerts (id, org_id, kind, severity, dedupe_key, summary, first_seen, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (dedupe_key) WHERE resolved_at IS NULL DO UPDATE \
             SET count = alerts.count + 1, last_seen = EXCLUDED.last_seen, summary = EXCLUDED.summary \
         RETURNING {ALERT_COLUMNS}, (xmax = 0) AS inserted"
    ))
    .bind(Uuid::now_v7())
    .bind(alert.org.map(|o| o.0))
    .bind(&alert.kind)
    .bind(alert.severity.as_str())
    .bind(&alert.dedupe_key)
    .bind(&alert.summary)
    .bind(alert.at)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(AlertOpened {
        alert: row.alert.try_into()?,
        newly_opened: row.inserted,
    })
}

pub(crate) async fn resolve_alert(
    pool: &PgPool,
    dedupe_key: &str,
    at: DateTime<Utc>,
) -> StoreResult<Option<AlertRecord>> {
    let row: Option<AlertRow> = sqlx::query_as(&format!(
        "UPDATE alerts SET resolved_at = $2 WHERE dedupe_key = $1 AND resolved_at IS NULL \
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(dedupe_key)
    .bind(at)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.map(AlertRecord::try_from).transpose()
}

pub(crate) async fn alerts(
    pool: &PgPool,
    org: OrgId,
    open_only: bool,
    limit: u32,
    before: Option<Uuid>,
) -> StoreResult<Page<AlertRecord, Uuid>> {
    // Alert ids are UUIDv7, so newest first by id is newest first by opening.
    let rows: Vec<AlertRow> = sqlx::query_as(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts \
         WHERE org_id = $1 AND (NOT $2 OR resolved_at IS NULL) AND ($3::uuid IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(org.0)
    .bind(open_only)
    .bind(before)
    .bind(store::page_fetch_limit(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(AlertRecord::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(records, limit, |a| a.id))
}

pub(crate) async fn acknowledge_alert(
    pool: &PgPool,
    org: OrgId,
    id: Uuid,
    user: UserId,
    at: DateTime<Utc>,
) -> StoreResult<AlertRecord> {
    // The first acknowledgement stays: who took it on, and when, is what the team needs to know.
    let row: Option<AlertRow> = sqlx::query_as(&format!(
        "UPDATE alerts \
         SET acknowledged_by = COALESCE(acknowledged_by, $3), \
             acknowledged_at = COALESCE(acknowledged_at, $4) \
         WHERE id = $1 AND org_id = $2 \
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(id)
    .bind(org.0)
    .bind(user.0)
    .bind(at)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.ok_or(StoreError::not_found("alert"))?.try_into()
}

impl store::AlertStore for crate::PgStore {
    async fn open_alert(&self, alert: NewAlert) -> StoreResult<AlertOpened> {
        open_alert(&self.pool, alert).await
    }
    async fn resolve_alert(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<AlertRecord>> {
        resolve_alert(&self.pool, dedupe_key, at).await
    }
    async fn alerts(
        &self,
        org: OrgId,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> StoreResult<Page<AlertRecord, Uuid>> {
        alerts(&self.pool, org, open_only, limit, before).await
    }
    async fn acknowledge_alert(
        &self,
        org: OrgId,
        id: Uuid,
        user: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<AlertRecord> {
        acknowledge_alert(&self.pool, org, id, user, at).await
    }
}
