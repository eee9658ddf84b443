//! Readiness (SPEC §1): `/ready` answers 200 only when the database is reachable and the
//! in-memory snapshot is loaded. The database is probed by a background task; the front door
//! only reads these flags, so `/ready` never waits on the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_shared::db::Db;

/// Whether the shared store (Redis) answers.
type SharedUp = Box<dyn Fn() -> bool + Send + Sync>;

/// Flags read by `/ready`.
#[derive(Default)]
pub struct Readiness {
    draining: AtomicBool,
    db_ok: AtomicBool,
    snapshot_loaded: AtomicBool,
    db_error: Mutex<String>,
    shared: std::sync::OnceLock<SharedUp>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.draining)
            .field("db_ok", &self.db_ok)
            .field("snapshot_loaded", &self.snapshot_loaded)
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// `Ok` when ready, else the reason.
    pub fn check(&self) -> Result<(), String> {
        if self.draining.load(Ordering::Acquire) {
            return Err("shutting down".into());
        }
        if !self.snapshot_loaded.load(Ordering::Acquire) {
            return Err("the in-memory snapshot is not loaded yet".into());
        }
        if !self.db_ok.load(Ordering::Acquire) {
            let detail = self.db_error.lock().map(|e| e.clone()).unwrap_or_default();
            return Err(format!("the database is unreachable: {detail}"));
        }
        Ok(())
    }

    /// Reports Redis on `/ready` (it never makes the relay unready: without it every instance
    /// counts its own limits).
    pub fn set_shared(&self, up: SharedUp) {
        let _ = self.shared.set(up);
    }

    /// `Some(false)` while the configured Redis does not answer; `None` without Redis.
    pub fn shared_up(&self) -> Option<bool> {
        self.shared.get().map(|f| f())
    }

    /// Marks the process as shutting down: `/ready` answers 503 from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the process is shutting down.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Marks the snapshot as loaded.
    pub fn set_snapshot_loaded(&self) {
        self.snapshot_loaded.store(true, Ordering::Release);
    }

    /// Records the result of a database probe.
    pub fn set_db(&self, result: Result<(), String>) {
        match result {
            Ok(()) => self.db_ok.store(true, Ordering::Release),
            Err(e) => {
                if let Ok(mut slot) = self.db_error.lock() {
                    *slot = e;
                }
                self.db_ok.store(false, Ordering::Release);
            }
        }
    }
}

/// Probes the database every `every` and records the result, forever.
pub async fn monitor_db(db: Db, ready: Arc<Readiness>, every: Duration) {
    loop {
        let result = match tokio::time::timeout(Duration::from_secs(3), db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 3 s".into()),
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, "database probe failed");
        }
        ready.set_db(result);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ready_needs_both_the_snapshot_and_the_database() {
        let r = Readiness::default();
        assert!(r.check().unwrap_err().contains("snapshot"));
        r.set_snapshot_loaded();
        r.set_db(Err("connection refused".into()));
        assert!(r.check().unwrap_err().contains("connection refused"));
        r.set_db(Ok(()));
        assert_eq!(r.check(), Ok(()));
        assert_eq!(r.shared_up(), None);
        r.set_shared(Box::new(|| false));
        assert_eq!(r.shared_up(), Some(false));
        assert_eq!(
            r.check(),
            Ok(()),
            "Redis away never makes the relay unready"
        );
        r.set_draining();
        assert_eq!(r.check(), Err("shutting down".into()));
    }
}
