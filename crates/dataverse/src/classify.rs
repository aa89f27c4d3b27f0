//! Turning HTTP outcomes (status, headers, body, transport errors) into [`DataverseError`]s.
//!
//! Shared by single requests and by the parts of a `$batch` response, so one operation is
//! classified the same way whichever route it took.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::DataverseError;

/// Wait used when a 429 carries no usable `Retry-After`.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Upper bound on a `Retry-After`, so a garbage header cannot stall the client for days
/// (or overflow an `Instant`).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// Longest piece of a response body quoted in an error detail.
const MAX_DETAIL_CHARS: usize = 500;

pub(crate) const HTML_INSTEAD_OF_JSON: &str =
    "received an HTML page instead of JSON — sign-in redirect?";

/// Classifies a response that did not succeed (or a batch part that did not).
pub(crate) fn classify_failure(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> DataverseError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return DataverseError::Throttled {
            retry_after: retry_after(headers, SystemTime::now()),
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return DataverseError::Transient {
            detail: error_detail(status, body),
        };
    }
    if status.is_redirection() {
        return DataverseError::Unauthorized {
            detail: redirect_detail(status, headers),
        };
    }
    if is_html(headers, body) {
        return DataverseError::Unauthorized {
            detail: format!("{HTML_INSTEAD_OF_JSON} (HTTP {})", status.as_u16()),
        };
    }
    match status {
        StatusCode::UNAUTHORIZED => DataverseError::Unauthorized {
            detail: unauthorized_detail(headers, body),
        },
        StatusCode::FORBIDDEN => DataverseError::Forbidden {
            detail: error_detail(status, body),
        },
        StatusCode::NOT_FOUND => DataverseError::NotFound {
            detail: error_detail(status, body),
        },
        _ => DataverseError::Permanent {
            status: status.as_u16(),
            detail: error_detail(status, body),
        },
    }
}

/// Parses the JSON body of a successful response. An HTML page or bytes that are not JSON at
/// all mean something other than Dataverse answered (typically a sign-in page), hence
/// `Unauthorized`; well-formed JSON of the wrong shape is a `Permanent` surprise.
pub(crate) fn parse_success_json<T: DeserializeOwned>(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, DataverseError> {
    if is_html(headers, body) {
        return Err(DataverseError::Unauthorized {
            detail: format!("{HTML_INSTEAD_OF_JSON} (HTTP {})", status.as_u16()),
        });
    }
    serde_json::from_slice(body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => DataverseError::Permanent {
            status: status.as_u16(),
            detail: format!("unexpected JSON shape in the response: {err}"),
        },
        _ => DataverseError::Unauthorized {
            detail: format!(
                "expected JSON but the response could not be parsed ({err}) — sign-in redirect?"
            ),
        },
    })
}

/// A `text/html` content type, or a body that opens like markup.
pub(crate) fn is_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let declared_html = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().contains("text/html"));
    declared_html || body.trim_ascii_start().starts_with(b"<")
}

/// The wait a 429 asks for: `Retry-After` as delay-seconds (Dataverse's form) or an HTTP date;
/// [`DEFAULT_RETRY_AFTER`] when missing or unparsable.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Duration {
    let header = headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok());
    parse_retry_after(header, now)
}

fn parse_retry_after(header: Option<&str>, now: SystemTime) -> Duration {
    let Some(value) = header.map(str::trim) else {
        return DEFAULT_RETRY_AFTER;
    };
    let parsed = if let Ok(seconds) = value.parse::<f64>() {
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(MAX_RETRY_AFTER.as_secs_f64())))
    } else {
        httpdate::parse_http_date(value)
            .ok()
            .map(|at| at.duration_since(now).unwrap_or(Duration::ZERO))
    };
    parsed.map_or(DEFAULT_RETRY_AFTER, |wait| wait.min(MAX_RETRY_AFTER))
}

/// The Dataverse error body: `{"error":{"code":"…","message":"…"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorPayload,
}

