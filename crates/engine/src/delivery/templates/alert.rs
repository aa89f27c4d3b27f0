//! Emails to the operations team about an alert: opened, still open, resolved.

use chrono::{DateTime, Utc};
use domain::Locale;
use serde::Deserialize;
use store::Severity;
use uuid::Uuid;

use super::words::{pick, severity, time};
use super::{EmailContext, Fact, Message, fact};

/// The payload of every alert email (`store::alert_payload`).
#[derive(Debug, Deserialize)]
pub(super) struct AlertPayload {
    alert: Alert,
    /// None: the alert is about the whole deployment.
    org: Option<AlertOrg>,
}

#[derive(Debug, Deserialize)]
struct Alert {
    id: Uuid,
    kind: String,
    severity: Severity,
    summary: String,
    dedupe_key: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct AlertOrg {
    slug: String,
    name: String,
}

pub(super) fn opened(ctx: &EmailContext, p: &AlertPayload) -> Message {
    let l = ctx.locale;
    let a = &p.alert;
    let m = to_operations(
        ctx,
        pick(
            l,
            format!(
                "[{}] Nytt varsel: {} – {}",
                tag(l, a.severity),
                a.kind,
                scope(l, p)
            ),
            format!(
                "[{}] New alert: {} – {}",
                tag(l, a.severity),
                a.kind,
                scope(l, p)
            ),
        ),
    )
    .p(pick(
        l,
        format!("Et nytt varsel er åpnet for {}.", scope_phrase(l, p)),
        format!("A new alert has been opened for {}.", scope_phrase(l, p)),
    ));
    explain(m, l, a).facts(facts(l, p)).p(docs(l, a, true))
}

pub(super) fn reminder(ctx: &EmailContext, p: &AlertPayload) -> Message {
    let l = ctx.locale;
    let a = &p.alert;
    let still_open = pick(
        l,
        format!("Varselet er fortsatt åpent for {}.", scope_phrase(l, p)),
        format!("This alert is still open for {}.", scope_phrase(l, p)),
    );
    let acknowledged = match a.acknowledged_at {
        Some(at) => pick(
            l,
            format!(
                "Det ble kvittert {}, men årsaken er ikke borte ennå.",
                time(l, at)
            ),
            format!(
                "It was acknowledged on {}, but the cause has not gone away yet.",
                time(l, at)
            ),
        ),
        None => pick(
            l,
            "Ingen har kvittert for det ennå.".to_owned(),
            "Nobody has acknowledged it yet.".to_owned(),
        ),
    };
    let m = to_operations(
        ctx,
        pick(
            l,
            format!(
                "[{}] Varselet er fortsatt åpent: {} – {}",
                tag(l, a.severity),
                a.kind,
                scope(l, p)
            ),
            format!(
                "[{}] Alert still open: {} – {}",
                tag(l, a.severity),
                a.kind,
                scope(l, p)
            ),
        ),
    )
    .p(format!("{still_open} {acknowledged}"));
    explain(m, l, a)
        .facts(facts(l, p))
        .p(docs(l, a, a.acknowledged_at.is_none()))
}

pub(super) fn resolved(ctx: &EmailContext, p: &AlertPayload) -> Message {
    let l = ctx.locale;
    let a = &p.alert;
    to_operations(
        ctx,
        pick(
            l,
            format!("Løst: {} – {}", a.kind, scope(l, p)),
            format!("Resolved: {} – {}", a.kind, scope(l, p)),
        ),
    )
    .p(pick(
        l,
        format!(
            "Varselet for {} er løst: årsaken er borte, og du trenger ikke gjøre noe mer.",
            scope_phrase(l, p)
        ),
        format!(
            "The alert for {} has been resolved: the cause is gone and no further action is \
             needed.",
            scope_phrase(l, p)
        ),
    ))
    .facts(facts(l, p))
    .p(docs(l, a, false))
}

/// No signature: the operations team reads facts. A greeting only when a name is known.
fn to_operations(ctx: &EmailContext, subject: String) -> Message {
    let mut m = Message::new(ctx, subject);
    m.closing = None;
    match ctx.recipient_name {
        Some(name) => m.greet(ctx.locale, Some(name)),
        None => m,
    }
}

/// `Kritisk` / `Critical`, for the subject's tag.
fn tag(l: Locale, s: Severity) -> &'static str {
    match (l, s) {
        (Locale::Nb, Severity::Critical) => "Kritisk",
        (Locale::Nb, Severity::Warning) => "Advarsel",
        (Locale::En, Severity::Critical) => "Critical",
        (Locale::En, Severity::Warning) => "Warning",
    }
}

/// Who the alert is about, short: the organisation's name, or the whole deployment.
fn scope(l: Locale, p: &AlertPayload) -> String {
    match &p.org {
        Some(org) => org.name.clone(),
        None => pick(l, "hele tjenesten", "whole deployment").to_owned(),
    }
}

