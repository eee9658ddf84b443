//! Readiness (SPEC §1): `/ready` answers 200 only when the database is reachable and the
//! in-memory snapshot is loaded. The database is probed by a background task; the front door
//! only reads these flags, so `/ready` never waits on the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_shared::db::Db;

/// Flags read by `/ready`.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
    db_ok: AtomicBool,
    snapshot_loaded: AtomicBool,
    db_error: Mutex<String>,
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
        r.set_draining();
        assert_eq!(r.check(), Err("shutting down".into()));
    }
}
