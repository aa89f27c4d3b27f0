//! Delivery: the email outbox (a notification's email, queued with the notification by whoever writes
//! it, and alerts' emails) and the operations webhook's outbox: what is queued, to whom and in which
//! language, leases among concurrent senders, what each attempt records, alert notices queued once per
//! (alert, event) on each channel, and the outboxes' depth.
//!
//! Outbox times are the database's clock, so leases and delays are zero (due at once, or a lease
//! that has run out) or an hour (not during the check); alert notices follow the plan's own clock.
//! A claim with a zero lease reads what is due without keeping it from the next claim.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::{Email, Locale, MentorId, MentorStatus, OrgId, Role};
use futures::future::join_all;
use serde_json::json;
use uuid::Uuid;

use super::runs::{digest_fixture, effects, finish, manual_run};
use super::{
    CHANGED_AT, HOUR, NOW, all_notifications, change, login, mentor, notify, org, t, today, user,
};
use crate::{
    AlertDeliveryPlan, AlertEvent, AlertRecord, DeliveryClaim, DeliveryOutcome, DeliveryResult,
    DeliveryStatus, EmailJob, MentorFilter, NewAlert, NewUser, Org, OrgRef, OrgSettings,
    OutboxDepth, Recipient, RunOutcome, Severity, Store, User, WebhookJob, alert_payload,
};

const ZERO: Duration = Duration::ZERO;

fn org_ref(org: &Org) -> OrgRef {
    OrgRef {
        id: org.id,
        slug: org.slug.clone(),
        name: org.name.clone(),
    }
}

async fn enable_email<S: Store>(store: &S, org: OrgId, locale: Locale) {
    store
        .update_org_settings(
            org,
            OrgSettings {
                email_enabled: true,
                locale,
                ..OrgSettings::default()
            },
        )
        .await
        .expect("enable email");
}

/// A user with a language of their own; a mentor's login when `mentor` is given.
async fn user_in<S: Store>(
    store: &S,
    org: OrgId,
    email: &str,
    mentor: Option<MentorId>,
    locale: Option<Locale>,
) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role: if mentor.is_some() {
                Role::Mentor
            } else {
                Role::Coordinator
            },
            mentor_id: mentor,
            auth_subject: None,
            password_hash: None,
            locale,
        })
        .await
        .expect("create the user")
}

fn sender(owner: Uuid, limit: u32, lease: Duration) -> DeliveryClaim {
    DeliveryClaim {
        owner,
        limit,
        lease,
    }
}

async fn claim_emails<S: Store>(
    store: &S,
    owner: Uuid,
    limit: u32,
    lease: Duration,
) -> Vec<EmailJob> {
    store
        .claim_emails(sender(owner, limit, lease))
        .await
        .expect("claim emails")
}

async fn claim_webhooks<S: Store>(
    store: &S,
    owner: Uuid,
    limit: u32,
    lease: Duration,
) -> Vec<WebhookJob> {
    store
        .claim_webhooks(sender(owner, limit, lease))
        .await
        .expect("claim webhooks")
}

/// Every due email, oldest first, left due for the next claim.
async fn due_emails<S: Store>(store: &S) -> Vec<EmailJob> {
    claim_emails(store, Uuid::new_v4(), 1000, ZERO).await
}

/// Every due webhook post, oldest first, left due for the next claim.
async fn due_webhooks<S: Store>(store: &S) -> Vec<WebhookJob> {
    claim_webhooks(store, Uuid::new_v4(), 1000, ZERO).await
}

fn delivered(id: Uuid) -> DeliveryResult {
    DeliveryResult {
        id,
        outcome: DeliveryOutcome::Delivered,
    }
}

fn retry(id: Uuid, after: Duration, error: &str) -> DeliveryResult {
    DeliveryResult {
        id,
        outcome: DeliveryOutcome::Retry {
            after,
            error: error.to_owned(),
        },
    }
}

fn dead(id: Uuid, error: &str) -> DeliveryResult {
    DeliveryResult {
        id,
        outcome: DeliveryOutcome::Dead {
            error: error.to_owned(),
        },
    }
}

fn ids_of(jobs: &[EmailJob]) -> Vec<Uuid> {
    jobs.iter().map(|j| j.id).collect()
}

