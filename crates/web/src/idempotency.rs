//! `Idempotency-Key` on mutating POSTs: the first request with a key runs and its response is kept;
//! the same key with the same request replays it; the same key with another request is 422.
//! The key is claimed by inserting it first (never check-then-insert), so two racing copies of one
//! request cannot both run.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use store::{IdempotencyBegin, IdempotencyStore, StoredResponse};

use crate::ApiError;
use crate::auth::CurrentUser;
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
pub(crate) const MAX_KEY_LEN: usize = 255;
/// Bodies of the API are small; anything larger is not a request we would keep.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A claimed key whose request never finished (the process died) may be reused after this long.
const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(2);

pub(crate) async fn idempotency<S: IdempotencyStore>(
    State(state): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1–{MAX_KEY_LEN} visible ASCII characters"
            ))
        })?
        .to_owned();
    let Some(CurrentUser(user)) = request.extensions().get::<CurrentUser>().cloned() else {
        return Ok(next.run(request).await);
    };

    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::BadRequest(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
    })?;
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), parts.uri.query(), &body);

    let engine = &state.engine;
    match engine
        .idempotency_begin(user.id, &key, &fingerprint, STALE_AFTER)
        .await?
    {
        IdempotencyBegin::Replay(stored) => Ok(replay(stored)),
        IdempotencyBegin::Mismatch => Err(ApiError::invalid(
            "Idempotency-Key",
            "this key was already used for a different request",
        )),
        IdempotencyBegin::InProgress => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        )),
        IdempotencyBegin::Started => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            let (parts, body) = response.into_parts();
            let body = match to_bytes(body, usize::MAX).await {
                Ok(body) => body,
                Err(e) => {
                    engine.idempotency_abandon(user.id, &key).await?;
                    return Err(ApiError::Internal(Box::new(e)));
                }
            };
            if parts.status.is_server_error() {
                // The client may retry a server failure with the same key.
                engine.idempotency_abandon(user.id, &key).await?;
            } else {
                let content_type = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                engine
                    .idempotency_complete(
                        user.id,
                        &key,
                        StoredResponse {
                            status: parts.status.as_u16(),
                            content_type,
                            body: body.to_vec(),
                        },
                    )
                    .await?;
            }
            Ok(Response::from_parts(parts, Body::from(body)))
        }
    }
}

fn fingerprint(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [
        method.as_str().as_bytes(),
        path.as_bytes(),
        query.unwrap_or("").as_bytes(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    format!("{:x}", hash.finalize())
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    if let Ok(content_type) = HeaderValue::from_str(&stored.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_by_every_part() {
        let base = fingerprint(&Method::POST, "/a", None, b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/a", None, b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/b", None, b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/a", Some("x=1"), b"{}"));
        assert_ne!(base, fingerprint(&Method::POST, "/a", None, b"{ }"));
        // Length prefixes keep "/a" + "b" apart from "/ab" + "".
        assert_ne!(
            fingerprint(&Method::POST, "/a", Some("b"), b""),
            fingerprint(&Method::POST, "/ab", None, b"")
        );
    }
}
