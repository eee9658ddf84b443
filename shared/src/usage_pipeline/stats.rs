//! Counters and gauges of the usage pipeline, shared between the request path, the writer
//! task and whoever exports metrics; every reader is lock-free except [`PipelineStats::last_error`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Live numbers of one pipeline. Read them from any thread; only the pipeline writes them.
#[derive(Debug, Default)]
pub struct PipelineStats {
    pub(super) queue_depth: AtomicU64,
    pub(super) buffered: AtomicU64,
    pub(super) written_rows: AtomicU64,
    pub(super) spilled_rows: AtomicU64,
    pub(super) replayed_rows: AtomicU64,
    pub(super) dropped_rows: AtomicU64,
    pub(super) dead_letter_rows: AtomicU64,
    pub(super) journal_errors: AtomicU64,
    pub(super) recovered_rows: AtomicU64,
    pub(super) crashed_rows: AtomicU64,
    pub(super) db_failures: AtomicU64,
    pub(super) last_error: Mutex<String>,
}

impl PipelineStats {
    /// Rows recorded but not yet taken by the writer (gauge).
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth.load(Ordering::Relaxed)
    }

    /// Rows the writer holds in memory, including a batch being written (gauge).
    pub fn buffered(&self) -> u64 {
        self.buffered.load(Ordering::Relaxed)
    }

    /// Rows written to the database from memory (counter).
    pub fn written_rows(&self) -> u64 {
        self.written_rows.load(Ordering::Relaxed)
    }

    /// Rows appended to the spill file (counter).
    pub fn spilled_rows(&self) -> u64 {
        self.spilled_rows.load(Ordering::Relaxed)
    }

    /// Rows read back from the spill file and written to the database (counter; a row
    /// replayed twice, after a crash mid-replay, counts twice but is stored once).
    pub fn replayed_rows(&self) -> u64 {
        self.replayed_rows.load(Ordering::Relaxed)
    }

    /// Rows lost (counter; must stay 0): a spill-file write that failed, an unreadable spill
    /// line, or a row recorded after shutdown. Each loss is also logged as an error.
    pub fn dropped_rows(&self) -> u64 {
        self.dropped_rows.load(Ordering::Relaxed)
    }

    /// Rows the database refused on their own, set aside in the dead-letter file (counter).
    pub fn dead_letter_rows(&self) -> u64 {
        self.dead_letter_rows.load(Ordering::Relaxed)
    }

    /// Journal I/O failures, each of which disabled the journal (counter; should stay 0).
    pub fn journal_errors(&self) -> u64 {
        self.journal_errors.load(Ordering::Relaxed)
    }

    /// Rows recovered at start from the journal of a previous run (counter).
    pub fn recovered_rows(&self) -> u64 {
        self.recovered_rows.load(Ordering::Relaxed)
    }

    /// Of those, requests that never finished, written as `relay_crashed` (counter).
    pub fn crashed_rows(&self) -> u64 {
        self.crashed_rows.load(Ordering::Relaxed)
    }

    /// Database writes that failed or timed out (counter).
    pub fn db_failures(&self) -> u64 {
        self.db_failures.load(Ordering::Relaxed)
    }

    /// The last error met (database or spill file), empty if none.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn sub(gauge: &AtomicU64, n: u64) {
        gauge.fetch_sub(n, Ordering::Relaxed);
    }

    pub(super) fn set(gauge: &AtomicU64, n: u64) {
        gauge.store(n, Ordering::Relaxed);
    }

    pub(super) fn set_last_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = error;
    }
}
