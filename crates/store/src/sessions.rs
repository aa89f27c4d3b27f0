//! Dashboard sessions and failed logins.
//!
//! A session is a random token in the browser's cookie; the store keeps only the token's SHA-256
//! hash, so reading the table does not let anyone sign in. A session ends at its absolute expiry,
//! when it was not used for the idle timeout, or when it is deleted (logout). Failed logins are
//! counted in the store, so a rate limit holds across every instance that shares it.

use chrono::{DateTime, Utc};
use domain::UserId;

use crate::StoreResult;
use crate::User;
use std::future::Future;

/// How stale a session's `last_seen_at` may get before a lookup writes it again: a busy page does
/// not write on every request, and idle expiry is exact to within this interval.
pub const SESSION_TOUCH_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// The SHA-256 of a session token.
pub type TokenHash = [u8; 32];

/// A session to start.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token_hash: TokenHash,
    pub user_id: UserId,
    /// The session's anti-CSRF token, repeated by every form the session posts.
    pub csrf_token: String,
    /// Also the first `last_seen_at`.
    pub created_at: DateTime<Utc>,
    /// The absolute end, however active the session is.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A live session and the user it signs in.
#[derive(Clone, PartialEq)]
pub struct SessionRecord {
    pub user: User,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    /// After the lookup that returned it.
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user", &self.user)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// One failed login: the account it named (a normalised email, known user or not) and the client
/// address it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    pub account: String,
    pub address: String,
    pub at: DateTime<Utc>,
}

/// Failed logins since some instant, for one account and for one address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailureCounts {
    pub account: u64,
    pub address: u64,
}

/// Whether a session last seen at `last_seen_at` should be written as seen at `now`.
pub fn session_needs_touch(last_seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last_seen_at >= SESSION_TOUCH_INTERVAL
}

/// Dashboard sessions (stored as token hashes) and failed logins.
pub trait SessionStore: Clone + Send + Sync + 'static {
    /// Start a session. `NotFound("user")` when the user does not exist; a token hash already in use
    /// is a constraint conflict.
    fn create_session(&self, session: NewSession) -> impl Future<Output = StoreResult<()>> + Send;
    /// The session with this token hash and its user, if it is live at `now`: before its absolute
    /// expiry and last seen less than `idle` ago. Marks it seen at `now` (when its last sighting is
    /// [`SESSION_TOUCH_INTERVAL`] old or more, so busy pages do not write on every request).
    fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    /// End a session (logout); false when there was none.
    fn delete_session(
        &self,
        token_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Forget sessions that are no longer live at `now` (expired, or idle for `idle`); returns how many.
    fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Count a failed login.
    fn record_login_failure(
        &self,
        failure: LoginFailure,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Failed logins at or after `since`, for `account` and for `address`.
    fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<LoginFailureCounts>> + Send;
    /// Forget failed logins before `before`; returns how many.
    fn prune_login_failures(
        &self,
        before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
