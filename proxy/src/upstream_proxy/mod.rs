//! Per-account upstream proxies (SPEC §3.8; reference/pingora-0.9-notes.md §3.5): an
//! account with a `proxy_url` reaches its upstream through a tunnel that a [`ProxyConnector`]
//! opens as Pingora's custom L4 connector (`peer.options.custom_l4`), so Pingora runs TLS to
//! the upstream over the tunnel (SNI and certificate checked as on a direct connection) and
//! pools the tunnels like any connection:
//! - `http://`: HTTP CONNECT over TCP; `https://`: the same over TLS to the proxy (verified
//!   against the relay's roots); `socks5://` (target resolved here) and `socks5h://` (the
//!   proxy resolves it) through `tokio-socks`; `user:password@` as Basic proxy auth or SOCKS5
//!   user/password auth.
//! - Pooling: the peer's address is the proxy's (Pingora checks a pooled socket's remote
//!   address against it before reuse) and its `group_key` is [`pool_key`] of the account and
//!   its proxy, because `custom_l4` is not part of the pool hash: accounts never share a
//!   tunnel, and one account's consecutive requests reuse one. Tunnels over TLS are virtual
//!   streams that [`UpstreamPeer`] lets the pool keep.
//!
//! Errors name the proxy by `host:port`, never its credentials; [`ProxyError::public`] is
//! the client's version, without addresses.

mod http_connect;
mod peer;
mod tls_tunnel;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr as InetSocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::connectors::{L4Connect, TransportConnector};
use pingora::protocols::l4::socket::SocketAddr;
use pingora::protocols::l4::stream::Stream;
use pingora::protocols::l4::virt::VirtualSocketStream;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;
use tokio_socks::TargetAddr;

pub use peer::UpstreamPeer;
pub use relay_shared::proxy_spec::{ProxyScheme, ProxySpec};
use tls_tunnel::TlsTunnel;

/// Why a tunnel through an account's proxy could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No TCP connection (or no TLS session) to the proxy.
    #[error("cannot reach the proxy {proxy}: {detail}")]
    Unreachable {
        /// `host:port` of the proxy.
        proxy: String,
        /// What failed.
        detail: String,
    },
    /// The proxy refused the credentials (HTTP 407, SOCKS5 auth failure).
    #[error("the proxy {proxy} refused the credentials ({detail})")]
    AuthRejected {
        /// `host:port` of the proxy.
        proxy: String,
        /// Its answer.
        detail: String,
    },
    /// The proxy would not (or could not) open the tunnel to the upstream.
    #[error("the proxy {proxy} did not open the tunnel: {detail}")]
    Refused {
        /// `host:port` of the proxy.
        proxy: String,
        /// Its answer.
        detail: String,
    },
    /// The proxy broke the handshake.
    #[error("the proxy {proxy} broke the handshake: {detail}")]
    Protocol {
        /// `host:port` of the proxy.
        proxy: String,
        /// What was wrong.
        detail: String,
    },
    /// The handshake did not finish in time.
    #[error("the proxy {proxy} did not open the tunnel within {ms} ms")]
    Timeout {
        /// `host:port` of the proxy.
        proxy: String,
        /// The limit.
        ms: u128,
    },
}

impl ProxyError {
    /// A description for the client, without addresses.
    pub fn public(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "the account's proxy could not be reached",
            Self::AuthRejected { .. } => "the account's proxy refused its credentials",
            Self::Refused { .. } => "the account's proxy could not open a tunnel to the upstream",
            Self::Protocol { .. } => "the account's proxy broke the handshake",
            Self::Timeout { .. } => "the account's proxy did not answer in time",
        }
    }
}

/// Where the tunnel leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name (or IP literal) and port, resolved by the proxy.
    Name(String, u16),
    /// An address resolved by the relay (`socks5://`).
    Addr(InetSocketAddr),
}

/// Opens tunnels through one proxy to one target (Pingora's custom L4 connector).
pub struct ProxyConnector {
    spec: Arc<ProxySpec>,
    target: Target,
    /// Connects and verifies TLS to `https://` proxies.
    tls: Arc<TransportConnector>,
    timeout: Duration,
}

impl fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("proxy", &self.spec.redacted())
            .field("target", &self.target)
            .finish()
    }
}

impl ProxyConnector {
    /// A connector through `spec` to `target`; TCP, TLS to the proxy and the handshake must
    /// finish within `timeout`. `tls` is used for `https://` proxies only.
    pub fn new(
        spec: Arc<ProxySpec>,
        target: Target,
        tls: Arc<TransportConnector>,
        timeout: Duration,
    ) -> Self {
        Self {
            spec,
            target,
            tls,
            timeout,
        }
    }

    /// `peer` (built on the proxy's address) routed through this connector, in the pool of
    /// `account_id` and this proxy.
    pub fn peer_for(self, mut peer: HttpPeer, account_id: i64) -> UpstreamPeer {
        peer.group_key = pool_key(account_id, &self.spec);
        let over_tls = self.spec.scheme() == ProxyScheme::Https;
        peer.options.custom_l4 = Some(Arc::new(self));
        if over_tls {
            UpstreamPeer::tunnelled_over_tls(peer)
        } else {
            UpstreamPeer::new(peer)
        }
    }

    fn err(
        &self,
        make: impl FnOnce(String, String) -> ProxyError,
        detail: impl fmt::Display,
    ) -> ProxyError {
        make(self.spec.authority(), detail.to_string())
    }

