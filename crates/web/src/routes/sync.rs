//! The public listing sync: force sync (one mentor, or the organisation), retry of dead letters, and
//! the sync health numbers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::MentorId;
use engine::sync::SyncStatusView;
use serde::{Deserialize, Serialize};
use store::Store;

use super::mentors::MentorPath;
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::json::ApiJson;
use crate::state::AppState;

#[derive(Serialize)]
pub(super) struct Queued {
    /// Outbox rows queued (0 when one at this priority was already waiting).
    queued: u64,
}

#[derive(Serialize)]
pub(super) struct Retried {
    /// Dead outbox rows put back in the queue.
    retried: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetryInput {
    /// Only this mentor's dead rows; all of the organisation's when absent.
    mentor_id: Option<MentorId>,
}

/// `POST /mentors/{id}/sync`: queue the mentor at high priority; the relay pushes it next.
pub(super) async fn force_mentor<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.engine.force_sync(&user, id).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// `POST /sync/push`: queue every linked mentor of the organisation (admins).
pub(super) async fn force_org<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    let queued = state.engine.force_sync_org(&user).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

/// `POST /sync/retry`: dead letters back in the queue.
pub(super) async fn retry_dead<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<RetryInput>,
) -> Result<(StatusCode, Json<Retried>), ApiError> {
    let retried = state.engine.retry_dead_sync(&user, input.mentor_id).await?;
    Ok((StatusCode::ACCEPTED, Json(Retried { retried })))
}

pub(super) async fn status<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<SyncStatusView>, ApiError> {
    Ok(Json(state.engine.sync_status(&user).await?))
}