/// Who the alert is about, in a sentence.
fn scope_phrase(l: Locale, p: &AlertPayload) -> String {
    match &p.org {
        Some(org) => format!("{} ({})", org.name, org.slug),
        None => pick(
            l,
            "hele tjenesten (ikke én bestemt organisasjon)",
            "the whole deployment (not one organisation)",
        )
        .to_owned(),
    }
}

/// What an alert of a known kind means, in a sentence; the summary says the details.
fn explain(m: Message, l: Locale, a: &Alert) -> Message {
    let meaning = match a.kind.as_str() {
        "sync_credentials" => Some(pick(
            l,
            "Dynamics avviste integrasjonens innlogging. Ingenting sendes til Dynamics før en \
             kontroll av innloggingen lykkes; endringene venter i kø, og ingenting går tapt.",
            "Dynamics refused the integration's credentials. Nothing is pushed to Dynamics until \
             a credential check succeeds; changes keep queueing and nothing is lost.",
        )),
        "sync_dead_letters" => Some(pick(
            l,
            "Oppdateringer til Dynamics for én eller flere likepersoner er gitt opp, etter en \
             permanent avvisning eller for lang tid med feil.",
            "Updates to Dynamics for one or more peer mentors were given up, after a permanent \
             refusal or after failing for too long.",
        )),
        "sync_record_not_found" => Some(pick(
            l,
            "En koblet likepersons kontakt finnes ikke i Dynamics (slettet, eller feil id eller \
             nøkkel).",
            "A linked peer mentor's contact does not exist in Dynamics (deleted, or a wrong id or \
             key).",
        )),
        "duplicate_effects" => Some(pick(
            l,
            "Kontrollen etter nattkjøringen fant virkninger som er registrert mer enn én gang \
             (påminnelser, utløp eller daglige oversikter).",
            "The check after the nightly run found effects recorded more than once (reminders, \
             expiries or daily digests).",
        )),
        "sync_backlog" => Some(pick(
            l,
            "Endringer har ventet lenger enn grensen på å nå den offentlige listen (Dynamics nede, \
             struping eller en stanset relé); de sendes når Dynamics svarer igjen.",
            "Changes have waited longer than the limit to reach the public listing (Dynamics down, \
             throttling or a stalled relay); they go out when Dynamics answers again.",
        )),
        "email_backlog" => Some(pick(
            l,
            "E-poster har ventet lenger enn grensen på å bli sendt (SMTP-tjeneren svarer ikke eller \
             avviser midlertidig); de sendes når den svarer igjen.",
            "Emails have waited longer than the limit to be sent (the SMTP server does not answer \
             or refuses for now); they go out when it answers again.",
        )),
        "email_dead" => Some(pick(
            l,
            "En e-post kunne ikke leveres, og det blir ikke gjort flere forsøk.",
            "An email could not be delivered and will not be tried again.",
        )),
        _ => None,
    };
    match meaning {
        Some(meaning) => m.p(meaning),
        None => m,
    }
}

fn facts(l: Locale, p: &AlertPayload) -> Vec<Fact> {
    let a = &p.alert;
    let mut facts = vec![
        fact(pick(l, "Varsel", "Alert"), &a.kind),
        fact(
            pick(l, "Alvorlighetsgrad", "Severity"),
            severity(l, a.severity),
        ),
        fact(pick(l, "Gjelder", "Scope"), scope_phrase(l, p)),
        fact(pick(l, "Oppsummering", "Summary"), &a.summary),
        fact(pick(l, "Først sett", "First seen"), time(l, a.first_seen)),
        fact(pick(l, "Sist sett", "Last seen"), time(l, a.last_seen)),
        fact(
            pick(l, "Antall ganger sett", "Times seen"),
            a.count.to_string(),
        ),
    ];
    if let Some(at) = a.acknowledged_at {
        facts.push(fact(pick(l, "Kvittert", "Acknowledged"), time(l, at)));
    }
    if let Some(at) = a.resolved_at {
        facts.push(fact(pick(l, "Løst", "Resolved"), time(l, at)));
    }
    facts.push(fact("ID", a.id.to_string()));
    facts.push(fact(pick(l, "Nøkkel", "Dedupe key"), &a.dedupe_key));
    facts
}

/// Where the operations documentation is, and how to acknowledge when `ack`. A no-break space keeps
/// each request's method with its path.
fn docs(l: Locale, a: &Alert, ack: bool) -> String {
    let mut text = pick(
        l,
        "Hva hvert varsel betyr og hva du bør gjøre, står i docs/operations.md. Alle varsler \
         finnes i GET\u{a0}/api/v1/alerts."
            .to_owned(),
        "What every alert means and what to do: see docs/operations.md. All alerts are in \
         GET\u{a0}/api/v1/alerts."
            .to_owned(),
    );
    if ack {
        text.push(' ');
        text.push_str(&pick(
            l,
            format!(
                "Kvitter for varselet med POST\u{a0}/api/v1/alerts/{}/ack (det lukker det ikke).",
                a.id
            ),
            format!(
                "Acknowledge it with POST\u{a0}/api/v1/alerts/{}/ack (that does not close it).",
                a.id
            ),
        ));
    }
    text
}
