//! Authentication of console users: tokens ([`jwt`]), the session cookie ([`cookie`]), the
//! logged-in user as an extractor ([`extract`]), the client's address ([`client`]), login
//! throttling ([`throttle`]), and argon2id hashing under a concurrency cap ([`hasher`]);
//! [`proxies`] decides which forwarded addresses to believe.

pub mod client;
pub mod cookie;
pub mod extract;
pub mod hasher;
pub mod jwt;
pub mod proxies;
pub mod throttle;

use relay_shared::bootstrap::MIN_PASSWORD_LEN;

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
