//! The upstream exchange (SPEC §2.4, §2.7) through Pingora's own `Connector` (pooled
//! connections, TLS verified against the system roots), directly or through the account's
//! proxy ([`crate::upstream_proxy`], SPEC §3.8): sending the request (its header is built by
//! [`crate::upstream_header`]) and reading the response header within the first-byte timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use pingora::connectors::http::Connector;
use pingora::connectors::{ConnectorOptions, TransportConnector};
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession as Http1Session};
use pingora::time::timeout;
use pingora::upstreams::peer::HttpPeer;
use tokio::io::AsyncWriteExt;

use crate::dns::DnsCache;
use crate::snapshot::AccountEntry;
use crate::upstream_proxy::{self, ProxyConnector, ProxyScheme, Target, UpstreamPeer};
use relay_shared::config::RelayConfig;

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Interim (1xx) answers read past before the real one; more is a broken upstream.
const MAX_INTERIM: usize = 8;

/// Why an attempt failed before a response header arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// DNS, TCP or TLS failed.
    #[error("cannot connect to the upstream: {0}")]
    Connect(String),
    /// Writing the request or reading the response header failed.
    #[error("upstream connection failed: {0}")]
    Io(String),
    /// No response header within the first-byte timeout.
    #[error("the upstream sent nothing for {0} s")]
    FirstByteTimeout(u64),
    /// The account's proxy could not be resolved, reached, or would not open the tunnel.
    #[error("{detail}")]
    Proxy {
        /// For the client (no addresses).
        public: &'static str,
        /// For the log and the account's last error (the proxy's `host:port`, never its
        /// credentials).
        detail: String,
    },
}

impl UpstreamError {
    /// A description for the client, without addresses or library details.
    pub fn public(&self) -> String {
        match self {
            Self::Connect(_) => "the connection to the upstream failed".into(),
            Self::Io(_) => "the upstream connection broke".into(),
            Self::FirstByteTimeout(s) => format!("the upstream sent nothing for {s} s"),
            Self::Proxy { public, .. } => (*public).to_string(),
        }
    }
}

/// A live exchange whose response header has arrived. Both parts are boxed: they are large
/// and the exchange moves through several futures.
pub struct Exchange {
    /// The upstream session (read the body from it).
    pub session: Box<HttpSession>,
    /// The peer, to release the connection to the pool.
    pub peer: Box<UpstreamPeer>,
}

/// Sends requests to accounts.
pub struct Upstream {
    connector: Connector,
    /// TLS to `https://` proxies (the tunnels themselves are pooled by `connector`).
    proxy_tls: Arc<TransportConnector>,
    dns: DnsCache,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    /// Longest pause between two body chunks.
    pub idle_timeout: Duration,
}

impl Upstream {
    /// Builds the upstream side from Pingora's connector options (roots, pool size) and the
    /// relay configuration.
    pub fn new(options: ConnectorOptions, cfg: &RelayConfig) -> Self {
        Self {
            connector: Connector::new(Some(options.clone())),
            proxy_tls: Arc::new(TransportConnector::new(Some(options))),
            dns: DnsCache::default(),
            connect_timeout: cfg.connect_timeout,
            first_byte_timeout: cfg.first_byte_timeout,
            idle_timeout: cfg.idle_timeout,
        }
    }

    async fn peer(&self, account: &AccountEntry) -> Result<Box<UpstreamPeer>, UpstreamError> {
        let t = &account.target;
        let connect = |e: crate::dns::DnsError| UpstreamError::Connect(e.to_string());
        let Some(spec) = &account.proxy else {
            let addr = self.dns.resolve(&t.host, t.port).await.map_err(connect)?;
            let peer = self.http_peer(addr, account, self.connect_timeout);
            return Ok(Box::new(UpstreamPeer::new(peer)));
        };
        // The peer's address is the proxy's, so that pooled tunnels pass Pingora's check.
        let proxy_addr = self
            .dns
            .resolve(spec.host(), spec.port())
            .await
            .map_err(|e| UpstreamError::Proxy {
                public: "the account's proxy could not be reached",
                detail: format!("cannot resolve the proxy: {e}"),
            })?;
        let target = match spec.scheme() {
            ProxyScheme::Socks5 => {
                Target::Addr(self.dns.resolve(&t.host, t.port).await.map_err(connect)?)
            }
            _ => Target::Name(t.host.clone(), t.port),
        };
        // The tunnel and then TLS to the upstream, each within the connect timeout.
        let peer = self.http_peer(proxy_addr, account, self.connect_timeout * 2);
        let via = ProxyConnector::new(
            spec.clone(),
            target,
            self.proxy_tls.clone(),
            self.connect_timeout,
        );
        Ok(Box::new(via.peer_for(peer, account.id)))
    }

    fn http_peer(
        &self,
        addr: std::net::SocketAddr,
        account: &AccountEntry,
        total: Duration,
    ) -> HttpPeer {
        let t = &account.target;
        let mut peer = HttpPeer::new(addr, t.tls, t.host.clone());
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(total);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer.options.write_timeout = Some(Duration::from_secs(60));
        peer
    }

