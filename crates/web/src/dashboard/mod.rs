//! The coordinators' dashboard: server-rendered HTML pages (askama, auto-escaped) with plain forms
//! that work without JavaScript, in Norwegian or English, behind a password login with server-side
//! sessions and anti-CSRF tokens. Handlers call the same engine workflows as the JSON API; roles
//! are the API's (coordinators and admins manage their organisation, a mentor sees themself).
//!
//! Every successful action answers with a redirect to a page (post/redirect/get); a refused one
//! shows the page again with the reason and a 4xx status.

mod login;
mod mentors;
mod operations;
mod session;
mod views;
mod words;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::{Locale, OrgId};
use engine::{Engine, EngineError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use store::{Org, OrgStore, Store};

use crate::state::AppState;

/// How the dashboard's sessions and cookies behave. Put on the application with
/// [`crate::with_dashboard_config`]; without it the defaults apply.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// Mark cookies `Secure` on every response (the service is reached over HTTPS, but the proxy in
    /// front does not send `X-Forwarded-Proto: https`, which also makes them `Secure`).
    pub secure_cookies: bool,
    /// Take the client address for the login rate limit from the last `X-Forwarded-For` entry;
    /// only behind a proxy that sets it (otherwise clients could choose their address).
    pub trust_forwarded_for: bool,
    /// A session unused this long ends.
    pub idle_timeout: chrono::Duration,
    /// A session ends this long after login, however busy.
    pub absolute_timeout: chrono::Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            secure_cookies: false,
            trust_forwarded_for: false,
            idle_timeout: chrono::Duration::hours(1),
            absolute_timeout: chrono::Duration::hours(12),
        }
    }
}

/// The dashboard's state: the application's, plus what only pages need.
#[derive(Clone)]
pub(crate) struct Dash<S> {
    pub app: AppState<S>,
    pub orgs: Arc<OrgCache>,
    /// When expired sessions and old login failures were last removed.
    pub housekeeping: Arc<Mutex<Option<DateTime<Utc>>>>,
    pub login_locks: Arc<LoginLocks>,
}

/// Login attempts for one account, and from one address, take their turn in this instance: each
/// counts the failures before it and records its own before the next looks, so a burst of parallel
/// guesses gets no more tries than a patient guesser. (Striped: unrelated accounts sometimes wait
/// for each other, for the length of one password check.)
pub(crate) struct LoginLocks {
    accounts: Vec<tokio::sync::Mutex<()>>,
    addresses: Vec<tokio::sync::Mutex<()>>,
}

const LOGIN_LOCK_STRIPES: usize = 64;

impl Default for LoginLocks {
    fn default() -> Self {
        let stripes = || {
            (0..LOGIN_LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect()
        };
        LoginLocks {
            accounts: stripes(),
            addresses: stripes(),
        }
    }
}

impl LoginLocks {
    /// The turn of an attempt at `account` from `address`. Always the account's lock first, then
    /// the address's, so two attempts never wait for each other in a circle.
    pub async fn turn(
        &self,
        account: &str,
        address: &str,
    ) -> (
        tokio::sync::MutexGuard<'_, ()>,
        tokio::sync::MutexGuard<'_, ()>,
    ) {
        let stripe = |key: &str| {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            (hasher.finish() % LOGIN_LOCK_STRIPES as u64) as usize
        };
        let account = self.accounts[stripe(account)].lock().await;
        let address = self.addresses[stripe(address)].lock().await;
        (account, address)
    }
}

/// Organisations and their language, read at most every few seconds: every page needs them.
#[derive(Default)]
pub(crate) struct OrgCache {
    entries: RwLock<HashMap<OrgId, (Instant, Org, Locale)>>,
}

/// How long an organisation's language is trusted; a change by another instance shows after this.
const ORG_TTL: Duration = Duration::from_secs(5);

impl OrgCache {
    pub async fn get<S: OrgStore>(
        &self,
        engine: &Engine<S>,
        id: OrgId,
    ) -> Result<(Org, Locale), EngineError> {
        if let Some((at, org, locale)) = self.entries.read().expect("org cache poisoned").get(&id)
            && at.elapsed() < ORG_TTL
        {
            return Ok((org.clone(), *locale));
        }
        let (org, locale) = engine.org_and_locale(id).await?;
        let mut entries = self.entries.write().expect("org cache poisoned");
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(id, (Instant::now(), org.clone(), locale));
        Ok((org, locale))
    }

    /// Forget an organisation after its settings changed here.
    pub fn forget(&self, id: OrgId) {
        self.entries
            .write()
            .expect("org cache poisoned")
            .remove(&id);
    }
}

/// The dashboard's routes, merged into the application's router.
pub(crate) fn router<S: Store>(app: AppState<S>) -> Router<AppState<S>> {
    let dash = Dash {
        app,
        orgs: Arc::default(),
        housekeeping: Arc::default(),
        login_locks: Arc::default(),
    };
    let pages = Router::new()
        .route("/mentors", get(mentors::list::<S>))
        .route("/mentors/{id}", get(mentors::show::<S>))
        .route("/mentors/{id}/pause", post(mentors::pause::<S>))
        .route("/mentors/{id}/resume", post(mentors::resume::<S>))
        .route("/mentors/{id}/deactivate", post(mentors::deactivate::<S>))
        .route("/mentors/{id}/reactivate", post(mentors::reactivate::<S>))
        .route("/mentors/{id}/certifications", post(mentors::renew::<S>))
        .route("/mentors/{id}/sync", post(mentors::force_sync::<S>))
        .route("/sync", get(operations::sync::<S>))
        .route("/sync/retry", post(operations::retry::<S>))
        .route("/sync/push", post(operations::push_all::<S>))
        .route("/alerts", get(operations::alerts::<S>))
        .route("/alerts/{id}/ack", post(operations::acknowledge::<S>))
        .route("/runs", get(operations::runs::<S>))
        .route(
            "/settings",
            get(operations::settings::<S>).post(operations::save_settings::<S>),
        )
        .route("/logout", post(login::logout::<S>))
        .route_layer(from_fn_with_state(
            dash.clone(),
            session::require_session::<S>,
        ));
    Router::new()
        .route("/", get(login::home::<S>))
        .route("/login", get(login::form::<S>).post(login::submit::<S>))
        .route("/assets/dashboard.css", get(stylesheet))
        .merge(pages)
        .layer(map_response(security_headers))
        .with_state(dash)
}

const STYLESHEET: &str = include_str!("../../templates/dashboard/dashboard.css");

async fn stylesheet() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Pages are private and never framed; scripts are not used at all.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("x-frame-options"),
        HeaderValue::from_static("DENY"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A list position as an opaque query value (the API's encoding).
pub(crate) fn encode_cursor<C: Serialize>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("cursors serialise"))
}

/// A query value from [`encode_cursor`]; anything else is no cursor (the first page).
pub(crate) fn decode_cursor<C: DeserializeOwned>(raw: Option<&str>) -> Option<C> {
    let bytes = URL_SAFE_NO_PAD.decode(raw?).ok()?;
    serde_json::from_slice(&bytes).ok()
}
