//! Dashboard and limit readers over the usage roll-ups (`usage_daily`, `usage_hourly`); they
//! never scan `usage_logs`. Also the roll-up counters ([`UsageTotals`]) and the run-time
//! `WHERE` builder shared with [`super::usage`]. Days are `YYYY-MM-DD` strings in the
//! configured time zone (see [`super::usage::day_of`]); hours are UTC epoch ms.

use serde::Serialize;
use sqlx::FromRow;

use super::usage::UsageRecord;
use super::{on_db, Db, DbError, DbResult, Page};

/// The counters kept per roll-up bucket (and summed by the dashboard readers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow, Serialize)]
pub struct UsageTotals {
    /// Requests.
    pub requests: i64,
    /// Requests whose outcome is not `ok`.
    pub errors: i64,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Cache-read input tokens.
    pub cache_read_input_tokens: i64,
    /// 5-minute cache-write input tokens.
    pub cache_creation_5m_input_tokens: i64,
    /// 1-hour cache-write input tokens.
    pub cache_creation_1h_input_tokens: i64,
    /// Cost, micro-USD.
    pub cost_micro_usd: i64,
}

impl UsageTotals {
    /// Adds one request's numbers.
    pub fn add(&mut self, r: &UsageRecord) {
        self.requests += 1;
        self.errors += i64::from(r.outcome != "ok");
        self.input_tokens += r.input_tokens;
        self.output_tokens += r.output_tokens;
        self.cache_read_input_tokens += r.cache_read_input_tokens;
        self.cache_creation_5m_input_tokens += r.cache_creation_5m_input_tokens;
        self.cache_creation_1h_input_tokens += r.cache_creation_1h_input_tokens;
        self.cost_micro_usd += r.cost_micro_usd;
    }
}

/// Counter columns of the roll-up tables, in [`UsageTotals`] field order.
pub(super) const COUNTERS: [&str; 8] = [
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cost_micro_usd",
];

/// A bind value of a statement whose `WHERE` is built at run time.
pub(super) enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// A string.
    Text(&'a str),
}

/// Binds every [`Arg`] of `$args`, in order, to the query `$q`.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::db::usage_stats::Arg::Int(v) => q.bind(*v),
                $crate::db::usage_stats::Arg::Text(s) => q.bind(*s),
            };
        }
        q
    }};
}
pub(super) use bind_args;

/// `AND`-joined conditions with `?` placeholders and their values, in order.
#[derive(Default)]
pub(super) struct Where<'a> {
    conds: Vec<&'static str>,
    /// Values of the placeholders, in order.
    pub args: Vec<Arg<'a>>,
}

impl<'a> Where<'a> {
    /// Adds `cond` (one `?`) with `v`, unless `v` is `None`.
    pub fn int(&mut self, cond: &'static str, v: Option<i64>) -> &mut Self {
        if let Some(v) = v {
            self.conds.push(cond);
            self.args.push(Arg::Int(v));
        }
        self
    }

    /// Adds `cond` (one `?`) with `v`, unless `v` is `None`.
    pub fn text(&mut self, cond: &'static str, v: Option<&'a str>) -> &mut Self {
        if let Some(v) = v {
            self.conds.push(cond);
            self.args.push(Arg::Text(v));
        }
        self
    }

    /// Adds `cond` holding several `?`, with their values in order.
    pub fn many(
        &mut self,
        cond: &'static str,
        args: impl IntoIterator<Item = Arg<'a>>,
    ) -> &mut Self {
        self.conds.push(cond);
        self.args.extend(args);
        self
    }

    /// `" WHERE a AND b"`, or `""` without conditions.
    pub fn sql(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }
}

/// Narrows the roll-ups read; `None` matches everything. Account 0 means "no account reached".
#[derive(Debug, Clone, Copy, Default)]
pub struct RollupFilter {
    /// Owner of the keys.
    pub user_id: Option<i64>,
    /// Key.
    pub api_key_id: Option<i64>,
    /// Account.
    pub account_id: Option<i64>,
}

/// The dimension [`totals_by`] groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupDim {
    /// Requested model.
    Model,
    /// Account id (`"0"`: no account reached).
    Account,
    /// API key id.
    ApiKey,
    /// User id.
    User,
}

/// The sums of one day.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct DayTotals {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// The sums (serialized flat).
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// The sums of one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct HourTotals {
    /// Start of the hour, epoch ms.
    pub hour_start: i64,
    /// The sums (serialized flat).
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// The sums of one value of a [`RollupDim`].
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct DimTotals {
    /// The model name, or the id as text.
    pub key: String,
    /// The sums (serialized flat).
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// Spend of one key, to rebuild the limit counters at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow, Serialize)]
pub struct KeyCost {
    /// Key.
    pub api_key_id: i64,
    /// Spend over all time, micro-USD.
    pub total_micro_usd: i64,
    /// Spend on the given day, micro-USD.
    pub today_micro_usd: i64,
}

/// `CAST(COALESCE(SUM(c),0) AS SIGNED INTEGER) AS c` for every counter (MySQL's `SUM` is a
/// DECIMAL, which does not decode into `i64`).
fn sums() -> String {
    COUNTERS
        .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS SIGNED INTEGER) AS {c}"))
        .join(", ")
}

fn rollup_where<'a>(f: &RollupFilter) -> Where<'a> {
    let mut w = Where::default();
    w.int("user_id = ?", f.user_id)
        .int("api_key_id = ?", f.api_key_id)
        .int("account_id = ?", f.account_id);
    w
}

