//! Emails to a mentor about themself: certification reminders and expiry, automatic resumes, and
//! changes a coordinator made.

use chrono::NaiveDate;
use domain::MentorStatus;
use serde::Deserialize;

use super::words::{self, Action, date, in_days, listing, pick, quoted, status};
use super::{EmailContext, Message, fact};

/// `certification_reminder`.
#[derive(Debug, Deserialize)]
pub(super) struct CertificationReminder {
    mentor_name: String,
    certification_expires_on: NaiveDate,
    days_left: i64,
}

/// `certification_expired` and `auto_resumed`: what the nightly run did.
#[derive(Debug, Deserialize)]
pub(super) struct SystemTransition {
    mentor_name: String,
    to_status: MentorStatus,
    certification_expires_on: Option<NaiveDate>,
    business_date: NaiveDate,
}

/// `resume_notice`.
#[derive(Debug, Deserialize)]
pub(super) struct ResumeNotice {
    mentor_name: String,
    resume_on: NaiveDate,
    days_until: i64,
}

/// `status_changed`, `mentor_paused` and `mentor_resumed`: a change a user made.
#[derive(Debug, Deserialize)]
pub(super) struct UserTransition {
    pub mentor_name: String,
    pub action: Action,
    pub from_status: MentorStatus,
    pub to_status: MentorStatus,
    pub reason: Option<String>,
    pub resume_on: Option<NaiveDate>,
}

/// The mentor's own greeting: the recipient's name, or the mentor's from the payload.
fn to_mentor(ctx: &EmailContext, subject: String, mentor_name: &str) -> Message {
    Message::new(ctx, subject).greet(ctx.locale, Some(ctx.recipient_name.unwrap_or(mentor_name)))
}

pub(super) fn certification_reminder(ctx: &EmailContext, p: &CertificationReminder) -> Message {
    let l = ctx.locale;
    let when = in_days(l, p.days_left);
    let last_day = date(l, p.certification_expires_on);
    let lapsed = p.days_left < 0;
    let subject = if lapsed {
        pick(
            l,
            "Sertifiseringen din er utløpt",
            "Your certification has expired",
        )
        .to_owned()
    } else {
        pick(
            l,
            format!("Sertifiseringen din utløper {when}"),
            format!("Your certification expires {when}"),
        )
    };
    let opening = if lapsed {
        pick(
            l,
            "Sertifiseringen din som likeperson er utløpt.".to_owned(),
            "Your peer mentor certification has expired.".to_owned(),
        )
    } else {
        pick(
            l,
            format!("Sertifiseringen din som likeperson utløper {when}."),
            format!("Your peer mentor certification expires {when}."),
        )
    };
    let mut m = to_mentor(ctx, subject, &p.mentor_name)
        .p(opening)
        .facts(vec![fact(
            pick(l, "Siste gyldige dag", "Last valid day"),
            &last_day,
        )])
        .p(pick(
            l,
            "For å fortsette som likeperson må sertifiseringen fornyes. Ta kontakt med \
             koordinatoren din for å fornye den.",
            "To continue as a peer mentor, your certification needs to be renewed. Please contact \
             your coordinator to renew it.",
        ));
    if !lapsed {
        m = m.p(pick(
            l,
            format!(
                "Er den ikke fornyet innen {last_day}, blir du tatt ut av {} til den er fornyet.",
                listing(l)
            ),
            format!(
                "If it has not been renewed by {last_day}, you will be removed from {} until it is \
                 renewed.",
                listing(l)
            ),
        ));
    }
    m.p(pick(
        l,
        "Takk for innsatsen din som likeperson!",
        "Thank you for all you do as a peer mentor!",
    ))
}

pub(super) fn certification_expired(ctx: &EmailContext, p: &SystemTransition) -> Message {
    let l = ctx.locale;
    let subject = pick(
        l,
        "Sertifiseringen din er utløpt",
        "Your certification has expired",
    );
    let opening = match p.certification_expires_on {
        Some(d) => pick(
            l,
            format!(
                "Sertifiseringen din som likeperson gjaldt til og med {} og er nå utløpt.",
                date(l, d)
            ),
            format!(
                "Your peer mentor certification was valid until {} and has now expired.",
                date(l, d)
            ),
        ),
        None => pick(
            l,
            "Sertifiseringen din som likeperson er utløpt.".to_owned(),
            "Your peer mentor certification has expired.".to_owned(),
        ),
    };
    to_mentor(ctx, subject.to_owned(), &p.mentor_name)
        .p(format!(
            "{opening} {}",
            pick(
                l,
                format!("Derfor vises du ikke lenger i {}.", listing(l)),
                format!("You are therefore no longer shown in {}.", listing(l)),
            )
        ))
        .facts(vec![
            fact(pick(l, "Ny status", "New status"), status(l, p.to_status)),
            fact(
                pick(l, "Gjelder fra", "Effective from"),
                date(l, p.business_date),
            ),
        ])
        .p(pick(
            l,
            "Når sertifiseringen er fornyet, vises du i oversikten igjen. Ta kontakt med \
             koordinatoren din for å fornye den.",
            "Once your certification has been renewed, you will be listed again. Please contact \
             your coordinator to renew it.",
        ))
}

