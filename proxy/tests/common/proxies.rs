//! Test proxies on loopback: an HTTP CONNECT proxy (over plain TCP, or over TLS for
//! `https://` proxy URLs) and a SOCKS5 proxy (RFC 1928 with RFC 1929 user/password auth),
//! each counting the tunnels it opened, the logins it refused and the bytes it relayed (live,
//! while the tunnels stay open), and recording each tunnel's target and the local address of
//! its connection to the upstream.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use openssl::ssl::SslAcceptor;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::tls::accept_tls;

/// What a proxy saw.
#[derive(Debug, Default)]
pub struct Counters {
    /// Tunnels opened.
    pub tunnels: AtomicUsize,
    /// Logins refused (wrong or missing credentials).
    pub refused: AtomicUsize,
    /// Bytes relayed from the relay to the upstream.
    pub up: AtomicU64,
    /// Bytes relayed from the upstream to the relay.
    pub down: AtomicU64,
    /// `host:port` each tunnel was asked for.
    pub targets: Mutex<Vec<String>>,
    /// Local address of each connection the proxy made to an upstream.
    pub outbound: Mutex<Vec<SocketAddr>>,
}

/// The kind of proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HTTP CONNECT over TCP.
    Http,
    /// HTTP CONNECT over TLS.
    Https,
    /// SOCKS5.
    Socks5,
}

/// A running test proxy.
pub struct TestProxy {
    /// Its address.
    pub addr: SocketAddr,
    /// What it saw.
    pub counters: Arc<Counters>,
    kind: Kind,
    _rt: tokio::runtime::Runtime,
}

impl TestProxy {
    /// Starts a proxy of `kind` that requires `creds` when given; `tls` is the acceptor of an
    /// `Https` proxy.
    pub fn start(kind: Kind, creds: Option<(&str, &str)>, tls: Option<SslAcceptor>) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let counters = Arc::new(Counters::default());
        let creds = Arc::new(creds.map(|(u, p)| (u.to_string(), p.to_string())));
        let tls = Arc::new(tls);
        let c = counters.clone();
        rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (c, creds, tls) = (c.clone(), creds.clone(), tls.clone());
                tokio::spawn(async move {
                    match (kind, tls.as_ref()) {
                        (Kind::Http, _) => http_connect(tcp, &creds, c).await,
                        (Kind::Https, Some(acc)) => {
                            if let Some(s) = accept_tls(acc, tcp).await {
                                http_connect(s, &creds, c).await;
                            }
                        }
                        (Kind::Https, None) => {}
                        (Kind::Socks5, _) => socks5(tcp, &creds, c).await,
                    }
                });
            }
        });
        Self {
            addr,
            counters,
            kind,
            _rt: rt,
        }
    }

    /// The proxy URL with `scheme` (`http`, `https`, `socks5`, `socks5h`) and `userinfo`
    /// (`user:password`) when given. An `https` proxy is named `localhost` (its certificate's).
    pub fn url(&self, scheme: &str, userinfo: Option<&str>) -> String {
        let auth = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        let host = if self.kind == Kind::Https {
            "localhost".to_string()
        } else {
            self.addr.ip().to_string()
        };
        format!("{scheme}://{auth}{host}:{}", self.addr.port())
    }

    /// Tunnels opened so far.
    pub fn tunnels(&self) -> usize {
        self.counters.tunnels.load(Ordering::SeqCst)
    }

    /// Logins refused so far.
    pub fn refused(&self) -> usize {
        self.counters.refused.load(Ordering::SeqCst)
    }

    /// Bytes relayed so far (up, down).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.counters.up.load(Ordering::SeqCst),
            self.counters.down.load(Ordering::SeqCst),
        )
    }

    /// Targets asked for so far.
    pub fn targets(&self) -> Vec<String> {
        self.counters.targets.lock().unwrap().clone()
    }

    /// Local addresses of the proxy's upstream connections so far.
    pub fn outbound(&self) -> Vec<SocketAddr> {
        self.counters.outbound.lock().unwrap().clone()
    }
}

