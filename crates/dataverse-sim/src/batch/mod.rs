//! `POST $batch`: independent operations run in order, each answered in its own response part.
//!
//! Without `Prefer: odata.continue-on-error` the batch stops at the first failing operation and the
//! outer status is that operation's status (the body still holds the parts up to and including the
//! failure), as the project's Dataverse reference describes. With the preference the outer status is
//! 200, every operation runs, and `Preference-Applied: odata.continue-on-error` is sent.

mod parse;
mod render;

use axum::http::{HeaderMap, StatusCode, header};
use uuid::Uuid;

use crate::faults::injected_server_error;
use crate::odata::{self, Preferences, Resource, Target};
use crate::response::{ApiError, PREFERENCE_APPLIED, SimResponse, codes};
use crate::state::SimState;
use crate::stats::bump;
use render::PartResponse;

pub(crate) fn execute(state: &SimState, headers: &HeaderMap, body: &[u8]) -> SimResponse {
    run(state, headers, body).unwrap_or_else(SimResponse::from)
}

fn run(state: &SimState, headers: &HeaderMap, body: &[u8]) -> Result<SimResponse, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let boundary = parse::boundary(content_type)?;
    let body = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("The $batch body is not valid UTF-8."))?;
    let operations = parse::parse(body, &boundary)?;
    let limit = state.config.max_batch_operations;
    if operations.len() > limit {
        return Err(ApiError::bad_request(format!(
            "Number of requests in the batch is {}, which exceeds the limit of {limit}.",
            operations.len()
        )));
    }
    let continue_on_error = Preferences::from_headers(headers).continue_on_error;
    bump(&state.stats.batch_requests);

    let mut parts = Vec::with_capacity(operations.len());
    let mut outer_status = StatusCode::OK;
    for operation in operations {
        bump(&state.stats.batch_operations);
        let response = run_operation(state, &operation);
        let status = response.status;
        parts.push(PartResponse {
            content_id: operation.content_id,
            response,
        });
        if !status.is_success() && !continue_on_error {
            outer_status = status;
            break;
        }
    }

    let response_boundary = format!("batchresponse_{}", Uuid::new_v4());
    let response = SimResponse {
        body: render::render(&response_boundary, &parts).into(),
        ..SimResponse::new(outer_status)
    }
    .with_header(
        header::CONTENT_TYPE,
        &format!("multipart/mixed; boundary={response_boundary}"),
    );
    Ok(if continue_on_error {
        response.with_header(PREFERENCE_APPLIED, "odata.continue-on-error")
    } else {
        response
    })
}

/// One operation, with the per-operation share of injected server errors.
fn run_operation(state: &SimState, operation: &parse::Operation) -> SimResponse {
    let response = if state.faults.roll_server_error() {
        bump(&state.stats.server_errors);
        SimResponse::from(injected_server_error())
    } else {
        match Target::from_batch_url(&operation.url) {
            Some(target) => match Resource::parse(target.path, &state.config) {
                Ok(resource) => odata::execute(
                    state,
                    &operation.method,
                    resource,
                    target.query,
                    &operation.headers,
                    operation.body.as_bytes(),
                ),
                Err(error) => SimResponse::from(error),
            },
            None => SimResponse::from(ApiError::new(
                StatusCode::NOT_FOUND,
                codes::RESOURCE_NOT_FOUND,
                format!("'{}' is not a URL of this Web API.", operation.url),
            )),
        }
    };
    state.note_answer(&response);
    response
}
