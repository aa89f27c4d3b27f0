//! What operators read: `/metrics` (HTTP and transition series), `/readyz` with integration health
//! and schema state, and the `x-request-id` of every response.

use std::sync::{Arc, OnceLock};

use dataverse::ClientConfig;
use dataverse_sim::{SimConfig, Simulator};
use engine::Engine;
use engine::metrics::GaugeSampler;
use engine::sync::{Integration, ListingSync, Mapping, RelayConfig};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use testkit::TestBackend;
use web::{PrometheusHandle, TokenKeys};

use crate::helpers::*;

/// The test binary's one metrics recorder (a process has one); every test's server renders it, so
/// counters add up across the tests running beside each other: assert on "at least".
fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = web::prometheus_builder()
                .install_recorder()
                .expect("install the metrics recorder");
            web::describe_metrics();
            handle
        })
        .clone()
}

fn keys() -> TokenKeys {
    TokenKeys::from_secret(&SecretString::from(SECRET.to_owned())).unwrap()
}

/// Serve `app` on a port of its own; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(web::serve(listener, app, std::future::pending()));
    address
}

/// The value of the series written exactly as `series` (name and labels), if present.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

#[track_caller]
fn at_least(exposition: &str, series: &str, minimum: f64) {
    let value = sample(exposition, series)
        .unwrap_or_else(|| panic!("no series {series} in:\n{exposition}"));
    assert!(value >= minimum, "{series} = {value}, expected ≥ {minimum}");
}

