//! `/logs` (the caller's own requests) and `/admin/logs` (everyone's, administrators only):
//! filtered, paged lists, one row by id (another user's row is a 404, never the row), and
//! streamed CSV exports with the same filters.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use relay_shared::db::usage::{self, LogCursor, LogFilter, UsageLogRow};

use super::logs_view::CSV_HEADER;
pub use super::logs_view::{LogQuery, LogScope, UsageLogView};
use super::or_404;
use crate::auth::{AdminUser, CurrentUser};
use crate::csv_stream::{self, CsvPage};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;

/// Rows read per page of a CSV export.
const EXPORT_PAGE: u32 = 500;

async fn list(
    state: &AppState,
    q: &LogQuery,
    params: PageParams,
    scope: LogScope,
) -> Result<Json<Paged<UsageLogView>>, ApiError> {
    let page = params.page()?;
    let filter = q.filter(state.config.tz(), scope)?;
    let (rows, total) = usage::list_logs(&state.db, &filter, page).await?;
    let items = rows.iter().map(UsageLogView::from).collect();
    Ok(Json(Paged::new(items, total, page)))
}

fn export(state: &AppState, filter: LogFilter, filename: &str) -> Response {
    let db = state.db.clone();
    csv_stream::download(
        filename,
        &CSV_HEADER,
        None::<LogCursor>,
        move |after: Option<LogCursor>| {
            let (db, filter) = (db.clone(), filter.clone());
            async move {
                let rows = usage::list_logs_after(&db, &filter, after, EXPORT_PAGE).await?;
                let next = (rows.len() == EXPORT_PAGE as usize)
                    .then(|| rows.last().map(|r| Some(LogCursor::from(r))))
                    .flatten();
                let records = rows
                    .iter()
                    .map(|r| UsageLogView::from(r).csv_record())
                    .collect();
                Ok::<CsvPage<Option<LogCursor>>, ApiError>((records, next))
            }
        },
    )
}

/// The caller's own requests, newest first.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, LogQuery),
    responses(
        (status = 200, description = "One page of the caller's requests", body = Paged<UsageLogView>),
        (status = 400, description = "Invalid filter", body = ErrorBody),
    ))]
pub async fn list_own(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Paged<UsageLogView>>, ApiError> {
    list(&state, &q, params, LogScope::Own(user.id())).await
}

/// One of the caller's own requests (another user's row is a 404).
#[utoipa::path(get, path = "/api/v1/logs/{id}", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Usage row id")),
    responses(
        (status = 200, description = "The request", body = UsageLogView),
        (status = 404, description = "No such row (or not yours)", body = ErrorBody),
    ))]
pub async fn get_own(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UsageLogView>, ApiError> {
    let row: UsageLogRow = usage::get_log(&state.db, id)
        .await
        .map_err(or_404("usage row"))?;
    if row.record.user_id != user.id() {
        return Err(ApiError::not_found("no such usage row"));
    }
    Ok(Json(UsageLogView::from(&row)))
}

/// The caller's own requests as CSV (same filters and columns as the list, every page).
#[utoipa::path(get, path = "/api/v1/logs/export.csv", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(LogQuery),
    responses(
        (status = 200, description = "CSV, one line per request, newest first", content_type = "text/csv", body = String),
        (status = 400, description = "Invalid filter", body = ErrorBody),
    ))]
pub async fn export_own(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter(state.config.tz(), LogScope::Own(user.id()))?;
    Ok(export(&state, filter, "logs.csv"))
}

/// Every request, newest first (administrators).
#[utoipa::path(get, path = "/api/v1/admin/logs", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, LogQuery),
    responses(
        (status = 200, description = "One page of requests", body = Paged<UsageLogView>),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list_all(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Paged<UsageLogView>>, ApiError> {
    list(&state, &q, params, LogScope::All).await
}

/// Any request by id (administrators).
#[utoipa::path(get, path = "/api/v1/admin/logs/{id}", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Usage row id")),
    responses(
        (status = 200, description = "The request", body = UsageLogView),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such row", body = ErrorBody),
    ))]
pub async fn get_any(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<UsageLogView>, ApiError> {
    let row = usage::get_log(&state.db, id)
        .await
        .map_err(or_404("usage row"))?;
    Ok(Json(UsageLogView::from(&row)))
}

/// Every request as CSV (administrators; same filters and columns as the list).
#[utoipa::path(get, path = "/api/v1/admin/logs/export.csv", tag = "logs",
    security(("bearer" = []), ("cookie" = [])),
    params(LogQuery),
    responses(
        (status = 200, description = "CSV, one line per request, newest first", content_type = "text/csv", body = String),
        (status = 400, description = "Invalid filter", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn export_all(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter(state.config.tz(), LogScope::All)?;
    Ok(export(&state, filter, "logs.csv"))
}
