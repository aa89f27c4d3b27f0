//! The handle tests and tools hold: starting and stopping the server, the table behind it, faults
//! and counters.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::config::SimConfig;
use crate::faults::Faults;
use crate::routes;
use crate::state::{SimState, WriteEvent};
use crate::stats::Stats;
use crate::store::ReadPoint;
use crate::token_endpoint::TOKEN_PATH;

/// A running simulator. Dropping the handle stops the server too; [`Simulator::shutdown`] also waits
/// for it to finish.
pub struct Simulator {
    state: Arc<SimState>,
    server: Option<JoinHandle<io::Result<()>>>,
}

impl Simulator {
    /// Start on a free port of 127.0.0.1.
    pub async fn start(config: SimConfig) -> io::Result<Simulator> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> io::Result<Simulator> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        // A wildcard address is not something a client can connect to; loopback is.
        let host = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(host, bound.port()));
        let state = Arc::new(SimState::new(config, base_url));
        let app = routes::router(Arc::clone(&state));
        let stop = state.shutdown.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        tracing::info!(base_url = %state.base_url, "Dataverse simulator listening");
        Ok(Simulator {
            state,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT`; the Web API lives at `{base_url}/api/data/v9.2/`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.state.base_url)
    }

    /// The scope a client asks tokens for: `{base_url}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.state.base_url)
    }

    pub fn faults(&self) -> Faults {
        self.state.faults.clone()
    }

    /// Store `fields` as the whole record `id` (the primary key is set from `id`), replacing any.
    pub fn insert_contact(&self, id: Uuid, fields: Map<String, Value>) {
        self.state.store().replace(id, fields, Instant::now());
    }

    /// The record's current columns, primary key included.
    pub fn contact(&self, id: Uuid) -> Option<Map<String, Value>> {
        self.state
            .store()
            .row(id, ReadPoint::Latest)
            .map(|row| row.fields.clone())
    }

    /// Every current record, in primary-key order.
    pub fn contacts(&self) -> Vec<Map<String, Value>> {
        self.state
            .store()
            .rows_after(None, ReadPoint::Latest)
            .map(|(_, row)| row.fields.clone())
            .collect()
    }

    pub fn remove_contact(&self, id: Uuid) {
        self.state.store().remove(id, Instant::now());
    }

    /// Change one column as someone else would ("changed behind our back"); a new etag results. Does
    /// nothing when the record does not exist.
    pub fn set_field(&self, id: Uuid, field: &str, value: Value) {
        let mut store = self.state.store();
        if store.row(id, ReadPoint::Latest).is_some() {
            let patch = Map::from_iter([(field.to_owned(), value)]);
            store.merge(id, &patch, Instant::now());
        }
    }

    /// From now on only `new_secret` is accepted, and every token issued before answers 401.
    pub fn rotate_secret(&self, new_secret: &str) {
        self.state.tokens().rotate_secret(new_secret);
    }

    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Every PATCH applied from now on, alone or inside a `$batch`.
    pub fn writes(&self) -> broadcast::Receiver<WriteEvent> {
        self.state.writes.subscribe()
    }

    /// Stop accepting connections, end hanging requests at once, let the others finish, and return
    /// when the server task has ended.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "Dataverse simulator stopped with an error")
                }
                Err(error) => tracing::warn!(%error, "Dataverse simulator task failed"),
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}
