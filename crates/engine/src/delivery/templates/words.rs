//! Words the emails share: statuses, actions, severities, dates and times, counted days.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Locale, MentorStatus};
use serde::Deserialize;
use store::Severity;

/// The text of `locale`: `nb` or `en`.
pub(super) fn pick<T>(locale: Locale, nb: T, en: T) -> T {
    match locale {
        Locale::Nb => nb,
        Locale::En => en,
    }
}

/// A status as a word of the language, never its code.
pub(super) fn status(locale: Locale, status: MentorStatus) -> &'static str {
    use MentorStatus::*;
    match (locale, status) {
        (Locale::Nb, Active) => "aktiv",
        (Locale::Nb, Paused) => "på pause",
        (Locale::Nb, CertificationExpired) => "sertifisering utløpt",
        (Locale::Nb, Inactive) => "inaktiv",
        (Locale::En, Active) => "active",
        (Locale::En, Paused) => "paused",
        (Locale::En, CertificationExpired) => "certification expired",
        (Locale::En, Inactive) => "inactive",
    }
}

/// A status quoted inside a sentence: «på pause» / “paused”.
pub(super) fn quoted(locale: Locale, s: MentorStatus) -> String {
    match locale {
        Locale::Nb => format!("«{}»", status(locale, s)),
        Locale::En => format!("“{}”", status(locale, s)),
    }
}

/// The action of a status change, as `domain::ActionKind` serializes it (which has no `Deserialize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Action {
    Pause,
    Resume,
    Deactivate,
    Reactivate,
    RenewCertification,
    Expire,
    AutoResume,
}

pub(super) fn severity(locale: Locale, severity: Severity) -> &'static str {
    match (locale, severity) {
        (Locale::Nb, Severity::Warning) => "advarsel",
        (Locale::Nb, Severity::Critical) => "kritisk",
        (Locale::En, Severity::Warning) => "warning",
        (Locale::En, Severity::Critical) => "critical",
    }
}

pub(super) fn date(locale: Locale, date: NaiveDate) -> String {
    locale.date(date)
}

/// A moment for the operations team, in UTC: `30.11.2026 kl. 02:05 UTC` / `30 November 2026, 02:05 UTC`.
pub(super) fn time(locale: Locale, at: DateTime<Utc>) -> String {
    let clock = at.format("%H:%M");
    match locale {
        Locale::Nb => format!("{} kl. {clock} UTC", locale.date(at.date_naive())),
        Locale::En => format!("{}, {clock} UTC", locale.date(at.date_naive())),
    }
}

/// `1 dag`, `14 dager` / `1 day`, `14 days`.
pub(super) fn days(locale: Locale, n: i64) -> String {
    match (locale, n.abs() == 1) {
        (Locale::Nb, true) => format!("{n} dag"),
        (Locale::Nb, false) => format!("{n} dager"),
        (Locale::En, true) => format!("{n} day"),
        (Locale::En, false) => format!("{n} days"),
    }
}

/// When something `n` days ahead happens: `i dag`, `i morgen`, `om 14 dager` / `today`, `tomorrow`,
/// `in 14 days`. For `n <= 0`, today.
pub(super) fn in_days(locale: Locale, n: i64) -> String {
    match (locale, n) {
        (Locale::Nb, ..=0) => "i dag".to_owned(),
        (Locale::Nb, 1) => "i morgen".to_owned(),
        (Locale::Nb, n) => format!("om {}", days(locale, n)),
        (Locale::En, ..=0) => "today".to_owned(),
        (Locale::En, 1) => "tomorrow".to_owned(),
        (Locale::En, n) => format!("in {}", days(locale, n)),
    }
}

/// Where mentors are seen by members: the phrase every mentor email uses.
pub(super) fn listing(locale: Locale) -> &'static str {
    pick(
        locale,
        "den offentlige oversikten over likepersoner",
        "the public list of peer mentors",
    )
}

/// The closing line of a mentor's email.
pub(super) fn questions(locale: Locale) -> &'static str {
    pick(
        locale,
        "Har du spørsmål, er du velkommen til å ta kontakt med koordinatoren din.",
        "If you have any questions, you are welcome to contact your coordinator.",
    )
}
