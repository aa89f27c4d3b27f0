use std::time::Duration;
use store::prelude::*;

use testkit::TestBackend;

use crate::helpers::*;

/// The nightly run's reminders, expiry notices and digests arrive by email, in Norwegian with
/// Norwegian dates, to the right people — and each only once, however often the run repeats.
async fn the_nightly_run_emails_reminders_and_digests_once_in_norwegian<B: TestBackend>() {
    let world = world::<B>().await;
    // 14 days left on RUN_DAY (2026-07-10): the 14-day reminder.
    world
        .mentor("Kari Nordmann", "kari@hlf.no", "2026-07-24")
        .await;
    // Lapsed yesterday: expired.
    world.mentor("Ola Hansen", "ola@hlf.no", "2026-07-09").await;
    let sender = world.sender(quick_retries());

    world.run_expiry().await;
    // Kari's reminder, Ola's expiry notice, one digest per coordinator.
    let messages = world.deliver(&sender, 4, Duration::from_secs(20)).await;

    let kari = to(&messages, "kari@hlf.no");
    assert_eq!(kari.len(), 1, "{messages:#?}");
    let subject = kari[0].subject().unwrap();
    assert!(
        subject.contains("utløper") && subject.contains("14"),
        "{subject}"
    );
    let text = kari[0].text_body().unwrap();
    assert!(text.contains("Kari Nordmann"), "{text}");
    assert!(
        text.contains("24.07.2026"),
        "the last valid day, Norwegian style: {text}"
    );
    assert!(kari[0].html_body().unwrap().contains("24.07.2026"));
    assert_eq!(kari[0].from().as_deref(), Some("likeperson@hlf.no"));

    let ola = to(&messages, "ola@hlf.no");
    assert_eq!(ola.len(), 1);
    assert!(
        ola[0].subject().unwrap().contains("utløpt"),
        "{:?}",
        ola[0].subject()
    );

    for coordinator in ["c1@hlf.no", "c2@hlf.no"] {
        let digests = to(&messages, coordinator);
        assert_eq!(digests.len(), 1, "one digest each: {messages:#?}");
        let text = digests[0].text_body().unwrap();
        assert!(digests[0].subject().unwrap().contains("10.07.2026"));
        assert!(
            text.contains("Ola Hansen") && text.contains("Kari Nordmann"),
            "{text}"
        );
    }
    let ids: std::collections::HashSet<_> = messages.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), 4, "every message has its own Message-ID");

    // The same day again, then the next day: nothing new to tell.
    world.run_expiry().await;
    world.set_today("2026-07-11");
    world.run_expiry().await;
    world.drain(&sender).await;
    assert_eq!(world.sink.messages().len(), 4, "each email exactly once");
    let status = world.store.delivery_status().await.unwrap();
    assert_eq!((status.email.pending, status.email.dead), (0, 0));
}

/// The server accepted a message but the sender never heard (a crash before recording it): it is
/// sent again once, with the same Message-ID, so the recipient's mail client can tell.
async fn an_unrecorded_send_is_repeated_once_with_the_same_message_id<B: TestBackend>() {
    let world = world::<B>().await;
    world
        .mentor("Kari Nordmann", "kari@hlf.no", "2026-07-24")
        .await;
    world.sink.faults().drop_after_data(1);
    let sender = world.sender(quick_retries());
    world.run_expiry().await;
    // Kari's reminder and one digest per coordinator; whichever arrived first was dropped after
    // acceptance and comes twice.
    world.deliver(&sender, 4, Duration::from_secs(20)).await;
    world.drain(&sender).await;
    let messages = world.sink.messages();
    assert_eq!(messages.len(), 4, "one resend, no more: {messages:#?}");
    let mut by_id: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
    for message in &messages {
        by_id.entry(message.message_id()).or_default().push(message);
    }
    assert_eq!(by_id.len(), 3, "three messages, one of them twice");
    let twice = by_id.values().find(|copies| copies.len() == 2).unwrap();
    assert_eq!(twice[0].text_body(), twice[1].text_body());
    assert_eq!(twice[0].recipients, twice[1].recipients);
    let status = world.store.delivery_status().await.unwrap();
    assert_eq!((status.email.pending, status.email.dead), (0, 0));
}

