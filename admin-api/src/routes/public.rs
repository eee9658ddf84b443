//! `POST /public/key-usage`: what a key holder may learn about their own key without an
//! account — name, status, expiry, allowed models, spend against its limits, the time to the
//! daily reset, a 30-day trend and the 20 latest requests. The key travels in the body or in
//! `x-api-key`, never in a URL. Nothing about the owner (e-mail, user id) or about other
//! objects (group, account ids) is answered. An unknown key is a plain 404, and failed lookups
//! are throttled per client IP (as logins are) against key guessing.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use chrono::{Duration as Days, Utc};
use relay_shared::crypto::hash_relay_key;
use relay_shared::db::usage::{self, LogFilter};
use relay_shared::db::usage_stats::{self, RollupFilter};
use relay_shared::db::{api_keys, users, DbError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::key_spend_view::{self, SpendView};
use super::stats_view::{DayRange, TotalsView};
use crate::auth::client::ClientIp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::MaybeJson;
use crate::state::AppState;
use crate::time::{day_text, midnight_ms, rfc3339, rfc3339_opt, today};
use crate::views::usd;

/// Requests listed in `recent_requests`.
const RECENT: u32 = 20;
/// Days in `trend`.
const TREND_DAYS: i64 = 30;

/// `POST /public/key-usage` body (or send the key as `x-api-key` and no body).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyUsageRequest {
    /// The full relay key (`sk-relay-…`).
    pub key: String,
}

/// One day of the key's trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyDay {
    /// `YYYY-MM-DD` in the configured time zone.
    pub day: String,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

/// One recent request of the key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyRequest {
    /// When it ended (RFC 3339 UTC).
    pub created_at: String,
    /// Model asked for.
    pub model: String,
    /// Status sent to the client.
    pub status_code: i64,
    /// `ok`, `client_closed`, `upstream_error` or `relay_error`.
    pub outcome: String,
    /// Streaming request.
    pub stream: bool,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache-read input tokens.
    pub cache_read_input_tokens: i64,
    /// Cache-write input tokens (5-minute + 1-hour).
    pub cache_creation_input_tokens: i64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Duration, ms.
    pub duration_ms: i64,
}

/// Usage of one key, as its holder may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyUsage {
    /// The key's name.
    pub name: String,
    /// Its display prefix.
    pub key_prefix: String,
    /// The key's switch.
    pub enabled: bool,
    /// `active`, `disabled` (the key or its owner) or `expired`.
    pub status: String,
    /// Expiry (RFC 3339 UTC), null for never.
    pub expires_at: Option<String>,
    /// Models the key may use (empty: all).
    pub allowed_models: Vec<String>,
    /// Spend today (configured time zone), USD.
    pub today_cost_usd: f64,
    /// Daily limit, USD (0: none).
    pub daily_limit_usd: f64,
    /// When the daily spend resets: next midnight in the configured time zone (RFC 3339 UTC).
    pub daily_reset_at: String,
    /// Seconds until then.
    pub daily_reset_in_seconds: i64,
    /// Spend over all time, USD.
    pub total_cost_usd: f64,
    /// Total limit, USD (0: none).
    pub total_limit_usd: f64,
    /// Spend limit over a rolling five hours, USD (0: none).
    pub limit_5h_usd: f64,
    /// Spend limit per week (from Monday), USD (0: none).
    pub weekly_limit_usd: f64,
    /// Spend limit per calendar month, USD (0: none).
    pub monthly_limit_usd: f64,
    /// Requests per minute (0: unlimited).
    pub rpm_limit: i64,
    /// Requests in flight (0: unlimited).
    pub concurrency_limit: i64,
    /// Spend against every limit (exact micro-USD too) and when each window resets.
    pub spend: SpendView,
    /// The time zone of days and of the reset.
    pub timezone: String,
    /// The last 30 days, oldest first (zeros where nothing happened).
    pub trend: Vec<KeyDay>,
    /// The latest requests, newest first.
    pub recent_requests: Vec<KeyRequest>,
}

fn key_of(headers: &HeaderMap, body: Option<KeyUsageRequest>) -> Result<String, ApiError> {
    let header = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let key = match (body, header) {
        (Some(b), _) => b.key,
        (None, Some(h)) => h.to_string(),
        (None, None) => {
            return Err(ApiError::invalid(
                "key",
                "send the key as {\"key\": \"sk-…\"} or in the x-api-key header",
            ))
        }
    };
    let key = key.trim().to_string();
    if key.is_empty() || key.len() > 256 {
        return Err(ApiError::invalid("key", "`key` must be a relay key"));
    }
    Ok(key)
}

