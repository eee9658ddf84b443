//! The texts of the usage batch writer's statements, built once per dialect and row count.
//! A 500-row insert is a 40 KB text; building it for every batch cost allocations and page
//! faults on the writer's thread, where sqlx only needs it to find its cached statement.

use std::sync::OnceLock;

use sqlx::{Arguments, Database, Pool};

use super::usage::RECORD_COLUMNS;
use super::usage_stats::COUNTERS;
use super::Db;

/// Columns of a `usage_logs` row ([`RECORD_COLUMNS`]).
pub(super) const RECORD_ARITY: usize = 26;
/// Roll-up columns after the bucket: key, account, model, user, group, then [`COUNTERS`].
pub(super) const ROLLUP_ARITY: usize = 14;
/// Row counts of the multi-row statements. A batch is cut into pieces of these sizes only, so
/// each backend prepares at most one statement per size and then reuses it from the
/// connection's statement cache (a new row count would mean a new statement to parse: for a
/// 25-column insert that costs more than executing it). The largest is the default
/// `usage.batch_size`, so a full batch is one statement; 500 rows × 26 binds stays far below
/// both backends' limits.
pub(crate) const SHAPES: [usize; 5] = [500, 100, 20, 5, 1];

/// Cuts `items` into consecutive pieces whose lengths are all in [`SHAPES`], largest first;
/// each piece comes with the index of its length in [`SHAPES`].
pub(crate) fn shaped_chunks<T>(mut items: &[T]) -> impl Iterator<Item = (usize, &[T])> {
    std::iter::from_fn(move || {
        let (shape, n) = SHAPES
            .iter()
            .copied()
            .enumerate()
            .find(|&(_, s)| s <= items.len())?;
        let (head, rest) = items.split_at(n);
        items = rest;
        Some((shape, head))
    })
}

/// The statements of one dialect, one text per entry of [`SHAPES`].
pub(super) struct Texts {
    /// Stored rows at the given `created_at` values (for a batch in doubt).
    pub lookup: [String; SHAPES.len()],
    /// Insert into `usage_logs`.
    pub logs: [String; SHAPES.len()],
    /// Upsert adding into `usage_daily`.
    pub daily: [String; SHAPES.len()],
    /// Upsert adding into `usage_hourly`.
    pub hourly: [String; SHAPES.len()],
}

/// The statement texts for `db`'s dialect.
pub(super) fn texts(db: &Db) -> &'static Texts {
    static SQLITE: OnceLock<Texts> = OnceLock::new();
    static MYSQL: OnceLock<Texts> = OnceLock::new();
    match db {
        Db::Sqlite(_) => SQLITE.get_or_init(|| Texts::build(Dialect::Sqlite)),
        Db::MySql(_) => MYSQL.get_or_init(|| Texts::build(Dialect::MySql)),
    }
}

/// Empty arguments for `values` binds of `pool`'s database, allocated once at their full
/// size: growing them bind by bind reallocated (and copied) a 13,000-value buffer about a
/// dozen times per full batch.
pub(super) fn reserved_args<'q, DB: Database>(
    _pool: &Pool<DB>,
    values: usize,
) -> DB::Arguments<'q> {
    let mut args = DB::Arguments::default();
    args.reserve(values, 0);
    args
}

#[derive(Clone, Copy)]
enum Dialect {
    Sqlite,
    MySql,
}

impl Texts {
    fn build(dialect: Dialect) -> Self {
        let rollup = |table: &str, bucket: &str, rows: usize| {
            format!(
                "INSERT INTO {table} ({bucket}, api_key_id, account_id, model, user_id, \
                 group_id, {}) VALUES {} {}",
                COUNTERS.join(", "),
                placeholders(rows, ROLLUP_ARITY),
                add_on_conflict(dialect, bucket)
            )
        };
        Self {
            lookup: SHAPES.map(|rows| {
                format!(
                    "SELECT created_at, row_key, request_id FROM usage_logs \
                     WHERE created_at IN ({})",
                    vec!["?"; rows].join(", ")
                )
            }),
            logs: SHAPES.map(|rows| {
                format!(
                    "INSERT INTO usage_logs ({RECORD_COLUMNS}) VALUES {}",
                    placeholders(rows, RECORD_ARITY)
                )
            }),
            daily: SHAPES.map(|rows| rollup("usage_daily", "day", rows)),
            hourly: SHAPES.map(|rows| rollup("usage_hourly", "hour_start", rows)),
        }
    }
}

/// `(?, ?, ...), (?, ...)`: `rows` groups of `arity` placeholders.
fn placeholders(rows: usize, arity: usize) -> String {
    let one = format!("({})", vec!["?"; arity].join(", "));
    vec![one; rows].join(", ")
}

/// Upsert tail adding every counter into the existing row.
fn add_on_conflict(dialect: Dialect, bucket: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "ON CONFLICT({bucket}, api_key_id, account_id, model) DO UPDATE SET {}",
            COUNTERS
                .map(|c| format!("{c} = {c} + excluded.{c}"))
                .join(", ")
        ),
        Dialect::MySql => format!(
            "ON DUPLICATE KEY UPDATE {}",
            COUNTERS
                .map(|c| format!("{c} = {c} + VALUES({c})"))
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_has_one_placeholder_per_bind() {
        assert_eq!(RECORD_COLUMNS.split(',').count(), RECORD_ARITY);
        for dialect in [Dialect::Sqlite, Dialect::MySql] {
            let t = Texts::build(dialect);
            for (i, rows) in SHAPES.iter().enumerate() {
                let binds = |s: &str| s.matches('?').count();
                assert_eq!(binds(&t.lookup[i]), *rows);
                assert_eq!(binds(&t.logs[i]), rows * RECORD_ARITY);
                assert_eq!(binds(&t.daily[i]), rows * ROLLUP_ARITY);
                assert_eq!(binds(&t.hourly[i]), rows * ROLLUP_ARITY);
            }
        }
    }
}
