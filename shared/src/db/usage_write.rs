//! Batched, idempotent writes of usage rows: each batch goes into `usage_logs` and adds into
//! the `usage_daily` and `usage_hourly` roll-ups in the same transaction.

use std::collections::{BTreeMap, HashSet};

use chrono_tz::Tz;

use super::usage::{day_of, hour_of, UsageRecord};
use super::usage_sql::{reserved_args, shaped_chunks, texts, RECORD_ARITY, ROLLUP_ARITY};
use super::usage_stats::UsageTotals;
use super::{on_db, Db, DbError, DbResult};

/// Binds the [`RECORD_COLUMNS`](super::usage::RECORD_COLUMNS) of one record, in order, to `$q`.
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
            .bind(r.row_key)
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
            .bind(*model)
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

/// One roll-up row being built: the key's owner and group, and the sums.
struct Bucket {
    user_id: i64,
    group_id: i64,
    totals: UsageTotals,
}

/// Roll-up keys: (bucket, api key, account or 0, model), borrowed from the batch.
type DayKey<'a> = (&'a str, i64, i64, &'a str);
type HourKey<'a> = (i64, i64, i64, &'a str);

/// The `usage_daily` day of each record, as an index into the distinct days (returned first).
/// A day starts at a whole second in every time zone, so it is worked out once per distinct
/// second of `created_at` (consecutive rows mostly share one): formatting a date in a time
/// zone costs more than the rest of a row's roll-up.
fn days_of(records: &[UsageRecord], tz: Tz) -> DbResult<(Vec<String>, Vec<usize>)> {
    let mut names: Vec<String> = Vec::new();
    let mut last: Option<(i64, usize)> = None;
    let mut days = Vec::with_capacity(records.len());
    for r in records {
        let second = r.created_at.div_euclid(1_000);
        let day = match last {
            Some((s, day)) if s == second => day,
            _ => {
                let name = day_of(r.created_at, tz).ok_or_else(|| DbError::Corrupt {
                    column: "created_at",
                    reason: format!("timestamp {} out of range", r.created_at),
                })?;
                let day = match names.iter().position(|n| *n == name) {
                    Some(i) => i,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                last = Some((second, day));
                day
            }
        };
        days.push(day);
    }
    Ok((names, days))
}

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

/// Whether some rows of a batch may already be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Rows never written before: inserted as they are (the fast path).
    New,
    /// Rows whose earlier write may have committed (a retry after a failed or abandoned
    /// write, a spill-file replay): the rows already stored are looked up and skipped.
    InDoubt,
}

/// Writes `records` in one transaction; rows already stored are skipped (a [`Batch::InDoubt`]
/// write). Replaying a batch (after a crash between commit and acknowledgement, or from the
/// spill file) therefore changes nothing. Returns how many rows were new.
pub async fn insert_batch(db: &Db, records: &[UsageRecord], tz: Tz) -> DbResult<u64> {
    write_batch(db, records, tz, Batch::InDoubt).await
}

