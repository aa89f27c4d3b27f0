//! Alerts (one open alert per incident) and the compensation check that raises them.

use chrono::{DateTime, Duration, Utc};
use domain::{MentorStatus, OrgId, Role};
use futures::future::join_all;
use uuid::Uuid;

use super::runs::{digest_fixture, effects, finish, manual_run};
use super::{
    NOW, TODAY, assert_not_found, change, days, expire, mentor, org, reminder, renew, t, today,
    user,
};
use crate::{Actor, Finding, NewAlert, NewNotification, Recipient, RunOutcome, Severity, Store};

fn alert(org: Option<OrgId>, key: &str, at: DateTime<Utc>, summary: &str) -> NewAlert {
    NewAlert {
        org,
        kind: "duplicate_effects".to_owned(),
        severity: Severity::Critical,
        dedupe_key: key.to_owned(),
        summary: summary.to_owned(),
        at,
    }
}

pub async fn one_open_alert_per_incident_counted_resolved_and_acknowledged_once<S: Store>(
    store: S,
) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let admin = user(&store, o, "admin@example.no", Role::Admin).await.id;
    let second_admin = user(&store, o, "admin2@example.no", Role::Admin).await.id;
    let key = format!("duplicate_effects:{o}");
    let at = t(NOW);

    let first = store
        .open_alert(alert(Some(o), &key, at, "1 duplicate"))
        .await
        .unwrap();
    assert!(first.newly_opened);
    assert_eq!(first.alert.count, 1);
    assert_eq!((first.alert.first_seen, first.alert.last_seen), (at, at));
    assert_eq!(first.alert.severity, Severity::Critical);
    assert_eq!(first.alert.kind, "duplicate_effects");
    assert_eq!(first.alert.dedupe_key, key);
    assert_eq!(first.alert.org_id, Some(o));
    assert_eq!(
        (
            first.alert.acknowledged_by,
            first.alert.acknowledged_at,
            first.alert.resolved_at
        ),
        (None, None, None)
    );
    let later = at + Duration::days(1);
    let again = store
        .open_alert(alert(Some(o), &key, later, "2 duplicates"))
        .await
        .unwrap();
    assert!(!again.newly_opened);
    assert_eq!(again.alert.id, first.alert.id);
    assert_eq!(again.alert.count, 2);
    assert_eq!((again.alert.first_seen, again.alert.last_seen), (at, later));
    assert_eq!(again.alert.summary, "2 duplicates");
    assert_eq!(
        store.alerts(o, false, 10, None).await.unwrap().items,
        vec![again.alert.clone()],
        "one alert for the incident"
    );

    // Acknowledged once: the first acknowledger stays.
    let acked = store
        .acknowledge_alert(o, first.alert.id, admin, later)
        .await
        .unwrap();
    assert_eq!(
        (acked.acknowledged_by, acked.acknowledged_at),
        (Some(admin), Some(later))
    );
    let acked = store
        .acknowledge_alert(o, first.alert.id, second_admin, later + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        (acked.acknowledged_by, acked.acknowledged_at),
        (Some(admin), Some(later))
    );
    assert_not_found(
        store
            .acknowledge_alert(other, first.alert.id, admin, later)
            .await
            .unwrap_err(),
        "alert",
    );
    assert_not_found(
        store
            .acknowledge_alert(o, Uuid::now_v7(), admin, later)
            .await
            .unwrap_err(),
        "alert",
    );
    // Counting again does not forget the acknowledgement.
    let counted = store
        .open_alert(alert(Some(o), &key, later, "3 duplicates"))
        .await
        .unwrap();
    assert_eq!(
        (counted.alert.count, counted.alert.acknowledged_by),
        (3, Some(admin))
    );

    // Resolved once; the next occurrence is a new incident.
    let resolved_at = later + Duration::days(1);
    let resolved = store
        .resolve_alert(&key, resolved_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resolved.id, resolved.resolved_at),
        (first.alert.id, Some(resolved_at))
    );
    assert_eq!(store.resolve_alert(&key, resolved_at).await.unwrap(), None);
    assert_eq!(
        store
            .resolve_alert("never-opened", resolved_at)
            .await
            .unwrap(),
        None
    );
    let reopened = store
        .open_alert(alert(Some(o), &key, resolved_at, "again"))
        .await
        .unwrap();
    assert!(reopened.newly_opened);
    assert_ne!(reopened.alert.id, first.alert.id);
    assert_eq!(reopened.alert.count, 1);
    assert_eq!(reopened.alert.acknowledged_by, None);
    assert_eq!(reopened.alert.resolved_at, None);

    store
        .open_alert(alert(Some(other), "other-incident", at, "elsewhere"))
        .await
        .unwrap();
    let global = store
        .open_alert(NewAlert {
            severity: Severity::Warning,
            ..alert(None, "deployment-wide", at, "global")
        })
        .await
        .unwrap();
    assert_eq!(
        (global.alert.org_id, global.alert.severity),
        (None, Severity::Warning)
    );

    let all = store.alerts(o, false, 10, None).await.unwrap();
    assert_eq!(
        all.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [reopened.alert.id, first.alert.id],
        "newest first, this organisation's only"
    );
    assert_eq!(all.next, None);
    let open = store.alerts(o, true, 10, None).await.unwrap();
    assert_eq!(
        open.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [reopened.alert.id]
    );
    let page = store.alerts(o, false, 1, None).await.unwrap();
    assert_eq!(page.next, Some(reopened.alert.id));
    let rest = store.alerts(o, false, 1, page.next).await.unwrap();
    assert_eq!(
        rest.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first.alert.id]
    );
    assert_eq!(rest.next, None);

    // A deployment-wide alert is resolved by its key like any other.
    assert_eq!(
        store
            .resolve_alert("deployment-wide", resolved_at)
            .await
            .unwrap()
            .map(|a| a.id),
        Some(global.alert.id)
    );
}

