//! Organisation settings, the run log, alerts, and a mentor's reminder ledger.

use axum::Json;
use axum::extract::{Path, Query, State};
use engine::{SettingsInput, SettingsView};
use serde::Deserialize;
use store::{RunId, Store};
use uuid::Uuid;

use super::mentors::MentorPath;
use super::pagination;
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{AlertDto, List, ReminderDto, RunDto};
use crate::json::ApiJson;
use crate::state::AppState;

pub(super) async fn settings<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(state.engine.settings(&user).await?))
}

pub(super) async fn update_settings<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(state.engine.update_settings(&user, input).await?))
}

pub(super) async fn reminders<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<Json<List<ReminderDto>>, ApiError> {
    let items = state.engine.reminders(&user, id).await?;
    Ok(Json(List {
        items: items.into_iter().map(ReminderDto::from).collect(),
        next_cursor: None,
    }))
}

#[derive(Deserialize)]
pub(super) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
    open: Option<String>,
}

pub(super) async fn runs<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<RunDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<RunId>(params.cursor.as_deref())?;
    let page = state.engine.runs(&user, limit, before).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(RunDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

pub(super) async fn alerts<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<AlertDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let open_only = match params.open.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("open", "must be true or false")),
    };
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<Uuid>(params.cursor.as_deref())?;
    let page = state.engine.alerts(&user, open_only, limit, before).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(AlertDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

pub(super) async fn acknowledge_alert<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<AlertDto>, ApiError> {
    let id: Uuid = raw
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))?;
    Ok(Json(
        state.engine.acknowledge_alert(&user, id).await?.into(),
    ))
}
