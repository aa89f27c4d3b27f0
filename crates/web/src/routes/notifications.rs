//! The caller's in-app notifications.

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::NotificationId;
use serde::Deserialize;
use store::NotificationStore;
use utoipa::IntoParams;

use super::pagination::{self, PageParams};
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{List, NotificationDto};
use crate::openapi::{BadRequest, InvalidField, NotFound};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UnreadFilter {
    /// Only unread notifications.
    #[param(value_type = Option<bool>)]
    unread: Option<String>,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    operation_id = "list_notifications",
    params(UnreadFilter, PageParams),
    responses(
        (status = 200, description = "A page of notifications", body = List<NotificationDto>),
        (status = 400, response = BadRequest),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn list<S: NotificationStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    filter: Result<Query<UnreadFilter>, axum::extract::rejection::QueryRejection>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<NotificationDto>>, ApiError> {
    let Query(UnreadFilter { unread }) = filter.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let unread_only = match unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("unread", "must be true or false")),
    };
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<NotificationId>(params.cursor.as_deref())?;
    let page = state
        .engine
        .notifications(&user, unread_only, limit, before)
        .await?;
    Ok(Json(List {
        items: page.items.into_iter().map(NotificationDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/read",
    tag = "notifications",
    operation_id = "mark_notification_read",
    params(("id" = uuid::Uuid, Path, description = "The notification's id")),
    responses(
        (status = 200, description = "The notification, read", body = NotificationDto),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn mark_read<S: NotificationStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<NotificationDto>, ApiError> {
    let id = pagination::uuid(&raw)
        .map(NotificationId)
        .ok_or_else(|| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))?;
    let notification = state.engine.mark_notification_read(&user, id).await?;
    Ok(Json(notification.into()))
}
