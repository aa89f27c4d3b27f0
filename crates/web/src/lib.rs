//! The HTTP layer of mentor-status: the JSON API under `/api/v1`, authentication, health endpoints,
//! and the coordinators' dashboard (HTML pages, see `dashboard`).
//! Handlers are generic over the Store; they parse, call the engine, and shape JSON. No SQL here.

pub mod auth;
mod dashboard;
mod dto;
mod idempotency;
mod json;
mod observability;
mod openapi;
mod problem;
mod routes;
mod state;
mod tokens;
mod user_cache;

use std::future::Future;

use axum::Router;
use engine::Engine;
use store::Store;

pub use auth::TokenKeys;
pub use dashboard::DashboardConfig;
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use observability::{REQUEST_ID_HEADER, describe_metrics, prometheus_builder};
pub use openapi::ApiRoute;
pub use problem::ApiError;

use state::AppState;

/// The whole application: API and health endpoints.
pub fn app<S: Store>(engine: Engine<S>, tokens: TokenKeys) -> Router {
    routes::router(AppState::new(engine, tokens))
}

/// [`app`] with `GET /metrics`: the series of the recorder behind `handle` (installed by the
/// caller, once per process), with the database gauges `sampler` reads refreshed on each scrape.
pub fn app_with_metrics<S: Store>(
    engine: Engine<S>,
    tokens: TokenKeys,
    handle: PrometheusHandle,
    sampler: engine::metrics::GaugeSampler<S>,
) -> Router {
    let endpoint = state::MetricsEndpoint { handle, sampler };
    routes::router(AppState::new(engine, tokens).with_metrics(endpoint))
}

/// The OpenAPI 3.1 document of [`app`] (served at `GET /api/v1/openapi.json`) and every route of its
/// router, both from the one route table.
pub fn api_description<S: Store>() -> (utoipa::openapi::OpenApi, Vec<ApiRoute>) {
    routes::description::<S>()
}

/// `app` with the dashboard configured (cookies, session lifetimes); without it the defaults of
/// [`DashboardConfig`] apply.
pub fn with_dashboard_config(app: Router, config: DashboardConfig) -> Router {
    app.layer(axum::Extension(config))
}

/// Serve `app` on `listener` until `shutdown` completes, then finish in-flight requests. Handlers
/// see each connection's peer address (the dashboard's login rate limit counts by it).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
