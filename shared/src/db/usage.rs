//! `usage_logs` and its roll-ups: batched, idempotent writes of request rows (each batch also
//! adds into `usage_daily` and `usage_hourly` in the same transaction), the filtered log list,
//! and retention. Dashboards read the roll-ups through [`super::usage_stats`].

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::usage_stats::{bind_args, Arg, UsageTotals, Where, COUNTERS};
use super::{on_db, Db, DbError, DbResult, Page};

/// One relayed request, as written to `usage_logs` (every column but `id`).
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Unique request id; a replayed record with a known id is ignored.
    pub request_id: String,
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

const RECORD_COLUMNS: &str = "request_id, created_at, user_id, api_key_id, group_id, account_id, \
    attempts, route_reason, sticky, model, upstream_model, stream, status_code, outcome, error_type, \
    input_tokens, output_tokens, cache_read_input_tokens, cache_creation_5m_input_tokens, \
    cache_creation_1h_input_tokens, cost_micro_usd, duration_ms, ttfb_ms, client_ip, user_agent";
const RECORD_ARITY: usize = 25;
/// Roll-up columns after the bucket: key, account, model, user, group, then [`COUNTERS`].
const ROLLUP_ARITY: usize = 14;
/// Row counts of the multi-row statements. A batch is cut into pieces of these sizes only, so
/// each backend prepares at most one statement per size and then reuses it from the
/// connection's statement cache (a new row count would mean a new statement to parse: for a
/// 25-column insert that costs more than executing it). The largest is the default
/// `usage.batch_size`, so a full batch is one statement; 500 rows × 25 binds stays far below
/// both backends' limits.
const SHAPES: [usize; 5] = [500, 100, 20, 5, 1];
/// Rows deleted per retention statement.
const DELETE_CHUNK: i64 = 5_000;
const HOUR_MS: i64 = 3_600_000;

/// Binds the [`RECORD_COLUMNS`] of one record, in order, to `$q`.
macro_rules! bind_record {
    ($q:expr, $r:expr) => {{
        let r: &UsageRecord = $r;
        $q.bind(r.request_id.as_str())
            .bind(r.created_at)
            .bind(r.user_id)
            .bind(r.api_key_id)
            .bind(r.group_id)
            .bind(r.account_id)
            .bind(r.attempts)
            .bind(r.route_reason.as_str())
            .bind(r.sticky)
            .bind(r.model.as_str())
            .bind(r.upstream_model.as_str())
            .bind(r.stream)
            .bind(r.status_code)
            .bind(r.outcome.as_str())
            .bind(r.error_type.as_deref())
            .bind(r.input_tokens)
            .bind(r.output_tokens)
            .bind(r.cache_read_input_tokens)
            .bind(r.cache_creation_5m_input_tokens)
            .bind(r.cache_creation_1h_input_tokens)
            .bind(r.cost_micro_usd)
            .bind(r.duration_ms)
            .bind(r.ttfb_ms)
            .bind(r.client_ip.as_str())
            .bind(r.user_agent.as_str())
    }};
}

/// Binds the rest of one roll-up row (after its bucket) to `$q`.
macro_rules! bind_rollup {
    ($q:expr, $k:expr, $a:expr) => {{
        let (_, key, account, model) = $k;
        let a: &Bucket = $a;
        let t = &a.totals;
        $q.bind(*key)
            .bind(*account)
            .bind(model.as_str())
            .bind(a.user_id)
            .bind(a.group_id)
            .bind(t.requests)
            .bind(t.errors)
            .bind(t.input_tokens)
            .bind(t.output_tokens)
            .bind(t.cache_read_input_tokens)
            .bind(t.cache_creation_5m_input_tokens)
            .bind(t.cache_creation_1h_input_tokens)
            .bind(t.cost_micro_usd)
    }};
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

/// One roll-up row being built: the key's owner and group, and the sums.
struct Bucket {
    user_id: i64,
    group_id: i64,
    totals: UsageTotals,
}

/// Roll-up keys: (bucket, api key, account or 0, model).
type DayKey = (String, i64, i64, String);
type HourKey = (i64, i64, i64, String);

fn add_to<K: Ord>(map: &mut BTreeMap<K, Bucket>, key: K, r: &UsageRecord) {
    map.entry(key)
        .or_insert_with(|| Bucket {
            user_id: r.user_id,
            group_id: r.group_id,
            totals: UsageTotals::default(),
        })
        .totals
        .add(r);
}

/// Cuts `items` into consecutive pieces whose lengths are all in [`SHAPES`], largest first.
fn shaped_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let n = SHAPES.iter().copied().find(|&s| s <= items.len())?;
        let (head, rest) = items.split_at(n);
        items = rest;
        Some(head)
    })
}

/// `(?, ?, ...), (?, ...)`: `rows` groups of `arity` placeholders.
fn placeholders(rows: usize, arity: usize) -> String {
    let one = format!("({})", vec!["?"; arity].join(", "));
    vec![one; rows].join(", ")
}

