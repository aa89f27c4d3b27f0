use std::error::Error as StdError;

/// A uniqueness or integrity rule the database enforces, named independently of any backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    OrgSlug,
    UserEmail,
    UserSubject,
    UserMentorLink,
    MentorEmail,
    MentorDynamicsContactId,
    MentorDynamicsKey,
    /// A system transition with this idempotency key is already in the history.
    HistoryIdempotencyKey,
    /// Any other constraint, by the backend's name for it.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A unique or check constraint refused the write.
    Constraint(Constraint),
    /// A compare-and-set found the row changed since it was read.
    LostRace,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The database cannot be reached or is shutting down; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    #[error("database error: {0}")]
    Other(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    pub fn not_found(entity: &'static str) -> Self {
        StoreError::NotFound { entity }
    }

    pub fn is_lost_race(&self) -> bool {
        matches!(self, StoreError::Conflict(Conflict::LostRace))
    }

    pub fn constraint(&self) -> Option<&Constraint> {
        match self {
            StoreError::Conflict(Conflict::Constraint(c)) => Some(c),
            _ => None,
        }
    }
}
