//! Every page in both languages: each text exists in nb and en, every template renders in both with
//! no placeholder left and no empty label, heading or button, and neither language's words show up
//! on the other's pages.

use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use domain::{Email, Locale, OrgId, OrgSlug, OrgTimeZone, Role, UserId};
use engine::{FeaturesView, SettingsView};
use store::{
    AlertRecord, Org, RunCounts, RunId, RunOutcome, RunRecord, RunTrigger, Severity, User,
};
use uuid::Uuid;

use super::login::LoginPage;
use super::mentors::{
    Actions, CertificationView, Entered, HistoryRow, MentorPage, MentorRow, MentorView,
    MentorsPage, ReminderRow, StatusOption,
};
use super::operations::{
    AlertsPage, DeadLetterFigure, RunsPage, SyncFigures, alert_row, run_row, settings_page,
    sync_page,
};
use super::views::{Chrome, ErrorPage, Viewer};
use super::words::{EN, NB, Words, words};

/// Texts that are the same word in both languages.
const SAME_IN_BOTH: &[&str] = &[
    "filter_status",
    "col_status",
    "status_heading",
    "status",
    "lag_p50",
    "lag_p95",
    "lag_p99",
];

#[test]
fn every_text_exists_in_both_languages() {
    let nb = NB.texts();
    let en = EN.texts();
    assert_eq!(nb.len(), en.len());
    for ((name, nb_text), (en_name, en_text)) in nb.iter().zip(&en) {
        assert_eq!(name, en_name);
        assert!(!nb_text.trim().is_empty(), "nb lacks {name}");
        assert!(!en_text.trim().is_empty(), "en lacks {name}");
        for text in [nb_text, en_text] {
            assert!(
                !text.contains("TODO") && !text.contains('{') && !text.contains('}'),
                "{name}: {text}"
            );
        }
        if nb_text == en_text {
            assert!(
                SAME_IN_BOTH.contains(name),
                "{name} is “{nb_text}” in both languages: not translated?"
            );
        }
    }
    assert_eq!(NB.lang, "nb");
    assert_eq!(EN.lang, "en");
}

fn org() -> Org {
    Org {
        id: OrgId::new(),
        slug: OrgSlug::parse("hlf").unwrap(),
        name: "HLF".into(),
        timezone: OrgTimeZone::default(),
        created_at: Utc::now(),
    }
}