/// The pause ended on its date; listed again, or not while the certification is lapsed.
pub(super) fn auto_resumed(ctx: &EmailContext, p: &SystemTransition) -> Message {
    let l = ctx.locale;
    let facts = vec![
        fact(pick(l, "Ny status", "New status"), status(l, p.to_status)),
        fact(
            pick(l, "Gjelder fra", "Effective from"),
            date(l, p.business_date),
        ),
    ];
    match p.to_status {
        MentorStatus::Active => to_mentor(
            ctx,
            pick(
                l,
                "Pausen din er over – du er aktiv igjen",
                "Your pause is over – you are active again",
            )
            .to_owned(),
            &p.mentor_name,
        )
        .p(pick(
            l,
            format!(
                "Pausen din er avsluttet automatisk, slik det var planlagt. Du er aktiv igjen og \
                 vises i {}.",
                listing(l)
            ),
            format!(
                "Your pause has ended automatically, as planned. You are active again and shown in \
                 {}.",
                listing(l)
            ),
        ))
        .facts(facts)
        .p(pick(
            l,
            "Trenger du mer tid, kan du når som helst ta en ny pause eller ta kontakt med \
             koordinatoren din.",
            "If you need more time, you can take a new pause at any time or contact your \
             coordinator.",
        ))
        .p(pick(l, "Velkommen tilbake!", "Welcome back!")),
        MentorStatus::CertificationExpired => {
            let lapsed = match p.certification_expires_on {
                Some(d) => pick(
                    l,
                    format!(
                        "I mellomtiden har sertifiseringen din utløpt (siste gyldige dag var {}), \
                         så du vises ikke i {} ennå.",
                        date(l, d),
                        listing(l)
                    ),
                    format!(
                        "Meanwhile, your certification has expired (the last valid day was {}), \
                         so you are not yet shown in {}.",
                        date(l, d),
                        listing(l)
                    ),
                ),
                None => pick(
                    l,
                    format!(
                        "I mellomtiden har sertifiseringen din utløpt, så du vises ikke i {} ennå.",
                        listing(l)
                    ),
                    format!(
                        "Meanwhile, your certification has expired, so you are not yet shown in \
                         {}.",
                        listing(l)
                    ),
                ),
            };
            to_mentor(
                ctx,
                pick(
                    l,
                    "Pausen din er over, men sertifiseringen er utløpt",
                    "Your pause is over, but your certification has expired",
                )
                .to_owned(),
                &p.mentor_name,
            )
            .p(format!(
                "{} {lapsed}",
                pick(
                    l,
                    "Pausen din er avsluttet automatisk.",
                    "Your pause has ended automatically."
                )
            ))
            .facts(facts)
            .p(pick(
                l,
                "Ta kontakt med koordinatoren din for å fornye sertifiseringen. Når den er fornyet, \
                 vises du i oversikten igjen.",
                "Please contact your coordinator to renew your certification. Once it has been \
                 renewed, you will be listed again.",
            ))
        }
        other => to_mentor(
            ctx,
            pick(l, "Pausen din er over", "Your pause is over").to_owned(),
            &p.mentor_name,
        )
        .p(pick(
            l,
            format!(
                "Pausen din er avsluttet automatisk. Statusen din er nå {}.",
                quoted(l, other)
            ),
            format!(
                "Your pause has ended automatically. Your status is now {}.",
                quoted(l, other)
            ),
        ))
        .facts(facts)
        .p(words::questions(l)),
    }
}

