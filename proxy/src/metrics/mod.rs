//! Prometheus metrics (SPEC §8; the series and labels are listed in `deploy/metrics.txt`,
//! the contract the dashboard and the alert rules are checked against). The hot path only
//! adds to atomics: counters by label set live in [`family::Family`] maps (one atomic load
//! per lookup; a map is copied only when a new label set appears) and histograms are arrays
//! of atomics. Labels are bounded: model (a priced model id, else `other`), group and
//! account (ids on the hot path, names at scrape time), status class, outcome and result —
//! never a key id or a request id. Everything else (account states, the usage pipeline,
//! connections, the snapshot's age) is read from its owner at scrape time ([`render`]), and
//! [`serve`] answers `GET /metrics` on `metrics.listen`.

mod encode;
mod family;
mod histogram;
pub mod render;
pub mod serve;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use relay_shared::db::usage::UsageRecord;
use relay_shared::models::Outcome;

use family::Family;
use histogram::{Histogram, LATENCY_BUCKETS, OVERHEAD_BUCKETS};

/// Most label sets of one family; new ones beyond fold into `other`.
const MAX_LABEL_SETS: usize = 4_096;
/// The model label of a model without a price entry (client-chosen strings are unbounded).
pub const OTHER_MODEL: &str = "other";

/// Request counter labels: status class (1–5, 0 = none), model, group id, outcome.
type RequestKey = (u8, String, i64, &'static str);

/// Token and cost counters of one (model, group).
#[derive(Default)]
pub struct ModelCounters {
    input: AtomicU64,
    output: AtomicU64,
    cache_read: AtomicU64,
    cache_write_5m: AtomicU64,
    cache_write_1h: AtomicU64,
    cost_micro_usd: AtomicU64,
}

/// Prompt-cache counters of one (account id, group id).
#[derive(Default)]
pub struct AccountCounters {
    input: AtomicU64,
    cache_read: AtomicU64,
    cache_write: AtomicU64,
}

/// Every counter and histogram the relay bumps while serving.
pub struct Recorder {
    requests: Family<RequestKey, AtomicU64>,
    by_model: Family<(String, i64), ModelCounters>,
    by_account: Family<(i64, i64), AccountCounters>,
    attempts: Family<(i64, &'static str), AtomicU64>,
    failovers: Family<i64, AtomicU64>,
    sticky_hit: AtomicU64,
    sticky_miss: AtomicU64,
    /// Request durations: `[non-stream, stream]`.
    duration: [Histogram; 2],
    /// Times to first byte: `[non-stream, stream]`.
    ttfb: [Histogram; 2],
    overhead: Histogram,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            requests: Family::new(MAX_LABEL_SETS),
            by_model: Family::new(MAX_LABEL_SETS),
            by_account: Family::new(MAX_LABEL_SETS),
            attempts: Family::new(MAX_LABEL_SETS),
            failovers: Family::new(MAX_LABEL_SETS),
            sticky_hit: AtomicU64::new(0),
            sticky_miss: AtomicU64::new(0),
            duration: [
                Histogram::new(LATENCY_BUCKETS),
                Histogram::new(LATENCY_BUCKETS),
            ],
            ttfb: [
                Histogram::new(LATENCY_BUCKETS),
                Histogram::new(LATENCY_BUCKETS),
            ],
            overhead: Histogram::new(OVERHEAD_BUCKETS),
        }
    }
}

static RECORDER: LazyLock<Recorder> = LazyLock::new(Recorder::default);

/// The process's recorder.
pub fn recorder() -> &'static Recorder {
    &RECORDER
}

/// A finished request with a usage row, as the row is sent.
pub struct Finished<'a> {
    /// The completed row.
    pub record: &'a UsageRecord,
    /// Whether its model matched a price entry (else it is labelled `other`).
    pub priced: bool,
    /// When the request started.
    pub started: Instant,
    /// When the first answer byte reached the relay.
    pub first_byte: Option<Instant>,
    /// Time spent waiting for upstreams (connect, send, response header), every attempt.
    pub upstream_wait: Duration,
}

fn add(c: &AtomicU64, v: i64) {
    c.fetch_add(u64::try_from(v).unwrap_or(0), Ordering::Relaxed);
}

