//! The unit of work behind every status change and certification, for one mentor (an API request) or
//! thousands (the nightly run): ONE statement whose data-modifying CTEs compare-and-set each mentor and
//! write what the winners cause — certification, history, outbox, notifications. One statement is one
//! round trip and commits atomically; a change that loses its race writes nothing and leaves the
//! others alone.

use std::collections::HashSet;

use domain::{OrgId, Reason};
use sqlx::PgPool;
use store::{ChangeOutcome, MentorChange, Recipient, StoreError, StoreResult};
use uuid::Uuid;

use crate::error::db_err;
use crate::plans::{LARGE_BATCH, begin_custom_planned};
use crate::rows::actor_columns;

const APPLY_CHANGES: &str = r#"
WITH input AS (
    SELECT * FROM UNNEST($2::uuid[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[],
                         $8::date[], $9::text[], $10::text[], $11::uuid[], $12::text[], $13::uuid[], $14::date[])
        WITH ORDINALITY
        AS i(mentor_id, expected_status, expected_version, has_transition, to_status, status_reason,
             resume_on, history_reason, actor_kind, actor_user_id, idempotency_key, run_id,
             bound_expires_on, n)
),
-- A system change whose idempotency key is in the history was applied before.
fresh AS (
    SELECT i.* FROM input i
    WHERE i.idempotency_key IS NULL
       OR NOT EXISTS (SELECT 1 FROM status_history h WHERE h.idempotency_key = i.idempotency_key)
),
updated AS (
    UPDATE mentors m
    SET version = m.version + 1,
        updated_at = $15,
        status = CASE WHEN f.has_transition THEN f.to_status ELSE m.status END,
        status_reason = CASE WHEN f.has_transition THEN f.status_reason ELSE m.status_reason END,
        status_changed_at = CASE WHEN f.has_transition THEN $15 ELSE m.status_changed_at END,
        resume_on = CASE WHEN f.has_transition THEN f.resume_on ELSE m.resume_on END
    FROM fresh f
    WHERE m.id = f.mentor_id AND m.org_id = $1
      AND m.status = f.expected_status AND m.version = f.expected_version
    RETURNING m.id, m.version
),
certifications_written AS (
    INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at)
    SELECT c.id, c.mentor_id, c.kind, c.issued_on, c.expires_on, $15
    FROM UNNEST($16::uuid[], $17::uuid[], $18::text[], $19::date[], $20::date[])
         AS c(id, mentor_id, kind, issued_on, expires_on)
    JOIN updated u ON u.id = c.mentor_id
),
history_written AS (
    INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind,
                                actor_user_id, idempotency_key, run_id, certification_expires_on,
                                occurred_at)
    SELECT $1, f.mentor_id, f.expected_status, f.to_status, f.history_reason, f.actor_kind,
           f.actor_user_id, f.idempotency_key, f.run_id, f.bound_expires_on, $15
    FROM fresh f JOIN updated u ON u.id = f.mentor_id
    WHERE f.has_transition
    ORDER BY f.n
),
-- Every new version is queued, so "pushed version behind" always means "something to push".
outbox_written AS (
    INSERT INTO sync_outbox (org_id, mentor_id, mentor_version)
    SELECT $1, u.id, u.version FROM updated u
),
notifications_written AS (
    INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id,
                               payload, created_at)
    SELECT gen_random_uuid(), $1, COALESCE(n.recipient_user_id, c.id), n.recipient_mentor_id, n.kind,
           n.mentor_id, n.payload, $15
    FROM UNNEST($21::uuid[], $22::boolean[], $23::uuid[], $24::uuid[], $25::text[], $26::jsonb[])
         WITH ORDINALITY AS n(mentor_id, to_coordinators, recipient_user_id, recipient_mentor_id, kind,
                              payload, k)
    JOIN updated u ON u.id = n.mentor_id
    LEFT JOIN users c ON n.to_coordinators AND c.org_id = $1 AND c.role = 'coordinator'
    WHERE NOT n.to_coordinators OR c.id IS NOT NULL
    ORDER BY n.k, c.id
)
SELECT i.mentor_id, (u.id IS NOT NULL) AS applied, (f.n IS NULL) AS already_recorded
FROM input i
LEFT JOIN fresh f ON f.n = i.n
LEFT JOIN updated u ON u.id = i.mentor_id
ORDER BY i.n
"#;

