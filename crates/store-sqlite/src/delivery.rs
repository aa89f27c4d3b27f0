//! Delivery outside the application: the email outbox (filled with notifications' emails by the
//! trigger of migration 0002, in the notification's transaction, and with alerts' emails here) and
//! the operations webhook's outbox. Senders claim due rows with leases, send outside any transaction,
//! and record what each attempt did in a second short transaction; only the lease's owner can record
//! it. Every write transaction runs alone on the one writer connection (`BEGIN IMMEDIATE`), so a
//! claim sees every lease committed before it and two claims never lease the same row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{Email, Locale, OrgId};
use sqlx::SqliteConnection;
use store::{
    AlertCandidate, AlertDeliveryPlan, AlertEvent, AlertRecord, ChannelTold, DeliveryClaim,
    DeliveryOutcome, DeliveryResult, DeliveryStatus, EmailJob, OrgRef, OutboxDepth, StoreResult,
    WebhookJob, alert_candidates_cutoff, alert_deliveries,
};
use uuid::Uuid;

use crate::alerts::{ALERT_COLUMNS, AlertRow};
use crate::db::Db;
use crate::error::db_err;
use crate::time::Ts;

/// The two outboxes, named where a statement serves both.
const EMAIL_OUTBOX: &str = "email_outbox";
const WEBHOOK_OUTBOX: &str = "webhook_outbox";

/// Lease the oldest due rows: pending, due, and not leased (or their lease ran out).
/// ?1 owner, ?2 lease end, ?3 now, ?4 limit.
fn lease_due(table: &str, returning: &str) -> String {
    format!(
        "UPDATE {table} SET lease_owner = ?1, leased_until = ?2 \
         WHERE id IN ( \
             SELECT id FROM {table} \
             WHERE state = 'pending' AND available_at <= ?3 \
               AND (leased_until IS NULL OR leased_until <= ?3) \
             ORDER BY available_at, id \
             LIMIT ?4 \
         ) \
         RETURNING {returning}"
    )
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    id: Uuid,
    org_id: Option<Uuid>,
    to_address: String,
    recipient_name: Option<String>,
    locale: String,
    kind: String,
    payload: String,
    attempts: i64,
    first_failed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    available_at: DateTime<Utc>,
}

