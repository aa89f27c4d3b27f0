//! The public listing sync: relay claims (SKIP LOCKED rows, one lease per mentor), results, force sync,
//! reconciliation input, credential checks and the sync status numbers.
//!
//! A relay never holds a transaction across a push: the claim commits a lease, the push happens, and
//! the results are recorded in a second short transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{MentorId, OrgId};
use sqlx::{PgPool, Row};
use store::{
    ClaimedMentor, ClaimedMentors, CredentialCheck, DeadLetter, DeadReason, DynamicsLink,
    MentorsClaim, StoreResult, SyncClaim, SyncOutcome, SyncPriority, SyncRecorded, SyncResult,
    SyncSelection, SyncStatusRecord, SyncTarget,
};
use uuid::Uuid;

use crate::error::db_err;
use crate::plans::begin_index_lookups;
use crate::rows::parse_status;
use store::{StoreError, SyncWakeups};

/// How many due rows a claim looks at per mentor it wants: rows of one mentor coalesce, so a claim
/// for N mentors may need more than N rows.
const ROWS_PER_MENTOR: i64 = 4;

/// Lease mentors with due rows and hide the rows this claim locked (their `available_at` moves to
/// the lease's end; they come back then if this relay dies). A lease that ran out with its owner
/// still named was never recorded: the mentor comes back marked `recovered`. Mentors another relay holds are skipped
/// and their rows left alone: that relay pushes their current state anyway, and a row queued during
/// its push is due at once. Two claims never wait on each other's rows (SKIP LOCKED, and only rows
/// locked here are updated).
const CLAIM: &str = "\
WITH due AS ( \
    SELECT o.id, o.mentor_id, o.priority \
    FROM sync_outbox o \
    WHERE o.org_id = $1 AND o.state = 'pending' AND o.available_at <= now() \
    ORDER BY o.priority DESC, o.available_at, o.id \
    LIMIT $2 * $5 \
    FOR UPDATE SKIP LOCKED \
), candidates AS ( \
    SELECT mentor_id FROM due GROUP BY mentor_id ORDER BY max(priority) DESC, min(id) LIMIT $2 \
), abandoned AS ( \
    SELECT s.mentor_id FROM mentor_sync s JOIN candidates c ON c.mentor_id = s.mentor_id \
    WHERE s.lease_owner IS NOT NULL AND s.leased_until <= now() \
), leased AS ( \
    INSERT INTO mentor_sync AS s (mentor_id, org_id, lease_owner, leased_until) \
    SELECT mentor_id, $1, $3, now() + $4 * interval '1 microsecond' FROM candidates \
    ON CONFLICT (mentor_id) DO UPDATE \
        SET lease_owner = EXCLUDED.lease_owner, leased_until = EXCLUDED.leased_until \
        WHERE s.leased_until IS NULL OR s.leased_until <= now() \
    RETURNING s.mentor_id, s.attempts, s.failing_since \
), hidden AS ( \
    UPDATE sync_outbox o SET available_at = now() + $4 * interval '1 microsecond' \
    FROM due d JOIN leased l ON l.mentor_id = d.mentor_id \
    WHERE o.id = d.id \
) \
SELECT m.id, m.version, m.status, m.listed_publicly, m.dynamics_contact_id, m.dynamics_key, \
       l.attempts, (extract(epoch FROM now() - l.failing_since) * 1000000)::bigint AS failing_for_us, \
       a.mentor_id IS NOT NULL AS recovered \
FROM leased l JOIN mentors m ON m.id = l.mentor_id LEFT JOIN abandoned a ON a.mentor_id = l.mentor_id \
ORDER BY m.id";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    version: i64,
    status: String,
    listed_publicly: bool,
    dynamics_contact_id: Option<Uuid>,
    dynamics_key: Option<String>,
    attempts: i32,
    failing_for_us: Option<i64>,
    recovered: bool,
}

pub(crate) async fn claim_sync(pool: &PgPool, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
    let mut tx = begin_index_lookups(pool).await?;
    let rows: Vec<ClaimRow> = sqlx::query_as(CLAIM)
        .bind(claim.org.0)
        .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX / ROWS_PER_MENTOR))
        .bind(claim.owner)
        .bind(micros(claim.lease))
        .bind(ROWS_PER_MENTOR)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    rows.into_iter().map(claimed_mentor).collect()
}

