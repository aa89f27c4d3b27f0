use chrono::{DateTime, NaiveDate, Utc};
use domain::{ActionKind, Locale, MentorId, MentorStatus, OrgId, OrgSlug, Reason};
use serde_json::{Value, json};
use store::{AlertRecord, MentorFacts, OrgRef, Severity};
use uuid::Uuid;

use super::*;
use crate::notices;

const NASTY: &str = "<script>alert(\"x&y\")</script>";

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn facts(name: &str, expires_on: Option<&str>, resume_on: Option<&str>) -> MentorFacts {
    MentorFacts {
        id: MentorId::new(),
        full_name: name.to_owned(),
        status: MentorStatus::Active,
        version: 1,
        expires_on: expires_on.map(date),
        resume_on: resume_on.map(date),
    }
}

fn transition(action: ActionKind, from: MentorStatus, to: MentorStatus) -> domain::Transition {
    domain::Transition {
        action,
        from,
        to,
        reason: None,
        resume_on: None,
    }
}

/// The payload of a user's change, as `notices::for_user_transition` writes it.
fn user_change(name: &str, t: &domain::Transition) -> Value {
    json!({
        "mentor_name": name,
        "action": t.action,
        "from_status": t.from,
        "to_status": t.to,
        "reason": t.reason,
        "resume_on": t.resume_on,
    })
}

fn digest(listed: usize, count: i64) -> Value {
    let mentor = |i: usize| format!("Likeperson {i}");
    json!({
        "business_date": "2026-07-31",
        "digest_id": Uuid::nil(),
        "transitions": (0..listed).map(|i| json!({
            "mentor_id": Uuid::nil(), "full_name": mentor(i),
            "from_status": "active", "to_status": "certification_expired",
        })).collect::<Vec<_>>(),
        "reminders": [{
            "mentor_id": Uuid::nil(), "full_name": "Kari Nordmann", "threshold_days": 14,
            "certification_expires_on": "2026-08-14",
        }],
        "resume_notices": [{
            "mentor_id": Uuid::nil(), "full_name": "Ola Nordmann", "resume_on": "2026-08-03",
        }],
        "counts": {"transitions": count, "reminders": 1, "resume_notices": 1},
    })
}

fn alert(org: bool, acknowledged: bool, resolved: bool) -> Value {
    let record = AlertRecord {
        id: Uuid::nil(),
        org_id: org.then(OrgId::new),
        kind: "sync_credentials".to_owned(),
        severity: Severity::Critical,
        dedupe_key: "sync_credentials:hlf".to_owned(),
        summary: "token endpoint answered 401".to_owned(),
        first_seen: at("2026-07-31T02:05:00Z"),
        last_seen: at("2026-07-31T04:10:00Z"),
        count: 3,
        acknowledged_by: None,
        acknowledged_at: acknowledged.then(|| at("2026-07-31T06:00:00Z")),
        resolved_at: resolved.then(|| at("2026-07-31T07:30:00Z")),
    };
    let hlf = OrgRef {
        id: OrgId::new(),
        slug: OrgSlug::parse("hlf").unwrap(),
        name: "HLF".to_owned(),
    };
    store::alert_payload(&record, org.then_some(&hlf))
}

