//! One error type for the whole API, answered as RFC 9457 `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::MentorStatus;
use engine::{EngineError, FieldError, refusal_is_invalid_input};
use serde::Serialize;
use store::StoreError;

pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request cannot be read at all (malformed JSON, bad header).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Unknown id, or an id of another organisation: the same answer, so existence never leaks.
    #[error("not found")]
    NotFound,
    /// The transition table refused the action.
    #[error("{detail}")]
    Refused {
        detail: String,
        current_status: MentorStatus,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Anything we did not expect: logged with its cause, answered opaquely.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }
}

/// An RFC 9457 problem detail, as every error answers (`application/problem+json`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Problem<'a> {
    /// The problem type, e.g. `/problems/invalid-field`.
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    /// The HTTP status code.
    status: u16,
    detail: String,
    /// With `422`: every invalid field, named as the client sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    errors: Option<&'a [FieldError]>,
    /// With a refused transition (`409`): the mentor's status now.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_status: Option<MentorStatus>,
}

impl ApiError {
    /// The status, the problem type and its title.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "/problems/malformed-request",
                "Malformed request",
            ),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "/problems/unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "/problems/forbidden",
                "Not allowed for your role",
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "/problems/not-found", "Not found"),
            ApiError::Refused { .. } => (
                StatusCode::CONFLICT,
                "/problems/transition-refused",
                "Transition refused",
            ),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "/problems/conflict", "Conflict"),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "/problems/invalid-field",
                "Invalid field",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "/problems/unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "/problems/internal",
                "Internal error",
            ),
        }
    }
}

/// The HTTP status of an engine error: the one mapping the API's problems and the dashboard's pages
/// both answer with.
pub(crate) fn status_of(error: &EngineError) -> StatusCode {
    match error {
        EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
        EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        EngineError::Refused { refusal, .. } => match refusal_is_invalid_input(refusal) {
            Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
            None => StatusCode::CONFLICT,
        },
        EngineError::Invalid(_) | EngineError::InvalidRows(_) => StatusCode::UNPROCESSABLE_ENTITY,
        EngineError::Conflict(_) => StatusCode::CONFLICT,
        EngineError::Store(e) => store_status(e),
    }
}

fn store_status(error: &StoreError) -> StatusCode {
    match error {
        StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) => StatusCode::CONFLICT,
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.kind();
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
        let detail = match &self {
            ApiError::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        let problem = Problem {
            kind,
            title,
            status: status.as_u16(),
            detail,
            errors: match &self {
                ApiError::Invalid(errors) => Some(errors),
                _ => None,
            },
            current_status: match &self {
                ApiError::Refused { current_status, .. } => Some(*current_status),
                _ => None,
            },
        };
        let body = serde_json::to_vec(&problem).expect("a problem always serialises");
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound { .. } => ApiError::NotFound,
            EngineError::Forbidden(detail) => ApiError::Forbidden(detail),
            EngineError::Refused { refusal, current } => match refusal_is_invalid_input(&refusal) {
                Some(field) => ApiError::invalid(field, refusal.to_string()),
                None => ApiError::Refused {
                    detail: refusal.to_string(),
                    current_status: current,
                },
            },
            EngineError::Invalid(errors) => ApiError::Invalid(errors),
            EngineError::InvalidRows(rows) => ApiError::Invalid(
                rows.into_iter()
                    .map(|(line, e)| {
                        FieldError::new(format!("line {line}: {}", e.field), e.message)
                    })
                    .collect(),
            ),
            EngineError::Conflict(detail) => ApiError::Conflict(detail),
            EngineError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound,
            StoreError::Unavailable(_) => ApiError::Unavailable(e),
            // A rule of the database refused the write as things stand now.
            StoreError::Conflict(_) => ApiError::Conflict(
                "the request conflicts with the current state of the data; read it again".into(),
            ),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{ActionKind, MentorStatus, Refusal};
    use store::{Conflict, Constraint};

    use super::*;

    /// Every kind of engine error answers the API with the status the one mapping gives.
    #[test]
    fn the_api_answers_every_engine_error_with_the_mapped_status() {
        let errors = || -> Vec<EngineError> {
            vec![
                EngineError::NotFound { entity: "mentor" },
                EngineError::Forbidden("no".into()),
                EngineError::Refused {
                    refusal: Refusal::NotAllowed {
                        action: ActionKind::Resume,
                        status: MentorStatus::Active,
                    },
                    current: MentorStatus::Active,
                },
                EngineError::invalid("email", "bad"),
                EngineError::InvalidRows(vec![(2, FieldError::new("email", "bad"))]),
                EngineError::Conflict("raced".into()),
                EngineError::Store(StoreError::Conflict(Conflict::LostRace)),
                EngineError::Store(StoreError::Conflict(Conflict::Constraint(
                    Constraint::Other("x".into()),
                ))),
                EngineError::Store(StoreError::Unavailable("down".into())),
                EngineError::Store(StoreError::Other("odd".into())),
            ]
        };
        let statuses: Vec<u16> = errors().iter().map(|e| status_of(e).as_u16()).collect();
        assert_eq!(statuses, [404, 403, 409, 422, 422, 409, 409, 409, 503, 500]);
        for (error, status) in errors().into_iter().zip(statuses) {
            let what = error.to_string();
            assert_eq!(ApiError::from(error).kind().0.as_u16(), status, "{what}");
        }
    }
}
