//! Emails to an organisation's coordinators: a mentor paused or resumed themself, and the daily digest
//! of what the nightly run did.

use chrono::NaiveDate;
use domain::MentorStatus;
use serde::Deserialize;

use super::mentor::UserTransition;
use super::words::{date, days, listing, pick, quoted, status};
use super::{EmailContext, List, Message, fact};

/// `coordinator_digest`: lists capped at 500 items, counts true.
#[derive(Debug, Deserialize)]
pub(super) struct Digest {
    business_date: NaiveDate,
    transitions: Vec<DigestTransition>,
    reminders: Vec<DigestReminder>,
    resume_notices: Vec<DigestResumeNotice>,
    counts: DigestCounts,
}

#[derive(Debug, Deserialize)]
struct DigestTransition {
    full_name: String,
    from_status: MentorStatus,
    to_status: MentorStatus,
}

#[derive(Debug, Deserialize)]
struct DigestReminder {
    full_name: String,
    threshold_days: i64,
    certification_expires_on: NaiveDate,
}

#[derive(Debug, Deserialize)]
struct DigestResumeNotice {
    full_name: String,
    resume_on: NaiveDate,
}

#[derive(Debug, Deserialize)]
struct DigestCounts {
    transitions: i64,
    reminders: i64,
    resume_notices: i64,
}

fn to_coordinator(ctx: &EmailContext, subject: String) -> Message {
    Message::new(ctx, subject).greet(ctx.locale, ctx.recipient_name)
}

/// Facts of a mentor's own change, for coordinators.
fn change_facts(ctx: &EmailContext, p: &UserTransition) -> Vec<super::Fact> {
    let l = ctx.locale;
    let mut facts = vec![
        fact(pick(l, "Likeperson", "Peer mentor"), &p.mentor_name),
        fact(
            pick(l, "Tidligere status", "Previous status"),
            status(l, p.from_status),
        ),
        fact(pick(l, "Ny status", "New status"), status(l, p.to_status)),
    ];
    if let Some(reason) = &p.reason {
        facts.push(fact(pick(l, "Begrunnelse", "Reason"), reason));
    }
    if p.to_status == MentorStatus::Paused {
        facts.push(fact(
            pick(l, "Pausen avsluttes automatisk", "Pause ends automatically"),
            match p.resume_on {
                Some(on) => date(l, on),
                None => pick(l, "ingen dato satt", "no date set").to_owned(),
            },
        ));
    }
    facts
}

fn for_information(l: domain::Locale) -> &'static str {
    pick(
        l,
        "Dette er til orientering – du trenger ikke gjøre noe.",
        "This is for your information – you don't need to do anything.",
    )
}

/// A mentor paused themself.
pub(super) fn mentor_paused(ctx: &EmailContext, p: &UserTransition) -> Message {
    let l = ctx.locale;
    let name = &p.mentor_name;
    to_coordinator(
        ctx,
        pick(
            l,
            format!("{name} har tatt pause som likeperson"),
            format!("{name} has paused as a peer mentor"),
        ),
    )
    .p(pick(
        l,
        format!(
            "{name} har selv satt seg på pause og vises ikke i {} så lenge pausen varer.",
            listing(l)
        ),
        format!(
            "{name} has paused and is not shown in {} while the pause lasts.",
            listing(l)
        ),
    ))
    .facts(change_facts(ctx, p))
    .p(for_information(l))
}

/// A mentor ended their own pause: listed again, or not while the certification is lapsed.
pub(super) fn mentor_resumed(ctx: &EmailContext, p: &UserTransition) -> Message {
    let l = ctx.locale;
    let name = &p.mentor_name;
    match p.to_status {
        MentorStatus::Active => to_coordinator(
            ctx,
            pick(
                l,
                format!("{name} er aktiv igjen"),
                format!("{name} is active again"),
            ),
        )
        .p(pick(
            l,
            format!(
                "{name} har selv avsluttet pausen sin og vises igjen i {}.",
                listing(l)
            ),
            format!(
                "{name} has ended their pause and is shown in {} again.",
                listing(l)
            ),
        ))
        .facts(change_facts(ctx, p))
        .p(for_information(l)),
        MentorStatus::CertificationExpired => to_coordinator(
            ctx,
            pick(
                l,
                format!("{name} har avsluttet pausen, men sertifiseringen er utløpt"),
                format!("{name} has ended their pause, but their certification has expired"),
            ),
        )
        .p(pick(
            l,
            format!(
                "{name} har selv avsluttet pausen sin, men sertifiseringen er utløpt. {name} \
                 vises derfor ikke i {} før sertifiseringen er fornyet.",
                listing(l)
            ),
            format!(
                "{name} has ended their pause, but their certification has expired, so they are \
                 not shown in {} until it has been renewed.",
                listing(l)
            ),
        ))
        .facts(change_facts(ctx, p))
        .p(pick(
            l,
            format!("Ta gjerne kontakt med {name} om å fornye sertifiseringen."),
            format!("You may want to contact {name} about renewing the certification."),
        )),
        other => to_coordinator(
            ctx,
            pick(
                l,
                format!("{name} har endret statusen sin"),
                format!("{name} has changed their status"),
            ),
        )
        .p(pick(
            l,
            format!(
                "{name} har selv endret statusen sin fra {} til {}.",
                quoted(l, p.from_status),
                quoted(l, other)
            ),
            format!(
                "{name} has changed their status from {} to {}.",
                quoted(l, p.from_status),
                quoted(l, other)
            ),
        ))
        .facts(change_facts(ctx, p))
        .p(for_information(l)),
    }
}

