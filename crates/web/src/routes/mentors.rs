//! Coordinators' mentor endpoints.

use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::NaiveDate;
use domain::{Action, MentorId, MentorStatus, Reason};
use engine::{CertificationInput, MentorInput, MentorPatchInput};
use serde::Deserialize;
use store::{MentorCursor, MentorFilter, Store};

use super::pagination;
use crate::ApiError;
use crate::auth::CurrentUser;
use crate::dto::{HistoryDto, List, MentorDto};
use crate::json::ApiJson;
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
        raw.parse()
            .map(MentorPath)
            .map_err(|_| ApiError::BadRequest(format!("`{raw}` is not a valid id (a UUID)")))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseBody {
    reason: String,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeactivateBody {
    reason: String,
}

#[derive(Deserialize)]
pub(super) struct ListParams {
    status: Option<String>,
    expiring_within_days: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) async fn list<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List<MentorDto>>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let filter = MentorFilter {
        status: params
            .status
            .as_deref()
            .map(|s| {
                s.parse::<MentorStatus>()
                    .map_err(|e| ApiError::invalid("status", e))
            })
            .transpose()?,
        expiring_within_days: params
            .expiring_within_days
            .as_deref()
            .map(|raw| {
                raw.parse::<u32>()
                    .ok()
                    .filter(|d| *d <= MAX_EXPIRING_WITHIN_DAYS)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "expiring_within_days",
                            format!("must be a whole number from 0 to {MAX_EXPIRING_WITHIN_DAYS}"),
                        )
                    })
            })
            .transpose()?,
        query: match params
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
        {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                return Err(ApiError::invalid(
                    "q",
                    format!("must be at most {MAX_QUERY_CHARS} characters"),
                ));
            }
            other => other,
        },
    };
    let limit = pagination::limit(params.limit.as_deref())?;
    let cursor = pagination::decode::<MentorCursor>(params.cursor.as_deref())?;
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

pub(super) async fn create<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    ApiJson(input): ApiJson<MentorInput>,
) -> Result<(StatusCode, Json<MentorDto>), ApiError> {
    let mentor = state.engine.register_mentor(&user, input).await?;
    Ok((StatusCode::CREATED, Json(mentor.into())))
}

pub(super) async fn show<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(state.engine.mentor(&user, id).await?.into()))
}

pub(super) async fn update<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(input): ApiJson<MentorPatchInput>,
) -> Result<Json<MentorDto>, ApiError> {
    Ok(Json(
        state.engine.update_mentor(&user, id, input).await?.into(),
    ))
}

pub(super) async fn pause<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    ApiJson(body): ApiJson<PauseBody>,
) -> Result<Json<MentorDto>, ApiError> {
    let action = pause_action(body)?;
    Ok(Json(state.engine.request(&user, id, action).await?.into()))
}

pub(super) async fn resume<S: Store>(
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

pub(super) async fn deactivate<S: Store>(
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

pub(super) async fn reactivate<S: Store>(
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

pub(super) async fn certify<S: Store>(
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

#[derive(Deserialize)]
pub(super) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) async fn history<S: Store>(
    State(state): State<AppState<S>>,
    CurrentUser(user): CurrentUser,
    MentorPath(id): MentorPath,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
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
