//! A JSON body extractor whose rejections speak our problem format and name the offending field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::ApiError;

pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::BadRequest(
                "the body must be JSON with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Syntax errors are 400; a well-formed body with a wrong or missing field is 422 naming the field.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(format!("malformed JSON: {inner}"));
        }
        let path = e.path().to_string();
        let message = inner.to_string();
        let field = match (missing_field(&message), path.as_str()) {
            (Some(missing), ".") => missing,
            (Some(missing), parent) => format!("{parent}.{missing}"),
            (None, ".") => "body".to_owned(),
            (None, _) => path,
        };
        ApiError::invalid(&field, strip_position(&message))
    })?;
    // Trailing characters after the JSON value make the body malformed.
    deserializer
        .end()
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// serde reports a missing field at its parent's path; name the field itself.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// serde_json appends " at line L column C"; the field name is the useful part.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        reason: String,
        resume_on: Option<chrono::NaiveDate>,
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Invalid(errors) => errors[0].field.clone(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed() {
        assert!(matches!(
            parse::<Body>(b"{\"reason\": "),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{"reason": "a"} x"#),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(
            field_of(parse::<Body>(br#"{"reason": "x", "resume_on": "2026-13-01"}"#).unwrap_err()),
            "resume_on"
        );
        assert_eq!(field_of(parse::<Body>(br#"{}"#).unwrap_err()), "reason");
        assert_eq!(
            field_of(parse::<Body>(br#"{"reason": 5}"#).unwrap_err()),
            "reason"
        );
    }
}
