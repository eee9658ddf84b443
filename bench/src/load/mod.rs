//! The load generator: closed-loop runs (N keep-alive connections sending back to back for a
//! fixed window) and waves (N streams opened over a ramp and held until they end), with every
//! answer validated.

pub mod alternate;
pub mod client;
pub mod stats;
pub mod validate;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::sleep_until;

use client::{connect, exchange, RequestSpec, StreamWatch};
use stats::Stats;

/// The measurement window of a closed-loop run: answers that started and ended inside it
/// count toward throughput and latency.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start (after the warm-up).
    pub start: tokio::time::Instant,
    /// End.
    pub end: tokio::time::Instant,
}

impl Window {
    /// A window that opens after `warmup` and lasts `measure`.
    pub fn after(warmup: Duration, measure: Duration) -> Self {
        let start = tokio::time::Instant::now() + warmup;
        Self {
            start,
            end: start + measure,
        }
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

async fn worker(addr: SocketAddr, spec: Arc<RequestSpec>, w: Window) -> Stats {
    let mut st = Stats::default();
    let mut conn = None;
    while tokio::time::Instant::now() < w.end {
        alternate::one(addr, &spec, &mut conn, &mut st, w).await;
    }
    st
}

/// Runs `concurrency` connections sending `spec` back to back until `w.end`.
pub async fn closed_loop(
    addr: SocketAddr,
    spec: Arc<RequestSpec>,
    concurrency: usize,
    w: Window,
) -> Stats {
    let mut set = JoinSet::new();
    for _ in 0..concurrency {
        set.spawn(worker(addr, spec.clone(), w));
    }
    let mut all = Stats::default();
    while let Some(r) = set.join_next().await {
        if let Ok(s) = r {
            all.merge(&s);
        }
    }
    all
}

/// Streams in flight (first bytes received, not yet ended), and the most seen at once.
#[derive(Debug, Default)]
pub struct Gauge {
    cur: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// The most streams open at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }
}

impl StreamWatch for Gauge {
    fn opened(&self) {
        let now = self.cur.fetch_add(1, Ordering::Relaxed) + 1;
        self.max.fetch_max(now, Ordering::Relaxed);
    }
    fn closed(&self) {
        self.cur.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Opens `streams` connections evenly over `ramp`, each sending `spec` once and reading the
/// answer to its end. Every valid answer counts.
pub async fn wave(
    addr: SocketAddr,
    spec: Arc<RequestSpec>,
    streams: usize,
    ramp: Duration,
    gauge: Arc<Gauge>,
) -> Stats {
    let t0 = tokio::time::Instant::now();
    let mut set = JoinSet::new();
    for i in 0..streams {
        let at = t0 + ramp.mul_f64(i as f64 / streams.max(1) as f64);
        let (spec, gauge) = (spec.clone(), gauge.clone());
        set.spawn(async move {
            sleep_until(at).await;
            let mut c = connect(addr).await?;
            exchange(&mut c, &spec, gauge.as_ref()).await
        });
    }
    let mut all = Stats::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(t)) => all.record(t),
            Ok(Err(f)) => all.fail(&f),
            Err(e) => all.fail(&client::Failure {
                kind: "task".into(),
                detail: e.to_string(),
            }),
        }
    }
    all
}