fn viewer(locale: Locale, role: Role) -> Viewer {
    let org = org();
    Viewer {
        user: User {
            id: UserId::new(),
            org_id: org.id,
            email: Email::parse("koordinator@hlf.no").unwrap(),
            role,
            mentor_id: None,
            auth_subject: "s".into(),
            password_hash: None,
            locale: None,
            created_at: Utc::now(),
        },
        org,
        csrf: "csrf-token".into(),
        t: words(locale),
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0).unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every page, rendered for `locale`: (name, HTML).
fn pages(locale: Locale) -> Vec<(&'static str, String)> {
    let t: &'static Words = words(locale);
    let admin = viewer(locale, Role::Admin);
    let coordinator = viewer(locale, Role::Coordinator);
    let mentor = viewer(locale, Role::Mentor);
    let zone = OrgTimeZone::default();
    let mut out = Vec::new();
    let mut add = |name, html: Result<String, askama::Error>| out.push((name, html.unwrap()));

    add(
        "login",
        LoginPage {
            chrome: Chrome::signed_out(t, t.login_title.into())
                .with_notice(Some(t.logged_out.into()))
                .with_error(Some(t.login_failed.into())),
            t,
            csrf: "c".into(),
            email: "kari@hlf.no".into(),
            next: "/mentors".into(),
        }
        .render(),
    );
    add(
        "error",
        ErrorPage {
            chrome: coordinator.chrome(t.error_heading, ""),
            t,
            message: t.error_not_found.into(),
        }
        .render(),
    );

    let statuses = || {
        domain::MentorStatus::ALL
            .iter()
            .map(|s| StatusOption {
                code: s.as_str(),
                label: t.status(*s),
                selected: *s == domain::MentorStatus::Paused,
            })
            .collect::<Vec<_>>()
    };
    let row = |status: domain::MentorStatus, sync: &'static str, left: i64| MentorRow {
        href: "/mentors/x".into(),
        name: "Kari Nordmann".into(),
        email: "kari@hlf.no".into(),
        status_code: status.as_str(),
        status_label: t.status(status),
        certification: format!("{} ({})", t.date(date("2026-07-15")), t.days_left(left)),
        certification_class: "soon",
        sync_code: sync,
        sync_label: t.sync_state(sync),
    };
    add(
        "mentors",
        MentorsPage {
            chrome: admin.chrome(t.mentors_title, "/mentors"),
            t,
            statuses: statuses(),
            expiring: "30".into(),
            q: "kari".into(),
            rows: vec![
                row(domain::MentorStatus::Active, "in_sync", 30),
                row(domain::MentorStatus::Paused, "pending", 1),
                row(domain::MentorStatus::CertificationExpired, "dead", -3),
                row(domain::MentorStatus::Inactive, "unlinked", 0),
            ],
            invalid: false,
            showing: t.showing(4),
            next_href: Some("/mentors?cursor=x".into()),
            first_href: Some("/mentors".into()),
        }
        .render(),
    );
    add(
        "mentors-empty",
        MentorsPage {
            chrome: coordinator
                .chrome(t.mentors_title, "/mentors")
                .with_error(Some(t.error_expiring_invalid.into())),
            t,
            statuses: statuses(),
            expiring: "x".into(),
            q: String::new(),
            rows: Vec::new(),
            invalid: false,
            showing: t.showing(0),
            next_href: None,
            first_href: None,
        }
        .render(),
    );

    let mentor_view = |certified: bool, sync_enabled: bool| MentorView {
        id: Uuid::nil().to_string(),
        name: "Kari Nordmann".into(),
        email: "kari@hlf.no".into(),
        phone: certified.then(|| "+47 22 33 44 55".into()),
        listed_publicly: t.yes,
        link: format!("{}: {}", t.contact_id, Uuid::nil()),
        status_code: "paused",
        status_label: t.status_paused,
        reason: Some("ferie".into()),
        since: t.datetime(at(), zone),
        resume_on: Some(t.date(date("2026-08-01"))),
        certification: certified.then(|| CertificationView {
            issued_on: t.date(date("2025-06-15")),
            expires_on: t.date(date("2027-06-15")),
            left: t.days_left(365),
            class: "ok",
        }),
        sync_code: "failed",
        sync_label: t.sync_failed,
        sync_enabled,
        pushed_version: "3".into(),
        pushed_at: t.datetime(at(), zone),
        last_error: Some("503 Service Unavailable".into()),
    };
    let history = vec![
        HistoryRow {
            when: t.datetime(at(), zone),
            change: format!("{} → {}", t.status_active, t.status_paused),
            reason: "ferie".into(),
            by: "koordinator@hlf.no".into(),
        },
        HistoryRow {
            when: t.datetime(at(), zone),
            change: format!("{}: {}", t.registered, t.status_active),
            reason: String::new(),
            by: t.system_actor.into(),
        },
    ];
    add(
        "mentor",
        MentorPage {
            chrome: admin
                .chrome("Kari Nordmann", "/mentors")
                .with_notice(Some(t.done_paused.into())),
            t,
            csrf: "c".into(),
            m: mentor_view(true, true),
            actions: Actions {
                pause: true,
                resume: true,
                deactivate: true,
                reactivate: true,
                renew: true,
                force_sync: true,
            },
            entered: Entered::default(),
            min_resume_on: "2026-06-16".into(),
            history,
            older_href: Some("/mentors/x?history_before=3".into()),
            newest_href: Some("/mentors/x".into()),
            reminders: vec![ReminderRow {
                threshold: 30,
                expires_on: t.date(date("2026-07-15")),
                outcome: t.outcome_sent,
                business_date: t.date(date("2026-06-15")),
            }],
            manages: true,
        }
        .render(),
    );
    add(
        "mentor-own",
        MentorPage {
            chrome: mentor.chrome("Kari Nordmann", "/mentors").with_error(Some(
                t.refused(domain::ActionKind::Pause, domain::MentorStatus::Paused),
            )),
            t,
            csrf: "c".into(),
            m: mentor_view(false, false),
            actions: Actions::default(),
            entered: Entered::default(),
            min_resume_on: "2026-06-16".into(),
            history: Vec::new(),
            older_href: None,
            newest_href: None,
            reminders: Vec::new(),
            manages: false,
        }
        .render(),
    );

    let status = SyncFigures {
        enabled: true,
        pending: 3,
        dead: 1,
        retrying: 1,
        oldest_pending_age_seconds: Some(4000),
        lag_window_hours: 24,
        lag_confirmed: 120,
        lag_ms: [Some(12.0), Some(480.0), Some(2400.0)],
        credential: Some((at(), false, Some("401 Unauthorized".into()))),
        drift: Some((Some(at()), 50, 2, 1)),
        dead_letters: vec![DeadLetterFigure {
            mentor: domain::MentorId::new(),
            name: "Ola Nordmann".into(),
            rows: 2,
            last_error: Some("400 Bad Request".into()),
            since: at(),
        }],
    };
    add(
        "sync",
        sync_page(&admin, status, Some(t.done_retried.into())).render(),
    );
    let empty = SyncFigures {
        enabled: false,
        pending: 0,
        dead: 0,
        retrying: 0,
        oldest_pending_age_seconds: None,
        lag_window_hours: 24,
        lag_confirmed: 0,
        lag_ms: [None; 3],
        credential: None,
        drift: None,
        dead_letters: Vec::new(),
    };
    add("sync-empty", sync_page(&coordinator, empty, None).render());

    let alert = |acknowledged: bool, resolved: bool, severity| AlertRecord {
        id: Uuid::new_v4(),
        org_id: Some(admin.org.id),
        kind: "sync_auth".into(),
        severity,
        summary: "Dynamics refused the credentials".into(),
        dedupe_key: "k".into(),
        first_seen: at(),
        last_seen: at(),
        count: 3,
        acknowledged_by: acknowledged.then(UserId::new),
        acknowledged_at: acknowledged.then(at),
        resolved_at: resolved.then(at),
    };
    add(
        "alerts",
        AlertsPage {
            chrome: admin
                .chrome(t.alerts_title, "/alerts")
                .with_notice(Some(t.done_acknowledged.into())),
            t,
            csrf: "c".into(),
            open_only: false,
            rows: vec![
                alert_row(t, &alert(false, false, Severity::Critical), zone),
                alert_row(t, &alert(true, false, Severity::Warning), zone),
                alert_row(t, &alert(true, true, Severity::Warning), zone),
            ],
            next_href: Some("/alerts?cursor=x".into()),
            first_href: Some("/alerts".into()),
        }
        .render(),
    );
    add(
        "alerts-empty",
        AlertsPage {
            chrome: admin.chrome(t.alerts_title, "/alerts"),
            t,
            csrf: "c".into(),
            open_only: true,
            rows: Vec::new(),
            next_href: None,
            first_href: None,
        }
        .render(),
    );

    let run = |job: &str, outcome, counts| RunRecord {
        id: RunId(Uuid::now_v7()),
        job: job.into(),
        org_id: admin.org.id,
        business_date: date("2026-06-15"),
        trigger: RunTrigger::Scheduled,
        instance: "host-1".into(),
        started_at: at(),
        finished_at: Some(at()),
        outcome,
        counts,
        error: None,
    };
    add(
        "runs",
        RunsPage {
            chrome: coordinator.chrome(t.runs_title, "/runs"),
            t,
            rows: vec![
                run_row(
                    t,
                    &run(
                        "expiry",
                        RunOutcome::Succeeded,
                        RunCounts {
                            expired: 2,
                            reminders_sent: 5,
                            digests: 1,
                            ..RunCounts::default()
                        },
                    ),
                    zone,
                ),
                run_row(
                    t,
                    &run("listing_sync", RunOutcome::Failed, RunCounts::default()),
                    zone,
                ),
                run_row(
                    t,
                    &run("expiry", RunOutcome::Running, RunCounts::default()),
                    zone,
                ),
            ],
            next_href: Some("/runs?cursor=x".into()),
            first_href: None,
        }
        .render(),
    );
    add(
        "runs-empty",
        RunsPage {
            chrome: coordinator.chrome(t.runs_title, "/runs"),
            t,
            rows: Vec::new(),
            next_href: None,
            first_href: None,
        }
        .render(),
    );

    for flag in [true, false] {
        let view = SettingsView {
            thresholds_days: Some(vec![30, 14, 7]),
            effective_thresholds_days: vec![30, 14, 7],
            email_enabled: flag,
            locale,
            features: FeaturesView {
                per_org_thresholds: flag,
            },
        };
        add(
            if flag { "settings" } else { "settings-off" },
            settings_page(
                &admin,
                &view,
                "30, 14, 7".into(),
                Some(t.done_settings_saved.into()),
                None,
            )
            .render(),
        );
    }
    out
}

