//! Scenarios and one measurement of a scenario against a target: the load, plus the proxy's
//! CPU time and resident memory read from `/proc` around it (peak RSS sampled while the load
//! runs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::load::alternate::alternating;
use crate::load::client::RequestSpec;
use crate::load::stats::Stats;
use crate::load::{closed_loop, paced_loop, wave, Gauge, Window};
pub use crate::probe::ProcUse;
use crate::probe::{finish_both, Probe};
use crate::procs::Observed;
use crate::protocol::{self, total_events};
use crate::targets::{Kind, Target};

/// How the load is applied.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `concurrency` keep-alive connections back to back, measured for `measure` after
    /// `warmup`.
    Closed {
        /// Connections.
        concurrency: usize,
        /// Unmeasured lead-in.
        warmup: Duration,
        /// Measured window.
        measure: Duration,
    },
    /// One connection per target and one request in flight in all: `slice` of back-to-back
    /// requests to one target, then the next (see
    /// [`alternating`](crate::load::alternate::alternating)). The shared window lasts
    /// `measure` per target.
    Alternating(Turns),
    /// An open loop at a fixed arrival rate (see [`paced_loop`]).
    Paced(Pacing),
    /// `streams` single-request connections opened over `ramp` and held to their end;
    /// memory is read again `settle` after the wave.
    Wave {
        /// Streams.
        streams: usize,
        /// Time over which they are opened.
        ramp: Duration,
        /// Pause before the after-wave memory reading.
        settle: Duration,
    },
}

/// The timing of a [`Shape::Alternating`] run.
#[derive(Debug, Clone, Copy)]
pub struct Turns {
    /// Unmeasured lead-in.
    pub warmup: Duration,
    /// Measured time per target.
    pub measure: Duration,
    /// Time on one target before the next.
    pub slice: Duration,
    /// Start of each slice that is not counted.
    pub settle: Duration,
}

/// The schedule of a [`Shape::Paced`] run.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Keep-alive connections sharing the schedule.
    pub connections: usize,
    /// Starts per second, in all.
    pub rate: f64,
    /// Unmeasured lead-in.
    pub warmup: Duration,
    /// Measured window.
    pub measure: Duration,
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short id ("json-c64").
    pub id: &'static str,
    /// What it is, for the report.
    pub title: String,
    /// `Some((events, interval_ms))` for streams.
    pub stream: Option<(u32, u64)>,
    /// Request body.
    pub body: Bytes,
    /// Load shape.
    pub shape: Shape,
}

impl Scenario {
    /// A non-stream scenario with a small body.
    pub fn json(id: &'static str, title: &str, shape: Shape) -> Self {
        Self {
            id,
            title: title.into(),
            stream: None,
            body: Bytes::from(protocol::small_body(false)),
            shape,
        }
    }

    /// A stream scenario.
    pub fn sse(id: &'static str, title: &str, events: u32, interval_ms: u64, shape: Shape) -> Self {
        Self {
            id,
            title: title.into(),
            stream: Some((events, interval_ms)),
            body: Bytes::from(protocol::small_body(true)),
            shape,
        }
    }

    /// Streams (true) or requests (false).
    pub fn is_stream(&self) -> bool {
        self.stream.is_some()
    }

    fn spec(&self, t: &Target) -> RequestSpec {
        let (path, sse_events, timeout) = match self.stream {
            Some((events, interval)) => {
                let run = Duration::from_millis(interval * u64::from(total_events(events)));
                (
                    protocol::messages_path(events, interval),
                    Some(total_events(events)),
                    run + Duration::from_secs(30),
                )
            }
            None => (
                "/v1/messages?beta=true".to_string(),
                None,
                Duration::from_secs(10),
            ),
        };
        RequestSpec {
            path,
            host: t.addr.to_string(),
            key: t.key.clone(),
            body: self.body.clone(),
            sse_events,
            timeout,
        }
    }
}

/// One scenario run against one target.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Scenario id.
    pub scenario: &'static str,
    /// Target.
    pub target: Kind,
    /// Repetition (0-based) or wave number.
    pub rep: usize,
    /// What the load generator saw.
    pub stats: Stats,
    /// Length of the measured window (closed) or the whole wave, seconds.
    pub seconds: f64,
    /// The proxy's use (none for the direct target).
    pub proxy: Option<ProcUse>,
    /// The mock's use.
    pub mock: ProcUse,
    /// Most streams open at once (waves).
    pub max_open: usize,
}

impl Measurement {
    /// Valid answers per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.stats.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Answers in flight on average (Little's law: rate × mean duration).
    pub fn in_flight(&self) -> f64 {
        self.rate() * self.stats.latency.mean() / 1e6
    }

    /// Proxy CPU µs per valid answer.
    pub fn cpu_per_unit(&self) -> Option<f64> {
        let p = self.proxy.as_ref()?;
        (self.stats.ok > 0).then(|| p.cpu_us as f64 / self.stats.ok as f64)
    }

    /// Mock CPU µs per valid answer.
    pub fn mock_cpu_per_unit(&self) -> Option<f64> {
        (self.stats.ok > 0).then(|| self.mock.cpu_us as f64 / self.stats.ok as f64)
    }
}

