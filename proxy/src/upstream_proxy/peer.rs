//! [`UpstreamPeer`]: Pingora's `HttpPeer` with one change, for tunnels through a TLS
//! (`https://`) proxy. Such a tunnel is a virtual L4 stream without a file descriptor, and
//! Pingora checks a pooled connection's descriptor against the peer address before reusing
//! it, so every one of them would be thrown away; this peer vouches for those itself (the
//! pool key already isolates them, and Pingora still checks that the idle connection was not
//! closed). Everything else is the `HttpPeer`'s.

use std::fmt;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;

use pingora::protocols::l4::socket::SocketAddr;
use pingora::upstreams::peer::{HttpPeer, Peer, PeerOptions, Proxy, Tracer};
use pingora::utils::tls::CertKey;

/// The peer of one upstream attempt.
#[derive(Clone)]
pub struct UpstreamPeer {
    inner: HttpPeer,
    /// The L4 stream is virtual (a tunnel over TLS to the proxy).
    virtual_l4: bool,
}

impl UpstreamPeer {
    /// A peer whose connections are real sockets (direct, or to a plain proxy).
    pub fn new(inner: HttpPeer) -> Self {
        Self {
            inner,
            virtual_l4: false,
        }
    }

    /// A peer whose connections are tunnels over TLS to a proxy.
    pub fn tunnelled_over_tls(inner: HttpPeer) -> Self {
        Self {
            inner,
            virtual_l4: true,
        }
    }

    /// The Pingora peer.
    pub fn http(&self) -> &HttpPeer {
        &self.inner
    }
}

impl fmt::Display for UpstreamPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl fmt::Debug for UpstreamPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UpstreamPeer({})", self.inner)
    }
}

impl Peer for UpstreamPeer {
    fn address(&self) -> &SocketAddr {
        self.inner.address()
    }

    fn tls(&self) -> bool {
        self.inner.tls()
    }

    fn sni(&self) -> &str {
        self.inner.sni()
    }

    fn reuse_hash(&self) -> u64 {
        self.inner.reuse_hash()
    }

    fn get_peer_options(&self) -> Option<&PeerOptions> {
        self.inner.get_peer_options()
    }

    fn get_mut_peer_options(&mut self) -> Option<&mut PeerOptions> {
        self.inner.get_mut_peer_options()
    }

    fn get_proxy(&self) -> Option<&Proxy> {
        self.inner.get_proxy()
    }

    fn matches_fd<V: AsRawFd>(&self, fd: V) -> bool {
        // Pingora gives a virtual stream the descriptor -1.
        (self.virtual_l4 && fd.as_raw_fd() < 0) || self.inner.matches_fd(fd)
    }

    fn get_client_cert_key(&self) -> Option<&Arc<CertKey>> {
        self.inner.get_client_cert_key()
    }

    fn get_tracer(&self) -> Option<Tracer> {
        self.inner.get_tracer()
    }
}
