//! Bodies and the view of `/api-keys`, and their conversion to and from stored rows: money
//! as USD numbers ⇄ micro-USD, times as RFC 3339 ⇄ epoch ms. Never the key hash.

use relay_shared::db::api_keys::{ApiKeyPatch, ApiKeyRow, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::time::{rfc3339, rfc3339_opt, TimeInput};
use crate::validate;
use crate::views::usd;

/// Largest RPM or concurrency limit accepted.
const MAX_LIMIT: i64 = 1_000_000;

/// An API key as answered (never the full key, except in [`CreatedKey`]).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Group whose accounts serve the key.
    pub group_id: i64,
    /// Display name.
    pub name: String,
    /// The first characters of the key, for recognising it.
    pub key_prefix: String,
    /// Switch.
    pub enabled: bool,
    /// Expiry (RFC 3339 UTC), or null for never.
    pub expires_at: Option<String>,
    /// Model ids or globs the key may use (empty: all).
    pub allowed_models: Vec<String>,
    /// Daily spend limit in USD (0: none); resets at midnight in the configured time zone.
    pub daily_limit_usd: f64,
    /// Total spend limit in USD (0: none).
    pub total_limit_usd: f64,
    /// Spend limit over a rolling five hours in USD (0: none).
    pub limit_5h_usd: f64,
    /// Spend limit per week in USD (0: none); the week starts on Monday at midnight in the
    /// configured time zone.
    pub weekly_limit_usd: f64,
    /// Spend limit per calendar month in USD (0: none), in the configured time zone.
    pub monthly_limit_usd: f64,
    /// Requests per minute (0: unlimited).
    pub rpm_limit: i64,
    /// Requests in flight (0: unlimited).
    pub concurrency_limit: i64,
    /// Spend against each limit and when each window resets (absent where it was not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<crate::routes::key_spend_view::SpendView>,
    /// Last request (RFC 3339 UTC).
    pub last_used_at: Option<String>,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change (RFC 3339 UTC).
    pub updated_at: String,
}

impl ApiKeyView {
    /// The view of a stored key.
    pub fn from_row(k: &ApiKeyRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: k.id,
            user_id: k.user_id,
            group_id: k.group_id,
            name: k.name.clone(),
            key_prefix: k.key_prefix.clone(),
            enabled: k.enabled,
            expires_at: rfc3339_opt(k.expires_at),
            allowed_models: k.allowed_models()?,
            daily_limit_usd: usd(k.daily_limit_micro_usd),
            total_limit_usd: usd(k.total_limit_micro_usd),
            limit_5h_usd: usd(k.limit_5h_micro_usd),
            weekly_limit_usd: usd(k.weekly_limit_micro_usd),
            monthly_limit_usd: usd(k.monthly_limit_micro_usd),
            rpm_limit: k.rpm_limit,
            concurrency_limit: k.concurrency_limit,
            spend: None,
            last_used_at: rfc3339_opt(k.last_used_at),
            created_at: rfc3339(k.created_at),
            updated_at: rfc3339(k.updated_at),
        })
    }
}

/// A key just created or regenerated: the key object plus the full key, shown only here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key object.
    #[serde(flatten)]
    pub api_key: ApiKeyView,
    /// The full key (`sk-relay-…`). Store it now: it is never shown again.
    pub key: String,
}

/// `POST /api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyRequest {
    /// Display name.
    pub name: String,
    /// Group (default: the default group); you must own it or be a member.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Expiry: RFC 3339, `"YYYY-MM-DD HH:MM:SS"` in the configured time zone, or epoch ms;
    /// null or absent for never.
    #[serde(default)]
    pub expires_at: Option<TimeInput>,
    /// Model ids or globs (`claude-sonnet-*`); empty or absent: all.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Daily spend limit in USD (0 or absent: none).
    #[serde(default)]
    pub daily_limit_usd: Option<f64>,
    /// Total spend limit in USD (0 or absent: none).
    #[serde(default)]
    pub total_limit_usd: Option<f64>,
    /// Spend limit over a rolling five hours in USD (0 or absent: none).
    #[serde(default)]
    pub limit_5h_usd: Option<f64>,
    /// Spend limit per week (from Monday) in USD (0 or absent: none).
    #[serde(default)]
    pub weekly_limit_usd: Option<f64>,
    /// Spend limit per calendar month in USD (0 or absent: none).
    #[serde(default)]
    pub monthly_limit_usd: Option<f64>,
    /// Requests per minute (0 or absent: unlimited).
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    /// Requests in flight (0 or absent: unlimited).
    #[serde(default)]
    pub concurrency_limit: Option<i64>,
    /// Switch (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PUT /api-keys/{id}` body (absent fields keep their value; `null` clears a limit or the
