use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A mentor's availability. The string forms are part of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MentorStatus {
    Active,
    Paused,
    CertificationExpired,
    Inactive,
}

impl MentorStatus {
    pub const ALL: [MentorStatus; 4] = [
        MentorStatus::Active,
        MentorStatus::Paused,
        MentorStatus::CertificationExpired,
        MentorStatus::Inactive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MentorStatus::Active => "active",
            MentorStatus::Paused => "paused",
            MentorStatus::CertificationExpired => "certification_expired",
            MentorStatus::Inactive => "inactive",
        }
    }

    /// The status a mentor should have when nothing but their certification holds them back.
    pub fn by_certification(certification_valid: bool) -> Self {
        if certification_valid {
            MentorStatus::Active
        } else {
            MentorStatus::CertificationExpired
        }
    }
}

impl std::fmt::Display for MentorStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MentorStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MentorStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| DomainError::UnknownStatus(s.to_owned()))
    }
}
