//! Dashboard passwords of logins, kept only as password hashes (argon2id PHC strings).

use std::future::Future;

use domain::UserId;

use crate::StoreResult;

pub trait PasswordStore: Clone + Send + Sync + 'static {
    /// Replace the login's password hash (`None`: no password, the login cannot sign in with one).
    /// `NotFound("user")` for an unknown login.
    fn set_password_hash(
        &self,
        user: UserId,
        password_hash: Option<String>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
