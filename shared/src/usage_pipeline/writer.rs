//! The writer task: drains the channel into a bounded in-memory buffer, writes batches with
//! [`write_batch`] (one at a time, bounded by a timeout, retried with exponential backoff),
//! and decides what to do next. Spilling and replay are in [`super::spilling`], the shutdown
//! path in [`super::flush`].

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::isolate::{write_isolating, Isolated};
use super::journal::{Entry, Journal};
use super::spill;
use super::stats::PipelineStats;
use super::FlushReport;
use crate::config::UsageConfig;
use crate::db::usage::{Batch, UsageRecord};
use crate::db::{Db, DbError};

/// Longest a single batch write may take before it counts as failed.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// First retry delay after a failed write; doubled per failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Rows taken from the channel per wake-up.
const RECV_CHUNK: usize = 1_024;
/// Shortest time between two receives from the channel. Rows sent while the writer is not
/// waiting on the channel cost the sender no wake-up (no cross-runtime syscall), so under load
/// the request path hands rows over in bulk, at most this often.
const RECV_PACING: Duration = Duration::from_millis(20);
/// Flush time allowed when the handle and every sink were dropped without `shutdown`.
pub(super) const DROPPED_HANDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A batch write that did not succeed.
#[derive(Debug, thiserror::Error)]
pub(super) enum WriteError {
    /// The database refused the batch.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The batch took longer than the write timeout.
    #[error("usage batch write timed out after {0:?}")]
    Timeout(Duration),
}

type WriteFuture = Pin<Box<dyn Future<Output = Isolated> + Send>>;

/// Where the rows of a write came from.
pub(super) enum Source {
    /// The in-memory buffer.
    Buffer,
    /// The spill file; `next_offset` is where the following chunk starts.
    Spill { next_offset: u64 },
}

/// The one batch being written.
pub(super) struct InFlight {
    /// Shared with the future, so the rows survive the future being dropped at shutdown.
    pub(super) rows: Arc<Vec<UsageRecord>>,
    pub(super) source: Source,
    fut: WriteFuture,
}

/// Unreplayed spill-file content from `offset` on, and a chunk read but not yet written.
pub(super) struct SpillCursor {
    pub(super) offset: u64,
    pub(super) pending: Option<(Vec<UsageRecord>, u64)>,
}

/// State of the writer task.
pub(super) struct Writer {
    pub(super) db: Db,
    pub(super) tz: Tz,
    pub(super) batch_size: usize,
    pub(super) buffer_rows: usize,
    pub(super) flush_interval: Duration,
    pub(super) spill_path: PathBuf,
    pub(super) dead_letter_path: PathBuf,
    pub(super) stats: Arc<PipelineStats>,
    pub(super) rx: mpsc::UnboundedReceiver<Entry>,
    /// The local journal every entry goes to first.
    pub(super) journal: Journal,
    pub(super) data_dir: PathBuf,
    pub(super) buffer: VecDeque<UsageRecord>,
    /// When the buffer last became non-empty (starts the flush interval).
    pub(super) oldest_at: Option<Instant>,
    pub(super) spill: Option<SpillCursor>,
    pub(super) inflight: Option<InFlight>,
    pub(super) failures: u32,
    pub(super) retry_at: Option<Instant>,
    pub(super) spill_retry_at: Option<Instant>,
    /// Alternate buffer writes and replays so neither starves the other.
    pub(super) prefer_spill: bool,
    /// The buffer holds rows of a write that failed or was abandoned, which may have been
    /// stored all the same: buffer writes look up stored rows ([`Batch::InDoubt`]) until a
    /// write has taken the buffer's last row.
    pub(super) doubtful: bool,
}

/// What woke the loop.
enum Event {
    Shutdown(Duration),
    Written(Isolated),
    HandleDropped,
    Received(usize),
    Closed,
    Tick,
}

impl Writer {
    pub(super) fn new(
        db: Db,
        cfg: &UsageConfig,
        data_dir: PathBuf,
        tz: Tz,
        stats: Arc<PipelineStats>,
        rx: mpsc::UnboundedReceiver<Entry>,
    ) -> Self {
        Self {
            journal: Journal::disabled(&data_dir),
            data_dir: data_dir.clone(),
            db,
            tz,
            batch_size: cfg.batch_size.max(1),
            buffer_rows: cfg.buffer_rows.max(1),
            flush_interval: cfg.flush_interval,
            spill_path: data_dir.join(spill::SPILL_FILE_NAME),
            dead_letter_path: data_dir.join(super::dead_letter::DEAD_LETTER_FILE_NAME),
            stats,
            rx,
            buffer: VecDeque::new(),
            oldest_at: None,
            spill: None,
            inflight: None,
            failures: 0,
            retry_at: None,
            spill_retry_at: None,
            prefer_spill: true,
            doubtful: false,
        }
    }

