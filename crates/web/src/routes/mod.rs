mod health;
mod me;
mod mentors;
mod notifications;
mod operations;
mod pagination;
mod sync;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use store::Store;
use tower_http::trace::TraceLayer;

use crate::auth::authenticate;
use crate::idempotency::idempotency;
use crate::state::AppState;

pub(crate) fn router<S: Store>(state: AppState<S>) -> Router {
    let api = Router::new()
        .route("/me", get(me::show::<S>))
        .route("/me/pause", post(me::pause::<S>))
        .route("/me/resume", post(me::resume::<S>))
        .route(
            "/mentors",
            get(mentors::list::<S>).post(mentors::create::<S>),
        )
        .route(
            "/mentors/{id}",
            get(mentors::show::<S>).patch(mentors::update::<S>),
        )
        .route("/mentors/{id}/pause", post(mentors::pause::<S>))
        .route("/mentors/{id}/resume", post(mentors::resume::<S>))
        .route("/mentors/{id}/deactivate", post(mentors::deactivate::<S>))
        .route("/mentors/{id}/reactivate", post(mentors::reactivate::<S>))
        .route("/mentors/{id}/certifications", post(mentors::certify::<S>))
        .route("/mentors/{id}/history", get(mentors::history::<S>))
        .route("/mentors/{id}/reminders", get(operations::reminders::<S>))
        .route("/mentors/{id}/sync", post(sync::force_mentor::<S>))
        .route("/sync/push", post(sync::force_org::<S>))
        .route("/sync/retry", post(sync::retry_dead::<S>))
        .route("/sync/status", get(sync::status::<S>))
        .route(
            "/org/settings",
            get(operations::settings::<S>).put(operations::update_settings::<S>),
        )
        .route("/runs", get(operations::runs::<S>))
        .route("/alerts", get(operations::alerts::<S>))
        .route("/alerts/{id}/ack", post(operations::acknowledge_alert::<S>))
        .route("/notifications", get(notifications::list::<S>))
        .route(
            "/notifications/{id}/read",
            post(notifications::mark_read::<S>),
        )
        // Layers run outside-in: authentication first, so the idempotency key is scoped to the user.
        .layer(from_fn_with_state(state.clone(), idempotency::<S>))
        .layer(from_fn_with_state(state.clone(), authenticate::<S>));

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .fallback(|| async { crate::ApiError::NotFound })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
