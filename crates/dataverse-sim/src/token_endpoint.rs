//! The Entra ID (Azure AD) v2.0 token endpoint, client-credentials grant only, with Entra's error
//! bodies: `{"error":"…","error_description":"AADSTS…: …","error_codes":[…],…}`.
//!
//! Errors are answered with 400, as the project's reference says. (Real Entra has been seen to answer
//! `invalid_client` with 401; a client should treat any 4xx here as a credential failure.)

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::CredentialCheck;
use crate::state::SimState;
use crate::stats::bump;

pub(crate) const TOKEN_PATH: &str = "/tenant-sim/oauth2/v2.0/token";

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// An Entra error: the OAuth error name, the AADSTS number and its description.
struct EntraError {
    error: &'static str,
    code: u32,
    description: String,
}

impl EntraError {
    fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        EntraError {
            error,
            code,
            description: description.into(),
        }
    }

    fn missing(parameter: &str) -> Self {
        EntraError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    fn wrong_secret(client_id: &str) -> Self {
        EntraError::new(
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the \
                 client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let trace_id = Uuid::new_v4();
        let correlation_id = Uuid::new_v4();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        });
        (StatusCode::BAD_REQUEST, no_store(), Json(body)).into_response()
    }
}

pub(crate) async fn issue_token(
    State(state): State<Arc<SimState>>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    bump(&state.stats.token_requests);
    // A body that is not a form reads to Entra as a request without its parameters.
    let outcome = form
        .map_err(|_| EntraError::missing("grant_type"))
        .and_then(|Form(form)| grant(&state, form));
    match outcome {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn grant(state: &SimState, form: TokenForm) -> Result<Response, EntraError> {
    let grant_type = form
        .grant_type
        .ok_or_else(|| EntraError::missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = form
        .client_id
        .ok_or_else(|| EntraError::missing("client_id"))?;
    let scope = form.scope.ok_or_else(|| EntraError::missing("scope"))?;
    if !scope.ends_with("/.default") {
        return Err(EntraError::new(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have \
                 a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let Some(secret) = form.client_secret else {
        return Err(EntraError::new(
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the \
             'client_credentials' grant type.",
        ));
    };
    if state.faults.credentials_rejected() {
        return Err(EntraError::wrong_secret(&client_id));
    }

    let mut tokens = state.tokens();
    match tokens.check_credentials(&client_id, &secret) {
        CredentialCheck::UnknownClient => Err(EntraError::new(
            "invalid_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        )),
        CredentialCheck::WrongSecret => Err(EntraError::wrong_secret(&client_id)),
        CredentialCheck::Valid => {
            let lifetime = tokens.lifetime().as_secs();
            let access_token = tokens.issue(Instant::now());
            let body = json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access_token,
            });
            Ok((StatusCode::OK, no_store(), Json(body)).into_response())
        }
    }
}

/// Token answers must never be cached.
fn no_store() -> [(header::HeaderName, &'static str); 1] {
    [(header::CACHE_CONTROL, "no-store, no-cache")]
}