    /// Runs until the shutdown signal, then flushes (see [`super::flush`]).
    pub(super) async fn run(mut self, mut stop: oneshot::Receiver<Duration>) -> FlushReport {
        self.recover_journal().await;
        let path = self.spill_path.clone();
        if tokio::task::spawn_blocking(move || spill::has_data(&path))
            .await
            .unwrap_or(true)
        {
            tracing::info!(path = %self.spill_path.display(), "replaying usage spill file");
            self.spill = Some(SpillCursor {
                offset: 0,
                pending: None,
            });
        }
        // `open`: some sink is alive; `controlled`: the handle is alive. With neither left,
        // the writer flushes and ends on its own.
        let (mut open, mut controlled) = (true, true);
        let mut incoming = Vec::with_capacity(RECV_CHUNK);
        let mut next_recv: Option<Instant> = None;
        loop {
            self.start_work(false).await;
            let wake = self.next_wake();
            let recv_now = next_recv.is_none_or(|t| Instant::now() >= t);
            let event = tokio::select! {
                biased;
                signal = &mut stop, if controlled => match signal {
                    Ok(timeout) => Event::Shutdown(timeout),
                    Err(_) => Event::HandleDropped,
                },
                res = wait(&mut self.inflight) => Event::Written(res),
                n = self.rx.recv_many(&mut incoming, RECV_CHUNK), if open && recv_now => {
                    if n == 0 { Event::Closed } else { Event::Received(n) }
                }
                () = sleep_until_opt(next_recv), if open && !recv_now => Event::Tick,
                () = sleep_until_opt(wake) => Event::Tick,
            };
            match event {
                Event::Shutdown(timeout) => return self.flush(timeout).await,
                Event::Written(res) => {
                    self.finish(res).await;
                }
                Event::Received(n) => {
                    PipelineStats::sub(&self.stats.queue_depth, n as u64);
                    self.take_entries(&mut incoming);
                    // A full chunk means more is waiting: take it at once.
                    next_recv = (n < RECV_CHUNK).then(|| Instant::now() + RECV_PACING);
                }
                Event::Closed => open = false,
                Event::HandleDropped => controlled = false,
                Event::Tick => {}
            }
            if !open && !controlled {
                return self.flush(DROPPED_HANDLE_TIMEOUT).await;
            }
            self.enforce_bound().await;
            self.maintain_journal();
        }
    }

    /// Moves received rows into the buffer.
    pub(super) fn accept(&mut self, rows: impl IntoIterator<Item = UsageRecord>) {
        if self.buffer.is_empty() {
            self.oldest_at = Some(Instant::now());
        }
        self.buffer.extend(rows.into_iter().map(|mut r| {
            if r.fit_columns() {
                tracing::warn!(request_id = %r.request_id, "usage row had values wider than their columns; cut");
            }
            r
        }));
        self.update_buffered();
    }

    pub(super) fn update_buffered(&self) {
        let inflight = match &self.inflight {
            Some(InFlight {
                rows,
                source: Source::Buffer,
                ..
            }) => rows.len(),
            _ => 0,
        };
        PipelineStats::set(&self.stats.buffered, (self.buffer.len() + inflight) as u64);
    }

    /// Starts the next write if one is due: a buffer batch (full, older than the flush
    /// interval, a retry after a failure, or any size when `drain`), or the next spill chunk.
    /// Nothing during a backoff.
    pub(super) async fn start_work(&mut self, drain: bool) {
        let now = Instant::now();
        if self.inflight.is_some() || self.retry_at.is_some_and(|t| now < t) {
            return;
        }
        let buffer_due = !self.buffer.is_empty()
            && (drain
                || self.failures > 0
                || self.buffer.len() >= self.batch_size
                || self
                    .oldest_at
                    .is_some_and(|t| now >= t + self.flush_interval));
        let spill_due = self.spill.is_some();
        if buffer_due && !(spill_due && self.prefer_spill) {
            self.start_buffer_write();
            self.prefer_spill = true;
        } else if spill_due {
            self.start_replay().await;
            self.prefer_spill = false;
        }
    }

    fn start_buffer_write(&mut self) {
        let n = self.batch_size.min(self.buffer.len());
        let rows: Vec<_> = self.buffer.drain(..n).collect();
        let mode = if self.doubtful {
            Batch::InDoubt
        } else {
            Batch::New
        };
        if self.buffer.is_empty() {
            self.oldest_at = None;
            self.doubtful = false;
        }
        self.launch(rows, Source::Buffer, mode);
    }