/// No placeholder left, no empty visible element, the right language.
fn check(name: &str, locale: Locale, html: &str) {
    assert!(
        html.contains(&format!("<html lang=\"{}\">", locale.as_str())),
        "{name}: lang attribute"
    );
    for leftover in ["{{", "}}", "{%", "%}", "TODO", "MISSING"] {
        assert!(
            !html.contains(leftover),
            "{name} ({locale}) contains {leftover}"
        );
    }
    for empty in [
        "></label>",
        "></button>",
        "></h1>",
        "></h2>",
        "></h3>",
        "></legend>",
        "></option>",
        "></dt>",
        "></a>",
        "></caption>",
        "<th scope=\"col\"></th>",
        "<title> –",
    ] {
        assert!(
            !html.contains(empty),
            "{name} ({locale}) has an empty element: {empty}"
        );
    }
}

#[test]
fn every_page_renders_in_both_languages_without_missing_text() {
    let nb = pages(Locale::Nb);
    let en = pages(Locale::En);
    assert_eq!(nb.len(), en.len());
    for ((name, nb_html), (_, en_html)) in nb.iter().zip(&en) {
        check(name, Locale::Nb, nb_html);
        check(name, Locale::En, en_html);
        assert_ne!(nb_html, en_html, "{name} is the same in both languages");
    }
}

