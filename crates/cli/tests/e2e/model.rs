//! What a run of nights must do to a population, by the domain's own rules, night by night: the
//! reminders sent and skipped (catch-up) and the lapses. The tests count what the processes did
//! against it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone};
use domain::{OrgTimeZone, ReminderDecision, Thresholds, reminder_decisions};

#[derive(Default)]
pub struct Model {
    pub sent: BTreeMap<NaiveDate, u64>,
    pub skipped: u64,
    /// The mentors (by index) that lapse each night.
    pub lapsed: BTreeMap<NaiveDate, Vec<usize>>,
}

impl Model {
    /// `nights` nightly runs from `first`, over active mentors whose certifications end on
    /// `expiries` (by index). Mentors paused meanwhile must not lapse within the nights.
    pub fn of(first: NaiveDate, nights: u64, expiries: &[NaiveDate]) -> Model {
        let thresholds = Thresholds::standard();
        let mut model = Model::default();
        let mut recorded: HashMap<usize, Vec<u16>> = HashMap::new();
        let mut lapsed = HashSet::new();
        for n in 0..nights {
            let today = first + Days::new(n);
            for (i, expires_on) in expiries.iter().enumerate() {
                if *expires_on < today {
                    if lapsed.insert(i) {
                        model.lapsed.entry(today).or_default().push(i);
                    }
                    continue;
                }
                let done = recorded.entry(i).or_default();
                for (threshold, decision) in
                    reminder_decisions(*expires_on, today, &thresholds, done)
                {
                    done.push(threshold);
                    match decision {
                        ReminderDecision::Send => *model.sent.entry(today).or_default() += 1,
                        ReminderDecision::Skip => model.skipped += 1,
                    }
                }
            }
        }
        model
    }

    pub fn reminders_sent(&self) -> u64 {
        self.sent.values().sum()
    }

    pub fn lapses(&self) -> u64 {
        self.lapsed.values().map(|l| l.len() as u64).sum()
    }

    /// Nights whose run did something: each gets one digest.
    pub fn busy_nights(&self) -> Vec<NaiveDate> {
        let mut nights: Vec<NaiveDate> = self
            .sent
            .keys()
            .chain(self.lapsed.keys())
            .copied()
            .collect();
        nights.sort();
        nights.dedup();
        nights
    }

    /// Every email the nights send: reminders and lapse notices to mentors, one digest per busy
    /// night to the one coordinator.
    pub fn emails(&self) -> u64 {
        self.reminders_sent() + self.lapses() + self.busy_nights().len() as u64
    }
}

/// `time` (HH:MM) on `day` in Oslo, where the organisation lives.
pub fn oslo(day: NaiveDate, time: &str) -> DateTime<FixedOffset> {
    let local = day.and_time(time.parse().expect("a time"));
    OrgTimeZone::default()
        .tz()
        .from_local_datetime(&local)
        .single()
        .expect("an unambiguous local time")
        .fixed_offset()
}

/// The first simulated night (a month that crosses into summer time on 28 March).
pub fn first_night() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date")
}

pub fn night(n: u64) -> NaiveDate {
    first_night() + Days::new(n)
}

/// `count` certifications ending over the 50 days from the third night: the nights see catch-up on
/// the first of them, 30/14/7-day reminders on their dates, and lapses.
pub fn spread_expiries(count: usize) -> Vec<NaiveDate> {
    (0..count as u64)
        .map(|i| first_night() + Days::new(3 + (i * 7) % 50))
        .collect()
}

/// Mentors (by index, last first) whose certification outlasts `nights`: coordinators pause and
/// resume only these, so the model's lapses stay those of active mentors.
pub fn calm_mentors(expiries: &[NaiveDate], nights: u64) -> Vec<usize> {
    (0..expiries.len())
        .rev()
        .filter(|i| expiries[*i] > night(nights))
        .collect()
}
