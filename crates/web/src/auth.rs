//! Who is calling: the bearer token (see [`TokenKeys`]) checked on every API request, and the
//! user it names, read from our database (role and organisation always come from there).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use store::{User, UserStore};

pub use crate::tokens::{MIN_SECRET_BYTES, TokenKeys};

use crate::ApiError;
use crate::state::AppState;

/// The authenticated caller, put into request extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub(crate) struct CurrentUser(pub User);

/// Middleware: a valid bearer token naming a known user, or 401.
pub(crate) async fn authenticate<S: UserStore>(
    State(state): State<AppState<S>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("an Authorization: Bearer token is required".into())
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    let subject = state.tokens.verify(token)?;
    let user = match state.users.get(&subject) {
        Some(user) => user,
        None => {
            let user = state
                .engine
                .user_by_subject(&subject)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("the token names no known user".into()))?;
            state.users.put(&subject, user.clone());
            user
        }
    };
    request.extensions_mut().insert(CurrentUser(user));
    Ok(next.run(request).await)
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("authentication is required".into()))
    }
}