/// expiry).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUpdate {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Group; you must own it or be a member.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Switch.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Expiry (as on create); `null` for never.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<TimeInput>)]
    pub expires_at: Option<Option<TimeInput>>,
    /// Model ids or globs; empty: all.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Daily spend limit in USD; 0 or `null`: none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<f64>)]
    pub daily_limit_usd: Option<Option<f64>>,
    /// Total spend limit in USD; 0 or `null`: none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<f64>)]
    pub total_limit_usd: Option<Option<f64>>,
    /// Rolling five-hour spend limit in USD; 0 or `null`: none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<f64>)]
    pub limit_5h_usd: Option<Option<f64>>,
    /// Weekly spend limit in USD; 0 or `null`: none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<f64>)]
    pub weekly_limit_usd: Option<Option<f64>>,
    /// Monthly spend limit in USD; 0 or `null`: none.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<f64>)]
    pub monthly_limit_usd: Option<Option<f64>>,
    /// Requests per minute; 0 or `null`: unlimited.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub rpm_limit: Option<Option<i64>>,
    /// Requests in flight; 0 or `null`: unlimited.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub concurrency_limit: Option<Option<i64>>,
}

fn money(field: &str, v: Option<f64>) -> Result<i64, ApiError> {
    validate::micro_usd(field, v.unwrap_or(0.0))
}

fn limit(field: &str, v: Option<i64>) -> Result<i64, ApiError> {
    validate::count(field, v.unwrap_or(0), 0, MAX_LIMIT)
}

fn expiry(tz: chrono_tz::Tz, v: Option<&TimeInput>) -> Result<Option<i64>, ApiError> {
    v.map(|t| t.to_ms(tz, "expires_at")).transpose()
}

impl NewKeyRequest {
    /// Validates every field (absent ones take their defaults) into a new key of `user_id`
    /// in `group_id` with the given key material.
    pub fn into_new_key(
        self,
        tz: chrono_tz::Tz,
        user_id: i64,
        group_id: i64,
        key_hash: String,
        key_prefix: String,
    ) -> Result<NewApiKey, ApiError> {
        Ok(NewApiKey {
            user_id,
            group_id,
            name: validate::text("name", &self.name, 128)?,
            key_hash,
            key_prefix,
            expires_at: expiry(tz, self.expires_at.as_ref())?,
            allowed_models: validate::models(
                "allowed_models",
                self.allowed_models.as_deref().unwrap_or_default(),
            )?,
            daily_limit_micro_usd: money("daily_limit_usd", self.daily_limit_usd)?,
            total_limit_micro_usd: money("total_limit_usd", self.total_limit_usd)?,
            limit_5h_micro_usd: money("limit_5h_usd", self.limit_5h_usd)?,
            weekly_limit_micro_usd: money("weekly_limit_usd", self.weekly_limit_usd)?,
            monthly_limit_micro_usd: money("monthly_limit_usd", self.monthly_limit_usd)?,
            rpm_limit: limit("rpm_limit", self.rpm_limit)?,
            concurrency_limit: limit("concurrency_limit", self.concurrency_limit)?,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

impl KeyUpdate {
    /// Validates the fields present.
    pub fn patch(&self, tz: chrono_tz::Tz) -> Result<ApiKeyPatch, ApiError> {
        Ok(ApiKeyPatch {
            name: self
                .name
                .as_deref()
                .map(|n| validate::text("name", n, 128))
                .transpose()?,
            group_id: None,
            enabled: self.enabled,
            expires_at: self
                .expires_at
                .as_ref()
                .map(|e| expiry(tz, e.as_ref()))
                .transpose()?,
            allowed_models: self
                .allowed_models
                .as_deref()
                .map(|m| validate::models("allowed_models", m))
                .transpose()?,
            daily_limit_micro_usd: self
                .daily_limit_usd
                .map(|v| money("daily_limit_usd", v))
                .transpose()?,
            total_limit_micro_usd: self
                .total_limit_usd
                .map(|v| money("total_limit_usd", v))
                .transpose()?,
            limit_5h_micro_usd: self
                .limit_5h_usd
                .map(|v| money("limit_5h_usd", v))
                .transpose()?,
            weekly_limit_micro_usd: self
                .weekly_limit_usd
                .map(|v| money("weekly_limit_usd", v))
                .transpose()?,
            monthly_limit_micro_usd: self
                .monthly_limit_usd
                .map(|v| money("monthly_limit_usd", v))
                .transpose()?,
            rpm_limit: self.rpm_limit.map(|v| limit("rpm_limit", v)).transpose()?,
            concurrency_limit: self
                .concurrency_limit
                .map(|v| limit("concurrency_limit", v))
                .transpose()?,
        })
    }
}