/// Notify `mentor` (at `version`) of `kind`s in one change; returns the mentor's next version.
async fn notify_mentor<S: Store>(
    store: &S,
    org: OrgId,
    mentor: MentorId,
    version: i64,
    kinds: &[&str],
) -> i64 {
    let mut c = change(org, mentor, MentorStatus::Active, version);
    c.notifications = kinds
        .iter()
        .map(|kind| notify(Recipient::Mentor(mentor), kind))
        .collect();
    store.apply_change(c).await.expect("notify");
    version + 1
}

/// An organisation that enables email and a mentor to notify (version 1).
async fn emailing_org<S: Store>(store: &S) -> (OrgId, MentorId) {
    let o = org(store, "epost").await.id;
    enable_email(store, o, Locale::Nb).await;
    let m = mentor(store, o, "Mona Mentor", None).await;
    (o, m)
}

pub async fn notification_emails_follow_the_organisations_setting_and_the_recipients_language<
    S: Store,
>(
    store: S,
) {
    // An organisation that does not enable email queues none.
    let off = org(&store, "hlf").await;
    user(&store, off.id, "coordinator@hlf.no", Role::Coordinator).await;
    let quiet = mentor(&store, off.id, "Stille Mentor", None).await;
    let mut c = change(off.id, quiet, MentorStatus::Active, 1);
    c.notifications = vec![
        notify(Recipient::Mentor(quiet), "paused"),
        notify(Recipient::OrgCoordinators, "mentor_paused"),
    ];
    store.apply_change(c).await.unwrap();
    assert!(
        due_emails(&store).await.is_empty(),
        "email is off by default"
    );

    let on = org(&store, "epost").await;
    enable_email(&store, on.id, Locale::En).await;
    let kari = user_in(&store, on.id, "kari@example.no", None, None).await;
    let per = user_in(&store, on.id, "per@example.no", None, Some(Locale::Nb)).await;
    assert_eq!(
        (kari.locale, per.locale),
        (None, Some(Locale::Nb)),
        "a user's language is stored"
    );
    let mona = mentor(&store, on.id, "Mona Mentor", None).await;
    let mona_login = user_in(&store, on.id, "mona@login.no", Some(mona), Some(Locale::Nb)).await;
    let ola = mentor(&store, on.id, "Ola Nordmann", None).await;
    let mut c = change(on.id, mona, MentorStatus::Active, 1);
    c.notifications = vec![
        notify(Recipient::Mentor(mona), "to_mentor"),
        notify(Recipient::User(mona_login.id), "to_login"),
        notify(Recipient::OrgCoordinators, "to_coordinators"),
    ];
    store.apply_change(c).await.unwrap();
    notify_mentor(&store, on.id, ola, 1, &["to_ola"]).await;

    let emails = due_emails(&store).await;
    let mut seen: Vec<(String, String, Option<String>, Locale)> = emails
        .iter()
        .map(|e| {
            (
                e.kind.clone(),
                e.to.as_str().to_owned(),
                e.recipient_name.clone(),
                e.locale,
            )
        })
        .collect();
    seen.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let expected = |kind: &str, to: &str, name: Option<&str>, locale| {
        (
            kind.to_owned(),
            to.to_owned(),
            name.map(str::to_owned),
            locale,
        )
    };
    assert_eq!(
        seen,
        vec![
            // Each coordinator in their own language, else the organisation's.
            expected("to_coordinators", "kari@example.no", None, Locale::En),
            expected("to_coordinators", "per@example.no", None, Locale::Nb),
            // A mentor's login: its address, the mentor's name, its language.
            expected("to_login", "mona@login.no", Some("Mona Mentor"), Locale::Nb),
            // A mentor: the mentor's address and name, the language of their login if any.
            expected(
                "to_mentor",
                "mona.mentor@example.no",
                Some("Mona Mentor"),
                Locale::Nb
            ),
            expected(
                "to_ola",
                "ola.nordmann@example.no",
                Some("Ola Nordmann"),
                Locale::En
            ),
        ]
    );
    for email in &emails {
        assert_eq!(email.org, Some(org_ref(&on)), "{}", email.kind);
        assert_eq!(email.payload, json!({ "kind": email.kind }));
        assert_eq!(email.created_at, t(CHANGED_AT), "the notification's time");
        assert_eq!((email.attempts, email.first_failed_at), (0, None));
    }

    // One email per notification, with the notification's id.
    let ids: HashSet<Uuid> = emails.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), emails.len(), "ids are unique");
    let mut notified = 0;
    for reader in [&kari, &per, &mona_login] {
        for n in all_notifications(&store, reader).await {
            let email = emails
                .iter()
                .find(|e| e.id == n.id.0)
                .unwrap_or_else(|| panic!("no email for notification {}", n.kind));
            assert_eq!((&email.kind, &email.payload), (&n.kind, &n.payload));
            notified += 1;
        }
    }
    assert_eq!(notified, 4, "every notification but Ola's (no login) read");

    // Turned off again: later notifications are not emailed; queued ones stay.
    store
        .update_org_settings(
            on.id,
            OrgSettings {
                locale: Locale::En,
                ..OrgSettings::default()
            },
        )
        .await
        .unwrap();
    notify_mentor(&store, on.id, ola, 2, &["after"]).await;
    assert_eq!(ids_of(&due_emails(&store).await).len(), 5);
    assert_eq!(
        store
            .user_by_email(&per.email)
            .await
            .unwrap()
            .unwrap()
            .locale,
        Some(Locale::Nb),
        "a user's language reads back"
    );
}

