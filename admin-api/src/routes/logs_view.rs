//! The usage row as answered by `/logs` and `/admin/logs` (SPEC §6 field names, money as
//! both micro-USD and USD, times RFC 3339), its CSV form (the same columns, in the same
//! order), and the log filters of the query string.

use relay_shared::db::usage::{LogFilter, UsageLogRow};
use relay_shared::models::Outcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::csv_stream::opt;
use crate::error::ApiError;
use crate::time::{query_time, rfc3339};
use crate::views::usd;

/// One relayed request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageLogView {
    /// Id.
    pub id: i64,
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// When the request ended (RFC 3339 UTC).
    pub created_at: String,
    /// Key used.
    pub api_key_id: i64,
    /// Account of the last attempt (null when no account was reached).
    pub account_id: Option<i64>,
    /// Owner of the key.
    pub user_id: i64,
    /// Group of the key.
    pub group_id: i64,
    /// Model the client asked for.
    pub model: String,
    /// Model sent upstream and billed.
    pub upstream_model: String,
    /// Streaming request.
    pub stream: bool,
    /// Status sent to the client (499 when the client closed first).
    pub status_code: i64,
    /// `ok`, `client_closed`, `upstream_error` or `relay_error`.
    pub outcome: String,
    /// Anthropic error type, if any.
    pub error_type: Option<String>,
    /// Upstream attempts.
    pub attempts: i64,
    /// Whether a sticky session chose the account.
    pub sticky: bool,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: i64,
    /// Input tokens written to the prompt cache (5-minute + 1-hour).
    pub cache_creation_input_tokens: i64,
    /// Input tokens written to the 5-minute cache.
    pub cache_creation_5m_input_tokens: i64,
    /// Input tokens written to the 1-hour cache.
    pub cache_creation_1h_input_tokens: i64,
    /// Cost in micro-USD.
    pub cost_micro_usd: i64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Total duration, ms.
    pub duration_ms: i64,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<i64>,
}

/// The CSV columns, in [`UsageLogView`] field order.
pub const CSV_HEADER: [&str; 25] = [
    "id",
    "request_id",
    "created_at",
    "api_key_id",
    "account_id",
    "user_id",
    "group_id",
    "model",
    "upstream_model",
    "stream",
    "status_code",
    "outcome",
    "error_type",
    "attempts",
    "sticky",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cost_micro_usd",
    "cost_usd",
    "duration_ms",
    "ttfb_ms",
];

impl From<&UsageLogRow> for UsageLogView {
    fn from(row: &UsageLogRow) -> Self {
        let r = &row.record;
        Self {
            id: row.id,
            request_id: r.request_id.clone(),
            created_at: rfc3339(r.created_at),
            api_key_id: r.api_key_id,
            account_id: r.account_id,
            user_id: r.user_id,
            group_id: r.group_id,
            model: r.model.clone(),
            upstream_model: r.upstream_model.clone(),
            stream: r.stream,
            status_code: r.status_code,
            outcome: r.outcome.clone(),
            error_type: r.error_type.clone(),
            attempts: r.attempts,
            sticky: r.sticky,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_read_input_tokens: r.cache_read_input_tokens,
            cache_creation_input_tokens: r.cache_creation_5m_input_tokens
                + r.cache_creation_1h_input_tokens,
            cache_creation_5m_input_tokens: r.cache_creation_5m_input_tokens,
            cache_creation_1h_input_tokens: r.cache_creation_1h_input_tokens,
            cost_micro_usd: r.cost_micro_usd,
            cost_usd: usd(r.cost_micro_usd),
            duration_ms: r.duration_ms,
            ttfb_ms: r.ttfb_ms,
        }
    }
}

impl UsageLogView {
    /// The CSV record, in [`CSV_HEADER`] order.
    pub fn csv_record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.request_id.clone(),
            self.created_at.clone(),
            self.api_key_id.to_string(),
            opt(self.account_id),
            self.user_id.to_string(),
            self.group_id.to_string(),
            self.model.clone(),
            self.upstream_model.clone(),
            self.stream.to_string(),
            self.status_code.to_string(),
            self.outcome.clone(),
            opt(self.error_type.as_deref()),
            self.attempts.to_string(),
            self.sticky.to_string(),
            self.input_tokens.to_string(),
            self.output_tokens.to_string(),
            self.cache_read_input_tokens.to_string(),
            self.cache_creation_input_tokens.to_string(),
            self.cache_creation_5m_input_tokens.to_string(),
            self.cache_creation_1h_input_tokens.to_string(),
            self.cost_micro_usd.to_string(),
            self.cost_usd.to_string(),
            self.duration_ms.to_string(),
            opt(self.ttfb_ms),
        ]
    }
}

/// Filters of the log lists and exports. `user_id` and `account_id` are for
/// `/admin/logs` only; `/logs` always shows the caller's own rows.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only this key.
    pub api_key_id: Option<i64>,
    /// Only this account (`/admin/logs`).
    pub account_id: Option<i64>,
    /// Only this user's keys (`/admin/logs`).
    pub user_id: Option<i64>,
    /// Only this requested model (exact).
    pub model: Option<String>,
    /// Only this status sent to the client (499: the client closed first).
    pub status_code: Option<i64>,
    /// Only this outcome: `ok`, `client_closed`, `upstream_error` or `relay_error`.
    pub outcome: Option<String>,
    /// From this time on (inclusive): RFC 3339, `"YYYY-MM-DD HH:MM:SS"` or `"YYYY-MM-DD"` in
    /// the configured time zone, or epoch ms.
    pub from: Option<String>,
    /// Before this time (exclusive), written like `from`.
    pub to: Option<String>,
}

/// Whose rows a list may show.
#[derive(Debug, Clone, Copy)]
pub enum LogScope {
    /// Only this user's rows (`/logs`).
    Own(i64),
    /// Every row, narrowed by the `user_id` and `account_id` filters (`/admin/logs`).
    All,
}

impl LogQuery {
    /// The validated repository filter for `scope`.
    pub fn filter(&self, tz: chrono_tz::Tz, scope: LogScope) -> Result<LogFilter, ApiError> {
        if let Some(o) = &self.outcome {
            Outcome::parse(o).ok_or_else(|| {
                ApiError::invalid(
                    "outcome",
                    format!("`outcome` must be one of: {}", Outcome::allowed()),
                )
            })?;
        }
        let from_ms = self
            .from
            .as_deref()
            .map(|v| query_time("from", v, tz))
            .transpose()?;
        let to_ms = self
            .to
            .as_deref()
            .map(|v| query_time("to", v, tz))
            .transpose()?;
        if let (Some(f), Some(t)) = (from_ms, to_ms) {
            if f > t {
                return Err(ApiError::invalid("to", "`to` must not be before `from`"));
            }
        }
        let (user_id, account_id) = match scope {
            LogScope::Own(id) => (Some(id), None),
            LogScope::All => (self.user_id, self.account_id),
        };
        Ok(LogFilter {
            user_id,
            api_key_id: self.api_key_id,
            account_id,
            group_id: None,
            model: self.model.clone().filter(|m| !m.is_empty()),
            status_code: self.status_code,
            outcome: self.outcome.clone(),
            from_ms,
            to_ms,
        })
    }
}
