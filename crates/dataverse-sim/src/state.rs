//! The state every request handler shares: configuration, the table, tokens, faults, counters.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::TokenRegistry;
use crate::config::SimConfig;
use crate::faults::Faults;
use crate::response::SimResponse;
use crate::stats::{Counters, bump};
use crate::store::{ContactStore, Fields, ReadPoint};

/// Subscribers that fall this far behind miss events (they see `RecvError::Lagged`).
const WRITE_EVENT_BUFFER: usize = 4096;

/// One applied PATCH, alone or inside a `$batch`.
#[derive(Clone, Debug)]
pub struct WriteEvent {
    pub contact_id: Uuid,
    /// The columns the PATCH set (its body; for a create by alternate key, the key column too).
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub at: SystemTime,
}

/// The ids `WhoAmI` answers with; fixed for the life of a simulator.
pub(crate) struct Identity {
    pub(crate) user_id: Uuid,
    pub(crate) business_unit_id: Uuid,
    pub(crate) organization_id: Uuid,
}

pub(crate) struct SimState {
    pub(crate) config: SimConfig,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) base_url: String,
    pub(crate) identity: Identity,
    pub(crate) faults: Faults,
    pub(crate) stats: Counters,
    pub(crate) writes: broadcast::Sender<WriteEvent>,
    /// Cancelled when the simulator shuts down, so hanging requests end at once.
    pub(crate) shutdown: CancellationToken,
    store: Mutex<ContactStore>,
    tokens: Mutex<TokenRegistry>,
}

impl SimState {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        SimState {
            base_url,
            identity: Identity {
                user_id: Uuid::new_v4(),
                business_unit_id: Uuid::new_v4(),
                organization_id: Uuid::new_v4(),
            },
            faults: Faults::new(),
            stats: Counters::default(),
            writes: broadcast::channel(WRITE_EVENT_BUFFER).0,
            shutdown: CancellationToken::new(),
            store: Mutex::new(ContactStore::new(&config.primary_key)),
            tokens: Mutex::new(TokenRegistry::new(&config)),
            config,
        }
    }

    /// The Web API's service root, e.g. `http://127.0.0.1:PORT/api/data/v9.2`.
    pub(crate) fn service_root(&self) -> String {
        format!("{}/api/data/v9.2", self.base_url)
    }

    /// The URL that identifies one record, as in `OData-EntityId`.
    pub(crate) fn entity_url(&self, id: Uuid) -> String {
        format!("{}/{}({id})", self.service_root(), self.config.entity_set)
    }

    /// The table's logical name as Dataverse's messages use it: `contacts` → `contact`.
    pub(crate) fn entity_logical_name(&self) -> &str {
        let set = self.config.entity_set.as_str();
        set.strip_suffix('s').unwrap_or(set)
    }

    // Both locks are held only for in-memory work, never across an `.await`. A panic elsewhere must
    // not take every later request down with it, hence the poison recovery.
    pub(crate) fn store(&self) -> MutexGuard<'_, ContactStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, TokenRegistry> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What reads see right now, given the read-lag fault.
    pub(crate) fn read_point(&self, store: &ContactStore) -> ReadPoint {
        store.read_point(self.faults.read_lag(), Instant::now())
    }

    /// Counts what an answer says about the request (404s for now).
    pub(crate) fn note_answer(&self, response: &SimResponse) {
        if response.status == StatusCode::NOT_FOUND {
            bump(&self.stats.not_found);
        }
    }

    pub(crate) fn publish_write(&self, contact_id: Uuid, fields: Fields) {
        // No subscriber is fine: nobody is watching.
        let _ = self.writes.send(WriteEvent {
            contact_id,
            fields,
            at: SystemTime::now(),
        });
    }

    /// Wait `duration`, or less when the simulator shuts down; `false` in the latter case.
    pub(crate) async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.shutdown.cancelled() => false,
        }
    }
}