    /// Sends `header` + `body` to `account` and waits for the response header. A stale pooled
    /// connection is retried once on a fresh one (nothing was processed upstream then).
    ///
    /// `again` builds the header once more for that retry (cheaper than copying it for every
    /// request in case one is needed).
    pub async fn send(
        &self,
        account: &AccountEntry,
        header: RequestHeader,
        again: impl Fn() -> Option<RequestHeader>,
        body: Bytes,
    ) -> Result<Exchange, UpstreamError> {
        let peer = self.peer(account).await?;
        let mut last = None;
        let mut header = Some(header);
        for _ in 0..2 {
            let Some(h) = header.take().or_else(&again) else {
                break;
            };
            let (session, reused) = self
                .connector
                .get_http_session(&*peer)
                .await
                .map_err(|e| connect_error(&e))?;
            match self.exchange(session, &peer, h, &body).await {
                Ok(session) => {
                    return Ok(Exchange {
                        session: Box::new(session),
                        peer,
                    })
                }
                Err(UpstreamError::Io(e)) if reused => last = Some(UpstreamError::Io(e)),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| UpstreamError::Io("retry failed".into())))
    }

    /// Writes the request and waits for the response header (past interim 1xx answers); the
    /// session is closed on error.
    async fn exchange(
        &self,
        session: HttpSession,
        peer: &UpstreamPeer,
        header: RequestHeader,
        body: &Bytes,
    ) -> Result<HttpSession, UpstreamError> {
        let io = |e: Box<pingora::Error>| UpstreamError::Io(e.to_string());
        let mut session = match session {
            HttpSession::H1(h1) => HttpSession::H1(self.write_h1(h1, peer, &header, body).await?),
            mut other => {
                let written = async {
                    other.write_request_header(Box::new(header)).await?;
                    if !body.is_empty() {
                        other.write_request_body(body.clone(), true).await?;
                    }
                    other.finish_request_body().await
                };
                if let Err(e) = written.await {
                    other.shutdown().await;
                    return Err(io(e));
                }
                other
            }
        };
        // Interim answers (100 Continue, 103 Early Hints) are not the answer: read on.
        let read = timeout(self.first_byte_timeout, async {
            for _ in 0..MAX_INTERIM {
                session.read_response_header().await?;
                let interim = session
                    .response_header()
                    .is_some_and(|h| h.status.is_informational() && h.status != 101);
                if !interim {
                    break;
                }
            }
            Ok::<(), Box<pingora::Error>>(())
        });
        let res = match read.await {
            Ok(r) => r.map_err(io),
            Err(_) => Err(UpstreamError::FirstByteTimeout(
                self.first_byte_timeout.as_secs(),
            )),
        };
        match res {
            Ok(()) => Ok(session),
            Err(e) => {
                session.shutdown().await;
                Err(e)
            }
        }
    }

    /// Writes an HTTP/1 request in one system call, so a small request leaves as one packet
    /// (Pingora's session sends the header and the body separately: two sends, and two
    /// reads upstream). The header carries `content-length`, so the body needs no framing.
    /// The write must finish within the first-byte timeout.
    async fn write_h1(
        &self,
        h1: Http1Session,
        peer: &UpstreamPeer,
        header: &RequestHeader,
        body: &Bytes,
    ) -> Result<Http1Session, UpstreamError> {
        let wire = http_req_header_to_wire(header)
            .ok_or_else(|| UpstreamError::Io("the request header cannot be sent".into()))?;
        let mut stream = h1.into_inner();
        // Vectored: the header and the body go out in one `writev` (the pooled client
        // stream writes through, without a buffer to gather them).
        let mut out = wire.chain(body.clone());
        let write = async {
            stream.write_all_buf(&mut out).await?;
            stream.flush().await
        };
        let failed = match timeout(self.first_byte_timeout, write).await {
            Ok(Ok(())) => return Ok(Http1Session::new_with_options(stream, peer)),
            Ok(Err(e)) => UpstreamError::Io(e.to_string()),
            Err(_) => UpstreamError::FirstByteTimeout(self.first_byte_timeout.as_secs()),
        };
        let _ = stream.shutdown().await;
        Err(failed)
    }

    /// Returns a fully read connection to the pool, or closes an unfinished one.
    pub async fn finish(&self, mut ex: Exchange) {
        if ex.session.response_done() {
            self.connector
                .release_http_session(*ex.session, &*ex.peer, Some(POOL_IDLE))
                .await;
        } else {
            ex.session.shutdown().await;
        }
    }
}

/// A connection failure; one in the account's proxy says so (its `host:port`, no secret).
fn connect_error(e: &pingora::Error) -> UpstreamError {
    match upstream_proxy::proxy_error(e) {
        Some(p) => UpstreamError::Proxy {
            public: p.public(),
            detail: e.to_string(),
        },
        None => UpstreamError::Connect(e.to_string()),
    }
}
