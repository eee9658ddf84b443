//! Concurrency 1 across several targets in one window: one keep-alive connection per target
//! and one request in flight in all, a slice of back-to-back requests to one target, then the
//! next. Each target still sees a client sending back to back (the regime of a concurrency-1
//! run), while a burst of machine noise lasting seconds (a neighbour, a kernel thread) falls
//! on every target alike: back-to-back runs of a second each cannot promise that, and on a
//! shared VM their tail latencies swing by more than the differences being measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::client::{connect, exchange, Conn, NoWatch, RequestSpec};
use super::stats::Stats;
use super::Window;

/// Sends requests back to back to each of `targets` in turn, `slice` each (starting one
/// target later each round, so that no target always follows the same one), until `w.end`.
/// Returns the statistics of each target, in the order given; answers that started after the
/// first `settle` of a slice (and inside `w`) and ended inside the slice count.
pub async fn alternating(
    targets: &[(SocketAddr, Arc<RequestSpec>)],
    w: Window,
    slice: Duration,
    settle: Duration,
) -> Vec<Stats> {
    let n = targets.len();
    let mut stats: Vec<Stats> = (0..n).map(|_| Stats::default()).collect();
    let mut conns: Vec<Option<Conn>> = (0..n).map(|_| None).collect();
    let mut round = 0usize;
    while tokio::time::Instant::now() < w.end {
        for k in 0..n {
            let i = (round + k) % n;
            let (addr, spec) = &targets[i];
            let now = tokio::time::Instant::now();
            let counted = Window {
                start: (now + settle).max(w.start),
                end: (now + slice).min(w.end),
            };
            while tokio::time::Instant::now() < counted.end {
                one(*addr, spec, &mut conns[i], &mut stats[i], counted, None).await;
            }
        }
        round = round.wrapping_add(1);
    }
    stats
}

/// When an open-loop exchange was due, and whether its connection was still busy with the
/// previous one then. Only that wait counts against the target: waking from a timer a little
/// after `at` is the load generator's own delay.
#[derive(Debug, Clone, Copy)]
pub(super) struct Due {
    /// When it was due.
    pub at: tokio::time::Instant,
    /// Whether the previous exchange on its connection was still running at `at`.
    pub busy: bool,
}

/// One exchange with one target, connecting first if needed (after a failed connect, waits
/// 20 ms so that a target that is down is not hammered). It counts when it started inside `w`
/// and ended inside it. With `due` (an open loop) it counts when it was due inside `w`,
/// wherever it ends (in a steady state the window's CPU time is the work of the starts inside
/// it).
pub(super) async fn one(
    addr: SocketAddr,
    spec: &RequestSpec,
    conn: &mut Option<Conn>,
    st: &mut Stats,
    w: Window,
    due: Option<Due>,
) {
    if conn.is_none() {
        match connect(addr).await {
            Ok(c) => *conn = Some(c),
            Err(f) => {
                st.fail(&f);
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
        }
    }
    let Some(c) = conn.as_mut() else {
        return;
    };
    let t0 = tokio::time::Instant::now();
    let (start, late) = match due {
        Some(Due { at, busy: true }) => (at, t0.saturating_duration_since(at)),
        Some(Due { at, busy: false }) => (at, Duration::ZERO),
        None => (t0, Duration::ZERO),
    };
    match exchange(c, spec, &NoWatch).await {
        Ok(t) => {
            let inside = match due {
                Some(d) => d.at < w.end,
                None => tokio::time::Instant::now() <= w.end,
            };
            if start >= w.start && inside {
                st.record(t.delayed(late));
            }
        }
        Err(f) => {
            st.fail(&f);
            *conn = None;
        }
    }
}