fn one(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn status_class(status: i64) -> u8 {
    u8::try_from(status / 100)
        .ok()
        .filter(|c| (1..=5).contains(c))
        .unwrap_or(5)
}

fn fold_model<K>(mut key: K, model: impl FnOnce(&mut K) -> &mut String) -> K {
    *model(&mut key) = OTHER_MODEL.to_string();
    key
}

impl Recorder {
    /// Counts a finished request with a usage row (called once, where the row is sent).
    pub fn finished(&self, f: &Finished<'_>) {
        let r = f.record;
        let model = if r.upstream_model.is_empty() || f.priced {
            r.upstream_model.clone()
        } else {
            OTHER_MODEL.to_string()
        };
        let outcome = Outcome::parse(&r.outcome).map_or("relay_error", Outcome::as_str);
        let class = status_class(r.status_code);
        self.requests.with(
            (class, model.clone(), r.group_id, outcome),
            |k| fold_model(k, |k| &mut k.1),
            one,
        );
        self.by_model.with(
            (model, r.group_id),
            |k| fold_model(k, |k| &mut k.0),
            |c| {
                add(&c.input, r.input_tokens);
                add(&c.output, r.output_tokens);
                add(&c.cache_read, r.cache_read_input_tokens);
                add(&c.cache_write_5m, r.cache_creation_5m_input_tokens);
                add(&c.cache_write_1h, r.cache_creation_1h_input_tokens);
                add(&c.cost_micro_usd, r.cost_micro_usd);
            },
        );
        if let Some(account) = r.account_id {
            self.by_account.with(
                (account, r.group_id),
                |_| (0, r.group_id),
                |c| {
                    add(&c.input, r.input_tokens);
                    add(&c.cache_read, r.cache_read_input_tokens);
                    add(
                        &c.cache_write,
                        r.cache_creation_5m_input_tokens + r.cache_creation_1h_input_tokens,
                    );
                },
            );
        }
        if r.attempts > 1 {
            self.failovers
                .with(r.group_id, |_| 0, |c| add(c, r.attempts - 1));
        }
        let stream = usize::from(r.stream);
        self.duration[stream].observe(f.started.elapsed());
        if let Some(t) = f.first_byte {
            self.ttfb[stream].observe(t.duration_since(f.started));
        }
        let in_relay = f
            .first_byte
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(f.started);
        self.overhead
            .observe(in_relay.saturating_sub(f.upstream_wait));
    }

    /// Counts a relay request that ended without a usage row (an unknown key, `/v1/models`,
    /// an unknown route); `status` is the one sent, if any.
    pub fn unrowed(&self, status: Option<u16>) {
        let status = status.map_or(499, i64::from);
        let outcome = match status {
            200..=399 => Outcome::Ok.as_str(),
            499 => Outcome::ClientClosed.as_str(),
            _ => Outcome::RelayError.as_str(),
        };
        let key = (status_class(status), String::new(), 0, outcome);
        self.requests.with(key, |k| k, one);
    }

    /// Counts one upstream attempt on `account`: `status` is the answer's, `None` when the
    /// upstream could not be reached.
    pub fn attempt(&self, account: i64, status: Option<u16>) {
        self.attempts
            .with((account, attempt_result(status)), |k| (0, k.1), one);
    }

    /// Counts a request that named a session: served by its pinned account (`hit`) or not.
    pub fn sticky(&self, hit: bool) {
        one(if hit {
            &self.sticky_hit
        } else {
            &self.sticky_miss
        });
    }
}

/// The `result` label of an attempt (listed in `deploy/metrics.txt`).
pub fn attempt_result(status: Option<u16>) -> &'static str {
    match status {
        None => "transport",
        Some(401 | 403) => "rejected",
        Some(429) => "rate_limited",
        Some(s) if s >= 500 => "server_error",
        Some(s) if s >= 400 => "client_error",
        Some(_) => "ok",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_results_name_what_the_upstream_did() {
        let r = |s| attempt_result(s);
        assert_eq!(
            [
                r(None),
                r(Some(200)),
                r(Some(400)),
                r(Some(401)),
                r(Some(429)),
                r(Some(529))
            ],
            [
                "transport",
                "ok",
                "client_error",
                "rejected",
                "rate_limited",
                "server_error"
            ]
        );
    }

    #[test]
    fn status_classes_are_the_first_digit() {
        assert_eq!(
            [
                status_class(200),
                status_class(404),
                status_class(529),
                status_class(0)
            ],
            [2, 4, 5, 5]
        );
    }
}
