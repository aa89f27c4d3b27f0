use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use store::Store;

use crate::state::AppState;

/// Alive: the process answers. Says nothing about dependencies.
pub(super) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready: the database answers and its schema is the one this build expects.
pub(super) async fn readyz<S: Store>(
    State(state): State<AppState<S>>,
) -> (StatusCode, Json<Value>) {
    let engine = &state.engine;
    let database = match engine.ping_database().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let migrations = match engine.schema_status().await {
        Ok(s) if s.is_current() => "current".to_owned(),
        Ok(s) => format!("pending ({} of {} applied)", s.applied, s.known),
        Err(_) => "unknown".to_owned(),
    };
    let ready = database == "ok" && migrations == "current";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Integrations never make the service unready: a degraded one is reported, still 200.
    let (integrations, degraded) = if ready {
        integration_checks(&state.engine).await
    } else {
        (serde_json::Map::new(), false)
    };
    let body = json!({
        "status": match (ready, degraded) {
            (false, _) => "not_ready",
            (true, true) => "degraded",
            (true, false) => "ready",
        },
        "checks": {"database": database, "migrations": migrations, "integrations": integrations},
    });
    (status, Json(body))
}

/// Each Dynamics integration's health by organisation slug, and whether any is degraded.
async fn integration_checks<S: Store>(
    engine: &engine::Engine<S>,
) -> (serde_json::Map<String, Value>, bool) {
    match engine.integration_health().await {
        Ok(health) => {
            let degraded = health.iter().any(|h| h.status != "ok");
            let checks = health
                .into_iter()
                .map(|h| {
                    let check = json!({
                        "status": h.status,
                        "reasons": h.reasons,
                        "credentials": h.credentials,
                        "credentials_checked_at": h.credentials_checked_at,
                        "dead_letters": h.dead,
                    });
                    (h.org, check)
                })
                .collect();
            (checks, degraded)
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: integration health unknown");
            let mut checks = serde_json::Map::new();
            checks.insert(
                "*".to_owned(),
                json!({"status": "unknown", "reasons": ["the integrations' state could not be read"]}),
            );
            (checks, engine.listing().is_some())
        }
    }
}
