//! The path every Web API request takes: the faults in a fixed order (delay → authentication →
//! throttling → timeout/5xx), then the operation or the `$batch`, then the answer delay.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::auth::bearer_token;
use crate::batch;
use crate::faults::injected_server_error;
use crate::odata::{self, Resource, Target};
use crate::response::{ApiError, SimResponse, codes};
use crate::state::SimState;
use crate::stats::bump;
use crate::throttle::Admission;

/// What a browser-oriented sign-in redirect looks like to an API client that follows it.
const SIGN_IN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in to your account</title></head>\
<body><form method=\"post\" action=\"/tenant-sim/login\"><p>Sign in</p></form></body></html>\n";

pub(crate) async fn web_api(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bump(&state.stats.requests_total);
    if state.faults.retry_after_pending(Instant::now()) {
        bump(&state.stats.requests_during_retry_after);
    }
    if let Some(refusal) = refuse_before_handling(&state, &headers).await {
        return refusal;
    }

    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let addressed = Target::from_path_and_query(path_and_query)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                codes::RESOURCE_NOT_FOUND,
                "The request is not addressed to the Web API.",
            )
        })
        .and_then(|target| {
            Resource::parse(target.path, &state.config).map(|resource| (resource, target.query))
        });
    // Inside a batch the server-error share applies per operation; the batch as a whole has its own.
    let is_batch = matches!(addressed, Ok((Resource::Batch, _)));
    let inject = if is_batch {
        state.faults.roll_batch_error()
    } else {
        state.faults.roll_server_error()
    };
    if inject {
        bump(&state.stats.server_errors);
        return injected_server_error().into_response();
    }

    let response = if is_batch && method == Method::POST {
        // The batch counts its operations' answers itself.
        batch::execute(&state, &headers, &body).into_response()
    } else {
        let response = match addressed {
            Ok((resource, query)) => {
                odata::execute(&state, &method, resource, query, &headers, &body)
            }
            Err(error) => SimResponse::from(error),
        };
        state.note_answer(&response);
        response.into_response()
    };
    let answer_delay = state.faults.answer_delay();
    if !answer_delay.is_zero() && !state.pause(answer_delay).await {
        return shutting_down();
    }
    response
}

/// The faults that answer before the request is looked at, in Dataverse's order: latency,
/// authentication, throttling, then a hang.
async fn refuse_before_handling(state: &SimState, headers: &HeaderMap) -> Option<Response> {
    let delay = state.faults.delay();
    if !delay.is_zero() && !state.pause(delay).await {
        return Some(shutting_down());
    }
    if !is_authorized(state, headers) {
        return Some(unauthorized(state));
    }
    if let Admission::Throttled { retry_after_secs } = state.faults.admit(Instant::now()) {
        return Some(throttled(state, retry_after_secs));
    }
    let hang = state.faults.roll_hang()?;
    bump(&state.stats.timeouts);
    Some(if state.pause(hang).await {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            codes::NONE,
            "The request timed out (simulated).",
        )
        .into_response()
    } else {
        shutting_down()
    })
}

fn is_authorized(state: &SimState, headers: &HeaderMap) -> bool {
    let Some(token) = bearer_token(headers) else {
        return false;
    };
    !state.faults.credentials_rejected() && state.tokens().is_valid(token, Instant::now())
}

/// Dataverse's 401: an empty body and a `WWW-Authenticate` challenge naming the authority; or, with
/// the HTML fault, a sign-in page that a careless client might take for data.
fn unauthorized(state: &SimState) -> Response {
    bump(&state.stats.unauthorized);
    let base = &state.base_url;
    let challenge =
        format!("Bearer authorization_uri={base}/tenant-sim/oauth2/authorize, resource_id={base}/");
    let response = SimResponse::new(StatusCode::UNAUTHORIZED)
        .with_header(header::WWW_AUTHENTICATE, &challenge);
    if state.faults.html_on_unauthorized() {
        SimResponse {
            body: Bytes::from_static(SIGN_IN_PAGE.as_bytes()),
            ..response.with_header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        }
        .into_response()
    } else {
        response.into_response()
    }
}

fn throttled(state: &SimState, retry_after_secs: u64) -> Response {
    bump(&state.stats.throttled_responses);
    SimResponse::from(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        codes::REQUEST_LIMIT_EXCEEDED,
        "Number of requests exceeded the limit of the service protection window (simulated).",
    ))
    .with_header(header::RETRY_AFTER, &retry_after_secs.to_string())
    .into_response()
}

fn shutting_down() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::NONE,
        "The simulator is shutting down.",
    )
    .into_response()
}