/// A payload of every kind, in its variations, from the code that writes them where it can be called.
fn samples(name: &str) -> Vec<(&'static str, Value)> {
    let today = date("2026-07-17");
    let f = facts(name, Some("2026-07-31"), Some("2026-08-03"));
    let expire = transition(
        ActionKind::Expire,
        MentorStatus::Active,
        MentorStatus::CertificationExpired,
    );
    let resumed = transition(
        ActionKind::AutoResume,
        MentorStatus::Paused,
        MentorStatus::Active,
    );
    let resumed_lapsed = transition(
        ActionKind::AutoResume,
        MentorStatus::Paused,
        MentorStatus::CertificationExpired,
    );
    let mut pause = transition(
        ActionKind::Pause,
        MentorStatus::Active,
        MentorStatus::Paused,
    );
    pause.reason = Some(Reason::parse("Ferie & fritid").unwrap());
    pause.resume_on = Some(date("2026-08-03"));
    let open_pause = transition(
        ActionKind::Pause,
        MentorStatus::Active,
        MentorStatus::Paused,
    );
    let mut samples = vec![
        (
            "certification_reminder",
            notices::certification_reminder(&f, 14, date("2026-07-31"), today).payload,
        ),
        (
            "certification_reminder",
            notices::certification_reminder(&f, 1, date("2026-07-31"), date("2026-07-30")).payload,
        ),
        (
            "certification_reminder",
            notices::certification_reminder(&f, 0, date("2026-07-31"), date("2026-07-31")).payload,
        ),
        (
            "certification_expired",
            notices::for_system_transition(&f, &expire, date("2026-08-01")).payload,
        ),
        (
            "certification_expired",
            notices::for_system_transition(&facts(name, None, None), &expire, today).payload,
        ),
        (
            "auto_resumed",
            notices::for_system_transition(&f, &resumed, date("2026-08-03")).payload,
        ),
        (
            "auto_resumed",
            notices::for_system_transition(&f, &resumed_lapsed, date("2026-08-03")).payload,
        ),
        (
            "resume_notice",
            notices::resume_notice(&f, date("2026-08-03"), date("2026-07-31")).payload,
        ),
        ("status_changed", user_change(name, &pause)),
        ("status_changed", user_change(name, &open_pause)),
        ("mentor_paused", user_change(name, &pause)),
        ("mentor_paused", user_change(name, &open_pause)),
        (
            "mentor_resumed",
            user_change(
                name,
                &transition(
                    ActionKind::Resume,
                    MentorStatus::Paused,
                    MentorStatus::Active,
                ),
            ),
        ),
        (
            "mentor_resumed",
            user_change(
                name,
                &transition(
                    ActionKind::Resume,
                    MentorStatus::Paused,
                    MentorStatus::CertificationExpired,
                ),
            ),
        ),
        ("coordinator_digest", digest(3, 3)),
        ("coordinator_digest", digest(2, 14)),
        ("alert_opened", alert(true, false, false)),
        ("alert_opened", alert(false, false, false)),
        ("alert_reminder", alert(true, false, false)),
        ("alert_reminder", alert(true, true, false)),
        ("alert_resolved", alert(true, true, true)),
        ("alert_resolved", alert(false, false, true)),
    ];
    for (action, from, to) in [
        (
            ActionKind::Resume,
            MentorStatus::Paused,
            MentorStatus::Active,
        ),
        (
            ActionKind::Resume,
            MentorStatus::Paused,
            MentorStatus::CertificationExpired,
        ),
        (
            ActionKind::Deactivate,
            MentorStatus::Active,
            MentorStatus::Inactive,
        ),
        (
            ActionKind::Reactivate,
            MentorStatus::Inactive,
            MentorStatus::Active,
        ),
        (
            ActionKind::RenewCertification,
            MentorStatus::CertificationExpired,
            MentorStatus::Active,
        ),
    ] {
        samples.push((
            "status_changed",
            user_change(name, &transition(action, from, to)),
        ));
    }
    samples
}

fn ctx<'a>(kind: &'a str, locale: Locale, payload: &'a Value) -> EmailContext<'a> {
    EmailContext {
        org_name: "HLF",
        recipient_name: None,
        locale,
        kind,
        payload,
    }
}

fn render_ok(kind: &str, locale: Locale, payload: &Value) -> RenderedEmail {
    render(&ctx(kind, locale, payload)).unwrap_or_else(|e| panic!("{kind} ({locale}): {e}"))
}

/// The text with its line breaks (wrapping) undone, for looking for sentences.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
}

#[test]
fn every_kind_renders_in_every_locale_without_template_leftovers() {
    let samples = samples("Kari Nordmann");
    for kind in KINDS {
        assert!(
            samples.iter().any(|(k, _)| k == kind),
            "no sample payload for `{kind}`"
        );
    }
    for (kind, payload) in &samples {
        assert!(KINDS.contains(kind), "`{kind}` renders but is not in KINDS");
        for locale in Locale::ALL {
            let email = render_ok(kind, locale, payload);
            for (part, body) in [
                ("subject", &email.subject),
                ("text", &email.text),
                ("html", &email.html),
            ] {
                let what = format!("{kind} ({locale}) {part}:\n{body}");
                assert!(!body.trim().is_empty(), "{what}");
                for leftover in ["{{", "}}", "{%", "%}", "{#", "#}"] {
                    assert!(!body.contains(leftover), "`{leftover}` in {what}");
                }
                for word in words_of(body) {
                    assert!(
                        !["null", "None", "Some", "undefined"].contains(&word),
                        "`{word}` in {what}"
                    );
                }
                if !kind.starts_with("alert_") {
                    for code in [
                        "certification_expired",
                        "renew_certification",
                        "auto_resume",
                    ] {
                        assert!(!body.contains(code), "code `{code}` in {what}");
                    }
                }
            }
            assert!(!email.subject.contains('\n'), "{kind}: {}", email.subject);
            assert!(
                email.html.starts_with("<!DOCTYPE html>\n<html lang=\""),
                "{kind}"
            );
            assert!(
                email
                    .html
                    .contains(&format!("<html lang=\"{}\">", locale.as_str())),
                "{kind}"
            );
        }
    }
}

