//! Counters and latency histograms of one run, mergeable across workers.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::client::{Failure, Timing};

/// Longest latency recorded (µs); longer ones are clamped.
const MAX_US: u64 = 600_000_000;
/// Error messages kept per run.
const KEEP_ERRORS: usize = 5;

fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_US, 3) {
        Ok(h) => h,
        // 1 ≤ low, 2·low ≤ high and 3 significant figures are always accepted.
        Err(e) => unreachable!("constant histogram bounds rejected: {e:?}"),
    }
}

/// What a run (or one worker of it) saw.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Valid answers counted in the measurement window.
    pub ok: u64,
    /// Failed exchanges (any time during the run).
    pub errors: u64,
    /// Failures by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// The first few failure messages.
    pub samples: Vec<String>,
    /// Whole-exchange latency, µs.
    pub latency: Histogram<u64>,
    /// Time to first body byte, µs.
    pub ttfb: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            ok: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            samples: Vec::new(),
            latency: histogram(),
            ttfb: histogram(),
        }
    }
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US)
}

impl Stats {
    /// Counts a valid answer.
    pub fn record(&mut self, t: Timing) {
        self.ok += 1;
        self.latency.saturating_record(us(t.total));
        self.ttfb.saturating_record(us(t.ttfb));
    }

    /// Counts a failure.
    pub fn fail(&mut self, f: &Failure) {
        self.errors += 1;
        *self.error_kinds.entry(f.kind.clone()).or_default() += 1;
        if self.samples.len() < KEEP_ERRORS {
            self.samples.push(format!("{}: {}", f.kind, f.detail));
        }
    }

    /// Adds another worker's stats.
    pub fn merge(&mut self, o: &Stats) {
        self.ok += o.ok;
        self.errors += o.errors;
        for (k, v) in &o.error_kinds {
            *self.error_kinds.entry(k.clone()).or_default() += v;
        }
        for s in &o.samples {
            if self.samples.len() < KEEP_ERRORS {
                self.samples.push(s.clone());
            }
        }
        let _ = self.latency.add(&o.latency);
        let _ = self.ttfb.add(&o.ttfb);
    }

    /// A latency quantile in milliseconds (0 when nothing was recorded).
    pub fn lat_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latency, q)
    }

    /// A time-to-first-byte quantile in milliseconds.
    pub fn ttfb_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.ttfb, q)
    }

    /// Errors as "kind×n, ...".
    pub fn error_summary(&self) -> String {
        self.error_kinds
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn merged_stats_keep_counts_and_quantiles() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for i in 1..=100u64 {
            a.record(Timing {
                ttfb: Duration::from_micros(i),
                total: Duration::from_micros(i * 10),
            });
        }
        b.fail(&Failure {
            kind: "io".into(),
            detail: "reset".into(),
        });
        a.merge(&b);
        assert_eq!(a.ok, 100);
        assert_eq!(a.errors, 1);
        assert!((a.lat_ms(0.5) - 0.5).abs() < 0.01);
        assert_eq!(a.error_summary(), "io×1");
    }
}
