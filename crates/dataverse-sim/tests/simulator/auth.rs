//! The token endpoint and the Web API's 401s.

use std::time::Duration;

use mentor_status_dataverse_sim::{SimConfig, Simulator};
use reqwest::Client;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Harness, request_token, token_request};

#[tokio::test]
async fn a_valid_secret_gets_a_bearer_token_with_its_lifetime() {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("starts");
    let http = Client::new();

    let response = token_request(&sim, &http, "sim-client", "sim-secret", &sim.scope()).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert_eq!(sim.stats().token_requests, 1);
    assert_eq!(
        sim.stats().requests_total,
        0,
        "the token endpoint is not the Web API"
    );
}

#[tokio::test]
async fn bad_token_requests_get_entra_errors() {
    let sim = Simulator::start(SimConfig::default())
        .await
        .expect("starts");
    let http = Client::new();
    let scope = sim.scope();

    let cases = [
        (
            token_request(&sim, &http, "sim-client", "wrong", &scope).await,
            "invalid_client",
            "AADSTS7000215",
        ),
        (
            token_request(&sim, &http, "someone-else", "sim-secret", &scope).await,
            "invalid_client",
            "AADSTS700016",
        ),
        (
            token_request(
                &sim,
                &http,
                "sim-client",
                "sim-secret",
                "https://org/user.read",
            )
            .await,
            "invalid_scope",
            "AADSTS1002012",
        ),
        (
            http.post(sim.token_url())
                .form(&[
                    ("grant_type", "password"),
                    ("client_id", "sim-client"),
                    ("scope", scope.as_str()),
                ])
                .send()
                .await
                .expect("sent"),
            "unsupported_grant_type",
            "AADSTS70003",
        ),
    ];
    for (response, error, code) in cases {
        assert_eq!(response.status(), 400, "{error}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["error"], error);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with(code)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn web_api_requests_without_a_valid_token_get_401_with_a_challenge() {
    let h = Harness::start().await;

    let without = h.http.get(h.url("WhoAmI")).send().await.expect("sent");
    let made_up = h
        .http
        .get(h.url("WhoAmI"))
        .bearer_auth("made-up")
        .send()
        .await
        .expect("sent");

    for response in [without, made_up] {
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(
            challenge.starts_with("Bearer authorization_uri="),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!("resource_id={}/", h.sim.base_url())),
            "{challenge}"
        );
        assert_eq!(response.text().await.expect("body"), "");
    }
    assert_eq!(h.sim.stats().unauthorized, 2);
    assert_eq!(h.sim.stats().requests_total, 2);
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let h = Harness::start_with(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 200);

    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 401);
}

#[tokio::test]
async fn rotating_the_secret_revokes_old_tokens_and_the_old_secret() {
    let h = Harness::start().await;

    h.sim.rotate_secret("new-secret");

    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 401);
    let old = token_request(&h.sim, &h.http, "sim-client", "sim-secret", &h.sim.scope()).await;
    assert_eq!(old.status(), 400);
    let fresh = request_token(&h.sim, &h.http, "new-secret").await;
    let response = h
        .http
        .get(h.url("WhoAmI"))
        .bearer_auth(fresh)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn html_mode_answers_401_with_a_sign_in_page() {
    let h = Harness::start().await;
    h.sim.faults().set_html_on_unauthorized(true);

    let response = h
        .http
        .get(h.url("WhoAmI"))
        .bearer_auth("stale")
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(response.text().await.expect("body").contains("<html>"));
}

#[tokio::test]
async fn rejected_credentials_refuse_tokens_and_secrets_until_lifted() {
    let h = Harness::start().await;
    let faults = h.sim.faults();

    faults.set_reject_credentials(true);
    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 401);
    let refused = token_request(&h.sim, &h.http, "sim-client", "sim-secret", &h.sim.scope()).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"], "invalid_client");

    faults.set_reject_credentials(false);
    assert_eq!(h.get("WhoAmI").send().await.expect("sent").status(), 200);
}

#[tokio::test]
async fn who_am_i_names_the_application_user() {
    let h = Harness::start().await;

    let response = h.get("WhoAmI").send().await.expect("sent");

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    for field in ["UserId", "BusinessUnitId", "OrganizationId"] {
        assert!(
            body[field]
                .as_str()
                .is_some_and(|id| Uuid::parse_str(id).is_ok()),
            "{body}"
        );
    }
    assert!(
        body["@odata.context"]
            .as_str()
            .is_some_and(|c| c.ends_with("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"))
    );
    assert_eq!(h.sim.stats().requests_total, 1);
}
