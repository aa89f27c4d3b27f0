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
    let store = state.engine.store();
    let database = match store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let migrations = match store.schema_status().await {
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
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"database": database, "migrations": migrations},
    });
    (status, Json(body))
}
