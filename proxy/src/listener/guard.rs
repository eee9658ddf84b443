//! A client connection with a deadline on its request headers (SPEC §2.3): from the first
//! byte of a request (or the accept, for a new connection) the whole header must arrive
//! within `server.header_timeout`, or reads fail with `TimedOut` and the connection closes. A
//! header line every few seconds (slowloris) therefore holds a connection for at most that
//! long. The front door marks each request's header as read ([`header_read`]) and each
//! request as done ([`request_done`]); between the two, reads are the body's, bounded per
//! read by Pingora's read timeout. The connection's slot is given back when it is dropped.
//!
//! Only a read that would wait during a header arms a timer, so a request whose header
//! arrives in one read (nearly all) costs an atomic load and a clock read.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use pingora::proxy::Session;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::slots::Slot;

/// Between requests: the next byte starts a header (and its deadline).
const IDLE: u8 = 0;
/// Reading a header, against the deadline.
const HEADER: u8 = 1;
/// The header was read; reads are the body's.
const BODY: u8 = 2;

/// A client connection of the front door.
#[derive(Debug)]
pub struct GuardedStream {
    inner: L4Stream,
    phase: AtomicU8,
    header_timeout: Duration,
    deadline: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    _slot: Slot,
}

impl GuardedStream {
    /// A new connection: its first header is due `header_timeout` after now.
    pub fn new(inner: L4Stream, header_timeout: Duration, slot: Slot) -> Self {
        Self {
            inner,
            phase: AtomicU8::new(HEADER),
            header_timeout,
            deadline: Some(Instant::now() + header_timeout),
            timer: None,
            _slot: slot,
        }
    }

    fn timed_out(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "request header not received within {} s",
                self.header_timeout.as_secs_f32()
            ),
        )
    }
}

fn guarded(session: &Session) -> Option<&GuardedStream> {
    session
        .as_downstream()
        .stream()
        .and_then(|s| s.as_any().downcast_ref::<GuardedStream>())
}

/// Marks the header of the session's current request as read.
pub fn header_read(session: &Session) {
    if let Some(g) = guarded(session) {
        g.phase.store(BODY, Ordering::Relaxed);
    }
}

/// Marks the session's request as done: the next byte on the connection starts a header.
pub fn request_done(session: &Session) {
    if let Some(g) = guarded(session) {
        g.phase.store(IDLE, Ordering::Relaxed);
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let phase = this.phase.load(Ordering::Relaxed);
        if phase == BODY {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if phase == IDLE {
            this.deadline = None;
            this.timer = None;
        }
        if this.deadline.is_some_and(|d| Instant::now() >= d) {
            return Poll::Ready(Err(this.timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if phase == IDLE && buf.filled().len() > before {
                    this.phase.store(HEADER, Ordering::Relaxed);
                    this.deadline = Some(Instant::now() + this.header_timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.deadline else {
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(this.timed_out())),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for GuardedStream {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut self.inner).await;
    }
}

impl UniqueID for GuardedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedStream {}

impl GetTimingDigest for GuardedStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for GuardedStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for GuardedStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for GuardedStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
