//! Route handlers, one module per resource, and what they share.

pub mod account_probe;
pub mod accounts;
mod accounts_body;
mod accounts_update;
pub mod admin_users;
pub mod api_keys;
mod api_keys_body;
pub mod auth;
pub mod group_members;
pub mod groups;
pub mod key_spend_view;
pub mod logs;
mod logs_view;
pub mod oauth;
mod oauth_body;
pub mod pricing;
pub mod public;
pub mod stats;
pub mod stats_dims;
pub mod stats_view;
pub mod status;
pub mod user;

use relay_shared::db::{settings, Db, DbError};
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Tells every proxy instance that users, groups, keys or accounts changed (they watch the
/// change version and rebuild their snapshot).
pub(crate) async fn changed(db: &Db) -> Result<(), ApiError> {
    settings::bump_change_version(db).await?;
    Ok(())
}

/// For `Option<Option<T>>` fields of partial updates: absent → `None` (keep), `null` →
/// `Some(None)` (clear), a value → `Some(Some(v))`. Use with `#[serde(default)]`.
pub(crate) fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Maps [`DbError::NotFound`] to a 404 naming `what` ("no such group").
pub(crate) fn or_404(what: &'static str) -> impl FnOnce(DbError) -> ApiError {
    move |e| match e {
        DbError::NotFound => ApiError::not_found(format!("no such {what}")),
        other => other.into(),
    }
}
