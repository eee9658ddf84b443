//! The usage row of one request (SPEC §2.5, §5): filled in as the request goes and sent to the
//! pipeline when the request context is dropped, so every authenticated request produces
//! exactly one row, even when its task is cancelled (client gone, fast shutdown).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relay_shared::db::usage::UsageRecord;
use relay_shared::models::Outcome;
use relay_shared::pricing::{PriceMatch, PriceTable};
use relay_shared::usage_pipeline::UsageSink;

use crate::accounting::Usage;
use crate::limits::{Lease, SharedLimiter};

/// Requests billed by the `default` price because no entry matched their model (SPEC §5:
/// counted so operators notice new models; exported with the metrics).
pub static UNPRICED_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Models already reported as unpriced (each is logged once).
static UNPRICED_MODELS: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn note_unpriced(model: &str) {
    UNPRICED_REQUESTS.fetch_add(1, Ordering::Relaxed);
    let mut seen = UNPRICED_MODELS.lock().unwrap_or_else(|e| e.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(model.to_string())
    {
        tracing::warn!(
            model,
            "model has no price entry; billed by pricing.default (add it to config.yaml)"
        );
    }
}

/// A row in the making.
pub struct PendingRow {
    sink: UsageSink,
    prices: Arc<PriceTable>,
    started: Instant,
    /// The row; `created_at` is set at the start.
    pub record: UsageRecord,
    /// Token counts seen so far.
    pub usage: Usage,
    /// When the first response byte reached the relay.
    pub first_byte: Option<Instant>,
    /// The status already sent to the client, if any (for checkpoints; the row's own status
    /// is set when the request ends).
    pub sent_status: Option<u16>,
    /// Time spent waiting for upstreams, every attempt (the rest is the relay's overhead).
    pub upstream_wait: Duration,
    /// `end` was called: the row has its final status.
    ended: bool,
    finished: bool,
    /// The key's limiter and concurrency slot, once admitted: the cost is added and the slot
    /// given back when the row is sent.
    hold: Option<(SharedLimiter, Lease)>,
}

impl PendingRow {
    /// Starts the row of an authenticated request.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        sink: UsageSink,
        prices: Arc<PriceTable>,
        request_id: &str,
        user_id: i64,
        api_key_id: i64,
        group_id: i64,
        client_ip: String,
        user_agent: &str,
    ) -> Self {
        let mut ua = user_agent.to_string();
        relay_shared::db::columns::clamp(&mut ua, relay_shared::db::columns::USER_AGENT);
        Self {
            sink,
            prices,
            started: Instant::now(),
            record: UsageRecord {
                request_id: request_id.to_string(),
                row_key: relay_shared::db::usage::new_row_key(),
                created_at: relay_shared::db::now_ms(),
                user_id,
                api_key_id,
                group_id,
                status_code: 499,
                outcome: Outcome::ClientClosed.as_str().to_string(),
                client_ip,
                user_agent: ua,
                ..UsageRecord::default()
            },
            usage: Usage::default(),
            first_byte: None,
            sent_status: None,
            upstream_wait: Duration::ZERO,
            ended: false,
            finished: false,
            hold: None,
        }
    }

    /// Keeps the key's admission until the request ends.
    pub fn hold(&mut self, limiter: SharedLimiter, lease: Lease) {
        self.hold = Some((limiter, lease));
    }

    /// Sets the final status, outcome and error type.
    pub fn end(&mut self, status: u16, outcome: Outcome, error_type: Option<&str>) {
        self.ended = true;
        self.record.status_code = i64::from(status);
        self.record.outcome = outcome.as_str().to_string();
        self.record.error_type = error_type.map(str::to_string);
    }

    /// Journals the row as known so far (the usage seen, the status sent), so that a crash
    /// before the end still leaves a row with it (SPEC §5).
    pub fn checkpoint(&self) {
        let mut r = self.record.clone();
        if let Some(status) = self.sent_status {
            r.status_code = i64::from(status);
        }
        fill(
            &mut r,
            &self.usage,
            &self.prices,
            self.started,
            self.first_byte,
        );
        self.sink.progress(r);
    }
}

/// Completes `r` with the token counts, the cost and the timings; returns how the price was
/// matched (for metrics).
fn fill(
    r: &mut UsageRecord,
    u: &Usage,
    prices: &PriceTable,
    started: Instant,
    first_byte: Option<Instant>,
) -> PriceMatch {
    let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    r.input_tokens = as_i64(u.input);
    r.output_tokens = as_i64(u.output);
    r.cache_read_input_tokens = as_i64(u.cache_read);
    r.cache_creation_5m_input_tokens = as_i64(u.cache_write_5m);
    r.cache_creation_1h_input_tokens = as_i64(u.cache_write_1h);
    if r.upstream_model.is_empty() {
        r.upstream_model = r.model.clone();
    }
    let (cost, matched) = prices.cost(&r.upstream_model, u);
    r.cost_micro_usd = cost;
    r.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    r.ttfb_ms = first_byte
        .map(|t| i64::try_from(t.duration_since(started).as_millis()).unwrap_or(i64::MAX));
    matched
}

impl Drop for PendingRow {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if !self.ended && crate::lifecycle::cutting_in_flight() {
            // Dropped unfinished because the relay is stopping, not because the client left.
            self.record.status_code = i64::from(self.sent_status.unwrap_or(503));
            self.record.outcome = Outcome::RelayError.as_str().to_string();
            self.record.error_type = Some("shutdown".to_string());
        }
        let matched = fill(
            &mut self.record,
            &self.usage,
            &self.prices,
            self.started,
            self.first_byte,
        );
        if matches!(matched, PriceMatch::Default) && !self.record.upstream_model.is_empty() {
            note_unpriced(&self.record.upstream_model);
        }
        crate::metrics::recorder().finished(&crate::metrics::Finished {
            record: &self.record,
            priced: !matches!(matched, PriceMatch::Default),
            started: self.started,
            first_byte: self.first_byte,
            upstream_wait: self.upstream_wait,
        });
        let r = &self.record;
        tracing::info!(
            request_id = %r.request_id,
            key_id = r.api_key_id,
            account_id = r.account_id,
            model = %r.model,
            upstream_model = %r.upstream_model,
            stream = r.stream,
            status = r.status_code,
            outcome = %r.outcome,
            attempts = r.attempts,
            input_tokens = r.input_tokens,
            output_tokens = r.output_tokens,
            cache_read_tokens = r.cache_read_input_tokens,
            cache_write_tokens = r.cache_creation_5m_input_tokens + r.cache_creation_1h_input_tokens,
            cost_micro_usd = r.cost_micro_usd,
            duration_ms = r.duration_ms,
            ttfb_ms = r.ttfb_ms,
            "request finished"
        );
        if let Some((limiter, lease)) = self.hold.take() {
            // Counted when the request started, as the roll-ups count it (the counters
            // rebuilt from them at the next start agree).
            let r = &self.record;
            limiter.spent(r.api_key_id, r.cost_micro_usd, r.created_at);
            drop(lease);
        }
        let record = std::mem::take(&mut self.record);
        self.sink.record(record);
    }
}