/// The mail server is down for a while: nothing is lost and nothing dies within the retry budget;
/// everything arrives once it is back.
async fn a_mail_server_outage_delays_but_loses_nothing<B: TestBackend>() {
    let world = world::<B>().await;
    for n in 0..5 {
        world
            .mentor(
                &format!("Likeperson {n}"),
                &format!("m{n}@hlf.no"),
                "2026-07-24",
            )
            .await;
    }
    world.sink.stop_listening();
    let sender = world.sender(quick_retries());
    world.run_expiry().await;
    for _ in 0..5 {
        let report = sender.pass().await.unwrap();
        assert_eq!(report.sent, 0);
        assert_eq!(report.dead, 0, "within the retry budget nothing dies");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiting = world.store.delivery_status().await.unwrap();
    assert_eq!(
        (waiting.email.pending, waiting.email.dead),
        (7, 0),
        "5 reminders, 2 digests"
    );
    assert!(world.sink.messages().is_empty());

    world.sink.resume_listening().unwrap();
    let messages = world
        .deliver(&world.sender(quick_retries()), 7, Duration::from_secs(30))
        .await;
    world.drain(&sender).await;
    assert_eq!(world.sink.messages().len(), 7, "{messages:#?}");
    let done = world.store.delivery_status().await.unwrap();
    assert_eq!((done.email.pending, done.email.dead), (0, 0));
}

/// A recipient the server refuses for good is dead at once (never retried) and opens an alert; the
/// other messages are not held up.
async fn a_refused_recipient_is_dead_at_once_and_alerts<B: TestBackend>() {
    let world = world::<B>().await;
    world
        .mentor("Kari Nordmann", "kari@hlf.no", "2026-07-24")
        .await;
    world.mentor("Per Berg", "gone@hlf.no", "2026-07-24").await;
    world.sink.faults().reject_recipient("gone@hlf.no");
    let sender = world.sender(quick_retries());
    world.run_expiry().await;
    let messages = world.deliver(&sender, 3, Duration::from_secs(20)).await;
    world.drain(&sender).await;
    assert_eq!(
        world.sink.messages().len(),
        3,
        "Kari and the two digests: {messages:#?}"
    );
    assert!(to(&messages, "gone@hlf.no").is_empty());
    assert_eq!(
        world.sink.stats().recipients_rejected,
        1,
        "tried once, never again"
    );
    let status = world.store.delivery_status().await.unwrap();
    assert_eq!((status.email.pending, status.email.dead), (0, 1));
    let alerts = world
        .store
        .alerts(world.org.id, true, 10, None)
        .await
        .unwrap();
    assert_eq!(alerts.items.len(), 1, "{alerts:?}");
    assert_eq!(alerts.items[0].kind, engine::delivery::EMAIL_DEAD_ALERT);
    assert!(
        alerts.items[0].summary.contains("550"),
        "{:?}",
        alerts.items[0]
    );
}

/// Transient failures past the retry budget end dead, with an alert.
async fn transient_failures_past_the_budget_end_dead<B: TestBackend>() {
    let world = world::<B>().await;
    world
        .mentor("Kari Nordmann", "kari@hlf.no", "2026-07-24")
        .await;
    world.sink.faults().temporary_failure(true);
    let config = engine::delivery::SenderConfig {
        retry_budget: Duration::ZERO,
        ..quick_retries()
    };
    let sender = world.sender(config);
    world.run_expiry().await;
    // The first failure starts the budget; the next, past it, is the last.
    let mut dead = 0;
    for _ in 0..20 {
        dead += sender.pass().await.unwrap().dead;
        if dead == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(dead, 3, "Kari's reminder and both digests");
    let status = world.store.delivery_status().await.unwrap();
    assert_eq!((status.email.pending, status.email.dead), (0, 3));
    assert!(world.sink.messages().is_empty());
    let alerts = world
        .store
        .alerts(world.org.id, true, 10, None)
        .await
        .unwrap();
    assert_eq!(
        alerts.items.len(),
        1,
        "one alert for the incident: {alerts:?}"
    );
    assert_eq!(alerts.items[0].count, 3);
}

/// The nightly run forgets delivered emails older than 30 days, and keeps newer and waiting ones.
async fn the_nightly_run_prunes_emails_delivered_long_ago<B: TestBackend>() {
    let world = world::<B>().await;
    world
        .mentor("Kari Nordmann", "kari@hlf.no", "2026-07-24")
        .await;
    world.mentor("Ola Hansen", "ola@hlf.no", "2026-07-09").await;
    let sender = world.sender(quick_retries());
    world.run_expiry().await;
    world.deliver(&sender, 4, Duration::from_secs(20)).await;
    world.drain(&sender).await;
    let all = "SELECT count(*) FROM email_outbox";
    assert_eq!(B::scalar(&world.db, all).await, 4);
    // Two of them were delivered long ago; a new one waits.
    B::execute(
        &world.db,
        "UPDATE email_outbox SET sent_at = '2020-01-01T00:00:00.000000Z' \
         WHERE id IN (SELECT id FROM email_outbox ORDER BY id LIMIT 2)",
    )
    .await;
    world.mentor("Per Berg", "per@hlf.no", "2026-07-17").await;
    world.set_today("2026-07-11");
    world.run_expiry().await;
    assert_eq!(
        B::scalar(&world.db, all).await,
        2 + 3,
        "the two recent ones stay, with the new night's reminder and digests"
    );
    assert_eq!(
        world.store.delivery_status().await.unwrap().email.pending,
        3
    );
}

testkit::on_both_backends!(
    the_nightly_run_prunes_emails_delivered_long_ago,
    the_nightly_run_emails_reminders_and_digests_once_in_norwegian,
    an_unrecorded_send_is_repeated_once_with_the_same_message_id,
    a_mail_server_outage_delays_but_loses_nothing,
    a_refused_recipient_is_dead_at_once_and_alerts,
    transient_failures_past_the_budget_end_dead,
);