/// Per-day sums for the days `from_day..=to_day`, oldest first; days without traffic are
/// absent.
pub async fn daily_totals(
    db: &Db,
    filter: &RollupFilter,
    from_day: &str,
    to_day: &str,
) -> DbResult<Vec<DayTotals>> {
    let mut w = rollup_where(filter);
    w.text("day >= ?", Some(from_day))
        .text("day <= ?", Some(to_day));
    let sql = format!(
        "SELECT day, {} FROM usage_daily{} GROUP BY day ORDER BY day",
        sums(),
        w.sql()
    );
    on_db!(db, p => bind_args!(sqlx::query_as::<_, DayTotals>(&sql), &w.args)
        .fetch_all(p)
        .await
        .map_err(DbError::from))
}

/// Per-hour sums for the hours starting in `[from_ms, to_ms)`, oldest first; hours without
/// traffic are absent.
pub async fn hourly_totals(
    db: &Db,
    filter: &RollupFilter,
    from_ms: i64,
    to_ms: i64,
) -> DbResult<Vec<HourTotals>> {
    let mut w = rollup_where(filter);
    w.int("hour_start >= ?", Some(from_ms))
        .int("hour_start < ?", Some(to_ms));
    let sql = format!(
        "SELECT hour_start, {} FROM usage_hourly{} GROUP BY hour_start ORDER BY hour_start",
        sums(),
        w.sql()
    );
    on_db!(db, p => bind_args!(sqlx::query_as::<_, HourTotals>(&sql), &w.args)
        .fetch_all(p)
        .await
        .map_err(DbError::from))
}

/// Sums per model, account, key or user over the days `from_day..=to_day`, highest cost
/// first (ties by key).
pub async fn totals_by(
    db: &Db,
    dim: RollupDim,
    filter: &RollupFilter,
    from_day: &str,
    to_day: &str,
) -> DbResult<Vec<DimTotals>> {
    let column = dim_column(dim);
    let key = if dim == RollupDim::Model {
        column.to_string()
    } else {
        format!("CAST({column} AS CHAR)")
    };
    let mut w = rollup_where(filter);
    w.text("day >= ?", Some(from_day))
        .text("day <= ?", Some(to_day));
    let sql = format!(
        "SELECT {key} AS `key`, {} FROM usage_daily{} GROUP BY {column}",
        sums(),
        w.sql()
    );
    let mut rows = on_db!(db, p => bind_args!(sqlx::query_as::<_, DimTotals>(&sql), &w.args)
        .fetch_all(p)
        .await)?;
    rows.sort_by(|a, b| {
        b.totals
            .cost_micro_usd
            .cmp(&a.totals.cost_micro_usd)
            .then_with(|| a.key.cmp(&b.key))
    });
    Ok(rows)
}

/// One page of [`totals_by`]: the sums per model, account, key or user over the days
/// `from_day..=to_day`, highest cost first (ties by the grouped column), and how many groups
/// there are in all. Lets a caller walk every group without holding them all.
pub async fn totals_by_page(
    db: &Db,
    dim: RollupDim,
    filter: &RollupFilter,
    from_day: &str,
    to_day: &str,
    page: Page,
) -> DbResult<(Vec<DimTotals>, i64)> {
    let column = dim_column(dim);
    let key = if dim == RollupDim::Model {
        column.to_string()
    } else {
        format!("CAST({column} AS CHAR)")
    };
    let mut w = rollup_where(filter);
    w.text("day >= ?", Some(from_day))
        .text("day <= ?", Some(to_day));
    let sql = format!(
        "SELECT {key} AS `key`, {} FROM usage_daily{} GROUP BY {column} \
         ORDER BY SUM(cost_micro_usd) DESC, {column} LIMIT ? OFFSET ?",
        sums(),
        w.sql()
    );
    let rows = on_db!(db, p => bind_args!(sqlx::query_as::<_, DimTotals>(&sql), &w.args)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(p)
        .await)?;
    let sql = format!(
        "SELECT COUNT(DISTINCT {column}) FROM usage_daily{}",
        w.sql()
    );
    let total = on_db!(db, p => bind_args!(sqlx::query_scalar::<_, i64>(&sql), &w.args)
        .fetch_one(p)
        .await)?;
    Ok((rows, total))
}

fn dim_column(dim: RollupDim) -> &'static str {
    match dim {
        RollupDim::Model => "model",
        RollupDim::Account => "account_id",
        RollupDim::ApiKey => "api_key_id",
        RollupDim::User => "user_id",
    }
}

/// Spend of key `api_key_id` from `day` on (inclusive), micro-USD.
pub async fn key_spend_since_day(db: &Db, api_key_id: i64, day: &str) -> DbResult<i64> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "SELECT CAST(COALESCE(SUM(cost_micro_usd), 0) AS SIGNED INTEGER) FROM usage_daily \
         WHERE api_key_id = ? AND day >= ?",
    )
    .bind(api_key_id)
    .bind(day)
    .fetch_one(p)
    .await
    .map_err(DbError::from))
}

/// Total and `today_day` spend of every key that has any roll-up, by key id (the limit
/// counters are rebuilt from this at start).
pub async fn key_costs(db: &Db, today_day: &str) -> DbResult<Vec<KeyCost>> {
    on_db!(db, p => sqlx::query_as::<_, KeyCost>(
        "SELECT api_key_id, CAST(COALESCE(SUM(cost_micro_usd), 0) AS SIGNED INTEGER) AS total_micro_usd, \
         CAST(COALESCE(SUM(CASE WHEN day = ? THEN cost_micro_usd ELSE 0 END), 0) AS SIGNED INTEGER) \
         AS today_micro_usd FROM usage_daily GROUP BY api_key_id ORDER BY api_key_id",
    )
    .bind(today_day)
    .fetch_all(p)
    .await
    .map_err(DbError::from))
}

#[cfg(test)]
#[path = "tests/usage_stats.rs"]
mod tests;
