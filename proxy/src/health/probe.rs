//! Recovery (SPEC §3.6): every `health.probe_interval` the accounts in `error` are probed with
//! the cheapest request there is (`count_tokens` on Anthropic's own API, else a
//! `max_tokens: 1` message), through the admin account test's own code, and go back to
//! `active` when the upstream answers 2xx. Cooldowns that ended are marked `active` in the
//! database too (the selector already uses those accounts again by itself).

use std::sync::Arc;
use std::time::Duration;

use relay_admin::routes::account_probe::{probe, ProbeKind};
use relay_admin::AppState;
use relay_shared::db::{accounts, now_ms, settings};
use relay_shared::models::AccountState;

use super::HealthBook;
use crate::limits::redis::RedisLimiter;
use crate::snapshot::SnapshotStore;

/// Runs the recovery passes forever, the first after `every`. With Redis, only the instance
/// holding the job lock `probe` runs them (the lock outlives two passes, so a dead holder
/// hands over within that); while Redis is away every instance runs its own.
pub async fn run(
    state: AppState,
    store: Arc<SnapshotStore>,
    health: Arc<HealthBook>,
    every: Duration,
    redis: Option<Arc<RedisLimiter>>,
) {
    let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    let mut held = false;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Some(r) = &redis {
            let now_held = r
                .job_lock("probe", &holder, every * 2 + Duration::from_secs(1))
                .await;
            if now_held != held {
                tracing::info!(holder = %holder, held = now_held, "recovery probe job lock");
                held = now_held;
            }
            if !now_held {
                continue;
            }
        }
        pass(&state, &store, &health).await;
    }
}

/// One recovery pass.
pub async fn pass(state: &AppState, store: &SnapshotStore, health: &HealthBook) {
    match accounts::end_cooldowns(&state.db, now_ms()).await {
        Ok(0) => {}
        Ok(_) => {
            if let Err(e) = settings::bump_change_version(&state.db).await {
                tracing::warn!(error = %e, "change version not bumped after ending cooldowns");
            }
        }
        Err(e) => tracing::warn!(error = %e, "ended cooldowns not stored"),
    }
    let rows = match accounts::list_all(&state.db).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "accounts in error not listed; probing later");
            return;
        }
    };
    let broken = rows
        .into_iter()
        .filter(|a| a.enabled && a.state == AccountState::Error.as_str());
    for a in broken {
        let result = probe(state, &a, ProbeKind::Cheapest).await;
        match result {
            Ok(r) if r.ok => {
                let snap = store.load();
                match snap.account(a.id) {
                    Some(entry) => health.recovered(entry),
                    None => {
                        let stored =
                            accounts::set_state(&state.db, a.id, "active", "", None, None).await;
                        if stored.is_ok() {
                            let _ = settings::bump_change_version(&state.db).await;
                        }
                    }
                }
                tracing::info!(account_id = a.id, status = ?r.status, "probe succeeded; account active again");
            }
            Ok(r) => {
                tracing::info!(account_id = a.id, status = ?r.status, message = %r.message, "probe failed; account stays in error");
            }
            Err(e) => tracing::warn!(account_id = a.id, error = ?e, "account could not be probed"),
        }
    }
}
