//! The public listing sync: relay claims (one lease per mentor), results, force sync, reconciliation
//! input, credential checks and the sync status numbers.
//!
//! A relay never holds a transaction across a push: the claim commits a lease, the push happens, and
//! the results are recorded in a second short transaction. Every write transaction runs alone on the
//! one writer connection (`BEGIN IMMEDIATE`), so a claim sees every lease committed before it and two
//! claims can never lease the same mentor: what PostgreSQL gets from `FOR UPDATE SKIP LOCKED`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{MentorId, MentorStatus, OrgId};
use sqlx::SqliteConnection;
use store::{
    ClaimedMentor, ClaimedMentors, CredentialCheck, DeadLetter, DeadReason, DynamicsLink,
    MentorsClaim, StoreResult, SyncClaim, SyncOutcome, SyncPriority, SyncRecorded, SyncResult,
    SyncSelection, SyncStatusRecord, SyncTarget,
};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{bad_column, db_err};
use crate::time::Ts;
use store::SyncWakeups;

/// How many due rows a claim looks at per mentor it wants: rows of one mentor coalesce, so a claim
/// for N mentors may need more than N rows.
const ROWS_PER_MENTOR: i64 = 4;

/// The most urgent mentors with due rows that nobody holds a running lease on (whoever holds it
/// pushes their current state anyway, and a row queued during that push is due at once).
/// ?1 org, ?2 now, ?3 rows to look at, ?4 mentors wanted.
const CANDIDATES: &str = "\
SELECT mentor_id FROM ( \
    SELECT o.id, o.mentor_id, o.priority FROM sync_outbox o \
    WHERE o.org_id = ?1 AND o.state = 'pending' AND o.available_at <= ?2 \
      AND NOT EXISTS (SELECT 1 FROM mentor_sync s \
                      WHERE s.mentor_id = o.mentor_id AND s.leased_until > ?2) \
    ORDER BY o.priority DESC, o.available_at, o.id \
    LIMIT ?3 \
) \
GROUP BY mentor_id ORDER BY max(priority) DESC, min(id) LIMIT ?4";

/// Whether an earlier lease ran out unrecorded (recording clears the owner; candidates hold no
/// running lease). ?1 mentor.
const ABANDONED: &str = "\
SELECT EXISTS (SELECT 1 FROM mentor_sync WHERE mentor_id = ?1 AND lease_owner IS NOT NULL)";

/// Take the lease, creating the mentor's sync state on its first claim.
const LEASE: &str = "\
INSERT INTO mentor_sync (mentor_id, org_id, lease_owner, leased_until) VALUES (?1, ?2, ?3, ?4) \
ON CONFLICT (mentor_id) DO UPDATE \
    SET lease_owner = excluded.lease_owner, leased_until = excluded.leased_until";

/// Hide the mentor's due rows until the lease ends: they come back then if this relay dies, and a
/// force sync during the push queues a row of its own.
const HIDE_ROWS: &str = "\
UPDATE sync_outbox SET available_at = ?1 \
WHERE mentor_id = ?2 AND state = 'pending' AND available_at <= ?3";

const CLAIMED_STATE: &str = "\
SELECT m.id, m.version, m.status, m.listed_publicly, m.dynamics_contact_id, m.dynamics_key, \
       s.attempts, s.failing_since \
FROM mentors m JOIN mentor_sync s ON s.mentor_id = m.id \
WHERE m.id = ?1";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    version: i64,
    status: String,
    listed_publicly: bool,
    dynamics_contact_id: Option<Uuid>,
    dynamics_key: Option<String>,
    attempts: i64,
    failing_since: Option<DateTime<Utc>>,
}

