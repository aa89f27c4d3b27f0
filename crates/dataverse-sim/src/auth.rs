//! The application user's credentials and the access tokens issued for it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::config::SimConfig;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CredentialCheck {
    Valid,
    UnknownClient,
    WrongSecret,
}

pub(crate) struct TokenRegistry {
    client_id: String,
    secret: String,
    lifetime: Duration,
    /// Access token → when it expires.
    issued: HashMap<String, Instant>,
}

impl TokenRegistry {
    pub(crate) fn new(config: &SimConfig) -> Self {
        TokenRegistry {
            client_id: config.client_id.clone(),
            secret: config.client_secret.clone(),
            lifetime: config.token_lifetime,
            issued: HashMap::new(),
        }
    }

    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub(crate) fn check_credentials(&self, client_id: &str, secret: &str) -> CredentialCheck {
        if client_id != self.client_id {
            CredentialCheck::UnknownClient
        } else if secret != self.secret {
            CredentialCheck::WrongSecret
        } else {
            CredentialCheck::Valid
        }
    }

    /// A new opaque access token valid for the configured lifetime.
    pub(crate) fn issue(&mut self, now: Instant) -> String {
        // Forget expired tokens so a long benchmark does not grow the table without bound.
        self.issued.retain(|_, expires| *expires > now);
        let token = random_token();
        self.issued.insert(token.clone(), now + self.lifetime);
        token
    }

    pub(crate) fn is_valid(&self, token: &str, now: Instant) -> bool {
        self.issued.get(token).is_some_and(|expires| now < *expires)
    }

    /// A new secret replaces the old one, and every token issued with the old one stops working.
    pub(crate) fn rotate_secret(&mut self, new_secret: &str) {
        self.secret = new_secret.to_owned();
        self.issued.clear();
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn registry(lifetime: Duration) -> TokenRegistry {
        TokenRegistry::new(&SimConfig {
            token_lifetime: lifetime,
            ..SimConfig::default()
        })
    }

    #[test]
    fn tokens_expire_after_their_lifetime() {
        let mut tokens = registry(Duration::from_secs(60));
        let now = Instant::now();
        let token = tokens.issue(now);
        assert!(tokens.is_valid(&token, now + Duration::from_secs(59)));
        assert!(!tokens.is_valid(&token, now + Duration::from_secs(60)));
        assert!(!tokens.is_valid("made-up", now));
    }

    #[test]
    fn rotating_the_secret_revokes_tokens_and_the_old_secret() {
        let mut tokens = registry(Duration::from_secs(60));
        let now = Instant::now();
        let token = tokens.issue(now);
        tokens.rotate_secret("new");
        assert!(!tokens.is_valid(&token, now));
        assert_eq!(
            tokens.check_credentials("sim-client", "sim-secret"),
            CredentialCheck::WrongSecret
        );
        assert_eq!(
            tokens.check_credentials("sim-client", "new"),
            CredentialCheck::Valid
        );
        assert_eq!(
            tokens.check_credentials("someone", "new"),
            CredentialCheck::UnknownClient
        );
    }

    #[test]
    fn bearer_token_reads_the_scheme_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }
}
