//! `/stats/overview` (today against yesterday in the configured time zone) and `/stats/trend`
//! (per hour from `usage_hourly`, per day from `usage_daily`, gaps filled with zeros), and the
//! trend's CSV export. Read from the roll-ups only, scoped by role: a user sees their own keys.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use chrono::Duration as Days;
use relay_shared::db::accounts::{self, AccountFilter};
use relay_shared::db::api_keys::{self, ApiKeyFilter};
use relay_shared::db::usage::hour_of;
use relay_shared::db::usage_stats::{self, RollupFilter, UsageTotals};
use relay_shared::db::{now_ms, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::stats_view::{csv_header, DayRangeQuery, ScopeQuery, TotalsView};
use crate::auth::CurrentUser;
use crate::csv_stream::{self, CsvPage};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::time::{day_text, midnight_ms, query_time, rfc3339, today};

const HOUR_MS: i64 = 3_600_000;
/// Most hourly buckets one trend answers (31 days).
const MAX_HOURS: i64 = 31 * 24;

/// The sums of one day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayTotalsView {
    /// `YYYY-MM-DD` in the configured time zone.
    pub day: String,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

/// Keys in scope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyCounts {
    /// Every key in scope.
    pub total: i64,
}

/// Accounts of the pool (administrators).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountCounts {
    /// Every account.
    pub total: i64,
    /// Switched on.
    pub enabled: i64,
    /// Switched on and `active`.
    pub active: i64,
    /// In `cooling`.
    pub cooling: i64,
    /// In `error`.
    pub error: i64,
}

/// `GET /stats/overview`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    /// The time zone days are counted in.
    pub timezone: String,
    /// Today so far.
    pub today: DayTotalsView,
    /// Yesterday.
    pub yesterday: DayTotalsView,
    /// Keys in scope (the caller's own for users).
    pub keys: KeyCounts,
    /// Accounts (administrators only; absent for users).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<AccountCounts>,
}

async fn count_accounts(state: &AppState) -> Result<AccountCounts, ApiError> {
    let one = Page {
        page: 1,
        page_size: 1,
    };
    let count = |f: AccountFilter| async move {
        accounts::list(&state.db, &f, one)
            .await
            .map(|(_, n)| n)
            .map_err(ApiError::from)
    };
    let state_is = |s: &str, enabled: Option<bool>| AccountFilter {
        state: Some(s.to_string()),
        enabled,
        ..Default::default()
    };
    Ok(AccountCounts {
        total: count(AccountFilter::default()).await?,
        enabled: count(AccountFilter {
            enabled: Some(true),
            ..Default::default()
        })
        .await?,
        active: count(state_is("active", Some(true))).await?,
        cooling: count(state_is("cooling", None)).await?,
        error: count(state_is("error", None)).await?,
    })
}

/// Today against yesterday (requests, errors, tokens by type, cost) and counts of keys and,
/// for administrators, accounts.
#[utoipa::path(get, path = "/api/v1/stats/overview", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(ScopeQuery),
    responses((status = 200, description = "Today and yesterday", body = Overview)))]
pub async fn overview(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Json<Overview>, ApiError> {
    let tz = state.config.tz();
    let filter = scope.filter(&user);
    let day = today(tz);
    let (t, y) = (day_text(day), day_text(day - Days::days(1)));
    let rows = usage_stats::daily_totals(&state.db, &filter, &y, &t).await?;
    let of = |d: &str| DayTotalsView {
        day: d.to_string(),
        totals: rows
            .iter()
            .find(|r| r.day == d)
            .map(|r| TotalsView::from(&r.totals))
            .unwrap_or_default(),
    };
    let (_, keys) = api_keys::list(
        &state.db,
        ApiKeyFilter {
            user_id: filter.user_id,
            group_id: None,
        },
        Page {
            page: 1,
            page_size: 1,
        },
    )
    .await?;
    let accounts = if user.is_admin() {
        Some(count_accounts(&state).await?)
    } else {
        None
    };
    Ok(Json(Overview {
        timezone: tz.name().to_string(),
        today: of(&t),
        yesterday: of(&y),
        keys: KeyCounts { total: keys },
        accounts,
    }))
}

/// `?granularity=&from=&to=` of the trend.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// `day` (default; from `usage_daily`) or `hour` (from `usage_hourly`, UTC hours).
    pub granularity: Option<String>,
    /// Start. Days: `YYYY-MM-DD` (default 29 days before `to`); hours: a time (default 24 h
    /// before `to`), RFC 3339, `"YYYY-MM-DD HH:MM:SS"` in the configured zone, or epoch ms.
    pub from: Option<String>,
    /// End, inclusive (the day, or the hour holding this time). Default: now.
    pub to: Option<String>,
}

/// One bucket of a trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendPoint {
    /// `YYYY-MM-DD` (days, configured zone) or the hour's start in RFC 3339 (hours).
    pub bucket: String,
    /// Start of the bucket (RFC 3339 UTC).
    pub start: String,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

