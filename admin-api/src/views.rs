//! Response shapes shared by several resources. Each view is built from a stored row and
//! carries only what a client may see (never a hash, a token version or a secret).

use relay_shared::db::users::UserRow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::time::{rfc3339, rfc3339_opt};

/// A console user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// E-mail, if set.
    pub email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    /// Disabled users cannot sign in and their keys stop working.
    pub enabled: bool,
    /// The password was set by an administrator and must be changed before anything else.
    pub must_change_password: bool,
    /// Last successful login (RFC 3339 UTC).
    pub last_login_at: Option<String>,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change (RFC 3339 UTC).
    pub updated_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
            enabled: u.enabled,
            must_change_password: u.must_change_password,
            last_login_at: rfc3339_opt(u.last_login_at),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// Money: micro-USD as stored → USD as answered.
pub fn usd(micro: i64) -> f64 {
    micro as f64 / 1_000_000.0
}