impl EmailRow {
    /// The job, or what is wrong with the stored row.
    fn job(self, org: Option<OrgRef>) -> Result<EmailJob, &'static str> {
        Ok(EmailJob {
            id: self.id,
            org,
            to: Email::parse(&self.to_address).map_err(|_| "email_outbox.to_address")?,
            recipient_name: self.recipient_name,
            locale: Locale::parse(&self.locale).map_err(|_| "email_outbox.locale")?,
            kind: self.kind,
            payload: serde_json::from_str(&self.payload).map_err(|_| "email_outbox.payload")?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            first_failed_at: self.first_failed_at,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: Uuid,
    alert_id: Uuid,
    event: String,
    attempts: i64,
    first_failed_at: Option<DateTime<Utc>>,
    available_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrgRefRow {
    slug: String,
    name: String,
}

/// The organisations of `ids` as messages name them, read once each.
struct OrgRefs(HashMap<Uuid, Result<OrgRef, &'static str>>);

impl OrgRefs {
    fn new() -> OrgRefs {
        OrgRefs(HashMap::new())
    }

    async fn get(
        &mut self,
        conn: &mut SqliteConnection,
        id: Option<Uuid>,
    ) -> StoreResult<Result<Option<OrgRef>, &'static str>> {
        let Some(id) = id else {
            return Ok(Ok(None));
        };
        if let Some(org) = self.0.get(&id) {
            return Ok(org.clone().map(Some));
        }
        let row: Option<OrgRefRow> =
            sqlx::query_as("SELECT slug, name FROM organisations WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        let (slug, name) = row.map(|r| (r.slug, r.name)).unzip();
        let org = OrgRef::from_columns(Some(id), slug, name).and_then(|org| org.ok_or("org_id"));
        self.0.insert(id, org.clone());
        Ok(org.map(Some))
    }
}

/// Claimed rows whose stored values the domain refuses (a hand edit) would fail every claim after
/// their lease: they are marked dead instead, with what is wrong, for a person to look at.
async fn bury_unreadable(
    conn: &mut SqliteConnection,
    table: &str,
    unreadable: Vec<(Uuid, &'static str)>,
    now: Ts,
) -> StoreResult<()> {
    for (id, column) in unreadable {
        tracing::error!(outbox = table, %id, column, "an outbox row has an invalid stored value; marked dead");
        sqlx::query(&format!(
            "UPDATE {table} SET state = 'dead', last_error = ?1, \
                 first_failed_at = COALESCE(first_failed_at, ?2), \
                 lease_owner = NULL, leased_until = NULL \
             WHERE id = ?3"
        ))
        .bind(format!("stored {column} is not a valid value"))
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn claim_emails(db: &Db, claim: DeliveryClaim) -> StoreResult<Vec<EmailJob>> {
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let until = Ts::in_(claim.lease);
    let mut rows: Vec<EmailRow> = sqlx::query_as(&lease_due(
        EMAIL_OUTBOX,
        "id, org_id, to_address, recipient_name, locale, kind, payload, attempts, \
         first_failed_at, created_at, available_at",
    ))
    .bind(claim.owner)
    .bind(until)
    .bind(now)
    .bind(i64::from(claim.limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    rows.sort_by_key(|r| (r.available_at, r.id));
    let mut orgs = OrgRefs::new();
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let id = row.id;
        match orgs
            .get(&mut tx, row.org_id)
            .await?
            .and_then(|org| row.job(org))
        {
            Ok(job) => jobs.push(job),
            Err(column) => unreadable.push((id, column)),
        }
    }
    bury_unreadable(&mut tx, EMAIL_OUTBOX, unreadable, now).await?;
    db.commit(tx).await?;
    Ok(jobs)
}

pub(crate) async fn claim_webhooks(db: &Db, claim: DeliveryClaim) -> StoreResult<Vec<WebhookJob>> {
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let until = Ts::in_(claim.lease);
    let mut rows: Vec<WebhookRow> = sqlx::query_as(&lease_due(
        WEBHOOK_OUTBOX,
        "id, alert_id, event, attempts, first_failed_at, available_at",
    ))
    .bind(claim.owner)
    .bind(until)
    .bind(now)
    .bind(i64::from(claim.limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    rows.sort_by_key(|r| (r.available_at, r.id));
    let mut orgs = OrgRefs::new();
    let mut jobs = Vec::with_capacity(rows.len());
    let mut unreadable = Vec::new();
    for row in rows {
        let alert: AlertRow =
            sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?"))
                .bind(row.alert_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
        let Ok(alert) = AlertRecord::try_from(alert) else {
            unreadable.push((row.id, "alerts"));
            continue;
        };
        let Some(event) = AlertEvent::parse(&row.event) else {
            unreadable.push((row.id, "webhook_outbox.event"));
            continue;
        };
        match orgs.get(&mut tx, alert.org_id.map(|o| o.0)).await? {
            Ok(org) => jobs.push(WebhookJob {
                id: row.id,
                event,
                alert,
                org,
                attempts: u32::try_from(row.attempts).unwrap_or(0),
                first_failed_at: row.first_failed_at,
            }),
            Err(column) => unreadable.push((row.id, column)),
        }
    }
    bury_unreadable(&mut tx, WEBHOOK_OUTBOX, unreadable, now).await?;
    db.commit(tx).await?;
    Ok(jobs)
}

/// What one attempt did, for a row still leased to `?7`; its lease ends.
/// ?1 state, ?2 outcome, ?3 now, ?4 error, ?5 due again at, ?6 id, ?7 owner.
fn record_result_sql(table: &str) -> String {
    format!(
        "UPDATE {table} SET \
             state = ?1, \
             sent_at = CASE WHEN ?2 = 'delivered' THEN ?3 ELSE sent_at END, \
             attempts = attempts + (?2 <> 'delivered'), \
             first_failed_at = CASE WHEN ?2 = 'delivered' THEN first_failed_at \
                                    ELSE COALESCE(first_failed_at, ?3) END, \
             last_error = CASE WHEN ?2 = 'delivered' THEN last_error ELSE ?4 END, \
             available_at = COALESCE(?5, available_at), \
             lease_owner = NULL, leased_until = NULL \
         WHERE id = ?6 AND state = 'pending' AND lease_owner = ?7"
    )
}

async fn record_results(
    db: &Db,
    table: &str,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    if results.is_empty() {
        return Ok(0);
    }
    let statement = record_result_sql(table);
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let mut recorded = 0;
    for result in results {
        let (state, outcome, error, due) = match result.outcome {
            DeliveryOutcome::Delivered => ("sent", "delivered", None, None),
            DeliveryOutcome::Retry { after, error } => {
                ("pending", "retry", Some(error), Some(Ts::in_(after)))
            }
            DeliveryOutcome::Dead { error } => ("dead", "dead", Some(error), None),
        };
        recorded += sqlx::query(&statement)
            .bind(state)
            .bind(outcome)
            .bind(now)
            .bind(error)
            .bind(due)
            .bind(result.id)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
    }
    db.commit(tx).await?;
    Ok(recorded)
}

pub(crate) async fn record_email_results(
    db: &Db,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    record_results(db, EMAIL_OUTBOX, owner, results).await
}

pub(crate) async fn record_webhook_results(
    db: &Db,
    owner: Uuid,
    results: Vec<DeliveryResult>,
) -> StoreResult<u64> {
    record_results(db, WEBHOOK_OUTBOX, owner, results).await
}

/// Every alert that may have something to tell, with what each channel has been told of it: open
/// alerts, alerts resolved since `?1` (whose opening may not have been told yet), and alerts whose
/// opening a channel told but not their resolution. `?2`/`?3`: whether the webhook / email channel is
/// on; `?4`–`?6`: the email kinds of opened, reminder and resolved.
fn alert_candidates_sql() -> String {
    let columns = ALERT_COLUMNS
        .split(',')
        .map(|c| format!("a.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT * FROM ( \
             SELECT {columns}, o.slug AS org_slug, o.name AS org_name, \
                 (?2 AND EXISTS (SELECT 1 FROM webhook_outbox w \
                                 WHERE w.alert_id = a.id AND w.event = 'opened')) AS webhook_opened, \
                 (?2 AND EXISTS (SELECT 1 FROM webhook_outbox w \
                                 WHERE w.alert_id = a.id AND w.event = 'resolved')) AS webhook_resolved, \
                 (SELECT max(w.created_at) FROM webhook_outbox w \
                  WHERE ?2 AND w.alert_id = a.id AND w.event IN ('opened', 'reminder')) AS webhook_last, \
                 (?3 AND EXISTS (SELECT 1 FROM email_outbox e \
                                 WHERE e.alert_id = a.id AND e.kind = ?4)) AS email_opened, \
                 (?3 AND EXISTS (SELECT 1 FROM email_outbox e \
                                 WHERE e.alert_id = a.id AND e.kind = ?6)) AS email_resolved, \
                 (SELECT max(e.created_at) FROM email_outbox e \
                  WHERE ?3 AND e.alert_id = a.id AND e.kind IN (?4, ?5)) AS email_last \
             FROM alerts a LEFT JOIN organisations o ON o.id = a.org_id \
         ) c \
         WHERE c.resolved_at IS NULL OR c.resolved_at > ?1 \
            OR (c.webhook_opened AND NOT c.webhook_resolved) \
            OR (c.email_opened AND NOT c.email_resolved) \
         ORDER BY c.id"
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

pub(crate) async fn queue_alert_deliveries(db: &Db, plan: AlertDeliveryPlan) -> StoreResult<u64> {
    if !plan.webhook && plan.email.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let now = Ts::now();
    let rows: Vec<CandidateRow> = sqlx::query_as(&alert_candidates_sql())
        .bind(Ts(alert_candidates_cutoff(&plan)))
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
    let mut queued = 0;
    for hook in webhooks {
        queued += sqlx::query(
            "INSERT INTO webhook_outbox (id, alert_id, event, event_key, available_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (alert_id, event_key) DO NOTHING",
        )
        .bind(hook.id)
        .bind(hook.alert)
        .bind(hook.event.as_str())
        .bind(&hook.event_key)
        .bind(now)
        .bind(Ts(plan.now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    }
    for email in emails {
        queued += sqlx::query(
            "INSERT INTO email_outbox (id, org_id, alert_id, to_address, locale, kind, payload, \
                                       dedupe_key, available_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(email.id)
        .bind(email.org.map(|o| o.0))
        .bind(email.alert)
        .bind(email.to.as_str())
        .bind(email.locale.as_str())
        .bind(email.event.email_kind())
        .bind(email.payload.to_string())
        .bind(&email.dedupe_key)
        .bind(now)
        .bind(Ts(plan.now))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
    }
    db.commit(tx).await?;
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

#[derive(sqlx::FromRow)]
struct DepthRow {
    email_pending: i64,
    email_dead: i64,
    email_oldest: Option<DateTime<Utc>>,
    webhook_pending: i64,
    webhook_dead: i64,
    webhook_oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn delivery_status(db: &Db) -> StoreResult<DeliveryStatus> {
    let row: DepthRow = sqlx::query_as(
        "SELECT \
             (SELECT count(*) FROM email_outbox WHERE state = 'pending') AS email_pending, \
             (SELECT count(*) FROM email_outbox WHERE state = 'dead') AS email_dead, \
             (SELECT min(created_at) FROM email_outbox WHERE state = 'pending') AS email_oldest, \
             (SELECT count(*) FROM webhook_outbox WHERE state = 'pending') AS webhook_pending, \
             (SELECT count(*) FROM webhook_outbox WHERE state = 'dead') AS webhook_dead, \
             (SELECT min(created_at) FROM webhook_outbox WHERE state = 'pending') AS webhook_oldest",
    )
    .fetch_one(&db.read)
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

#[derive(sqlx::FromRow)]
struct QueueRow {
    pending: i64,
    dead: i64,
    oldest: Option<DateTime<Utc>>,
}

pub(crate) async fn email_queue(db: &Db, org: OrgId) -> StoreResult<OutboxDepth> {
    let row: QueueRow = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'pending') AS pending, \
                count(*) FILTER (WHERE state = 'dead') AS dead, \
                min(created_at) FILTER (WHERE state = 'pending') AS oldest \
         FROM email_outbox WHERE org_id = ?1 AND state IN ('pending', 'dead')",
    )
    .bind(org.0)
    .fetch_one(&db.read)
    .await
    .map_err(db_err)?;
    Ok(OutboxDepth {
        pending: row.pending.unsigned_abs(),
        dead: row.dead.unsigned_abs(),
        oldest_pending_at: row.oldest,
    })
}

/// Times are the system clock's: `sent_at` is stamped by it, and an alert resolved by a rehearsal
/// clock in the future is simply kept. ?1 org, ?2 the cut-off.
pub(crate) async fn prune_delivery_outboxes(
    db: &Db,
    org: OrgId,
    age: std::time::Duration,
) -> StoreResult<u64> {
    const OLD_ALERTS: &str = "SELECT id FROM alerts WHERE org_id = ?1 AND resolved_at < ?2";
    let cutoff = Ts::ago(age);
    let mut tx = db.begin().await?;
    let emails = sqlx::query(&format!(
        "DELETE FROM email_outbox \
         WHERE org_id = ?1 \
           AND ((alert_id IS NULL AND state = 'sent' AND sent_at < ?2) \
                OR alert_id IN ({OLD_ALERTS}))"
    ))
    .bind(org.0)
    .bind(cutoff)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    let hooks = sqlx::query(&format!(
        "DELETE FROM webhook_outbox WHERE alert_id IN ({OLD_ALERTS})"
    ))
    .bind(org.0)
    .bind(cutoff)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?
    .rows_affected();
    db.commit(tx).await?;
    Ok(emails + hooks)
}

impl store::DeliveryOutbox for crate::SqliteStore {
    async fn claim_emails(&self, claim: DeliveryClaim) -> StoreResult<Vec<EmailJob>> {
        claim_emails(&self.db, claim).await
    }
    async fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        record_email_results(&self.db, owner, results).await
    }
    async fn queue_alert_deliveries(&self, plan: AlertDeliveryPlan) -> StoreResult<u64> {
        queue_alert_deliveries(&self.db, plan).await
    }
    async fn claim_webhooks(&self, claim: DeliveryClaim) -> StoreResult<Vec<WebhookJob>> {
        claim_webhooks(&self.db, claim).await
    }
    async fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        record_webhook_results(&self.db, owner, results).await
    }
    async fn delivery_status(&self) -> StoreResult<DeliveryStatus> {
        delivery_status(&self.db).await
    }
    async fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> StoreResult<u64> {
        prune_delivery_outboxes(&self.db, org, age).await
    }
    async fn email_queue(&self, org: OrgId) -> StoreResult<OutboxDepth> {
        email_queue(&self.db, org).await
    }
}
