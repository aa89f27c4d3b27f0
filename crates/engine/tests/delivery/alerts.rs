use std::time::Duration;
use store::prelude::*;

use domain::{Email, Locale};
use engine::delivery::{AlertQueue, WebhookSender};
use store::{NewAlert, Severity};
use testkit::TestBackend;

use crate::helpers::*;

fn queue<B: TestBackend>(world: &World<B>, email: Option<(Email, Locale)>) -> AlertQueue<B::Store> {
    AlertQueue::new(
        world.engine.clone(),
        true,
        email,
        chrono::Duration::hours(24),
        Duration::from_secs(1),
    )
}

fn webhook_to<B: TestBackend>(
    world: &World<B>,
    receiver: &WebhookReceiver,
) -> WebhookSender<B::Store> {
    WebhookSender::new(
        world.engine.clone(),
        receiver.url.clone(),
        Duration::from_secs(5),
        quick_retries(),
    )
    .unwrap()
}

async fn open_credentials_alert<B: TestBackend>(world: &World<B>) {
    world
        .store
        .open_alert(NewAlert {
            org: Some(world.org.id),
            kind: "sync_credentials".into(),
            severity: Severity::Critical,
            dedupe_key: format!("sync_credentials:{}", world.org.id),
            summary: "the Dynamics token endpoint refused the client secret".into(),
            at: domain::Clock::now(&world.clock),
        })
        .await
        .unwrap();
}

/// An alert reaches the operations webhook when it opens, again a day later while it stays open, and
/// when it is resolved — once each, however often the queue looks, and through a failing receiver.
async fn alerts_reach_the_webhook_opened_reminded_and_resolved_once_each<B: TestBackend>() {
    let world = world::<B>().await;
    // The receiver fails the first post: retried, still delivered once.
    let receiver = WebhookReceiver::start(1).await;
    let webhook = webhook_to(&world, &receiver);
    let alerts = queue(&world, None);
    let deliver = || async {
        for _ in 0..50 {
            alerts.queue_due().await.unwrap();
            if webhook.pass().await.unwrap().claimed == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };

    open_credentials_alert(&world).await;
    deliver().await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(posts[0]["event"], "opened");
    assert_eq!(posts[0]["alert"]["kind"], "sync_credentials");
    assert_eq!(posts[0]["alert"]["severity"], "critical");
    assert_eq!(posts[0]["org"]["slug"], "hlf");
    let text = posts[0]["text"].as_str().unwrap();
    assert!(
        text.contains("CRITICAL") && text.contains("refused the client secret"),
        "{text}"
    );

    // Counted again while open, within the day: no new post.
    open_credentials_alert(&world).await;
    world.clock.advance(chrono::Duration::hours(23));
    deliver().await;
    assert_eq!(receiver.posts().len(), 1);

    // A day after the opening notice: one reminder.
    world.clock.advance(chrono::Duration::hours(2));
    deliver().await;
    deliver().await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2, "{posts:#?}");
    assert_eq!(posts[1]["event"], "reminder");

    world
        .store
        .resolve_alert(
            &format!("sync_credentials:{}", world.org.id),
            domain::Clock::now(&world.clock),
        )
        .await
        .unwrap()
        .expect("it was open");
    deliver().await;
    world.clock.advance(chrono::Duration::hours(48));
    deliver().await;
    let posts = receiver.posts();
    assert_eq!(
        posts.len(),
        3,
        "resolved once, never reminded after: {posts:#?}"
    );
    assert_eq!(posts[2]["event"], "resolved");
    assert!(!posts[2]["alert"]["resolved_at"].is_null());
    let ids: std::collections::HashSet<_> =
        posts.iter().map(|p| p["delivery_id"].clone()).collect();
    assert_eq!(ids.len(), 3);
    let status = world.store.delivery_status().await.unwrap();
    assert_eq!((status.webhook.pending, status.webhook.dead), (0, 0));
}