#[derive(Deserialize)]
struct ErrorPayload {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The Dataverse error message (with its code when it has one), else the start of the raw body,
/// else just the status.
pub(crate) fn error_detail(status: StatusCode, body: &[u8]) -> String {
    if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
        let message = truncate(error.message.trim());
        return match error.code.trim() {
            "" => message,
            code => format!("{message} (code {code})"),
        };
    }
    let text = String::from_utf8_lossy(body);
    match text.trim() {
        "" => format!("HTTP {status}"),
        text => format!("HTTP {status}: {}", truncate(text)),
    }
}

/// A 401 often has an empty body; `WWW-Authenticate` then says why.
fn unauthorized_detail(headers: &HeaderMap, body: &[u8]) -> String {
    let detail = error_detail(StatusCode::UNAUTHORIZED, body);
    match headers
        .get(WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
    {
        Some(challenge) => format!("{detail}; WWW-Authenticate: {}", truncate(challenge)),
        None => detail,
    }
}

/// Names where a redirect pointed, without its query string (which may carry request ids).
fn redirect_detail(status: StatusCode, headers: &HeaderMap) -> String {
    let target = headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(|location| location.split(['?', '#']).next().unwrap_or(location));
    match target {
        Some(target) => format!(
            "redirected (HTTP {}) to {} — sign-in redirect?",
            status.as_u16(),
            truncate(target)
        ),
        None => format!("redirected (HTTP {}) — sign-in redirect?", status.as_u16()),
    }
}

/// Maps a failure to get any response at all.
pub(crate) fn transport_error(err: &reqwest::Error, timeout: Duration) -> DataverseError {
    let detail = if err.is_timeout() {
        format!("no complete response within {timeout:?}")
    } else {
        error_chain(err)
    };
    DataverseError::Transient { detail }
}

/// "outer: cause: root cause": reqwest's own message alone rarely says what failed.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap()))
            .collect()
    }

    fn json_headers() -> HeaderMap {
        headers(&[(CONTENT_TYPE, "application/json; odata.metadata=minimal")])
    }

    fn classify(status: u16, headers: &HeaderMap, body: &str) -> DataverseError {
        classify_failure(
            StatusCode::from_u16(status).unwrap(),
            headers,
            body.as_bytes(),
        )
    }

    const MISSING: &str =
        r#"{"error":{"code":"0x80040217","message":"contact With Id = 1 Does Not Exist"}}"#;

    #[test]
    fn statuses_map_to_their_kinds() {
        let h = json_headers();
        assert!(matches!(
            classify(404, &h, MISSING),
            DataverseError::NotFound { .. }
        ));
        assert!(matches!(
            classify(403, &h, MISSING),
            DataverseError::Forbidden { .. }
        ));
        assert!(matches!(
            classify(401, &h, ""),
            DataverseError::Unauthorized { .. }
        ));
        for transient in [408, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(transient, &h, MISSING),
                    DataverseError::Transient { .. }
                ),
                "{transient}"
            );
        }
        for permanent in [400, 405, 409, 412, 413] {
            assert_eq!(
                classify(permanent, &h, MISSING),
                DataverseError::Permanent {
                    status: permanent,
                    detail: "contact With Id = 1 Does Not Exist (code 0x80040217)".to_owned()
                }
            );
        }
    }

    #[test]
    fn the_dataverse_error_message_becomes_the_detail() {
        let empty_code = r#"{"error":{"code":"","message":"contact With Id = 7 Does Not Exist"}}"#;
        assert_eq!(
            classify(404, &json_headers(), empty_code),
            DataverseError::NotFound {
                detail: "contact With Id = 7 Does Not Exist".to_owned()
            }
        );
    }

    #[test]
    fn bodies_that_are_not_dataverse_errors_still_give_a_detail() {
        assert_eq!(
            error_detail(StatusCode::BAD_REQUEST, b"plain words"),
            "HTTP 400 Bad Request: plain words"
        );
        assert_eq!(
            error_detail(StatusCode::BAD_GATEWAY, b""),
            "HTTP 502 Bad Gateway"
        );
        let long = "x".repeat(2000);
        let detail = error_detail(StatusCode::BAD_REQUEST, long.as_bytes());
        assert!(detail.chars().count() < 600, "{}", detail.len());
    }

    #[test]
    fn html_where_json_was_expected_is_unauthorized() {
        let html = headers(&[(CONTENT_TYPE, "text/html; charset=utf-8")]);
        let page = "<!DOCTYPE html><html><body>Sign in to your account</body></html>";
        for status in [200, 400, 401, 404] {
            let error = classify(status, &html, page);
            assert!(
                matches!(&error, DataverseError::Unauthorized { detail } if detail.contains("HTML page")),
                "{status}: {error:?}"
            );
        }
        // Markup without a content type is recognised too.
        assert!(matches!(
            classify(404, &HeaderMap::new(), "  <html>"),
            DataverseError::Unauthorized { .. }
        ));
        // A gateway's HTML error page is still a server error.
        assert!(matches!(
            classify(502, &html, page),
            DataverseError::Transient { .. }
        ));
    }

    #[test]
    fn redirects_are_sign_in_redirects() {
        let h = headers(&[(
            LOCATION,
            "https://login.microsoftonline.com/common/oauth2/authorize?client_id=abc",
        )]);
        let error = classify(302, &h, "");
        let DataverseError::Unauthorized { detail } = error else {
            panic!("{error:?}");
        };
        assert!(detail.contains("login.microsoftonline.com"), "{detail}");
        assert!(!detail.contains("client_id"), "{detail}");
    }

    #[test]
    fn unauthorized_mentions_the_bearer_challenge() {
        let h = headers(&[(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")]);
        let DataverseError::Unauthorized { detail } = classify(401, &h, "") else {
            panic!("expected Unauthorized");
        };
        assert!(detail.contains("invalid_token"), "{detail}");
    }

    #[test]
    fn throttled_reads_retry_after() {
        let h = headers(&[(RETRY_AFTER, "7")]);
        assert_eq!(
            classify(429, &h, ""),
            DataverseError::Throttled {
                retry_after: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |value| parse_retry_after(value, now);
        assert_eq!(parse(Some("12")), Duration::from_secs(12));
        assert_eq!(parse(Some(" 0 ")), Duration::ZERO);
        assert_eq!(parse(Some("1.5")), Duration::from_millis(1500));
        assert_eq!(parse(None), DEFAULT_RETRY_AFTER);
        assert_eq!(parse(Some("soon")), DEFAULT_RETRY_AFTER);
        assert_eq!(parse(Some("-3")), DEFAULT_RETRY_AFTER);
        assert_eq!(parse(Some("NaN")), DEFAULT_RETRY_AFTER);
        assert_eq!(parse(Some("99999999999999")), MAX_RETRY_AFTER);
        let in_ten_seconds = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse(Some(&in_ten_seconds)), Duration::from_secs(10));
        let in_the_past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(parse(Some(&in_the_past)), Duration::ZERO);
    }

    #[test]
    fn success_bodies_must_be_json() {
        #[derive(Deserialize, Debug)]
        struct Shape {
            value: u32,
        }
        let ok = parse_success_json::<Shape>(StatusCode::OK, &json_headers(), br#"{"value":1}"#);
        assert_eq!(ok.map(|shape| shape.value), Ok(1));
        let garbage = parse_success_json::<Shape>(StatusCode::OK, &json_headers(), b"nope");
        assert!(matches!(garbage, Err(DataverseError::Unauthorized { .. })));
        let html = headers(&[(CONTENT_TYPE, "text/html")]);
        let page = parse_success_json::<Shape>(StatusCode::OK, &html, b"<html></html>");
        assert!(
            matches!(&page, Err(DataverseError::Unauthorized { detail }) if detail.contains("HTML page"))
        );
        let wrong_shape =
            parse_success_json::<Shape>(StatusCode::OK, &json_headers(), br#"{"other":1}"#);
        assert!(matches!(
            wrong_shape,
            Err(DataverseError::Permanent { status: 200, .. })
        ));
    }
}
