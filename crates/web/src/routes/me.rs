//! The caller themself: who they are, and a mentor pausing or resuming themself.

use axum::Json;
use axum::extract::State;
use domain::Action;
use store::{ChangeStore, MentorStore, OrgStore};

use super::mentors::{PauseBody, pause_action};
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{MeDto, MentorDto};
use crate::json::ApiJson;
use crate::openapi::{BadRequest, Conflict, Forbidden, InvalidField, NotFound};
use crate::state::AppState;

/// The caller, and their mentor profile if the login is a mentor's.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    operation_id = "me",
    responses(
        (status = 200, description = "The caller", body = MeDto),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn show<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<MeDto>, ApiError> {
    let mentor = state.engine.own_mentor(&user).await?;
    Ok(Json(MeDto::new(&user, mentor)))
}

/// A mentor pauses themself, until `resume_on` if given (a later date than today).
#[utoipa::path(
    post,
    path = "/api/v1/me/pause",
    tag = "me",
    operation_id = "pause_me",
    request_body = PauseBody,
    responses(
        (status = 200, description = "The caller's mentor profile, paused", body = MentorDto),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn pause<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(body): ApiJson<PauseBody>,
) -> Result<Json<MentorDto>, ApiError> {
    let id = own_mentor_id(&user)?;
    let action = pause_action(body)?;
    Ok(Json(state.engine.request(&user, id, action).await?.into()))
}

/// A paused mentor resumes themself (into `certification_expired` if it lapsed meanwhile).
#[utoipa::path(
    post,
    path = "/api/v1/me/resume",
    tag = "me",
    operation_id = "resume_me",
    responses(
        (status = 200, description = "The caller's mentor profile, resumed", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(super) async fn resume<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<MentorDto>, ApiError> {
    let id = own_mentor_id(&user)?;
    Ok(Json(
        state
            .engine
            .request(&user, id, Action::Resume)
            .await?
            .into(),
    ))
}

fn own_mentor_id(user: &store::User) -> Result<domain::MentorId, ApiError> {
    user.mentor_id
        .ok_or_else(|| ApiError::Forbidden("this login is not linked to a mentor".into()))
}