async fn metrics_show_requests_by_route_and_transitions_by_kind<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    // Without a recorder there is no /metrics.
    let none = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);

    let engine = Engine::new(app.store.clone(), Arc::new(app.clock.clone()));
    let sampler = GaugeSampler::new(engine.clone());
    let base = serve(web::app_with_metrics(engine, keys(), recorder(), sampler)).await;
    let client = reqwest::Client::new();
    let mentor = app.own_mentor;
    let paused = client
        .post(format!("{base}/api/v1/mentors/{mentor}/pause"))
        .bearer_auth(&app.coordinator.token)
        .json(&json!({"reason": "ferie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(paused.status(), StatusCode::OK);
    let refused = client
        .get(format!("{base}/api/v1/mentors/{mentor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let unknown = client
        .get(format!("{base}/no/such/{mentor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let scraped = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format"
    );
    let text = scraped.text().await.unwrap();
    let route = "/api/v1/mentors/{id}/pause";
    at_least(
        &text,
        &format!(
            r#"mentor_status_http_requests_total{{method="POST",route="{route}",status="200"}}"#
        ),
        1.0,
    );
    at_least(
        &text,
        &format!(
            r#"mentor_status_http_request_duration_seconds_bucket{{method="POST",route="{route}",le="+Inf"}}"#
        ),
        1.0,
    );
    at_least(
        &text,
        r#"mentor_status_http_requests_total{method="GET",route="/api/v1/mentors/{id}",status="401"}"#,
        1.0,
    );
    at_least(
        &text,
        r#"mentor_status_http_requests_total{method="GET",route="unmatched",status="404"}"#,
        1.0,
    );
    at_least(
        &text,
        r#"mentor_status_http_auth_failures_total{status="401"}"#,
        1.0,
    );
    at_least(
        &text,
        r#"mentor_status_transitions_total{action="pause",to="paused",actor="user"}"#,
        1.0,
    );
    // Gauges from the database are read on the scrape.
    assert!(
        sample(&text, "mentor_status_email_queue_pending").is_some(),
        "{text}"
    );
    assert!(text.contains("# TYPE mentor_status_http_request_duration_seconds histogram"));
    // Labels stay low-cardinality: no mentor id, no address, no raw path.
    for leak in [
        mentor.to_string(),
        "coord@hlf.no".to_owned(),
        "/no/such".to_owned(),
    ] {
        assert!(!text.contains(&leak), "{leak} in the metrics");
    }
}

/// An integration of `app`'s organisation against `sim`, with this client secret.
fn integration<B: TestBackend>(app: &TestApp<B>, sim: &Simulator, secret: &str) -> Integration {
    let config = ClientConfig::new(
        sim.base_url(),
        sim.token_url(),
        "sim-client",
        secret.to_owned().into(),
        sim.scope(),
    );
    Integration {
        org: app.org.id,
        client: dataverse::Client::new(config).unwrap(),
        mapping: Mapping::new("hlf_showonwebsite"),
    }
}

async fn readyz_is_degraded_with_a_reason_while_credentials_fail_or_rows_are_dead<
    B: TestBackend,
>() {
    let app = spawn_app::<B>().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let integration = integration(&app, &sim, "not-the-secret");
    let engine = Engine::new(app.store.clone(), Arc::new(app.clock.clone())).with_listing_sync(
        ListingSync::new(vec![integration.clone()], RelayConfig::default()),
    );
    let base = serve(web::app(engine.clone(), keys())).await;
    let client = reqwest::Client::new();
    let ready = || async {
        let reply = client.get(format!("{base}/readyz")).send().await.unwrap();
        (
            reply.status(),
            reply.json::<serde_json::Value>().await.unwrap(),
        )
    };

    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["integrations"]["hlf"]["status"], "ok");
    assert_eq!(
        body["checks"]["integrations"]["hlf"]["credentials"],
        "unchecked"
    );

    let checked = engine.check_credentials(&integration).await.unwrap();
    assert!(checked.is_err(), "the simulator refuses the wrong secret");
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::OK, "degraded is still ready: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let hlf = &body["checks"]["integrations"]["hlf"];
    assert_eq!(hlf["status"], "degraded");
    assert_eq!(hlf["credentials"], "failed");
    assert!(hlf["credentials_checked_at"].is_string());
    let reasons = hlf["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{body}");
    assert!(
        reasons[0]
            .as_str()
            .unwrap()
            .contains("credential check failed"),
        "{body}"
    );
    assert!(
        !body.to_string().contains("invalid_client"),
        "no error text from Dynamics on an unauthenticated endpoint: {body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["migrations"], "current");

    // Credentials work again, but a row is dead: still degraded, for that reason alone.
    integration
        .client
        .set_client_secret(SecretString::from("sim-secret".to_owned()));
    assert!(
        engine
            .check_credentials(&integration)
            .await
            .unwrap()
            .is_ok()
    );
    B::execute(&app.db, "UPDATE sync_outbox SET state = 'dead'").await;
    let (status, body) = ready().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "degraded", "{body}");
    let hlf = &body["checks"]["integrations"]["hlf"];
    assert_eq!(hlf["credentials"], "ok");
    assert_eq!(hlf["dead_letters"], 1);
    let reasons = hlf["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{body}");
    assert!(
        reasons[0].as_str().unwrap().contains("dead letter"),
        "{body}"
    );

    B::execute(&app.db, "UPDATE sync_outbox SET state = 'pending'").await;
    let (_, body) = ready().await;
    assert_eq!(body["status"], "ready", "{body}");
}

async fn readyz_answers_503_while_the_schema_is_behind<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    // As if this build were newer than the database: the last migration is not applied.
    B::execute(
        &app.db,
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
    )
    .await;
    let behind = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        behind.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        behind.body
    );
    assert_eq!(behind.body["status"], "not_ready");
    assert_eq!(behind.body["checks"]["database"], "ok");
    let migrations = behind.body["checks"]["migrations"].as_str().unwrap();
    assert!(migrations.starts_with("pending ("), "{migrations}");
}

async fn every_response_carries_a_request_id<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id_of_reply = |reply: &Reply| {
        reply.headers[web::REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let minted = app.get("/api/v1/me", &app.coordinator).await;
    assert_eq!(minted.status, StatusCode::OK);
    let first = id_of_reply(&minted);
    assert!(first.parse::<uuid::Uuid>().is_ok(), "a UUID: {first}");
    let problem = app.call(Method::GET, "/api/v1/me", None, None).await;
    let second = id_of_reply(&problem);
    assert_ne!(first, second, "one id per request");

    // A client's plain token is kept (ids follow a request across services); anything else is
    // replaced.
    let kept = app
        .call_with(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "lb-7f3a.01")],
        )
        .await;
    assert_eq!(id_of_reply(&kept), "lb-7f3a.01");
    let replaced = app
        .call_with(
            Method::GET,
            "/healthz",
            None,
            None,
            &[("x-request-id", "two words\" and a quote")],
        )
        .await;
    assert!(id_of_reply(&replaced).parse::<uuid::Uuid>().is_ok());
}

testkit::on_both_backends!(
    metrics_show_requests_by_route_and_transitions_by_kind,
    readyz_is_degraded_with_a_reason_while_credentials_fail_or_rows_are_dead,
    readyz_answers_503_while_the_schema_is_behind,
    every_response_carries_a_request_id,
);