/// The changes as parallel arrays, one element per change (or per certification / notification).
#[derive(Default)]
struct Columns {
    mentor: Vec<Uuid>,
    expected_status: Vec<&'static str>,
    expected_version: Vec<i64>,
    has_transition: Vec<bool>,
    to_status: Vec<Option<&'static str>>,
    status_reason: Vec<Option<String>>,
    resume_on: Vec<Option<chrono::NaiveDate>>,
    history_reason: Vec<Option<String>>,
    actor_kind: Vec<&'static str>,
    actor_user: Vec<Option<Uuid>>,
    idempotency_key: Vec<Option<String>>,
    run: Vec<Option<Uuid>>,
    bound_expires_on: Vec<Option<chrono::NaiveDate>>,
    cert_id: Vec<Uuid>,
    cert_mentor: Vec<Uuid>,
    cert_kind: Vec<String>,
    cert_issued: Vec<chrono::NaiveDate>,
    cert_expires: Vec<chrono::NaiveDate>,
    note_mentor: Vec<Uuid>,
    note_to_coordinators: Vec<bool>,
    note_user: Vec<Option<Uuid>>,
    note_recipient_mentor: Vec<Option<Uuid>>,
    note_kind: Vec<String>,
    note_payload: Vec<serde_json::Value>,
}

impl Columns {
    fn push(&mut self, change: MentorChange) {
        let (actor_kind, actor_user) = actor_columns(change.actor);
        let transition = change.transition.as_ref();
        self.mentor.push(change.mentor.0);
        self.expected_status.push(change.expected_status.as_str());
        self.expected_version.push(change.expected_version);
        self.has_transition.push(transition.is_some());
        self.to_status.push(transition.map(|t| t.to.as_str()));
        self.status_reason
            .push(transition.and_then(|t| t.reason.as_ref().map(|r| r.as_str().to_owned())));
        self.resume_on.push(transition.and_then(|t| t.resume_on));
        self.history_reason.push(
            change
                .history_note
                .clone()
                .or_else(|| transition.and_then(|t| t.reason.as_ref().map(Reason::to_string))),
        );
        self.actor_kind.push(actor_kind);
        self.actor_user.push(actor_user);
        self.idempotency_key.push(change.idempotency_key);
        self.run.push(change.run.map(|r| r.0));
        self.bound_expires_on.push(change.bound_expires_on);
        if let Some(certification) = change.certification {
            self.cert_id.push(domain::CertificationId::new().0);
            self.cert_mentor.push(change.mentor.0);
            self.cert_kind.push(certification.kind);
            self.cert_issued.push(certification.period.issued_on());
            self.cert_expires.push(certification.period.expires_on());
        }
        for notification in change.notifications {
            let (to_coordinators, user, mentor) = match notification.recipient {
                Recipient::User(user) => (false, Some(user.0), None),
                Recipient::Mentor(mentor) => (false, None, Some(mentor.0)),
                Recipient::OrgCoordinators => (true, None, None),
            };
            self.note_mentor.push(change.mentor.0);
            self.note_to_coordinators.push(to_coordinators);
            self.note_user.push(user);
            self.note_recipient_mentor.push(mentor);
            self.note_kind.push(notification.kind);
            self.note_payload.push(notification.payload);
        }
    }
}

#[derive(sqlx::FromRow)]
struct OutcomeRow {
    mentor_id: Uuid,
    applied: bool,
    already_recorded: bool,
}

