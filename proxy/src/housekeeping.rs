//! Background upkeep of the usage data, off the hot path: `last_used_at` of keys and accounts
//! from the usage rows written since the last pass (every [`TOUCH_EVERY`]), and retention
//! (SPEC §5): raw rows and hourly roll-ups older than `usage.retention_days` are deleted a
//! few thousand rows per statement, soon after start and then every [`RETAIN_EVERY`]; daily
//! roll-ups are kept.

use std::time::Duration;

use relay_shared::db::{now_ms, usage, Db};

/// How often `last_used_at` is brought up to date (coarse, as the column is).
pub const TOUCH_EVERY: Duration = Duration::from_secs(10);
/// How often old rows are deleted.
pub const RETAIN_EVERY: Duration = Duration::from_secs(3600);
/// Rows looked back at by the first `last_used_at` pass after a start.
const FIRST_LOOK_BACK: i64 = 100_000;
const DAY_MS: i64 = 86_400_000;

/// Runs the upkeep on `db` forever (until its runtime stops).
pub async fn run(db: Db, retention_days: u32) {
    let mut seen = usage::max_log_id(&db)
        .await
        .map_or(0, |id| (id - FIRST_LOOK_BACK).max(0));
    let mut next_retention = tokio::time::Instant::now() + TOUCH_EVERY;
    let mut tick = tokio::time::interval(TOUCH_EVERY);
    loop {
        tick.tick().await;
        seen = touch(&db, seen).await;
        if tokio::time::Instant::now() >= next_retention {
            retain(&db, retention_days).await;
            next_retention = tokio::time::Instant::now() + RETAIN_EVERY;
        }
    }
}

/// One `last_used_at` pass over rows after `seen`; returns the new high-water id.
async fn touch(db: &Db, seen: i64) -> i64 {
    let Ok(top) = usage::max_log_id(db).await else {
        return seen;
    };
    if top <= seen {
        return seen;
    }
    match usage::touch_last_used(db, seen).await {
        Ok(()) => top,
        Err(e) => {
            tracing::warn!(error = %e, "last_used_at could not be updated; will retry");
            seen
        }
    }
}

/// One retention pass.
async fn retain(db: &Db, days: u32) {
    let cutoff = now_ms() - i64::from(days) * DAY_MS;
    match usage::delete_logs_before(db, cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, days, "old usage rows deleted (roll-ups kept)"),
        Err(e) => tracing::warn!(error = %e, "usage retention failed; will retry"),
    }
    if let Err(e) = usage::delete_hourly_before(db, cutoff).await {
        tracing::warn!(error = %e, "hourly roll-up retention failed; will retry");
    }
}