pub(crate) async fn claim_sync(db: &Db, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
    let wanted = i64::try_from(claim.limit).unwrap_or(i64::MAX / ROWS_PER_MENTOR);
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let until = Ts::in_(claim.lease);
    let candidates: Vec<Uuid> = sqlx::query_scalar(CANDIDATES)
        .bind(claim.org.0)
        .bind(now)
        .bind(wanted.saturating_mul(ROWS_PER_MENTOR))
        .bind(wanted)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut rows = Vec::with_capacity(candidates.len());
    for mentor in candidates {
        let recovered: bool = sqlx::query_scalar(ABANDONED)
            .bind(mentor)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(LEASE)
            .bind(mentor)
            .bind(claim.org.0)
            .bind(claim.owner)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(HIDE_ROWS)
            .bind(until)
            .bind(mentor)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let row: ClaimRow = sqlx::query_as(CLAIMED_STATE)
            .bind(mentor)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        rows.push((row, recovered));
    }
    db.commit(tx).await?;
    let mut claimed = rows
        .into_iter()
        .map(|(row, recovered)| claimed_mentor(row, recovered, now))
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|m| m.mentor);
    Ok(claimed)
}

/// A requested mentor of the organisation: its lease, if any, and whether its current version is
/// pushed with nothing pending. ?1 mentor, ?2 org.
const MENTOR_LEASE: &str = "\
SELECT s.lease_owner, s.leased_until, \
       (COALESCE(s.pushed_version >= m.version, FALSE) \
        AND NOT EXISTS (SELECT 1 FROM sync_outbox p \
                        WHERE p.mentor_id = m.id AND p.state = 'pending')) AS settled \
FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
WHERE m.id = ?1 AND m.org_id = ?2";

/// Hide every pending row of a break-glass claim's mentor until the lease ends, those waiting out a
/// backoff too: they come back then if the claimant dies, and its results reschedule or confirm them.
const HIDE_ALL_ROWS: &str = "\
UPDATE sync_outbox SET available_at = ?1 WHERE mentor_id = ?2 AND state = 'pending'";

