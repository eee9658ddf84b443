//! Test TLS: a fresh certificate authority with `localhost` leaves signed by it, and a
//! keep-alive HTTPS upstream (tokio + OpenSSL) that records the remote address of every
//! connection it accepts and answers each request with a small Anthropic-shaped JSON body.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{Ssl, SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_openssl::SslStream;

use super::mock::json_body;

/// A certificate authority made for one test.
pub struct TestCa {
    cert: X509,
    key: PKey<Private>,
}

fn new_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn build_cert(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    serial: u32,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let serial = openssl::bn::BigNum::from_u32(serial)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    if issuer.is_none() {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .dns(cn)
            .build(&b.x509v3_context(issuer.map(|(c, _)| c.as_ref()), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let key = new_key();
        let cert = build_cert(name, &key, None, 1);
        Self { cert, key }
    }

    /// The CA certificate as PEM (for `SSL_CERT_FILE`).
    pub fn pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    /// A TLS acceptor presenting a leaf for `host` signed by this CA (chain included).
    pub fn acceptor(&self, host: &str) -> SslAcceptor {
        let leaf_key = new_key();
        let leaf = build_cert(host, &leaf_key, Some((&self.cert, &self.key)), 2);
        let mut acc = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acc.set_private_key(&leaf_key).unwrap();
        acc.set_certificate(&leaf).unwrap();
        acc.add_extra_chain_cert(self.cert.clone()).unwrap();
        acc.build()
    }
}

/// Accepts TLS on `tcp` with `acceptor`; `None` when the handshake fails.
pub async fn accept_tls<S>(acceptor: &SslAcceptor, tcp: S) -> Option<SslStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let ssl = Ssl::new(acceptor.context()).ok()?;
    let mut tls = SslStream::new(ssl, tcp).ok()?;
    Pin::new(&mut tls).accept().await.ok()?;
    Some(tls)
}

/// A keep-alive HTTPS upstream for `localhost`.
pub struct TlsUpstream {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Remote address of every TCP connection accepted, in order.
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    /// TLS handshakes completed.
    pub handshakes: Arc<AtomicUsize>,
    /// Requests answered.
    pub served: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

impl TlsUpstream {
    /// Starts an upstream whose certificate is signed by `ca`.
    pub fn start(ca: &TestCa) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = Arc::new(ca.acceptor("localhost"));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (p, h, s) = (peers.clone(), handshakes.clone(), served.clone());
        rt.spawn(async move {
            while let Ok((tcp, from)) = listener.accept().await {
                p.lock().unwrap().push(from);
                let (acceptor, h, s) = (acceptor.clone(), h.clone(), s.clone());
                tokio::spawn(async move {
                    let Some(tls) = accept_tls(&acceptor, tcp).await else {
                        return;
                    };
                    h.fetch_add(1, Ordering::SeqCst);
                    let _ = serve(tls, &s).await;
                });
            }
        });
        Self {
            port,
            peers,
            handshakes,
            served,
            _rt: rt,
        }
    }

    /// Base URL for an account.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The remote addresses seen so far.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().unwrap().clone()
    }
}

/// Answers requests on one connection until the client closes it.
async fn serve<S>(mut io: S, served: &AtomicUsize) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut tmp = [0u8; 16 * 1024];
            let n = io.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < end + len {
            let mut tmp = [0u8; 16 * 1024];
            let n = io.read(&mut tmp).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        buf.drain(..end + len);
        served.fetch_add(1, Ordering::SeqCst);
        let body = json_body("claude-sonnet-4-5", 3, 4, "through the tunnel");
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        io.write_all(answer.as_bytes()).await?;
        io.flush().await?;
    }
}
