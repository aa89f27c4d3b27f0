//! Reminder thresholds and the catch-up rule: which (threshold, expiry date) decisions a run makes.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::days_left;

/// Days before `expires_on` at which a mentor is reminded: whole numbers 1–365, deduplicated,
/// sorted from the earliest (largest) to the most urgent (smallest) on output of `as_slice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Thresholds(Vec<u16>);

impl Thresholds {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 365;

    /// The organisation-independent default: 30, 14 and 7 days before.
    pub fn standard() -> Self {
        Self(vec![30, 14, 7])
    }

    /// Validate, deduplicate and sort. The error names the offending value.
    pub fn parse(values: &[i64]) -> Result<Self, DomainError> {
        if values.is_empty() {
            return Err(DomainError::NoThresholds {
                min: Self::MIN,
                max: Self::MAX,
            });
        }
        let mut days = Vec::with_capacity(values.len());
        for &value in values {
            if !(Self::MIN..=Self::MAX).contains(&value) {
                return Err(DomainError::ThresholdOutOfRange {
                    value,
                    min: Self::MIN,
                    max: Self::MAX,
                });
            }
            days.push(value as u16);
        }
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        Ok(Self(days))
    }

    /// Largest first, e.g. `[30, 14, 7]`.
    pub fn as_slice(&self) -> &[u16] {
        &self.0
    }

    /// The widest window in days, where reminder candidates are looked for.
    pub fn window(&self) -> u16 {
        self.0[0]
    }
}

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = Vec::<i64>::deserialize(d)?;
        Thresholds::parse(&values).map_err(serde::de::Error::custom)
    }
}

/// Whether a claimed reminder is sent to the mentor or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReminderDecision {
    Send,
    /// A more urgent threshold is crossed too: catch-up sends only the most urgent one.
    Skip,
}

/// The decisions for one certification on `today`, given the thresholds already recorded for that
/// expiry date. Threshold T is crossed when `days_left <= T`; among the crossed ones only the most
/// urgent is sent, the others are recorded as skipped; recorded ones are never decided again.
/// A lapsed certification (`days_left < 0`) gets no reminders: it gets the expiry transition.
pub fn reminder_decisions(
    expires_on: NaiveDate,
    today: NaiveDate,
    thresholds: &Thresholds,
    recorded: &[u16],
) -> Vec<(u16, ReminderDecision)> {
    let left = days_left(expires_on, today);
    if left < 0 {
        return Vec::new();
    }
    let crossed: Vec<u16> = thresholds
        .as_slice()
        .iter()
        .copied()
        .filter(|&t| left <= i64::from(t))
        .collect();
    let Some(&most_urgent) = crossed.iter().min() else {
        return Vec::new();
    };
    crossed
        .into_iter()
        .filter(|t| !recorded.contains(t))
        .map(|t| {
            let decision = if t == most_urgent {
                ReminderDecision::Send
            } else {
                ReminderDecision::Skip
            };
            (t, decision)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn thresholds_are_validated_deduplicated_and_sorted() {
        assert_eq!(
            Thresholds::parse(&[7, 30, 14, 30]).unwrap().as_slice(),
            &[30, 14, 7]
        );
        for bad in [0, 366, -7] {
            let err = Thresholds::parse(&[30, bad]).unwrap_err().to_string();
            assert!(err.contains(&bad.to_string()), "{err}");
        }
        assert!(Thresholds::parse(&[]).is_err());
        assert!(serde_json::from_str::<Thresholds>("[14, 3.5]").is_err());
        assert_eq!(
            serde_json::from_str::<Thresholds>("[1, 365]")
                .unwrap()
                .as_slice(),
            &[365, 1]
        );
    }

    #[test]
    fn catch_up_sends_only_the_most_urgent() {
        let t = Thresholds::standard();
        let decisions = reminder_decisions(date("2026-07-07"), date("2026-07-01"), &t, &[]);
        assert_eq!(
            decisions,
            [
                (30, ReminderDecision::Skip),
                (14, ReminderDecision::Skip),
                (7, ReminderDecision::Send)
            ]
        );
        assert!(
            reminder_decisions(date("2026-07-07"), date("2026-07-01"), &t, &[30, 14, 7]).is_empty()
        );
        assert!(
            reminder_decisions(date("2026-07-07"), date("2026-07-08"), &t, &[]).is_empty(),
            "lapsed"
        );
        assert!(
            reminder_decisions(date("2026-08-31"), date("2026-07-01"), &t, &[]).is_empty(),
            "too early"
        );
    }

    /// Runs every day (and sometimes not) and returns, per threshold, the dates that sent it.
    fn simulate(
        expires_on: NaiveDate,
        start: NaiveDate,
        days: u64,
        skip: impl Fn(u64) -> bool,
    ) -> Vec<(u16, NaiveDate, ReminderDecision)> {
        let thresholds = Thresholds::standard();
        let mut ledger: Vec<(u16, NaiveDate, ReminderDecision)> = Vec::new();
        for offset in 0..days {
            if skip(offset) {
                continue;
            }
            let today = start + Days::new(offset);
            let recorded: Vec<u16> = ledger.iter().map(|(t, _, _)| *t).collect();
            for (t, d) in reminder_decisions(expires_on, today, &thresholds, &recorded) {
                ledger.push((t, today, d));
            }
        }
        ledger
    }

    #[test]
    fn with_daily_runs_each_threshold_is_sent_on_exactly_one_date_for_every_expiry_in_2024_to_2028()
    {
        let mut expires_on = date("2024-01-01");
        while expires_on <= date("2028-12-31") {
            let ledger = simulate(expires_on, expires_on - Days::new(40), 45, |_| false);
            for t in Thresholds::standard().as_slice() {
                let sends: Vec<_> = ledger
                    .iter()
                    .filter(|(th, _, d)| th == t && *d == ReminderDecision::Send)
                    .collect();
                assert_eq!(sends.len(), 1, "threshold {t} for {expires_on}");
                assert_eq!(
                    sends[0].1,
                    expires_on - Days::new(u64::from(*t)),
                    "sent on its own day"
                );
            }
            expires_on = expires_on + Days::new(1);
        }
    }

    proptest! {
        #[test]
        fn with_missed_runs_every_threshold_is_decided_once_and_at_most_one_is_sent_per_run(
            expiry_offset in 0u64..1826, missed in proptest::collection::vec(any::<bool>(), 45)
        ) {
            let expires_on = date("2024-01-01") + Days::new(expiry_offset);
            let ledger = simulate(expires_on, expires_on - Days::new(40), 45, |o| missed[o as usize]);
            let mut thresholds: Vec<u16> = ledger.iter().map(|(t, _, _)| *t).collect();
            let before = thresholds.len();
            thresholds.dedup();
            prop_assert_eq!(before, thresholds.len(), "no threshold decided twice");
            let mut run_dates: Vec<NaiveDate> = ledger.iter().filter(|(_, _, d)| *d == ReminderDecision::Send).map(|(_, day, _)| *day).collect();
            let sends = run_dates.len();
            run_dates.dedup();
            prop_assert_eq!(sends, run_dates.len(), "at most one reminder per run");
        }
    }
}
