//! What can go wrong talking to Dataverse, sorted by what the caller should do about it.

use std::time::Duration;

/// A failed Dataverse call, classified for the caller's retry policy.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DataverseError {
    /// HTTP 429 (service protection limits). The client has already closed its gate for
    /// `retry_after`: no request from any task goes out before then, and the next call simply
    /// waits. Being throttled says nothing about the operation itself, so callers should resend
    /// without counting it as a failed attempt.
    #[error("throttled by Dataverse; retry after {retry_after:?}")]
    Throttled { retry_after: Duration },
    /// The credentials do not work: the token endpoint refused them, Dataverse answered 401 even
    /// after one token refresh, or an HTML page (a sign-in redirect) came back instead of JSON.
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String },
    /// HTTP 403: the application user lacks a privilege.
    #[error("forbidden: {detail}")]
    Forbidden { detail: String },
    /// HTTP 404: the record does not exist (an update never creates one).
    #[error("not found: {detail}")]
    NotFound { detail: String },
    /// 5xx, 408, timeouts and connection errors: worth retrying with backoff.
    #[error("transient failure: {detail}")]
    Transient { detail: String },
    /// Any other 4xx (400, 412, …), or a request this client refused to send
    /// (`status` == [`DataverseError::STATUS_NOT_SENT`]). Retrying will not help.
    #[error("permanent failure (HTTP {status}): {detail}")]
    Permanent { status: u16, detail: String },
}

impl DataverseError {
    /// The `status` of a [`DataverseError::Permanent`] for a request this client refused to send,
    /// e.g. a batch larger than the configured batch size: nothing went over the wire.
    pub const STATUS_NOT_SENT: u16 = 0;

    /// Whether sending the same request again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transient { .. })
    }

    /// A stable short name for metrics labels and structured logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Throttled { .. } => "throttled",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Transient { .. } => "transient",
            Self::Permanent { .. } => "permanent",
        }
    }

    pub(crate) fn not_sent(detail: impl Into<String>) -> Self {
        Self::Permanent {
            status: Self::STATUS_NOT_SENT,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttled_and_transient_are_retryable() {
        let detail = || "x".to_owned();
        let cases = [
            (
                DataverseError::Throttled {
                    retry_after: Duration::from_secs(1),
                },
                true,
                "throttled",
            ),
            (
                DataverseError::Unauthorized { detail: detail() },
                false,
                "unauthorized",
            ),
            (
                DataverseError::Forbidden { detail: detail() },
                false,
                "forbidden",
            ),
            (
                DataverseError::NotFound { detail: detail() },
                false,
                "not_found",
            ),
            (
                DataverseError::Transient { detail: detail() },
                true,
                "transient",
            ),
            (
                DataverseError::Permanent {
                    status: 400,
                    detail: detail(),
                },
                false,
                "permanent",
            ),
        ];
        for (error, retryable, kind) in cases {
            assert_eq!(error.is_retryable(), retryable, "{error}");
            assert_eq!(error.kind(), kind);
        }
    }
}
