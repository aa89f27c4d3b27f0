//! Delivery outside the application: emails (for notifications, written by the database in the same
//! transaction as the notification, and for alerts) and the operations webhook (for alerts). Both
//! outboxes are claimed with leases and record what each attempt did; an item is never delivered
//! twice for one event, because every event has a unique key in its outbox.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, Locale, OrgId, OrgSlug};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AlertRecord;
use crate::StoreResult;
use std::future::Future;

/// The organisation a delivery is about, as messages name it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgRef {
    pub id: OrgId,
    pub slug: OrgSlug,
    pub name: String,
}

/// A sender's request for work: up to `limit` due items, leased to `owner` for `lease` (a sender that
/// dies mid-send leaves them to another after the lease; the receiver may then see a message twice,
/// recognisably, by its stable id).
#[derive(Debug, Clone)]
pub struct DeliveryClaim {
    pub owner: Uuid,
    pub limit: u32,
    pub lease: Duration,
}

/// One email to send.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailJob {
    /// Stable across attempts: the notification's id, or the alert notice's. The Message-ID is made
    /// from it, so a resend after a crash is recognisable as the same message.
    pub id: Uuid,
    pub org: Option<OrgRef>,
    pub to: Email,
    pub recipient_name: Option<String>,
    pub locale: Locale,
    /// What the message says: a notification kind, or `alert_opened` / `alert_reminder` /
    /// `alert_resolved`.
    pub kind: String,
    pub payload: Value,
    /// Failed attempts so far, and when the first failed (the retry budget counts from it).
    pub attempts: u32,
    pub first_failed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The operations channel's view of an alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertEvent {
    Opened,
    /// A daily reminder while the alert stays open.
    Reminder,
    Resolved,
}

impl AlertEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::Opened => "opened",
            AlertEvent::Reminder => "reminder",
            AlertEvent::Resolved => "resolved",
        }
    }

    /// The event a stored `as_str()` names.
    pub fn parse(event: &str) -> Option<AlertEvent> {
        [
            AlertEvent::Opened,
            AlertEvent::Reminder,
            AlertEvent::Resolved,
        ]
        .into_iter()
        .find(|e| e.as_str() == event)
    }

    /// `opened`, `reminder:{date}` or `resolved`: unique per alert in each outbox.
    pub fn key(self, today: NaiveDate) -> String {
        match self {
            AlertEvent::Reminder => format!("reminder:{today}"),
            other => other.as_str().to_owned(),
        }
    }

    /// The email kind that tells of this event.
    pub fn email_kind(self) -> &'static str {
        match self {
            AlertEvent::Opened => "alert_opened",
            AlertEvent::Reminder => "alert_reminder",
            AlertEvent::Resolved => "alert_resolved",
        }
    }
}

/// One webhook post to send.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookJob {
    /// Stable across attempts (receivers may deduplicate on it).
    pub id: Uuid,
    pub event: AlertEvent,
    pub alert: AlertRecord,
    pub org: Option<OrgRef>,
    pub attempts: u32,
    pub first_failed_at: Option<DateTime<Utc>>,
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered,
    /// A transient failure: try again after `after`.
    Retry {
        after: Duration,
        error: String,
    },
    /// A permanent failure, or the retry budget ran out: never tried again (a person may).
    Dead {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryResult {
    pub id: Uuid,
    pub outcome: DeliveryOutcome,
}

/// Which operations channels alerts go to, and how often an open alert is told again.
#[derive(Debug, Clone)]
pub struct AlertDeliveryPlan {
    pub webhook: bool,
    /// The operations team's address and the language of its emails.
    pub email: Option<(Email, Locale)>,
    pub remind_after: chrono::Duration,
    /// The caller's clock: reminders are due `remind_after` after the last notice of the alert.
    pub now: DateTime<Utc>,
}

/// What one channel has been told of one alert so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelTold {
    pub opened: bool,
    pub resolved: bool,
    /// When the latest opening or reminder was queued.
    pub last: Option<DateTime<Utc>>,
}

/// The events one channel must hear now about `alert`, in order (the rule both backends apply in
/// `Store::queue_alert_deliveries`). An opening queued now counts as told for the reminder and the
/// resolution that follow it; an alert resolved longer than `remind_after` ago is never announced.
pub fn due_alert_events(
    alert: &AlertRecord,
    told: ChannelTold,
    plan: &AlertDeliveryPlan,
) -> Vec<AlertEvent> {
    let cutoff = plan.now.checked_sub_signed(plan.remind_after);
    let mut events = Vec::new();
    let mut opened = told.opened;
    let mut last = told.last;
    let recent = match (alert.resolved_at, cutoff) {
        (None, _) | (Some(_), None) => true,
        (Some(resolved), Some(cutoff)) => resolved > cutoff,
    };
    if !opened && recent {
        events.push(AlertEvent::Opened);
        opened = true;
        last = Some(last.map_or(plan.now, |l| l.max(plan.now)));
    }
    if alert.resolved_at.is_none()
        && let (Some(last), Some(cutoff)) = (last, cutoff)
        && last <= cutoff
    {
        events.push(AlertEvent::Reminder);
    }
    if alert.resolved_at.is_some() && opened && !told.resolved {
        events.push(AlertEvent::Resolved);
    }
    events
}