pub async fn every_writer_of_notifications_queues_their_emails<S: Store>(store: S) {
    let (o, coordinators, admin) = digest_fixture(&store).await;
    enable_email(&store, o, Locale::Nb).await;
    let run = manual_run(&store, o, today(), t(NOW)).await;
    // A change, a reminder claim and a resume notice claim, then the finished run's digests.
    effects(&store, o, run, "Kari").await;
    let finished = store
        .finish_run(finish(
            run,
            RunOutcome::Succeeded,
            t(NOW) + chrono::Duration::minutes(1),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(finished.digests, 2);

    // Logins for the mentors (made after the notifications) read what was addressed to them.
    let mentors = store
        .list_mentors(o, MentorFilter::default(), today(), 100, None)
        .await
        .unwrap()
        .items;
    let mut readers = coordinators;
    readers.push(admin);
    let mut address_of_mentor = HashMap::new();
    for m in &mentors {
        readers.push(login(&store, o, &format!("login.{}", m.email), m.id).await);
        address_of_mentor.insert(m.id, m.email.clone());
    }
    let mut expected = HashMap::new();
    for reader in &readers {
        for n in all_notifications(&store, reader).await {
            let to = match n.recipient_mentor_id {
                Some(mentor) => address_of_mentor[&mentor].clone(),
                None => reader.email.clone(),
            };
            expected.insert(n.id.0, (n.kind, to, n.payload, n.created_at));
        }
    }
    let emails = due_emails(&store).await;
    assert_eq!(emails.len(), expected.len(), "one email per notification");
    for email in &emails {
        let (kind, to, payload, created_at) = &expected[&email.id];
        assert_eq!(
            (
                &email.kind,
                email.to.as_str(),
                &email.payload,
                &email.created_at
            ),
            (kind, to.as_str(), payload, created_at)
        );
    }
    let mut kinds: Vec<&str> = emails.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "certification_expired",
            "certification_reminder",
            "coordinator_digest",
            "resume_notice"
        ]
    );
}