/// `GET /stats/trend`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trend {
    /// `day` or `hour`.
    pub granularity: String,
    /// The time zone days are counted in.
    pub timezone: String,
    /// First bucket.
    pub from: String,
    /// Last bucket.
    pub to: String,
    /// Every bucket from `from` to `to`, oldest first (zeros where nothing happened).
    pub items: Vec<TrendPoint>,
}

async fn trend_of(
    state: &AppState,
    filter: &RollupFilter,
    q: &TrendQuery,
) -> Result<Trend, ApiError> {
    let tz = state.config.tz();
    let granularity = q.granularity.as_deref().unwrap_or("day");
    let items: Vec<TrendPoint> = match granularity {
        "day" => {
            let range = DayRangeQuery {
                from: q.from.clone(),
                to: q.to.clone(),
            }
            .range(tz)?;
            let rows =
                usage_stats::daily_totals(&state.db, filter, &range.from_text(), &range.to_text())
                    .await?;
            let by_day: HashMap<&str, &UsageTotals> =
                rows.iter().map(|r| (r.day.as_str(), &r.totals)).collect();
            range
                .days()
                .map(|d| {
                    let bucket = day_text(d);
                    let totals = by_day.get(bucket.as_str()).copied();
                    point(bucket, midnight_ms(d, tz), totals)
                })
                .collect()
        }
        "hour" => {
            let to = match &q.to {
                Some(v) => query_time("to", v, tz)?,
                None => now_ms(),
            };
            let from = match &q.from {
                Some(v) => query_time("from", v, tz)?,
                None => to - 23 * HOUR_MS,
            };
            let (first, last) = (hour_of(from), hour_of(to));
            if first > last {
                return Err(ApiError::invalid("to", "`to` must not be before `from`"));
            }
            if (last - first) / HOUR_MS >= MAX_HOURS {
                return Err(ApiError::invalid(
                    "from",
                    format!("an hourly trend covers at most {MAX_HOURS} hours"),
                ));
            }
            let rows = usage_stats::hourly_totals(&state.db, filter, first, last + HOUR_MS).await?;
            let by_hour: HashMap<i64, &UsageTotals> =
                rows.iter().map(|r| (r.hour_start, &r.totals)).collect();
            (0..=(last - first) / HOUR_MS)
                .map(|i| first + i * HOUR_MS)
                .map(|h| point(rfc3339(h), h, by_hour.get(&h).copied()))
                .collect()
        }
        _ => {
            return Err(ApiError::invalid(
                "granularity",
                "`granularity` must be `day` or `hour`",
            ))
        }
    };
    Ok(Trend {
        granularity: granularity.to_string(),
        timezone: tz.name().to_string(),
        from: items.first().map(|p| p.bucket.clone()).unwrap_or_default(),
        to: items.last().map(|p| p.bucket.clone()).unwrap_or_default(),
        items,
    })
}

fn point(bucket: String, start_ms: i64, totals: Option<&UsageTotals>) -> TrendPoint {
    TrendPoint {
        bucket,
        start: rfc3339(start_ms),
        totals: totals.map(TotalsView::from).unwrap_or_default(),
    }
}

/// Sums per day or per hour over a range.
#[utoipa::path(get, path = "/api/v1/stats/trend", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(TrendQuery, ScopeQuery),
    responses(
        (status = 200, description = "Every bucket of the range", body = Trend),
        (status = 400, description = "Invalid range or granularity", body = ErrorBody),
    ))]
pub async fn trend(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<TrendQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Json<Trend>, ApiError> {
    Ok(Json(trend_of(&state, &scope.filter(&user), &q).await?))
}

/// The trend as CSV (`bucket`, `start`, then the sums).
#[utoipa::path(get, path = "/api/v1/stats/trend/export.csv", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(TrendQuery, ScopeQuery),
    responses(
        (status = 200, description = "CSV, one line per bucket", content_type = "text/csv", body = String),
        (status = 400, description = "Invalid range or granularity", body = ErrorBody),
    ))]
pub async fn trend_export(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<TrendQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    // At most MAX_HOURS or MAX_DAYS buckets: small enough to compute before streaming.
    let trend = trend_of(&state, &scope.filter(&user), &q).await?;
    let rows: Vec<Vec<String>> = trend
        .items
        .iter()
        .map(|p| {
            let mut r = vec![p.bucket.clone(), p.start.clone()];
            r.extend(p.totals.csv());
            r
        })
        .collect();
    let header = csv_header(&["bucket", "start"]);
    Ok(csv_stream::download(
        "trend.csv",
        &header,
        Some(rows),
        |rows: Option<Vec<Vec<String>>>| async move {
            Ok::<CsvPage<Option<Vec<Vec<String>>>>, ApiError>((rows.unwrap_or_default(), None))
        },
    ))
}
