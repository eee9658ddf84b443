//! Console tokens: HS256 JWTs signed with `JWT_SECRET`, carrying the user id (`sub`), the
//! user's token version (`ver`, compared with the stored one on every request so that a
//! password change or "log out everywhere" revokes earlier tokens), `iat` and `exp`.

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The claims of a console token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a decimal string.
    pub sub: String,
    /// The user's token version when the token was issued.
    pub ver: i64,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Expires at, epoch seconds.
    pub exp: i64,
}

impl Claims {
    /// The user id named by `sub`.
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}

/// A signed token and its expiry (epoch milliseconds).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// When it expires, epoch milliseconds.
    pub expires_at_ms: i64,
}

/// Signs a token for `user_id` at `token_version`, valid for `ttl`.
pub fn issue(
    secret: &str,
    user_id: i64,
    token_version: i64,
    ttl: Duration,
) -> Result<IssuedToken, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let exp = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2));
    let claims = Claims {
        sub: user_id.to_string(),
        ver: token_version,
        iat: now,
        exp,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(ApiError::internal)?;
    Ok(IssuedToken {
        token,
        expires_at_ms: exp.saturating_mul(1000),
    })
}

/// Checks the signature, the algorithm and the expiry of `token` and returns its claims.
pub fn verify(secret: &str, token: &str) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "sub"]);
    decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .ok()
    .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_round_trips_and_other_secrets_or_expiry_fail() {
        let t = issue(SECRET, 7, 3, Duration::from_secs(60)).unwrap();
        let c = verify(SECRET, &t.token).unwrap();
        assert_eq!((c.user_id(), c.ver), (Some(7), 3));
        assert_eq!(t.expires_at_ms, c.exp * 1000);
        assert!(verify("another secret, also long enough!!", &t.token).is_none());
        assert!(verify(SECRET, "not.a.jwt").is_none());
        let expired = issue(SECRET, 7, 3, Duration::ZERO).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert!(verify(SECRET, &expired.token).is_none());
    }
}