#[test]
fn statuses_and_actions_are_words_of_the_locale() {
    let samples = samples("Kari Nordmann");
    for (kind, payload) in samples.iter().filter(|(k, _)| !k.starts_with("alert_")) {
        let email = render_ok(kind, Locale::Nb, payload);
        for word in words_of(&email.text) {
            assert!(
                ![
                    "active",
                    "paused",
                    "inactive",
                    "resume",
                    "deactivate",
                    "reactivate",
                    "expire"
                ]
                .contains(&word),
                "`{word}` in nb {kind}:\n{}",
                email.text
            );
        }
    }
    let pause = user_change(
        "Kari Nordmann",
        &transition(
            ActionKind::Pause,
            MentorStatus::Active,
            MentorStatus::Paused,
        ),
    );
    let nb = render_ok("status_changed", Locale::Nb, &pause);
    assert_eq!(nb.subject, "Statusen din er endret til «på pause»");
    assert!(nb.text.contains("Tidligere status: aktiv"), "{}", nb.text);
    let en = render_ok("status_changed", Locale::En, &pause);
    assert_eq!(en.subject, "Your status has changed to “paused”");
    assert!(en.text.contains("Previous status: active"), "{}", en.text);
}

#[test]
fn every_action_the_domain_names_is_understood() {
    for action in [
        ActionKind::Pause,
        ActionKind::Resume,
        ActionKind::Deactivate,
        ActionKind::Reactivate,
        ActionKind::RenewCertification,
        ActionKind::Expire,
        ActionKind::AutoResume,
    ] {
        serde_json::from_value::<words::Action>(json!(action)).unwrap();
        let payload = user_change(
            "Kari Nordmann",
            &transition(action, MentorStatus::Active, MentorStatus::Active),
        );
        render_ok("status_changed", Locale::Nb, &payload);
    }
}

#[test]
fn reminder_says_days_left_and_last_valid_day_in_the_local_way() {
    let f = facts("Kari Nordmann", Some("2026-07-31"), None);
    let payload =
        notices::certification_reminder(&f, 14, date("2026-07-31"), date("2026-07-17")).payload;
    let nb = render_ok("certification_reminder", Locale::Nb, &payload);
    assert_eq!(nb.subject, "Sertifiseringen din utløper om 14 dager");
    assert!(nb.text.starts_with("Hei Kari Nordmann,\n\n"), "{}", nb.text);
    assert!(
        nb.text.contains("Siste gyldige dag: 31.07.2026"),
        "{}",
        nb.text
    );
    assert!(nb.text.contains("koordinatoren"), "{}", nb.text);
    assert!(nb.html.contains("31.07.2026"));
    assert!(nb.text.contains("Vennlig hilsen\nHLF\n"), "{}", nb.text);
    let en = render_ok("certification_reminder", Locale::En, &payload);
    assert_eq!(en.subject, "Your certification expires in 14 days");
    assert!(
        en.text.contains("Last valid day: 31 July 2026"),
        "{}",
        en.text
    );
    let tomorrow =
        notices::certification_reminder(&f, 1, date("2026-07-31"), date("2026-07-30")).payload;
    assert_eq!(
        render_ok("certification_reminder", Locale::Nb, &tomorrow).subject,
        "Sertifiseringen din utløper i morgen"
    );
}

#[test]
fn auto_resume_into_a_lapsed_certification_says_so() {
    let f = facts("Kari Nordmann", Some("2026-07-20"), Some("2026-08-03"));
    let t = transition(
        ActionKind::AutoResume,
        MentorStatus::Paused,
        MentorStatus::CertificationExpired,
    );
    let payload = notices::for_system_transition(&f, &t, date("2026-08-03")).payload;
    let nb = render_ok("auto_resumed", Locale::Nb, &payload);
    assert_eq!(
        nb.subject,
        "Pausen din er over, men sertifiseringen er utløpt"
    );
    assert!(nb.text.contains("20.07.2026"), "{}", nb.text);
    assert!(
        nb.text.contains("Ny status: sertifisering utløpt"),
        "{}",
        nb.text
    );
    let active = transition(
        ActionKind::AutoResume,
        MentorStatus::Paused,
        MentorStatus::Active,
    );
    let payload = notices::for_system_transition(&f, &active, date("2026-08-03")).payload;
    let en = render_ok("auto_resumed", Locale::En, &payload);
    assert_eq!(en.subject, "Your pause is over – you are active again");
}

