//! The run log and the scheduler's claims. A scheduled run is claimed by inserting (job, organisation,
//! business date); a claim whose lease ran out before it completed is taken over by whoever updates it
//! first. Lease comparisons use the caller's clock (`at`), never the database's `now()`, so every
//! instance and every test judges a lease by the same injectable clock.

use chrono::{DateTime, NaiveDate, Utc};
use domain::OrgId;
use sqlx::{PgConnection, PgPool};
use store::{
    FinishedRun, NewRun, Page, RunCounts, RunFinish, RunId, RunOutcome, RunRecord, RunTrigger,
    StoreError, StoreResult,
};
use uuid::Uuid;

use crate::digest::write_digest;
use crate::error::{bad_column, db_err};
use crate::plans::begin_custom_planned;

const RUN_COLUMNS: &str = "id, job, org_id, business_date, trigger, instance, started_at, \
     finished_at, outcome, counts, error";

pub(crate) async fn claim_scheduled_run(pool: &PgPool, run: NewRun) -> StoreResult<bool> {
    let mut tx = begin_custom_planned(pool).await?;
    // Lock the existing claim, if any, so the run it names is the run this claimer takes over: a
    // concurrent claimer waits here and then sees the claim as the winner left it.
    let previous: Option<Uuid> = sqlx::query_scalar(
        "SELECT run_id FROM scheduled_claims WHERE job = $1 AND org_id = $2 AND business_date = $3 \
         FOR UPDATE",
    )
    .bind(&run.job)
    .bind(run.org.0)
    .bind(run.business_date)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    // The insert, or the take-over of an expired and uncompleted claim, is the claim: a row comes
    // back only to the one caller that wrote it.
    let won: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO scheduled_claims (job, org_id, business_date, run_id, lease_until) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (job, org_id, business_date) DO UPDATE \
             SET run_id = EXCLUDED.run_id, lease_until = EXCLUDED.lease_until \
             WHERE scheduled_claims.completed_at IS NULL AND scheduled_claims.lease_until < $6 \
         RETURNING run_id",
    )
    .bind(&run.job)
    .bind(run.org.0)
    .bind(run.business_date)
    .bind(run.id.0)
    .bind(run.lease_until)
    .bind(run.at)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    if won.is_none() {
        tx.rollback().await.map_err(db_err)?;
        return Ok(false);
    }
    if let Some(previous) = previous.filter(|p| *p != run.id.0) {
        // The instance that held it died or stalled; the log says so instead of "running" forever.
        sqlx::query(
            "UPDATE job_runs \
             SET outcome = 'failed', finished_at = $2, lease_until = NULL, \
                 error = 'lease expired; taken over by ' || $3 \
             WHERE id = $1 AND outcome = 'running'",
        )
        .bind(previous)
        .bind(run.at)
        .bind(&run.instance)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tracing::warn!(job = %run.job, org = %run.org, date = %run.business_date, previous = %previous,
            "took over a scheduled run whose lease expired");
    }
    insert_run(&mut tx, &run).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

pub(crate) async fn start_run(pool: &PgPool, run: NewRun) -> StoreResult<()> {
    let mut conn = pool.acquire().await.map_err(db_err)?;
    insert_run(&mut conn, &run).await
}

async fn insert_run(conn: &mut PgConnection, run: &NewRun) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO job_runs (id, job, org_id, business_date, trigger, instance, started_at, \
                               outcome, counts, lease_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9)",
    )
    .bind(run.id.0)
    .bind(&run.job)
    .bind(run.org.0)
    .bind(run.business_date)
    .bind(run.trigger.as_str())
    .bind(&run.instance)
    .bind(run.at)
    .bind(counts_json(&RunCounts::default())?)
    .bind(run.lease_until)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn renew_run_lease(
    pool: &PgPool,
    run: RunId,
    until: DateTime<Utc>,
) -> StoreResult<()> {
    // One statement for the run and its claim. A run that was taken over no longer names the claim,
    // and is no longer `running`, so renewing it changes nothing: the new owner keeps the claim.
    let exists: bool = sqlx::query_scalar(
        "WITH run AS ( \
             UPDATE job_runs SET lease_until = $2 WHERE id = $1 AND outcome = 'running' \
         ), claim AS ( \
             UPDATE scheduled_claims SET lease_until = $2 WHERE run_id = $1 AND completed_at IS NULL \
         ) \
         SELECT EXISTS (SELECT 1 FROM job_runs WHERE id = $1)",
    )
    .bind(run.0)
    .bind(until)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    if !exists {
        return Err(StoreError::not_found("run"));
    }
    Ok(())
}

