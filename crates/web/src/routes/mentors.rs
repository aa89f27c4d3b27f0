//! Coordinators' mentor endpoints.

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;
use domain::{Action, MentorId, MentorStatus, Reason};
use engine::{CertificationInput, MentorInput, MentorPatchInput};
use serde::Deserialize;
use store::{ChangeStore, MentorCursor, MentorFilter, MentorStore, OrgStore};
use utoipa::{IntoParams, ToSchema};

use super::pagination::{self, HistoryPageParams, MentorPageParams};
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{HistoryDto, List, MentorDto};
use crate::json::ApiJson;
use crate::openapi::{BadRequest, Conflict, Forbidden, InvalidField, NotFound};
use crate::state::AppState;

/// Longest search text we accept; longer is certainly not a name or email.
const MAX_QUERY_CHARS: usize = 200;
/// The widest expiry window a filter may ask for.
const MAX_EXPIRING_WITHIN_DAYS: u32 = 3650;

/// The `{id}` path segment, parsed; a malformed id is a 400 in our problem format.
pub(crate) struct MentorPath(pub MentorId);

impl<S: Send + Sync> FromRequestParts<S> for MentorPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        pagination::uuid(&raw)
            .map(|id| MentorPath(MentorId(id)))
            .ok_or_else(|| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseBody {
    #[schema(value_type = domain::Reason)]
    reason: String,
    /// The day the mentor is resumed automatically: later than the organisation's today.
    #[serde(default)]
    resume_on: Option<NaiveDate>,
}

pub(crate) fn pause_action(body: PauseBody) -> Result<Action, ApiError> {
    let reason = Reason::parse(&body.reason).map_err(|e| ApiError::invalid("reason", e.0))?;
    Ok(Action::Pause {
        reason,
        resume_on: body.resume_on,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeactivateBody {
    #[schema(value_type = domain::Reason)]
    reason: String,
}

/// Filters of the mentor list. Kept as text and parsed by the handler, so a bad value is a 422
/// naming its parameter.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// Only mentors with this status.
    #[param(value_type = Option<MentorStatus>)]
    status: Option<String>,
    /// Only mentors whose current certification's last valid day is at most this many days from
    /// today (lapsed ones included).
    #[param(value_type = Option<u32>, minimum = 0, maximum = 3650)]
    expiring_within_days: Option<String>,
    /// Search in names and emails (case-insensitive); blank: no search.
    #[param(schema_with = query_text_schema)]
    q: Option<String>,
}

fn query_text_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .max_length(Some(MAX_QUERY_CHARS))
        .pattern(Some(domain::text::NO_CONTROL_PATTERN))
        .build()
}

/// The organisation's mentors, by name.
#[utoipa::path(
    get,
    path = "/api/v1/mentors",
    tag = "mentors",
    operation_id = "list_mentors",
    params(ListParams, MentorPageParams),
    responses(
        (status = 200, description = "A page of mentors", body = List<MentorDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn list<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
    page: Result<Query<MentorPageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<MentorDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(page) = page.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = MentorFilter {
        status: params
            .status
            .as_deref()
            .map(|s| {
                s.parse::<MentorStatus>()
                    .map_err(|e| ApiError::invalid("status", e.to_string()))
            })
            .transpose()?,
        expiring_within_days: params
            .expiring_within_days
            .as_deref()
            .map(|raw| {
                pagination::whole_number::<u32>(raw)
                    .filter(|d| *d <= MAX_EXPIRING_WITHIN_DAYS)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "expiring_within_days",
                            format!("must be a whole number from 0 to {MAX_EXPIRING_WITHIN_DAYS}"),
                        )
                    })
            })
            .transpose()?,
        query: match params.q {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS || q.chars().any(char::is_control) => {
                return Err(ApiError::invalid(
                    "q",
                    format!(
                        "must be at most {MAX_QUERY_CHARS} characters, none of them control characters"
                    ),
                ));
            }
            q => q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()),
        },
    };
    let limit = pagination::limit(page.limit.as_deref())?;
    let cursor = pagination::decode::<MentorCursor>(page.cursor.as_deref())?;
    let (page, today) = state
        .engine
        .list_mentors(&user, filter, limit, cursor)
        .await?;
    let sync_enabled = state.engine.sync_enabled(user.org_id);
    Ok(Json(List {
        items: page
            .items
            .into_iter()
            .map(|m| {
                let sync_state = engine::sync::sync_state(&m, sync_enabled);
                MentorDto::new(m, today, sync_state)
            })
            .collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}

/// Register a mentor: `active` with a valid certification, else `certification_expired`.
#[utoipa::path(
    post,
    path = "/api/v1/mentors",
    tag = "mentors",
    operation_id = "create_mentor",
    request_body = MentorInput,
    responses(
        (status = 201, description = "The new mentor", body = MentorDto),
        (status = 403, response = Forbidden),
    )
)]
pub(super) async fn create<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<MentorInput>,
) -> Result<(StatusCode, Json<MentorDto>), ApiError> {
    let mentor = state.engine.register_mentor(&user, input).await?;
    Ok((StatusCode::CREATED, Json(mentor.into())))
}

