//! Spend of a key against each of its limits, as the key object and the public usage page
//! show it (SPEC §4): spent and limit in USD and micro-USD, and when each window resets.
//! Read from the roll-ups, so it is what the relay rebuilds its counters from.

use std::collections::HashMap;

use relay_shared::db::api_keys::ApiKeyRow;
use relay_shared::db::key_spend::{self, KeySpend, WindowUse};
use relay_shared::db::Db;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::time::rfc3339;
use crate::views::usd;

/// Where a key stands against one limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitUse {
    /// Spent in the window, USD.
    pub spent_usd: f64,
    /// Spent in the window, micro-USD (exact).
    pub spent_micro_usd: i64,
    /// The limit, USD (0: none).
    pub limit_usd: f64,
    /// The limit, micro-USD (0: none).
    pub limit_micro_usd: i64,
    /// When the window next resets (RFC 3339 UTC); null for the total, and for the rolling
    /// window when it holds no spend.
    pub resets_at: Option<String>,
    /// Seconds until then.
    pub resets_in_seconds: Option<i64>,
}

/// A key's spend against each limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SpendView {
    /// Since midnight in the configured time zone (`daily_limit_usd`).
    pub daily: LimitUse,
    /// Since Monday midnight there (`weekly_limit_usd`).
    pub weekly: LimitUse,
    /// Since the first of the month there (`monthly_limit_usd`).
    pub monthly: LimitUse,
    /// Over the last five hours (`limit_5h_usd`).
    pub five_hours: LimitUse,
    /// Ever (`total_limit_usd`).
    pub total: LimitUse,
}

fn limit_use(w: WindowUse, limit: i64, now_ms: i64) -> LimitUse {
    LimitUse {
        spent_usd: usd(w.spent),
        spent_micro_usd: w.spent,
        limit_usd: usd(limit),
        limit_micro_usd: limit,
        resets_at: w.resets_at.map(rfc3339),
        resets_in_seconds: w.resets_at.map(|t| (t - now_ms).max(0).div_euclid(1000)),
    }
}

impl SpendView {
    /// The view of `row`'s `spend` at `now_ms` in `tz`.
    pub fn of(row: &ApiKeyRow, spend: &KeySpend, tz: chrono_tz::Tz, now_ms: i64) -> Self {
        let (cal, five, total) = spend.report(tz, now_ms, row.limit_5h_micro_usd);
        let [day, week, month] = cal;
        Self {
            daily: limit_use(day, row.daily_limit_micro_usd, now_ms),
            weekly: limit_use(week, row.weekly_limit_micro_usd, now_ms),
            monthly: limit_use(month, row.monthly_limit_micro_usd, now_ms),
            five_hours: limit_use(five, row.limit_5h_micro_usd, now_ms),
            total: limit_use(total, row.total_limit_micro_usd, now_ms),
        }
    }
}

/// The spend views of `rows` (one read of the roll-ups for all of them).
pub async fn of_rows(
    db: &Db,
    rows: &[ApiKeyRow],
    tz: chrono_tz::Tz,
) -> Result<HashMap<i64, SpendView>, ApiError> {
    let now = relay_shared::db::now_ms();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let spend = key_spend::read(db, Some(&ids), tz, now).await?;
    let empty = KeySpend::default();
    Ok(rows
        .iter()
        .map(|r| {
            let s = spend.get(&r.id).unwrap_or(&empty);
            (r.id, SpendView::of(r, s, tz, now))
        })
        .collect())
}
