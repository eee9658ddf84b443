//! Authentication of console users: tokens ([`jwt`]), the session cookie ([`cookie`]), the
//! logged-in user as an extractor ([`extract`]), the client's address ([`client`]), login
//! throttling ([`throttle`]), and argon2id hashing run off the async threads.

pub mod client;
pub mod cookie;
pub mod extract;
pub mod jwt;
pub mod throttle;

use std::sync::OnceLock;

use relay_shared::bootstrap::MIN_PASSWORD_LEN;
use relay_shared::crypto;

pub use extract::{AdminUser, CurrentUser, Session};

use crate::error::ApiError;

/// Longest password accepted (argon2 hashes anything, but a megabyte would be a cheap DoS).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Checks a new password's length; `field` names it in the error.
pub fn check_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes `password` with argon2id on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crypto::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Checks `password` against `phc` on a blocking thread. With no stored hash (unknown user)
/// a dummy hash is checked, so that the answer takes as long either way.
pub async fn verify_password(password: String, phc: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => crypto::verify_password(&password, &phc),
        None => {
            crypto::verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .map_err(ApiError::internal)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| crypto::hash_password(&crypto::generate_password(24)).unwrap_or_default())
}
