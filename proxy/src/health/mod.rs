//! Account health (SPEC §3.5): every failure the failover path sees is recorded on its
//! account at once, in memory ([`AccountHealth`], read by the selector without a lock), and
//! persisted off the hot path ([`writer`]: only the state columns, then the change version,
//! so every instance's snapshot follows). `cooling` ends by itself when its time passes;
//! `error` ends only by a successful probe ([`probe`]) or an administrator.
//!
//! - 429: cooling until the reset the upstream names ([`verdict::rate_limit_until`]).
//! - 529, 5xx, timeouts, connection failures, a mid-stream error: cooling for
//!   `health.cooldown_5xx`; `health.error_threshold` of them within `health.error_window`
//!   move the account to `error`.
//! - 401/403: `error` ("credential rejected"); OAuth accounts refresh and retry first.

pub mod probe;
pub mod verdict;
pub mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use relay_shared::config::HealthConfig;
use relay_shared::models::AccountState;
use tokio::sync::mpsc;

use crate::snapshot::AccountEntry;
use crate::tunables::SharedTunables;
use writer::Transition;

/// The live health of one account; survives snapshot rebuilds.
#[derive(Debug, Default)]
pub struct AccountHealth {
    /// End of a cooldown, epoch ms (0: none).
    cooling_until: AtomicI64,
    errored: AtomicBool,
    /// Times of recent failures (within the error window).
    failures: Mutex<VecDeque<i64>>,
    /// Transitions recorded here and not yet persisted: until they are, a snapshot rebuild
    /// (which reads the stored state) must not undo them.
    pending: AtomicU32,
}

impl AccountHealth {
    /// Whether the account may take requests at `now_ms`.
    pub fn usable(&self, now_ms: i64) -> bool {
        !self.errored.load(Ordering::Relaxed)
            && self.cooling_until.load(Ordering::Relaxed) <= now_ms
    }

    /// The end of the cooldown, if the account is cooling at `now_ms`.
    pub fn cooling_until(&self, now_ms: i64) -> Option<i64> {
        let t = self.cooling_until.load(Ordering::Relaxed);
        (t > now_ms).then_some(t)
    }

    /// Whether the account is in `error`.
    pub fn errored(&self) -> bool {
        self.errored.load(Ordering::Relaxed)
    }

    /// The state as stored: taken over at a snapshot rebuild unless a transition recorded
    /// here is still on its way to the database.
    pub fn sync(&self, state: AccountState, cooldown_until: Option<i64>) {
        if self.pending.load(Ordering::Acquire) > 0 {
            return;
        }
        self.errored
            .store(state == AccountState::Error, Ordering::Relaxed);
        let until = match state {
            AccountState::Error => 0,
            _ => cooldown_until.unwrap_or(0),
        };
        self.cooling_until.store(until, Ordering::Relaxed);
        if state == AccountState::Active {
            self.lock_failures().clear();
        }
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, VecDeque<i64>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a failure at `now_ms`; returns the failures within `window`, this one included.
    fn count_failure(&self, now_ms: i64, window: Duration) -> u32 {
        let from = now_ms - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 4);
        let mut f = self.lock_failures();
        while f.front().is_some_and(|t| *t < from) {
            f.pop_front();
        }
        f.push_back(now_ms);
        u32::try_from(f.len()).unwrap_or(u32::MAX)
    }
}

/// Records health transitions: in memory at once, in the database by the [`writer`].
#[derive(Debug)]
pub struct HealthBook {
    tunables: SharedTunables,
    tx: mpsc::UnboundedSender<Transition>,
}

/// What a recorded failure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The account cools down until this time.
    Cooling(i64),
    /// The account is now in `error`.
    Error,
}

impl HealthBook {
    /// A book with the cooldowns of `tunables` (read at each use, so a reload applies at
    /// once), persisting through `tx`.
    pub fn new(tunables: SharedTunables, tx: mpsc::UnboundedSender<Transition>) -> Self {
        Self { tunables, tx }
    }

    /// The health configuration in force.
    pub fn config(&self) -> HealthConfig {
        self.tunables.load().health.clone()
    }

    fn send(&self, a: &AccountEntry, t: Transition) {
        a.rt.health.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(t).is_err() {
            a.rt.health.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// A 429 (not the client's): cooling until `until_ms`.
    pub fn rate_limited(&self, a: &AccountEntry, until_ms: i64, detail: &str) -> Recorded {
        let h = &a.rt.health;
        h.cooling_until.fetch_max(until_ms, Ordering::Relaxed);
        let until = h.cooling_until.load(Ordering::Relaxed);
        tracing::warn!(
            account_id = a.id,
            cooldown_until = until,
            "account rate limited; cooling down"
        );
        self.send(
            a,
            Transition::cooling(a, until, "rate limited (429)", detail),
        );
        Recorded::Cooling(until)
    }

    /// A 529/5xx, a timeout, a connection failure or a mid-stream error: cooling for
    /// `health.cooldown_5xx`, or `error` once `health.error_threshold` failures fall within
    /// `health.error_window`.
    pub fn failed(&self, a: &AccountEntry, now_ms: i64, detail: &str) -> Recorded {
        let h = &a.rt.health;
        let cfg = self.config();
        let n = h.count_failure(now_ms, cfg.error_window);
        if n >= cfg.error_threshold {
            h.errored.store(true, Ordering::Relaxed);
            let reason = format!("{n} failures within {} s", cfg.error_window.as_secs());
            tracing::warn!(account_id = a.id, failures = n, "account moved to error");
            self.send(a, Transition::error(a, &reason, detail));
            return Recorded::Error;
        }
        let until = now_ms + i64::try_from(cfg.cooldown_5xx.as_millis()).unwrap_or(i64::MAX / 4);
        h.cooling_until.fetch_max(until, Ordering::Relaxed);
        let until = h.cooling_until.load(Ordering::Relaxed);
        tracing::warn!(
            account_id = a.id,
            cooldown_until = until,
            "account failed; cooling down"
        );
        self.send(a, Transition::cooling(a, until, "upstream failure", detail));
        Recorded::Cooling(until)
    }

    /// A 401/403 the account cannot get past: `error` ("credential rejected").
    pub fn credential_rejected(&self, a: &AccountEntry, detail: &str) -> Recorded {
        a.rt.health.errored.store(true, Ordering::Relaxed);
        tracing::warn!(
            account_id = a.id,
            "account credential rejected; moved to error"
        );
        self.send(a, Transition::error(a, "credential rejected", detail));
        Recorded::Error
    }

    /// A successful probe: back to `active`.
    pub fn recovered(&self, a: &AccountEntry) {
        let h = &a.rt.health;
        h.errored.store(false, Ordering::Relaxed);
        h.cooling_until.store(0, Ordering::Relaxed);
        h.lock_failures().clear();
        tracing::info!(account_id = a.id, "account recovered");
        self.send(a, Transition::active(a));
    }
}
