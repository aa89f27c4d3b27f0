//! Delivery outside the application: the email outbox (filled with notifications' emails by the
//! trigger of migration 0006, in the notification's transaction, and with alerts' emails here) and
//! the operations webhook's outbox. Senders claim due rows with leases (FOR UPDATE SKIP LOCKED, as the
//! listing sync does), send outside any transaction, and record what each attempt did in a second
//! short transaction; only the lease's owner can record it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{Email, Locale, OrgId};
use sqlx::{PgConnection, PgPool};
use store::{
    AlertCandidate, AlertDeliveryPlan, AlertEvent, AlertRecord, ChannelTold, DeliveryClaim,
    DeliveryOutcome, DeliveryResult, DeliveryStatus, EmailJob, OrgRef, OutboxDepth,
    QueuedAlertEmail, QueuedWebhook, StoreResult, WebhookJob, alert_candidates_cutoff,
    alert_deliveries,
};
use uuid::Uuid;

use crate::alerts::AlertRow;
use crate::error::db_err;
use crate::plans::begin_index_lookups;

/// The two outboxes, named where a statement serves both.
const EMAIL_OUTBOX: &str = "email_outbox";
const WEBHOOK_OUTBOX: &str = "webhook_outbox";

/// The longest lease or backoff bound to a statement (an interval of `i64::MAX` microseconds is out
/// of PostgreSQL's range); ten years is "never" for a sender.
const LONGEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Rows a claim may take: pending, due, and not leased (or their lease ran out). Oldest first; rows
/// another claim is taking right now are skipped, and a row leased meanwhile fails the recheck of
/// the lease under FOR UPDATE.
fn due_rows(table: &str) -> String {
    format!(
        "SELECT id FROM {table} \
         WHERE state = 'pending' AND available_at <= now() \
           AND (leased_until IS NULL OR leased_until <= now()) \
         ORDER BY available_at, id \
         LIMIT $1 \
         FOR UPDATE SKIP LOCKED"
    )
}

fn claim_emails_sql() -> String {
    format!(
        "WITH due AS ({}), leased AS ( \
             UPDATE email_outbox e \
             SET lease_owner = $2, leased_until = now() + $3 * interval '1 microsecond' \
             FROM due WHERE e.id = due.id \
             RETURNING e.id, e.org_id, e.to_address, e.recipient_name, e.locale, e.kind, e.payload, \
                       e.attempts, e.first_failed_at, e.created_at, e.available_at \
         ) \
         SELECT l.*, o.slug AS org_slug, o.name AS org_name \
         FROM leased l LEFT JOIN organisations o ON o.id = l.org_id \
         ORDER BY l.available_at, l.id",
        due_rows(EMAIL_OUTBOX)
    )
}

fn claim_webhooks_sql() -> String {
    format!(
        "WITH due AS ({}), leased AS ( \
             UPDATE webhook_outbox w \
             SET lease_owner = $2, leased_until = now() + $3 * interval '1 microsecond' \
             FROM due WHERE w.id = due.id \
             RETURNING w.id, w.alert_id, w.event, w.attempts, w.first_failed_at, w.available_at \
         ) \
         SELECT l.id AS delivery_id, l.event, l.attempts AS delivery_attempts, \
                l.first_failed_at AS delivery_first_failed_at, {}, \
                o.slug AS org_slug, o.name AS org_name \
         FROM leased l \
         JOIN alerts a ON a.id = l.alert_id \
         LEFT JOIN organisations o ON o.id = a.org_id \
         ORDER BY l.available_at, l.id",
        due_rows(WEBHOOK_OUTBOX),
        alert_columns("a")
    )
}

/// The alert columns, qualified by `alias`.
fn alert_columns(alias: &str) -> String {
    crate::alerts::ALERT_COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    id: Uuid,
    org_id: Option<Uuid>,
    to_address: String,
    recipient_name: Option<String>,
    locale: String,
    kind: String,
    payload: serde_json::Value,
    attempts: i32,
    first_failed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    org_slug: Option<String>,
    org_name: Option<String>,
}