/// With an operations address, the same events also arrive by email, in its language.
async fn alerts_are_emailed_to_the_operations_address<B: TestBackend>() {
    let world = world::<B>().await;
    let alerts = queue(
        &world,
        Some((Email::parse("drift@hlf.no").unwrap(), Locale::En)),
    );
    let sender = world.sender(quick_retries());
    open_credentials_alert(&world).await;
    alerts.queue_due().await.unwrap();
    alerts.queue_due().await.unwrap();
    let messages = world.deliver(&sender, 1, Duration::from_secs(20)).await;
    assert_eq!(to(&messages, "drift@hlf.no").len(), 1);
    let text = messages[0].text_body().unwrap();
    assert!(text.contains("sync_credentials"), "{text}");
    assert!(
        text.contains("operations.md"),
        "points to the runbook: {text}"
    );
    world
        .store
        .resolve_alert(
            &format!("sync_credentials:{}", world.org.id),
            domain::Clock::now(&world.clock),
        )
        .await
        .unwrap();
    alerts.queue_due().await.unwrap();
    let messages = world.deliver(&sender, 2, Duration::from_secs(20)).await;
    world.drain(&sender).await;
    assert_eq!(world.sink.messages().len(), 2, "{messages:#?}");
}

/// Emails waiting longer than the limit (the SMTP server does not take them) open one alert for
/// their organisation, told once; once they are sent it resolves, told once.
async fn emails_backing_up_open_an_alert_that_resolves_when_they_flow<B: TestBackend>() {
    let world = world::<B>().await;
    let receiver = WebhookReceiver::start(0).await;
    let webhook = webhook_to(&world, &receiver);
    let alerts = queue(&world, None);
    let told = || async {
        alerts.queue_due().await.unwrap();
        while webhook.pass().await.unwrap().claimed > 0 {}
        receiver
            .posts()
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["event"].as_str().unwrap(),
                    p["alert"]["kind"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    world.mentor("Kari", "kari@hlf.no", "2026-06-05").await;
    world.run_expiry().await;
    assert!(world.store.delivery_status().await.unwrap().email.pending > 0);

    // Younger than the limit: nothing.
    world
        .engine
        .check_backlogs(Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(told().await.is_empty());
    // Older: one alert, however often it is seen.
    world.engine.check_backlogs(Duration::ZERO).await.unwrap();
    world.engine.check_backlogs(Duration::ZERO).await.unwrap();
    assert_eq!(told().await, ["opened email_backlog"]);
    assert_eq!(receiver.posts()[0]["org"]["slug"], "hlf");

    let sender = world.sender(quick_retries());
    world.drain(&sender).await;
    world.engine.check_backlogs(Duration::ZERO).await.unwrap();
    world.engine.check_backlogs(Duration::ZERO).await.unwrap();
    assert_eq!(
        told().await,
        ["opened email_backlog", "resolved email_backlog"]
    );
}

/// A mail server's refusal that quotes the recipient opens an alert without the address: neither the
/// stored alert nor the webhook's post names the person, only what went wrong.
async fn a_refused_recipients_address_reaches_neither_the_alert_nor_the_webhook<B: TestBackend>() {
    let world = world::<B>().await;
    world.mentor("Per Berg", "gone@hlf.no", "2026-07-24").await;
    world.sink.faults().reject_recipient("gone@hlf.no");
    let sender = world.sender(quick_retries());
    world.run_expiry().await;
    world.drain(&sender).await;
    assert_eq!(
        world.sink.stats().recipients_rejected,
        1,
        "the refusal happened"
    );

    let stored = world
        .store
        .alerts(world.org.id, true, 10, None)
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 1, "{stored:?}");
    let summary = &stored.items[0].summary;
    assert!(
        summary.contains("550") && summary.contains("[address]"),
        "{summary}"
    );
    assert!(!summary.contains("gone@hlf.no"), "{summary}");

    let receiver = WebhookReceiver::start(0).await;
    let webhook = webhook_to(&world, &receiver);
    queue(&world, None).queue_due().await.unwrap();
    while webhook.pass().await.unwrap().claimed > 0 {}
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let body = posts[0].to_string();
    assert!(body.contains("550"), "{body}");
    assert!(
        !body.contains("gone@hlf.no") && !body.contains("Per Berg"),
        "{body}"
    );
}

testkit::on_both_backends!(
    a_refused_recipients_address_reaches_neither_the_alert_nor_the_webhook,
    emails_backing_up_open_an_alert_that_resolves_when_they_flow,
    alerts_reach_the_webhook_opened_reminded_and_resolved_once_each,
    alerts_are_emailed_to_the_operations_address,
);
