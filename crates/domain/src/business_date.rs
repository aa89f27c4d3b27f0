//! The business date: today's calendar date in the organisation's time zone, from one injectable clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::DomainError;

/// The one source of "now". Production uses [`SystemClock`]; tests and backfills inject their own.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved; shared handles see the same instant.
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock mutex poisoned") = at;
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("clock mutex poisoned") += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock mutex poisoned")
    }
}

/// An organisation's IANA time zone, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgTimeZone(Tz);

impl OrgTimeZone {
    pub const DEFAULT_NAME: &'static str = "Europe/Oslo";

    pub fn parse(name: &str) -> Result<Self, DomainError> {
        name.parse::<Tz>()
            .map(Self)
            .map_err(|_| DomainError::UnknownTimeZone(name.to_owned()))
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl Default for OrgTimeZone {
    fn default() -> Self {
        Self(chrono_tz::Europe::Oslo)
    }
}

/// The calendar date at `now` in `zone`. Never `now.date_naive()`: that is the UTC date.
pub fn business_date(now: DateTime<Utc>, zone: OrgTimeZone) -> NaiveDate {
    now.with_timezone(&zone.0).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn oslo() -> OrgTimeZone {
        OrgTimeZone::parse("Europe/Oslo").unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn late_evening_utc_is_already_tomorrow_in_oslo_in_summer() {
        let now = Utc.with_ymd_and_hms(2026, 6, 14, 22, 30, 0).unwrap();
        assert_eq!(business_date(now, oslo()), date("2026-06-15"));
        assert_eq!(now.date_naive(), date("2026-06-14"));
    }

    #[test]
    fn winter_offset_is_one_hour() {
        let before = Utc.with_ymd_and_hms(2026, 1, 10, 22, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 1, 10, 23, 0, 0).unwrap();
        assert_eq!(business_date(before, oslo()), date("2026-01-10"));
        assert_eq!(business_date(after, oslo()), date("2026-01-11"));
    }

    #[test]
    fn spring_forward_day_is_23_hours_long_in_oslo() {
        // 2026-03-29 starts at 23:00 UTC on the 28th (CET) and ends at 22:00 UTC (CEST).
        let start = Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 3, 29, 22, 0, 0).unwrap();
        assert_eq!(
            business_date(start - Duration::seconds(1), oslo()),
            date("2026-03-28")
        );
        assert_eq!(business_date(start, oslo()), date("2026-03-29"));
        assert_eq!(
            business_date(end - Duration::seconds(1), oslo()),
            date("2026-03-29")
        );
        assert_eq!(business_date(end, oslo()), date("2026-03-30"));
        assert_eq!((end - start).num_hours(), 23);
    }

    #[test]
    fn fall_back_day_is_25_hours_long_in_oslo() {
        let start = Utc.with_ymd_and_hms(2026, 10, 24, 22, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 10, 25, 23, 0, 0).unwrap();
        assert_eq!(business_date(start, oslo()), date("2026-10-25"));
        assert_eq!(
            business_date(end - Duration::seconds(1), oslo()),
            date("2026-10-25")
        );
        assert_eq!(business_date(end, oslo()), date("2026-10-26"));
        assert_eq!((end - start).num_hours(), 25);
    }

    #[test]
    fn other_zones_have_their_own_dates() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 3, 0, 0).unwrap();
        let new_york = OrgTimeZone::parse("America/New_York").unwrap();
        let auckland = OrgTimeZone::parse("Pacific/Auckland").unwrap();
        assert_eq!(business_date(now, new_york), date("2026-06-14"));
        assert_eq!(business_date(now, auckland), date("2026-06-15"));
        assert_eq!(business_date(now, oslo()), date("2026-06-15"));
    }

    #[test]
    fn unknown_zone_is_refused_with_its_name() {
        let err = OrgTimeZone::parse("Europe/Atlantis")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Europe/Atlantis"), "{err}");
    }

    #[test]
    fn fixed_clock_moves_for_every_handle() {
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let handle = clock.clone();
        let later = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        clock.set(later);
        assert_eq!(handle.now(), later);
    }
}