/// Usage and limits of one relay key (no sign-in; the key in the body or `x-api-key`).
#[utoipa::path(post, path = "/api/v1/public/key-usage", tag = "public",
    request_body(content = KeyUsageRequest, description = "Or no body and the key in `x-api-key`"),
    params(("x-api-key" = Option<String>, Header, description = "The relay key, instead of the body")),
    responses(
        (status = 200, description = "The key's usage", body = KeyUsage),
        (status = 400, description = "No key sent", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 429, description = "Too many failed lookups from this address", body = ErrorBody),
    ))]
pub async fn key_usage(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    MaybeJson(body): MaybeJson<KeyUsageRequest>,
) -> Result<Json<KeyUsage>, ApiError> {
    let attempt =
        state
            .key_lookup_throttle
            .reserve_ip(&ip)
            .map_err(|wait| ApiError::TooManyRequests {
                code: "too_many_attempts",
                message: "too many failed key lookups; try again later".into(),
                retry_after: wait,
            })?;
    let key = match key_of(&headers, body) {
        Ok(k) => k,
        Err(e) => {
            attempt.cancel();
            return Err(e);
        }
    };
    let found = match api_keys::find_by_hash(&state.db, &hash_relay_key(&key)).await {
        Ok(found) => found,
        Err(e) => {
            attempt.cancel();
            return Err(e.into());
        }
    };
    let Some(row) = found else {
        attempt.failed();
        tracing::info!(%ip, "public key lookup for an unknown key");
        return Err(ApiError::not_found("no such key"));
    };
    attempt.succeeded();
    let owner_enabled = match users::get(&state.db, row.user_id).await {
        Ok(u) => u.enabled,
        Err(DbError::NotFound) => false,
        Err(e) => return Err(e.into()),
    };
    let tz = state.config.tz();
    let now = Utc::now().timestamp_millis();
    let status = if !row.enabled || !owner_enabled {
        "disabled"
    } else if row.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    let day = today(tz);
    let range = DayRange {
        from: day - Days::days(TREND_DAYS - 1),
        to: day,
    };
    let filter = RollupFilter {
        api_key_id: Some(row.id),
        ..Default::default()
    };
    let days =
        usage_stats::daily_totals(&state.db, &filter, &range.from_text(), &range.to_text()).await?;
    let trend: Vec<KeyDay> = range
        .days()
        .map(|d| {
            let text = day_text(d);
            let totals = days
                .iter()
                .find(|r| r.day == text)
                .map(|r| TotalsView::from(&r.totals))
                .unwrap_or_default();
            KeyDay { day: text, totals }
        })
        .collect();
    let today_micro = usage_stats::key_spend_since_day(&state.db, row.id, &day_text(day)).await?;
    // Every stored day sorts after this one.
    let total_micro = usage_stats::key_spend_since_day(&state.db, row.id, "0000-00-00").await?;
    let log_filter = LogFilter {
        api_key_id: Some(row.id),
        ..Default::default()
    };
    // The newest rows of the key through its (key, time) index; nothing is counted.
    let recent = usage::list_logs_after(&state.db, &log_filter, None, RECENT).await?;
    let reset_at = midnight_ms(day + Days::days(1), tz);
    let spend = key_spend_view::of_rows(&state.db, std::slice::from_ref(&row), tz)
        .await?
        .remove(&row.id)
        .ok_or_else(|| ApiError::Internal("key spend not read".into()))?;
    Ok(Json(KeyUsage {
        name: row.name.clone(),
        key_prefix: row.key_prefix.clone(),
        enabled: row.enabled,
        status: status.into(),
        expires_at: rfc3339_opt(row.expires_at),
        allowed_models: row.allowed_models()?,
        today_cost_usd: usd(today_micro),
        daily_limit_usd: usd(row.daily_limit_micro_usd),
        daily_reset_at: rfc3339(reset_at),
        daily_reset_in_seconds: ((reset_at - now) / 1000).max(0),
        total_cost_usd: usd(total_micro),
        total_limit_usd: usd(row.total_limit_micro_usd),
        limit_5h_usd: usd(row.limit_5h_micro_usd),
        weekly_limit_usd: usd(row.weekly_limit_micro_usd),
        monthly_limit_usd: usd(row.monthly_limit_micro_usd),
        rpm_limit: row.rpm_limit,
        concurrency_limit: row.concurrency_limit,
        spend,
        timezone: tz.name().to_string(),
        trend,
        recent_requests: recent
            .iter()
            .map(|r| {
                let r = &r.record;
                KeyRequest {
                    created_at: rfc3339(r.created_at),
                    model: r.model.clone(),
                    status_code: r.status_code,
                    outcome: r.outcome.clone(),
                    stream: r.stream,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    cache_read_input_tokens: r.cache_read_input_tokens,
                    cache_creation_input_tokens: r.cache_creation_5m_input_tokens
                        + r.cache_creation_1h_input_tokens,
                    cost_usd: usd(r.cost_micro_usd),
                    duration_ms: r.duration_ms,
                }
            })
            .collect(),
    }))
}
