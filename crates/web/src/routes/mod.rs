mod health;
mod me;
mod mentors;
mod notifications;
mod operations;
mod pagination;
mod sync;

use axum::Router;
use axum::middleware::from_fn_with_state;
use store::Store;
use utoipa::openapi::OpenApi;

use crate::auth::authenticate;
use crate::idempotency::idempotency;
use crate::observability::Instrument;
use crate::openapi::{Access, ApiRoute, ApiRoutes};
use crate::state::AppState;

pub(crate) fn router<S: Store>(state: AppState<S>) -> Router {
    let (authenticated, public) = table::<S>();
    let (routes, _, _) = authenticated
        // Layers run outside-in: authentication first, so the idempotency key is scoped to the user.
        .map_router(|api| {
            api.layer(from_fn_with_state(state.clone(), idempotency::<S>))
                .layer(from_fn_with_state(state.clone(), authenticate::<S>))
        })
        .merge(public)
        .finish();

    Router::new()
        .merge(routes)
        // The coordinators' dashboard: HTML pages at `/`, `/login`, `/mentors`, …
        .merge(crate::dashboard::router(state.clone()))
        .fallback(|| async { crate::ApiError::NotFound })
        .instrumented()
        .with_state(state)
}

/// Every route of the JSON API (authenticated) and of the service (public), each registered with its
/// OpenAPI operation: the router and `GET /api/v1/openapi.json` come from this one table.
fn table<S: Store>() -> (ApiRoutes<S>, ApiRoutes<S>) {
    let api = ApiRoutes::new(Access::Authenticated)
        .add::<me::__path_show, _, _>(me::show::<S>)
        .add::<me::__path_pause, _, _>(me::pause::<S>)
        .add::<me::__path_resume, _, _>(me::resume::<S>)
        .add::<mentors::__path_list, _, _>(mentors::list::<S>)
        .add::<mentors::__path_create, _, _>(mentors::create::<S>)
        .add::<mentors::__path_show, _, _>(mentors::show::<S>)
        .add::<mentors::__path_update, _, _>(mentors::update::<S>)
        .add::<mentors::__path_pause, _, _>(mentors::pause::<S>)
        .add::<mentors::__path_resume, _, _>(mentors::resume::<S>)
        .add::<mentors::__path_deactivate, _, _>(mentors::deactivate::<S>)
        .add::<mentors::__path_reactivate, _, _>(mentors::reactivate::<S>)
        .add::<mentors::__path_certify, _, _>(mentors::certify::<S>)
        .add::<mentors::__path_history, _, _>(mentors::history::<S>)
        .add::<operations::__path_reminders, _, _>(operations::reminders::<S>)
        .add::<sync::__path_force_mentor, _, _>(sync::force_mentor::<S>)
        .add::<sync::__path_force_org, _, _>(sync::force_org::<S>)
        .add::<sync::__path_retry_dead, _, _>(sync::retry_dead::<S>)
        .add::<sync::__path_status, _, _>(sync::status::<S>)
        .add::<operations::__path_settings, _, _>(operations::settings::<S>)
        .add::<operations::__path_update_settings, _, _>(operations::update_settings::<S>)
        .add::<operations::__path_runs, _, _>(operations::runs::<S>)
        .add::<operations::__path_findings, _, _>(operations::findings::<S>)
        .add::<operations::__path_alerts, _, _>(operations::alerts::<S>)
        .add::<operations::__path_acknowledge_alert, _, _>(operations::acknowledge_alert::<S>)
        .add::<notifications::__path_list, _, _>(notifications::list::<S>)
        .add::<notifications::__path_mark_read, _, _>(notifications::mark_read::<S>);
    let service = ApiRoutes::new(Access::Public)
        .add::<crate::openapi::__path_healthz, _, _>(health::healthz)
        .add::<crate::openapi::__path_readyz, _, _>(health::readyz::<S>)
        .add::<crate::openapi::__path_metrics, _, _>(crate::observability::metrics::<S>);
    (api, service)
}

/// The OpenAPI document and the routes of the router, from the same table.
pub(crate) fn description<S: Store>() -> (OpenApi, Vec<ApiRoute>) {
    let (authenticated, public) = table::<S>();
    let (_, openapi, routes) = authenticated.merge(public).finish();
    (openapi, routes)
}
