//! Certification validity. `expires_on` is the LAST valid day; the certification has lapsed when
//! the business date is after it. Calendar-day arithmetic only.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A validated certification period: `issued_on <= expires_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificationPeriod {
    issued_on: NaiveDate,
    expires_on: NaiveDate,
}

impl CertificationPeriod {
    pub fn new(issued_on: NaiveDate, expires_on: NaiveDate) -> Result<Self, DomainError> {
        if expires_on < issued_on {
            return Err(DomainError::ExpiresBeforeIssued {
                issued_on,
                expires_on,
            });
        }
        Ok(Self {
            issued_on,
            expires_on,
        })
    }

    pub fn issued_on(&self) -> NaiveDate {
        self.issued_on
    }

    pub fn expires_on(&self) -> NaiveDate {
        self.expires_on
    }
}

/// Whether a certification whose last valid day is `expires_on` is valid on `date`.
pub fn is_valid_on(expires_on: NaiveDate, date: NaiveDate) -> bool {
    date <= expires_on
}

/// Whole calendar days from `today` to `expires_on`: 0 on the last valid day, negative once lapsed.
pub fn days_left(expires_on: NaiveDate, today: NaiveDate) -> i64 {
    (expires_on - today).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn last_day_is_valid_and_the_next_is_not() {
        let expires = date("2026-07-31");
        assert!(is_valid_on(expires, date("2026-07-31")));
        assert!(!is_valid_on(expires, date("2026-08-01")));
        assert_eq!(days_left(expires, date("2026-07-31")), 0);
        assert_eq!(days_left(expires, date("2026-08-01")), -1);
    }

    #[test]
    fn days_left_counts_calendar_days_across_dst_and_leap_days() {
        assert_eq!(days_left(date("2026-03-30"), date("2026-03-28")), 2);
        assert_eq!(days_left(date("2026-10-26"), date("2026-10-24")), 2);
        assert_eq!(days_left(date("2028-03-01"), date("2028-02-28")), 2);
        assert_eq!(days_left(date("2027-03-01"), date("2027-02-28")), 1);
    }

    #[test]
    fn period_refuses_expiry_before_issue() {
        let err = CertificationPeriod::new(date("2026-05-02"), date("2026-05-01"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("expires_on"), "{err}");
        assert!(CertificationPeriod::new(date("2026-05-01"), date("2026-05-01")).is_ok());
    }

    proptest! {
        #[test]
        fn valid_exactly_while_days_left_is_not_negative(
            expires in 0i64..(365 * 5), today in 0i64..(365 * 5)
        ) {
            let base = date("2024-01-01");
            let expires_on = base + chrono::Days::new(expires as u64);
            let today = base + chrono::Days::new(today as u64);
            prop_assert_eq!(is_valid_on(expires_on, today), days_left(expires_on, today) >= 0);
        }
    }
}
