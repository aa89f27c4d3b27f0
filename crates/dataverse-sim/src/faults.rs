//! Run-time fault control. Every setter takes effect for the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use uuid::Uuid;

use crate::response::{ApiError, codes};
use crate::throttle::{Admission, RateLimit, SlidingWindow};

/// How long an injected hang lasts unless [`Faults::set_timeout_hang`] says otherwise: longer than any
/// sensible client timeout.
const DEFAULT_TIMEOUT_HANG: Duration = Duration::from_secs(30);

/// A handle on the simulator's faults; clones share the same settings.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

struct FaultState {
    rate_limit: Option<SlidingWindow>,
    server_error_share: f64,
    batch_error_share: f64,
    timeout_share: f64,
    timeout_hang: Duration,
    delay: Duration,
    answer_delay: Duration,
    reject_credentials: bool,
    html_on_unauthorized: bool,
    read_lag: Duration,
    failing_contacts: HashMap<Uuid, u16>,
}

impl Default for FaultState {
    fn default() -> Self {
        FaultState {
            rate_limit: None,
            server_error_share: 0.0,
            batch_error_share: 0.0,
            timeout_share: 0.0,
            timeout_hang: DEFAULT_TIMEOUT_HANG,
            delay: Duration::ZERO,
            answer_delay: Duration::ZERO,
            reject_credentials: false,
            html_on_unauthorized: false,
            read_lag: Duration::ZERO,
            failing_contacts: HashMap::new(),
        }
    }
}

impl Faults {
    pub(crate) fn new() -> Self {
        Faults {
            state: Arc::new(Mutex::new(FaultState::default())),
        }
    }

    /// Limit Web API requests (a `$batch` counts as one) with a sliding window. Over the limit: 429 with
    /// `Retry-After` (whole seconds until a slot frees, at least 1); requests sent before that time
    /// are refused the same way. Setting a limit starts a fresh window; `None` lifts it.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.lock().rate_limit = limit.map(SlidingWindow::new);
    }

    /// The share (0.0..=1.0) of Web API requests answered with 500 or 503. Inside a `$batch` it applies
    /// to each operation instead; whole batches fail by [`Faults::set_batch_error_share`].
    pub fn set_server_error_share(&self, share: f64) {
        self.lock().server_error_share = clamp_share(share);
    }

    /// The share (0.0..=1.0) of `$batch` requests answered with 500 or 503 as a whole.
    pub fn set_batch_error_share(&self, share: f64) {
        self.lock().batch_error_share = clamp_share(share);
    }

    /// The share (0.0..=1.0) of Web API requests that hang for the timeout hang, then answer 504.
    pub fn set_timeout_share(&self, share: f64) {
        self.lock().timeout_share = clamp_share(share);
    }

    /// How long an injected hang lasts (default 30 s).
    pub fn set_timeout_hang(&self, hang: Duration) {
        self.lock().timeout_hang = hang;
    }

    /// Latency added to every Web API request.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Hold every Web API answer this long AFTER the request was carried out: the write has landed
    /// but the client does not know yet (a client that dies meanwhile never learns it did).
    pub fn set_answer_delay(&self, delay: Duration) {
        self.lock().answer_delay = delay;
    }

    /// Refuse every client secret (400 `invalid_client`) and every token issued so far (401), as when
    /// the secret expired or the application user was disabled. Lifting it lets old tokens work again.
    pub fn set_reject_credentials(&self, reject: bool) {
        self.lock().reject_credentials = reject;
    }

    /// Answer 401s with an HTML sign-in page (`text/html`) instead of an empty body.
    pub fn set_html_on_unauthorized(&self, html: bool) {
        self.lock().html_on_unauthorized = html;
    }

    /// Serve reads (`GET`) from the records as they were `lag` ago, like a lagging replica or cache.
    /// Exact for lags up to the store's history window (10 minutes).
    pub fn set_read_lag(&self, lag: Duration) {
        self.lock().read_lag = lag;
    }

    /// Answer every write to this contact with `status` and Dataverse's JSON error body.
    pub fn fail_contact(&self, id: Uuid, status: u16) {
        self.lock().failing_contacts.insert(id, status);
    }

    pub fn clear_contact_failure(&self, id: Uuid) {
        self.lock().failing_contacts.remove(&id);
    }

    /// Turn every fault off (a pending `Retry-After` included).
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    pub(crate) fn delay(&self) -> Duration {
        self.lock().delay
    }

    pub(crate) fn answer_delay(&self) -> Duration {
        self.lock().answer_delay
    }

    pub(crate) fn credentials_rejected(&self) -> bool {
        self.lock().reject_credentials
    }

    pub(crate) fn html_on_unauthorized(&self) -> bool {
        self.lock().html_on_unauthorized
    }

    pub(crate) fn read_lag(&self) -> Duration {
        self.lock().read_lag
    }

    pub(crate) fn contact_failure(&self, id: Uuid) -> Option<u16> {
        self.lock().failing_contacts.get(&id).copied()
    }

    pub(crate) fn retry_after_pending(&self, now: Instant) -> bool {
        self.lock()
            .rate_limit
            .as_ref()
            .is_some_and(|window| window.is_blocked(now))
    }

    pub(crate) fn admit(&self, now: Instant) -> Admission {
        match self.lock().rate_limit.as_mut() {
            Some(window) => window.admit(now),
            None => Admission::Admitted,
        }
    }

    /// `Some(hang)` when this request is chosen to hang.
    pub(crate) fn roll_hang(&self) -> Option<Duration> {
        let (share, hang) = {
            let state = self.lock();
            (state.timeout_share, state.timeout_hang)
        };
        roll(share).then_some(hang)
    }

    pub(crate) fn roll_server_error(&self) -> bool {
        let share = self.lock().server_error_share;
        roll(share)
    }

    pub(crate) fn roll_batch_error(&self) -> bool {
        let share = self.lock().batch_error_share;
        roll(share)
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panicking test thread must not take every later request down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An injected server error: 500 or 503 at random, since clients meet both, with Dataverse's body.
pub(crate) fn injected_server_error() -> ApiError {
    if rand::random_bool(0.5) {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::NONE,
            "The service is temporarily unavailable (simulated).",
        )
    } else {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::UNEXPECTED,
            "An unexpected error occurred (simulated).",
        )
    }
}

fn clamp_share(share: f64) -> f64 {
    if share.is_nan() {
        0.0
    } else {
        share.clamp(0.0, 1.0)
    }
}

fn roll(share: f64) -> bool {
    share > 0.0 && rand::random_bool(share)
}