/// Writes `records` in one transaction and returns how many rows were written. A
/// [`Batch::New`] batch is inserted without looking for stored copies; an
/// [`Batch::InDoubt`] one skips every row whose [`UsageRecord::row_key`] is already stored at
/// the same `created_at` (or, for a row from before row keys, whose `request_id` is). Only the
/// rows written are added into `usage_daily` (day in `tz`) and `usage_hourly` (UTC hour),
/// summed per (bucket, key, account, model) first; account `None` is rolled up as account 0.
pub async fn write_batch(db: &Db, records: &[UsageRecord], tz: Tz, batch: Batch) -> DbResult<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let (day_names, days) = days_of(records, tz)?;
    let sql = texts(db);
    let mut written = vec![true; records.len()];
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        if batch == Batch::InDoubt {
            let mut stored: Vec<(i64, i64, String)> = Vec::new();
            for (shape, chunk) in shaped_chunks(records) {
                let mut q = sqlx::query_as_with::<_, (i64, i64, String), _>(
                    &sql.lookup[shape],
                    reserved_args(p, chunk.len()),
                );
                for r in chunk {
                    q = q.bind(r.created_at);
                }
                stored.extend(q.fetch_all(&mut *tx).await?);
            }
            // A row is known by (created_at, row_key), or by its request id as well when it
            // has no row key.
            let identity = |at: i64, key: i64, rid: &str| {
                let rid = if key == 0 { rid.to_string() } else { String::new() };
                (at, key, rid)
            };
            let mut seen: HashSet<(i64, i64, String)> = stored
                .iter()
                .map(|(at, key, rid)| identity(*at, *key, rid))
                .collect();
            for (r, w) in records.iter().zip(written.iter_mut()) {
                // A row twice in the batch is written once.
                *w = seen.insert(identity(r.created_at, r.row_key, &r.request_id));
            }
        }
        let new: Vec<&UsageRecord> = records
            .iter()
            .zip(&written)
            .filter_map(|(r, w)| w.then_some(r))
            .collect();
        for (shape, chunk) in shaped_chunks(&new) {
            let args = reserved_args(p, chunk.len() * RECORD_ARITY);
            let mut q = sqlx::query_with(&sql.logs[shape], args);
            for r in chunk {
                q = bind_record!(q, r);
            }
            q.execute(&mut *tx).await?;
        }

        let mut daily: BTreeMap<DayKey, Bucket> = BTreeMap::new();
        let mut hourly: BTreeMap<HourKey, Bucket> = BTreeMap::new();
        for ((r, &day), _) in records.iter().zip(&days).zip(&written).filter(|(_, w)| **w) {
            let (account, model) = (r.account_id.unwrap_or(0), r.model.as_str());
            add_to(&mut daily, (day_names[day].as_str(), r.api_key_id, account, model), r);
            add_to(&mut hourly, (hour_of(r.created_at), r.api_key_id, account, model), r);
        }
        // Sorted keys keep the lock order the same across concurrent writers.
        let daily: Vec<_> = daily.iter().collect();
        for (shape, chunk) in shaped_chunks(&daily) {
            let args = reserved_args(p, chunk.len() * ROLLUP_ARITY);
            let mut q = sqlx::query_with(&sql.daily[shape], args);
            for (k, b) in chunk {
                q = bind_rollup!(q.bind(k.0), k, b);
            }
            q.execute(&mut *tx).await?;
        }
        let hourly: Vec<_> = hourly.iter().collect();
        for (shape, chunk) in shaped_chunks(&hourly) {
            let args = reserved_args(p, chunk.len() * ROLLUP_ARITY);
            let mut q = sqlx::query_with(&sql.hourly[shape], args);
            for (k, b) in chunk {
                q = bind_rollup!(q.bind(k.0), k, b);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(written.iter().filter(|w| **w).count() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(ms: i64) -> UsageRecord {
        UsageRecord {
            created_at: ms,
            ..UsageRecord::default()
        }
    }

    #[test]
    fn each_row_gets_the_day_of_its_own_time_zone_across_midnight() {
        // 2026-01-01T16:00:00Z is midnight in Shanghai (UTC+8): the day changes between the
        // last millisecond before it and the first one of it, in the middle of a second run.
        let midnight = 1_767_283_200_000;
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let rows = [
            at(midnight - 1),
            at(midnight - 1_000),
            at(midnight),
            at(midnight + 999),
            at(midnight - 1),
            at(midnight + 86_400_000),
        ];
        let (names, days) = days_of(&rows, tz).unwrap();
        let got: Vec<&str> = days.iter().map(|&d| names[d].as_str()).collect();
        assert_eq!(
            got,
            [
                "2026-01-01",
                "2026-01-01",
                "2026-01-02",
                "2026-01-02",
                "2026-01-01",
                "2026-01-03"
            ]
        );
        assert_eq!(names.len(), 3, "each distinct day is kept once: {names:?}");
        for (r, day) in rows.iter().zip(&got) {
            assert_eq!(day_of(r.created_at, tz).as_deref(), Some(*day));
        }
    }

    #[test]
    fn a_timestamp_out_of_range_is_refused() {
        let tz: Tz = "UTC".parse().unwrap();
        assert!(matches!(
            days_of(&[at(0), at(i64::MAX)], tz),
            Err(DbError::Corrupt {
                column: "created_at",
                ..
            })
        ));
    }
}
