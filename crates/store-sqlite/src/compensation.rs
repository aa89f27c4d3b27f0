//! The compensation check: duplicate effects for one certification period or day, which the unique
//! keys should make impossible, and the reconciliation log its findings go to. Each query reads one
//! organisation through a partial index made for it, not whole tables.

use chrono::{DateTime, Utc};
use domain::{MentorId, OrgId};
use store::{Finding, FindingRecord, Page, RunId, StoreResult};
use uuid::Uuid;

use crate::db::Db;
use crate::digest::DIGEST_KIND;
use crate::error::db_err;
use crate::time::Ts;

/// Two reminder notifications for one (mentor, threshold, expiry date); two automatic expiries for one
/// expiry date. The payload fields are the ones the engine writes (`threshold_days`,
/// `certification_expires_on`); the expressions are those of `notifications_reminder_idx`.
const DUPLICATE_REMINDERS_AND_EXPIRIES: &str = "\
SELECT 'duplicate_reminder' AS kind, mentor_id, \
       'threshold=' || COALESCE(payload ->> 'threshold_days', '?') \
           || ' expires_on=' || COALESCE(payload ->> 'certification_expires_on', '?') AS key, \
       count(*) AS count \
FROM notifications \
WHERE org_id = ?1 AND kind = 'certification_reminder' \
GROUP BY mentor_id, payload ->> 'threshold_days', payload ->> 'certification_expires_on' \
HAVING count(*) > 1 \
UNION ALL \
SELECT 'duplicate_expiry', mentor_id, \
       'expires_on=' || COALESCE(certification_expires_on, 'none'), \
       count(*) \
FROM status_history \
WHERE org_id = ?1 AND actor_kind = 'system' AND to_status = 'certification_expired' \
GROUP BY mentor_id, certification_expires_on \
HAVING count(*) > 1";

/// Two digests for one coordinator and day. The coordinator's id is a BLOB, so its key is written
/// here in Rust.
const DUPLICATE_DIGESTS: &str = "\
SELECT recipient_user_id, payload ->> 'business_date' AS business_date, count(*) AS count \
FROM notifications \
WHERE org_id = ?1 AND kind = ?2 \
GROUP BY recipient_user_id, payload ->> 'business_date' \
HAVING count(*) > 1";

#[derive(sqlx::FromRow)]
struct FindingRow {
    kind: String,
    mentor_id: Option<Uuid>,
    key: String,
    count: i64,
}

#[derive(sqlx::FromRow)]
struct DuplicateDigestRow {
    recipient_user_id: Option<Uuid>,
    business_date: Option<String>,
    count: i64,
}

pub(crate) async fn find_duplicate_effects(db: &Db, org: OrgId) -> StoreResult<Vec<Finding>> {
    // One snapshot for both statements.
    let mut tx = db.read.begin().await.map_err(db_err)?;
    let rows: Vec<FindingRow> = sqlx::query_as(DUPLICATE_REMINDERS_AND_EXPIRIES)
        .bind(org.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let digests: Vec<DuplicateDigestRow> = sqlx::query_as(DUPLICATE_DIGESTS)
        .bind(org.0)
        .bind(DIGEST_KIND)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;

    let mut findings: Vec<Finding> = rows
        .into_iter()
        .map(|row| Finding {
            kind: row.kind,
            mentor_id: row.mentor_id.map(MentorId),
            key: row.key,
            count: row.count,
        })
        .chain(digests.into_iter().map(|row| Finding {
            kind: "duplicate_digest".to_owned(),
            mentor_id: None,
            key: format!(
                "coordinator={} business_date={}",
                row.recipient_user_id
                    .map_or_else(|| "?".to_owned(), |u| u.to_string()),
                row.business_date.as_deref().unwrap_or("?")
            ),
            count: row.count,
        }))
        .collect();
    // By kind, then mentor (findings without one first), then key.
    findings.sort_by(|a, b| (&a.kind, a.mentor_id, &a.key).cmp(&(&b.kind, b.mentor_id, &b.key)));
    Ok(findings)
}

pub(crate) async fn record_findings(
    db: &Db,
    org: OrgId,
    run: Option<RunId>,
    findings: Vec<Finding>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for finding in &findings {
        sqlx::query(
            "INSERT INTO reconciliation_log (org_id, run_id, kind, mentor_id, key, count, found_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(org.0)
        .bind(run.map(|r| r.0))
        .bind(&finding.kind)
        .bind(finding.mentor_id.map(|m| m.0))
        .bind(&finding.key)
        .bind(finding.count)
        .bind(Ts(at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    db.commit(tx).await
}

/// A reconciliation log row.
#[derive(sqlx::FromRow)]
struct LogRow {
    id: i64,
    run_id: Option<Uuid>,
    kind: String,
    mentor_id: Option<Uuid>,
    key: String,
    count: i64,
    found_at: DateTime<Utc>,
}

pub(crate) async fn findings(
    db: &Db,
    org: OrgId,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Page<FindingRecord, i64>> {
    let rows: Vec<LogRow> = sqlx::query_as(
        "SELECT id, run_id, kind, mentor_id, key, count, found_at FROM reconciliation_log \
         WHERE org_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
    )
    .bind(org.0)
    .bind(before)
    .bind(store::page_fetch_limit(limit))
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(|row| FindingRecord {
            id: row.id,
            run_id: row.run_id.map(RunId),
            finding: Finding {
                kind: row.kind,
                mentor_id: row.mentor_id.map(MentorId),
                key: row.key,
                count: row.count,
            },
            found_at: row.found_at,
        })
        .collect();
    Ok(Page::from_fetched(records, limit, |f| f.id))
}

impl store::FindingStore for crate::SqliteStore {
    async fn find_duplicate_effects(&self, org: OrgId) -> StoreResult<Vec<Finding>> {
        find_duplicate_effects(&self.db, org).await
    }
    async fn record_findings(
        &self,
        org: OrgId,
        run: Option<RunId>,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        record_findings(&self.db, org, run, findings, at).await
    }
    async fn findings(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<FindingRecord, i64>> {
        findings(&self.db, org, limit, before).await
    }
}
