//! Graceful shutdown (SPEC §5 "a graceful shutdown flushes everything"): on SIGTERM the relay
//! reports not-ready (so a load balancer stops sending), waits until no relay request is in
//! flight or `server.grace_period` has passed, and only then lets Pingora close the listeners.
//! Pingora's own handler would always sleep the whole grace period, even when idle. For the
//! first `server.drain_accept_s` new requests are still served (a load balancer takes a
//! moment to see `/ready`); after that they are refused with a 503 `overloaded_error`.
//! SIGINT is a fast shutdown; SIGQUIT keeps Pingora's graceful upgrade.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use tokio::signal::unix::{signal, SignalKind};

use crate::readiness::Readiness;

/// Relay requests in flight, and readiness to flip when draining.
#[derive(Debug, Default)]
pub struct Lifecycle {
    inflight: AtomicUsize,
    ready: Arc<Readiness>,
    /// Set `server.drain_accept_s` after SIGTERM: new relay requests are refused.
    refusing: AtomicBool,
}

/// Counts one request in flight while it lives.
#[derive(Debug)]
pub struct InflightGuard(Arc<Lifecycle>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Lifecycle {
    /// A lifecycle reporting through `ready`.
    pub fn new(ready: Arc<Readiness>) -> Arc<Self> {
        Arc::new(Self {
            inflight: AtomicUsize::new(0),
            ready,
            refusing: AtomicBool::new(false),
        })
    }

    /// Marks a request in flight until the guard drops.
    pub fn enter(self: &Arc<Self>) -> InflightGuard {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        InflightGuard(self.clone())
    }

    /// Requests in flight now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }

    /// Whether new relay requests are refused (draining, past `server.drain_accept_s`).
    pub fn refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }

    /// Whether the process is draining (SIGTERM received).
    pub fn draining(&self) -> bool {
        self.ready.draining()
    }
}

/// Set once the relay stops with requests still in flight (the grace period is over, or a
/// fast shutdown): their rows then say the relay cut them, not the client.
static CUTTING: AtomicBool = AtomicBool::new(false);

/// Whether requests still in flight are being cut by the relay's own shutdown.
pub fn cutting_in_flight() -> bool {
    CUTTING.load(Ordering::Relaxed)
}

fn cut_in_flight() {
    CUTTING.store(true, Ordering::Relaxed);
}

/// The shutdown watcher handed to Pingora.
pub struct DrainingShutdown {
    /// What to wait for.
    pub life: Arc<Lifecycle>,
    /// Longest wait for requests in flight.
    pub grace: Duration,
    /// How long after SIGTERM new requests are still accepted (a load balancer takes a
    /// moment to notice `/ready`).
    pub accept_for: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for DrainingShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot install signal handlers; shutting down");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = int.recv() => {
                cut_in_flight();
                return ShutdownSignal::FastShutdown;
            }
            _ = quit.recv() => return ShutdownSignal::GracefulUpgrade,
            _ = term.recv() => {}
        }
        self.life.ready.set_draining();
        let started = Instant::now();
        tracing::info!(
            inflight = self.life.inflight(),
            "SIGTERM: draining relay requests before stopping"
        );
        loop {
            if !self.life.refusing() && started.elapsed() >= self.accept_for {
                tracing::info!("drain: new relay requests are refused from now on");
                self.life.refusing.store(true, Ordering::Relaxed);
            }
            if self.life.inflight() == 0 && started.elapsed() >= self.accept_for {
                tracing::info!(after_ms = started.elapsed().as_millis() as u64, "drained");
                return ShutdownSignal::GracefulTerminate;
            }
            if started.elapsed() >= self.grace {
                tracing::warn!(
                    inflight = self.life.inflight(),
                    "grace period over; stopping with requests in flight (billed with the usage seen)"
                );
                cut_in_flight();
                return ShutdownSignal::GracefulTerminate;
            }
            tokio::select! {
                _ = int.recv() => {
                    cut_in_flight();
                    return ShutdownSignal::FastShutdown;
                }
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }
}
