//! The usage pipeline against real databases: SQLite and MariaDB (through `db_test!`), and a
//! MariaDB outage simulated with a TCP forwarder that can be switched off. This file holds
//! the shared helpers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod flow;
mod forwarder;
mod outage;
mod refusal;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

use super::*;
use crate::db::usage::tests::{expected, sample};
use crate::db::usage::{list_logs, Batch, LogFilter};
use crate::db::usage_stats::{daily_totals, hourly_totals, RollupFilter, UsageTotals};
use crate::db::Page;

fn usage_cfg(batch_size: usize, flush_ms: u64, buffer_rows: usize) -> UsageConfig {
    UsageConfig {
        batch_size,
        flush_interval: Duration::from_millis(flush_ms),
        buffer_rows,
        ..UsageConfig::default()
    }
}

fn records(range: std::ops::Range<i64>) -> Vec<UsageRecord> {
    range.map(sample).collect()
}

fn spill_file(dir: &Path) -> PathBuf {
    dir.join(SPILL_FILE_NAME)
}

fn spill_lines(dir: &Path) -> usize {
    std::fs::read_to_string(spill_file(dir))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

async fn stored_rows(db: &Db) -> i64 {
    let page = Page {
        page: 1,
        page_size: 1,
    };
    list_logs(db, &LogFilter::default(), page).await.unwrap().1
}

fn add(sum: &mut UsageTotals, t: &UsageTotals) {
    sum.requests += t.requests;
    sum.errors += t.errors;
    sum.input_tokens += t.input_tokens;
    sum.output_tokens += t.output_tokens;
    sum.cache_read_input_tokens += t.cache_read_input_tokens;
    sum.cache_creation_5m_input_tokens += t.cache_creation_5m_input_tokens;
    sum.cache_creation_1h_input_tokens += t.cache_creation_1h_input_tokens;
    sum.cost_micro_usd += t.cost_micro_usd;
}

/// The sums of the daily and of the hourly roll-ups over all time.
async fn rollup_sums(db: &Db) -> (UsageTotals, UsageTotals) {
    let all = RollupFilter::default();
    let (mut daily, mut hourly) = (UsageTotals::default(), UsageTotals::default());
    for d in daily_totals(db, &all, "0000-01-01", "9999-12-31")
        .await
        .unwrap()
    {
        add(&mut daily, &d.totals);
    }
    for h in hourly_totals(db, &all, i64::MIN, i64::MAX).await.unwrap() {
        add(&mut hourly, &h.totals);
    }
    (daily, hourly)
}

/// Asserts that the database holds exactly `rows`, once each, in logs and roll-ups.
async fn assert_stored_exactly(db: &Db, rows: &[UsageRecord]) {
    assert_eq!(stored_rows(db).await, rows.len() as i64);
    let want = expected(rows);
    assert_eq!(rollup_sums(db).await, (want, want));
}

/// Polls `check` every 50 ms until it holds; fails after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A MySQL pool pointing at a closed loopback port: every write fails fast.
fn unreachable_db() -> Db {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = MySqlConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("root")
        .database("nowhere");
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy_with(opts);
    Db::MySql(pool)
}
