//! The writer's side of the journal: recovering what a previous run left (made durable
//! through the spill file), journaling each batch of entries before the rows reach the
//! buffer, and deleting segments once their rows are durable.

use super::journal::{self, Entry, Journal};
use super::stats::PipelineStats;
use super::writer::{InFlight, Source, Writer};
use crate::db::usage::UsageRecord;

impl Writer {
    /// Makes durable what a previous run left in the journal, then opens a new one. The rows
    /// are appended to the spill file (fsynced), whose replay skips rows already stored;
    /// only then are the old segments removed. If that fails they stay for the next start.
    pub(super) async fn recover_journal(&mut self) {
        let dir = self.data_dir.clone();
        let recovered = tokio::task::spawn_blocking(move || journal::recover(&dir)).await;
        match recovered {
            Ok(Ok(rec)) if !rec.files.is_empty() => {
                let (n, crashed, bad) = (rec.rows.len(), rec.crashed, rec.bad_lines);
                let kept = rec.rows.is_empty() || self.append_to_spill(rec.rows).await.is_ok();
                if kept {
                    PipelineStats::add(&self.stats.recovered_rows, n as u64);
                    PipelineStats::add(&self.stats.crashed_rows, crashed as u64);
                    let files = rec.files;
                    let removed =
                        tokio::task::spawn_blocking(move || journal::remove_recovered(&files))
                            .await;
                    if !matches!(removed, Ok(Ok(()))) {
                        tracing::error!("usage journal segments could not be removed after recovery; they will be read again (rows are not stored twice)");
                    }
                    tracing::info!(
                        rows = n,
                        relay_crashed = crashed,
                        unreadable_lines = bad,
                        "usage journal of the previous run recovered"
                    );
                } else {
                    tracing::error!(rows = n, "usage journal of the previous run could not be made durable; kept for the next start");
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => self.journal_failed(&format!("reading the journal: {e}")),
            Err(e) => self.journal_failed(&format!("reading the journal: {e}")),
        }
        let dir = self.data_dir.clone();
        match tokio::task::spawn_blocking(move || Journal::open(&dir)).await {
            Ok(Ok(j)) => self.journal = j,
            Ok(Err(e)) => self.journal_failed(&format!("opening the journal: {e}")),
            Err(e) => self.journal_failed(&format!("opening the journal: {e}")),
        }
    }

    /// Journals received entries in one write and moves the finished rows into the buffer.
    pub(super) fn take_entries(&mut self, incoming: &mut Vec<Entry>) {
        let mut rows: Vec<UsageRecord> = Vec::with_capacity(incoming.len());
        if let Err(e) = self.journal.append(incoming, &mut rows) {
            self.journal_failed(&format!("appending to the journal: {e}"));
        }
        if !rows.is_empty() {
            self.accept(rows);
        }
    }

    /// Rotates the journal when due and deletes segments whose rows are all durable.
    pub(super) fn maintain_journal(&mut self) {
        let below = self.durable_below();
        if let Err(e) = self.journal.maintain(below) {
            self.journal_failed(&format!("rotating the journal: {e}"));
        }
    }

    /// Every journaled row with a smaller sequence number is durable: the oldest row not yet
    /// written, spilled or set aside is in the batch being written or at the buffer's front.
    fn durable_below(&self) -> u64 {
        let mut below = self.journal.next_seq();
        if let Some(InFlight {
            rows,
            source: Source::Buffer,
            ..
        }) = &self.inflight
        {
            if let Some(min) = rows.iter().map(|r| r.journal_seq).filter(|&s| s > 0).min() {
                below = below.min(min);
            }
        }
        if let Some(seq) = self
            .buffer
            .front()
            .map(|r| r.journal_seq)
            .filter(|&s| s > 0)
        {
            below = below.min(seq);
        }
        below
    }

    /// Closes the journal at the end of a flush; `all_durable` when no row was lost.
    pub(super) fn close_journal(&mut self, all_durable: bool) {
        let j = std::mem::replace(&mut self.journal, Journal::disabled(&self.data_dir));
        if let Err(e) = j.close(all_durable) {
            self.journal_failed(&format!("closing the journal: {e}"));
        }
    }

    fn journal_failed(&mut self, error: &str) {
        PipelineStats::add(&self.stats.journal_errors, 1);
        self.stats.set_last_error(error.to_string());
        tracing::error!(
            error,
            "usage journal disabled: rows still go to the database, but a crash may now lose those in memory"
        );
        self.journal = Journal::disabled(&self.data_dir);
    }
}
