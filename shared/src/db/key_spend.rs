//! Spend of keys against their limit windows (SPEC §4), read from the roll-ups: the days
//! since the earliest window start (the Monday of the week or the first of the month), the
//! UTC hours of the last five, and the total. The relay rebuilds its limit counters from it
//! at start; the admin API shows spend against each limit with it.

use std::collections::HashMap;

use chrono_tz::Tz;

use super::{on_db, Db, DbError, DbResult};
use crate::limit_windows::{self, Span, Window};

/// The spend of one key as the roll-ups hold it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpend {
    /// Spend per day (`YYYY-MM-DD` in the configured zone) from the earliest window start.
    pub days: Vec<(String, i64)>,
    /// Spend per UTC hour (its start, epoch ms) of the hours overlapping the last five.
    pub hours: Vec<(i64, i64)>,
    /// Spend ever.
    pub total: i64,
}

/// Where a key stands against one spend limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUse {
    /// Spent in the window, micro-USD.
    pub spent: i64,
    /// When the window next resets, epoch ms (`None`: the total, which never resets; or the
    /// rolling window with nothing to age out).
    pub resets_at: Option<i64>,
}

/// The bucket a UTC hour's spend is counted in for the rolling window: its last five
/// minutes, so that an hour partly inside the window counts until all of it has left.
pub fn hour_bucket(hour_start: i64) -> i64 {
    limit_windows::bucket_of(hour_start + 3_600_000 - limit_windows::BUCKET_MS)
}

impl KeySpend {
    /// Spend in the calendar window `span`.
    pub fn in_span(&self, span: &Span) -> i64 {
        // Days are read from the earliest window start on, none lies after `span`.
        let first = span.first_day.format("%Y-%m-%d").to_string();
        self.days
            .iter()
            .filter(|(d, _)| *d >= first)
            .map(|(_, v)| v)
            .sum()
    }

    /// The rolling window's (bucket, spend) pairs, oldest first, at `now_ms`.
    pub fn buckets(&self, now_ms: i64) -> Vec<(i64, i64)> {
        let first = limit_windows::first_live_bucket(now_ms);
        let mut b: Vec<(i64, i64)> = self
            .hours
            .iter()
            .map(|(h, v)| (hour_bucket(*h), *v))
            .filter(|(b, _)| *b >= first)
            .collect();
        b.sort_unstable();
        b
    }

    /// Where the key stands against each window at `now_ms` in `tz`: day, week, month (in
    /// [`Window::ALL`] order), the rolling five hours (reset computed against `limit_5h`),
    /// and the total.
    pub fn report(
        &self,
        tz: Tz,
        now_ms: i64,
        limit_5h: i64,
    ) -> ([WindowUse; 3], WindowUse, WindowUse) {
        let calendar = Window::ALL.map(|w| {
            let span = limit_windows::span(w, now_ms, tz);
            WindowUse {
                spent: self.in_span(&span),
                resets_at: Some(span.end_ms),
            }
        });
        let buckets = self.buckets(now_ms);
        let five = WindowUse {
            spent: buckets.iter().map(|(_, v)| v).sum(),
            resets_at: limit_windows::five_hour_reset(&buckets, limit_5h.max(1), now_ms),
        };
        let total = WindowUse {
            spent: self.total,
            resets_at: None,
        };
        (calendar, five, total)
    }
}

/// The first day (`YYYY-MM-DD`) and the first hour (epoch ms) the spend of `now_ms` needs.
pub fn read_from(tz: Tz, now_ms: i64) -> (String, i64) {
    let week = limit_windows::span(Window::Week, now_ms, tz).first_day;
    let month = limit_windows::span(Window::Month, now_ms, tz).first_day;
    let first = week.min(month).format("%Y-%m-%d").to_string();
    let hour = now_ms - now_ms.rem_euclid(3_600_000) - limit_windows::FIVE_HOURS_MS;
    (first, hour)
}

fn in_list(ids: Option<&[i64]>) -> String {
    match ids {
        None => String::new(),
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!(" AND api_key_id IN ({})", list.join(","))
        }
    }
}

/// The spend of the keys `ids` (every key with any spend when `None`) at `now_ms` in `tz`.
pub async fn read(
    db: &Db,
    ids: Option<&[i64]>,
    tz: Tz,
    now_ms: i64,
) -> DbResult<HashMap<i64, KeySpend>> {
    if ids.is_some_and(<[i64]>::is_empty) {
        return Ok(HashMap::new());
    }
    let (first_day, first_hour) = read_from(tz, now_ms);
    let only = in_list(ids);
    let days_sql = format!(
        "SELECT api_key_id, day, CAST(COALESCE(SUM(cost_micro_usd), 0) AS SIGNED INTEGER) \
         FROM usage_daily WHERE day >= ?{only} GROUP BY api_key_id, day"
    );
    let days: Vec<(i64, String, i64)> = on_db!(db, p => sqlx::query_as(&days_sql)
        .bind(&first_day)
        .fetch_all(p)
        .await
        .map_err(DbError::from))?;
    let hours_sql = format!(
        "SELECT api_key_id, hour_start, CAST(COALESCE(SUM(cost_micro_usd), 0) AS SIGNED INTEGER) \
         FROM usage_hourly WHERE hour_start >= ?{only} GROUP BY api_key_id, hour_start"
    );
    let hours: Vec<(i64, i64, i64)> = on_db!(db, p => sqlx::query_as(&hours_sql)
        .bind(first_hour)
        .fetch_all(p)
        .await
        .map_err(DbError::from))?;
    let total_sql = format!(
        "SELECT api_key_id, CAST(COALESCE(SUM(cost_micro_usd), 0) AS SIGNED INTEGER) \
         FROM usage_daily WHERE 1 = 1{only} GROUP BY api_key_id"
    );
    let totals: Vec<(i64, i64)> = on_db!(db, p => sqlx::query_as(&total_sql)
        .fetch_all(p)
        .await
        .map_err(DbError::from))?;
    let mut out: HashMap<i64, KeySpend> = HashMap::new();
    for (k, day, v) in days {
        out.entry(k).or_default().days.push((day, v));
    }
    for (k, h, v) in hours {
        out.entry(k).or_default().hours.push((h, v));
    }
    for (k, v) in totals {
        out.entry(k).or_default().total = v;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/key_spend.rs"]
mod tests;
