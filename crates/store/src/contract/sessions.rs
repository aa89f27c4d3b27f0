//! Dashboard sessions (found by their token hash with their user while live, touched at most once a
//! [`SESSION_TOUCH_INTERVAL`](crate::SESSION_TOUCH_INTERVAL), ended by logout or expiry) and failed
//! logins (counted per account and per address since an instant, pruned when old). Every instant is
//! the caller's, so the checks move a fixed "now" rather than wait.

use chrono::Duration;
use domain::{Role, UserId};
use futures::future::join_all;

use super::{assert_not_found, constraint, org, t, user};
use crate::{LoginFailure, LoginFailureCounts, NewSession, Store, TokenHash};

const START: &str = "2026-05-01T08:00:00Z";

fn hash(n: u8) -> TokenHash {
    [n; 32]
}

fn new_session(token_hash: TokenHash, user: UserId, hours: i64) -> NewSession {
    NewSession {
        token_hash,
        user_id: user,
        csrf_token: format!("csrf-{}", token_hash[0]),
        created_at: t(START),
        expires_at: t(START) + Duration::hours(hours),
    }
}

pub async fn a_live_session_is_found_with_its_user_and_touched_at_most_once_a_minute<S: Store>(
    store: S,
) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    let idle = Duration::minutes(30);
    store
        .create_session(new_session(hash(1), alice.id, 8))
        .await
        .unwrap();

    let found = store
        .session(&hash(1), t(START), idle)
        .await
        .unwrap()
        .expect("a new session is live");
    assert_eq!(found.user, alice);
    assert_eq!(found.csrf_token, "csrf-1");
    assert_eq!(found.created_at, t(START));
    assert_eq!(found.last_seen_at, t(START));
    assert_eq!(found.expires_at, t(START) + Duration::hours(8));
    assert!(
        store
            .session(&hash(2), t(START), idle)
            .await
            .unwrap()
            .is_none(),
        "another token finds nothing"
    );

    // Seen again within the touch interval: not written.
    let soon = t(START) + Duration::seconds(30);
    let again = store.session(&hash(1), soon, idle).await.unwrap().unwrap();
    assert_eq!(again.last_seen_at, t(START));
    // Later: written, and idle expiry counts from then.
    let later = t(START) + Duration::minutes(20);
    let again = store.session(&hash(1), later, idle).await.unwrap().unwrap();
    assert_eq!(again.last_seen_at, later);
    let before_idle = later + Duration::minutes(29);
    assert!(
        store
            .session(&hash(1), before_idle, idle)
            .await
            .unwrap()
            .is_some(),
        "used 29 minutes ago: still live"
    );
    // An earlier lookup (another instance's slower clock) never moves last_seen back.
    let seen = store
        .session(&hash(1), before_idle, idle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.last_seen_at, before_idle);
    store
        .session(&hash(1), later + Duration::minutes(2), idle)
        .await
        .unwrap();
    let idle_end = before_idle + idle;
    assert!(
        store
            .session(&hash(1), idle_end, idle)
            .await
            .unwrap()
            .is_none(),
        "idle for the whole timeout: ended"
    );
}

pub async fn a_session_ends_at_its_absolute_expiry_however_busy<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Admin).await;
    let idle = Duration::minutes(30);
    store
        .create_session(new_session(hash(7), alice.id, 1))
        .await
        .unwrap();
    let mut now = t(START);
    while now < t(START) + Duration::hours(1) {
        assert!(
            store.session(&hash(7), now, idle).await.unwrap().is_some(),
            "live at {now}"
        );
        now += Duration::minutes(10);
    }
    assert!(
        store
            .session(&hash(7), t(START) + Duration::hours(1), idle)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn logout_deletes_a_session_and_expired_ones_are_forgotten<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    let bob = user(&store, hlf.id, "bob@example.no", Role::Coordinator).await;
    let idle = Duration::minutes(30);
    store
        .create_session(new_session(hash(1), alice.id, 8))
        .await
        .unwrap();
    store
        .create_session(new_session(hash(2), alice.id, 8))
        .await
        .unwrap();
    store
        .create_session(new_session(hash(3), bob.id, 1))
        .await
        .unwrap();

    assert!(store.delete_session(&hash(1)).await.unwrap());
    assert!(
        !store.delete_session(&hash(1)).await.unwrap(),
        "already gone"
    );
    assert!(
        store
            .session(&hash(1), t(START), idle)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session(&hash(2), t(START), idle)
            .await
            .unwrap()
            .is_some(),
        "the user's other session is untouched"
    );

    // Nothing has ended yet.
    assert_eq!(
        store
            .delete_expired_sessions(t(START) + Duration::minutes(10), idle)
            .await
            .unwrap(),
        0
    );
    // Keep hash(2) in use; hash(3) passes its absolute expiry meanwhile.
    store
        .session(&hash(2), t(START) + Duration::minutes(25), idle)
        .await
        .unwrap()
        .unwrap();
    let later = t(START) + Duration::minutes(50);
    store.session(&hash(2), later, idle).await.unwrap().unwrap();
    let check = t(START) + Duration::minutes(70);
    assert_eq!(
        store.delete_expired_sessions(check, idle).await.unwrap(),
        1,
        "bob's expired"
    );
    assert!(
        store
            .session(&hash(2), check, idle)
            .await
            .unwrap()
            .is_some()
    );
    // Idle for the whole timeout since that last use.
    assert_eq!(
        store
            .delete_expired_sessions(check + idle - Duration::seconds(1), idle)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_sessions(check + idle, idle)
            .await
            .unwrap(),
        1
    );
    assert!(!store.delete_session(&hash(2)).await.unwrap());
}

