//! Connection settings for one Dataverse environment, and their validation.

use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

/// Dataverse rejects batches above this many operations in practice ("maximum number of '250'"),
/// although the documented limit is 1,000.
pub const MAX_BATCH_SIZE: usize = 250;

/// Default number of operations per `$batch` request.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Default time allowed for one HTTP request, connecting and reading the body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default head start for refreshing the access token before it expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Default for [`ClientConfig::max_concurrent_requests`]: one request at a time, the only setting
/// under which no request can reach Dataverse while a `Retry-After` is pending.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1;

/// Dataverse refuses more than 52 concurrent requests per user (service protection limits).
pub const MAX_CONCURRENT_REQUESTS: usize = 52;

/// Where and how to reach one Dataverse environment.
///
/// The derived `Debug` is safe to log: [`SecretString`] prints `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Organisation URL, e.g. `https://hlf.crm4.dynamics.com`; requests go to
    /// `{api_base_url}/api/data/v9.2/`.
    pub api_base_url: String,
    /// OAuth2 v2 token endpoint, e.g. `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
    /// Application (client) id of the app registration.
    pub client_id: String,
    /// Client secret of the app registration.
    pub client_secret: SecretString,
    /// Token scope, e.g. `https://hlf.crm4.dynamics.com/.default`.
    pub scope: String,
    /// Time allowed for one HTTP request (default 30 s).
    pub request_timeout: Duration,
    /// Operations per `$batch` request (default 100, at most [`MAX_BATCH_SIZE`]).
    pub batch_size: usize,
    /// Refresh the token this long before it expires (default 5 min), but never earlier than
    /// half-way through its lifetime.
    pub refresh_margin: Duration,
    /// Web API requests this client has on the wire at once (default 1, at most
    /// [`MAX_CONCURRENT_REQUESTS`]). Callers beyond it wait their turn. With more than one, the
    /// requests already in flight when a 429 arrives still reach Dataverse during its
    /// `Retry-After`; the throttling gate can only hold back requests not yet sent.
    pub max_concurrent_requests: usize,
}

impl ClientConfig {
    /// A configuration with the default timeout, batch size and refresh margin.
    pub fn new(
        api_base_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        scope: impl Into<String>,
    ) -> Self {
        Self {
            api_base_url: api_base_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scope: scope.into(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            batch_size: DEFAULT_BATCH_SIZE,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
        }
    }

    /// Checks every setting; the error names the offending one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        parse_http_url("api_base_url", &self.api_base_url)?;
        parse_http_url("token_url", &self.token_url)?;
        require_non_empty("client_id", &self.client_id)?;
        require_non_empty("client_secret", self.client_secret.expose_secret())?;
        require_non_empty("scope", &self.scope)?;
        if self.request_timeout.is_zero() {
            return Err(ConfigError::ZeroRequestTimeout);
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Err(ConfigError::BatchSizeOutOfRange {
                value: self.batch_size,
            });
        }
        if !(1..=MAX_CONCURRENT_REQUESTS).contains(&self.max_concurrent_requests) {
            return Err(ConfigError::ConcurrencyOutOfRange {
                value: self.max_concurrent_requests,
            });
        }
        Ok(())
    }

    /// The Web API root, `{api_base_url}/api/data/v9.2/`, with a trailing slash so that
    /// [`Url::join`] appends to it.
    pub(crate) fn web_api_root(&self) -> Result<Url, ConfigError> {
        let base = parse_http_url("api_base_url", &self.api_base_url)?;
        let with_slash = format!("{}/", base.as_str().trim_end_matches('/'));
        Url::parse(&with_slash)
            .and_then(|base| base.join("api/data/v9.2/"))
            .map_err(|err| ConfigError::InvalidUrl {
                field: "api_base_url",
                value: self.api_base_url.clone(),
                reason: err.to_string(),
            })
    }

    pub(crate) fn token_endpoint(&self) -> Result<Url, ConfigError> {
        parse_http_url("token_url", &self.token_url)
    }
}