/// Lock the pending rows of a break-glass claim's mentors first, waiting for a relay's claim that
/// holds them to commit: rows before `mentor_sync`, the order `CLAIM` locks in, so the two never
/// deadlock. $1 org, $2 mentors.
const LOCK_MENTORS_ROWS: &str = "\
SELECT o.id FROM sync_outbox o \
WHERE o.org_id = $1 AND o.mentor_id = ANY($2) AND o.state = 'pending' \
ORDER BY o.id FOR UPDATE";

/// Lease the requested mentors nobody else holds a running lease on (up to $4, by id), whatever
/// their rows say. The upsert's condition is checked again on the row it locks, so a lease another
/// claim took meanwhile is never overwritten. A lease that ran out with another owner still named
/// was never recorded: `recovered`. $1 org, $2 mentors, $3 owner, $4 limit, $5 lease (µs).
fn claim_mentors_sql() -> String {
    format!(
        "\
WITH candidates AS ( \
    SELECT m.id AS mentor_id, \
           (s.lease_owner IS NOT NULL AND s.lease_owner <> $3) AS recovered \
    FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
    WHERE m.org_id = $1 AND m.id = ANY($2) \
      AND (s.lease_owner IS NULL OR s.lease_owner = $3 OR s.leased_until IS NULL \
           OR s.leased_until <= now()) \
      AND NOT ({SETTLED}) \
    ORDER BY m.id LIMIT $4 \
), leased AS ( \
    INSERT INTO mentor_sync AS s (mentor_id, org_id, lease_owner, leased_until) \
    SELECT mentor_id, $1, $3, now() + $5 * interval '1 microsecond' FROM candidates \
    ON CONFLICT (mentor_id) DO UPDATE \
        SET lease_owner = EXCLUDED.lease_owner, leased_until = EXCLUDED.leased_until \
        WHERE s.lease_owner IS NULL OR s.lease_owner = $3 OR s.leased_until IS NULL \
           OR s.leased_until <= now() \
    RETURNING s.mentor_id, s.attempts, s.failing_since \
) \
SELECT m.id, m.version, m.status, m.listed_publicly, m.dynamics_contact_id, m.dynamics_key, \
       l.attempts, (extract(epoch FROM now() - l.failing_since) * 1000000)::bigint AS failing_for_us, \
       c.recovered \
FROM leased l JOIN mentors m ON m.id = l.mentor_id JOIN candidates c ON c.mentor_id = l.mentor_id \
ORDER BY m.id"
    )
}

/// Mentor `m` (joined to its sync state `s`) has its current version pushed and nothing pending.
const SETTLED: &str = "COALESCE(s.pushed_version >= m.version, false) \
    AND NOT EXISTS (SELECT 1 FROM sync_outbox p WHERE p.mentor_id = m.id AND p.state = 'pending')";

/// The requested mentors nobody else holds a running lease on that are settled.
fn settled_mentors_sql() -> String {
    format!(
        "\
SELECT m.id FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
WHERE m.org_id = $1 AND m.id = ANY($2) \
  AND (s.lease_owner IS NULL OR s.lease_owner = $3 OR s.leased_until IS NULL \
       OR s.leased_until <= now()) \
  AND {SETTLED} \
ORDER BY m.id"
    )
}

/// Hide every pending row of the leased mentors until the lease ends, those waiting out a backoff
/// too. $1 mentors, $2 lease (µs).
const HIDE_MENTORS_ROWS: &str = "\
UPDATE sync_outbox SET available_at = now() + $2 * interval '1 microsecond' \
WHERE mentor_id = ANY($1) AND state = 'pending'";

/// The requested mentors under another owner's running lease, and the µs left on it.
const HELD_MENTORS: &str = "\
SELECT mentor_id, (extract(epoch FROM leased_until - now()) * 1000000)::bigint AS left_us \
FROM mentor_sync \
WHERE org_id = $1 AND mentor_id = ANY($2) AND lease_owner <> $3 AND leased_until > now() \
ORDER BY mentor_id";

