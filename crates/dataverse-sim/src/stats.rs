//! Counters of what clients did and what the simulator answered, read as a [`Stats`] snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares the public snapshot and the shared atomic counters from one list, so they cannot drift.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// A snapshot of the counters since the simulator started or [`crate::Simulator::reset_stats`].
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        #[derive(Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }

            pub(crate) fn reset(&self) {
                $(self.$name.store(0, Ordering::Relaxed);)*
            }
        }
    };
}

counters! {
    /// Every HTTP request to the Web API (not the token endpoint); a `$batch` counts as one.
    requests_total,
    /// Requests to the token endpoint.
    token_requests,
    /// 429 answers sent.
    throttled_responses,
    /// Web API requests (a `$batch` included) that arrived while a `Retry-After` sent earlier had not
    /// yet elapsed: a well-behaved client keeps this at zero.
    requests_during_retry_after,
    /// Injected 5xx answers: whole requests, whole batches, and single operations inside a batch.
    server_errors,
    /// Injected hangs (each ends in a 504 unless the client gave up first).
    timeouts,
    /// 401 answers sent.
    unauthorized,
    /// PATCH operations applied to a record, alone or inside a `$batch`.
    patches_applied,
    /// `$batch` requests that were executed.
    batch_requests,
    /// Operations executed inside batches (a batch that stops at its first failure runs fewer).
    batch_operations,
    /// 404 answers sent, including operations inside a batch.
    not_found,
    /// Collection pages served (`GET {entity_set}`), alone or inside a batch.
    reads,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
