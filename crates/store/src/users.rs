//! Logins: created, found by their token subject or email, and their dashboard passwords (kept only as password hashes).

use std::future::Future;

use domain::{Email, UserId};

use crate::{NewUser, StoreResult, User};

/// Logins: created, found by their token subject or email, and their dashboard passwords (kept only as password hashes).
pub trait UserStore: Clone + Send + Sync + 'static {
    fn create_user(&self, user: NewUser) -> impl Future<Output = StoreResult<User>> + Send;
    /// The user a token's `sub` claim names.
    fn user_by_subject(
        &self,
        subject: &str,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Replace the login's password hash (`None`: no password, the login cannot sign in with one).
    /// `NotFound("user")` for an unknown login.
    fn set_password_hash(
        &self,
        user: UserId,
        password_hash: Option<String>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
