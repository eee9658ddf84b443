//! `/stats/models`, `/stats/accounts` (administrators) and `/stats/keys`: sums per model,
//! account or key over a day range, highest cost first, paged; and their CSV exports, read
//! from `usage_daily` one page at a time. Scoped by role: a user sees their own keys.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use relay_shared::db::usage_stats::{self, DimTotals, RollupDim, RollupFilter};
use relay_shared::db::{accounts, api_keys, DbError, Page};
use serde::Serialize;
use utoipa::ToSchema;

use super::stats_view::{csv_header, DayRange, DayRangeQuery, ScopeQuery, TotalsView};
use crate::auth::{AdminUser, CurrentUser};
use crate::csv_stream::{self, opt, CsvPage};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, PageParams, Paged};
use crate::state::AppState;

/// Groups read per page of a CSV export.
const EXPORT_PAGE: u32 = 100;

/// The sums of one model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelStat {
    /// Requested model.
    pub model: String,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

/// The sums of one account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountStat {
    /// Account id (null: requests that reached no account).
    pub account_id: Option<i64>,
    /// Its name (null when none, or deleted since).
    pub account_name: Option<String>,
    /// `claude` or `claude_console` (null when unknown).
    pub platform_type: Option<String>,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

/// The sums of one API key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyStat {
    /// Key id.
    pub api_key_id: i64,
    /// Its name (null when deleted since).
    pub name: Option<String>,
    /// Its display prefix (null when deleted since).
    pub key_prefix: Option<String>,
    /// Its owner (null when deleted since).
    pub user_id: Option<i64>,
    /// The sums.
    #[serde(flatten)]
    pub totals: TotalsView,
}

fn id_of(d: &DimTotals) -> Result<i64, ApiError> {
    d.key
        .parse()
        .map_err(|_| ApiError::internal(format!("roll-up key `{}` is not an id", d.key)))
}

fn model_stat(d: &DimTotals) -> ModelStat {
    ModelStat {
        model: d.key.clone(),
        totals: TotalsView::from(&d.totals),
    }
}