/// A setting that cannot work.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{field} {value:?} is not a usable http(s) URL: {reason}")]
    InvalidUrl {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("request_timeout must be greater than zero")]
    ZeroRequestTimeout,
    #[error("batch_size must be between 1 and {MAX_BATCH_SIZE}, got {value}")]
    BatchSizeOutOfRange { value: usize },
    #[error("max_concurrent_requests must be between 1 and {MAX_CONCURRENT_REQUESTS}, got {value}")]
    ConcurrencyOutOfRange { value: usize },
    #[error("could not set up the HTTP client: {0}")]
    HttpClient(String),
}

fn parse_http_url(field: &'static str, value: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        field,
        value: value.to_owned(),
        reason,
    };
    let url = Url::parse(value.trim()).map_err(|err| invalid(err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not carry a query or fragment".to_owned()));
    }
    Ok(url)
}

fn require_non_empty(field: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(ConfigError::Empty { field });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::new(
            "https://hlf.crm4.dynamics.com",
            "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
            "client-id",
            SecretString::from("very-secret-value"),
            "https://hlf.crm4.dynamics.com/.default",
        )
    }

    #[test]
    fn defaults_are_valid() {
        let config = config();
        assert_eq!(config.batch_size, 100);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.refresh_margin, Duration::from_secs(300));
        assert_eq!(config.max_concurrent_requests, 1);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn batch_size_is_capped_and_the_error_names_the_value() {
        for bad in [0, 251, 1000] {
            let config = ClientConfig {
                batch_size: bad,
                ..config()
            };
            let err = config.validate().unwrap_err();
            assert_eq!(err, ConfigError::BatchSizeOutOfRange { value: bad });
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        for good in [1, 250] {
            let config = ClientConfig {
                batch_size: good,
                ..config()
            };
            assert_eq!(config.validate(), Ok(()));
        }
    }

    #[test]
    fn concurrency_is_between_1_and_the_dataverse_limit() {
        for bad in [0, 53] {
            let config = ClientConfig {
                max_concurrent_requests: bad,
                ..config()
            };
            assert_eq!(
                config.validate(),
                Err(ConfigError::ConcurrencyOutOfRange { value: bad })
            );
        }
        let config = ClientConfig {
            max_concurrent_requests: 52,
            ..config()
        };
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        for bad in [
            "",
            "hlf.crm4.dynamics.com",
            "ftp://x.example",
            "https://x.example?a=1",
        ] {
            let config = ClientConfig {
                api_base_url: bad.to_owned(),
                ..config()
            };
            assert!(
                matches!(
                    config.validate(),
                    Err(ConfigError::InvalidUrl {
                        field: "api_base_url",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let config = ClientConfig {
            token_url: "not a url".to_owned(),
            ..config()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::InvalidUrl {
                field: "token_url",
                ..
            })
        ));
    }

    #[test]
    fn empty_credentials_and_zero_timeout_are_refused() {
        let empty_secret = ClientConfig {
            client_secret: SecretString::from(""),
            ..config()
        };
        assert_eq!(
            empty_secret.validate(),
            Err(ConfigError::Empty {
                field: "client_secret"
            })
        );
        let empty_scope = ClientConfig {
            scope: " ".to_owned(),
            ..config()
        };
        assert_eq!(
            empty_scope.validate(),
            Err(ConfigError::Empty { field: "scope" })
        );
        let zero_timeout = ClientConfig {
            request_timeout: Duration::ZERO,
            ..config()
        };
        assert_eq!(
            zero_timeout.validate(),
            Err(ConfigError::ZeroRequestTimeout)
        );
    }

    #[test]
    fn web_api_root_tolerates_a_trailing_slash_and_a_path_prefix() {
        for base in [
            "https://hlf.crm4.dynamics.com",
            "https://hlf.crm4.dynamics.com/",
        ] {
            let config = ClientConfig {
                api_base_url: base.to_owned(),
                ..config()
            };
            assert_eq!(
                config.web_api_root().unwrap().as_str(),
                "https://hlf.crm4.dynamics.com/api/data/v9.2/"
            );
        }
        let behind_a_prefix = ClientConfig {
            api_base_url: "http://127.0.0.1:8080/org".to_owned(),
            ..config()
        };
        assert_eq!(
            behind_a_prefix.web_api_root().unwrap().as_str(),
            "http://127.0.0.1:8080/org/api/data/v9.2/"
        );
    }

    #[test]
    fn debug_output_does_not_reveal_the_secret() {
        let printed = format!("{:?}", config());
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }
}
