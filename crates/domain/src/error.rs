//! Why the domain refuses a value: the error of its parsers and constructors (text fields have
//! their own, [`TextError`](crate::TextError)). Each message names the offending value and is
//! written for the person who gave it.

use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("unknown IANA time zone `{0}` (for example Europe/Oslo)")]
    UnknownTimeZone(String),
    #[error("unknown locale `{0}`: use nb or en")]
    UnknownLocale(String),
    #[error("unknown role `{0}` (expected mentor, coordinator or admin)")]
    UnknownRole(String),
    #[error("unknown status `{0}` (expected active, paused, certification_expired or inactive)")]
    UnknownStatus(String),
    #[error("give at least one threshold (days before expiry, {min}–{max})")]
    NoThresholds { min: i64, max: i64 },
    #[error("threshold {value} is out of range: thresholds are whole days from {min} to {max}")]
    ThresholdOutOfRange { value: i64, min: i64, max: i64 },
    #[error("expires_on ({expires_on}) is before issued_on ({issued_on})")]
    ExpiresBeforeIssued {
        issued_on: NaiveDate,
        expires_on: NaiveDate,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages people have always seen, word for word.
    #[test]
    fn messages_are_the_ones_people_know() {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        for (error, message) in [
            (
                DomainError::UnknownTimeZone("Europe/Atlantis".into()),
                "unknown IANA time zone `Europe/Atlantis` (for example Europe/Oslo)",
            ),
            (
                DomainError::UnknownLocale("sv".into()),
                "unknown locale `sv`: use nb or en",
            ),
            (
                DomainError::UnknownRole("owner".into()),
                "unknown role `owner` (expected mentor, coordinator or admin)",
            ),
            (
                DomainError::UnknownStatus("gone".into()),
                "unknown status `gone` (expected active, paused, certification_expired or inactive)",
            ),
            (
                DomainError::NoThresholds { min: 1, max: 365 },
                "give at least one threshold (days before expiry, 1–365)",
            ),
            (
                DomainError::ThresholdOutOfRange {
                    value: 400,
                    min: 1,
                    max: 365,
                },
                "threshold 400 is out of range: thresholds are whole days from 1 to 365",
            ),
            (
                DomainError::ExpiresBeforeIssued {
                    issued_on: date("2026-05-02"),
                    expires_on: date("2026-05-01"),
                },
                "expires_on (2026-05-01) is before issued_on (2026-05-02)",
            ),
        ] {
            assert_eq!(error.to_string(), message);
        }
    }
}