#[test]
fn values_are_escaped_in_html_and_verbatim_in_text() {
    for (kind, payload) in samples(NASTY)
        .iter()
        .filter(|(k, _)| !k.starts_with("alert_") && *k != "coordinator_digest")
    {
        for locale in Locale::ALL {
            let email = render_ok(kind, locale, payload);
            assert!(email.text.contains(NASTY), "{kind}:\n{}", email.text);
            assert!(!email.html.contains("<script"), "{kind}:\n{}", email.html);
            assert!(
                email
                    .html
                    .contains("&#60;script&#62;alert(&#34;x&#38;y&#34;)&#60;/script&#62;")
                    || email
                        .html
                        .contains("&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;"),
                "{kind}:\n{}",
                email.html
            );
        }
    }
    // A recipient's name, an organisation's, a digest's and an alert's values too.
    let mut payload = digest(1, 1);
    payload["transitions"][0]["full_name"] = json!(NASTY);
    let mut alert = alert(true, false, false);
    alert["alert"]["summary"] = json!(NASTY);
    alert["org"]["name"] = json!(NASTY);
    for (kind, payload) in [("coordinator_digest", &payload), ("alert_opened", &alert)] {
        let email = render(&EmailContext {
            org_name: NASTY,
            recipient_name: Some(NASTY),
            locale: Locale::Nb,
            kind,
            payload,
        })
        .unwrap();
        assert!(email.text.contains(NASTY), "{kind}:\n{}", email.text);
        assert!(!email.html.contains("<script"), "{kind}:\n{}", email.html);
    }
}

#[test]
fn digest_says_how_many_more_there_are() {
    let payload = digest(2, 14);
    let nb = render_ok("coordinator_digest", Locale::Nb, &payload);
    assert!(nb.text.contains("Statusendringer (14)\n"), "{}", nb.text);
    assert!(
        nb.text
            .contains("- Likeperson 1: fra aktiv til sertifisering utløpt\n… og 12 til\n"),
        "{}",
        nb.text
    );
    assert!(nb.html.contains("… og 12 til"), "{}", nb.html);
    assert_eq!(nb.subject, "Daglig oversikt over likepersoner – 31.07.2026");
    assert!(
        flat(&nb.text).contains(
            "- Kari Nordmann: sertifiseringen utløper 14.08.2026 (påminnelse 14 dager før)"
        ),
        "{}",
        nb.text
    );
    assert!(
        nb.text
            .contains("Ola Nordmann: pausen avsluttes 03.08.2026")
    );
    let en = render_ok("coordinator_digest", Locale::En, &payload);
    assert!(en.text.contains("… and 12 more\n"), "{}", en.text);
    assert!(en.html.contains("… and 12 more"), "{}", en.html);
    let complete = render_ok("coordinator_digest", Locale::En, &digest(3, 3));
    assert!(!complete.text.contains("more"), "{}", complete.text);
    assert!(complete.text.contains("Status changes (3)\n"));
}

#[test]
fn digest_leaves_out_empty_sections() {
    let payload = json!({
        "business_date": "2026-07-31",
        "transitions": [], "reminders": [], "resume_notices": [],
        "counts": {"transitions": 0, "reminders": 0, "resume_notices": 0},
    });
    let nb = render_ok("coordinator_digest", Locale::Nb, &payload);
    assert!(!nb.text.contains("Statusendringer"), "{}", nb.text);
    assert!(nb.text.contains("Ingen endringer"), "{}", nb.text);
}

#[test]
fn alerts_say_what_happened_and_where_to_read_more() {
    let payload = alert(true, false, false);
    let nb = render_ok("alert_opened", Locale::Nb, &payload);
    assert_eq!(nb.subject, "[Kritisk] Nytt varsel: sync_credentials – HLF");
    assert!(nb.text.contains("docs/operations.md"), "{}", nb.text);
    assert!(nb.text.contains("token endpoint answered 401"));
    assert!(
        nb.text.contains("Først sett: 31.07.2026 kl. 02:05 UTC"),
        "{}",
        nb.text
    );
    assert!(nb.text.contains("Dynamics avviste"), "{}", nb.text);
    let en = render_ok("alert_opened", Locale::En, &alert(false, false, false));
    assert_eq!(
        en.subject,
        "[Critical] New alert: sync_credentials – whole deployment"
    );
    assert!(en.text.contains("docs/operations.md"), "{}", en.text);
    let reminder = render_ok("alert_reminder", Locale::En, &alert(true, true, false));
    assert!(
        flat(&reminder.text).contains("It was acknowledged on 31 July 2026, 06:00 UTC"),
        "{}",
        reminder.text
    );
    let resolved = render_ok("alert_resolved", Locale::Nb, &alert(true, true, true));
    assert_eq!(resolved.subject, "Løst: sync_credentials – HLF");
    assert!(resolved.text.contains("Løst: 31.07.2026 kl. 07:30 UTC"));
    assert!(!resolved.text.contains("Vennlig hilsen"));
}

