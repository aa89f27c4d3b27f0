//! A Dataverse-compatible HTTP server with controllable faults, for integration tests, benchmarks
//! and the demo. A client written from Microsoft's documentation works against it unchanged.
//!
//! What is simulated (one organisation, one table, one application user):
//! - the Entra ID client-credentials token endpoint (`{base}/tenant-sim/oauth2/v2.0/token`), with
//!   Entra's error bodies (`invalid_client` / AADSTS7000215, `unsupported_grant_type`, `invalid_scope`),
//!   token expiry and secret rotation;
//! - the Web API under `{base}/api/data/v9.2/`: `WhoAmI`, `PATCH` by id or alternate key (upsert,
//!   `If-Match: *` update-only, `If-Match: <etag>`, `If-None-Match: *` create-only), `GET` of one
//!   record or of the collection with `$select`, a simple `$filter` (`field eq|ne literal`, joined by
//!   `and`), server-driven paging (`Prefer: odata.maxpagesize`, `@odata.nextLink` with an opaque
//!   `$skiptoken` holding the last key, so paging is stable under concurrent writes), weak etags, and
//!   `$batch` (independent operations, `Prefer: odata.continue-on-error`; change sets are refused);
//! - Dataverse's error body `{"error":{"code":"…","message":"…"}}` on every Web API error, and a 401
//!   with `WWW-Authenticate: Bearer authorization_uri=…, resource_id=…` and an empty body.
//!
//! Fault controls ([`Faults`], effective at once, applied per request in this order: delay → auth →
//! throttling → timeout/5xx → handler → answer delay): fixed latency, a late answer to a request already
//! carried out, a sliding-window rate limit answered with 429 and
//! `Retry-After`, a share of 5xx answers (per operation inside a `$batch`, plus a separate share for
//! whole batches), a share of hanging requests that end in 504, rejected credentials, HTML sign-in pages
//! instead of a 401 body, lagging reads (records as they were some time ago), and per-contact write
//! failures. [`Stats`] counts what clients did, e.g. requests sent while a `Retry-After` was pending;
//! [`Simulator::writes`] broadcasts every applied write.

mod auth;
mod batch;
mod config;
pub mod demo;
mod faults;
mod odata;
mod pipeline;
mod response;
mod routes;
mod simulator;
mod state;
mod stats;
mod store;
mod throttle;
mod token_endpoint;

pub use config::SimConfig;
pub use faults::Faults;
pub use simulator::Simulator;
pub use state::WriteEvent;
pub use stats::Stats;
pub use throttle::RateLimit;
