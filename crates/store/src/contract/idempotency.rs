//! Idempotency keys of API requests: start, replay, mismatch, in progress, abandon, and the take-over
//! of a claim whose request died. Staleness is judged by the database's clock, so checks pass a
//! stale-after of a day (never stale here) or a negative one (stale at once).

use domain::Role;
use futures::future::join_all;

use super::{assert_not_found, org, user};
use crate::{IdempotencyBegin, Store, StoredResponse, User};

pub async fn idempotency_keys_start_replay_refuse_and_recover<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    let bob = user(&store, hlf.id, "bob@example.no", Role::Coordinator).await;
    let not_yet_stale = chrono::Duration::days(1);
    let begin = |user: &User, key: &'static str, fp: &'static str, stale_after| {
        let store = store.clone();
        let id = user.id;
        async move {
            store
                .idempotency_begin(id, key, fp, stale_after)
                .await
                .unwrap()
        }
    };

    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin(&alice, "k1", "fp-other", not_yet_stale).await,
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        begin(&bob, "k1", "fp-b", not_yet_stale).await,
        IdempotencyBegin::Started,
        "keys are per user"
    );

    let response = StoredResponse {
        status: 201,
        content_type: "application/json".into(),
        body: br#"{"id":"x"}"#.to_vec(),
    };
    store
        .idempotency_complete(alice.id, "k1", response.clone())
        .await
        .unwrap();
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Replay(response.clone())
    );
    assert_eq!(
        begin(&alice, "k1", "fp-a", chrono::Duration::seconds(-1)).await,
        IdempotencyBegin::Replay(response.clone()),
        "a finished request is never stale"
    );
    assert_eq!(
        begin(&alice, "k1", "fp-other", not_yet_stale).await,
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        begin(&bob, "k1", "fp-b", not_yet_stale).await,
        IdempotencyBegin::InProgress,
        "another user's key is unaffected"
    );
    // A finished request is neither completed again nor forgotten.
    assert_not_found(
        store
            .idempotency_complete(alice.id, "k1", response.clone())
            .await
            .unwrap_err(),
        "idempotency key",
    );
    store.idempotency_abandon(alice.id, "k1").await.unwrap();
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Replay(response)
    );
    // Nothing to complete for a key never begun.
    assert_not_found(
        store
            .idempotency_complete(
                alice.id,
                "never-begun",
                StoredResponse {
                    status: 204,
                    content_type: "text/plain".into(),
                    body: Vec::new(),
                },
            )
            .await
            .unwrap_err(),
        "idempotency key",
    );

    // A claim whose request died is taken over once it is older than `stale_after`.
    let already_stale = chrono::Duration::seconds(-1);
    assert_eq!(
        begin(&alice, "k2", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(&alice, "k2", "fp-other", already_stale).await,
        IdempotencyBegin::Mismatch,
        "another request never takes a key over"
    );
    assert_eq!(
        begin(&alice, "k2", "fp-a", already_stale).await,
        IdempotencyBegin::Started,
        "taken over"
    );
    assert_eq!(
        begin(&alice, "k2", "fp-a", not_yet_stale).await,
        IdempotencyBegin::InProgress,
        "fresh again"
    );

    // An abandoned claim frees the key, for any request.
    store.idempotency_abandon(alice.id, "k2").await.unwrap();
    assert_eq!(
        begin(&alice, "k2", "fp-new", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    let done = StoredResponse {
        status: 200,
        content_type: "application/json".into(),
        body: b"{}".to_vec(),
    };
    store
        .idempotency_complete(alice.id, "k2", done.clone())
        .await
        .unwrap();
    assert_eq!(
        begin(&alice, "k2", "fp-new", not_yet_stale).await,
        IdempotencyBegin::Replay(done)
    );
    // Abandoning a key that is not there is no error.
    store
        .idempotency_abandon(alice.id, "never-begun")
        .await
        .unwrap();
}

pub async fn concurrent_requests_with_one_key_start_once<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator).await;
    let begins = join_all((0..8).map(|_| {
        let store = store.clone();
        async move {
            store
                .idempotency_begin(alice.id, "k1", "fp-a", chrono::Duration::days(1))
                .await
                .expect("begin")
        }
    }))
    .await;
    assert_eq!(
        begins
            .iter()
            .filter(|b| **b == IdempotencyBegin::Started)
            .count(),
        1,
        "{begins:?}"
    );
    assert!(
        begins
            .iter()
            .all(|b| matches!(b, IdempotencyBegin::Started | IdempotencyBegin::InProgress)),
        "{begins:?}"
    );
}
