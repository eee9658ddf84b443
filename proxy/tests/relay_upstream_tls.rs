//! Upstream connections (SPEC §2.4): TLS is verified (an unknown CA is refused; the same
//! server is accepted once its CA is trusted), and connections are pooled and reused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};
use common::tls::TestCa;
use relay_shared::db::{accounts, settings};

const BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#;

/// An HTTPS server for `localhost` signed by a fresh CA; returns (port, CA PEM, requests served).
fn tls_server() -> (u16, Vec<u8>, Arc<AtomicUsize>) {
    let ca = TestCa::new("Relay Test CA");
    let acceptor = Arc::new(ca.acceptor("localhost"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let served2 = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (acceptor, served) = (acceptor.clone(), served2.clone());
            std::thread::spawn(move || {
                let Ok(mut tls) = acceptor.accept(stream) else {
                    return;
                };
                let mut buf = vec![0u8; 1 << 16];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(BODY.as_bytes()) {
                    let Ok(n) = tls.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                served.fetch_add(1, Ordering::SeqCst);
                let body = json_body("claude-sonnet-4-5", 1, 2, "over tls");
                let _ = write!(tls, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = tls.shutdown();
            });
        }
    });
    (port, ca.pem(), served)
}

fn point_account_at(fx: &Fixture, url: &str) {
    let patch = accounts::AccountPatch {
        request_url: Some(url.into()),
        ..Default::default()
    };
    fx.rt
        .block_on(accounts::update(&fx.db.db, fx.account_id, &patch))
        .unwrap();
    fx.rt
        .block_on(settings::bump_change_version(&fx.db.db))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
}

fn post(fx: &Fixture) -> (u16, String) {
    let r = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(BODY)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn an_upstream_certificate_from_an_unknown_ca_is_refused() {
    let (port, _ca, served) = tls_server();
    let fx = Fixture::start(
        Backend::Sqlite,
        Reply::Json {
            status: 200,
            body: String::new(),
        },
        &[],
    )
    .unwrap();
    point_account_at(&fx, &format!("https://localhost:{port}"));
    let (status, text) = post(&fx);
    assert_eq!(status, 529, "{text}");
    assert!(
        text.contains("could be reached: the connection to the upstream failed"),
        "{text}"
    );
    assert!(
        !text.contains("127.0.0.1"),
        "no internal detail reaches the client: {text}"
    );
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "no request was sent over an unverified connection"
    );
}

#[test]
fn the_same_upstream_is_accepted_once_its_ca_is_trusted() {
    let (port, ca, served) = tls_server();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let env = [("SSL_CERT_FILE", ca_file.to_str().unwrap())];
    let fx = Fixture::start(
        Backend::Sqlite,
        Reply::Json {
            status: 200,
            body: String::new(),
        },
        &env,
    )
    .unwrap();
    point_account_at(&fx, &format!("https://localhost:{port}"));
    let (status, text) = post(&fx);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("over tls"));
    assert_eq!(served.load(Ordering::SeqCst), 1);
}

#[test]
fn upstream_connections_are_pooled_and_reused() {
    let fx = Fixture::start(
        Backend::Sqlite,
        Reply::Json {
            status: 200,
            body: json_body("m", 1, 1, "x"),
        },
        &[],
    )
    .unwrap();
    for _ in 0..5 {
        assert_eq!(post(&fx).0, 200);
    }
    assert_eq!(fx.mock.received().len(), 5);
    assert_eq!(
        fx.mock.connections.load(Ordering::SeqCst),
        1,
        "five requests over one kept-alive connection"
    );
}
