//! Scenarios and one measurement of a scenario against a target: the load, plus the proxy's
//! CPU time and resident memory read from `/proc` around it (peak RSS sampled while the load
//! runs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::load::client::RequestSpec;
use crate::load::stats::Stats;
use crate::load::{closed_loop, wave, Gauge, Window};
use crate::procs::{Mem, Observed};
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

/// CPU time and memory of one process group over a measurement.
#[derive(Debug, Clone, Default)]
pub struct ProcUse {
    /// CPU time spent during the measurement, µs.
    pub cpu_us: u64,
    /// RSS when it started, KiB.
    pub rss_before_kb: u64,
    /// Highest RSS sampled during it, KiB.
    pub rss_peak_kb: u64,
    /// RSS at the end (after the settle pause for waves), KiB.
    pub rss_after_kb: u64,
    /// Lifetime peak (`VmHWM`) at the end, KiB.
    pub hwm_kb: u64,
    /// Most open file descriptors seen (sampled every 0.5 s).
    pub fds_peak: usize,
    /// CPU time spent (µs) by thread name.
    pub threads: BTreeMap<String, u64>,
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

/// Samples a group's RSS every 50 ms (and its descriptors every 0.5 s) until stopped;
/// yields the peaks.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(u64, usize)>,
}

impl Sampler {
    fn start(obs: Observed) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            let (mut peak, mut fds) = (0, 0);
            let mut tick = 0u64;
            while !s.load(Ordering::Relaxed) {
                peak = peak.max(obs.mem().rss_kb);
                if tick.is_multiple_of(10) {
                    fds = fds.max(obs.fds());
                }
                tick += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (peak.max(obs.mem().rss_kb), fds)
        });
        Self { stop, handle }
    }

    async fn finish(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap_or((0, 0))
    }
}

struct Probe {
    obs: Observed,
    threads0: BTreeMap<String, u64>,
    cpu0: u64,
    mem0: Mem,
    sampler: Sampler,
}

impl Probe {
    fn start(obs: &Observed) -> Self {
        Self {
            obs: obs.clone(),
            threads0: obs.cpu_by_thread(),
            cpu0: obs.cpu_us(),
            mem0: obs.mem(),
            sampler: Sampler::start(obs.clone()),
        }
    }

    /// Ends CPU accounting now; reads memory again after `settle`.
    async fn finish(self, settle: Duration) -> ProcUse {
        let cpu_us = self.obs.cpu_us().saturating_sub(self.cpu0);
        let mut threads = self.obs.cpu_by_thread();
        for (name, v) in threads.iter_mut() {
            *v = v.saturating_sub(self.threads0.get(name).copied().unwrap_or(0));
        }
        threads.retain(|_, v| *v > 0);
        let (peak, fds_peak) = self.sampler.finish().await;
        if !settle.is_zero() {
            tokio::time::sleep(settle).await;
        }
        let end = self.obs.mem();
        ProcUse {
            cpu_us,
            rss_before_kb: self.mem0.rss_kb,
            rss_peak_kb: peak.max(self.mem0.rss_kb),
            rss_after_kb: end.rss_kb,
            hwm_kb: end.hwm_kb,
            fds_peak,
            threads,
        }
    }
}

async fn finish_both(
    proxy: Option<Probe>,
    mock: Probe,
    settle: Duration,
) -> (Option<ProcUse>, ProcUse) {
    let mock_use = mock.finish(Duration::ZERO).await;
    let proxy_use = match proxy {
        Some(p) => Some(p.finish(settle).await),
        None => None,
    };
    (proxy_use, mock_use)
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
                max_open: concurrency,
            }
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