pub async fn concurrent_openings_of_one_incident_open_one_alert<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let key = format!("sync_credentials:{o}");
    let openings = join_all((0..6).map(|i| {
        let store = store.clone();
        let alert = alert(Some(o), &key, t(NOW) + Duration::seconds(i), "refused");
        async move { store.open_alert(alert).await.expect("open") }
    }))
    .await;
    assert_eq!(openings.iter().filter(|a| a.newly_opened).count(), 1);
    assert!(openings.iter().all(|a| a.alert.id == openings[0].alert.id));
    let mut counts: Vec<i64> = openings.iter().map(|a| a.alert.count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 2, 3, 4, 5, 6], "each opening counted once");
    let open = store.alerts(o, true, 10, None).await.unwrap().items;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].count, 6);
}

pub async fn the_compensation_check_finds_duplicates_and_nothing_on_clean_data<S: Store>(store: S) {
    let (o, coordinators, _) = digest_fixture(&store).await;
    let other = org(&store, "other").await.id;
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());
    let run = manual_run(&store, o, today(), t(NOW)).await;
    let lapsed = effects(&store, o, run, "Kari").await;
    let per = mentor(&store, o, "Per", Some(days(6))).await;
    let per_reminder = || reminder(per, 7, days(6), true);
    store
        .claim_reminders(o, run, today(), vec![per_reminder()], t(NOW))
        .await
        .unwrap();
    store
        .finish_run(finish(run, RunOutcome::Succeeded, t(NOW), Some(today())))
        .await
        .unwrap();
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());

    // One duplicate of each kind, written through the trait as a bug would: a second reminder
    // notification for (Per, 7 days, expiry date), a second automatic expiry of Kari's certification
    // period (after a renewal without a new certification), a second digest of the day for one
    // coordinator.
    let mut again = change(o, per, MentorStatus::Active, 1);
    again.notifications = vec![per_reminder().notification.unwrap()];
    store.apply_change(again).await.unwrap();
    let mut back = change(o, lapsed, MentorStatus::CertificationExpired, 2);
    back.transition = Some(renew());
    back.actor = Actor::User(coordinators[1].id);
    store.apply_change(back).await.unwrap();
    let mut second_expiry = change(o, lapsed, MentorStatus::Active, 3);
    second_expiry.transition = Some(expire());
    second_expiry.bound_expires_on = Some(days(-1));
    store.apply_change(second_expiry).await.unwrap();
    let mut digest_again = change(o, per, MentorStatus::Active, 2);
    digest_again.notifications = vec![NewNotification {
        recipient: Recipient::User(coordinators[0].id),
        kind: "coordinator_digest".to_owned(),
        payload: serde_json::json!({ "business_date": TODAY }),
    }];
    store.apply_change(digest_again).await.unwrap();

    let findings = store.find_duplicate_effects(o).await.unwrap();
    let digest_key = format!("coordinator={} business_date={TODAY}", coordinators[0].id);
    let reminder_key = format!("threshold=7 expires_on={}", days(6));
    let expiry_key = format!("expires_on={}", days(-1));
    let found: Vec<(&str, Option<domain::MentorId>, &str, i64)> = findings
        .iter()
        .map(|f| (f.kind.as_str(), f.mentor_id, f.key.as_str(), f.count))
        .collect();
    assert_eq!(
        found,
        [
            ("duplicate_digest", None, digest_key.as_str(), 2),
            ("duplicate_expiry", Some(lapsed), expiry_key.as_str(), 2),
            ("duplicate_reminder", Some(per), reminder_key.as_str(), 2),
        ]
    );
    assert!(
        store
            .find_duplicate_effects(other)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .record_findings(o, Some(run), findings.clone(), t(NOW))
        .await
        .unwrap();
    let findings_again = findings.clone();
    store
        .record_findings(o, None, findings, t(NOW))
        .await
        .unwrap();
    store
        .record_findings(o, Some(run), Vec::<Finding>::new(), t(NOW))
        .await
        .unwrap();

    // The reconciliation log reads them back newest first (the second recording, without a run,
    // then the first), page by page; another organisation's is empty.
    let first = store.findings(o, 4, None).await.unwrap();
    assert_eq!(first.items.len(), 4);
    assert!(first.items.windows(2).all(|w| w[0].id > w[1].id));
    assert!(first.items[..3].iter().all(|f| f.run_id.is_none()));
    assert_eq!(first.items[3].run_id, Some(run));
    assert_eq!(first.items[0].found_at, t(NOW));
    let rest = store.findings(o, 4, first.next).await.unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next, None);
    let mut logged: Vec<Finding> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|f| f.finding.clone())
        .collect();
    logged.sort_by(|a, b| (&a.kind, &a.key).cmp(&(&b.kind, &b.key)));
    let mut expected: Vec<Finding> = findings_again
        .iter()
        .chain(&findings_again)
        .cloned()
        .collect();
    expected.sort_by(|a, b| (&a.kind, &a.key).cmp(&(&b.kind, &b.key)));
    assert_eq!(logged, expected);
    assert!(
        store
            .findings(other, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