/// The day's digest: a section per kind of effect that has any, "… and N more" past the listed ones.
pub(super) fn digest(ctx: &EmailContext, p: &Digest) -> Message {
    let l = ctx.locale;
    let day = date(l, p.business_date);
    let mut m = to_coordinator(
        ctx,
        pick(
            l,
            format!("Daglig oversikt over likepersoner – {day}"),
            format!("Daily peer mentor summary – {day}"),
        ),
    )
    .p(pick(
        l,
        format!(
            "Her er oversikten over de automatiske endringene for likepersonene i {} for {day}.",
            ctx.org_name
        ),
        format!(
            "Here is the summary of automatic changes for the peer mentors of {} for {day}.",
            ctx.org_name
        ),
    ));
    let sections = [
        section(
            ctx,
            pick(l, "Statusendringer", "Status changes"),
            p.counts.transitions,
            p.transitions.iter().map(|t| {
                pick(
                    l,
                    format!(
                        "{}: fra {} til {}",
                        t.full_name,
                        status(l, t.from_status),
                        status(l, t.to_status)
                    ),
                    format!(
                        "{}: from {} to {}",
                        t.full_name,
                        status(l, t.from_status),
                        status(l, t.to_status)
                    ),
                )
            }),
        ),
        section(
            ctx,
            pick(l, "Påminnelser om sertifisering", "Certification reminders"),
            p.counts.reminders,
            p.reminders.iter().map(|r| {
                pick(
                    l,
                    format!(
                        "{}: sertifiseringen utløper {} (påminnelse {} før)",
                        r.full_name,
                        date(l, r.certification_expires_on),
                        days(l, r.threshold_days)
                    ),
                    format!(
                        "{}: certification expires on {} (reminder {} before)",
                        r.full_name,
                        date(l, r.certification_expires_on),
                        days(l, r.threshold_days)
                    ),
                )
            }),
        ),
        section(
            ctx,
            pick(l, "Pauser som snart avsluttes", "Pauses ending soon"),
            p.counts.resume_notices,
            p.resume_notices.iter().map(|n| {
                pick(
                    l,
                    format!("{}: pausen avsluttes {}", n.full_name, date(l, n.resume_on)),
                    format!("{}: pause ends on {}", n.full_name, date(l, n.resume_on)),
                )
            }),
        ),
    ];
    let mut any = false;
    for list in sections.into_iter().flatten() {
        m = m.list(list);
        any = true;
    }
    if !any {
        m = m.p(pick(
            l,
            "Ingen endringer denne gangen.",
            "No changes this time.",
        ));
    }
    m.p(pick(
        l,
        "Likepersonene har selv fått beskjed om det som gjelder dem.",
        "Each peer mentor has been told about what concerns them.",
    ))
}

/// A headed list of `count` effects of which `items` are listed; none when there are none.
fn section(
    ctx: &EmailContext,
    heading: &str,
    count: i64,
    items: impl Iterator<Item = String>,
) -> Option<List> {
    let items: Vec<String> = items.collect();
    let count = count.max(items.len() as i64);
    if count == 0 {
        return None;
    }
    let unlisted = count - items.len() as i64;
    Some(List {
        heading: format!("{heading} ({count})"),
        items,
        more: (unlisted > 0).then(|| {
            pick(
                ctx.locale,
                format!("… og {unlisted} til"),
                format!("… and {unlisted} more"),
            )
        }),
    })
}
