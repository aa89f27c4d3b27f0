//! Bearer tokens: HS256 JWTs signed with the configured secret. The token only names the user
//! (`sub`); role and organisation always come from our database (see `auth`, which checks them).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::ApiError;

const ISSUER: &str = "mentor-status";
/// HS256 is only as strong as its key; shorter secrets are refused.
pub const MIN_SECRET_BYTES: usize = 32;

/// Signing and verification keys derived from the secret. `Debug` shows nothing of them.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys([redacted])")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
}

impl TokenKeys {
    pub fn from_secret(secret: &SecretString) -> Result<TokenKeys, String> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes long (got {})",
                bytes.len()
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        })
    }

    /// A token naming `subject`, valid for `ttl` from `now`.
    pub fn mint(&self, subject: &str, ttl: chrono::Duration, now: DateTime<Utc>) -> String {
        let claims = Claims {
            sub: subject.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// The subject of a valid, unexpired token.
    pub(crate) fn verify(&self, token: &str) -> Result<String, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims.sub)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    ApiError::Unauthorized("the token has expired".into())
                }
                _ => ApiError::Unauthorized("the token is not valid".into()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::from_secret(&SecretString::from(secret.to_owned())).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = TokenKeys::from_secret(&SecretString::from("short".to_owned())).unwrap_err();
        assert!(err.contains("32"), "{err}");
        assert!(!err.contains("short"), "the secret must not be echoed");
    }

    #[test]
    fn minted_tokens_verify_and_name_their_subject() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let token = k.mint("user-1", chrono::Duration::hours(1), Utc::now());
        assert_eq!(k.verify(&token).unwrap(), "user-1");
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let k = keys("0123456789abcdef0123456789abcdef");
        let old = k.mint(
            "u",
            chrono::Duration::hours(1),
            Utc::now() - chrono::Duration::hours(2),
        );
        assert!(matches!(k.verify(&old), Err(ApiError::Unauthorized(m)) if m.contains("expired")));
        let other = keys("fedcba9876543210fedcba9876543210");
        let foreign = other.mint("u", chrono::Duration::hours(1), Utc::now());
        assert!(k.verify(&foreign).is_err());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let k = keys("0123456789abcdef0123456789abcdef");
        assert_eq!(format!("{k:?}"), "TokenKeys([redacted])");
    }
}
