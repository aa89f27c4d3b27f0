//! The caller's in-app notifications.

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::NotificationId;
use serde::Deserialize;
use store::Store;

use super::pagination;
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{List, NotificationDto};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct ListParams {
    unread: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<NotificationDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let unread_only = match params.unread.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("unread", "must be true or false")),
    };
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<NotificationId>(params.cursor.as_deref())?;
    let page = state
        .engine
        .store()
        .notifications(&user, unread_only, limit, before)
        .await?;
    Ok(Json(List {
        items: page.items.into_iter().map(NotificationDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

pub(super) async fn mark_read<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<NotificationDto>, ApiError> {
    let id: NotificationId = raw
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))?;
    let at = state.engine.clock().now();
    let notification = state
        .engine
        .store()
        .mark_notification_read(&user, id, at)
        .await?;
    Ok(Json(notification.into()))
}