async fn http_connect<S>(mut io: S, creds: &Option<(String, String)>, c: Arc<Counters>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if io.read_exact(&mut b).await.is_err() {
            return;
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let Some(target) = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
        .map(str::to_string)
    else {
        let _ = io
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            .await;
        return;
    };
    if let Some((u, p)) = creds {
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        );
        let ok = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(name, value)| {
                name.eq_ignore_ascii_case("proxy-authorization") && value.trim() == want
            });
        if !ok {
            c.refused.fetch_add(1, Ordering::SeqCst);
            let _ = io
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                .await;
            return;
        }
    }
    let Some(upstream) = dial(&target, &c).await else {
        let _ = io.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    if io
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    pump(io, upstream, c).await;
}

async fn socks5(mut io: TcpStream, creds: &Option<(String, String)>, c: Arc<Counters>) {
    let Some(target) = socks5_handshake(&mut io, creds, &c).await else {
        return;
    };
    let Some(upstream) = dial(&target, &c).await else {
        let _ = io.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
        return;
    };
    if io.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.is_err() {
        return;
    }
    pump(io, upstream, c).await;
}

/// The greeting, the login and the CONNECT request; the target `host:port`.
async fn socks5_handshake(
    io: &mut TcpStream,
    creds: &Option<(String, String)>,
    c: &Counters,
) -> Option<String> {
    let mut hello = [0u8; 2];
    io.read_exact(&mut hello).await.ok()?;
    let mut methods = vec![0u8; hello[1] as usize];
    io.read_exact(&mut methods).await.ok()?;
    let want = if creds.is_some() { 2 } else { 0 };
    if hello[0] != 5 || !methods.contains(&want) {
        c.refused.fetch_add(1, Ordering::SeqCst);
        let _ = io.write_all(&[5, 0xff]).await;
        return None;
    }
    io.write_all(&[5, want]).await.ok()?;
    if let Some((u, p)) = creds {
        let mut ver_len = [0u8; 2];
        io.read_exact(&mut ver_len).await.ok()?;
        let mut user = vec![0u8; ver_len[1] as usize];
        io.read_exact(&mut user).await.ok()?;
        let mut plen = [0u8; 1];
        io.read_exact(&mut plen).await.ok()?;
        let mut pass = vec![0u8; plen[0] as usize];
        io.read_exact(&mut pass).await.ok()?;
        if user != u.as_bytes() || pass != p.as_bytes() {
            c.refused.fetch_add(1, Ordering::SeqCst);
            let _ = io.write_all(&[1, 1]).await;
            return None;
        }
        io.write_all(&[1, 0]).await.ok()?;
    }
    let mut req = [0u8; 4];
    io.read_exact(&mut req).await.ok()?;
    if req[..3] != [5, 1, 0] {
        return None;
    }
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            io.read_exact(&mut ip).await.ok()?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            io.read_exact(&mut len).await.ok()?;
            let mut name = vec![0u8; len[0] as usize];
            io.read_exact(&mut name).await.ok()?;
            String::from_utf8(name).ok()?
        }
        4 => {
            let mut ip = [0u8; 16];
            io.read_exact(&mut ip).await.ok()?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        _ => return None,
    };
    let mut port = [0u8; 2];
    io.read_exact(&mut port).await.ok()?;
    Some(format!("{host}:{}", u16::from_be_bytes(port)))
}

/// Connects to `target` (records it and the local address); counts the tunnel.
async fn dial(target: &str, c: &Counters) -> Option<TcpStream> {
    c.targets.lock().unwrap().push(target.to_string());
    let upstream = TcpStream::connect(target).await.ok()?;
    upstream.set_nodelay(true).ok()?;
    c.outbound.lock().unwrap().push(upstream.local_addr().ok()?);
    c.tunnels.fetch_add(1, Ordering::SeqCst);
    Some(upstream)
}

/// Relays both ways until either side closes, counting bytes as they pass.
async fn pump<S>(client: S, upstream: TcpStream, c: Arc<Counters>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = upstream.into_split();
    let c2 = c.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = cr.read(&mut buf).await {
            if n == 0 || uw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            c2.up.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = uw.shutdown().await;
    });
    let mut buf = vec![0u8; 32 * 1024];
    while let Ok(n) = ur.read(&mut buf).await {
        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
        c.down.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = cw.shutdown().await;
    let _ = up.await;
}