pub async fn email_claims_give_each_email_to_one_sender_oldest_first<S: Store>(store: S) {
    let (o, m) = emailing_org(&store).await;
    let mut version = 1;
    let kinds: Vec<String> = (1..=12).map(|n| format!("n{n:02}")).collect();
    for kind in &kinds {
        version = notify_mentor(&store, o, m, version, &[kind]).await;
    }
    let due = due_emails(&store).await;
    assert_eq!(
        due.iter().map(|e| e.kind.clone()).collect::<Vec<_>>(),
        kinds,
        "oldest first"
    );
    let first = claim_emails(&store, Uuid::new_v4(), 1, HOUR).await;
    assert_eq!(
        ids_of(&first),
        vec![due[0].id],
        "a limit of one: the oldest"
    );

    // Senders claiming at the same time never share an email.
    let claims = join_all((0..5).map(|_| {
        let store = store.clone();
        async move { claim_emails(&store, Uuid::new_v4(), 3, HOUR).await }
    }))
    .await;
    let mut leased: HashSet<Uuid> = first.iter().map(|e| e.id).collect();
    for claimed in &claims {
        assert!(claimed.len() <= 3);
        for email in claimed {
            assert!(leased.insert(email.id), "{} leased twice", email.kind);
        }
    }
    for email in claim_emails(&store, Uuid::new_v4(), 100, HOUR).await {
        assert!(leased.insert(email.id), "{} leased twice", email.kind);
    }
    assert_eq!(
        leased,
        due.iter().map(|e| e.id).collect::<HashSet<_>>(),
        "all leased once"
    );
    assert!(
        claim_emails(&store, Uuid::new_v4(), 100, HOUR)
            .await
            .is_empty(),
        "leased emails are not due"
    );
}

