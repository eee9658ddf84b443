//! Persists health transitions off the hot path: only the state columns of the account
//! ([`accounts::set_state`]), the latest transition per account when several queue up, then
//! one change-version bump so every instance's snapshot follows within its poll. A failed
//! write is retried; the account's in-memory state holds meanwhile.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use relay_shared::db::{accounts, columns, settings, Db};
use relay_shared::models::AccountState;
use tokio::sync::mpsc;

use crate::snapshot::{AccountEntry, AccountRuntime};

/// Longest error text kept.
const MAX_ERROR: usize = 500;
/// Pause after a failed write.
const RETRY: Duration = Duration::from_secs(2);

/// One transition to store.
#[derive(Debug)]
pub struct Transition {
    account_id: i64,
    state: AccountState,
    reason: String,
    cooldown_until: Option<i64>,
    last_error: Option<String>,
    rt: Arc<AccountRuntime>,
}

impl Transition {
    fn new(
        a: &AccountEntry,
        state: AccountState,
        reason: &str,
        until: Option<i64>,
        error: Option<&str>,
    ) -> Self {
        let last_error = error.map(|e| {
            let mut e = e.to_string();
            columns::clamp(&mut e, MAX_ERROR);
            e
        });
        Self {
            account_id: a.id,
            state,
            reason: reason.to_string(),
            cooldown_until: until,
            last_error,
            rt: a.rt.clone(),
        }
    }

    /// Cooling until `until`.
    pub fn cooling(a: &AccountEntry, until: i64, reason: &str, error: &str) -> Self {
        Self::new(a, AccountState::Cooling, reason, Some(until), Some(error))
    }

    /// In `error`.
    pub fn error(a: &AccountEntry, reason: &str, error: &str) -> Self {
        Self::new(a, AccountState::Error, reason, None, Some(error))
    }

    /// Back to `active` (the last error stays on record).
    pub fn active(a: &AccountEntry) -> Self {
        Self::new(a, AccountState::Active, "", None, None)
    }
}

/// Runs until every sender is gone, writing transitions as they come.
pub async fn run(db: Db, mut rx: mpsc::UnboundedReceiver<Transition>) {
    let mut incoming = Vec::new();
    // Latest transition per account, with how many were merged into it.
    let mut queued: HashMap<i64, (Transition, u32)> = HashMap::new();
    loop {
        if queued.is_empty() && rx.recv_many(&mut incoming, 256).await == 0 {
            return;
        }
        while let Ok(t) = rx.try_recv() {
            incoming.push(t);
        }
        for t in incoming.drain(..) {
            let merged = queued.remove(&t.account_id).map_or(0, |(_, n)| n);
            queued.insert(t.account_id, (t, merged + 1));
        }
        let mut failed = false;
        let ids: Vec<i64> = queued.keys().copied().collect();
        for id in ids {
            let Some((t, _)) = queued.get(&id) else {
                continue;
            };
            let res = accounts::set_state(
                &db,
                id,
                t.state.as_str(),
                &t.reason,
                t.cooldown_until,
                t.last_error.as_deref(),
            )
            .await;
            match res {
                Ok(()) | Err(relay_shared::db::DbError::NotFound) => {
                    if let Some((t, n)) = queued.remove(&id) {
                        t.rt.health_pending_done(n);
                    }
                }
                Err(e) => {
                    tracing::warn!(account_id = id, error = %e, "account health not stored yet; will retry");
                    failed = true;
                    break;
                }
            }
        }
        if let Err(e) = settings::bump_change_version(&db).await {
            tracing::warn!(error = %e, "change version not bumped after a health transition");
        }
        if failed {
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl AccountRuntime {
    fn health_pending_done(&self, n: u32) {
        self.health.pending.fetch_sub(n, Ordering::AcqRel);
    }
}