pub(crate) async fn claim_sync_mentors(
    db: &Db,
    claim: MentorsClaim,
) -> StoreResult<ClaimedMentors> {
    let mut ids = claim.mentors;
    ids.sort_unstable();
    ids.dedup();
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let until = Ts::in_(claim.lease);
    let mut held = Vec::new();
    let mut settled = Vec::new();
    let mut rows = Vec::new();
    for mentor in ids {
        let lease: Option<(Option<Uuid>, Option<DateTime<Utc>>, bool)> =
            sqlx::query_as(MENTOR_LEASE)
                .bind(mentor.0)
                .bind(claim.org.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let Some((owner, leased_until, in_sync)) = lease else {
            continue;
        };
        let others = owner.is_some_and(|owner| owner != claim.owner);
        if let Some(leased_until) = leased_until
            && others
            && leased_until > now.0
        {
            held.push((mentor, (leased_until - now.0).to_std().unwrap_or_default()));
            continue;
        }
        if in_sync {
            settled.push(mentor);
            continue;
        }
        if rows.len() >= claim.limit {
            continue;
        }
        // Recording clears the owner: one still named here let its lease run out unrecorded.
        let recovered = others;
        sqlx::query(LEASE)
            .bind(mentor.0)
            .bind(claim.org.0)
            .bind(claim.owner)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(HIDE_ALL_ROWS)
            .bind(until)
            .bind(mentor.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let row: ClaimRow = sqlx::query_as(CLAIMED_STATE)
            .bind(mentor.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        rows.push((row, recovered));
    }
    db.commit(tx).await?;
    let claimed = rows
        .into_iter()
        .map(|(row, recovered)| claimed_mentor(row, recovered, now))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(ClaimedMentors {
        claimed,
        held,
        settled,
    })
}

fn claimed_mentor(row: ClaimRow, recovered: bool, now: Ts) -> StoreResult<ClaimedMentor> {
    Ok(ClaimedMentor {
        mentor: MentorId(row.id),
        version: row.version,
        status: parse_status(&row.status)?,
        listed_publicly: row.listed_publicly,
        link: DynamicsLink::from_columns(row.dynamics_contact_id, row.dynamics_key),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        failing_for: row
            .failing_since
            .map(|since| (now.0 - since).to_std().unwrap_or_default()),
        recovered,
    })
}

/// Linked mentors whose pushed version is behind, or with pending rows, whatever else holds them.
const UNSYNCED: &str = "\
SELECT m.id FROM mentors m LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
WHERE m.org_id = ?1 \
  AND (m.dynamics_contact_id IS NOT NULL OR m.dynamics_key IS NOT NULL) \
  AND (s.pushed_version IS NULL OR s.pushed_version < m.version \
       OR EXISTS (SELECT 1 FROM sync_outbox p WHERE p.mentor_id = m.id AND p.state = 'pending')) \
ORDER BY m.id";

pub(crate) async fn unsynced_mentors(db: &Db, org: OrgId) -> StoreResult<Vec<MentorId>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(UNSYNCED)
        .bind(org.0)
        .fetch_all(&db.read)
        .await
        .map_err(db_err)?;
    Ok(ids.into_iter().map(MentorId).collect())
}

/// Rows up to the pushed (or unlinked) version are confirmed; their lag is measured from them.
/// ?1 now, ?2 mentor, ?3 org, ?4 version.
const CONFIRM_ROWS: &str = "\
UPDATE sync_outbox SET state = 'done', done_at = ?1 \
WHERE mentor_id = ?2 AND org_id = ?3 AND state = 'pending' AND mentor_version <= ?4 \
RETURNING created_at";

/// ?1 error, ?2 now, ?3 mentor, ?4 org, ?5 version.
const BURY_ROWS: &str = "\
UPDATE sync_outbox SET state = 'dead', last_error = ?1, done_at = ?2 \
WHERE mentor_id = ?3 AND org_id = ?4 AND state = 'pending' AND mentor_version <= ?5";

/// Rows of a retried or released mentor come back when the retry or the throttled client is due.
/// (A pushed, unlinked or dead mentor has none left of those the claim hid: the claim read a
/// version at least as new as every row it hid; rows queued since were never hidden.)
/// ?1 due at, ?2 attempts to add, ?3 error (NULL keeps the last), ?4 mentor, ?5 org.
const RESCHEDULE_ROWS: &str = "\
UPDATE sync_outbox \
SET available_at = ?1, attempts = attempts + ?2, last_error = COALESCE(?3, last_error) \
WHERE mentor_id = ?4 AND org_id = ?5 AND state = 'pending'";

/// The mentor's sync state, and the end of the recording relay's lease (it still holds it).
/// ?1 kind, ?2 version, ?3 error, ?4 failure, ?5 now, ?6 mentor, ?7 org.
const UPDATE_MENTOR_SYNC: &str = "\
UPDATE mentor_sync SET \
    pushed_version = CASE WHEN ?1 = 'pushed' \
                          THEN max(COALESCE(pushed_version, 0), ?2) ELSE pushed_version END, \
    pushed_at = CASE WHEN ?1 = 'pushed' THEN ?5 ELSE pushed_at END, \
    failure = CASE WHEN ?1 IN ('pushed', 'unlinked') THEN NULL \
                   WHEN ?1 = 'released' THEN failure ELSE ?4 END, \
    last_error = CASE WHEN ?1 IN ('pushed', 'unlinked') THEN NULL \
                      WHEN ?1 = 'released' THEN last_error ELSE ?3 END, \
    attempts = CASE WHEN ?1 IN ('pushed', 'unlinked') THEN 0 \
                    WHEN ?1 = 'retry' THEN attempts + 1 ELSE attempts END, \
    failing_since = CASE WHEN ?1 IN ('pushed', 'unlinked') THEN NULL \
                         WHEN ?1 = 'released' THEN failing_since \
                         ELSE COALESCE(failing_since, ?5) END, \
    lease_owner = NULL, \
    leased_until = NULL \
WHERE mentor_id = ?6 AND org_id = ?7";

/// What an outcome makes of the mentor's sync state, in the columns `UPDATE_MENTOR_SYNC` takes.
struct SyncStateChange<'a> {
    kind: &'static str,
    version: Option<i64>,
    error: Option<&'a str>,
    failure: Option<&'static str>,
}

impl SyncStateChange<'_> {
    fn of(outcome: &SyncOutcome) -> SyncStateChange<'_> {
        let (kind, version, error, failure) = match outcome {
            SyncOutcome::Pushed { version } => ("pushed", Some(*version), None, None),
            SyncOutcome::Unlinked { version } => ("unlinked", Some(*version), None, None),
            SyncOutcome::Retry { error, .. } => {
                ("retry", None, Some(error.as_str()), Some("retrying"))
            }
            SyncOutcome::Dead {
                version,
                reason,
                error,
            } => (
                "dead",
                Some(*version),
                Some(error.as_str()),
                Some(match reason {
                    DeadReason::Failed => "dead",
                    DeadReason::NotFound => "not_found",
                }),
            ),
            SyncOutcome::Released { .. } => ("released", None, None, None),
        };
        SyncStateChange {
            kind,
            version,
            error,
            failure,
        }
    }
}