    /// Starts writing `rows`; `mode` says whether some may already be stored (always so for
    /// spill-file rows).
    pub(super) fn launch(&mut self, rows: Vec<UsageRecord>, source: Source, mode: Batch) {
        let rows = Arc::new(rows);
        let (db, tz, batch) = (self.db.clone(), self.tz, Arc::clone(&rows));
        let fut = Box::pin(async move {
            let write = write_isolating(&db, &batch, tz, mode);
            tokio::time::timeout(WRITE_TIMEOUT, write)
                .await
                .unwrap_or_else(|_| Isolated {
                    failed: Some(WriteError::Timeout(WRITE_TIMEOUT)),
                    ..Isolated::default()
                })
        });
        self.inflight = Some(InFlight { rows, source, fut });
        self.update_buffered();
    }

    /// Settles the finished write; returns the rows the database acknowledged. Rows the
    /// database refused on their own go to the dead-letter file, whatever happened to the
    /// rest.
    pub(super) async fn finish(&mut self, res: Isolated) -> u64 {
        let Some(InFlight { rows, source, fut }) = self.inflight.take() else {
            return 0;
        };
        drop(fut);
        let mut rows = Arc::unwrap_or_clone(rows);
        let refused = take_refused(&mut rows, res.refused);
        let n_refused = refused.len() as u64;
        if !refused.is_empty() {
            self.dead_letter(refused).await;
        }
        let n = rows.len() as u64;
        match res.failed {
            None => {
                if self.failures > 0 {
                    tracing::info!(
                        failures = self.failures,
                        "usage database writes succeed again"
                    );
                }
                self.failures = 0;
                self.retry_at = None;
                match source {
                    Source::Buffer => PipelineStats::add(&self.stats.written_rows, n),
                    Source::Spill { next_offset } => {
                        PipelineStats::add(&self.stats.replayed_rows, n);
                        if let Some(cursor) = self.spill.as_mut() {
                            cursor.offset = next_offset;
                        }
                    }
                }
                self.update_buffered();
                n + n_refused
            }
            Some(e) => {
                self.failures = self.failures.saturating_add(1);
                let backoff = BASE_BACKOFF
                    .saturating_mul(1 << self.failures.saturating_sub(1).min(16))
                    .min(MAX_BACKOFF);
                self.retry_at = Some(Instant::now() + backoff);
                PipelineStats::add(&self.stats.db_failures, 1);
                self.stats.set_last_error(e.to_string());
                tracing::warn!(error = %e, rows = n, retry_in = ?backoff, "usage batch write failed; rows kept for retry");
                self.put_back(rows, source);
                n_refused
            }
        }
    }

    /// Drops the in-flight write (if any) and returns its rows to where they came from.
    pub(super) fn abandon_inflight(&mut self) {
        if let Some(InFlight { rows, source, fut }) = self.inflight.take() {
            drop(fut);
            self.put_back(Arc::unwrap_or_clone(rows), source);
        }
    }

    /// Returns the rows of an unfinished write to where they came from.
    fn put_back(&mut self, rows: Vec<UsageRecord>, source: Source) {
        match source {
            Source::Buffer => {
                for row in rows.into_iter().rev() {
                    self.buffer.push_front(row);
                }
                self.doubtful = true;
                self.oldest_at.get_or_insert_with(Instant::now);
            }
            Source::Spill { next_offset } => {
                if let Some(cursor) = self.spill.as_mut() {
                    cursor.pending = Some((rows, next_offset));
                }
            }
        }
        self.update_buffered();
    }

    /// When the loop must wake with no other event: a retry or the flush interval.
    fn next_wake(&self) -> Option<Instant> {
        if self.inflight.is_some() || (self.buffer.is_empty() && self.spill.is_none()) {
            return None;
        }
        // A retry time already past means `start_work` just started (or declined) the retry.
        if let Some(t) = self.retry_at.filter(|t| *t > Instant::now()) {
            return Some(t);
        }
        self.oldest_at.map(|t| t + self.flush_interval)
    }
}

/// Removes the rows at the `refused` indexes from `rows` and returns them with their reasons.
fn take_refused(
    rows: &mut Vec<UsageRecord>,
    mut refused: Vec<(usize, String)>,
) -> Vec<(UsageRecord, String)> {
    refused.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
    refused.dedup_by_key(|r| r.0);
    let len = rows.len();
    let mut out: Vec<_> = refused
        .into_iter()
        .filter(|(i, _)| *i < len)
        .map(|(i, e)| (rows.remove(i), e))
        .collect();
    out.reverse();
    out
}

/// Completes with the in-flight write's result; pending forever when there is none.
pub(super) async fn wait(inflight: &mut Option<InFlight>) -> Isolated {
    match inflight {
        Some(f) => (&mut f.fut).await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
