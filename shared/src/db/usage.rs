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
/// Rows per multi-row statement (25 binds each stays far below both backends' limits).
const CHUNK: usize = 500;
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
        for (n, chunk) in records.chunks(CHUNK).enumerate() {
            let base = n * CHUNK;
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
                continue;
            }
            sp.rollback().await?;
            for (i, r) in chunk.iter().enumerate() {
                let q = bind_record!(sqlx::query(&insert_one), r);
                written[base + i] = q.execute(&mut *tx).await?.rows_affected() == 1;
            }
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
        for chunk in daily.chunks(CHUNK) {
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
        for chunk in hourly.chunks(CHUNK) {
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
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db_test;

    /// 2026-01-01T00:00:00Z.
    pub(crate) const BASE: i64 = 1_767_225_600_000;
    pub(crate) const DAY_MS: i64 = 86_400_000;
    const MODELS: [&str; 3] = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"];

    /// Forty requests over 2026-01-01 and 2026-01-02 (UTC): three keys of two users, accounts
    /// 1-3 and none, three models, and ok / upstream_error / client_closed outcomes.
    pub(crate) fn sample_records() -> Vec<UsageRecord> {
        (0..40).map(sample).collect()
    }

    pub(crate) fn sample(i: i64) -> UsageRecord {
        let key = 1 + i % 3;
        let (outcome, status, error) = if i % 5 == 4 {
            ("upstream_error", 529, Some("overloaded_error".to_string()))
        } else if i % 7 == 6 {
            ("client_closed", 499, None)
        } else {
            ("ok", 200, None)
        };
        UsageRecord {
            request_id: format!("req-{i:05}"),
            created_at: BASE + i * 71 * 60_000 + 13_000,
            user_id: if key == 3 { 11 } else { 10 },
            api_key_id: key,
            group_id: 100,
            account_id: (i % 4 != 0).then_some(i % 4),
            attempts: 1 + i % 2,
            route_reason: "priority".into(),
            sticky: i % 3 == 0,
            model: MODELS[(i as usize / 2) % 3].into(),
            upstream_model: format!("{}-20250929", MODELS[(i as usize / 2) % 3]),
            stream: i % 2 == 0,
            status_code: status,
            outcome: outcome.into(),
            error_type: error,
            input_tokens: 100 + i * 7,
            output_tokens: 20 + i * 3,
            cache_read_input_tokens: i * 11,
            cache_creation_5m_input_tokens: (i % 3) * 13,
            cache_creation_1h_input_tokens: (i % 2) * 17,
            cost_micro_usd: 1_000 + i * 37,
            duration_ms: 500 + i,
            ttfb_ms: (i % 2 == 0).then_some(100 + i),
            client_ip: format!("10.0.0.{i}"),
            user_agent: "claude-cli/2.0.0".into(),
        }
    }

    /// The sums of `records`, computed field by field.
    pub(crate) fn expected<'a>(records: impl IntoIterator<Item = &'a UsageRecord>) -> UsageTotals {
        let rs: Vec<&UsageRecord> = records.into_iter().collect();
        let sum = |f: fn(&UsageRecord) -> i64| rs.iter().map(|r| f(r)).sum::<i64>();
        UsageTotals {
            requests: rs.len() as i64,
            errors: rs.iter().filter(|r| r.outcome != "ok").count() as i64,
            input_tokens: sum(|r| r.input_tokens),
            output_tokens: sum(|r| r.output_tokens),
            cache_read_input_tokens: sum(|r| r.cache_read_input_tokens),
            cache_creation_5m_input_tokens: sum(|r| r.cache_creation_5m_input_tokens),
            cache_creation_1h_input_tokens: sum(|r| r.cache_creation_1h_input_tokens),
            cost_micro_usd: sum(|r| r.cost_micro_usd),
        }
    }

    /// The UTC day of a sample record in January 2026, without chrono.
    pub(crate) fn utc_day(r: &UsageRecord) -> String {
        let day = 1 + (r.created_at - BASE).div_euclid(DAY_MS);
        assert!((1..=31).contains(&day), "sample outside January 2026");
        format!("2026-01-{day:02}")
    }

    type RollupRow = (String, i64, i64, String, i64, i64, UsageTotals);

    #[derive(FromRow)]
    struct Stored {
        bucket: String,
        api_key_id: i64,
        account_id: i64,
        model: String,
        user_id: i64,
        group_id: i64,
        #[sqlx(flatten)]
        totals: UsageTotals,
    }

    /// Every stored roll-up row of `table` (`usage_daily` or `usage_hourly`), sorted.
    async fn rollup_rows(db: &Db, table: &str) -> Vec<RollupRow> {
        let bucket = if table == "usage_daily" {
            "day"
        } else {
            "CAST(hour_start AS CHAR)"
        };
        let sql = format!(
            "SELECT {bucket} AS bucket, api_key_id, account_id, model, user_id, group_id, {} \
             FROM {table}",
            COUNTERS.join(", ")
        );
        let rows: Vec<Stored> =
            on_db!(db, p => sqlx::query_as::<_, Stored>(&sql).fetch_all(p).await).unwrap();
        let mut rows: Vec<RollupRow> = rows
            .into_iter()
            .map(|s| {
                let t = s.totals;
                (
                    s.bucket,
                    s.api_key_id,
                    s.account_id,
                    s.model,
                    s.user_id,
                    s.group_id,
                    t,
                )
            })
            .collect();
        rows.sort_by(|a, b| (&a.0, a.1, a.2, &a.3).cmp(&(&b.0, b.1, b.2, &b.3)));
        rows
    }

    /// The roll-up rows `records` should produce, computed without the code under test.
    fn expected_rollups(records: &[UsageRecord], daily: bool) -> Vec<RollupRow> {
        let mut groups: BTreeMap<(String, i64, i64, String), Vec<&UsageRecord>> = BTreeMap::new();
        for r in records {
            let bucket = if daily {
                utc_day(r)
            } else {
                (BASE + (r.created_at - BASE) / 3_600_000 * 3_600_000).to_string()
            };
            let key = (
                bucket,
                r.api_key_id,
                r.account_id.unwrap_or(0),
                r.model.clone(),
            );
            groups.entry(key).or_default().push(r);
        }
        groups
            .into_iter()
            .map(|((b, k, a, m), rs)| (b, k, a, m, rs[0].user_id, rs[0].group_id, expected(rs)))
            .collect()
    }

    fn all(page_size: u32) -> Page {
        Page { page: 1, page_size }
    }

    db_test!(a_batch_is_listed_newest_first_and_filtered, |db| {
        let records = sample_records();
        assert_eq!(
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
            40
        );

        let (rows, total) = list_logs(
            &db,
            &LogFilter::default(),
            Page {
                page: 1,
                page_size: 10,
            },
        )
        .await
        .unwrap();
        assert_eq!(total, 40);
        let ids: Vec<_> = rows.iter().map(|r| r.record.request_id.as_str()).collect();
        let newest: Vec<_> = (30..40).rev().map(|i| format!("req-{i:05}")).collect();
        assert_eq!(ids, newest);
        let (last, _) = list_logs(
            &db,
            &LogFilter::default(),
            Page {
                page: 4,
                page_size: 10,
            },
        )
        .await
        .unwrap();
        assert_eq!(last.last().unwrap().record, records[0]);

        type Keep = Box<dyn Fn(&UsageRecord) -> bool>;
        let filters: Vec<(LogFilter, Keep)> = vec![
            (
                LogFilter {
                    api_key_id: Some(2),
                    ..Default::default()
                },
                Box::new(|r| r.api_key_id == 2),
            ),
            (
                LogFilter {
                    user_id: Some(10),
                    model: Some(MODELS[1].into()),
                    ..Default::default()
                },
                Box::new(|r| r.user_id == 10 && r.model == MODELS[1]),
            ),
            (
                LogFilter {
                    account_id: Some(3),
                    ..Default::default()
                },
                Box::new(|r| r.account_id == Some(3)),
            ),
            (
                LogFilter {
                    group_id: Some(100),
                    ..Default::default()
                },
                Box::new(|_| true),
            ),
            (
                LogFilter {
                    group_id: Some(101),
                    ..Default::default()
                },
                Box::new(|_| false),
            ),
            (
                LogFilter {
                    outcome: Some("upstream_error".into()),
                    ..Default::default()
                },
                Box::new(|r| r.outcome == "upstream_error"),
            ),
            (
                LogFilter {
                    status_code: Some(499),
                    ..Default::default()
                },
                Box::new(|r| r.status_code == 499),
            ),
            (
                LogFilter {
                    from_ms: Some(BASE + 10 * 3_600_000),
                    to_ms: Some(BASE + 30 * 3_600_000),
                    ..Default::default()
                },
                Box::new(|r| {
                    r.created_at >= BASE + 10 * 3_600_000 && r.created_at < BASE + 30 * 3_600_000
                }),
            ),
            (
                LogFilter {
                    api_key_id: Some(1),
                    outcome: Some("ok".into()),
                    from_ms: Some(BASE + DAY_MS),
                    ..Default::default()
                },
                Box::new(|r| {
                    r.api_key_id == 1 && r.outcome == "ok" && r.created_at >= BASE + DAY_MS
                }),
            ),
        ];
        for (filter, keep) in &filters {
            let want: Vec<&UsageRecord> = records.iter().rev().filter(|r| keep(r)).collect();
            let (rows, total) = list_logs(&db, filter, all(100)).await.unwrap();
            assert_eq!(total, want.len() as i64, "{filter:?}");
            let got: Vec<&UsageRecord> = rows.iter().map(|r| &r.record).collect();
            assert_eq!(got, want, "{filter:?}");
        }
        let (page, total) = list_logs(
            &db,
            &filters[0].0,
            Page {
                page: 2,
                page_size: 5,
            },
        )
        .await
        .unwrap();
        assert_eq!(total, 13);
        assert_eq!(page.len(), 5);

        let one = &rows[3];
        assert_eq!(get_log(&db, one.id).await.unwrap(), *one);
        assert!(matches!(
            get_log(&db, one.id + 1_000).await,
            Err(DbError::NotFound)
        ));
    });

    db_test!(
        a_keyset_walk_visits_every_matching_row_once_in_list_order,
        |db| {
            let mut records = sample_records();
            // Rows sharing one created_at are ordered by id.
            for r in records.iter_mut().skip(10).take(5) {
                r.created_at = BASE + 5 * DAY_MS / 10;
            }
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
            for filter in [
                LogFilter::default(),
                LogFilter {
                    api_key_id: Some(2),
                    ..Default::default()
                },
                LogFilter {
                    outcome: Some("nothing-like-this".into()),
                    ..Default::default()
                },
            ] {
                let (want, _) = list_logs(&db, &filter, all(100)).await.unwrap();
                let mut got = Vec::new();
                let mut cursor = None;
                loop {
                    let rows = list_logs_after(&db, &filter, cursor, 3).await.unwrap();
                    assert!(rows.len() <= 3);
                    let Some(last) = rows.last() else { break };
                    cursor = Some(LogCursor::from(last));
                    got.extend(rows);
                }
                assert_eq!(got, want, "{filter:?}");
            }
        }
    );

    db_test!(
        a_replayed_batch_inserts_nothing_and_leaves_rollups_unchanged,
        |db| {
            let records = sample_records();
            assert_eq!(
                insert_batch(&db, &records[..30], chrono_tz::UTC)
                    .await
                    .unwrap(),
                30
            );
            assert_eq!(
                rollup_rows(&db, "usage_daily").await,
                expected_rollups(&records[..30], true)
            );

            // A batch overlapping the stored rows adds only the new ones, to logs and roll-ups.
            assert_eq!(
                insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
                10
            );
            let daily = rollup_rows(&db, "usage_daily").await;
            let hourly = rollup_rows(&db, "usage_hourly").await;
            assert_eq!(daily, expected_rollups(&records, true));
            assert_eq!(hourly, expected_rollups(&records, false));

            assert_eq!(
                insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
                0
            );
            assert_eq!(rollup_rows(&db, "usage_daily").await, daily);
            assert_eq!(rollup_rows(&db, "usage_hourly").await, hourly);
            assert_eq!(
                list_logs(&db, &LogFilter::default(), all(1))
                    .await
                    .unwrap()
                    .1,
                40
            );
            assert_eq!(insert_batch(&db, &[], chrono_tz::UTC).await.unwrap(), 0);
        }
    );

    db_test!(a_request_id_repeated_within_a_batch_is_written_once, |db| {
        let fresh = sample(100);
        let batch = [sample(1), fresh.clone(), sample(2), fresh.clone()];
        assert_eq!(insert_batch(&db, &batch, chrono_tz::UTC).await.unwrap(), 3);
        let (rows, total) = list_logs(&db, &LogFilter::default(), all(10))
            .await
            .unwrap();
        assert_eq!(total, 3);
        assert!(rows.iter().any(|r| r.record == fresh));
        assert_eq!(
            rollup_rows(&db, "usage_daily").await,
            expected_rollups(&batch[..3], true)
        );
    });

    db_test!(a_batch_larger_than_one_statement_is_written_whole, |db| {
        let records: Vec<_> = (0..1_234).map(sample).collect();
        // Some rows of the second statement's chunk are already stored.
        assert_eq!(
            insert_batch(&db, &records[600..640], chrono_tz::UTC)
                .await
                .unwrap(),
            40
        );
        assert_eq!(
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
            1_194
        );
        assert_eq!(
            list_logs(&db, &LogFilter::default(), all(1))
                .await
                .unwrap()
                .1,
            1_234
        );
        let daily = rollup_rows(&db, "usage_daily").await;
        let sum = |rows: &[RollupRow]| rows.iter().map(|r| r.6.cost_micro_usd).sum::<i64>();
        assert_eq!(sum(&daily), expected(&records).cost_micro_usd);
        assert_eq!(daily.iter().map(|r| r.6.requests).sum::<i64>(), 1_234);
        let hourly = rollup_rows(&db, "usage_hourly").await;
        assert_eq!(sum(&hourly), expected(&records).cost_micro_usd);
    });

    db_test!(the_day_bucket_follows_the_time_zone, |db| {
        let at = BASE + 17 * 3_600_000 + 30 * 60_000; // 2026-01-01T17:30Z
        let mut shanghai = sample(0);
        shanghai.created_at = at;
        let mut utc = sample(1);
        utc.created_at = at;
        utc.api_key_id = 2;
        insert_batch(&db, &[shanghai], chrono_tz::Asia::Shanghai)
            .await
            .unwrap();
        insert_batch(&db, &[utc], chrono_tz::UTC).await.unwrap();
        let daily = rollup_rows(&db, "usage_daily").await;
        let days: Vec<_> = daily.iter().map(|r| (r.0.as_str(), r.1)).collect();
        assert_eq!(days, [("2026-01-01", 2), ("2026-01-02", 1)]);
        let hour = (BASE + 17 * 3_600_000).to_string();
        let hourly = rollup_rows(&db, "usage_hourly").await;
        assert!(hourly.iter().all(|r| r.0 == hour), "{hourly:?}");
        assert_eq!(hourly.len(), 2);
    });

    #[test]
    fn day_and_hour_helpers_use_the_zone_and_utc_hours() {
        let at = BASE + 17 * 3_600_000 + 30 * 60_000;
        assert_eq!(day_of(at, chrono_tz::Asia::Shanghai).unwrap(), "2026-01-02");
        assert_eq!(day_of(at, chrono_tz::UTC).unwrap(), "2026-01-01");
        assert_eq!(
            day_of(at, chrono_tz::America::New_York).unwrap(),
            "2026-01-01"
        );
        assert_eq!(hour_of(at), BASE + 17 * 3_600_000);
        assert_eq!(hour_of(-1), -3_600_000);
        assert_eq!(day_of(i64::MAX, chrono_tz::UTC), None);
    }

    db_test!(retention_deletes_old_rows_and_keeps_rollups, |db| {
        let records = sample_records();
        insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
        let daily = rollup_rows(&db, "usage_daily").await;
        let cutoff = BASE + DAY_MS;
        let old = records.iter().filter(|r| r.created_at < cutoff).count() as u64;
        assert!(old > 14, "enough rows for several chunks");
        assert_eq!(delete_logs_in_chunks(&db, cutoff, 7).await.unwrap(), old);
        let (rows, total) = list_logs(&db, &LogFilter::default(), all(100))
            .await
            .unwrap();
        assert_eq!(total as u64, 40 - old);
        assert!(rows.iter().all(|r| r.record.created_at >= cutoff));
        assert_eq!(delete_logs_before(&db, cutoff).await.unwrap(), 0);
        assert_eq!(rollup_rows(&db, "usage_daily").await, daily);

        let hours_before = rollup_rows(&db, "usage_hourly").await;
        let gone = hours_before
            .iter()
            .filter(|r| r.0.parse::<i64>().unwrap() < cutoff)
            .count();
        assert_eq!(
            delete_hourly_before(&db, cutoff).await.unwrap(),
            gone as u64
        );
        assert_eq!(
            rollup_rows(&db, "usage_hourly").await.len(),
            hours_before.len() - gone
        );
    });
}