pub(crate) async fn claim_sync_mentors(
    pool: &PgPool,
    claim: MentorsClaim,
) -> StoreResult<ClaimedMentors> {
    let mut ids: Vec<Uuid> = claim.mentors.iter().map(|m| m.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query(LOCK_MENTORS_ROWS)
        .bind(claim.org.0)
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let rows: Vec<ClaimRow> = sqlx::query_as(&claim_mentors_sql())
        .bind(claim.org.0)
        .bind(&ids)
        .bind(claim.owner)
        .bind(i64::try_from(claim.limit).unwrap_or(i64::MAX))
        .bind(micros(claim.lease))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let leased: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    sqlx::query(HIDE_MENTORS_ROWS)
        .bind(&leased)
        .bind(micros(claim.lease))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let held: Vec<(Uuid, i64)> = sqlx::query_as(HELD_MENTORS)
        .bind(claim.org.0)
        .bind(&ids)
        .bind(claim.owner)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let settled: Vec<Uuid> = sqlx::query_scalar(&settled_mentors_sql())
        .bind(claim.org.0)
        .bind(&ids)
        .bind(claim.owner)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(ClaimedMentors {
        settled: settled.into_iter().map(MentorId).collect(),
        claimed: rows
            .into_iter()
            .map(claimed_mentor)
            .collect::<StoreResult<Vec<_>>>()?,
        held: held
            .into_iter()
            .map(|(id, left)| {
                (
                    MentorId(id),
                    Duration::from_micros(left.max(0).unsigned_abs()),
                )
            })
            .collect(),
    })
}

fn claimed_mentor(row: ClaimRow) -> StoreResult<ClaimedMentor> {
    Ok(ClaimedMentor {
        mentor: MentorId(row.id),
        version: row.version,
        status: parse_status(&row.status, "mentors.status")?,
        listed_publicly: row.listed_publicly,
        link: DynamicsLink::from_columns(row.dynamics_contact_id, row.dynamics_key),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        failing_for: row
            .failing_for_us
            .map(|us| Duration::from_micros(us.max(0).unsigned_abs())),
        recovered: row.recovered,
    })
}

/// Linked mentors whose pushed version is behind, or with pending rows, whatever else holds them.
const UNSYNCED: &str = "\
SELECT m.id FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
WHERE m.org_id = $1 \
  AND (m.dynamics_contact_id IS NOT NULL OR m.dynamics_key IS NOT NULL) \
  AND (s.pushed_version IS NULL OR s.pushed_version < m.version \
       OR EXISTS (SELECT 1 FROM sync_outbox p WHERE p.mentor_id = m.id AND p.state = 'pending')) \
ORDER BY m.id";

pub(crate) async fn unsynced_mentors(pool: &PgPool, org: OrgId) -> StoreResult<Vec<MentorId>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(UNSYNCED)
        .bind(org.0)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    Ok(ids.into_iter().map(MentorId).collect())
}

/// The results as parallel arrays for UNNEST.
#[derive(Default)]
struct ResultColumns {
    mentor: Vec<Uuid>,
    kind: Vec<&'static str>,
    version: Vec<Option<i64>>,
    error: Vec<Option<String>>,
    /// Microseconds until the rows are due again (now when absent).
    after_us: Vec<Option<i64>>,
    failure: Vec<Option<&'static str>>,
}

impl ResultColumns {
    fn push(&mut self, result: SyncResult) {
        let (kind, version, error, after, failure) = match result.outcome {
            SyncOutcome::Pushed { version } => ("pushed", Some(version), None, None, None),
            SyncOutcome::Unlinked { version } => ("unlinked", Some(version), None, None, None),
            SyncOutcome::Retry { error, after } => {
                ("retry", None, Some(error), Some(after), Some("retrying"))
            }
            SyncOutcome::Dead {
                version,
                reason,
                error,
            } => (
                "dead",
                Some(version),
                Some(error),
                None,
                Some(match reason {
                    DeadReason::Failed => "dead",
                    DeadReason::NotFound => "not_found",
                }),
            ),
            SyncOutcome::Released { after } => ("released", None, None, Some(after), None),
        };
        self.mentor.push(result.mentor.0);
        self.kind.push(kind);
        self.version.push(version);
        self.error.push(error);
        self.after_us.push(after.map(micros));
        self.failure.push(failure);
    }
}

/// The results of the mentors this relay ($8) still leases: a relay that stalled past its lease and
/// was taken over records nothing (the new owner pushes the current state and records that).
const RESULTS_INPUT: &str = "\
WITH r AS ( \
    SELECT u.* FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], \
                           $6::text[]) \
        AS u(mentor_id, kind, version, error, after_us, failure) \
    JOIN mentor_sync l ON l.mentor_id = u.mentor_id AND l.lease_owner = $8 \
) ";

