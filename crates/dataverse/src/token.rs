//! OAuth2 client-credentials tokens: acquisition, caching, early refresh, single-flight.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::debug;

use crate::DataverseError;
use crate::classify::{self, HTML_INSTEAD_OF_JSON};

/// A bearer token as handed to requests. `id` tells tokens apart so that a 401 drops only the
/// token it was caused by, not a newer one another task fetched meanwhile.
#[derive(Clone)]
pub(crate) struct AccessToken {
    id: u64,
    value: SecretString,
}

impl AccessToken {
    /// The `Authorization` header value, marked sensitive so it is never printed.
    pub(crate) fn authorization(&self) -> Result<HeaderValue, DataverseError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.value.expose_secret()))
            .map_err(|_| DataverseError::Unauthorized {
                detail:
                    "the token endpoint returned an access token that is not a valid header value"
                        .to_owned(),
            })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    /// Which client secret fetched it: a replaced secret invalidates the token.
    secret_generation: u64,
}

struct ClientSecret {
    value: SecretString,
    generation: u64,
}

pub(crate) struct TokenSource {
    http: reqwest::Client,
    endpoint: Url,
    client_id: String,
    scope: String,
    refresh_margin: Duration,
    request_timeout: Duration,
    secret: Mutex<ClientSecret>,
    /// Held across a refresh, so concurrent callers wait for one token request instead of each
    /// sending their own (single flight).
    cached: tokio::sync::Mutex<Option<CachedToken>>,
    next_token_id: AtomicU64,
}

pub(crate) struct TokenSettings {
    pub endpoint: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scope: String,
    pub refresh_margin: Duration,
    pub request_timeout: Duration,
}

impl TokenSource {
    pub(crate) fn new(http: reqwest::Client, settings: TokenSettings) -> Self {
        Self {
            http,
            endpoint: settings.endpoint,
            client_id: settings.client_id,
            scope: settings.scope,
            refresh_margin: settings.refresh_margin,
            request_timeout: settings.request_timeout,
            secret: Mutex::new(ClientSecret {
                value: settings.client_secret,
                generation: 0,
            }),
            cached: tokio::sync::Mutex::new(None),
            next_token_id: AtomicU64::new(1),
        }
    }

