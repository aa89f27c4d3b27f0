//! Tokens: caching, refresh, 401 handling, rotated secrets, sign-in pages.

use std::time::Duration;

use dataverse_sim::SimConfig;
use mentor_status_dataverse::{Client, ClientConfig, DataverseError};
use secrecy::SecretString;

use crate::{client_for, config_for, start, start_default};

#[tokio::test]
async fn who_am_i_answers_with_the_application_user() {
    let sim = start_default().await;
    let client = client_for(&sim);
    let me = client.who_am_i().await.expect("WhoAmI succeeds");
    assert_eq!(client.who_am_i().await.expect("WhoAmI again"), me);
    assert!(!me.user_id.is_nil());
    assert!(!me.organization_id.is_nil());
}

#[tokio::test]
async fn the_token_is_cached() {
    let sim = start_default().await;
    let client = client_for(&sim);
    client.who_am_i().await.expect("first call");
    client.who_am_i().await.expect("second call");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 1);
    assert_eq!(stats.requests_total, 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let sim = start_default().await;
    let client = Client::new(ClientConfig {
        max_concurrent_requests: 8,
        ..config_for(&sim)
    })
    .expect("valid configuration");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        calls.spawn(async move { client.who_am_i().await });
    }
    while let Some(outcome) = calls.join_next().await {
        outcome.expect("task").expect("WhoAmI succeeds");
    }
    assert_eq!(sim.stats().token_requests, 1);
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    let client = client_for(&sim);
    client.who_am_i().await.expect("first call");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.who_am_i().await.expect("call after the lifetime");
    let stats = sim.stats();
    assert_eq!(stats.token_requests, 2);
    assert_eq!(
        stats.unauthorized, 0,
        "the client refreshed before using an expired token"
    );
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries() {
    let sim = start_default().await;
    let client = client_for(&sim);
    client.who_am_i().await.expect("first call");
    // Same secret, but every token issued so far is revoked: the cached one now gets a 401.
    sim.rotate_secret(&SimConfig::default().client_secret);
    client.who_am_i().await.expect("retried with a new token");
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(stats.token_requests, 2);
    assert_eq!(stats.requests_total, 3);
}

#[tokio::test]
async fn a_rotated_secret_is_unauthorized_until_the_new_secret_is_set() {
    let sim = start_default().await;
    let client = client_for(&sim);
    client
        .who_am_i()
        .await
        .expect("works with the original secret");

    sim.rotate_secret("rotated-secret");
    let error = client.who_am_i().await.expect_err("old secret refused");
    let DataverseError::Unauthorized { detail } = &error else {
        panic!("expected Unauthorized, got {error:?}");
    };
    assert!(detail.contains("invalid_client"), "{detail}");
    assert!(
        !detail.contains(&SimConfig::default().client_secret),
        "{detail}"
    );
    assert!(!error.is_retryable());

    client.set_client_secret(SecretString::from("rotated-secret"));
    client.who_am_i().await.expect("works with the new secret");
    client
        .check_credentials()
        .await
        .expect("credential check passes");
}

#[tokio::test]
async fn check_credentials_fetches_a_fresh_token() {
    let sim = start_default().await;
    let client = client_for(&sim);
    client.who_am_i().await.expect("first call");
    client.check_credentials().await.expect("credential check");
    assert_eq!(sim.stats().token_requests, 2);
}

#[tokio::test]
async fn rejected_credentials_fail_the_credential_check() {
    let sim = start_default().await;
    let client = client_for(&sim);
    sim.faults().set_reject_credentials(true);
    let error = client.check_credentials().await.expect_err("refused");
    assert!(
        matches!(&error, DataverseError::Unauthorized { detail } if detail.contains("AADSTS7000215")),
        "{error:?}"
    );
    sim.faults().set_reject_credentials(false);
    client.check_credentials().await.expect("accepted again");
}

#[tokio::test]
async fn an_html_sign_in_page_is_unauthorized() {
    // Tokens that expire at once: every Web API request is answered 401, here with a sign-in page.
    let sim = start(SimConfig {
        token_lifetime: Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    sim.faults().set_html_on_unauthorized(true);
    let client = client_for(&sim);
    let error = client.who_am_i().await.expect_err("no JSON");
    assert!(
        matches!(&error, DataverseError::Unauthorized { detail } if detail.contains("HTML page")),
        "{error:?}"
    );
    let stats = sim.stats();
    assert_eq!(stats.unauthorized, 2, "one refresh and retry, then give up");
}
