//! What a process group used during one measurement: CPU time from `/proc` around it, and
//! its resident memory sampled while it runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::procs::{Mem, Observed};

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

pub(crate) struct Probe {
    obs: Observed,
    threads0: BTreeMap<String, u64>,
    cpu0: u64,
    mem0: Mem,
    sampler: Sampler,
}

impl Probe {
    pub(crate) fn start(obs: &Observed) -> Self {
        Self {
            obs: obs.clone(),
            threads0: obs.cpu_by_thread(),
            cpu0: obs.cpu_us(),
            mem0: obs.mem(),
            sampler: Sampler::start(obs.clone()),
        }
    }

    /// Ends CPU accounting now; reads memory again after `settle`.
    pub(crate) async fn finish(self, settle: Duration) -> ProcUse {
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

pub(crate) async fn finish_both(
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