/// Upsert tail adding every counter into the existing row (one `match` for the dialect).
fn add_on_conflict(db: &Db, bucket: &str) -> String {
    match db {
        Db::Sqlite(_) => format!(
            "ON CONFLICT({bucket}, api_key_id, account_id, model) DO UPDATE SET {}",
            COUNTERS
                .map(|c| format!("{c} = {c} + excluded.{c}"))
                .join(", ")
        ),
        Db::MySql(_) => format!(
            "ON DUPLICATE KEY UPDATE {}",
            COUNTERS
                .map(|c| format!("{c} = {c} + VALUES({c})"))
                .join(", ")
        ),
    }
}

/// Writes `records` in one transaction and returns how many were new. A record whose
/// `request_id` is already stored is skipped, so replaying a batch (after a crash between
/// commit and acknowledgement, or from the spill file) changes nothing. Only the new rows are
/// added into `usage_daily` (day in `tz`) and `usage_hourly` (UTC hour), summed per
/// (bucket, key, account, model) first; account `None` is rolled up as account 0.
pub async fn insert_batch(db: &Db, records: &[UsageRecord], tz: Tz) -> DbResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let days = records
        .iter()
        .map(|r| {
            day_of(r.created_at, tz).ok_or_else(|| DbError::Corrupt {
                column: "created_at",
                reason: format!("timestamp {} out of range", r.created_at),
            })
        })
        .collect::<DbResult<Vec<_>>>()?;
    let insert_ignore = match db {
        Db::Sqlite(_) => "INSERT OR IGNORE INTO",
        Db::MySql(_) => "INSERT IGNORE INTO",
    };
    let insert_one = format!(
        "{insert_ignore} usage_logs ({RECORD_COLUMNS}) VALUES {}",
        placeholders(1, RECORD_ARITY)
    );
    let tails = (
        add_on_conflict(db, "day"),
        add_on_conflict(db, "hour_start"),
    );
    let mut written = vec![false; records.len()];
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        let mut base = 0;
        for chunk in shaped_chunks(records) {
            // Fast path: one multi-row insert under a savepoint. If any row was already
            // stored, undo it and insert row by row to learn which ones are new.
            let sql = format!(
                "{insert_ignore} usage_logs ({RECORD_COLUMNS}) VALUES {}",
                placeholders(chunk.len(), RECORD_ARITY)
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = bind_record!(q, r);
            }
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            if q.execute(&mut *sp).await?.rows_affected() == chunk.len() as u64 {
                sp.commit().await?;
                written[base..base + chunk.len()].fill(true);
            } else {
                sp.rollback().await?;
                for (i, r) in chunk.iter().enumerate() {
                    let q = bind_record!(sqlx::query(&insert_one), r);
                    written[base + i] = q.execute(&mut *tx).await?.rows_affected() == 1;
                }
            }
            base += chunk.len();
        }

        let mut daily: BTreeMap<DayKey, Bucket> = BTreeMap::new();
        let mut hourly: BTreeMap<HourKey, Bucket> = BTreeMap::new();
        for ((r, day), _) in records.iter().zip(&days).zip(&written).filter(|(_, w)| **w) {
            let account = r.account_id.unwrap_or(0);
            add_to(&mut daily, (day.clone(), r.api_key_id, account, r.model.clone()), r);
            add_to(&mut hourly, (hour_of(r.created_at), r.api_key_id, account, r.model.clone()), r);
        }
        // Sorted keys keep the lock order the same across concurrent writers.
        let daily: Vec<_> = daily.iter().collect();
        for chunk in shaped_chunks(&daily) {
            let sql = format!(
                "INSERT INTO usage_daily (day, api_key_id, account_id, model, user_id, group_id, {}) \
                 VALUES {} {}",
                COUNTERS.join(", "),
                placeholders(chunk.len(), ROLLUP_ARITY),
                tails.0
            );
            let mut q = sqlx::query(&sql);
            for (k, b) in chunk {
                q = bind_rollup!(q.bind(k.0.as_str()), k, b);
            }
            q.execute(&mut *tx).await?;
        }
        let hourly: Vec<_> = hourly.iter().collect();
        for chunk in shaped_chunks(&hourly) {
            let sql = format!(
                "INSERT INTO usage_hourly (hour_start, api_key_id, account_id, model, user_id, \
                 group_id, {}) VALUES {} {}",
                COUNTERS.join(", "),
                placeholders(chunk.len(), ROLLUP_ARITY),
                tails.1
            );
            let mut q = sqlx::query(&sql);
            for (k, b) in chunk {
                q = bind_rollup!(q.bind(k.0), k, b);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(written.iter().filter(|w| **w).count() as u64)
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
    let rows = on_db!(db, p => bind_args!(sqlx::query_as::<_, UsageLogRow>(&sql), &w.args)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(p)
        .await)?;
    let sql = format!("SELECT COUNT(*) FROM usage_logs{}", w.sql());
    let total = on_db!(db, p => bind_args!(sqlx::query_scalar::<_, i64>(&sql), &w.args)
        .fetch_one(p)
        .await)?;
    Ok((rows, total))
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
