//! What every API request needs before its handler runs: the login its token names, and its
//! idempotency key's record (begun, replayed, completed or abandoned).

use domain::UserId;
use store::{IdempotencyBegin, IdempotencyStore, StoredResponse, User, UserStore};

use crate::{Engine, EngineError};

impl<S: UserStore> Engine<S> {
    /// The login a token's `sub` claim names.
    pub async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, EngineError> {
        Ok(self.store().user_by_subject(subject).await?)
    }
}

impl<S: IdempotencyStore> Engine<S> {
    /// Claims `key` for `user`'s request with `fingerprint`, or tells why not (replay, mismatch,
    /// still in progress). A claim unfinished after `stale_after` may be taken again.
    pub async fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> Result<IdempotencyBegin, EngineError> {
        Ok(self
            .store()
            .idempotency_begin(user, key, fingerprint, stale_after)
            .await?)
    }

    /// Stores the response of the request that claimed `key`, to replay it.
    pub async fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), EngineError> {
        Ok(self
            .store()
            .idempotency_complete(user, key, response)
            .await?)
    }

    /// Forgets the claim on `key`: its request failed in a way the client may retry.
    pub async fn idempotency_abandon(&self, user: UserId, key: &str) -> Result<(), EngineError> {
        Ok(self.store().idempotency_abandon(user, key).await?)
    }
}