pub async fn a_retry_counts_the_attempt_and_hides_the_email_until_its_delay<S: Store>(store: S) {
    let (o, m) = emailing_org(&store).await;
    notify_mentor(&store, o, m, 1, &["later", "soon"]).await;
    let a = Uuid::new_v4();
    let claimed = claim_emails(&store, a, 10, HOUR).await;
    assert_eq!(claimed.len(), 2);
    let id = |kind: &str| claimed.iter().find(|e| e.kind == kind).unwrap().id;
    let (later, soon) = (id("later"), id("soon"));
    let recorded = store
        .record_email_results(
            a,
            vec![
                retry(later, HOUR, "421 try later"),
                retry(soon, ZERO, "timeout"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(recorded, 2);

    let b = Uuid::new_v4();
    let again = claim_emails(&store, b, 10, HOUR).await;
    assert_eq!(ids_of(&again), vec![soon], "only the one due again");
    assert_eq!(again[0].attempts, 1);
    let first_failed = again[0].first_failed_at.expect("the first failure's time");
    assert_eq!(
        store
            .record_email_results(b, vec![retry(soon, ZERO, "timeout again")])
            .await
            .unwrap(),
        1
    );
    let c = Uuid::new_v4();
    let third = claim_emails(&store, c, 10, HOUR).await;
    assert_eq!(ids_of(&third), vec![soon]);
    assert_eq!(
        (third[0].attempts, third[0].first_failed_at),
        (2, Some(first_failed)),
        "attempts count; the first failure's time stays"
    );
    assert_eq!(
        store
            .record_email_results(c, vec![delivered(soon)])
            .await
            .unwrap(),
        1
    );
    assert!(claim_emails(&store, c, 10, HOUR).await.is_empty());
    assert_eq!(
        store
            .record_email_results(c, vec![delivered(soon)])
            .await
            .unwrap(),
        0,
        "a sent email's lease is over"
    );
    let status = store.delivery_status().await.unwrap();
    assert_eq!(
        (status.email.pending, status.email.dead),
        (1, 0),
        "the later one still waits"
    );
}

pub async fn a_dead_email_is_final_and_a_sender_that_lost_its_lease_records_nothing<S: Store>(
    store: S,
) {
    let (o, m) = emailing_org(&store).await;
    notify_mentor(&store, o, m, 1, &["x", "y"]).await;
    let slow = Uuid::new_v4();
    let first = claim_emails(&store, slow, 10, ZERO).await;
    assert_eq!(first.len(), 2);
    // The lease ran out: another sender takes the emails over.
    let fast = Uuid::new_v4();
    let taken = claim_emails(&store, fast, 10, HOUR).await;
    assert_eq!(
        ids_of(&taken),
        ids_of(&first),
        "an expired lease is claimed again"
    );
    let id = |kind: &str| taken.iter().find(|e| e.kind == kind).unwrap().id;
    let (x, y) = (id("x"), id("y"));
    assert_eq!(
        store
            .record_email_results(slow, vec![delivered(x), delivered(y)])
            .await
            .unwrap(),
        0,
        "the first sender's results are ignored"
    );
    assert!(claim_emails(&store, slow, 10, HOUR).await.is_empty());
    assert_eq!(
        store
            .record_email_results(fast, vec![dead(x, "550 no such user"), delivered(y)])
            .await
            .unwrap(),
        2
    );
    assert!(
        claim_emails(&store, Uuid::new_v4(), 10, ZERO)
            .await
            .is_empty()
    );
    assert_eq!(
        store
            .record_email_results(fast, vec![delivered(x)])
            .await
            .unwrap(),
        0,
        "dead is final"
    );
    assert_eq!(
        store
            .record_email_results(fast, vec![delivered(Uuid::new_v4())])
            .await
            .unwrap(),
        0,
        "an unknown email"
    );
    let status = store.delivery_status().await.unwrap();
    assert_eq!((status.email.pending, status.email.dead), (0, 1));
}

fn new_alert(org: Option<OrgId>, key: &str, at: chrono::DateTime<chrono::Utc>) -> NewAlert {
    NewAlert {
        org,
        kind: "sync_credentials".to_owned(),
        severity: Severity::Warning,
        dedupe_key: key.to_owned(),
        summary: format!("{key} failing"),
        at,
    }
}

fn plan(
    now: chrono::DateTime<chrono::Utc>,
    webhook: bool,
    email: Option<(&str, Locale)>,
) -> AlertDeliveryPlan {
    AlertDeliveryPlan {
        webhook,
        email: email.map(|(to, locale)| (Email::parse(to).unwrap(), locale)),
        remind_after: chrono::Duration::days(1),
        now,
    }
}

async fn queue<S: Store>(store: &S, plan: AlertDeliveryPlan) -> u64 {
    store
        .queue_alert_deliveries(plan)
        .await
        .expect("queue alert deliveries")
}

/// (alert dedupe key, event) of each job, sorted.
fn events(jobs: &[WebhookJob]) -> Vec<(String, AlertEvent)> {
    let mut events: Vec<(String, AlertEvent)> = jobs
        .iter()
        .map(|j| (j.alert.dedupe_key.clone(), j.event))
        .collect();
    events.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
    events
}

fn ev(key: &str, event: AlertEvent) -> (String, AlertEvent) {
    (key.to_owned(), event)
}

/// Post every due webhook; returns their (alert, event)s.
async fn post_webhooks<S: Store>(store: &S) -> Vec<(String, AlertEvent)> {
    let owner = Uuid::new_v4();
    let jobs = claim_webhooks(store, owner, 1000, HOUR).await;
    let recorded = store
        .record_webhook_results(owner, jobs.iter().map(|j| delivered(j.id)).collect())
        .await
        .unwrap();
    assert_eq!(recorded, jobs.len() as u64);
    events(&jobs)
}

pub async fn alert_notices_are_queued_once_per_alert_and_event<S: Store>(store: S) {
    use AlertEvent::{Opened, Reminder, Resolved};
    let hlf = org(&store, "hlf").await;
    let t0 = t(NOW);
    let hours = chrono::Duration::hours;
    let days = chrono::Duration::days;
    // Resolved long before the first delivery: history, never told.
    store
        .open_alert(new_alert(Some(hlf.id), "old", t0 - days(10)))
        .await
        .unwrap();
    store.resolve_alert("old", t0 - days(3)).await.unwrap();
    // Opened and resolved since: told both.
    store
        .open_alert(new_alert(Some(hlf.id), "flap", t0 - hours(2)))
        .await
        .unwrap();
    store.resolve_alert("flap", t0 - hours(1)).await.unwrap();
    let open = store
        .open_alert(new_alert(Some(hlf.id), "open", t0 - hours(1)))
        .await
        .unwrap()
        .alert;
    let global = store
        .open_alert(new_alert(None, "global", t0 - hours(1)))
        .await
        .unwrap()
        .alert;

    assert_eq!(queue(&store, plan(t0, true, None)).await, 4);
    assert_eq!(queue(&store, plan(t0, true, None)).await, 0, "idempotent");
    let jobs = due_webhooks(&store).await;
    assert_eq!(
        events(&jobs),
        vec![
            ev("flap", Opened),
            ev("flap", Resolved),
            ev("global", Opened),
            ev("open", Opened)
        ]
    );
    let job = |key: &str| jobs.iter().find(|j| j.alert.dedupe_key == key).unwrap();
    assert_eq!(job("open").alert, open);
    assert_eq!(job("open").org, Some(org_ref(&hlf)));
    assert_eq!(job("global").alert, global);
    assert_eq!(job("global").org, None);
    assert!(job("flap").alert.resolved_at.is_some());
    assert!(
        jobs.iter()
            .all(|j| j.attempts == 0 && j.first_failed_at.is_none())
    );
    let ids: HashSet<Uuid> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids.len(), 4);

    // Senders claiming at the same time never share a post.
    let claims = join_all((0..3).map(|_| {
        let store = store.clone();
        async move {
            let owner = Uuid::new_v4();
            (owner, claim_webhooks(&store, owner, 2, HOUR).await)
        }
    }))
    .await;
    let mut leased = HashSet::new();
    for (owner, claimed) in &claims {
        assert!(claimed.len() <= 2);
        for job in claimed {
            assert!(leased.insert(job.id), "a post leased twice");
        }
        let results = claimed.iter().map(|j| delivered(j.id)).collect();
        let recorded = store.record_webhook_results(*owner, results).await.unwrap();
        assert_eq!(recorded, claimed.len() as u64);
    }
    let rest = post_webhooks(&store).await;
    assert_eq!(leased.len() + rest.len(), 4);
    assert!(due_webhooks(&store).await.is_empty());

    // A reminder a day after the last notice of an open alert, once per day.
    assert_eq!(queue(&store, plan(t0 + hours(23), true, None)).await, 0);
    assert_eq!(queue(&store, plan(t0 + days(1), true, None)).await, 2);
    assert_eq!(queue(&store, plan(t0 + days(1), true, None)).await, 0);
    assert_eq!(
        post_webhooks(&store).await,
        vec![ev("global", Reminder), ev("open", Reminder)]
    );
    assert_eq!(
        queue(&store, plan(t0 + days(1) + hours(1), true, None)).await,
        0,
        "counted from the last reminder"
    );
    // Resolved once.
    store
        .resolve_alert("open", t0 + days(1) + hours(2))
        .await
        .unwrap();
    assert_eq!(
        queue(&store, plan(t0 + days(1) + hours(3), true, None)).await,
        1
    );
    assert_eq!(
        queue(&store, plan(t0 + days(1) + hours(4), true, None)).await,
        0
    );
    assert_eq!(post_webhooks(&store).await, vec![ev("open", Resolved)]);
    assert_eq!(queue(&store, plan(t0 + days(2), true, None)).await, 1);
    assert_eq!(post_webhooks(&store).await, vec![ev("global", Reminder)]);
    assert_eq!(
        queue(&store, plan(t0 + days(5), true, None)).await,
        1,
        "one reminder however long since the last"
    );
    store
        .resolve_alert("global", t0 + days(5) + hours(1))
        .await
        .unwrap();
    assert_eq!(
        queue(&store, plan(t0 + days(7), false, None)).await,
        0,
        "no channel, nothing queued"
    );
    assert_eq!(
        queue(&store, plan(t0 + days(7), true, None)).await,
        1,
        "a resolution is told however late the queue is asked"
    );
    let status = store.delivery_status().await.unwrap();
    assert_eq!((status.webhook.pending, status.email.pending), (2, 0));
}

pub async fn email_and_webhook_channels_are_told_independently<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let t0 = t(NOW);
    let minutes = chrono::Duration::minutes;
    let days = chrono::Duration::days;
    let ops = Some(("ops@example.no", Locale::En));
    let open = store
        .open_alert(new_alert(Some(hlf.id), "open", t0 - minutes(5)))
        .await
        .unwrap()
        .alert;
    let global = store
        .open_alert(new_alert(None, "global", t0 - minutes(5)))
        .await
        .unwrap()
        .alert;
    assert_eq!(queue(&store, plan(t0, true, None)).await, 2);
    // Email enabled later: told of the open alerts the webhook already heard of.
    assert_eq!(queue(&store, plan(t0 + minutes(1), true, ops)).await, 2);
    assert_eq!(queue(&store, plan(t0 + minutes(2), true, ops)).await, 0);
    let emails = due_emails(&store).await;
    assert_eq!(emails.len(), 2);
    let email = |alert: &AlertRecord| {
        emails
            .iter()
            .find(|e| e.payload["alert"]["id"] == json!(alert.id))
            .unwrap()
    };
    let to_ops = email(&open);
    assert_eq!(to_ops.kind, AlertEvent::Opened.email_kind());
    assert_eq!(to_ops.to.as_str(), "ops@example.no");
    assert_eq!(
        (to_ops.locale, to_ops.recipient_name.as_deref()),
        (Locale::En, None)
    );
    assert_eq!(to_ops.org, Some(org_ref(&hlf)));
    assert_eq!(to_ops.payload, alert_payload(&open, Some(&org_ref(&hlf))));
    assert_eq!(to_ops.created_at, t0 + minutes(1));
    assert_eq!((to_ops.attempts, to_ops.first_failed_at), (0, None));
    let deployment = email(&global);
    assert_eq!(deployment.org, None);
    assert_eq!(deployment.payload, alert_payload(&global, None));
    assert_eq!(deployment.payload["org"], serde_json::Value::Null);
    assert_ne!(to_ops.id, deployment.id);
    let owner = Uuid::new_v4();
    let sent = claim_emails(&store, owner, 10, HOUR).await;
    store
        .record_email_results(owner, sent.iter().map(|e| delivered(e.id)).collect())
        .await
        .unwrap();

    // Each channel counts reminders from its own last notice.
    assert_eq!(queue(&store, plan(t0 + days(1), false, ops)).await, 0);
    assert_eq!(queue(&store, plan(t0 + days(1), true, None)).await, 2);
    assert_eq!(
        queue(&store, plan(t0 + days(1) + minutes(1), false, ops)).await,
        2
    );
    let reminders = due_emails(&store).await;
    assert_eq!(reminders.len(), 2);
    assert!(
        reminders
            .iter()
            .all(|e| e.kind == AlertEvent::Reminder.email_kind())
    );

    // Resolved: each channel told once, whichever asks first.
    let resolved = store
        .resolve_alert("open", t0 + days(1) + minutes(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        queue(&store, plan(t0 + days(1) + minutes(3), false, ops)).await,
        1
    );
    assert_eq!(
        queue(&store, plan(t0 + days(1) + minutes(4), true, None)).await,
        1
    );
    assert_eq!(
        queue(&store, plan(t0 + days(1) + minutes(5), true, ops)).await,
        0
    );
    let told = due_emails(&store).await;
    let resolution = told
        .iter()
        .find(|e| e.kind == AlertEvent::Resolved.email_kind())
        .expect("the resolution's email");
    assert_eq!(
        resolution.payload,
        alert_payload(&resolved, Some(&org_ref(&hlf)))
    );
    let status = store.delivery_status().await.unwrap();
    // Webhook: 2 openings, 2 reminders, 1 resolution; email: 2 reminders and 1 resolution wait.
    assert_eq!((status.webhook.pending, status.email.pending), (5, 3));
}

pub async fn delivery_status_counts_pending_and_dead_and_the_oldest_pending<S: Store>(store: S) {
    assert_eq!(
        store.delivery_status().await.unwrap(),
        DeliveryStatus::default()
    );
    let (o, m) = emailing_org(&store).await;
    let at = |time: &str| t(&format!("2026-05-02T{time}:00Z"));
    let notes = [("second", "09:00"), ("first", "08:00"), ("third", "10:00")];
    for (version, (kind, time)) in (1..).zip(notes) {
        let mut c = change(o, m, MentorStatus::Active, version);
        c.notifications = vec![notify(Recipient::Mentor(m), kind)];
        c.at = at(time);
        store.apply_change(c).await.unwrap();
    }
    store
        .open_alert(new_alert(None, "global", t(NOW)))
        .await
        .unwrap();
    assert_eq!(queue(&store, plan(t(NOW), true, None)).await, 1);
    assert_eq!(
        store.delivery_status().await.unwrap(),
        DeliveryStatus {
            email: OutboxDepth {
                pending: 3,
                dead: 0,
                oldest_pending_at: Some(at("08:00")),
            },
            webhook: OutboxDepth {
                pending: 1,
                dead: 0,
                oldest_pending_at: Some(t(NOW)),
            },
        }
    );

    let owner = Uuid::new_v4();
    let emails = claim_emails(&store, owner, 10, HOUR).await;
    let id = |kind: &str| emails.iter().find(|e| e.kind == kind).unwrap().id;
    store
        .record_email_results(
            owner,
            vec![
                dead(id("first"), "550"),
                retry(id("second"), HOUR, "421"),
                delivered(id("third")),
            ],
        )
        .await
        .unwrap();
    let hooks = claim_webhooks(&store, owner, 10, HOUR).await;
    assert_eq!(hooks.len(), 1);
    store
        .record_webhook_results(owner, vec![dead(hooks[0].id, "410 Gone")])
        .await
        .unwrap();
    assert_eq!(
        store.delivery_status().await.unwrap(),
        DeliveryStatus {
            email: OutboxDepth {
                pending: 1,
                dead: 1,
                oldest_pending_at: Some(at("09:00")),
            },
            webhook: OutboxDepth {
                pending: 0,
                dead: 1,
                oldest_pending_at: None,
            },
        },
        "a retried email still waits; dead ones are counted apart"
    );
    // The organisation's own queue: its emails only (not the alert's), another organisation none.
    assert_eq!(
        store.email_queue(o).await.unwrap(),
        OutboxDepth {
            pending: 1,
            dead: 1,
            oldest_pending_at: Some(at("09:00")),
        }
    );
    let other = org(&store, "annen").await.id;
    assert_eq!(
        store.email_queue(other).await.unwrap(),
        OutboxDepth::default()
    );
}

/// Pruning forgets delivered emails and the rows of long-resolved alerts, keeps what still waits,
/// what is dead and what an open alert's notices depend on, and never makes an event due again.
pub async fn pruning_forgets_old_deliveries_and_never_tells_an_alert_again<S: Store>(store: S) {
    let (o, m) = emailing_org(&store).await;
    notify_mentor(&store, o, m, 1, &["sent", "waiting", "refused"]).await;
    let owner = Uuid::new_v4();
    let emails = claim_emails(&store, owner, 10, HOUR).await;
    let id = |kind: &str| emails.iter().find(|e| e.kind == kind).unwrap().id;
    store
        .record_email_results(
            owner,
            vec![
                delivered(id("sent")),
                retry(id("waiting"), ZERO, "421"),
                dead(id("refused"), "550"),
            ],
        )
        .await
        .unwrap();
    // Two alerts of the organisation, told to the webhook and by email: one resolved long ago, one
    // still open.
    let t0 = t(NOW);
    for key in ["old", "open"] {
        store.open_alert(new_alert(Some(o), key, t0)).await.unwrap();
    }
    let channels = plan(t0, true, Some(("drift@hlf.no", Locale::Nb)));
    assert_eq!(queue(&store, channels.clone()).await, 4);
    post_webhooks(&store).await;
    store
        .resolve_alert("old", t0 + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        queue(&store, channels.clone()).await,
        2,
        "its resolution, twice"
    );
    post_webhooks(&store).await;

    let hour = Duration::from_secs(3600);
    assert_eq!(
        store
            .prune_delivery_outboxes(o, 365 * 24 * hour)
            .await
            .unwrap(),
        0,
        "nothing is that old"
    );
    // The old alert was resolved in the past of every clock: all its rows go (2 webhook posts and
    // 2 alert emails), with the delivered notification email.
    assert_eq!(store.prune_delivery_outboxes(o, ZERO).await.unwrap(), 5);
    let status = store.delivery_status().await.unwrap();
    assert_eq!(
        (status.email.pending, status.email.dead),
        (2, 1),
        "the waiting email, the open alert's email and the dead one stay"
    );
    // Nothing of the pruned alert is told again; the open one gets its daily reminder, once per
    // channel (its opening notices were kept).
    let later = plan(
        t0 + chrono::Duration::days(3),
        true,
        Some(("drift@hlf.no", Locale::Nb)),
    );
    assert_eq!(queue(&store, later).await, 2);
    assert_eq!(
        post_webhooks(&store).await,
        vec![ev("open", AlertEvent::Reminder)]
    );
    let other = org(&store, "annen").await.id;
    assert_eq!(store.prune_delivery_outboxes(other, ZERO).await.unwrap(), 0);
}
