//! In-app notifications: who sees them, paging, unread only, and marking read once.

use domain::{MentorStatus, NotificationId, Role};

use super::{assert_not_found, change, date, login, mentor, notify, org, t, user};
use crate::{Notification, Recipient, Store};

fn kinds_of(items: &[Notification]) -> Vec<&str> {
    items.iter().map(|n| n.kind.as_str()).collect()
}

pub async fn notifications_are_visible_to_their_recipient_only_and_read_once<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;
    let kari = login(&store, hlf.id, "kari@example.no", id).await;
    let coord = user(&store, hlf.id, "a@example.no", Role::Coordinator).await;
    let admin = user(&store, hlf.id, "admin@example.no", Role::Admin).await;
    // Another organisation's mentor login and coordinator see none of them.
    let other = org(&store, "other").await;
    let per = mentor(&store, other.id, "Per", None).await;
    let per_login = login(&store, other.id, "per@other.no", per).await;
    let elsewhere = user(&store, other.id, "c@other.no", Role::Coordinator).await;

    let mut c = change(hlf.id, id, MentorStatus::Active, 1);
    c.notifications = vec![
        notify(Recipient::User(coord.id), "first"),
        notify(Recipient::User(coord.id), "second"),
        notify(Recipient::User(coord.id), "third"),
        notify(Recipient::Mentor(id), "for_mentor"),
        notify(Recipient::User(admin.id), "for_admin"),
    ];
    store.apply_change(c).await.unwrap();

    let page1 = store.notifications(&coord, false, 2, None).await.unwrap();
    assert_eq!(kinds_of(&page1.items), ["third", "second"], "newest first");
    assert_eq!(page1.next, Some(page1.items[1].id));
    let page2 = store
        .notifications(&coord, false, 2, page1.next)
        .await
        .unwrap();
    assert_eq!(kinds_of(&page2.items), ["first"]);
    assert_eq!(page2.next, None);
    let exact = store.notifications(&coord, false, 3, None).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (3, None));

    let first = page2.items[0].id;
    let read_at = t("2026-05-05T12:00:00Z");
    let read = store
        .mark_notification_read(&coord, first, read_at)
        .await
        .unwrap();
    assert_eq!((read.id, read.kind.as_str()), (first, "first"));
    assert_eq!(read.read_at, Some(read_at));
    let again = store
        .mark_notification_read(&coord, first, t("2026-05-06T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again.read_at, Some(read_at), "the first read time stays");
    let unread = store.notifications(&coord, true, 10, None).await.unwrap();
    assert_eq!(kinds_of(&unread.items), ["third", "second"]);
    let unread_page = store.notifications(&coord, true, 1, None).await.unwrap();
    assert_eq!(kinds_of(&unread_page.items), ["third"]);
    let unread_rest = store
        .notifications(&coord, true, 1, unread_page.next)
        .await
        .unwrap();
    assert_eq!(kinds_of(&unread_rest.items), ["second"]);
    assert_eq!(unread_rest.next, None, "the read one is not another page");
    let everything = store.notifications(&coord, false, 10, None).await.unwrap();
    assert_eq!(
        everything
            .items
            .iter()
            .map(|n| (n.kind.as_str(), n.read_at))
            .collect::<Vec<_>>(),
        [("third", None), ("second", None), ("first", Some(read_at))]
    );

    // Someone else's notification does not exist for you.
    for stranger in [&admin, &kari, &elsewhere] {
        assert_not_found(
            store
                .mark_notification_read(stranger, first, read_at)
                .await
                .unwrap_err(),
            "notification",
        );
    }
    assert_not_found(
        store
            .mark_notification_read(&coord, NotificationId::new(), read_at)
            .await
            .unwrap_err(),
        "notification",
    );

    // The mentor's login sees what is addressed to the mentor.
    let mentor_view = store.notifications(&kari, false, 10, None).await.unwrap();
    assert_eq!(kinds_of(&mentor_view.items), ["for_mentor"]);
    assert_eq!(mentor_view.items[0].recipient_mentor_id, Some(id));
    assert_eq!(mentor_view.items[0].mentor_id, Some(id));
    let mentor_note = mentor_view.items[0].id;
    assert!(
        store
            .mark_notification_read(&kari, mentor_note, read_at)
            .await
            .unwrap()
            .read_at
            .is_some()
    );
    assert!(
        store
            .notifications(&kari, true, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_not_found(
        store
            .mark_notification_read(&coord, mentor_note, read_at)
            .await
            .unwrap_err(),
        "notification",
    );
    assert_eq!(
        kinds_of(
            &store
                .notifications(&admin, false, 10, None)
                .await
                .unwrap()
                .items
        ),
        ["for_admin"]
    );
    for stranger in [&per_login, &elsewhere] {
        assert!(
            store
                .notifications(stranger, false, 10, None)
                .await
                .unwrap()
                .items
                .is_empty()
        );
    }
}
