//! `usage_logs`: the request row, the filtered log list, and retention. Rows are written in
//! batches by [`super::usage_write`] (re-exported here as [`insert_batch`]); dashboards read
//! the roll-ups through [`super::usage_stats`].

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::usage_stats::{bind_args, Arg, Where};
use super::{on_db, Db, DbError, DbResult, Page};

pub use super::usage_write::{insert_batch, write_batch, Batch};

/// One relayed request, as written to `usage_logs` (every column but `id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Request id: the client's `x-request-id` or one the relay made (so not unique).
    pub request_id: String,
    /// The row's identity: a random non-zero number drawn for each request
    /// ([`new_row_key`]), so that a batch written again after an uncertain write skips the
    /// rows already stored. 0 on rows from before it existed; those are told apart by
    /// `request_id`, which was unique then.
    #[serde(default)]
    pub row_key: i64,
    /// Time the request ended, epoch ms.
    pub created_at: i64,
    /// Owner of the key.
    pub user_id: i64,
    /// Key the client used.
    pub api_key_id: i64,
    /// Group of the key.
    pub group_id: i64,
    /// Account that served the last attempt; `None` when no account was reached.
    pub account_id: Option<i64>,
    /// Upstream attempts made.
    pub attempts: i64,
    /// Why the account was chosen (set by the scheduler).
    pub route_reason: String,
    /// Whether a sticky pin chose the account.
    pub sticky: bool,
    /// Model the client asked for.
    pub model: String,
    /// Model sent upstream (and billed).
    pub upstream_model: String,
    /// Streaming request.
    pub stream: bool,
    /// Status sent to the client (499 when the client closed first).
    pub status_code: i64,
    /// `ok`, `client_closed`, `upstream_error` or `relay_error`.
    pub outcome: String,
    /// Anthropic error type, if any.
    pub error_type: Option<String>,
    /// Uncached input tokens.
    pub input_tokens: i64,
    /// Output tokens.
    pub output_tokens: i64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: i64,
    /// Input tokens written to the 5-minute cache.
    pub cache_creation_5m_input_tokens: i64,
    /// Input tokens written to the 1-hour cache.
    pub cache_creation_1h_input_tokens: i64,
    /// Cost, micro-USD.
    pub cost_micro_usd: i64,
    /// Total duration, ms.
    pub duration_ms: i64,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<i64>,
    /// Client address.
    pub client_ip: String,
    /// Client `user-agent`.
    pub user_agent: String,
    /// Position of the row in the local usage journal (0: not journaled); only the usage
    /// pipeline uses it, to know which journal segments it may delete. Never stored.
    #[sqlx(skip)]
    #[serde(skip)]
    pub journal_seq: u64,
}

/// A stored usage row: its id plus the record (serialized flat).
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct UsageLogRow {
    /// Id.
    pub id: i64,
    /// Every other column.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub record: UsageRecord,
}

/// Filters of the log list; `None` matches everything. The time range is `[from_ms, to_ms)`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Owner of the key.
    pub user_id: Option<i64>,
    /// Key.
    pub api_key_id: Option<i64>,
    /// Account.
    pub account_id: Option<i64>,
    /// Group.
    pub group_id: Option<i64>,
    /// Requested model (exact).
    pub model: Option<String>,
    /// Status sent to the client.
    pub status_code: Option<i64>,
    /// Outcome (`ok`, `client_closed`, ...).
    pub outcome: Option<String>,
    /// Earliest `created_at`, inclusive.
    pub from_ms: Option<i64>,
    /// Latest `created_at`, exclusive.
    pub to_ms: Option<i64>,
}

pub(super) const RECORD_COLUMNS: &str = "request_id, created_at, user_id, api_key_id, group_id, account_id, \
    attempts, route_reason, sticky, model, upstream_model, stream, status_code, outcome, error_type, \
    input_tokens, output_tokens, cache_read_input_tokens, cache_creation_5m_input_tokens, \
    cache_creation_1h_input_tokens, cost_micro_usd, duration_ms, ttfb_ms, client_ip, user_agent, \
    row_key";
