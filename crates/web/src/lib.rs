//! The HTTP layer of mentor-status: the JSON API under `/api/v1`, authentication, health endpoints.
//! Handlers are generic over the Store; they parse, call the engine, and shape JSON. No SQL here.

pub mod auth;
mod dto;
mod idempotency;
mod json;
mod problem;
mod routes;
mod state;
mod user_cache;

use std::future::Future;

use axum::Router;
use engine::Engine;
use store::Store;

pub use auth::TokenKeys;
pub use problem::ApiError;

use state::AppState;

/// The whole application: API and health endpoints.
pub fn app<S: Store>(engine: Engine<S>, tokens: TokenKeys) -> Router {
    routes::router(AppState::new(engine, tokens))
}

/// Serve `app` on `listener` until `shutdown` completes, then finish in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