/// A mentor, with the current certification (`days_left`) and sync state.
#[utoipa::path(
    get,
    path = "/api/v1/mentors/{id}",
    tag = "mentors",
    operation_id = "get_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    responses(
        (status = 200, description = "The mentor", body = MentorDto),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn show<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(state.engine.mentor(&user, id).await?.into()))
}

/// Change a mentor's details: absent fields stay, `null` or a blank text clears an optional one.
#[utoipa::path(
    patch,
    path = "/api/v1/mentors/{id}",
    tag = "mentors",
    operation_id = "update_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    request_body = MentorPatchInput,
    responses(
        (status = 200, description = "The mentor, changed", body = MentorDto),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn update<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(input): ApiJson<MentorPatchInput>,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(
        state.engine.update_mentor(&user, id, input).await?.into(),
    ))
}

/// Pause a mentor, until `resume_on` if given (a later date than today).
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/pause",
    tag = "mentors",
    operation_id = "pause_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    request_body = PauseBody,
    responses(
        (status = 200, description = "The mentor, paused", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn pause<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(body): ApiJson<PauseBody>,
) -> Result<Json<MentorDto>, ApiError> {
    let action = pause_action(body)?;
    Ok(Json(state.engine.request(&user, id, action).await?.into()))
}

/// Resume a paused mentor (into `certification_expired` if it lapsed meanwhile).
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/resume",
    tag = "mentors",
    operation_id = "resume_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    responses(
        (status = 200, description = "The mentor, resumed", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn resume<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(
        state
            .engine
            .request(&user, id, Action::Resume)
            .await?
            .into(),
    ))
}

/// Deactivate a mentor: no longer a mentor, and not listed.
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/deactivate",
    tag = "mentors",
    operation_id = "deactivate_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    request_body = DeactivateBody,
    responses(
        (status = 200, description = "The mentor, inactive", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn deactivate<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(body): ApiJson<DeactivateBody>,
) -> Result<Json<MentorDto>, ApiError> {
    let reason = Reason::parse(&body.reason).map_err(|e| ApiError::invalid("reason", e.0))?;
    Ok(Json(
        state
            .engine
            .request(&user, id, Action::Deactivate { reason })
            .await?
            .into(),
    ))
}

/// Reactivate an inactive mentor (`active`, or `certification_expired` without a valid certification).
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/reactivate",
    tag = "mentors",
    operation_id = "reactivate_mentor",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    responses(
        (status = 200, description = "The mentor, reactivated", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn reactivate<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(
        state
            .engine
            .request(&user, id, Action::Reactivate)
            .await?
            .into(),
    ))
}

/// Register a renewal: it becomes the current certification, and lifts `certification_expired`.
#[utoipa::path(
    post,
    path = "/api/v1/mentors/{id}/certifications",
    tag = "mentors",
    operation_id = "register_certification",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id")),
    request_body = CertificationInput,
    responses(
        (status = 201, description = "The mentor, with the new certification", body = MentorDto),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(super) async fn certify<S: MentorStore + OrgStore + ChangeStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(input): ApiJson<CertificationInput>,
) -> Result<(StatusCode, Json<MentorDto>), ApiError> {
    let mentor = state
        .engine
        .register_certification(&user, id, input)
        .await?;
    Ok((StatusCode::CREATED, Json(mentor.into())))
}

/// A mentor's status history, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/mentors/{id}/history",
    tag = "mentors",
    operation_id = "mentor_history",
    params(("id" = uuid::Uuid, Path, description = "The mentor's id"), HistoryPageParams),
    responses(
        (status = 200, description = "A page of status changes", body = List<HistoryDto>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = InvalidField),
    )
)]
pub(super) async fn history<S: MentorStore + OrgStore>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    params: Result<Query<HistoryPageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<HistoryDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = pagination::limit(params.limit.as_deref())?;
    let before = pagination::decode::<i64>(params.cursor.as_deref())?;
    let page = state.engine.history(&user, id, limit, before).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(HistoryDto::from).collect(),
        next_cursor: page.next.as_ref().map(pagination::encode),
    }))
}