#[test]
fn no_page_shows_the_other_languages_words() {
    let same: Vec<&str> = NB
        .texts()
        .iter()
        .zip(EN.texts())
        .filter(|((_, nb), (_, en))| nb == en)
        .map(|((_, nb), _)| *nb)
        .collect();
    for (locale, other) in [(Locale::Nb, &EN), (Locale::En, &NB)] {
        for (name, html) in pages(locale) {
            for (field, text) in other.texts() {
                // A whole element's text in the other language (the language switch is meant to be).
                if same.contains(&text)
                    || field == "other_language"
                    || text == words(locale).other_language
                {
                    continue;
                }
                assert!(
                    !html.contains(&format!(">{text}<")),
                    "{name} ({locale}) shows {field} in the other language: {text}"
                );
            }
        }
    }
}

#[test]
fn dates_and_counts_read_the_local_way() {
    let zone = OrgTimeZone::default();
    assert_eq!(NB.datetime(at(), zone), "15.06.2026 kl. 12:00");
    assert_eq!(EN.datetime(at(), zone), "15 June 2026, 12:00");
    assert_eq!(NB.days_left(14), "14 dager igjen");
    assert_eq!(EN.days_left(-1), "expired 1 day ago");
    assert_eq!(NB.millis(2400.0), "2,4 s");
    assert_eq!(EN.millis(12.4), "12 ms");
    assert_eq!(NB.age(4000), "1 t 6 min");
    assert_eq!(NB.history_reason("registered"), "");
    assert_eq!(
        NB.history_reason("certification renewed until 2028-05-31"),
        "sertifiseringen fornyet til og med 31.05.2028"
    );
    assert_eq!(
        EN.history_reason("certification expired after 2026-06-14"),
        "certification expired after 14 June 2026"
    );
    assert_eq!(
        NB.history_reason("automatic resume on 2026-08-01"),
        "automatisk tilbake 01.08.2026"
    );
    assert_eq!(NB.history_reason("Sommerferie"), "Sommerferie");
}
