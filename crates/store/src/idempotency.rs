//! Idempotency keys of API requests and the responses they stored.

use std::future::Future;

use domain::UserId;

use crate::{IdempotencyBegin, StoreResult, StoredResponse};

/// Idempotency keys of API requests and the responses they stored.
pub trait IdempotencyStore: Clone + Send + Sync + 'static {
    /// Claim `key` for `user` by inserting it first. A finished request replays; another fingerprint
    /// under the same key is a mismatch; a claim that never finished and is older than `stale_after`
    /// (by the database's clock, which also stamped it) is taken over.
    fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> impl Future<Output = StoreResult<IdempotencyBegin>> + Send;
    fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Forget an unfinished claim (the request failed in a way the client may retry).
    fn idempotency_abandon(
        &self,
        user: UserId,
        key: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
