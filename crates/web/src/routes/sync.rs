//! The public listing sync: force sync (one mentor, or the organisation), retry of dead letters, and
//! the sync health numbers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::MentorId;
use engine::sync::SyncStatusView;
use serde::{Deserialize, Serialize};
use store::{ListingOutbox, MentorStore, OrgStore, RunStore};
use utoipa::ToSchema;

use super::mentors::MentorPath;
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::json::ApiJson;
use crate::openapi::{Forbidden, NotFound};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub(super) struct Queued {
    /// Outbox rows queued (0 when one at this priority was already waiting).
    queued: u64,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Retried {
    /// Dead outbox rows put back in the queue.
    retried: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RetryInput {
    /// Only this mentor's dead rows; all of the organisation's when absent.
    mentor_id: Option<MentorId>,
}

/// Force sync: queue the mentor at high priority; the relay pushes it next.
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/sync",
    tag = "sync",
    operation_id = "sync_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn force_mentor<S: MentorStore + OrgStore + ListingOutbox>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.engine.force_sync(&user, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// Queue every linked mentor of the organisation (admins).
#[utoipa::path(
    post,
    path = "/api/v1/sync/push",
    tag = "sync",
    operation_id = "sync_organisation",
    responses(
        (status = 202, description = "Queued", body = Queued),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn force_org<S: MentorStore + OrgStore + ListingOutbox>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.engine.force_sync_org(&user).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// Dead letters back in the queue: one mentor's, or all of the organisation's.
#[utoipa::path(
    post,
    path = "/api/v1/sync/retry",
    tag = "sync",
    operation_id = "retry_dead_letters",
    request_body = RetryInput,
    responses(
        (status = 202, description = "Put back in the queue", body = Retried),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn retry_dead<S: MentorStore + OrgStore + ListingOutbox>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<RetryInput>,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    let retried = state.engine.retry_dead_sync(&user, input.mentor_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Retried { retried })))
}

/// Sync health: pending and dead rows, lag, the last credential check, drift, dead letters.
#[utoipa::path(
    get,
    path = "/api/v1/sync/status",
    tag = "sync",
    operation_id = "sync_status",
    responses(
        (status = 200, description = "The organisation's sync health", body = SyncStatusView),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn status<S: ListingOutbox + RunStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<SyncStatusView>, ApiError> {
    Ok(Json(state.engine.sync_status(&user).await?))
}