/// The pending rows of the results' mentors, found per mentor through the partial index on
/// (mentor_id) of pending rows. Written as a LATERAL join so the plan is that whatever the outbox's
/// statistics say: a join the planner may reorder scanned every pending row of the organisation per
/// mentor when the table had not been analysed yet (seconds per batch).
/// Only the mentors whose outcome is one of `kinds` are looked up.
fn pending_of_results(kinds: &str) -> String {
    format!(
        ", pending AS ( \
            SELECT p.id, p.mentor_version, r.kind, r.version, r.error, r.after_us \
            FROM r CROSS JOIN LATERAL ( \
                SELECT q.id, q.mentor_version FROM sync_outbox q \
                WHERE q.mentor_id = r.mentor_id AND q.state = 'pending' \
            ) p \
            WHERE r.kind IN ({kinds}) \
        ) "
    )
}

/// Rows up to the pushed (or unlinked) version are confirmed; their lag is measured here.
const CONFIRM_ROWS: &str = "\
UPDATE sync_outbox o SET state = 'done', done_at = now() \
FROM pending x \
WHERE o.id = x.id AND o.org_id = $7 \
  AND x.kind IN ('pushed', 'unlinked') AND x.mentor_version <= x.version \
RETURNING (extract(epoch FROM (now() - o.created_at)) * 1000)::bigint";

const BURY_ROWS: &str = "\
UPDATE sync_outbox o SET state = 'dead', last_error = x.error, done_at = now() \
FROM pending x \
WHERE o.id = x.id AND o.org_id = $7 AND x.kind = 'dead' AND x.mentor_version <= x.version";

/// Rows of a retried or released mentor come back when the retry or the throttled client is due.
/// (A pushed, unlinked or dead mentor has none left of those the claim hid: the claim read a
/// version at least as new as every row it hid; rows queued since were never hidden.)
const RESCHEDULE_ROWS: &str = "\
UPDATE sync_outbox o \
SET available_at = now() + COALESCE(x.after_us, 0) * interval '1 microsecond', \
    attempts = o.attempts + (x.kind = 'retry')::int, \
    last_error = COALESCE(x.error, o.last_error) \
FROM pending x \
WHERE o.id = x.id AND o.org_id = $7 AND o.state = 'pending'";

/// The mentor's sync state, and the end of this relay's lease.
const UPDATE_MENTOR_SYNC: &str = "\
UPDATE mentor_sync s SET \
    pushed_version = CASE WHEN r.kind = 'pushed' \
                          THEN GREATEST(COALESCE(s.pushed_version, 0), r.version) \
                          ELSE s.pushed_version END, \
    pushed_at = CASE WHEN r.kind = 'pushed' THEN now() ELSE s.pushed_at END, \
    failure = CASE WHEN r.kind IN ('pushed', 'unlinked') THEN NULL \
                   WHEN r.kind = 'released' THEN s.failure ELSE r.failure END, \
    last_error = CASE WHEN r.kind IN ('pushed', 'unlinked') THEN NULL \
                      WHEN r.kind = 'released' THEN s.last_error ELSE r.error END, \
    attempts = CASE WHEN r.kind IN ('pushed', 'unlinked') THEN 0 \
                    WHEN r.kind = 'retry' THEN s.attempts + 1 ELSE s.attempts END, \
    failing_since = CASE WHEN r.kind IN ('pushed', 'unlinked') THEN NULL \
                         WHEN r.kind = 'released' THEN s.failing_since \
                         ELSE COALESCE(s.failing_since, now()) END, \
    lease_owner = NULL, \
    leased_until = NULL \
FROM r \
WHERE s.mentor_id = r.mentor_id AND s.org_id = $7";

/// One statement over the results: the arrays ($1–$6), the organisation ($7) and the relay ($8).
fn over_results<'q>(
    statement: &'q str,
    c: &'q ResultColumns,
    org: OrgId,
    owner: Uuid,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(statement)
        .bind(&c.mentor)
        .bind(&c.kind)
        .bind(&c.version)
        .bind(&c.error)
        .bind(&c.after_us)
        .bind(&c.failure)
        .bind(org.0)
        .bind(owner)
}

