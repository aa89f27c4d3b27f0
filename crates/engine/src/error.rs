use domain::{MentorStatus, Refusal};
use serde::Serialize;
use store::{Conflict, Constraint, StoreError};

/// One invalid input field, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("{0}")]
    Forbidden(String),
    /// The transition table refused the action; `current` is the mentor's status now.
    #[error("{refusal}")]
    Refused {
        refusal: Refusal,
        current: MentorStatus,
    },
    #[error("invalid input: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// Rows of an import that are wrong, each with its line number.
    #[error("{} row(s) of the import are invalid", .0.len())]
    InvalidRows(Vec<(usize, FieldError)>),
    /// Someone else kept changing the mentor; the client may retry.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl EngineError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        EngineError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => EngineError::NotFound { entity },
            StoreError::Conflict(Conflict::Constraint(c)) => match constraint_field(&c) {
                Some((field, message)) => EngineError::invalid(field, message),
                // A change that links a mentor by contact id and by key at once, with the mentor as
                // it is now: the request conflicts with the mentor's state, not with itself.
                None if matches!(&c, Constraint::Other(name) if name == ONE_DYNAMICS_LINK) => {
                    EngineError::Conflict(
                        "the mentor is linked to Dynamics by dynamics_contact_id or by dynamics_key, \
                         not both: set the other one to null in the same change"
                            .into(),
                    )
                }
                None => EngineError::Store(StoreError::Conflict(Conflict::Constraint(c))),
            },
            other => EngineError::Store(other),
        }
    }
}

/// The check that a mentor has at most one Dynamics link (both backends name it so).
const ONE_DYNAMICS_LINK: &str = "mentors_one_dynamics_link";

/// The input field a uniqueness rule is about, for a 422 that names it.
pub(crate) fn constraint_field(c: &Constraint) -> Option<(&'static str, &'static str)> {
    match c {
        Constraint::MentorEmail => Some((
            "email",
            "another mentor of this organisation has this email",
        )),
        Constraint::MentorDynamicsContactId => Some((
            "dynamics_contact_id",
            "another mentor of this organisation is linked to this contact",
        )),
        Constraint::MentorDynamicsKey => Some((
            "dynamics_key",
            "another mentor of this organisation is linked to this key",
        )),
        Constraint::UserEmail => Some(("email", "a user with this email exists")),
        Constraint::OrgSlug => Some(("slug", "an organisation with this slug exists")),
        Constraint::UserMentorLink => Some(("mentor", "this mentor already has a login")),
        _ => None,
    }
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}