async fn apply_changes(
    pool: &PgPool,
    changes: Vec<MentorChange>,
) -> StoreResult<Vec<ChangeOutcome>> {
    let Some(org) = changes.first().map(|c| c.org) else {
        return Ok(Vec::new());
    };
    let at = changes[0].at;
    let mut seen = HashSet::with_capacity(changes.len());
    if let Some(change) = changes
        .iter()
        .find(|c| c.org != org || !seen.insert(c.mentor))
    {
        return Err(StoreError::Other(
            format!(
                "a batch of changes must be for one organisation and at most one change per mentor \
                 (mentor {} breaks that)",
                change.mentor
            )
            .into(),
        ));
    }
    // Mentors are locked in id order whatever the caller's order, so two batches over the same
    // mentors cannot deadlock; the outcomes are put back in the caller's order at the end.
    let mut indexed: Vec<(usize, MentorChange)> = changes.into_iter().enumerate().collect();
    indexed.sort_by_key(|(_, change)| change.mentor);
    let positions: Vec<usize> = indexed.iter().map(|(position, _)| *position).collect();
    let mut columns = Columns::default();
    for (_, change) in indexed {
        columns.push(change);
    }
    let c = columns;
    let query = sqlx::query_as::<_, OutcomeRow>(APPLY_CHANGES)
        .bind(org.0)
        .bind(&c.mentor)
        .bind(&c.expected_status)
        .bind(&c.expected_version)
        .bind(&c.has_transition)
        .bind(&c.to_status)
        .bind(&c.status_reason)
        .bind(&c.resume_on)
        .bind(&c.history_reason)
        .bind(&c.actor_kind)
        .bind(&c.actor_user)
        .bind(&c.idempotency_key)
        .bind(&c.run)
        .bind(&c.bound_expires_on)
        .bind(at)
        .bind(&c.cert_id)
        .bind(&c.cert_mentor)
        .bind(&c.cert_kind)
        .bind(&c.cert_issued)
        .bind(&c.cert_expires)
        .bind(&c.note_mentor)
        .bind(&c.note_to_coordinators)
        .bind(&c.note_user)
        .bind(&c.note_recipient_mentor)
        .bind(&c.note_kind)
        .bind(&c.note_payload);
    let rows = if c.mentor.len() >= LARGE_BATCH {
        let mut tx = begin_custom_planned(pool).await?;
        let rows = query.fetch_all(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows
    } else {
        query.fetch_all(pool).await.map_err(db_err)?
    };

    let missed: Vec<Uuid> = rows
        .iter()
        .filter(|r| !r.applied && !r.already_recorded)
        .map(|r| r.mentor_id)
        .collect();
    let existing = existing_mentors(pool, org, &missed).await?;
    let mut outcomes = vec![ChangeOutcome::NotFound; rows.len()];
    for (row, position) in rows.into_iter().zip(positions) {
        outcomes[position] = match (row.applied, row.already_recorded) {
            (true, _) => ChangeOutcome::Applied,
            (false, true) => ChangeOutcome::AlreadyRecorded,
            (false, false) if existing.contains(&row.mentor_id) => {
                tracing::debug!(mentor = %row.mentor_id, "compare-and-set lost: the mentor moved meanwhile");
                ChangeOutcome::LostRace
            }
            (false, false) => ChangeOutcome::NotFound,
        };
    }
    Ok(outcomes)
}

/// Which of `ids` are mentors of `org`; asked only about changes that did not apply.
async fn existing_mentors(pool: &PgPool, org: OrgId, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let found: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM mentors WHERE org_id = $1 AND id = ANY($2)")
            .bind(org.0)
            .bind(ids)
            .fetch_all(pool)
            .await
            .map_err(db_err)?;
    Ok(found.into_iter().collect())
}

impl store::ChangeStore for crate::PgStore {
    async fn apply_changes(&self, changes: Vec<MentorChange>) -> StoreResult<Vec<ChangeOutcome>> {
        apply_changes(&self.pool, changes).await
    }
}