impl EmailRow {
    /// The job, or what is wrong with the stored row.
    fn job(self) -> Result<EmailJob, &'static str> {
        Ok(EmailJob {
            id: self.id,
            org: OrgRef::from_columns(self.org_id, self.org_slug, self.org_name)?,
            to: Email::parse(&self.to_address).map_err(|_| "email_outbox.to_address")?,
            recipient_name: self.recipient_name,
            locale: Locale::parse(&self.locale).map_err(|_| "email_outbox.locale")?,
            kind: self.kind,
            payload: self.payload,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            first_failed_at: self.first_failed_at,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    delivery_id: Uuid,
    event: String,
    delivery_attempts: i32,
    delivery_first_failed_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    alert: AlertRow,
    org_slug: Option<String>,
    org_name: Option<String>,
}

impl WebhookRow {
    fn job(self) -> Result<WebhookJob, &'static str> {
        let alert = AlertRecord::try_from(self.alert).map_err(|_| "alerts")?;
        Ok(WebhookJob {
            id: self.delivery_id,
            event: AlertEvent::parse(&self.event).ok_or("webhook_outbox.event")?,
            org: OrgRef::from_columns(alert.org_id.map(|o| o.0), self.org_slug, self.org_name)?,
            alert,
            attempts: u32::try_from(self.delivery_attempts).unwrap_or(0),
            first_failed_at: self.delivery_first_failed_at,
        })
    }
}

/// Claimed rows whose stored values the domain refuses (a hand edit) would fail every claim after
/// their lease: they are marked dead instead, with what is wrong, for a person to look at.
async fn bury_unreadable(
    conn: &mut PgConnection,
    table: &str,
    unreadable: Vec<(Uuid, &'static str)>,
) -> StoreResult<()> {
    if unreadable.is_empty() {
        return Ok(());
    }
    for (id, column) in &unreadable {
        tracing::error!(outbox = table, %id, column, "an outbox row has an invalid stored value; marked dead");
    }
    let (ids, errors): (Vec<Uuid>, Vec<String>) = unreadable
        .into_iter()
        .map(|(id, column)| (id, format!("stored {column} is not a valid value")))
        .unzip();
    sqlx::query(&format!(
        "UPDATE {table} t SET state = 'dead', last_error = r.error, \
             first_failed_at = COALESCE(t.first_failed_at, now()), \
             lease_owner = NULL, leased_until = NULL \
         FROM UNNEST($1::uuid[], $2::text[]) AS r(id, error) WHERE t.id = r.id"
    ))
    .bind(&ids)
    .bind(&errors)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn claim_emails(
    pool: &PgPool,
    claim: DeliveryClaim,
) -> StoreResult<Vec<EmailJob>> {
    let mut tx = begin_index_lookups(pool).await?;
    let rows: Vec<EmailRow> = sqlx::query_as(&claim_emails_sql())
        .bind(i64::from(claim.limit))
        .bind(claim.owner)
        .bind(micros(claim.lease))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let id = row.id;
        match row.job() {
            Ok(job) => jobs.push(job),
            Err(column) => unreadable.push((id, column)),
        }
    }
    bury_unreadable(&mut tx, EMAIL_OUTBOX, unreadable).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(jobs)
}

pub(crate) async fn claim_webhooks(
    pool: &PgPool,
    claim: DeliveryClaim,
) -> StoreResult<Vec<WebhookJob>> {
    let mut tx = begin_index_lookups(pool).await?;
    let rows: Vec<WebhookRow> = sqlx::query_as(&claim_webhooks_sql())
        .bind(i64::from(claim.limit))
        .bind(claim.owner)
        .bind(micros(claim.lease))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let id = row.delivery_id;
        match row.job() {
            Ok(job) => jobs.push(job),
            Err(column) => unreadable.push((id, column)),
        }
    }
    bury_unreadable(&mut tx, WEBHOOK_OUTBOX, unreadable).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(jobs)
}

/// What the attempts did, for the rows still leased to `$5`; every such row's lease ends. A result
/// given twice for one row counts once (the first one).
fn record_results_sql(table: &str) -> String {
    format!(
        "UPDATE {table} t SET \
             state = CASE r.kind WHEN 'delivered' THEN 'sent' WHEN 'dead' THEN 'dead' \
                                 ELSE 'pending' END, \
             sent_at = CASE WHEN r.kind = 'delivered' THEN now() ELSE t.sent_at END, \
             attempts = t.attempts + (r.kind <> 'delivered')::int, \
             first_failed_at = CASE WHEN r.kind = 'delivered' THEN t.first_failed_at \
                                    ELSE COALESCE(t.first_failed_at, now()) END, \
             last_error = CASE WHEN r.kind = 'delivered' THEN t.last_error ELSE r.error END, \
             available_at = CASE WHEN r.kind = 'retry' \
                                 THEN now() + r.after_us * interval '1 microsecond' \
                                 ELSE t.available_at END, \
             lease_owner = NULL, leased_until = NULL \
         FROM ( \
             SELECT DISTINCT ON (id) id, kind, error, after_us \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY \
                 AS r(id, kind, error, after_us, n) \
             ORDER BY id, n \
         ) r \
         WHERE t.id = r.id AND t.state = 'pending' AND t.lease_owner = $5"
    )
}

async fn record_results(
    pool: &PgPool,
    table: &str,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    if results.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(results.len());
    let mut kinds = Vec::with_capacity(results.len());
    let mut errors = Vec::with_capacity(results.len());
    let mut after_us = Vec::with_capacity(results.len());
    for result in results {
        let (kind, error, after) = match result.outcome {
            DeliveryOutcome::Delivered => ("delivered", None, None),
            DeliveryOutcome::Retry { after, error } => ("retry", Some(error), Some(micros(after))),
            DeliveryOutcome::Dead { error } => ("dead", Some(error), None),
        };
        ids.push(result.id);
        kinds.push(kind);
        errors.push(error);
        after_us.push(after);
    }
    let mut tx = begin_index_lookups(pool).await?;
    let recorded = sqlx::query(&record_results_sql(table))
        .bind(&ids)
        .bind(&kinds)
        .bind(&errors)
        .bind(&after_us)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    tx.commit().await.map_err(db_err)?;
    Ok(recorded)
}

pub(crate) async fn record_email_results(
    pool: &PgPool,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    record_results(pool, EMAIL_OUTBOX, owner, results).await
}

pub(crate) async fn record_webhook_results(
    pool: &PgPool,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    record_results(pool, WEBHOOK_OUTBOX, owner, results).await
}

/// Every alert that may have something to tell, with what each channel has been told of it: open
/// alerts, alerts resolved since `$1` (whose opening may not have been told yet), and alerts whose
/// opening a channel told but not their resolution. `$2`/`$3`: whether the webhook / email channel is
/// on; `$4`–`$6`: the email kinds of opened, reminder and resolved.
fn alert_candidates_sql() -> String {
    format!(
        "SELECT * FROM ( \
             SELECT {}, o.slug AS org_slug, o.name AS org_name, \
                 ($2 AND EXISTS (SELECT 1 FROM webhook_outbox w \
                                 WHERE w.alert_id = a.id AND w.event = 'opened')) AS webhook_opened, \
                 ($2 AND EXISTS (SELECT 1 FROM webhook_outbox w \
                                 WHERE w.alert_id = a.id AND w.event = 'resolved')) AS webhook_resolved, \
                 (SELECT max(w.created_at) FROM webhook_outbox w \
                  WHERE $2 AND w.alert_id = a.id AND w.event IN ('opened', 'reminder')) AS webhook_last, \
                 ($3 AND EXISTS (SELECT 1 FROM email_outbox e \
                                 WHERE e.alert_id = a.id AND e.kind = $4)) AS email_opened, \
                 ($3 AND EXISTS (SELECT 1 FROM email_outbox e \
                                 WHERE e.alert_id = a.id AND e.kind = $6)) AS email_resolved, \
                 (SELECT max(e.created_at) FROM email_outbox e \
                  WHERE $3 AND e.alert_id = a.id AND e.kind IN ($4, $5)) AS email_last \
             FROM alerts a LEFT JOIN organisations o ON o.id = a.org_id \
         ) c \
         WHERE c.resolved_at IS NULL OR c.resolved_at > $1 \
            OR (c.webhook_opened AND NOT c.webhook_resolved) \
            OR (c.email_opened AND NOT c.email_resolved) \
         ORDER BY c.id",
        alert_columns("a")
    )
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    #[sqlx(flatten)]
    alert: AlertRow,
    org_slug: Option<String>,
    org_name: Option<String>,
    webhook_opened: bool,
    webhook_resolved: bool,
    webhook_last: Option<DateTime<Utc>>,
    email_opened: bool,
    email_resolved: bool,
    email_last: Option<DateTime<Utc>>,
}

pub(crate) async fn queue_alert_deliveries(
    pool: &PgPool,
    plan: AlertDeliveryPlan,
) -> StoreResult<u64> {
    if !plan.webhook && plan.email.is_none() {
        return Ok(0);
    }
    let mut tx = pool.begin().await.map_err(db_err)?;
    let rows: Vec<CandidateRow> = sqlx::query_as(&alert_candidates_sql())
        .bind(alert_candidates_cutoff(&plan))
        .bind(plan.webhook)
        .bind(plan.email.is_some())
        .bind(AlertEvent::Opened.email_kind())
        .bind(AlertEvent::Reminder.email_kind())
        .bind(AlertEvent::Resolved.email_kind())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    let candidates = rows
        .into_iter()
        .map(CandidateRow::candidate)
        .collect::<StoreResult<Vec<_>>>()?;
    let (webhooks, emails) = alert_deliveries(candidates, &plan);
    let hooks = WebhookColumns::of(&webhooks);
    let emails = EmailColumns::of(&emails);

    let mut queued = 0;
    if !hooks.id.is_empty() {
        queued += sqlx::query(
            "INSERT INTO webhook_outbox (id, alert_id, event, event_key, available_at, created_at) \
             SELECT r.id, r.alert_id, r.event, r.event_key, now(), $5 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[]) \
                 WITH ORDINALITY AS r(id, alert_id, event, event_key, n) \
             ORDER BY r.n \
             ON CONFLICT ON CONSTRAINT webhook_outbox_alert_event_key DO NOTHING",
        )
        .bind(&hooks.id)
        .bind(&hooks.alert)
        .bind(&hooks.event)
        .bind(&hooks.key)
        .bind(plan.now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    }
    if !emails.id.is_empty() {
        queued += sqlx::query(
            "INSERT INTO email_outbox (id, org_id, alert_id, to_address, locale, kind, payload, \
                                       dedupe_key, available_at, created_at) \
             SELECT r.id, r.org_id, r.alert_id, r.to_address, r.locale, r.kind, r.payload, \
                    r.dedupe_key, now(), $9 \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
                         $7::jsonb[], $8::text[]) \
                 WITH ORDINALITY AS r(id, org_id, alert_id, to_address, locale, kind, payload, \
                                      dedupe_key, n) \
             ORDER BY r.n \
             ON CONFLICT ON CONSTRAINT email_outbox_dedupe_key DO NOTHING",
        )
        .bind(&emails.id)
        .bind(&emails.org)
        .bind(&emails.alert)
        .bind(&emails.to)
        .bind(&emails.locale)
        .bind(&emails.kind)
        .bind(&emails.payload)
        .bind(&emails.dedupe_key)
        .bind(plan.now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    }
    tx.commit().await.map_err(db_err)?;
    Ok(queued)
}

impl CandidateRow {
    fn candidate(self) -> StoreResult<AlertCandidate> {
        AlertCandidate::from_columns(
            AlertRecord::try_from(self.alert)?,
            self.org_slug,
            self.org_name,
            ChannelTold {
                opened: self.webhook_opened,
                resolved: self.webhook_resolved,
                last: self.webhook_last,
            },
            ChannelTold {
                opened: self.email_opened,
                resolved: self.email_resolved,
                last: self.email_last,
            },
        )
    }
}

/// Webhook rows as the columns `UNNEST` inserts.
struct WebhookColumns {
    id: Vec<Uuid>,
    alert: Vec<Uuid>,
    event: Vec<&'static str>,
    key: Vec<String>,
}

impl WebhookColumns {
    fn of(rows: &[QueuedWebhook]) -> Self {
        WebhookColumns {
            id: rows.iter().map(|r| r.id).collect(),
            alert: rows.iter().map(|r| r.alert).collect(),
            event: rows.iter().map(|r| r.event.as_str()).collect(),
            key: rows.iter().map(|r| r.event_key.clone()).collect(),
        }
    }
}

/// Alert email rows as the columns `UNNEST` inserts.
struct EmailColumns {
    id: Vec<Uuid>,
    org: Vec<Option<Uuid>>,
    alert: Vec<Uuid>,
    to: Vec<String>,
    locale: Vec<&'static str>,
    kind: Vec<&'static str>,
    payload: Vec<serde_json::Value>,
    dedupe_key: Vec<String>,
}

impl EmailColumns {
    fn of(rows: &[QueuedAlertEmail]) -> Self {
        EmailColumns {
            id: rows.iter().map(|r| r.id).collect(),
            org: rows.iter().map(|r| r.org.map(|o| o.0)).collect(),
            alert: rows.iter().map(|r| r.alert).collect(),
            to: rows.iter().map(|r| r.to.as_str().to_owned()).collect(),
            locale: rows.iter().map(|r| r.locale.as_str()).collect(),
            kind: rows.iter().map(|r| r.event.email_kind()).collect(),
            payload: rows.iter().map(|r| r.payload.clone()).collect(),
            dedupe_key: rows.iter().map(|r| r.dedupe_key.clone()).collect(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct DepthRow {
    email_pending: i64,
    email_dead: i64,
    email_oldest: Option<DateTime<Utc>>,
    webhook_pending: i64,
    webhook_dead: i64,
    webhook_oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn delivery_status(pool: &PgPool) -> StoreResult<DeliveryStatus> {
    let row: DepthRow = sqlx::query_as(
        "SELECT \
             (SELECT count(*) FROM email_outbox WHERE state = 'pending') AS email_pending, \
             (SELECT count(*) FROM email_outbox WHERE state = 'dead') AS email_dead, \
             (SELECT min(created_at) FROM email_outbox WHERE state = 'pending') AS email_oldest, \
             (SELECT count(*) FROM webhook_outbox WHERE state = 'pending') AS webhook_pending, \
             (SELECT count(*) FROM webhook_outbox WHERE state = 'dead') AS webhook_dead, \
             (SELECT min(created_at) FROM webhook_outbox WHERE state = 'pending') AS webhook_oldest",
    )
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(DeliveryStatus {
        email: OutboxDepth {
            pending: row.email_pending.unsigned_abs(),
            dead: row.email_dead.unsigned_abs(),
            oldest_pending_at: row.email_oldest,
        },
        webhook: OutboxDepth {
            pending: row.webhook_pending.unsigned_abs(),
            dead: row.webhook_dead.unsigned_abs(),
            oldest_pending_at: row.webhook_oldest,
        },
    })
}

/// A lease or backoff in whole microseconds, the unit the statements multiply intervals by.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.min(LONGEST).as_micros()).unwrap_or(i64::MAX)
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    pending: i64,
    dead: i64,
    oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn email_queue(pool: &PgPool, org: OrgId) -> StoreResult<OutboxDepth> {
    let row: QueueRow = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'pending') AS pending, \
                count(*) FILTER (WHERE state = 'dead') AS dead, \
                min(created_at) FILTER (WHERE state = 'pending') AS oldest \
         FROM email_outbox WHERE org_id = $1 AND state IN ('pending', 'dead')",
    )
    .bind(org.0)
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(OutboxDepth {
        pending: row.pending.unsigned_abs(),
        dead: row.dead.unsigned_abs(),
        oldest_pending_at: row.oldest,
    })
}

/// Times are the database's: `sent_at` is stamped by it, and an alert resolved by a rehearsal clock
/// in the future is simply kept.
pub(crate) async fn prune_delivery_outboxes(
    pool: &PgPool,
    org: OrgId,
    age: std::time::Duration,
) -> StoreResult<u64> {
    let pruned: i64 = sqlx::query_scalar(
        "WITH old_alerts AS ( \
             SELECT id FROM alerts \
             WHERE org_id = $1 AND resolved_at < now() - $2 * interval '1 microsecond' \
         ), emails AS ( \
             DELETE FROM email_outbox \
             WHERE org_id = $1 \
               AND ((alert_id IS NULL AND state = 'sent' \
                     AND sent_at < now() - $2 * interval '1 microsecond') \
                    OR alert_id IN (SELECT id FROM old_alerts)) \
             RETURNING 1 \
         ), hooks AS ( \
             DELETE FROM webhook_outbox WHERE alert_id IN (SELECT id FROM old_alerts) RETURNING 1 \
         ) \
         SELECT (SELECT count(*) FROM emails) + (SELECT count(*) FROM hooks)",
    )
    .bind(org.0)
    .bind(micros(age))
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    Ok(pruned.unsigned_abs())
}

impl store::DeliveryOutbox for crate::PgStore {
    async fn claim_emails(&self, claim: DeliveryClaim) -> StoreResult<Vec<EmailJob>> {
        claim_emails(&self.pool, claim).await
    }
    async fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        record_email_results(&self.pool, owner, results).await
    }
    async fn queue_alert_deliveries(&self, plan: AlertDeliveryPlan) -> StoreResult<u64> {
        queue_alert_deliveries(&self.pool, plan).await
    }
    async fn claim_webhooks(&self, claim: DeliveryClaim) -> StoreResult<Vec<WebhookJob>> {
        claim_webhooks(&self.pool, claim).await
    }
    async fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        record_webhook_results(&self.pool, owner, results).await
    }
    async fn delivery_status(&self) -> StoreResult<DeliveryStatus> {
        delivery_status(&self.pool).await
    }
    async fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> StoreResult<u64> {
        prune_delivery_outboxes(&self.pool, org, age).await
    }
    async fn email_queue(&self, org: OrgId) -> StoreResult<OutboxDepth> {
        email_queue(&self.pool, org).await
    }
}
