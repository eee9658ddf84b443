//! The shutdown flush: stop accepting rows, drain the channel, write everything (buffer and
//! spill file) to the database until the deadline, then append whatever is left to the spill
//! file, fsynced, for the next start.

use std::time::Duration;

use tokio::time::Instant;

use super::stats::PipelineStats;
use super::writer::{wait, Writer};
use super::FlushReport;

impl Writer {
    /// Flushes within `timeout` (the final spill append is not cut short) and reports.
    pub(super) async fn flush(mut self, timeout: Duration) -> FlushReport {
        let deadline = Instant::now() + timeout;
        let dropped_before = self.stats.dropped_rows();
        self.rx.close();
        let mut late = Vec::new();
        while let Ok(entry) = self.rx.try_recv() {
            late.push(entry);
        }
        PipelineStats::sub(&self.stats.queue_depth, late.len() as u64);
        if !late.is_empty() {
            self.take_entries(&mut late);
        }

        let mut report = FlushReport::default();
        loop {
            if self.inflight.is_none() {
                if let Some(t) = self.retry_at {
                    if t >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(t).await;
                }
                if Instant::now() >= deadline || (self.buffer.is_empty() && self.spill.is_none()) {
                    break;
                }
                self.start_work(true).await;
                if self.inflight.is_none() {
                    continue;
                }
            }
            match tokio::time::timeout_at(deadline, wait(&mut self.inflight)).await {
                Ok(res) => report.written += self.finish(res).await,
                Err(_) => break,
            }
        }

        self.abandon_inflight();
        let rows: Vec<_> = self.buffer.drain(..).collect();
        if !rows.is_empty() {
            let n = rows.len() as u64;
            match self.append_to_spill(rows).await {
                Ok(()) => report.spilled = n,
                Err(lost) => {
                    PipelineStats::add(&self.stats.dropped_rows, lost.len() as u64);
                    tracing::error!(
                        lost = lost.len(),
                        first_request_id = ?lost.first().map(|r| r.request_id.as_str()),
                        "usage rows could not be written nor spilled at shutdown; rows lost"
                    );
                }
            }
        }
        self.update_buffered();
        report.dropped = self.stats.dropped_rows().saturating_sub(dropped_before);
        self.close_journal(report.dropped == 0);
        let spill_file_pending = self.spill.is_some();
        tracing::info!(
            written = report.written,
            spilled = report.spilled,
            dropped = report.dropped,
            spill_file_pending,
            "usage pipeline flushed"
        );
        report
    }
}