/// Runs `s` once against `t`.
pub async fn measure(s: &Scenario, t: &Target, mock: &Observed, rep: usize) -> Measurement {
    let spec = Arc::new(s.spec(t));
    match s.shape {
        Shape::Closed {
            concurrency,
            warmup,
            measure,
        } => {
            let w = Window::after(warmup, measure);
            let run = tokio::spawn(closed_loop(t.addr, spec, concurrency, w));
            windowed(s, t, mock, rep, w, run, concurrency).await
        }
        Shape::Paced(p) => {
            let w = Window::after(p.warmup, p.measure);
            let run = tokio::spawn(paced_loop(t.addr, spec, p.connections, p.rate, w));
            windowed(s, t, mock, rep, w, run, p.connections).await
        }
        Shape::Alternating(turns) => {
            measure_alternating(s, turns, std::slice::from_ref(t), mock, rep)
                .await
                .into_iter()
                .next()
                .unwrap_or_else(|| Measurement {
                    scenario: s.id,
                    target: t.kind,
                    rep,
                    stats: Stats::default(),
                    seconds: 0.0,
                    proxy: None,
                    mock: ProcUse::default(),
                    max_open: 0,
                })
        }
        Shape::Wave {
            streams,
            ramp,
            settle,
        } => {
            let pp = t.proxy.as_ref().map(Probe::start);
            let mp = Probe::start(mock);
            let gauge = Arc::new(Gauge::default());
            let started = Instant::now();
            let stats = wave(t.addr, spec, streams, ramp, gauge.clone()).await;
            let seconds = started.elapsed().as_secs_f64();
            let (proxy, mock) = finish_both(pp, mp, settle).await;
            Measurement {
                scenario: s.id,
                target: t.kind,
                rep,
                stats,
                seconds,
                proxy,
                mock,
                max_open: gauge.max(),
            }
        }
    }
}

/// Probes the proxy and the mock over `w` while `run` loads `t`, then collects the run.
async fn windowed(
    s: &Scenario,
    t: &Target,
    mock: &Observed,
    rep: usize,
    w: Window,
    run: tokio::task::JoinHandle<Stats>,
    max_open: usize,
) -> Measurement {
    tokio::time::sleep_until(w.start).await;
    let pp = t.proxy.as_ref().map(Probe::start);
    let mp = Probe::start(mock);
    tokio::time::sleep_until(w.end).await;
    let (proxy, mock) = finish_both(pp, mp, Duration::ZERO).await;
    let stats = run.await.unwrap_or_default();
    Measurement {
        scenario: s.id,
        target: t.kind,
        rep,
        stats,
        seconds: w.seconds(),
        proxy,
        mock,
        max_open,
    }
}

/// Runs scenario `s` in `turns` (its [`Shape::Alternating`]) once against all of `targets`
/// together; one measurement per target, in the order given. Each proxy's CPU time is read
/// over the shared window (it idles while the others answer); the mock's is shared out by
/// answers.
pub async fn measure_alternating(
    s: &Scenario,
    turns: Turns,
    targets: &[Target],
    mock: &Observed,
    rep: usize,
) -> Vec<Measurement> {
    let Turns {
        warmup,
        measure,
        slice,
        settle,
    } = turns;
    let n = u32::try_from(targets.len()).unwrap_or(u32::MAX).max(1);
    let w = Window::after(warmup, measure * n);
    let specs: Vec<_> = targets
        .iter()
        .map(|t| (t.addr, Arc::new(s.spec(t))))
        .collect();
    let run = tokio::spawn(async move { alternating(&specs, w, slice, settle).await });
    tokio::time::sleep_until(w.start).await;
    let probes: Vec<Option<Probe>> = targets
        .iter()
        .map(|t| t.proxy.as_ref().map(Probe::start))
        .collect();
    let mp = Probe::start(mock);
    tokio::time::sleep_until(w.end).await;
    let mock_use = mp.finish(Duration::ZERO).await;
    let mut uses = Vec::with_capacity(probes.len());
    for p in probes {
        uses.push(match p {
            Some(p) => Some(p.finish(Duration::ZERO).await),
            None => None,
        });
    }
    let all = run.await.unwrap_or_default();
    let total_ok: u64 = all.iter().map(|st| st.ok).sum();
    targets
        .iter()
        .zip(uses)
        .zip(all)
        .map(|((t, proxy), stats)| {
            let share = if total_ok > 0 {
                stats.ok as f64 / total_ok as f64
            } else {
                0.0
            };
            // Answers per second of the shared window say nothing about one target; at
            // concurrency 1 its own rate is one over its mean latency, i.e. its answers over
            // the time spent waiting on it.
            let busy = stats.ok as f64 * stats.latency.mean() / 1e6;
            Measurement {
                scenario: s.id,
                target: t.kind,
                rep,
                seconds: busy,
                proxy,
                mock: ProcUse {
                    cpu_us: (mock_use.cpu_us as f64 * share).round() as u64,
                    ..mock_use.clone()
                },
                max_open: 1,
                stats,
            }
        })
        .collect()
}
