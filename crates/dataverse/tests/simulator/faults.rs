//! Throttling, server errors and timeouts.

use std::time::{Duration, Instant};

use dataverse_sim::RateLimit;
use mentor_status_dataverse::{Client, ClientConfig, DataverseError, RecordKey, Update};
use serde_json::Value;

use crate::{
    ENTITY_SET, SCENARIO_LIMIT, client_for, config_for, hide, insert_contact, start_default,
    visibility,
};

/// Attempts per update in the throttling scenario; throttled answers are resent, but boundedly.
const MAX_SENDS_PER_UPDATE: usize = 40;

#[tokio::test]
async fn throttled_callers_all_succeed_and_nothing_is_sent_during_retry_after() {
    let sim = start_default().await;
    let client = client_for(&sim);
    // Fetch the token first so the scenario measures only Web API traffic.
    client.who_am_i().await.expect("WhoAmI");
    let ids: Vec<_> = (0..20)
        .map(|n| insert_contact(&sim, &format!("{n}")))
        .collect();
    sim.faults().set_rate_limit(Some(RateLimit {
        requests: 5,
        window: Duration::from_secs(2),
    }));

    let mut updates = tokio::task::JoinSet::new();
    for &id in &ids {
        let client = client.clone();
        updates.spawn(async move {
            let mut throttled = 0;
            for _ in 0..MAX_SENDS_PER_UPDATE {
                match client.update(ENTITY_SET, &RecordKey::Id(id), &hide()).await {
                    // Not an attempt: the client already waits out Retry-After for everyone.
                    Err(DataverseError::Throttled { .. }) => throttled += 1,
                    outcome => return outcome.map(|()| throttled),
                }
            }
            panic!("update of {id} still throttled after {MAX_SENDS_PER_UPDATE} sends");
        });
    }
    let outcomes = tokio::time::timeout(SCENARIO_LIMIT, updates.join_all())
        .await
        .expect("the scenario finishes in time");
    let throttled: usize = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every update succeeds"))
        .sum();

    let stats = sim.stats();
    assert!(throttled > 0, "the rate limit was never hit");
    assert_eq!(stats.throttled_responses as usize, throttled);
    assert_eq!(stats.requests_during_retry_after, 0);
    for id in ids {
        assert_eq!(visibility(&sim, id), Some(Value::Bool(false)), "{id}");
    }
}

#[tokio::test]
async fn a_throttled_batch_holds_back_the_next_request() {
    let sim = start_default().await;
    let client = client_for(&sim);
    client.who_am_i().await.expect("WhoAmI");
    let id = insert_contact(&sim, "1");
    sim.faults().set_rate_limit(Some(RateLimit {
        requests: 0,
        window: Duration::from_secs(1),
    }));
    let ops = [Update {
        key: RecordKey::Id(id),
        fields: hide(),
    }];
    let error = client
        .update_batch(ENTITY_SET, &ops)
        .await
        .expect_err("throttled");
    assert!(error.is_retryable());
    let DataverseError::Throttled { retry_after } = error else {
        panic!("expected Throttled, got {error:?}");
    };
    assert!(retry_after >= Duration::from_secs(1), "{retry_after:?}");
    // Lift the limit at the simulator: only the client's own gate can delay the next request now.
    sim.faults().set_rate_limit(None);

    let started = Instant::now();
    let results = client
        .update_batch(ENTITY_SET, &ops)
        .await
        .expect("batch after the wait");
    assert!(
        started.elapsed() >= retry_after - Duration::from_millis(50),
        "sent after {:?} although Retry-After was {retry_after:?}",
        started.elapsed()
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
}

#[tokio::test]
async fn server_errors_are_transient() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let id = insert_contact(&sim, "1");
    client.who_am_i().await.expect("WhoAmI before the fault");
    sim.faults().set_server_error_share(1.0);

    let error = client
        .update(ENTITY_SET, &RecordKey::Id(id), &hide())
        .await
        .expect_err("5xx");
    assert!(
        matches!(error, DataverseError::Transient { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());

    // Inside a batch the fault hits each operation: the batch succeeds, its operations do not.
    let results = client
        .update_batch(
            ENTITY_SET,
            &[Update {
                key: RecordKey::Id(id),
                fields: hide(),
            }],
        )
        .await
        .expect("the batch itself is answered");
    assert!(
        matches!(results[0], Err(DataverseError::Transient { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(visibility(&sim, id), Some(Value::Bool(true)));
}

#[tokio::test]
async fn a_hanging_request_times_out_as_transient() {
    let sim = start_default().await;
    let client = Client::new(ClientConfig {
        request_timeout: Duration::from_millis(300),
        ..config_for(&sim)
    })
    .expect("valid configuration");
    client.who_am_i().await.expect("WhoAmI before the fault");
    sim.faults().set_timeout_hang(Duration::from_secs(2));
    sim.faults().set_timeout_share(1.0);

    let started = Instant::now();
    let error = client.who_am_i().await.expect_err("timed out");
    assert!(
        matches!(&error, DataverseError::Transient { detail } if detail.contains("300ms")),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
