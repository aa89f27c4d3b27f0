//! A client for the Microsoft Dataverse (Dynamics 365) Web API, v9.2.
//!
//! It knows nothing about mentors: it updates records, reads them page by page and checks
//! credentials, and reports every failure classified for the caller's retry policy
//! ([`DataverseError`]).
//!
//! - **Authentication**: OAuth2 client credentials. The token is cached and refreshed a little
//!   before it expires; concurrent callers share one refresh. A 401 from the Web API drops the
//!   token and retries the request once with a new one.
//! - **Throttling**: a 429 closes a gate for the whole [`Client`] for the `Retry-After` period;
//!   no request from any task is sent until it has passed (Microsoft's service protection
//!   guidance). [`DataverseError::Throttled`] is therefore not a failed attempt: resend. By
//!   default one request is on the wire at a time
//!   ([`ClientConfig::max_concurrent_requests`]), so none can be in flight when another is
//!   throttled either.
//! - **Writes**: `PATCH` with `If-Match: *` (update only; never creates a record), one at a time
//!   or as an independent `$batch` with `Prefer: odata.continue-on-error`.
//! - **Reads**: `Prefer: odata.maxpagesize` and `@odata.nextLink`.
//! - **Sign-in pages**: redirects are not followed; a redirect or an HTML page where JSON was
//!   expected is reported as [`DataverseError::Unauthorized`].
//!
//! Requests are logged with `tracing` at debug level (method, path, status, duration); tokens
//! and secrets never are.

mod batch;
mod classify;
mod client;
mod config;
mod error;
mod key;
mod paging;
mod throttle;
mod token;

pub use client::{Client, Update, WhoAmI};
pub use config::{
    ClientConfig, ConfigError, DEFAULT_BATCH_SIZE, DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_REFRESH_MARGIN, DEFAULT_REQUEST_TIMEOUT, MAX_BATCH_SIZE, MAX_CONCURRENT_REQUESTS,
};
pub use error::DataverseError;
pub use key::RecordKey;
pub use paging::{MAX_PAGE_SIZE, Page, PageRequest};