pub(crate) async fn record_sync_results(
    db: &Db,
    org: OrgId,
    owner: Uuid,
    results: Vec<SyncResult>,
) -> StoreResult<SyncRecorded> {
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let mut recorded = SyncRecorded::default();
    for SyncResult { mentor, outcome } in &results {
        // A relay that stalled past its lease and was taken over records nothing: the new owner
        // pushes the current state and records that.
        let still_leased: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM mentor_sync WHERE mentor_id = ? AND lease_owner = ?)",
        )
        .bind(mentor.0)
        .bind(owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if !still_leased {
            continue;
        }
        match outcome {
            SyncOutcome::Pushed { version } | SyncOutcome::Unlinked { version } => {
                let created: Vec<DateTime<Utc>> = sqlx::query_scalar(CONFIRM_ROWS)
                    .bind(now)
                    .bind(mentor.0)
                    .bind(org.0)
                    .bind(version)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_err)?;
                recorded
                    .confirmed_lag_ms
                    .extend(created.into_iter().map(|at| whole_ms(lag_ms(at, now.0))));
            }
            SyncOutcome::Dead { version, error, .. } => {
                recorded.dead += sqlx::query(BURY_ROWS)
                    .bind(error)
                    .bind(now)
                    .bind(mentor.0)
                    .bind(org.0)
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
            }
            SyncOutcome::Retry { error, after } => {
                reschedule(&mut tx, org, *mentor, Ts::in_(*after), 1, Some(error)).await?;
            }
            SyncOutcome::Released { after } => {
                reschedule(&mut tx, org, *mentor, Ts::in_(*after), 0, None).await?;
            }
        }
        let change = SyncStateChange::of(outcome);
        sqlx::query(UPDATE_MENTOR_SYNC)
            .bind(change.kind)
            .bind(change.version)
            .bind(change.error)
            .bind(change.failure)
            .bind(now)
            .bind(mentor.0)
            .bind(org.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
    }
    db.commit(tx).await?;
    Ok(recorded)
}