pub(crate) async fn record_sync_results(
    pool: &PgPool,
    org: OrgId,
    owner: Uuid,
    results: Vec<SyncResult>,
) -> StoreResult<SyncRecorded> {
    let mut c = ResultColumns::default();
    for result in results {
        c.push(result);
    }
    let statements = [
        format!(
            "{RESULTS_INPUT}{}{CONFIRM_ROWS}",
            pending_of_results("'pushed', 'unlinked'")
        ),
        format!("{RESULTS_INPUT}{}{BURY_ROWS}", pending_of_results("'dead'")),
        format!(
            "{RESULTS_INPUT}{}{RESCHEDULE_ROWS}",
            pending_of_results("'retry', 'released'")
        ),
        format!("{RESULTS_INPUT}{UPDATE_MENTOR_SYNC}"),
    ];
    let has = |kinds: &[&str]| c.kind.iter().any(|k| kinds.contains(k));
    let mut tx = begin_index_lookups(pool).await?;
    let mut confirmed_lag_ms = Vec::new();
    if has(&["pushed", "unlinked"]) {
        confirmed_lag_ms = over_results(&statements[0], &c, org, owner)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(db_err)?;
    }
    let mut dead = 0;
    if has(&["dead"]) {
        dead = over_results(&statements[1], &c, org, owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    }
    if has(&["retry", "released"]) {
        over_results(&statements[2], &c, org, owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    over_results(&statements[3], &c, org, owner)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(SyncRecorded {
        confirmed_lag_ms,
        dead,
    })
}

/// Linked mentors: only they have a remote record to push to.
const LINKED: &str = "(m.dynamics_contact_id IS NOT NULL OR m.dynamics_key IS NOT NULL)";

pub(crate) async fn queue_sync(
    pool: &PgPool,
    org: OrgId,
    selection: SyncSelection,
    priority: SyncPriority,
) -> StoreResult<u64> {
    // `mentors`: only these ids; `None`: the organisation's mentors the filter selects. `versions`
    // ($4): the version each of `mentors` must still have.
    let mut versions: Option<Vec<i64>> = None;
    let (filter, mentors): (String, Option<Vec<Uuid>>) = match selection {
        SyncSelection::Mentor(mentor) => ("true".to_owned(), Some(vec![mentor.0])),
        SyncSelection::AllLinked => (LINKED.to_owned(), None),
        SyncSelection::Behind => (
            format!(
                "{LINKED} AND NOT EXISTS (SELECT 1 FROM mentor_sync s WHERE s.mentor_id = m.id \
                   AND (s.pushed_version >= m.version OR s.failure IN ('dead', 'not_found'))) \
                 AND NOT EXISTS (SELECT 1 FROM sync_outbox p \
                   WHERE p.mentor_id = m.id AND p.state = 'pending')"
            ),
            None,
        ),
        SyncSelection::Divergent(seen) => {
            let (ids, seen_versions): (Vec<Uuid>, Vec<i64>) =
                seen.into_iter().map(|(m, v)| (m.0, v)).unzip();
            versions = Some(seen_versions);
            (
                format!(
                    "{LINKED} AND m.version = ($4::bigint[])[array_position($3::uuid[], m.id)] \
                     AND NOT EXISTS (SELECT 1 FROM sync_outbox p \
                       WHERE p.mentor_id = m.id AND p.state = 'pending')"
                ),
                Some(ids),
            )
        }
    };
    let statement = format!(
        "INSERT INTO sync_outbox (org_id, mentor_id, mentor_version, priority, available_at, created_at) \
         SELECT m.org_id, m.id, m.version, $2, now(), now() FROM mentors m \
         WHERE m.org_id = $1 AND ($3::uuid[] IS NULL OR m.id = ANY($3)) AND {filter} \
           AND NOT EXISTS (SELECT 1 FROM sync_outbox q WHERE q.mentor_id = m.id \
                           AND q.state = 'pending' AND q.priority >= $2 AND q.available_at <= now()) \
         ORDER BY m.id"
    );
    let mut insert = sqlx::query(&statement)
        .bind(org.0)
        .bind(priority.as_i16())
        .bind(&mentors);
    if let Some(versions) = &versions {
        insert = insert.bind(versions);
    }
    let inserted = insert.execute(pool).await.map_err(db_err)?.rows_affected();
    Ok(inserted)
}

pub(crate) async fn retry_dead_sync(
    pool: &PgPool,
    org: OrgId,
    mentor: Option<MentorId>,
) -> StoreResult<u64> {
    let mentor = mentor.map(|m| m.0);
    let mut tx = pool.begin().await.map_err(db_err)?;
    let retried = sqlx::query(
        "UPDATE sync_outbox SET state = 'pending', available_at = now(), attempts = 0, done_at = NULL \
         WHERE org_id = $1 AND state = 'dead' AND ($2::uuid IS NULL OR mentor_id = $2)",
    )
    .bind(org.0)
    .bind(mentor)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    sqlx::query(
        "UPDATE mentor_sync SET failure = NULL, attempts = 0, failing_since = NULL \
         WHERE org_id = $1 AND failure IS NOT NULL AND ($2::uuid IS NULL OR mentor_id = $2)",
    )
    .bind(org.0)
    .bind(mentor)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(retried)
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: Uuid,
    dynamics_contact_id: Option<Uuid>,
    dynamics_key: Option<String>,
    status: String,
    listed_publicly: bool,
    version: i64,
    pending: bool,
}

pub(crate) async fn sync_targets(pool: &PgPool, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
    let rows: Vec<TargetRow> = sqlx::query_as(&format!(
        "SELECT m.id, m.dynamics_contact_id, m.dynamics_key, m.status, m.listed_publicly, m.version, \
                EXISTS (SELECT 1 FROM sync_outbox p WHERE p.mentor_id = m.id AND p.state = 'pending') \
                    AS pending \
         FROM mentors m WHERE m.org_id = $1 AND {LINKED} ORDER BY m.id"
    ))
    .bind(org.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.into_iter()
        .filter_map(|row| {
            let link = DynamicsLink::from_columns(row.dynamics_contact_id, row.dynamics_key)?;
            Some(
                parse_status(&row.status, "mentors.status").map(|status| SyncTarget {
                    mentor: MentorId(row.id),
                    link,
                    status,
                    listed_publicly: row.listed_publicly,
                    version: row.version,
                    pending: row.pending,
                }),
            )
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    pending: i64,
    dead: i64,
    retrying: i64,
    oldest_pending_at: Option<DateTime<Utc>>,
    lag: Option<Vec<f64>>,
    confirmed: i64,
    checked_at: Option<DateTime<Utc>>,
    check_ok: Option<bool>,
    check_detail: Option<String>,
}

pub(crate) async fn sync_status(
    pool: &PgPool,
    org: OrgId,
    window: Duration,
) -> StoreResult<SyncStatusRecord> {
    let row: StatusRow = sqlx::query_as(
        "SELECT \
            (SELECT count(*) FROM sync_outbox WHERE org_id = $1 AND state = 'pending') AS pending, \
            (SELECT count(*) FROM sync_outbox WHERE org_id = $1 AND state = 'dead') AS dead, \
            (SELECT count(*) FROM mentor_sync WHERE org_id = $1 AND failure = 'retrying') AS retrying, \
            (SELECT min(created_at) FROM sync_outbox WHERE org_id = $1 AND state = 'pending') \
                AS oldest_pending_at, \
            l.lag, l.confirmed, \
            c.checked_at, c.ok AS check_ok, c.detail AS check_detail \
         FROM (SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP \
                      (ORDER BY extract(epoch FROM done_at - created_at) * 1000) AS lag, \
                      count(*) AS confirmed \
               FROM sync_outbox WHERE org_id = $1 AND state = 'done' \
                 AND done_at >= now() - $2 * interval '1 microsecond') l \
         LEFT JOIN credential_checks c ON c.org_id = $1",
    )
    .bind(org.0)
    .bind(micros(window))
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    let lag = row.lag.unwrap_or_default();
    Ok(SyncStatusRecord {
        pending: row.pending.unsigned_abs(),
        dead: row.dead.unsigned_abs(),
        retrying: row.retrying.unsigned_abs(),
        oldest_pending_at: row.oldest_pending_at,
        lag_p50_ms: lag.first().copied(),
        lag_p95_ms: lag.get(1).copied(),
        lag_p99_ms: lag.get(2).copied(),
        confirmed: row.confirmed.unsigned_abs(),
        last_credential_check: match (row.checked_at, row.check_ok) {
            (Some(checked_at), Some(ok)) => Some(CredentialCheck {
                checked_at,
                ok,
                detail: row.check_detail,
            }),
            _ => None,
        },
    })
}

#[derive(sqlx::FromRow)]
struct DeadRow {
    mentor_id: Uuid,
    full_name: String,
    rows: i64,
    last_error: Option<String>,
    since: DateTime<Utc>,
}

pub(crate) async fn dead_letters(
    pool: &PgPool,
    org: OrgId,
    limit: u32,
) -> StoreResult<Vec<DeadLetter>> {
    let rows: Vec<DeadRow> = sqlx::query_as(
        "SELECT o.mentor_id, m.full_name, count(*) AS rows, \
                (array_agg(o.last_error ORDER BY o.id DESC))[1] AS last_error, \
                min(o.created_at) AS since \
         FROM sync_outbox o JOIN mentors m ON m.id = o.mentor_id \
         WHERE o.org_id = $1 AND o.state = 'dead' \
         GROUP BY o.mentor_id, m.full_name \
         ORDER BY max(o.id) DESC \
         LIMIT $2",
    )
    .bind(org.0)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|row| DeadLetter {
            mentor: MentorId(row.mentor_id),
            full_name: row.full_name,
            rows: row.rows.unsigned_abs(),
            last_error: row.last_error,
            since: row.since,
        })
        .collect())
}

pub(crate) async fn record_credential_check(
    pool: &PgPool,
    org: OrgId,
    check: CredentialCheck,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO credential_checks (org_id, checked_at, ok, detail) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_id) DO UPDATE \
         SET checked_at = EXCLUDED.checked_at, ok = EXCLUDED.ok, detail = EXCLUDED.detail",
    )
    .bind(org.0)
    .bind(check.checked_at)
    .bind(check.ok)
    .bind(check.detail)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn prune_sync_outbox(pool: &PgPool, age: Duration) -> StoreResult<u64> {
    Ok(sqlx::query(
        "DELETE FROM sync_outbox \
         WHERE state = 'done' AND done_at < now() - $1 * interval '1 microsecond'",
    )
    .bind(micros(age))
    .execute(pool)
    .await
    .map_err(db_err)?
    .rows_affected())
}

/// A duration in whole microseconds, the unit the statements multiply intervals by.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

impl store::ListingOutbox for crate::PgStore {
    async fn claim_sync(&self, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
        claim_sync(&self.pool, claim).await
    }
    async fn claim_sync_mentors(&self, claim: MentorsClaim) -> StoreResult<ClaimedMentors> {
        claim_sync_mentors(&self.pool, claim).await
    }
    async fn unsynced_mentors(&self, org: OrgId) -> StoreResult<Vec<MentorId>> {
        unsynced_mentors(&self.pool, org).await
    }
    async fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> StoreResult<SyncRecorded> {
        record_sync_results(&self.pool, org, owner, results).await
    }
    async fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> StoreResult<u64> {
        queue_sync(&self.pool, org, selection, priority).await
    }
    async fn retry_dead_sync(&self, org: OrgId, mentor: Option<MentorId>) -> StoreResult<u64> {
        retry_dead_sync(&self.pool, org, mentor).await
    }
    async fn sync_targets(&self, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
        sync_targets(&self.pool, org).await
    }
    async fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> StoreResult<SyncStatusRecord> {
        sync_status(&self.pool, org, window).await
    }
    async fn dead_letters(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        dead_letters(&self.pool, org, limit).await
    }
    async fn record_credential_check(&self, org: OrgId, check: CredentialCheck) -> StoreResult<()> {
        record_credential_check(&self.pool, org, check).await
    }
    async fn sync_wakeups(&self) -> StoreResult<SyncWakeups> {
        let mut shared = self
            .wakeups
            .lock()
            .map_err(|_| StoreError::Other("the wake-up listener's lock was poisoned".into()))?;
        let receiver = match shared.as_ref() {
            Some(receiver) if receiver.has_changed().is_ok() => receiver.clone(),
            _ => {
                let receiver = crate::wakeups::start(self.pool.clone());
                *shared = Some(receiver.clone());
                receiver
            }
        };
        Ok(receiver)
    }
    async fn prune_sync_outbox(&self, age: std::time::Duration) -> StoreResult<u64> {
        prune_sync_outbox(&self.pool, age).await
    }
}
