//! The unit of work behind every status change and certification, for one mentor (an API request) or
//! thousands (the nightly run): in ONE write transaction, each change compare-and-sets its mentor and,
//! when it wins, writes what it causes — certification, history, outbox, notifications. A change that
//! loses its race (or was recorded before) writes nothing and leaves the others alone. SQLite runs in
//! this process, so the batch is a loop of prepared statements rather than one statement.

use std::collections::HashSet;

use domain::Reason;
use sqlx::SqliteConnection;
use store::{ChangeOutcome, MentorChange, StoreError, StoreResult};

use crate::appends::{
    HistoryEntry, enqueue_sync, insert_certification, insert_history, insert_notification,
};
use crate::db::Db;
use crate::error::db_err;
use crate::exists::mentor_exists;
use crate::time::Ts;

async fn apply_changes(db: &Db, changes: Vec<MentorChange>) -> StoreResult<Vec<ChangeOutcome>> {
    let Some(org) = changes.first().map(|c| c.org) else {
        return Ok(Vec::new());
    };
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
    let mut tx = db.begin().await?;
    let mut outcomes = Vec::with_capacity(changes.len());
    for change in changes {
        outcomes.push(apply(&mut tx, change).await?);
    }
    if outcomes.contains(&ChangeOutcome::Applied) {
        db.commit_queued(tx).await?;
    } else {
        db.commit(tx).await?;
    }
    Ok(outcomes)
}

/// One change inside the batch's transaction.
async fn apply(conn: &mut SqliteConnection, change: MentorChange) -> StoreResult<ChangeOutcome> {
    // A system change whose idempotency key is in the history was applied before. Checked first
    // (the transaction holds the only write lock), so nothing of it is written.
    if let Some(key) = &change.idempotency_key
        && already_recorded(conn, key).await?
    {
        return Ok(ChangeOutcome::AlreadyRecorded);
    }
    let Some(version) = compare_and_set(conn, &change).await? else {
        return Ok(
            if mentor_exists(&mut *conn, change.org, change.mentor).await? {
                tracing::debug!(mentor = %change.mentor, "compare-and-set lost: the mentor moved meanwhile");
                ChangeOutcome::LostRace
            } else {
                ChangeOutcome::NotFound
            },
        );
    };
    if let Some(certification) = &change.certification {
        insert_certification(conn, change.mentor, certification, change.at).await?;
    }
    if let Some(transition) = &change.transition {
        let reason = change
            .history_note
            .clone()
            .or_else(|| transition.reason.as_ref().map(Reason::to_string));
        let entry = HistoryEntry {
            mentor: change.mentor,
            from: Some(change.expected_status),
            to: transition.to,
            reason: reason.as_deref(),
            actor: change.actor,
            idempotency_key: change.idempotency_key.as_deref(),
            run: change.run,
            certification_expires_on: change.bound_expires_on,
        };
        insert_history(conn, change.org, &entry, change.at).await?;
    }
    // Every new version is queued, so "pushed version behind" always means "something to push".
    enqueue_sync(conn, change.org, change.mentor, version).await?;
    for notification in &change.notifications {
        insert_notification(
            conn,
            change.org,
            Some(change.mentor),
            notification,
            change.at,
        )
        .await?;
    }
    Ok(ChangeOutcome::Applied)
}

/// Move the mentor if it still has the expected status and version; its new version, or `None` when
/// it moved meanwhile (or is not there). A change without transition only bumps the version, so a
/// concurrent decision based on the old facts loses its own compare-and-set.
async fn compare_and_set(
    conn: &mut SqliteConnection,
    change: &MentorChange,
) -> StoreResult<Option<i64>> {
    let (mentor, org, status, version) = (
        change.mentor.0,
        change.org.0,
        change.expected_status.as_str(),
        change.expected_version,
    );
    let moved = match &change.transition {
        Some(transition) => {
            sqlx::query_scalar(
                "UPDATE mentors \
                 SET version = version + 1, updated_at = ?, status = ?, status_reason = ?, \
                     status_changed_at = ?, resume_on = ? \
                 WHERE id = ? AND org_id = ? AND status = ? AND version = ? \
                 RETURNING version",
            )
            .bind(Ts(change.at))
            .bind(transition.to.as_str())
            .bind(transition.reason.as_ref().map(Reason::as_str))
            .bind(Ts(change.at))
            .bind(transition.resume_on)
            .bind(mentor)
            .bind(org)
            .bind(status)
            .bind(version)
            .fetch_optional(conn)
            .await
        }
        None => {
            sqlx::query_scalar(
                "UPDATE mentors SET version = version + 1, updated_at = ? \
                 WHERE id = ? AND org_id = ? AND status = ? AND version = ? \
                 RETURNING version",
            )
            .bind(Ts(change.at))
            .bind(mentor)
            .bind(org)
            .bind(status)
            .bind(version)
            .fetch_optional(conn)
            .await
        }
    };
    moved.map_err(db_err)
}

async fn already_recorded(conn: &mut SqliteConnection, key: &str) -> StoreResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM status_history WHERE idempotency_key = ?")
            .bind(key)
            .fetch_optional(conn)
            .await
            .map_err(db_err)?;
    Ok(found.is_some())
}

impl store::ChangeStore for crate::SqliteStore {
    async fn apply_changes(&self, changes: Vec<MentorChange>) -> StoreResult<Vec<ChangeOutcome>> {
        apply_changes(&self.db, changes).await
    }
}
