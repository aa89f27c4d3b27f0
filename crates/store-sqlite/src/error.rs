//! sqlx errors as `StoreError`s. SQLite names a failed CHECK by its constraint name but a failed
//! UNIQUE by its columns (`UNIQUE constraint failed: mentors.org_id, mentors.email`), so both are
//! mapped here to the names the PostgreSQL backend uses. A foreign-key failure names nothing; the
//! modules look referenced rows up first where the caller needs to know which one is missing.
//! Only the message is kept: SQLite's messages do not quote row values.

use store::{Conflict, Constraint, StoreError};

/// Primary result codes (the low byte of an extended code) that mean "try again later".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_CONSTRAINT: i64 = 19;

pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(err))
        }
        sqlx::Error::Database(db) => {
            let code: i64 = db.code().and_then(|c| c.parse().ok()).unwrap_or_default();
            let message = db.message().to_owned();
            match code & 0xff {
                SQLITE_CONSTRAINT => match constraint_in(&message) {
                    Some(constraint) => StoreError::Conflict(Conflict::Constraint(constraint)),
                    None => StoreError::Other(Box::new(SqliteError { code, message })),
                },
                SQLITE_BUSY | SQLITE_LOCKED | SQLITE_FULL | SQLITE_CANTOPEN => {
                    StoreError::Unavailable(Box::new(SqliteError { code, message }))
                }
                _ => StoreError::Other(Box::new(SqliteError { code, message })),
            }
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// The constraint a constraint failure's message names, in the PostgreSQL backend's terms.
fn constraint_in(message: &str) -> Option<Constraint> {
    if let Some(columns) = message.strip_prefix("UNIQUE constraint failed: ") {
        return Some(unique_on(columns));
    }
    if let Some(name) = message.strip_prefix("CHECK constraint failed: ") {
        return Some(Constraint::Other(name.to_owned()));
    }
    None
}

fn unique_on(columns: &str) -> Constraint {
    match columns {
        "organisations.slug" => Constraint::OrgSlug,
        "users.email" => Constraint::UserEmail,
        "users.auth_subject" => Constraint::UserSubject,
        "users.mentor_id" => Constraint::UserMentorLink,
        "mentors.org_id, mentors.email" => Constraint::MentorEmail,
        "mentors.org_id, mentors.dynamics_contact_id" => Constraint::MentorDynamicsContactId,
        "mentors.org_id, mentors.dynamics_key" => Constraint::MentorDynamicsKey,
        "status_history.idempotency_key" => Constraint::HistoryIdempotencyKey,
        "dashboard_sessions.token_hash" => Constraint::Other("dashboard_sessions_pkey".to_owned()),
        other => Constraint::Other(other.to_owned()),
    }
}

/// What SQLite said, with its extended result code.
#[derive(Debug, thiserror::Error)]
#[error("{message} (SQLite code {code})")]
pub(crate) struct SqliteError {
    code: i64,
    message: String,
}

/// A stored value the domain refuses: a bug or a hand edit, never the caller's fault.
#[derive(Debug, thiserror::Error)]
#[error("stored {column} is not a valid value")]
pub(crate) struct BadColumn {
    column: &'static str,
}

pub(crate) fn bad_column(column: &'static str) -> StoreError {
    StoreError::Other(Box::new(BadColumn { column }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_failures_map_to_the_names_postgres_uses() {
        assert_eq!(
            constraint_in("UNIQUE constraint failed: mentors.org_id, mentors.email"),
            Some(Constraint::MentorEmail)
        );
        assert_eq!(
            constraint_in("UNIQUE constraint failed: status_history.idempotency_key"),
            Some(Constraint::HistoryIdempotencyKey)
        );
        assert_eq!(
            constraint_in("CHECK constraint failed: mentors_version_check"),
            Some(Constraint::Other("mentors_version_check".into()))
        );
        assert_eq!(constraint_in("FOREIGN KEY constraint failed"), None);
    }
}