async fn reschedule(
    conn: &mut SqliteConnection,
    org: OrgId,
    mentor: MentorId,
    due: Ts,
    attempts: i64,
    error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(RESCHEDULE_ROWS)
        .bind(due)
        .bind(attempts)
        .bind(error)
        .bind(mentor.0)
        .bind(org.0)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Linked mentors: only they have a remote record to push to.
const LINKED: &str = "(m.dynamics_contact_id IS NOT NULL OR m.dynamics_key IS NOT NULL)";

/// A mentor to queue, and the version it must still have (reconciliation's divergent mentors).
type QueuedMentor = (Uuid, Option<i64>);

pub(crate) async fn queue_sync(
    db: &Db,
    org: OrgId,
    selection: SyncSelection,
    priority: SyncPriority,
) -> StoreResult<u64> {
    // `mentors`: only these ids, each with the version it must still have (?5) if any; `None`:
    // the organisation's mentors the filter selects.
    let (filter, mentors): (String, Option<Vec<QueuedMentor>>) = match selection {
        SyncSelection::Mentor(mentor) => ("TRUE".to_owned(), Some(vec![(mentor.0, None)])),
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
        SyncSelection::Divergent(seen) => (
            format!(
                "{LINKED} AND m.version = ?5 AND NOT EXISTS (SELECT 1 FROM sync_outbox p \
                   WHERE p.mentor_id = m.id AND p.state = 'pending')"
            ),
            Some(seen.into_iter().map(|(m, v)| (m.0, Some(v))).collect()),
        ),
    };
    // A row hidden by a running lease does not count as waiting: the push under way may predate
    // the change that asks for this one.
    let insert = |only_mentor: &str| {
        format!(
            "INSERT INTO sync_outbox (org_id, mentor_id, mentor_version, priority, available_at, \
                                      created_at) \
             SELECT m.org_id, m.id, m.version, ?2, ?3, ?3 FROM mentors m \
             WHERE m.org_id = ?1 {only_mentor} AND {filter} \
               AND NOT EXISTS (SELECT 1 FROM sync_outbox q WHERE q.mentor_id = m.id \
                               AND q.state = 'pending' AND q.priority >= ?2 \
                               AND q.available_at <= ?3) \
             ORDER BY m.id"
        )
    };
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let mut queued = 0;
    match mentors {
        None => {
            queued = sqlx::query(&insert(""))
                .bind(org.0)
                .bind(priority.as_i16())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        Some(mut ids) => {
            ids.sort_unstable();
            ids.dedup_by_key(|(id, _)| *id);
            let statement = insert("AND m.id = ?4");
            for (id, version) in ids {
                let mut query = sqlx::query(&statement)
                    .bind(org.0)
                    .bind(priority.as_i16())
                    .bind(now)
                    .bind(id);
                if let Some(version) = version {
                    query = query.bind(version);
                }
                queued += query
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
                    .rows_affected();
            }
        }
    }
    commit_queuing(db, tx, queued).await?;
    Ok(queued)
}

pub(crate) async fn retry_dead_sync(
    db: &Db,
    org: OrgId,
    mentor: Option<MentorId>,
) -> StoreResult<u64> {
    let mentor = mentor.map(|m| m.0);
    let mut tx = db.begin().await?;
    let retried = sqlx::query(
        "UPDATE sync_outbox SET state = 'pending', available_at = ?3, attempts = 0, done_at = NULL \
         WHERE org_id = ?1 AND state = 'dead' AND (?2 IS NULL OR mentor_id = ?2)",
    )
    .bind(org.0)
    .bind(mentor)
    .bind(Ts::now())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    sqlx::query(
        "UPDATE mentor_sync SET failure = NULL, attempts = 0, failing_since = NULL \
         WHERE org_id = ?1 AND failure IS NOT NULL AND (?2 IS NULL OR mentor_id = ?2)",
    )
    .bind(org.0)
    .bind(mentor)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    commit_queuing(db, tx, retried).await?;
    Ok(retried)
}

/// Commit, waking the relays when rows were queued.
async fn commit_queuing(
    db: &Db,
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    queued: u64,
) -> StoreResult<()> {
    if queued > 0 {
        db.commit_queued(tx).await
    } else {
        db.commit(tx).await
    }
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

pub(crate) async fn sync_targets(db: &Db, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
    let rows: Vec<TargetRow> = sqlx::query_as(&format!(
        "SELECT m.id, m.dynamics_contact_id, m.dynamics_key, m.status, m.listed_publicly, m.version, \
                EXISTS (SELECT 1 FROM sync_outbox p WHERE p.mentor_id = m.id AND p.state = 'pending') \
                    AS pending \
         FROM mentors m WHERE m.org_id = ?1 AND {LINKED} ORDER BY m.id"
    ))
    .bind(org.0)
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    rows.into_iter()
        .filter_map(|row| {
            let link = DynamicsLink::from_columns(row.dynamics_contact_id, row.dynamics_key)?;
            Some(parse_status(&row.status).map(|status| SyncTarget {
                mentor: MentorId(row.id),
                link,
                status,
                listed_publicly: row.listed_publicly,
                version: row.version,
                pending: row.pending,
            }))
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    pending: i64,
    dead: i64,
    retrying: i64,
    oldest_pending_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CheckRow {
    checked_at: DateTime<Utc>,
    ok: bool,
    detail: Option<String>,
}

pub(crate) async fn sync_status(
    db: &Db,
    org: OrgId,
    window: Duration,
) -> StoreResult<SyncStatusRecord> {
    // One read transaction: every number comes from the same snapshot.
    let mut tx = db.read.begin().await.map_err(db_err)?;
    let queue: QueueRow = sqlx::query_as(
        "SELECT \
            (SELECT count(*) FROM sync_outbox WHERE org_id = ?1 AND state = 'pending') AS pending, \
            (SELECT count(*) FROM sync_outbox WHERE org_id = ?1 AND state = 'dead') AS dead, \
            (SELECT count(*) FROM mentor_sync WHERE org_id = ?1 AND failure = 'retrying') \
                AS retrying, \
            (SELECT min(created_at) FROM sync_outbox WHERE org_id = ?1 AND state = 'pending') \
                AS oldest_pending_at",
    )
    .bind(org.0)
    .fetch_one(&mut *tx)
    .await
    .map_err(db_err)?;
    // SQLite has no percentile_cont: the lags are read and ranked here.
    let confirmed: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT created_at, done_at FROM sync_outbox \
         WHERE org_id = ?1 AND state = 'done' AND done_at >= ?2",
    )
    .bind(org.0)
    .bind(Ts::ago(window))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let check: Option<CheckRow> =
        sqlx::query_as("SELECT checked_at, ok, detail FROM credential_checks WHERE org_id = ?1")
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    let mut lags: Vec<f64> = confirmed
        .iter()
        .map(|&(created_at, done_at)| lag_ms(created_at, done_at))
        .collect();
    lags.sort_unstable_by(f64::total_cmp);
    Ok(SyncStatusRecord {
        pending: queue.pending.unsigned_abs(),
        dead: queue.dead.unsigned_abs(),
        retrying: queue.retrying.unsigned_abs(),
        oldest_pending_at: queue.oldest_pending_at,
        lag_p50_ms: percentile(&lags, 0.5),
        lag_p95_ms: percentile(&lags, 0.95),
        lag_p99_ms: percentile(&lags, 0.99),
        confirmed: lags.len() as u64,
        last_credential_check: check.map(|c| CredentialCheck {
            checked_at: c.checked_at,
            ok: c.ok,
            detail: c.detail,
        }),
    })
}

#[derive(sqlx::FromRow)]
struct DeadRow {
    mentor_id: Uuid,
    full_name: String,
    dead_rows: i64,
    last_error: Option<String>,
    since: DateTime<Utc>,
}

pub(crate) async fn dead_letters(db: &Db, org: OrgId, limit: u32) -> StoreResult<Vec<DeadLetter>> {
    // The last error is the newest dead row's, found by its id (the outbox has no index on the
    // mentor of dead rows).
    let rows: Vec<DeadRow> = sqlx::query_as(
        "WITH per_mentor AS ( \
             SELECT mentor_id, max(id) AS newest_id, count(*) AS dead_rows, \
                    min(created_at) AS since \
             FROM sync_outbox WHERE org_id = ?1 AND state = 'dead' \
             GROUP BY mentor_id \
         ) \
         SELECT d.mentor_id, m.full_name, d.dead_rows, newest.last_error, d.since \
         FROM per_mentor d \
         JOIN sync_outbox newest ON newest.id = d.newest_id \
         JOIN mentors m ON m.id = d.mentor_id \
         ORDER BY d.newest_id DESC \
         LIMIT ?2",
    )
    .bind(org.0)
    .bind(i64::from(limit))
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|row| DeadLetter {
            mentor: MentorId(row.mentor_id),
            full_name: row.full_name,
            rows: row.dead_rows.unsigned_abs(),
            last_error: row.last_error,
            since: row.since,
        })
        .collect())
}

pub(crate) async fn record_credential_check(
    db: &Db,
    org: OrgId,
    check: CredentialCheck,
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO credential_checks (org_id, checked_at, ok, detail) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (org_id) DO UPDATE \
         SET checked_at = excluded.checked_at, ok = excluded.ok, detail = excluded.detail",
    )
    .bind(org.0)
    .bind(Ts(check.checked_at))
    .bind(check.ok)
    .bind(check.detail)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await
}

pub(crate) async fn prune_sync_outbox(db: &Db, age: Duration) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let pruned = sqlx::query("DELETE FROM sync_outbox WHERE state = 'done' AND done_at < ?1")
        .bind(Ts::ago(age))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    db.commit(tx).await?;
    Ok(pruned)
}

fn parse_status(value: &str) -> StoreResult<MentorStatus> {
    value.parse().map_err(|_| bad_column("mentors.status"))
}

/// Milliseconds from `from` to `to`, to the microsecond.
fn lag_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let micros = (to - from).num_microseconds().unwrap_or(i64::MAX);
    micros as f64 / 1000.0
}