/// Rows deleted per retention statement.
const DELETE_CHUNK: i64 = 5_000;
pub(super) const HOUR_MS: i64 = 3_600_000;

/// A new [`UsageRecord::row_key`]: 62 random bits, never 0.
pub fn new_row_key() -> i64 {
    i64::try_from(rand::random::<u64>() >> 2).unwrap_or(1) | 1
}

/// The calendar day (`YYYY-MM-DD`) of `ms` in `tz`: the `usage_daily` bucket, and the day the
/// daily limits count against. `None` when `ms` is outside chrono's range.
pub fn day_of(ms: i64, tz: Tz) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(t.with_timezone(&tz).format("%Y-%m-%d").to_string())
}

/// The start of the UTC hour holding `ms`: the `usage_hourly` bucket.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

fn log_where(f: &LogFilter) -> Where<'_> {
    let mut w = Where::default();
    w.int("user_id = ?", f.user_id)
        .int("api_key_id = ?", f.api_key_id)
        .int("account_id = ?", f.account_id)
        .int("group_id = ?", f.group_id)
        .text("model = ?", f.model.as_deref())
        .int("status_code = ?", f.status_code)
        .text("outcome = ?", f.outcome.as_deref())
        .int("created_at >= ?", f.from_ms)
        .int("created_at < ?", f.to_ms);
    w
}

/// One page of the rows matching `filter`, newest first, and how many match in all.
pub async fn list_logs(
    db: &Db,
    filter: &LogFilter,
    page: Page,
) -> DbResult<(Vec<UsageLogRow>, i64)> {
    let w = log_where(filter);
    let sql = format!(
        "SELECT id, {RECORD_COLUMNS} FROM usage_logs{} ORDER BY created_at DESC, id DESC \
         LIMIT ? OFFSET ?",
        w.sql()
    );
    let count = format!("SELECT COUNT(*) FROM usage_logs{}", w.sql());
    // One read transaction, so that the page and the total see the same rows even while the
    // usage writer commits a batch between the two statements.
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        let rows = bind_args!(sqlx::query_as::<_, UsageLogRow>(&sql), &w.args)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&mut *tx)
            .await?;
        let total = bind_args!(sqlx::query_scalar::<_, i64>(&count), &w.args)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((rows, total))
    })
}

/// A place in the log list (newest first): the `created_at` and `id` of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCursor {
    /// `created_at` of the last row seen.
    pub created_at: i64,
    /// `id` of the last row seen.
    pub id: i64,
}

impl From<&UsageLogRow> for LogCursor {
    fn from(r: &UsageLogRow) -> Self {
        Self {
            created_at: r.record.created_at,
            id: r.id,
        }
    }
}

/// Up to `limit` rows matching `filter` that follow `after` in the list order of
/// [`list_logs`] (newest first), or the first ones without a cursor. Walking the log this way
/// (keyset, no `OFFSET`) costs the same for every page, holds one page at a time, and never
/// visits a row twice even while new rows arrive (they sort before the walk's start).
pub async fn list_logs_after(
    db: &Db,
    filter: &LogFilter,
    after: Option<LogCursor>,
    limit: u32,
) -> DbResult<Vec<UsageLogRow>> {
    let mut w = log_where(filter);
    if let Some(c) = after {
        w.many(
            "(created_at < ? OR (created_at = ? AND id < ?))",
            [
                Arg::Int(c.created_at),
                Arg::Int(c.created_at),
                Arg::Int(c.id),
            ],
        );
    }
    let sql = format!(
        "SELECT id, {RECORD_COLUMNS} FROM usage_logs{} ORDER BY created_at DESC, id DESC LIMIT ?",
        w.sql()
    );
    on_db!(db, p => bind_args!(sqlx::query_as::<_, UsageLogRow>(&sql), &w.args)
        .bind(i64::from(limit))
        .fetch_all(p)
        .await
        .map_err(DbError::from))
}