async fn account_stat(state: &AppState, d: &DimTotals) -> Result<AccountStat, ApiError> {
    let id = id_of(d)?;
    let row = match accounts::get(&state.db, id).await {
        Ok(a) => Some(a),
        Err(DbError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(AccountStat {
        account_id: (id != 0).then_some(id),
        account_name: row.as_ref().map(|a| a.name.clone()),
        platform_type: row.map(|a| a.platform_type),
        totals: TotalsView::from(&d.totals),
    })
}

async fn key_stat(state: &AppState, d: &DimTotals) -> Result<KeyStat, ApiError> {
    let id = id_of(d)?;
    let row = match api_keys::get(&state.db, id).await {
        Ok(k) => Some(k),
        Err(DbError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(KeyStat {
        api_key_id: id,
        name: row.as_ref().map(|k| k.name.clone()),
        key_prefix: row.as_ref().map(|k| k.key_prefix.clone()),
        user_id: row.map(|k| k.user_id),
        totals: TotalsView::from(&d.totals),
    })
}

async fn page_of(
    state: &AppState,
    dim: RollupDim,
    filter: &RollupFilter,
    range: DayRange,
    page: Page,
) -> Result<(Vec<DimTotals>, i64), ApiError> {
    let (from, to) = (range.from_text(), range.to_text());
    Ok(usage_stats::totals_by_page(&state.db, dim, filter, &from, &to, page).await?)
}

/// One CSV page of `dim` and the next page number, if any.
async fn csv_page(
    state: &AppState,
    dim: RollupDim,
    filter: &RollupFilter,
    range: DayRange,
    n: u32,
) -> Result<CsvPage<u32>, ApiError> {
    let page = Page {
        page: n,
        page_size: EXPORT_PAGE,
    };
    let (rows, total) = page_of(state, dim, filter, range, page).await?;
    let mut out = Vec::with_capacity(rows.len());
    for d in &rows {
        let (mut r, totals) = match dim {
            RollupDim::Account => {
                let a = account_stat(state, d).await?;
                (
                    vec![opt(a.account_id), opt(a.account_name), opt(a.platform_type)],
                    a.totals,
                )
            }
            RollupDim::ApiKey => {
                let k = key_stat(state, d).await?;
                let first = vec![
                    k.api_key_id.to_string(),
                    opt(k.name),
                    opt(k.key_prefix),
                    opt(k.user_id),
                ];
                (first, k.totals)
            }
            RollupDim::Model | RollupDim::User => {
                let m = model_stat(d);
                (vec![m.model], m.totals)
            }
        };
        r.extend(totals.csv());
        out.push(r);
    }
    let more = i64::from(n) * i64::from(EXPORT_PAGE) < total && !rows.is_empty();
    Ok((out, more.then_some(n + 1)))
}

fn export(
    state: &AppState,
    dim: RollupDim,
    filter: RollupFilter,
    range: DayRange,
    filename: &str,
) -> Response {
    let first: &[&'static str] = match dim {
        RollupDim::Account => &["account_id", "account_name", "platform_type"],
        RollupDim::ApiKey => &["api_key_id", "name", "key_prefix", "user_id"],
        RollupDim::Model | RollupDim::User => &["model"],
    };
    let state = state.clone();
    csv_stream::download(filename, &csv_header(first), 1u32, move |n| {
        let state = state.clone();
        async move { csv_page(&state, dim, &filter, range, n).await }
    })
}

/// Sums per requested model over a day range, highest cost first.
#[utoipa::path(get, path = "/api/v1/stats/models", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, DayRangeQuery, ScopeQuery),
    responses(
        (status = 200, description = "One page of models", body = Paged<ModelStat>),
        (status = 400, description = "Invalid range", body = ErrorBody),
    ))]
pub async fn models(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Json<Paged<ModelStat>>, ApiError> {
    let (page, range) = (params.page()?, days.range(state.config.tz())?);
    let filter = scope.filter(&user);
    let (rows, total) = page_of(&state, RollupDim::Model, &filter, range, page).await?;
    let items = rows.iter().map(model_stat).collect();
    Ok(Json(Paged::new(items, total, page)))
}

/// Sums per account over a day range, highest cost first (administrators).
#[utoipa::path(get, path = "/api/v1/stats/accounts", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, DayRangeQuery, ScopeQuery),
    responses(
        (status = 200, description = "One page of accounts", body = Paged<AccountStat>),
        (status = 400, description = "Invalid range", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn accounts(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Json<Paged<AccountStat>>, ApiError> {
    let (page, range) = (params.page()?, days.range(state.config.tz())?);
    let filter = scope.filter(&CurrentUser(admin.0));
    let (rows, total) = page_of(&state, RollupDim::Account, &filter, range, page).await?;
    let mut items = Vec::with_capacity(rows.len());
    for d in &rows {
        items.push(account_stat(&state, d).await?);
    }
    Ok(Json(Paged::new(items, total, page)))
}

/// Sums per API key over a day range, highest cost first (users: their own keys).
#[utoipa::path(get, path = "/api/v1/stats/keys", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, DayRangeQuery, ScopeQuery),
    responses(
        (status = 200, description = "One page of keys", body = Paged<KeyStat>),
        (status = 400, description = "Invalid range", body = ErrorBody),
    ))]
pub async fn keys(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Json<Paged<KeyStat>>, ApiError> {
    let (page, range) = (params.page()?, days.range(state.config.tz())?);
    let filter = scope.filter(&user);
    let (rows, total) = page_of(&state, RollupDim::ApiKey, &filter, range, page).await?;
    let mut items = Vec::with_capacity(rows.len());
    for d in &rows {
        items.push(key_stat(&state, d).await?);
    }
    Ok(Json(Paged::new(items, total, page)))
}

/// `/stats/models` as CSV (every model of the range).
#[utoipa::path(get, path = "/api/v1/stats/models/export.csv", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(DayRangeQuery, ScopeQuery),
    responses((status = 200, description = "CSV, one line per model", content_type = "text/csv", body = String)))]
pub async fn models_export(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    let range = days.range(state.config.tz())?;
    let filter = scope.filter(&user);
    Ok(export(
        &state,
        RollupDim::Model,
        filter,
        range,
        "models.csv",
    ))
}

/// `/stats/accounts` as CSV (administrators).
#[utoipa::path(get, path = "/api/v1/stats/accounts/export.csv", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(DayRangeQuery, ScopeQuery),
    responses(
        (status = 200, description = "CSV, one line per account", content_type = "text/csv", body = String),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn accounts_export(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    let range = days.range(state.config.tz())?;
    let filter = scope.filter(&CurrentUser(admin.0));
    Ok(export(
        &state,
        RollupDim::Account,
        filter,
        range,
        "accounts.csv",
    ))
}

/// `/stats/keys` as CSV (users: their own keys).
#[utoipa::path(get, path = "/api/v1/stats/keys/export.csv", tag = "stats",
    security(("bearer" = []), ("cookie" = [])),
    params(DayRangeQuery, ScopeQuery),
    responses((status = 200, description = "CSV, one line per key", content_type = "text/csv", body = String)))]
pub async fn keys_export(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(days): ApiQuery<DayRangeQuery>,
    ApiQuery(scope): ApiQuery<ScopeQuery>,
) -> Result<Response, ApiError> {
    let range = days.range(state.config.tz())?;
    let filter = scope.filter(&user);
    Ok(export(&state, RollupDim::ApiKey, filter, range, "keys.csv"))
}
