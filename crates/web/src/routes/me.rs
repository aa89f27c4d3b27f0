//! The caller themself: who they are, and a mentor pausing or resuming themself.

use axum::Json;
use axum::extract::State;
use domain::Action;
use store::Store;

use super::mentors::{PauseBody, pause_action};
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{MeDto, MentorDto};
use crate::json::ApiJson;
use crate::state::AppState;

pub(super) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<MeDto>, ApiError> {
    let mentor = state.engine.own_mentor(&user).await?;
    Ok(Json(MeDto::new(&user, mentor)))
}

pub(super) async fn pause<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(body): ApiJson<PauseBody>,
) -> Result<Json<MentorDto>, ApiError> {
    let id = own_mentor_id(&user)?;
    let action = pause_action(body)?;
    Ok(Json(state.engine.request(&user, id, action).await?.into()))
}

pub(super) async fn resume<S: Store>(
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
