//! What operators see of the HTTP layer: a request id on every request (the `x-request-id` header,
//! in the response and in the span of every log line written while serving it), the request
//! metrics, and `GET /metrics` in the Prometheus text format.
//!
//! The recorder is installed by the binary (`serve`); [`prometheus_builder`] gives it the buckets
//! of our histograms. Without a recorder every metric call is a no-op and `/metrics` answers 404.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, Response, StatusCode, header};
use axum::response::IntoResponse;
use metrics::{SharedString, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use store::Store;
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::ApiError;
use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "mentor_status_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "mentor_status_http_request_duration_seconds";
pub const HTTP_AUTH_FAILURES: &str = "mentor_status_http_auth_failures_total";

/// The request id header, set on every request and response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id accepted from a client.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Request latency buckets (seconds): the API answers in milliseconds; the tail shows trouble.
const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route matched (never the raw path: unbounded cardinality).
const UNMATCHED: &str = "unmatched";

/// How long a scrape waits for fresh database gauges before answering with the last ones.
const SCRAPE_SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Scrapes closer together than this share one sample of the database gauges.
const SCRAPE_SAMPLE_MAX_AGE: Duration = Duration::from_secs(1);

/// A Prometheus recorder builder with this service's histogram buckets. Only the recorder and
/// its rendering: `/metrics` is served by the application's own router.
pub fn prometheus_builder() -> PrometheusBuilder {
    let builder = PrometheusBuilder::new();
    let buckets = [
        (HTTP_REQUEST_DURATION, HTTP_DURATION_BUCKETS),
        (
            engine::metrics::RUN_DURATION,
            engine::metrics::RUN_DURATION_BUCKETS,
        ),
        (
            engine::metrics::SYNC_PUSH_LAG,
            engine::metrics::SYNC_PUSH_LAG_BUCKETS,
        ),
    ];
    buckets
        .into_iter()
        .fold(builder, |builder, (name, values)| {
            builder
                .set_buckets_for_metric(Matcher::Full(name.to_owned()), values)
                // Bucket lists are constants, never empty.
                .expect("histogram buckets are not empty")
        })
}

/// Help texts of every series (the HTTP layer's and the engine's), and zeros for the counters
/// that have no labels of their own. Call once after installing the recorder.
pub fn describe_metrics() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, matched route (`unmatched` when none) and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency by method and matched route"
    );
    describe_counter!(
        HTTP_AUTH_FAILURES,
        "API requests refused as unauthenticated (401) or not allowed for the role (403)"
    );
    for status in ["401", "403"] {
        counter!(HTTP_AUTH_FAILURES, "status" => status).increment(0);
    }
    engine::metrics::describe();
}

/// `GET /metrics`: the gauges sampled from the database (at most a second old), then every series
/// in the Prometheus text format.
pub(crate) async fn metrics<S: Store>(
    State(state): State<AppState<S>>,
) -> axum::response::Response {
    let Some(endpoint) = &state.metrics else {
        return ApiError::NotFound.into_response();
    };
    match tokio::time::timeout(
        SCRAPE_SAMPLE_TIMEOUT,
        endpoint.sampler.refresh(SCRAPE_SAMPLE_MAX_AGE),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: sampling the database gauges failed"),
        Err(_) => tracing::warn!("metrics: sampling the database gauges timed out"),
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        endpoint.handle.render(),
    )
        .into_response()
}

/// Adds request ids, the request span and the request metrics to every route of a router (the
/// routes present when it is called, and its fallback).
pub(crate) trait Instrument {
    fn instrumented(self) -> Self;
}

impl<S: Clone + Send + Sync + 'static> Instrument for Router<S> {
    fn instrumented(self) -> Self {
        // The last layer added runs first.
        self.layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(ObserveLayer)
    }
}

/// Outermost: drops a client's unusable request id (before one is set), and counts and times the
/// request by method, matched route and status. One service, not two `from_fn` middlewares: this
/// runs for every request.
#[derive(Clone, Copy)]
struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

#[derive(Clone)]
struct Observe<S> {
    inner: S,
}

impl<S, B> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response<B>>,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        drop_unusable_request_id(&mut request);
        let started = Instant::now();
        let method = method_label(request.method());
        let route = SharedString::from_shared(Arc::from(route_of(&request)));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            record_request(method, route, response.status(), started.elapsed());
            Ok(response)
        })
    }
}

fn record_request(method: &'static str, route: SharedString, status: StatusCode, took: Duration) {
    histogram!(HTTP_REQUEST_DURATION, "method" => method, "route" => route.clone())
        .record(took.as_secs_f64());
    let code = SharedString::from_shared(Arc::from(status.as_str()));
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        counter!(HTTP_AUTH_FAILURES, "status" => code.clone()).increment(1);
    }
    counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => code).increment(1);
}

/// A client's `x-request-id` is kept when it is a plain token (letters, digits, `-_.:`, up to 128
/// characters), so ids can be followed across services; anything else is replaced by a UUID.
fn drop_unusable_request_id<B>(request: &mut axum::http::Request<B>) {
    let usable = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_none_or(|value| is_usable_request_id(value.as_bytes()));
    if !usable {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
}

fn is_usable_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The span every log line of a request is written in: its id, method and matched route.
fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        route = route_of(request),
    )
}

fn route_of(request: &Request) -> &str {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// The method as a label: the standard ones by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::is_usable_request_id;

    #[test]
    fn request_ids_from_clients_must_be_plain_tokens() {
        for ok in ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace:1.2_x"] {
            assert!(is_usable_request_id(ok.as_bytes()), "{ok}");
        }
        let long = "a".repeat(129);
        for bad in ["", "a b", "x\ny", "ünicode", "<script>", long.as_str()] {
            assert!(!is_usable_request_id(bad.as_bytes()), "{bad:?}");
        }
    }
}
