//! Routes one Web API operation (a direct request, or one operation of a `$batch`) to its handler.

use axum::http::{HeaderMap, Method, StatusCode};

use crate::odata::resource::Resource;
use crate::odata::{reads, writes};
use crate::response::{ApiError, SimResponse, codes};
use crate::state::SimState;

/// Runs an operation on a parsed resource. A `POST $batch` is handled by the caller, so meeting
/// `$batch` here means another method, or a batch inside a batch.
pub(crate) fn execute(
    state: &SimState,
    method: &Method,
    resource: Resource,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> SimResponse {
    let outcome = match (resource, method) {
        (Resource::WhoAmI, &Method::GET) => Ok(reads::who_am_i(state)),
        (Resource::Collection, &Method::GET) => reads::collection(state, query, headers),
        (Resource::Record(key), &Method::GET) => reads::record(state, &key, query),
        (Resource::Record(key), &Method::PATCH) => writes::patch(state, &key, headers, body),
        (Resource::Batch, _) => Err(ApiError::bad_request(
            "$batch takes POST, and a batch cannot contain another $batch.",
        )),
        (_, method) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            codes::NONE,
            format!("The simulator does not support {method} on this resource."),
        )),
    };
    outcome.unwrap_or_else(SimResponse::from)
}