/// Rounded to whole milliseconds, as PostgreSQL casts the lag to bigint.
fn whole_ms(ms: f64) -> i64 {
    ms.round() as i64
}

/// `percentile_cont`: the value at `fraction` of the way through the sorted values, interpolated
/// between its two neighbours; `None` without values.
fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let position = fraction * last as f64;
    let below = position.floor();
    let lower = *sorted.get(below as usize)?;
    let upper = *sorted.get(position.ceil() as usize)?;
    Some(lower + (upper - lower) * (position - below))
}

impl store::ListingOutbox for crate::SqliteStore {
    async fn claim_sync(&self, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
        claim_sync(&self.db, claim).await
    }
    async fn claim_sync_mentors(&self, claim: MentorsClaim) -> StoreResult<ClaimedMentors> {
        claim_sync_mentors(&self.db, claim).await
    }
    async fn unsynced_mentors(&self, org: OrgId) -> StoreResult<Vec<MentorId>> {
        unsynced_mentors(&self.db, org).await
    }
    async fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> StoreResult<SyncRecorded> {
        record_sync_results(&self.db, org, owner, results).await
    }
    async fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> StoreResult<u64> {
        queue_sync(&self.db, org, selection, priority).await
    }
    async fn retry_dead_sync(&self, org: OrgId, mentor: Option<MentorId>) -> StoreResult<u64> {
        retry_dead_sync(&self.db, org, mentor).await
    }
    async fn sync_targets(&self, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
        sync_targets(&self.db, org).await
    }
    async fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> StoreResult<SyncStatusRecord> {
        sync_status(&self.db, org, window).await
    }
    async fn dead_letters(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        dead_letters(&self.db, org, limit).await
    }
    async fn record_credential_check(&self, org: OrgId, check: CredentialCheck) -> StoreResult<()> {
        record_credential_check(&self.db, org, check).await
    }
    async fn sync_wakeups(&self) -> StoreResult<SyncWakeups> {
        Ok(self.db.wakeups())
    }
    async fn prune_sync_outbox(&self, age: std::time::Duration) -> StoreResult<u64> {
        prune_sync_outbox(&self.db, age).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_percentile_cont() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let p99 = percentile(&hundred, 0.99).unwrap();
        assert!((p99 - 99.01).abs() < 1e-9, "{p99}");
    }
}