    /// The cached token, or a new one when it is missing, due for refresh, or was fetched with
    /// a secret that has since been replaced.
    pub(crate) async fn current(&self) -> Result<AccessToken, DataverseError> {
        let mut cached = self.cached.lock().await;
        let secret_generation = self.lock_secret().generation;
        if let Some(entry) = cached.as_ref()
            && entry.secret_generation == secret_generation
            && Instant::now() < entry.refresh_at
        {
            return Ok(entry.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Fetches a new token whatever the cache holds (credential checks must prove the
    /// credentials work *now*).
    pub(crate) async fn refresh_now(&self) -> Result<AccessToken, DataverseError> {
        let mut cached = self.cached.lock().await;
        *cached = None;
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `rejected` from the cache (after a 401) unless it was already replaced.
    pub(crate) async fn invalidate(&self, rejected: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|entry| entry.token.id == rejected.id)
        {
            *cached = None;
        }
    }

    /// Uses `secret` from now on; the cached token is ignored from the next call.
    pub(crate) fn replace_secret(&self, secret: SecretString) {
        let mut current = self.lock_secret();
        current.value = secret;
        current.generation += 1;
    }

    async fn fetch(&self) -> Result<CachedToken, DataverseError> {
        let (secret, secret_generation) = {
            let current = self.lock_secret();
            (current.value.clone(), current.generation)
        };
        let started = Instant::now();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .http
            .post(self.endpoint.clone())
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|err| classify::transport_error(&err, self.request_timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|err| classify::transport_error(&err, self.request_timeout))?;
        debug!(
            path = self.endpoint.path(),
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis(),
            "token endpoint answered"
        );
        let granted = interpret_token_response(status, &headers, &body)
            .map_err(|error| redact(error, secret.expose_secret()))?;
        let lifetime = Duration::from_secs(granted.expires_in_seconds);
        let margin = self.refresh_margin.min(lifetime / 2);
        Ok(CachedToken {
            token: AccessToken {
                id: self.next_token_id.fetch_add(1, Ordering::Relaxed),
                value: granted.access_token,
            },
            // Counted from when the request was sent, so a slow answer errs on the early side.
            refresh_at: started + (lifetime - margin),
            secret_generation,
        })
    }

    fn lock_secret(&self) -> std::sync::MutexGuard<'_, ClientSecret> {
        // Replacing a secret is a single assignment plus an increment: a panic cannot leave it
        // half-done, so a poisoned lock is still consistent.
        self.secret
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct GrantedToken {
    access_token: SecretString,
    expires_in_seconds: u64,
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    /// A number from Entra ID v2; some endpoints send it as a string.
    expires_in: Value,
}

#[derive(Deserialize)]
struct TokenErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

fn interpret_token_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<GrantedToken, DataverseError> {
    if status.is_success() {
        return parse_granted_token(headers, body);
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return Err(classify::classify_failure(status, headers, body));
    }
    let detail = match serde_json::from_slice::<TokenErrorBody>(body) {
        Ok(refusal) => format!(
            "the token endpoint refused the client credentials (HTTP {}): {}: {}",
            status.as_u16(),
            refusal.error,
            refusal.error_description.trim()
        ),
        Err(_) if status.is_redirection() || classify::is_html(headers, body) => format!(
            "token endpoint: {HTML_INSTEAD_OF_JSON} (HTTP {})",
            status.as_u16()
        ),
        Err(_) => format!(
            "the token endpoint refused the client credentials: {}",
            classify::error_detail(status, body)
        ),
    };
    Err(DataverseError::Unauthorized { detail })
}

fn parse_granted_token(headers: &HeaderMap, body: &[u8]) -> Result<GrantedToken, DataverseError> {
    let unauthorized = |detail: String| DataverseError::Unauthorized { detail };
    if classify::is_html(headers, body) {
        return Err(unauthorized(format!(
            "token endpoint: {HTML_INSTEAD_OF_JSON}"
        )));
    }
    let parsed: TokenBody = serde_json::from_slice(body).map_err(|err| {
        unauthorized(format!(
            "the token endpoint's answer is not a token response: {err}"
        ))
    })?;
    if parsed.access_token.is_empty() {
        return Err(unauthorized(
            "the token endpoint returned an empty access token".to_owned(),
        ));
    }
    let expires_in_seconds = match &parsed.expires_in {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        unauthorized(format!(
            "the token endpoint returned an unusable expires_in: {}",
            parsed.expires_in
        ))
    })?;
    Ok(GrantedToken {
        access_token: SecretString::from(parsed.access_token),
        expires_in_seconds,
    })
}

/// Belt and braces: should an endpoint ever echo the form back, the secret still stays out of
/// error messages (and therefore logs).
fn redact(error: DataverseError, secret: &str) -> DataverseError {
    let scrub = |detail: String| {
        if secret.is_empty() {
            detail
        } else {
            detail.replace(secret, "[REDACTED]")
        }
    };
    match error {
        DataverseError::Unauthorized { detail } => DataverseError::Unauthorized {
            detail: scrub(detail),
        },
        DataverseError::Transient { detail } => DataverseError::Transient {
            detail: scrub(detail),
        },
        DataverseError::Forbidden { detail } => DataverseError::Forbidden {
            detail: scrub(detail),
        },
        DataverseError::NotFound { detail } => DataverseError::NotFound {
            detail: scrub(detail),
        },
        DataverseError::Permanent { status, detail } => DataverseError::Permanent {
            status,
            detail: scrub(detail),
        },
        throttled @ DataverseError::Throttled { .. } => throttled,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::CONTENT_TYPE;

    use super::*;

    fn json() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    #[test]
    fn a_token_response_gives_the_token_and_its_lifetime() {
        let granted = interpret_token_response(
            StatusCode::OK,
            &json(),
            br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0"}"#,
        )
        .unwrap();
        assert_eq!(granted.access_token.expose_secret(), "eyJ0");
        assert_eq!(granted.expires_in_seconds, 3599);

        let as_string = interpret_token_response(
            StatusCode::OK,
            &json(),
            br#"{"expires_in":"3600","access_token":"t"}"#,
        )
        .unwrap();
        assert_eq!(as_string.expires_in_seconds, 3600);
    }

    #[test]
    fn a_refusal_is_unauthorized_with_the_description() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#;
        let error = interpret_token_response(StatusCode::BAD_REQUEST, &json(), body)
            .err()
            .unwrap();
        let DataverseError::Unauthorized { detail } = error else {
            panic!("{error:?}");
        };
        assert!(detail.contains("invalid_client"), "{detail}");
        assert!(detail.contains("AADSTS7000215"), "{detail}");
    }

    #[test]
    fn non_json_answers_are_unauthorized() {
        let mut html = HeaderMap::new();
        html.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        for (status, headers, body) in [
            (StatusCode::OK, &html, &b"<html>sign in</html>"[..]),
            (StatusCode::OK, &json(), b"not json"),
            (
                StatusCode::OK,
                &json(),
                br#"{"access_token":"","expires_in":1}"#,
            ),
            (
                StatusCode::OK,
                &json(),
                br#"{"access_token":"t","expires_in":-1}"#,
            ),
            (StatusCode::FOUND, &HeaderMap::new(), b""),
            (StatusCode::UNAUTHORIZED, &html, b"<html></html>"),
        ] {
            let result = interpret_token_response(status, headers, body);
            assert!(
                matches!(result, Err(DataverseError::Unauthorized { .. })),
                "{status} {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn server_trouble_at_the_token_endpoint_is_transient_or_throttled() {
        let unavailable =
            interpret_token_response(StatusCode::SERVICE_UNAVAILABLE, &json(), b"").err();
        assert!(matches!(
            unavailable,
            Some(DataverseError::Transient { .. })
        ));
        let throttled = interpret_token_response(StatusCode::TOO_MANY_REQUESTS, &json(), b"").err();
        assert!(matches!(throttled, Some(DataverseError::Throttled { .. })));
    }

    #[test]
    fn an_echoed_secret_is_redacted() {
        let error = DataverseError::Unauthorized {
            detail: "bad request: client_secret=hunter2&scope=x".to_owned(),
        };
        assert_eq!(
            redact(error, "hunter2"),
            DataverseError::Unauthorized {
                detail: "bad request: client_secret=[REDACTED]&scope=x".to_owned()
            }
        );
    }
}