#[test]
fn a_missing_field_is_named_with_the_kind() {
    let mut payload = notices::certification_reminder(
        &facts("Kari Nordmann", Some("2026-07-31"), None),
        14,
        date("2026-07-31"),
        date("2026-07-17"),
    )
    .payload;
    payload.as_object_mut().unwrap().remove("days_left");
    let err = render(&ctx("certification_reminder", Locale::Nb, &payload)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`certification_reminder`"), "{message}");
    assert!(message.contains("days_left"), "{message}");
    assert!(
        matches!(&err, RenderError::Payload { kind, field, .. }
            if kind == "certification_reminder" && field == "days_left"),
        "{err:?}"
    );

    let mut payload = alert(true, false, false);
    payload["alert"].as_object_mut().unwrap().remove("severity");
    let err = render(&ctx("alert_opened", Locale::En, &payload)).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`alert_opened`"), "{message}");
    assert!(message.contains("`alert.severity`"), "{message}");
    assert!(
        matches!(&err, RenderError::Payload { field, .. } if field == "alert.severity"),
        "{err:?}"
    );
}

#[test]
fn an_ill_typed_field_is_named_by_its_path() {
    let mut payload = digest(1, 1);
    payload["counts"]["reminders"] = json!("many");
    let err = render(&ctx("coordinator_digest", Locale::Nb, &payload)).unwrap_err();
    match &err {
        RenderError::Payload { kind, field, .. } => {
            assert_eq!(kind, "coordinator_digest");
            assert_eq!(field, "counts.reminders");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`counts.reminders`"), "{err}");

    let mut payload = user_change(
        "Kari Nordmann",
        &transition(
            ActionKind::Pause,
            MentorStatus::Active,
            MentorStatus::Paused,
        ),
    );
    payload["to_status"] = json!("asleep");
    let message = render(&ctx("status_changed", Locale::Nb, &payload))
        .unwrap_err()
        .to_string();
    assert!(message.contains("`status_changed`"), "{message}");
    assert!(message.contains("to_status"), "{message}");
}

#[test]
fn an_unknown_kind_is_named() {
    let err = render(&ctx("birthday_greeting", Locale::Nb, &json!({}))).unwrap_err();
    assert!(matches!(&err, RenderError::UnknownKind { kind } if kind == "birthday_greeting"));
    assert!(err.to_string().contains("`birthday_greeting`"), "{err}");
}

#[test]
fn the_recipient_is_greeted_by_name() {
    let payload = digest(1, 1);
    let email = render(&EmailContext {
        org_name: "HLF",
        recipient_name: Some("Kari Koordinator"),
        locale: Locale::En,
        kind: "coordinator_digest",
        payload: &payload,
    })
    .unwrap();
    assert!(
        email.text.starts_with("Hi Kari Koordinator,\n\n"),
        "{}",
        email.text
    );
    assert!(
        email
            .html
            .contains("<p style=\"margin:0 0 16px;\">Hi Kari Koordinator,</p>")
    );
    let anonymous = render_ok("coordinator_digest", Locale::Nb, &payload);
    assert!(anonymous.text.starts_with("Hei,\n\n"), "{}", anonymous.text);
}

#[test]
fn text_lines_are_wrapped() {
    for (kind, payload) in samples("Kari Nordmann") {
        for locale in Locale::ALL {
            let email = render_ok(kind, locale, &payload);
            for line in email.text.lines() {
                assert!(
                    line.chars().count() <= TEXT_WIDTH || !line.trim().contains(' '),
                    "{kind} ({locale}): {line:?}"
                );
            }
        }
    }
    assert_eq!(wrap("a b", "- ", "  "), "- a b");
    assert_eq!(wrap(&"x".repeat(80), "", ""), "x".repeat(80));
    let long = format!("{} {}", "a".repeat(70), "b".repeat(5));
    assert_eq!(
        wrap(&long, "- ", "  "),
        format!("- {}\n  {}", "a".repeat(70), "bbbbb")
    );
}
