//! The front door's listener (SPEC §2.3): an accept loop in place of Pingora's own, so that
//! slow or greedy clients cannot hold the front door. Each accepted connection takes a slot
//! ([`slots`]: a cap below the descriptor limit, and a per-IP share once the door is half
//! full) or is answered `503` and closed at once, counted; each connection is wrapped in a
//! [`guard::GuardedStream`] whose request headers must arrive within
//! `server.header_timeout`. Connections are then served by Pingora's HTTP application
//! (`process_new`), exactly as its own listening service does, keep-alive included.

pub mod guard;
pub mod slots;

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, SocketDigest, Stream};
use pingora::server::{ListenFds, ShutdownWatch};
use pingora::services::Service;
use tokio::io::AsyncWriteExt;

use guard::GuardedStream;
pub use guard::{header_read, request_done};
use slots::{Refusal, Slots};

/// Pending connections the kernel queues (as Pingora's own listener).
const BACKLOG: u32 = 65_535;
/// Pause after `accept` fails for lack of descriptors.
const EMFILE_PAUSE: Duration = Duration::from_millis(100);
/// At most one warning about refused connections per this many seconds.
const WARN_EVERY_S: i64 = 10;

/// The answer to a connection refused for lack of slots.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\nretry-after: 1\r\nx-should-retry: true\r\ncontent-length: 100\r\n\r\n\
{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"too many connections; retry shortly\"}}";

/// Binds `addr` for the front door (with Pingora's backlog), before the server starts, so
/// that a taken port is an error at start.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // `listen` registers with a reactor: build one just for that, then hand the socket over.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let _guard = rt.enter();
    socket.listen(BACKLOG)?.into_std()
}

/// The front door's listening service.
pub struct FrontListener<A> {
    name: String,
    listener: Option<std::net::TcpListener>,
    app: Option<A>,
    slots: Arc<Slots>,
    header_timeout: Duration,
    threads: usize,
}

impl<A> FrontListener<A> {
    /// Serves `app` on `listener` with `slots` and the header deadline, on `threads` threads.
    pub fn new(
        name: &str,
        listener: std::net::TcpListener,
        app: A,
        slots: Arc<Slots>,
        header_timeout: Duration,
        threads: usize,
    ) -> Self {
        Self {
            name: name.to_string(),
            listener: Some(listener),
            app: Some(app),
            slots,
            header_timeout,
            threads,
        }
    }
}

static LAST_WARNING: AtomicI64 = AtomicI64::new(0);

fn warn_refused(why: Refusal, slots: &Slots) {
    let now = chrono::Utc::now().timestamp();
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now - last >= WARN_EVERY_S
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let reason = match why {
            Refusal::Full => "every connection slot is taken",
            Refusal::IpShare => "one client IP holds its share of a busy front door",
        };
        tracing::warn!(
            open = slots.open(),
            max = slots.max(),
            refused_full = slots::REFUSED_FULL.load(Ordering::Relaxed),
            refused_per_ip = slots::REFUSED_PER_IP.load(Ordering::Relaxed),
            "client connections refused: {reason} (server.max_connections, server.max_connections_per_ip)"
        );
    }
}

/// Makes Pingora's stream of an accepted socket, with its peer address, as Pingora's own
/// listener does.
fn l4_stream(tcp: tokio::net::TcpStream, peer: SocketAddr) -> L4Stream {
    let _ = tcp.set_nodelay(true);
    let mut s: L4Stream = tcp.into();
    let digest = SocketDigest::from_raw_fd(s.as_raw_fd());
    let _ = digest.peer_addr.set(Some(peer.into()));
    s.set_socket_digest(digest);
    s
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> Service for FrontListener<A> {
    async fn start_service(
        &mut self,
        _fds: Option<ListenFds>,
        mut shutdown: ShutdownWatch,
        _listeners_per_fd: usize,
    ) {
        let (Some(std_listener), Some(app)) = (self.listener.take(), self.app.take()) else {
            return;
        };
        let app = Arc::new(app);
        let listener = match std_listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(std_listener))
        {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "the front door cannot accept connections");
                return;
            }
        };
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                    continue;
                }
            };
            let (mut tcp, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    if e.raw_os_error() == Some(24) {
                        tokio::time::sleep(EMFILE_PAUSE).await;
                    }
                    continue;
                }
            };
            let slot = match self.slots.take(Some(peer.ip())) {
                Ok(slot) => slot,
                Err(why) => {
                    warn_refused(why, &self.slots);
                    // The socket buffer is empty: the answer goes out without waiting.
                    let _ = tcp.try_write(REFUSAL);
                    let _ = tcp.shutdown().await;
                    continue;
                }
            };
            let stream: Stream = Box::new(GuardedStream::new(
                l4_stream(tcp, peer),
                self.header_timeout,
                slot,
            ));
            let (app, shutdown) = (app.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut next = app.process_new(stream, &shutdown).await;
                while let Some(stream) = next {
                    next = app.process_new(stream, &shutdown).await;
                }
            });
        }
        app.cleanup().await;
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn threads(&self) -> Option<usize> {
        Some(self.threads)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_is_a_complete_http_answer() {
        let text = std::str::from_utf8(super::REFUSAL).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_ok(),
            "{body}"
        );
    }
}