pub async fn a_session_needs_a_known_user_and_its_own_token_hash<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    assert_not_found(
        store
            .create_session(new_session(hash(1), UserId::new(), 8))
            .await
            .unwrap_err(),
        "user",
    );
    store
        .create_session(new_session(hash(1), alice.id, 8))
        .await
        .unwrap();
    let taken = store
        .create_session(new_session(hash(1), alice.id, 8))
        .await
        .unwrap_err();
    assert_eq!(
        constraint(taken),
        crate::Constraint::Other("dashboard_sessions_pkey".into())
    );
}

pub async fn concurrent_lookups_of_one_session_all_find_it<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    store
        .create_session(new_session(hash(9), alice.id, 8))
        .await
        .unwrap();
    let at = t(START) + Duration::minutes(5);
    let found = join_all((0..16).map(|_| {
        let store = store.clone();
        async move {
            store
                .session(&hash(9), at, Duration::minutes(30))
                .await
                .unwrap()
        }
    }))
    .await;
    assert!(
        found
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| s.user.id == alice.id))
    );
    let seen = store
        .session(&hash(9), at, Duration::minutes(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.last_seen_at, at, "touched once to the lookups' time");
}

pub async fn login_failures_are_counted_per_account_and_address_and_pruned<S: Store>(store: S) {
    let fail = |account: &str, address: &str, minutes: i64| LoginFailure {
        account: account.to_owned(),
        address: address.to_owned(),
        at: t(START) + Duration::minutes(minutes),
    };
    for failure in [
        fail("alice@example.no", "10.0.0.1", 0),
        fail("alice@example.no", "10.0.0.1", 5),
        fail("alice@example.no", "10.0.0.2", 10),
        fail("bob@example.no", "10.0.0.1", 12),
        fail("carol@example.no", "10.0.0.3", 14),
    ] {
        store.record_login_failure(failure).await.unwrap();
    }
    let since = |minutes| t(START) + Duration::minutes(minutes);
    assert_eq!(
        store
            .login_failures_since("alice@example.no", "10.0.0.1", since(0))
            .await
            .unwrap(),
        LoginFailureCounts {
            account: 3,
            address: 3
        }
    );
    assert_eq!(
        store
            .login_failures_since("alice@example.no", "10.0.0.1", since(5))
            .await
            .unwrap(),
        LoginFailureCounts {
            account: 2,
            address: 2
        },
        "inclusive of `since`"
    );
    assert_eq!(
        store
            .login_failures_since("nobody@example.no", "10.0.0.9", since(0))
            .await
            .unwrap(),
        LoginFailureCounts::default()
    );
    // Concurrent failures are each counted.
    join_all((0..10).map(|i| {
        let store = store.clone();
        async move {
            store
                .record_login_failure(fail("dave@example.no", "10.0.0.4", 20 + i))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(
        store
            .login_failures_since("dave@example.no", "10.0.0.4", since(0))
            .await
            .unwrap(),
        LoginFailureCounts {
            account: 10,
            address: 10
        }
    );

    assert_eq!(store.prune_login_failures(since(10)).await.unwrap(), 2);
    assert_eq!(
        store
            .login_failures_since("alice@example.no", "10.0.0.1", since(0))
            .await
            .unwrap(),
        LoginFailureCounts {
            account: 1,
            address: 1
        }
    );
}
