//! Organisation settings, the run log, alerts, and a mentor's reminder ledger.

use axum::Json;
use axum::extract::{Path, Query, State};
use engine::{SettingsInput, SettingsView};
use serde::Deserialize;
use store::{AlertStore, ExpiryStore, FindingStore, MentorStore, OrgStore, RunId, RunStore};
use utoipa::IntoParams;
use uuid::Uuid;

use super::mentors::MentorPath;
use super::pagination::{self, FindingPageParams, PageParams};
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{AlertDto, FindingDto, List, ReminderDto, RunDto};
use crate::json::ApiJson;
use crate::openapi::{BadRequest, Forbidden, InvalidField, NotFound};
use crate::state::AppState;

/// The organisation's settings: stored thresholds and those that apply, email, language, flags.
#[utoipa::path(
    get,
    path = "/api/v1/org/settings",
    tag = "operations",
    operation_id = "get_settings",
    responses(
        (status = 200, description = "The settings", body = SettingsView),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn settings<S: OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(state.engine.settings(&user).await?))
}

/// Change the organisation's settings (admins).
#[utoipa::path(
    put,
    path = "/api/v1/org/settings",
    tag = "operations",
    operation_id = "update_settings",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "The settings, changed", body = SettingsView),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn update_settings<S: OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Json<SettingsView>, ApiError> {
    Ok(Json(state.engine.update_settings(&user, input).await?))
}

/// A mentor's reminder ledger: every (threshold, expiry date) decision, sent or skipped.
#[utoipa::path(
    get,
    path = "/api/v1/mentors/{id}/reminders",
    tag = "operations",
    operation_id = "mentor_reminders",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    responses(
        (status = 200, description = "All of the mentor's reminder decisions (one page)", body = List<ReminderDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn reminders<S: MentorStore + OrgStore + ExpiryStore>(
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct AlertFilter {
    /// Only open (unresolved) alerts.
    #[param(value_type = Option<bool>)]
    open: Option<String>,
}

/// The job run log, newest first (coordinators, admins).
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "operations",
    operation_id = "list_runs",
    params(PageParams),
    responses(
        (status = 200, description = "A page of runs", body = List<RunDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn runs<S: RunStore>(
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

/// The reconciliation log, newest first (coordinators, admins): what the nightly listing sync found
/// (drift, missing records) and what the compensation check found (duplicate effects).
#[utoipa::path(
    get,
    path = "/api/v1/findings",
    tag = "operations",
    operation_id = "list_findings",
    params(FindingPageParams),
    responses(
        (status = 200, description = "A page of findings", body = List<FindingDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn findings<S: FindingStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<FindingPageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<FindingDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<i64>(params.cursor.as_deref())?;
    let page = state.engine.findings(&user, limit, before).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(FindingDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

/// Alerts for the operations team, newest first (coordinators, admins).
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "operations",
    operation_id = "list_alerts",
    params(AlertFilter, PageParams),
    responses(
        (status = 200, description = "A page of alerts", body = List<AlertDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn alerts<S: AlertStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    filter: Result<Query<AlertFilter>, axum::extract::rejection::QueryRejection>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<AlertDto>>, ApiError> {
    let Query(AlertFilter { open }) = filter.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let open_only = match open.as_deref() {
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

/// Acknowledge an alert: someone is on it. It stays open until its cause is gone.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/{id}/ack",
    tag = "operations",
    operation_id = "acknowledge_alert",
    params(("id" = uuid::Uuid, Path, description = "The alert's id")),
    responses(
        (status = 200, description = "The alert, acknowledged", body = AlertDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn acknowledge_alert<S: AlertStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<AlertDto>, ApiError> {
    let id = pagination::uuid(&raw)
        .ok_or_else(|| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))?;
    Ok(Json(
        state.engine.acknowledge_alert(&user, id).await?.into(),
    ))
}
