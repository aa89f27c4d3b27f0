//! Signing in to the dashboard: passwords (argon2id PHC strings, hashed and verified here and nowhere
//! else), the limit on failed sign-ins per account and per client address, and sessions, stored as
//! the SHA-256 of a random token that only the browser holds.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use domain::Email;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use store::{LoginFailure, NewSession, SessionRecord, SessionStore, TokenHash, User, UserStore};

use crate::{Engine, EngineError};

/// Failed sign-ins are counted over this window.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// Failures of one account within the window before further attempts are refused.
pub const MAX_ACCOUNT_FAILURES: u64 = 5;
/// Failures from one client address within the window (across accounts) before it is refused.
/// Higher than per account: several people may share an office's address.
pub const MAX_ADDRESS_FAILURES: u64 = 20;
/// How long failures are kept (far longer than the window, for the operator's eyes).
const FAILURES_KEPT: Duration = Duration::days(1);

/// A password could not be hashed (the operating system's randomness failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// An argon2id PHC string (`$argon2id$v=19$…`) with a fresh random salt, as logins store passwords.
pub fn hash_password(password: &SecretString) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash to check unknown accounts' passwords against, so an answer takes as long whether the
/// account exists or not.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::from_b64("bWVudG9yLXN0YXR1cy1kdW1teQ").expect("a valid salt");
    Argon2::default()
        .hash_password(b"not a password anyone has", &salt)
        .expect("hashing with default parameters")
        .to_string()
});

/// Whether `password` is the one `stored` was made from. No stored hash (an unknown account, or a
/// login without a password) is checked against a dummy hash, so the time taken does not tell them
/// apart, and never matches.
pub async fn verify_password(stored: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (DUMMY_HASH.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            tracing::error!("a stored password hash is not a PHC string");
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && real
    })
    .await
    .unwrap_or(false)
}

/// A fresh random token: 32 bytes from the operating system, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a session token is stored as.
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// How a sign-in attempt ended.
#[derive(Debug)]
pub enum SignIn {
    /// A new session: `token` goes to the browser, only its hash is stored.
    Granted { user: User, token: String },
    /// Unknown account, no password, or the wrong one: recorded as a failure.
    Refused,
    /// Too many failures for this account or from this address within the window; no password
    /// was checked.
    RateLimited,
}

impl<S: UserStore + SessionStore> Engine<S> {
    /// One sign-in with `account` (an email address as typed) and `password` from `address`; a
    /// session lasting at most `lifetime` when it is right. The caller serialises attempts per
    /// account and address, so a burst cannot get more tries than the limit.
    pub async fn sign_in(
        &self,
        account: &str,
        address: &str,
        password: String,
        lifetime: Duration,
    ) -> Result<SignIn, EngineError> {
        let account = account.trim().to_lowercase();
        let now = self.clock().now();
        let failures = self
            .store()
            .login_failures_since(&account, address, now - FAILURE_WINDOW)
            .await?;
        if failures.account >= MAX_ACCOUNT_FAILURES || failures.address >= MAX_ADDRESS_FAILURES {
            tracing::warn!(%address, "sign-in refused by the rate limit");
            return Ok(SignIn::RateLimited);
        }
        let user = match Email::parse(&account) {
            Ok(email) => self.store().user_by_email(&email).await?,
            Err(_) => None,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = verify_password(stored, password).await;
        let Some(user) = user.filter(|_| verified) else {
            self.store()
                .record_login_failure(LoginFailure {
                    account,
                    address: address.to_owned(),
                    at: now,
                })
                .await?;
            tracing::info!("a sign-in failed");
            return Ok(SignIn::Refused);
        };
        let token = random_token();
        self.store()
            .create_session(NewSession {
                token_hash: token_hash(&token),
                user_id: user.id,
                csrf_token: random_token(),
                created_at: now,
                expires_at: now + lifetime,
            })
            .await?;
        tracing::info!(user = %user.id, "signed in");
        Ok(SignIn::Granted { user, token })
    }
}

impl<S: SessionStore> Engine<S> {
    /// The live session `token` names (not idle for longer than `idle`, not past its end).
    pub async fn session(
        &self,
        token: &str,
        idle: Duration,
    ) -> Result<Option<SessionRecord>, EngineError> {
        Ok(self
            .store()
            .session(&token_hash(token), self.clock().now(), idle)
            .await?)
    }

    /// Ends the session `token` names, if there is one.
    pub async fn end_session(&self, token: &str) -> Result<(), EngineError> {
        self.store().delete_session(&token_hash(token)).await?;
        Ok(())
    }

    /// Forgets sessions that ended (idle for longer than `idle`, or past their end) and failures
    /// older than a day; how many of each.
    pub async fn forget_ended_sign_ins(&self, idle: Duration) -> Result<(u64, u64), EngineError> {
        let now = self.clock().now();
        let sessions = self.store().delete_expired_sessions(now, idle).await?;
        let failures = self
            .store()
            .prune_login_failures(now - FAILURES_KEPT)
            .await?;
        Ok((sessions, failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_only_as_their_hash() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43, "256 bits");
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }

    #[test]
    fn the_dummy_hash_is_argon2id() {
        assert!(DUMMY_HASH.starts_with("$argon2id$"));
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_nothing_else_does() {
        let hash = hash_password(&SecretString::from("a long enough password")).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let again = hash_password(&SecretString::from("a long enough password")).unwrap();
        assert_ne!(hash, again, "each hash has its own salt");
        let check = |stored: Option<&str>, password: &str| {
            verify_password(stored.map(str::to_owned), password.to_owned())
        };
        assert!(check(Some(&hash), "a long enough password").await);
        assert!(!check(Some(&hash), "a long enough passwore").await);
        assert!(!check(None, "a long enough password").await);
        assert!(!check(Some("not a PHC string"), "a long enough password").await);
    }
}
