//! sqlx errors as `StoreError`s: constraints by name, outages as `Unavailable`, the rest as `Other`.
//! A server error keeps only its SQLSTATE and message: its detail can quote row values (PII).

use store::{Conflict, Constraint, StoreError};

/// SQLSTATE codes of integrity violations whose constraint name says what was refused.
const UNIQUE_VIOLATION: &str = "23505";
const FOREIGN_KEY_VIOLATION: &str = "23503";
const CHECK_VIOLATION: &str = "23514";

pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(Box::new(err)),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let constraint = db.constraint().map(str::to_owned);
            match (code.as_str(), constraint) {
                (UNIQUE_VIOLATION | CHECK_VIOLATION, Some(name)) => {
                    StoreError::Conflict(Conflict::Constraint(constraint_named(name)))
                }
                (FOREIGN_KEY_VIOLATION, Some(name)) => match missing_entity(&name) {
                    Some(entity) => StoreError::NotFound { entity },
                    None => StoreError::Conflict(Conflict::Constraint(Constraint::Other(name))),
                },
                (code, _) if is_outage(code) => {
                    StoreError::Unavailable(Box::new(ServerError::new(code, &*db)))
                }
                (code, _) => StoreError::Other(Box::new(ServerError::new(code, &*db))),
            }
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// Class 08: connection exceptions; 57P0x: the server is shutting down or not accepting connections yet;
/// 53300: no connection slot free. All of them pass when retried later.
fn is_outage(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P0") || code == "53300"
}

fn constraint_named(name: String) -> Constraint {
    match name.as_str() {
        "organisations_slug_key" => Constraint::OrgSlug,
        "users_email_key" => Constraint::UserEmail,
        "users_auth_subject_key" => Constraint::UserSubject,
        "users_mentor_id_key" => Constraint::UserMentorLink,
        "mentors_org_email_key" => Constraint::MentorEmail,
        "mentors_org_dynamics_contact_key" => Constraint::MentorDynamicsContactId,
        "mentors_org_dynamics_key_key" => Constraint::MentorDynamicsKey,
        "status_history_idempotency_key_key" => Constraint::HistoryIdempotencyKey,
        _ => Constraint::Other(name),
    }
}

/// A foreign key that refused a write because the row it points to does not exist.
fn missing_entity(fk: &str) -> Option<&'static str> {
    match fk {
        "users_mentor_id_fkey" => Some("mentor"),
        "idempotency_keys_user_id_fkey" | "dashboard_sessions_user_id_fkey" => Some("user"),
        name if name.ends_with("_org_id_fkey") => Some("organisation"),
        _ => None,
    }
}

/// What a server error says without its detail, hint or query position.
#[derive(Debug, thiserror::Error)]
#[error("{message} (SQLSTATE {code})")]
pub(crate) struct ServerError {
    code: String,
    message: String,
}

impl ServerError {
    fn new(code: &str, db: &dyn sqlx::error::DatabaseError) -> Self {
        Self {
            code: code.to_owned(),
            message: db.message().to_owned(),
        }
    }
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