/// The row with `id` (callers check that the user may see it).
pub async fn get_log(db: &Db, id: i64) -> DbResult<UsageLogRow> {
    let sql = format!("SELECT id, {RECORD_COLUMNS} FROM usage_logs WHERE id = ?");
    on_db!(db, p => sqlx::query_as::<_, UsageLogRow>(&sql).bind(id).fetch_one(p).await.map_err(DbError::from))
}

/// Deletes the rows created before `cutoff_ms` (retention), a few thousand per statement so
/// no single statement holds locks for long. Roll-ups are kept. Returns the rows deleted.
pub async fn delete_logs_before(db: &Db, cutoff_ms: i64) -> DbResult<u64> {
    delete_logs_in_chunks(db, cutoff_ms, DELETE_CHUNK).await
}

async fn delete_logs_in_chunks(db: &Db, cutoff_ms: i64, chunk: i64) -> DbResult<u64> {
    let mut deleted = 0;
    loop {
        // The created_at of the chunk-th oldest row, if there are that many.
        let bound = on_db!(db, p => sqlx::query_scalar::<_, i64>(
            "SELECT created_at FROM usage_logs WHERE created_at < ? ORDER BY created_at LIMIT 1 OFFSET ?",
        )
        .bind(cutoff_ms)
        .bind(chunk - 1)
        .fetch_optional(p)
        .await)?;
        let (sql, upto) = match bound {
            Some(b) => ("DELETE FROM usage_logs WHERE created_at <= ?", b),
            None => ("DELETE FROM usage_logs WHERE created_at < ?", cutoff_ms),
        };
        deleted += on_db!(db, p => sqlx::query(sql).bind(upto).execute(p).await.map(|r| r.rows_affected()))?;
        if bound.is_none() {
            return Ok(deleted);
        }
    }
}

/// The largest row id of `usage_logs` (0 when empty).
pub async fn max_log_id(db: &Db) -> DbResult<i64> {
    on_db!(db, p => sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM usage_logs")
        .fetch_one(p)
        .await
        .map(|v| v.unwrap_or(0))
        .map_err(DbError::from))
}

/// Sets `last_used_at` of the keys and accounts that appear in usage rows with an id above
/// `after_id` to the time of their latest row (never backwards). Off the hot path: the relay
/// calls it now and then with the largest id it has seen.
pub async fn touch_last_used(db: &Db, after_id: i64) -> DbResult<()> {
    for sql in [
        "UPDATE api_keys SET last_used_at = (SELECT MAX(u.created_at) FROM usage_logs u \
         WHERE u.api_key_id = api_keys.id) \
         WHERE id IN (SELECT api_key_id FROM usage_logs WHERE id > ?) \
         AND (last_used_at IS NULL OR last_used_at < (SELECT MAX(u.created_at) FROM usage_logs u \
         WHERE u.api_key_id = api_keys.id))",
        "UPDATE accounts SET last_used_at = (SELECT MAX(u.created_at) FROM usage_logs u \
         WHERE u.account_id = accounts.id) \
         WHERE id IN (SELECT account_id FROM usage_logs WHERE id > ? AND account_id IS NOT NULL) \
         AND (last_used_at IS NULL OR last_used_at < (SELECT MAX(u.created_at) FROM usage_logs u \
         WHERE u.account_id = accounts.id))",
    ] {
        on_db!(db, p => sqlx::query(sql).bind(after_id).execute(p).await.map(|_| ()))?;
    }
    Ok(())
}

/// Deletes hourly roll-up rows of hours starting before `cutoff_ms` (hourly buckets serve
/// only the last days; daily roll-ups are kept).
pub async fn delete_hourly_before(db: &Db, cutoff_ms: i64) -> DbResult<u64> {
    on_db!(db, p => sqlx::query("DELETE FROM usage_hourly WHERE hour_start < ?")
        .bind(cutoff_ms)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        .map_err(DbError::from))
}

#[cfg(test)]
#[path = "tests/usage.rs"]
pub(crate) mod tests;
