//! The writer's side of the spill file: moving the oldest rows there when the buffer
//! overflows, and replaying the file in batches (then removing it) once the database takes
//! writes. File I/O runs on the blocking pool; every row lost is counted and logged.

use std::time::Duration;

use tokio::time::Instant;

use super::dead_letter::{self, DeadLetter};
use super::spill::{self, Chunk};
use super::stats::PipelineStats;
use super::writer::{Source, SpillCursor, Writer};
use crate::db::usage::{Batch, UsageRecord};

/// Wait before retrying a spill-file operation that failed.
const SPILL_RETRY: Duration = Duration::from_secs(1);

impl Writer {
    /// Writes the next spill chunk; reaching the end of the file removes it.
    pub(super) async fn start_replay(&mut self) {
        let Some(cursor) = self.spill.as_mut() else {
            return;
        };
        if let Some((rows, next_offset)) = cursor.pending.take() {
            return self.launch(rows, Source::Spill { next_offset }, Batch::InDoubt);
        }
        let (path, offset, max) = (self.spill_path.clone(), cursor.offset, self.batch_size);
        let read = tokio::task::spawn_blocking(move || spill::read_chunk(&path, offset, max)).await;
        let chunk = match read {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return self.spill_io_failed(&e.to_string()),
            Err(e) => return self.spill_io_failed(&e.to_string()),
        };
        self.count_bad_lines(&chunk);
        if chunk.rows.is_empty() {
            // Only unreadable lines (already counted) were left: never read them again.
            if let Some(cursor) = self.spill.as_mut() {
                cursor.offset = chunk.next_offset;
            }
            let path = self.spill_path.clone();
            match tokio::task::spawn_blocking(move || spill::remove(&path)).await {
                Ok(Ok(())) => {
                    tracing::info!(path = %self.spill_path.display(), "usage spill file replayed and removed");
                    self.spill = None;
                }
                Ok(Err(e)) => self.spill_io_failed(&e.to_string()),
                Err(e) => self.spill_io_failed(&e.to_string()),
            }
            return;
        }
        let next_offset = chunk.next_offset;
        self.launch(chunk.rows, Source::Spill { next_offset }, Batch::InDoubt);
    }

    fn count_bad_lines(&self, chunk: &Chunk) {
        for bad in &chunk.bad {
            let request_id = bad.request_id.as_deref().unwrap_or("?");
            if bad.torn {
                tracing::warn!(offset = bad.offset, request_id, "skipping torn last line of the usage spill file (cut short by a crash); row lost");
            } else {
                tracing::error!(
                    offset = bad.offset,
                    request_id,
                    "skipping unreadable line of the usage spill file; row lost"
                );
            }
        }
        PipelineStats::add(&self.stats.dropped_rows, chunk.bad.len() as u64);
    }

    fn spill_io_failed(&mut self, error: &str) {
        tracing::error!(error, "usage spill file could not be replayed; will retry");
        self.stats.set_last_error(error.to_string());
        self.retry_at = Some(Instant::now() + SPILL_RETRY);
    }

    /// Moves the oldest rows to the spill file while the buffer holds more than
    /// `buffer_rows` (at least a batch at a time, to keep fsyncs few).
    pub(super) async fn enforce_bound(&mut self) {
        let len = self.buffer.len();
        if len <= self.buffer_rows || self.spill_retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let n = (len - self.buffer_rows).max(self.batch_size).min(len);
        let rows: Vec<_> = self.buffer.drain(..n).collect();
        match self.append_to_spill(rows).await {
            Ok(()) => self.spill_retry_at = None,
            Err(rows) => {
                self.spill_retry_at = Some(Instant::now() + SPILL_RETRY);
                for row in rows.into_iter().rev() {
                    self.buffer.push_front(row);
                }
                // Memory is the last refuge; beyond twice the bound, the oldest rows go.
                let cap = self.buffer_rows.saturating_mul(2);
                if self.buffer.len() > cap {
                    let lost = self.buffer.len() - cap;
                    let first = self.buffer.front().map(|r| r.request_id.clone());
                    self.buffer.drain(..lost);
                    PipelineStats::add(&self.stats.dropped_rows, lost as u64);
                    tracing::error!(lost, first_request_id = ?first, "usage buffer full and spill file unwritable; oldest rows dropped");
                }
            }
        }
        if self.buffer.is_empty() {
            self.oldest_at = None;
        }
        self.update_buffered();
    }

    /// Sets aside rows the database refused on their own: appended to the dead-letter file,
    /// counted and logged (request ids only). If the file cannot be written the rows are lost,
    /// counted as dropped.
    pub(super) async fn dead_letter(&mut self, refused: Vec<(UsageRecord, String)>) {
        let at = crate::db::now_ms();
        for (row, error) in &refused {
            tracing::error!(
                request_id = %row.request_id,
                error,
                "the database refused a usage row; set aside in the dead-letter file"
            );
        }
        let letters: Vec<DeadLetter> = refused
            .into_iter()
            .map(|(row, error)| DeadLetter { at, error, row })
            .collect();
        let n = letters.len() as u64;
        let path = self.dead_letter_path.clone();
        let done = tokio::task::spawn_blocking(move || dead_letter::append(&path, &letters)).await;
        let error = match done {
            Ok(Ok(())) => {
                PipelineStats::add(&self.stats.dead_letter_rows, n);
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        PipelineStats::add(&self.stats.dropped_rows, n);
        tracing::error!(
            error,
            rows = n,
            "dead-letter file unwritable; refused usage rows lost"
        );
        self.stats.set_last_error(error);
    }

    /// Appends `rows` to the spill file; on failure hands them back.
    pub(super) async fn append_to_spill(
        &mut self,
        rows: Vec<UsageRecord>,
    ) -> Result<(), Vec<UsageRecord>> {
        let (path, n) = (self.spill_path.clone(), rows.len() as u64);
        let done = tokio::task::spawn_blocking(move || {
            let res = spill::append(&path, &rows);
            (rows, res)
        })
        .await;
        let error = match done {
            Ok((rows, Ok(()))) => {
                PipelineStats::add(&self.stats.spilled_rows, rows.len() as u64);
                self.spill.get_or_insert(SpillCursor {
                    offset: 0,
                    pending: None,
                });
                return Ok(());
            }
            Ok((rows, Err(e))) => {
                tracing::error!(error = %e, rows = rows.len(), "usage rows could not be spilled");
                self.stats.set_last_error(e.to_string());
                return Err(rows);
            }
            Err(e) => e.to_string(),
        };
        // The blocking task died with the rows: they are gone.
        PipelineStats::add(&self.stats.dropped_rows, n);
        tracing::error!(error, rows = n, "usage spill task failed; rows lost");
        self.stats.set_last_error(error);
        Err(Vec::new())
    }
}