    async fn open(&self, addr: InetSocketAddr) -> Result<Stream, ProxyError> {
        let unreachable =
            |d: String| self.err(|proxy, detail| ProxyError::Unreachable { proxy, detail }, d);
        let (host, port) = match &self.target {
            Target::Name(h, p) => (h.clone(), *p),
            Target::Addr(a) => (a.ip().to_string(), a.port()),
        };
        let proxy = self.spec.authority();
        let creds = self.spec.credentials();
        match self.spec.scheme() {
            ProxyScheme::Http => {
                let mut tcp = TcpStream::connect(addr)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                http_connect::handshake(&mut tcp, &proxy, &host, port, creds).await?;
                Ok(tcp.into())
            }
            ProxyScheme::Https => {
                let mut hop = HttpPeer::new(addr, true, self.spec.host().to_string());
                hop.options.connection_timeout = Some(self.timeout);
                let mut tls = self
                    .tls
                    .new_stream(&hop)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                http_connect::handshake(&mut tls, &proxy, &host, port, creds).await?;
                Ok(VirtualSocketStream::new(Box::new(TlsTunnel(tls))).into())
            }
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                let tcp = TcpStream::connect(addr)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                let target = match &self.target {
                    Target::Name(h, p) => TargetAddr::Domain(h.as_str().into(), *p),
                    Target::Addr(a) => TargetAddr::Ip(*a),
                };
                let socks = match creds {
                    Some(c) => {
                        Socks5Stream::connect_with_password_and_socket(
                            tcp,
                            target,
                            c.user(),
                            c.password(),
                        )
                        .await
                    }
                    None => Socks5Stream::connect_with_socket(tcp, target).await,
                };
                Ok(socks.map_err(|e| self.socks_error(e))?.into_inner().into())
            }
        }
    }

    fn socks_error(&self, e: tokio_socks::Error) -> ProxyError {
        use tokio_socks::Error as S;
        let detail = e.to_string();
        match e {
            S::PasswordAuthFailure(_) | S::NoAcceptableAuthMethods | S::InvalidAuthValues(_) => {
                self.err(
                    |proxy, detail| ProxyError::AuthRejected { proxy, detail },
                    detail,
                )
            }
            S::GeneralSocksServerFailure
            | S::ConnectionNotAllowedByRuleset
            | S::NetworkUnreachable
            | S::HostUnreachable
            | S::ConnectionRefused
            | S::TtlExpired
            | S::CommandNotSupported
            | S::AddressTypeNotSupported => self.err(
                |proxy, detail| ProxyError::Refused { proxy, detail },
                detail,
            ),
            _ => self.err(
                |proxy, detail| ProxyError::Protocol { proxy, detail },
                detail,
            ),
        }
    }
}

#[async_trait]
impl L4Connect for ProxyConnector {
    async fn connect(&self, addr: &SocketAddr) -> pingora::Result<Stream> {
        let opened = match addr {
            SocketAddr::Inet(a) => {
                match pingora::time::timeout(self.timeout, self.open(*a)).await {
                    Ok(r) => r,
                    Err(_) => Err(ProxyError::Timeout {
                        proxy: self.spec.authority(),
                        ms: self.timeout.as_millis(),
                    }),
                }
            }
            SocketAddr::Unix(_) => Err(self.err(
                |proxy, detail| ProxyError::Protocol { proxy, detail },
                "the peer is not an IP address",
            )),
        };
        match opened {
            Ok(stream) => {
                tracing::debug!(proxy = %self.spec.authority(), "tunnel opened");
                Ok(stream)
            }
            Err(e) => Err(Error::because(
                ErrorType::ConnectProxyFailure,
                "tunnel through the account's proxy",
                e,
            )),
        }
    }
}

/// The pool key (`HttpPeer::group_key`) of an account's connections through `spec`.
pub fn pool_key(account_id: i64, spec: &ProxySpec) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    account_id.hash(&mut h);
    spec.hash(&mut h);
    // 0 is the key of direct connections.
    h.finish().max(1)
}

/// The [`ProxyError`] inside a Pingora error, if a tunnel failed.
pub fn proxy_error(e: &Error) -> Option<&ProxyError> {
    e.root_cause().downcast_ref::<ProxyError>()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accounts_and_proxies_never_share_a_pool_key() {
        let a = ProxySpec::parse("socks5://u:one@127.0.0.1:1080").unwrap();
        let b = ProxySpec::parse("socks5://u:two@127.0.0.1:1080").unwrap();
        assert_eq!(pool_key(1, &a), pool_key(1, &a.clone()));
        assert_ne!(pool_key(1, &a), pool_key(2, &a), "two accounts, one proxy");
        assert_ne!(
            pool_key(1, &a),
            pool_key(1, &b),
            "one account, new password"
        );
        assert_ne!(pool_key(1, &a), 0, "never the key of direct connections");
    }

    #[test]
    fn errors_name_the_proxy_but_never_its_password() {
        let spec = Arc::new(ProxySpec::parse("http://bob:hunter2@10.1.2.3:3128").unwrap());
        let c = ProxyConnector::new(
            spec,
            Target::Name("api.example".into(), 443),
            Arc::new(TransportConnector::new(None)),
            Duration::from_secs(1),
        );
        let debug = format!("{c:?}");
        assert!(
            debug.contains("10.1.2.3:3128") && !debug.contains("hunter2"),
            "{debug}"
        );
        let e = c.socks_error(tokio_socks::Error::PasswordAuthFailure(1));
        assert!(matches!(e, ProxyError::AuthRejected { .. }));
        assert!(e.to_string().contains("10.1.2.3:3128"), "{e}");
        assert!(!e.public().contains("10.1.2.3"));
        let wrapped = Error::because(ErrorType::ConnectProxyFailure, "tunnel", e);
        assert!(matches!(
            proxy_error(&wrapped),
            Some(ProxyError::AuthRejected { .. })
        ));
    }
}