pub(crate) async fn finish_run(pool: &PgPool, finish: RunFinish) -> StoreResult<FinishedRun> {
    if finish.outcome == RunOutcome::Running {
        return Err(StoreError::Other(
            "a run finishes as succeeded or failed, not running".into(),
        ));
    }
    let mut tx = begin_custom_planned(pool).await?;
    let run: Option<(Uuid, String)> =
        sqlx::query_as("SELECT org_id, job FROM job_runs WHERE id = $1")
            .bind(finish.run.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
    let (org, job) = run.ok_or(StoreError::not_found("run"))?;
    lock_organisation(&mut tx, org).await?;
    sqlx::query(
        "UPDATE job_runs \
         SET finished_at = $2, outcome = $3, counts = $4, error = $5, lease_until = NULL \
         WHERE id = $1",
    )
    .bind(finish.run.0)
    .bind(finish.at)
    .bind(finish.outcome.as_str())
    .bind(counts_json(&finish.counts)?)
    .bind(&finish.error)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    // Only success completes the claim; a failed run's claim is retried once its lease runs out. A
    // run that was taken over no longer names the claim and completes nothing.
    if finish.outcome == RunOutcome::Succeeded {
        sqlx::query(
            "UPDATE scheduled_claims SET completed_at = $2 WHERE run_id = $1 AND completed_at IS NULL",
        )
        .bind(finish.run.0)
        .bind(finish.at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    let finished = match finish.digest_for {
        Some(date) if finish.outcome == RunOutcome::Succeeded => {
            write_digest(&mut tx, OrgId(org), &job, finish.run, date, finish.at).await?
        }
        _ => FinishedRun::default(),
    };
    tx.commit().await.map_err(db_err)?;
    Ok(finished)
}

/// A digest asked for again by a run that finished while another was alive.
pub(crate) async fn retry_digest(
    pool: &PgPool,
    org: OrgId,
    job: &str,
    run: RunId,
    date: NaiveDate,
    at: DateTime<Utc>,
) -> StoreResult<FinishedRun> {
    let mut tx = begin_custom_planned(pool).await?;
    lock_organisation(&mut tx, org.0).await?;
    let finished = write_digest(&mut tx, org, job, run, date, at).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(finished)
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: Uuid,
    job: String,
    org_id: Uuid,
    business_date: NaiveDate,
    trigger: String,
    instance: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: String,
    counts: serde_json::Value,
    error: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;
    fn try_from(row: RunRow) -> Result<Self, StoreError> {
        Ok(RunRecord {
            id: RunId(row.id),
            job: row.job,
            org_id: OrgId(row.org_id),
            business_date: row.business_date,
            trigger: RunTrigger::parse(&row.trigger)
                .ok_or_else(|| bad_column("job_runs.trigger"))?,
            instance: row.instance,
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: RunOutcome::parse(&row.outcome)
                .ok_or_else(|| bad_column("job_runs.outcome"))?,
            counts: parse_counts(row.counts)?,
            error: row.error,
        })
    }
}

fn counts_json(counts: &RunCounts) -> StoreResult<serde_json::Value> {
    serde_json::to_value(counts).map_err(|e| StoreError::Other(Box::new(e)))
}

/// Stored counts over the defaults: a counter added after a run was recorded reads as 0 for it.
fn parse_counts(stored: serde_json::Value) -> StoreResult<RunCounts> {
    let mut counts = counts_json(&RunCounts::default())?;
    if let (Some(defaults), serde_json::Value::Object(stored)) = (counts.as_object_mut(), stored) {
        defaults.extend(stored);
    }
    serde_json::from_value(counts).map_err(|_| bad_column("job_runs.counts"))
}

pub(crate) async fn runs(
    pool: &PgPool,
    org: OrgId,
    limit: u32,
    before: Option<RunId>,
) -> StoreResult<Page<RunRecord, RunId>> {
    // Run ids are UUIDv7, so newest first by id is newest first by start.
    let rows: Vec<RunRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM job_runs \
         WHERE org_id = $1 AND ($2::uuid IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(org.0)
    .bind(before.map(|r| r.0))
    .bind(store::page_fetch_limit(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(RunRecord::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(records, limit, |r| r.id))
}

/// Finishing runs of one organisation take turns, so the last one to finish sees every other one
/// finished and writes the digest. NO KEY UPDATE, not UPDATE: it must not block the foreign-key
/// checks (KEY SHARE) of everything else written for the organisation meanwhile.
async fn lock_organisation(conn: &mut PgConnection, org: Uuid) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM organisations WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl store::RunStore for crate::PgStore {
    async fn claim_scheduled_run(&self, run: NewRun) -> StoreResult<bool> {
        claim_scheduled_run(&self.pool, run).await
    }
    async fn start_run(&self, run: NewRun) -> StoreResult<()> {
        start_run(&self.pool, run).await
    }
    async fn renew_run_lease(&self, run: RunId, until: DateTime<Utc>) -> StoreResult<()> {
        renew_run_lease(&self.pool, run, until).await
    }
    async fn finish_run(&self, finish: RunFinish) -> StoreResult<FinishedRun> {
        finish_run(&self.pool, finish).await
    }
    async fn runs(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<RunId>,
    ) -> StoreResult<Page<RunRecord, RunId>> {
        runs(&self.pool, org, limit, before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_missing_from_an_old_row_read_as_zero() {
        let counts =
            parse_counts(serde_json::json!({ "expired": 3, "retired_counter": 1 })).unwrap();
        assert_eq!(
            counts,
            RunCounts {
                expired: 3,
                ..RunCounts::default()
            }
        );
        assert_eq!(
            parse_counts(serde_json::json!({})).unwrap(),
            RunCounts::default()
        );
    }
}