/// An alert that may have a delivery due: the alert, what each channel has been told of it, and the
/// organisation it is about (as the backend read it beside the alert).
#[derive(Debug, Clone)]
pub struct AlertCandidate {
    pub alert: AlertRecord,
    pub webhook: ChannelTold,
    pub email: ChannelTold,
    pub org: Option<OrgRef>,
}

impl AlertCandidate {
    /// A candidate from the columns a backend reads beside the alert: its organisation's slug and
    /// name, and what each channel has been told.
    pub fn from_columns(
        alert: AlertRecord,
        org_slug: Option<String>,
        org_name: Option<String>,
        webhook: ChannelTold,
        email: ChannelTold,
    ) -> StoreResult<Self> {
        let org = OrgRef::from_columns(alert.org_id.map(|o| o.0), org_slug, org_name).map_err(
            |column| crate::StoreError::Other(format!("alert {}: bad {column}", alert.id).into()),
        )?;
        Ok(AlertCandidate {
            alert,
            webhook,
            email,
            org,
        })
    }
}

/// A webhook outbox row to insert (once per alert and event key).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedWebhook {
    pub id: Uuid,
    pub alert: Uuid,
    pub event: AlertEvent,
    pub event_key: String,
}

/// An email outbox row to insert for an alert (once per dedupe key).
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedAlertEmail {
    pub id: Uuid,
    pub org: Option<OrgId>,
    pub alert: Uuid,
    pub to: Email,
    pub locale: Locale,
    pub event: AlertEvent,
    pub payload: Value,
    pub dedupe_key: String,
}

/// Resolved alerts older than this are no longer candidates, unless a channel still waits to be told
/// of their resolution.
pub fn alert_candidates_cutoff(plan: &AlertDeliveryPlan) -> DateTime<Utc> {
    plan.now
        .checked_sub_signed(plan.remind_after)
        .map_or(DateTime::UNIX_EPOCH, |c| c.max(DateTime::UNIX_EPOCH))
}

/// The outbox rows `Store::queue_alert_deliveries` inserts for `candidates` under `plan`: written
/// once here, each backend only reads the candidates and inserts the rows.
pub fn alert_deliveries(
    candidates: Vec<AlertCandidate>,
    plan: &AlertDeliveryPlan,
) -> (Vec<QueuedWebhook>, Vec<QueuedAlertEmail>) {
    let today = plan.now.date_naive();
    let mut webhooks = Vec::new();
    let mut emails = Vec::new();
    for candidate in candidates {
        let alert = &candidate.alert;
        if plan.webhook {
            for event in due_alert_events(alert, candidate.webhook, plan) {
                webhooks.push(QueuedWebhook {
                    id: Uuid::now_v7(),
                    alert: alert.id,
                    event,
                    event_key: event.key(today),
                });
            }
        }
        if let Some((to, locale)) = &plan.email {
            let events = due_alert_events(alert, candidate.email, plan);
            if events.is_empty() {
                continue;
            }
            let payload = alert_payload(alert, candidate.org.as_ref());
            for event in events {
                let date = match event {
                    AlertEvent::Reminder => today.to_string(),
                    _ => String::new(),
                };
                emails.push(QueuedAlertEmail {
                    id: Uuid::now_v7(),
                    org: alert.org_id,
                    alert: alert.id,
                    to: to.clone(),
                    locale: *locale,
                    event,
                    payload: payload.clone(),
                    dedupe_key: format!("alert:{}:{}:{date}", alert.id, event.as_str()),
                });
            }
        }
    }
    (webhooks, emails)
}

impl OrgRef {
    /// The organisation an outbox row names, from the columns joined beside it; `Err` names the
    /// column whose stored value cannot be read.
    pub fn from_columns(
        id: Option<Uuid>,
        slug: Option<String>,
        name: Option<String>,
    ) -> Result<Option<OrgRef>, &'static str> {
        match (id, slug, name) {
            (Some(id), Some(slug), Some(name)) => Ok(Some(OrgRef {
                id: OrgId(id),
                slug: OrgSlug::parse(&slug).map_err(|_| "organisations.slug")?,
                name,
            })),
            (Some(_), _, _) => Err("org_id"),
            (None, _, _) => Ok(None),
        }
    }
}

/// The depth of an outbox, for status pages and metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxDepth {
    pub pending: u64,
    pub dead: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// Both delivery outboxes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryStatus {
    pub email: OutboxDepth,
    pub webhook: OutboxDepth,
}

/// The payload of an alert's email and webhook: the alert and its organisation (null for the whole
/// deployment). Field names are read by templates and receivers: add, never rename.
pub fn alert_payload(alert: &AlertRecord, org: Option<&OrgRef>) -> Value {
    json!({
        "alert": {
            "id": alert.id,
            "kind": alert.kind,
            "severity": alert.severity,
            "summary": alert.summary,
            "dedupe_key": alert.dedupe_key,
            "first_seen": alert.first_seen,
            "last_seen": alert.last_seen,
            "count": alert.count,
            "acknowledged_at": alert.acknowledged_at,
            "resolved_at": alert.resolved_at,
        },
        "org": org.map(|o| json!({"slug": o.slug.as_str(), "name": o.name})),
    })
}

