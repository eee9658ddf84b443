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
        alternate::one(addr, &spec, &mut conn, &mut st, w, None).await;
    }
    st
}

/// The workers' statistics, merged as they finish.
async fn merged(mut set: JoinSet<Stats>) -> Stats {
    let mut all = Stats::default();
    while let Some(r) = set.join_next().await {
        if let Ok(s) = r {
            all.merge(&s);
        }
    }
    all
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
    merged(set).await
}

/// An open loop: `connections` keep-alive connections share one schedule of `rate` starts
/// per second from now until `w.end`, connection `i` taking starts `i`, `i + connections`,
/// …; so every target gets the same work whatever its speed. A start that finds its
/// connection still busy goes out late, and that delay counts in its timings (no coordinated
/// omission).
pub async fn paced_loop(
    addr: SocketAddr,
    spec: Arc<RequestSpec>,
    connections: usize,
    rate: f64,
    w: Window,
) -> Stats {
    let begin = tokio::time::Instant::now();
    let n = connections.max(1);
    let step = 1.0 / rate.max(0.001);
    let mut set = JoinSet::new();
    for i in 0..n {
        let spec = spec.clone();
        set.spawn(async move {
            let mut st = Stats::default();
            // Connected ahead, so that no connection set-up lands in the window.
            let mut conn = connect(addr).await.ok();
            let mut k = i;
            loop {
                let at = begin + Duration::from_secs_f64(step * k as f64);
                if at >= w.end {
                    break;
                }
                let busy = tokio::time::Instant::now() > at;
                sleep_until(at).await;
                let due = alternate::Due { at, busy };
                alternate::one(addr, &spec, &mut conn, &mut st, w, Some(due)).await;
                k += n;
            }
            st
        });
    }
    merged(set).await
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{mock, protocol};
    use bytes::Bytes;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_paced_loop_counts_every_start_due_in_its_window() {
        let listener = mock::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(mock::serve(listener));
        let spec = Arc::new(RequestSpec {
            path: protocol::messages_path(6, 1),
            host: addr.to_string(),
            key: None,
            body: Bytes::from(protocol::small_body(true)),
            sse_events: Some(protocol::total_events(6)),
            timeout: Duration::from_secs(30),
        });
        // Starts every 5 ms from now; the window holds those due from 50 ms to 300 ms: 50 of
        // them, counted whatever the machine's speed (a late start still counts, late).
        let w = Window::after(Duration::from_millis(50), Duration::from_millis(250));
        let st = paced_loop(addr, spec, 4, 200.0, w).await;
        assert_eq!(st.errors, 0, "{:?}", st.samples);
        assert_eq!(st.ok, 50);
        assert_eq!(st.latency.len(), 50);
    }
}
