//! Web API answers as plain values, so the same answer can be sent directly or rendered as a part of a
//! `$batch` response, and Dataverse's JSON error body.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

/// The Content-Type Dataverse sends with JSON payloads and errors.
pub(crate) const ODATA_JSON: &str = "application/json; odata.metadata=minimal";

pub(crate) const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");
pub(crate) const ODATA_ENTITY_ID: HeaderName = HeaderName::from_static("odata-entityid");
pub(crate) const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");

/// One Web API answer.
#[derive(Debug)]
pub(crate) struct SimResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl SimResponse {
    pub(crate) fn new(status: StatusCode) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(ODATA_VERSION, HeaderValue::from_static("4.0"));
        SimResponse {
            status,
            headers,
            body: Bytes::new(),
        }
    }

    pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Self {
        // The simulator's own bodies (maps with string keys) always serialize; still, never panic.
        let (status, body) = match serde_json::to_vec(body) {
            Ok(bytes) => (status, bytes),
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": {"code": codes::UNEXPECTED, "message": error.to_string()}})
                    .to_string()
                    .into_bytes(),
            ),
        };
        SimResponse {
            body: Bytes::from(body),
            ..SimResponse::new(status)
        }
        .with_header(header::CONTENT_TYPE, ODATA_JSON)
    }

    /// Adds a header; values are built by the simulator itself (URLs, numbers), so an invalid one is a
    /// bug worth a log line rather than a failed request.
    pub(crate) fn with_header(mut self, name: impl Into<HeaderName>, value: &str) -> Self {
        let name = name.into();
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers.insert(name, value);
            }
            Err(_) => tracing::warn!(%name, value, "dropping a header value that is not valid"),
        }
        self
    }
}

impl IntoResponse for SimResponse {
    fn into_response(self) -> Response {
        (self.status, self.headers, self.body).into_response()
    }
}

/// A Web API error, answered with Dataverse's body `{"error":{"code":"…","message":"…"}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// Dataverse's error code (often a hex code, sometimes empty).
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// Dataverse error codes the simulator answers with.
pub(crate) mod codes {
    pub(crate) const INVALID_ARGUMENT: &str = "0x80040203";
    pub(crate) const OBJECT_DOES_NOT_EXIST: &str = "0x80040217";
    pub(crate) const DUPLICATE_RECORD: &str = "0x80040237";
    pub(crate) const VERSION_MISMATCH: &str = "0x80060882";
    pub(crate) const PRIVILEGE_DENIED: &str = "0x80040220";
    pub(crate) const REQUEST_LIMIT_EXCEEDED: &str = "0x80072322";
    pub(crate) const UNEXPECTED: &str = "0x80040216";
    pub(crate) const RESOURCE_NOT_FOUND: &str = "0x8006088a";
    /// Dataverse leaves the code empty on some errors (e.g. gateway timeouts).
    pub(crate) const NONE: &str = "";
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_ARGUMENT, message)
    }

    /// An error for a status chosen by a test (`Faults::fail_contact`), with a plausible code.
    pub(crate) fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => codes::INVALID_ARGUMENT,
            StatusCode::FORBIDDEN => codes::PRIVILEGE_DENIED,
            StatusCode::NOT_FOUND => codes::OBJECT_DOES_NOT_EXIST,
            StatusCode::PRECONDITION_FAILED => codes::VERSION_MISMATCH,
            StatusCode::TOO_MANY_REQUESTS => codes::REQUEST_LIMIT_EXCEEDED,
            StatusCode::INTERNAL_SERVER_ERROR => codes::UNEXPECTED,
            _ => codes::NONE,
        };
        ApiError::new(status, code, message)
    }
}

impl From<ApiError> for SimResponse {
    fn from(error: ApiError) -> Self {
        SimResponse::json(
            error.status,
            &json!({"error": {"code": error.code, "message": error.message}}),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        SimResponse::from(self).into_response()
    }
}