/// The email and operations-webhook outboxes.
pub trait DeliveryOutbox: Clone + Send + Sync + 'static {
    /// Lease up to `claim.limit` due emails to one sender, oldest first.
    fn claim_emails(
        &self,
        claim: DeliveryClaim,
    ) -> impl Future<Output = StoreResult<Vec<EmailJob>>> + Send;
    /// Record what sending the claimed emails did, and end `owner`'s leases; results for emails no
    /// longer leased to `owner` are ignored (another sender took them over). Returns how many were
    /// recorded.
    fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Queue, once per (alert, event), what the operations channels must hear: each alert's opening,
    /// a reminder for an open alert whose last notice is `remind_after` old, and its resolution.
    /// Returns how many notices were queued (emails and webhook posts).
    fn queue_alert_deliveries(
        &self,
        plan: AlertDeliveryPlan,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Lease up to `claim.limit` due webhook posts to one sender, oldest first.
    fn claim_webhooks(
        &self,
        claim: DeliveryClaim,
    ) -> impl Future<Output = StoreResult<Vec<WebhookJob>>> + Send;
    /// As [`DeliveryOutbox::record_email_results`], for webhook posts.
    fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Both outboxes' depth.
    fn delivery_status(&self) -> impl Future<Output = StoreResult<DeliveryStatus>> + Send;
    /// Forget the organisation's delivered emails sent longer than `age` ago, and every email and
    /// webhook row of its alerts resolved longer than `age` ago (all of an alert's rows at once, so
    /// no event of it is ever told again — `age` must exceed the alert reminder interval); returns
    /// how many. Dead rows of other emails stay for a
    /// person to look at.
    fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The organisation's emails: how many wait, how many are dead, and when the oldest waiting
    /// one was queued.
    fn email_queue(&self, org: OrgId) -> impl Future<Output = StoreResult<OutboxDepth>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn alert(resolved_at: Option<DateTime<Utc>>) -> AlertRecord {
        let at: DateTime<Utc> = "2026-11-01T08:00:00Z".parse().unwrap();
        AlertRecord {
            id: Uuid::nil(),
            org_id: None,
            kind: "sync_credentials".into(),
            severity: Severity::Critical,
            dedupe_key: "k".into(),
            summary: "s".into(),
            first_seen: at,
            last_seen: at,
            count: 1,
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_at,
        }
    }

    fn plan(now: &str) -> AlertDeliveryPlan {
        AlertDeliveryPlan {
            webhook: true,
            email: None,
            remind_after: chrono::Duration::hours(24),
            now: now.parse().unwrap(),
        }
    }

    const NOTHING_TOLD: ChannelTold = ChannelTold {
        opened: false,
        resolved: false,
        last: None,
    };

    #[test]
    fn an_alert_is_opened_reminded_after_a_day_and_resolved_once() {
        let open = alert(None);
        assert_eq!(
            due_alert_events(&open, NOTHING_TOLD, &plan("2026-11-01T09:00:00Z")),
            vec![AlertEvent::Opened]
        );
        let told = ChannelTold {
            opened: true,
            resolved: false,
            last: Some("2026-11-01T09:00:00Z".parse().unwrap()),
        };
        assert!(due_alert_events(&open, told, &plan("2026-11-02T08:59:00Z")).is_empty());
        assert_eq!(
            due_alert_events(&open, told, &plan("2026-11-02T09:00:00Z")),
            vec![AlertEvent::Reminder]
        );
        let resolved = alert(Some("2026-11-02T10:00:00Z".parse().unwrap()));
        assert_eq!(
            due_alert_events(&resolved, told, &plan("2026-11-05T09:00:00Z")),
            vec![AlertEvent::Resolved]
        );
        let told_all = ChannelTold {
            resolved: true,
            ..told
        };
        assert!(due_alert_events(&resolved, told_all, &plan("2026-11-05T09:00:00Z")).is_empty());
    }

    #[test]
    fn history_resolved_long_ago_is_not_announced_but_a_fresh_one_is_told_whole() {
        let old = alert(Some("2026-11-01T09:00:00Z".parse().unwrap()));
        assert!(due_alert_events(&old, NOTHING_TOLD, &plan("2026-11-03T09:00:00Z")).is_empty());
        assert_eq!(
            due_alert_events(&old, NOTHING_TOLD, &plan("2026-11-01T10:00:00Z")),
            vec![AlertEvent::Opened, AlertEvent::Resolved]
        );
        for event in [
            AlertEvent::Opened,
            AlertEvent::Reminder,
            AlertEvent::Resolved,
        ] {
            assert_eq!(AlertEvent::parse(event.as_str()), Some(event));
        }
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(AlertEvent::Reminder.key(today), "reminder:2026-11-30");
    }
}
