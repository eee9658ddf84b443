//! What the statistics routes share: the sums as answered ([`TotalsView`], and its CSV
//! columns), the role scope (a user sees only their own keys), and the day range of the
//! query string (default: the last 30 days in the configured time zone).

use chrono::{Duration as Days, NaiveDate};
use chrono_tz::Tz;
use relay_shared::db::usage_stats::{RollupFilter, UsageTotals};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::time::{day_text, query_day, today};
use crate::views::usd;

/// Longest day range of one statistics query.
pub const MAX_DAYS: i64 = 366;
/// Days of the default range.
pub const DEFAULT_DAYS: i64 = 30;

/// Request, error, token and cost sums.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct TotalsView {
    /// Requests.
    pub requests: i64,
    /// Requests whose outcome is not `ok`.
    pub errors: i64,
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
    /// Every token above.
    pub total_tokens: i64,
    /// Cost in micro-USD.
    pub cost_micro_usd: i64,
    /// Cost in USD.
    pub cost_usd: f64,
}

/// CSV columns of [`TotalsView`], in field order.
pub const TOTALS_CSV: [&str; 11] = [
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "total_tokens",
    "cost_micro_usd",
    "cost_usd",
];

impl From<&UsageTotals> for TotalsView {
    fn from(t: &UsageTotals) -> Self {
        let cache_creation = t.cache_creation_5m_input_tokens + t.cache_creation_1h_input_tokens;
        Self {
            requests: t.requests,
            errors: t.errors,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cache_read_input_tokens: t.cache_read_input_tokens,
            cache_creation_input_tokens: cache_creation,
            cache_creation_5m_input_tokens: t.cache_creation_5m_input_tokens,
            cache_creation_1h_input_tokens: t.cache_creation_1h_input_tokens,
            total_tokens: t.input_tokens
                + t.output_tokens
                + t.cache_read_input_tokens
                + cache_creation,
            cost_micro_usd: t.cost_micro_usd,
            cost_usd: usd(t.cost_micro_usd),
        }
    }
}

impl TotalsView {
    /// The CSV fields, in [`TOTALS_CSV`] order.
    pub fn csv(&self) -> Vec<String> {
        vec![
            self.requests.to_string(),
            self.errors.to_string(),
            self.input_tokens.to_string(),
            self.output_tokens.to_string(),
            self.cache_read_input_tokens.to_string(),
            self.cache_creation_input_tokens.to_string(),
            self.cache_creation_5m_input_tokens.to_string(),
            self.cache_creation_1h_input_tokens.to_string(),
            self.total_tokens.to_string(),
            self.cost_micro_usd.to_string(),
            self.cost_usd.to_string(),
        ]
    }
}

/// `header` followed by the [`TOTALS_CSV`] columns.
pub fn csv_header(first: &[&'static str]) -> Vec<&'static str> {
    first.iter().copied().chain(TOTALS_CSV).collect()
}

/// Whose usage a statistic covers. Users always see only their own keys; `user_id` and
/// `account_id` narrow an administrator's view and are ignored for users.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// Only this user's keys (administrators).
    pub user_id: Option<i64>,
    /// Only this key.
    pub api_key_id: Option<i64>,
    /// Only this account (administrators; 0: requests that reached no account).
    pub account_id: Option<i64>,
}

impl ScopeQuery {
    /// The roll-up filter `user` may read.
    pub fn filter(&self, user: &CurrentUser) -> RollupFilter {
        if user.is_admin() {
            RollupFilter {
                user_id: self.user_id,
                api_key_id: self.api_key_id,
                account_id: self.account_id,
            }
        } else {
            RollupFilter {
                user_id: Some(user.id()),
                api_key_id: self.api_key_id,
                account_id: None,
            }
        }
    }
}

/// `?from=&to=`: days in the configured time zone, both inclusive.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayRangeQuery {
    /// First day, `YYYY-MM-DD` (or a time; its day counts). Default: 29 days before `to`.
    pub from: Option<String>,
    /// Last day, inclusive, written like `from`. Default: today.
    pub to: Option<String>,
}

/// A validated day range.
#[derive(Debug, Clone, Copy)]
pub struct DayRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

impl DayRange {
    /// `from` as `YYYY-MM-DD`.
    pub fn from_text(&self) -> String {
        day_text(self.from)
    }

    /// `to` as `YYYY-MM-DD`.
    pub fn to_text(&self) -> String {
        day_text(self.to)
    }

    /// Every day of the range, oldest first.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while({
            let to = self.to;
            move |d| *d <= to
        })
    }
}

impl DayRangeQuery {
    /// The range, at most [`MAX_DAYS`] long.
    pub fn range(&self, tz: Tz) -> Result<DayRange, ApiError> {
        let to = match &self.to {
            Some(v) => query_day("to", v, tz)?,
            None => today(tz),
        };
        let from = match &self.from {
            Some(v) => query_day("from", v, tz)?,
            None => to - Days::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(ApiError::invalid("to", "`to` must not be before `from`"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(ApiError::invalid(
                "from",
                format!("a range covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(DayRange { from, to })
    }
}