/// A few days before the pause ends by itself.
pub(super) fn resume_notice(ctx: &EmailContext, p: &ResumeNotice) -> Message {
    let l = ctx.locale;
    let when = in_days(l, p.days_until);
    let on = date(l, p.resume_on);
    to_mentor(
        ctx,
        pick(
            l,
            format!("Pausen din avsluttes {when}"),
            format!("Your pause ends {when}"),
        ),
        &p.mentor_name,
    )
    .p(pick(
        l,
        format!(
            "Pausen din som likeperson avsluttes automatisk {on}. Da blir du aktiv igjen og vises \
             i {}.",
            listing(l)
        ),
        format!(
            "Your pause as a peer mentor ends automatically on {on}. You will then be active again \
             and shown in {}.",
            listing(l)
        ),
    ))
    .p(pick(
        l,
        "Du trenger ikke gjøre noe. Trenger du en lengre pause, kan du ta kontakt med \
         koordinatoren din.",
        "You don't need to do anything. If you need a longer pause, please contact your \
         coordinator.",
    ))
    .p(pick(
        l,
        "Vi gleder oss til å ha deg med igjen!",
        "We look forward to having you back!",
    ))
}

/// A coordinator (or an administrator) changed the mentor's status.
pub(super) fn status_changed(ctx: &EmailContext, p: &UserTransition) -> Message {
    let l = ctx.locale;
    let subject = match p.action {
        Action::RenewCertification => pick(
            l,
            "Sertifiseringen din er fornyet".to_owned(),
            "Your certification has been renewed".to_owned(),
        ),
        _ => pick(
            l,
            format!("Statusen din er endret til {}", quoted(l, p.to_status)),
            format!("Your status has changed to {}", quoted(l, p.to_status)),
        ),
    };
    let what = match p.action {
        Action::Pause => pick(
            l,
            "En koordinator har satt deg på pause som likeperson.",
            "A coordinator has put you on pause as a peer mentor.",
        ),
        Action::Resume => pick(
            l,
            "En koordinator har avsluttet pausen din.",
            "A coordinator has ended your pause.",
        ),
        Action::Deactivate => pick(
            l,
            "En koordinator har registrert deg som inaktiv likeperson.",
            "A coordinator has marked you as an inactive peer mentor.",
        ),
        Action::Reactivate => pick(
            l,
            "En koordinator har aktivert deg som likeperson igjen.",
            "A coordinator has reactivated you as a peer mentor.",
        ),
        Action::RenewCertification => pick(
            l,
            "En koordinator har registrert at sertifiseringen din er fornyet.",
            "A coordinator has registered that your certification has been renewed.",
        ),
        Action::Expire | Action::AutoResume => pick(
            l,
            "Statusen din som likeperson er endret.",
            "Your status as a peer mentor has changed.",
        ),
    };
    let mut facts = vec![
        fact(
            pick(l, "Tidligere status", "Previous status"),
            status(l, p.from_status),
        ),
        fact(pick(l, "Ny status", "New status"), status(l, p.to_status)),
    ];
    if let Some(reason) = &p.reason {
        facts.push(fact(pick(l, "Begrunnelse", "Reason"), reason));
    }
    if let Some(on) = p.resume_on {
        facts.push(fact(
            pick(l, "Pausen avsluttes automatisk", "Pause ends automatically"),
            date(l, on),
        ));
    }
    let meaning = match p.to_status {
        MentorStatus::Active => pick(
            l,
            format!("Du vises nå i {}.", listing(l)),
            format!("You are now shown in {}.", listing(l)),
        ),
        MentorStatus::Paused => {
            let while_paused = pick(
                l,
                format!("Så lenge pausen varer, vises du ikke i {}.", listing(l)),
                format!("While you are paused, you are not shown in {}.", listing(l)),
            );
            match p.resume_on {
                Some(_) => pick(
                    l,
                    format!("{while_paused} Når pausen er over, vises du igjen automatisk."),
                    format!(
                        "{while_paused} When the pause is over, you will be listed again \
                         automatically."
                    ),
                ),
                None => pick(
                    l,
                    format!(
                        "{while_paused} Pausen har ingen sluttdato; den varer til du eller \
                         koordinatoren din avslutter den."
                    ),
                    format!(
                        "{while_paused} The pause has no end date; it lasts until you or your \
                         coordinator end it."
                    ),
                ),
            }
        }
        MentorStatus::CertificationExpired => pick(
            l,
            format!(
                "Sertifiseringen din er utløpt, så du vises ikke i {} før den er fornyet. Ta \
                 kontakt med koordinatoren din for å fornye den.",
                listing(l)
            ),
            format!(
                "Your certification has expired, so you are not shown in {} until it has been \
                 renewed. Please contact your coordinator to renew it.",
                listing(l)
            ),
        ),
        MentorStatus::Inactive => pick(
            l,
            format!("Du vises ikke lenger i {}.", listing(l)),
            format!("You are no longer shown in {}.", listing(l)),
        ),
    };
    to_mentor(ctx, subject, &p.mentor_name)
        .p(what)
        .facts(facts)
        .p(meaning)
        .p(words::questions(l))
}
