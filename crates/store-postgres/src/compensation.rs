//! The compensation check: duplicate effects for one certification period or day, which the unique
//! keys should make impossible, and the reconciliation log its findings go to. Each query reads one
//! organisation through a partial index made for it (migration 0002), not whole tables.

use chrono::{DateTime, Utc};
use domain::{MentorId, OrgId};
use sqlx::PgPool;
use store::{Finding, FindingRecord, Page, RunId, StoreResult};
use uuid::Uuid;

use crate::error::db_err;

/// Two reminder notifications for one (mentor, threshold, expiry date); two automatic expiries for one
/// expiry date; two digests for one coordinator and day. The payload fields are the ones the engine
/// writes (`threshold_days`, `certification_expires_on`; `business_date` for digests).
const DUPLICATES: &str = r#"
SELECT kind, mentor_id, key, count FROM (
    SELECT 'duplicate_reminder' AS kind, n.mentor_id,
           'threshold=' || COALESCE(n.payload ->> 'threshold_days', '?')
               || ' expires_on=' || COALESCE(n.payload ->> 'certification_expires_on', '?') AS key,
           count(*) AS count
    FROM notifications n
    WHERE n.org_id = $1 AND n.kind = 'certification_reminder'
    GROUP BY n.mentor_id, n.payload ->> 'threshold_days', n.payload ->> 'certification_expires_on'
    HAVING count(*) > 1
    UNION ALL
    SELECT 'duplicate_expiry', h.mentor_id,
           'expires_on=' || COALESCE(h.certification_expires_on::text, 'none'),
           count(*)
    FROM status_history h
    WHERE h.org_id = $1 AND h.actor_kind = 'system' AND h.to_status = 'certification_expired'
    GROUP BY h.mentor_id, h.certification_expires_on
    HAVING count(*) > 1
    UNION ALL
    SELECT 'duplicate_digest', NULL::uuid,
           'coordinator=' || n.recipient_user_id
               || ' business_date=' || COALESCE(n.payload ->> 'business_date', '?'),
           count(*)
    FROM notifications n
    WHERE n.org_id = $1 AND n.kind = 'coordinator_digest'
    GROUP BY n.recipient_user_id, n.payload ->> 'business_date'
    HAVING count(*) > 1
) f
ORDER BY kind, mentor_id NULLS FIRST, key
"#;

#[derive(sqlx::FromRow)]
struct FindingRow {
    kind: String,
    mentor_id: Option<Uuid>,
    key: String,
    count: i64,
}

pub(crate) async fn find_duplicate_effects(pool: &PgPool, org: OrgId) -> StoreResult<Vec<Finding>> {
    let rows: Vec<FindingRow> = sqlx::query_as(DUPLICATES)
        .bind(org.0)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|row| Finding {
            kind: row.kind,
            mentor_id: row.mentor_id.map(MentorId),
            key: row.key,
            count: row.count,
        })
        .collect())
}

pub(crate) async fn record_findings(
    pool: &PgPool,
    org: OrgId,
    run: Option<RunId>,
    findings: Vec<Finding>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if findings.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    let mentors: Vec<Option<Uuid>> = findings.iter().map(|f| f.mentor_id.map(|m| m.0)).collect();
    let keys: Vec<&str> = findings.iter().map(|f| f.key.as_str()).collect();
    let counts: Vec<i64> = findings.iter().map(|f| f.count).collect();
    sqlx::query(
        "INSERT INTO reconciliation_log (org_id, run_id, kind, mentor_id, key, count, found_at) \
         SELECT $1, $2, f.kind, f.mentor_id, f.key, f.count, $3 \
         FROM UNNEST($4::text[], $5::uuid[], $6::text[], $7::bigint[]) WITH ORDINALITY \
              AS f(kind, mentor_id, key, count, n) \
         ORDER BY f.n",
    )
    .bind(org.0)
    .bind(run.map(|r| r.0))
    .bind(at)
    .bind(&kinds)
    .bind(&mentors)
    .bind(&keys)
    .bind(&counts)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
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
    pool: &PgPool,
    org: OrgId,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Page<FindingRecord, i64>> {
    let rows: Vec<LogRow> = sqlx::query_as(
        "SELECT id, run_id, kind, mentor_id, key, count, found_at FROM reconciliation_log \
         WHERE org_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(org.0)
    .bind(before)
    .bind(store::page_fetch_limit(limit))
    .fetch_all(pool)
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

impl store::FindingStore for crate::PgStore {
    async fn find_duplicate_effects(&self, org: OrgId) -> StoreResult<Vec<Finding>> {
        find_duplicate_effects(&self.pool, org).await
    }
    async fn record_findings(
        &self,
        org: OrgId,
        run: Option<RunId>,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        record_findings(&self.pool, org, run, findings, at).await
    }
    async fn findings(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<FindingRecord, i64>> {
        findings(&self.pool, org, limit, before).await
    }
}
