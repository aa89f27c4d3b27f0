use std::sync::Arc;

use engine::Engine;
use engine::metrics::GaugeSampler;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::tokens::TokenKeys;
use crate::user_cache::UserCache;

/// What every handler can reach. Cloned per request, so everything inside is a cheap handle.
#[derive(Clone)]
pub(crate) struct AppState<S> {
    pub engine: Engine<S>,
    pub tokens: Arc<TokenKeys>,
    pub users: Arc<UserCache>,
    /// `/metrics`, when this process records metrics.
    pub metrics: Option<MetricsEndpoint<S>>,
}

impl<S> AppState<S> {
    pub fn new(engine: Engine<S>, tokens: TokenKeys) -> Self {
        Self {
            engine,
            tokens: Arc::new(tokens),
            users: Arc::default(),
            metrics: None,
        }
    }

    pub fn with_metrics(mut self, metrics: MetricsEndpoint<S>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

/// `/metrics` for one application (served by `observability::metrics`): the recorder's handle and
/// the sampler of database gauges.
#[derive(Clone)]
pub(crate) struct MetricsEndpoint<S> {
    pub handle: PrometheusHandle,
    pub sampler: GaugeSampler<S>,
}
