//! The HTTP surface: the token endpoint, the Web API, and a Dataverse-style 404 for anything else.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{any, post};

use crate::pipeline::web_api;
use crate::response::{ApiError, codes};
use crate::state::SimState;
use crate::stats::bump;
use crate::token_endpoint::{TOKEN_PATH, issue_token};

/// Large enough for a full 1,000-operation batch; axum's default of 2 MiB is not.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(issue_token))
        .route("/api/data/v9.2/{*path}", any(web_api))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn not_found(State(state): State<Arc<SimState>>) -> ApiError {
    bump(&state.stats.not_found);
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::RESOURCE_NOT_FOUND,
        "Resource not found: the simulator serves only /api/data/v9.2/ and the token endpoint.",
    )
}
