//! The asynchronous usage writer (SPEC §5): one row per request, recorded from the hot path
//! without blocking, journaled locally, and written to the database in batches by one task.
//!
//! - [`UsageSink::record`] (a finished row) and [`UsageSink::progress`] (a request in flight)
//!   only push onto an unbounded channel: no lock, no await, no I/O, callable from any thread
//!   or runtime.
//! - The writer task takes the channel in bulk (at most every 20 ms) and first appends every
//!   entry to the local journal (`<data_dir>/usage-journal/`, one `write` per bulk, no fsync;
//!   see [`journal`]), so a killed process loses no row: the next start writes the rows the
//!   database missed and a `relay_crashed` row, with the usage of its last checkpoint, for
//!   every request that never finished.
//! - Finished rows go into a bounded buffer, written in batches of `usage.batch_size` rows (or
//!   fewer after `usage.flush_interval`) with
//!   [`write_batch`](crate::db::usage::write_batch); a batch that may already be stored (a
//!   retry, a replay) skips the rows found by their `row_key`. A failed write keeps its rows
//!   and is retried with exponential backoff (capped at 5 s).
//! - A batch whose data the database refuses is split until the refused rows are found: the
//!   others are written, the refused ones go with the reason to
//!   `<data_dir>/usage-dead-letter.jsonl` and are counted, so no row blocks the rest.
//! - Beyond `usage.buffer_rows` rows in memory, the oldest go to
//!   `<data_dir>/usage-spill.jsonl` (append-only JSON lines, fsynced). The file is replayed
//!   in batches as soon as the database takes writes again, and at the next start, and is
//!   removed only once every row in it is stored. Replaying a row twice is harmless.
//! - [`UsagePipelineHandle::shutdown`] drains everything, writes what it can before its
//!   deadline and spills the rest, so no row is lost; then the journal is removed.

mod dead_letter;
mod flush;
mod isolate;
pub mod journal;
mod journaling;
mod spill;
mod spilling;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use dead_letter::{DeadLetter, DEAD_LETTER_FILE_NAME};
pub use journal::JOURNAL_DIR_NAME;
pub use spill::SPILL_FILE_NAME;
pub use stats::PipelineStats;

use crate::config::UsageConfig;
use crate::db::usage::UsageRecord;
use crate::db::Db;
use journal::Entry;
use writer::Writer;

/// Starts the usage pipeline; see the module documentation.
#[derive(Debug)]
pub struct UsagePipeline;

impl UsagePipeline {
    /// Spawns the writer task on the current tokio runtime (panics outside one) and returns
    /// the sink for the request path and the handle for shutdown. The writer first replays
    /// `data_dir/usage-spill.jsonl` if a previous run left one. Days of the `usage_daily`
    /// roll-up are counted in `tz`.
    pub fn start(
        db: Db,
        cfg: UsageConfig,
        data_dir: PathBuf,
        tz: Tz,
    ) -> (UsageSink, UsagePipelineHandle) {
        let stats = Arc::new(PipelineStats::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = oneshot::channel();
        let writer = Writer::new(db, &cfg, data_dir, tz, Arc::clone(&stats), rx);
        let task = tokio::spawn(writer.run(stop_rx));
        let sink = UsageSink {
            tx,
            stats: Arc::clone(&stats),
        };
        let handle = UsagePipelineHandle { stop, task, stats };
        (sink, handle)
    }
}

/// Where the request path hands over finished usage rows. Cheap to clone; usable from any
/// thread or runtime.
#[derive(Debug, Clone)]
pub struct UsageSink {
    tx: mpsc::UnboundedSender<Entry>,
    stats: Arc<PipelineStats>,
}

impl UsageSink {
    /// Queues the row of a finished request for writing. Never blocks, awaits, does I/O or
    /// fails. A row recorded after the pipeline shut down cannot be kept: it is counted in
    /// `dropped_rows` and logged.
    pub fn record(&self, rec: UsageRecord) {
        PipelineStats::add(&self.stats.queue_depth, 1);
        if let Err(mpsc::error::SendError(entry)) = self.tx.send(Entry::Finished(rec)) {
            PipelineStats::sub(&self.stats.queue_depth, 1);
            PipelineStats::add(&self.stats.dropped_rows, 1);
            let (Entry::Finished(rec) | Entry::Progress(rec)) = entry;
            tracing::error!(
                request_id = %rec.request_id,
                "usage row recorded after the usage pipeline shut down; row lost"
            );
        }
    }

    /// Journals the row of a request in flight as known so far (its start, or a checkpoint
    /// of the usage seen): if the process dies before the request finishes, the next start
    /// writes this row with outcome `relay_crashed`. Never blocks; ignored after shutdown.
    pub fn progress(&self, rec: UsageRecord) {
        PipelineStats::add(&self.stats.queue_depth, 1);
        if self.tx.send(Entry::Progress(rec)).is_err() {
            PipelineStats::sub(&self.stats.queue_depth, 1);
        }
    }

    /// The pipeline's live numbers.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }
}

/// Controls the running pipeline. Dropped without [`Self::shutdown`], the pipeline keeps
/// running while any [`UsageSink`] lives, then flushes on its own with a 5-second deadline.
#[derive(Debug)]
pub struct UsagePipelineHandle {
    stop: oneshot::Sender<Duration>,
    task: JoinHandle<FlushReport>,
    stats: Arc<PipelineStats>,
}

impl UsagePipelineHandle {
    /// The pipeline's live numbers.
    pub fn stats(&self) -> Arc<PipelineStats> {
        Arc::clone(&self.stats)
    }

    /// Stops accepting rows (from the moment this is called), drains the channel, writes
    /// everything it can to the database within `timeout`, and appends the rest to the spill
    /// file (fsynced). The returned future completes when all of that is done.
    pub fn shutdown(self, timeout: Duration) -> impl Future<Output = FlushReport> + Send {
        // The writer may already be gone (it panicked); its join error is reported below.
        let _ = self.stop.send(timeout);
        let task = self.task;
        async move {
            match task.await {
                Ok(report) => report,
                Err(e) => {
                    tracing::error!(error = %e, "usage writer task failed; rows in memory lost");
                    FlushReport::default()
                }
            }
        }
    }
}

/// What a shutdown flush did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Rows the flush wrote to the database (from memory and from the spill file).
    pub written: u64,
    /// Rows the flush appended to the spill file, to be replayed at the next start.
    pub spilled: u64,
    /// Rows lost during the flush (must be 0; each loss is logged as an error).
    pub dropped: u64,
}
