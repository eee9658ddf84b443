//! Slow or greedy clients cannot hold the front door (SPEC §2.3): request headers must arrive
//! within `server.header_timeout`, each body read within `server.body_read_timeout`, open
//! connections are capped (further ones get a clean 503), and once the door is half full one
//! client IP gets no more than its share, so valid traffic keeps being served during a
//! slowloris flood.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};

fn reply() -> Reply {
    Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1, 2, "ok"),
    }
}

fn addr(fx: &Fixture) -> String {
    fx.relay.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes (or `limit` passes); returns what arrived and whether it closed.
fn read_to_close(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

fn health_ok(fx: &Fixture) -> bool {
    client()
        .get(fx.url("/health"))
        .send()
        .map(|r| r.status() == 200)
        .unwrap_or(false)
}

#[test]
fn a_header_sent_a_line_at_a_time_is_cut_at_the_header_deadline() {
    let env = [("RELAY__SERVER__HEADER_TIMEOUT", "1s")];
    let fx = Fixture::start(Backend::Sqlite, reply(), &env).unwrap();
    let mut s = TcpStream::connect(addr(&fx)).unwrap();
    s.write_all(b"POST /v1/messages HTTP/1.1\r\n").unwrap();
    // A header line every 300 ms: each read succeeds, but the header never ends.
    let started = Instant::now();
    let mut cut = false;
    for i in 0..30 {
        std::thread::sleep(Duration::from_millis(300));
        if s.write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
            .is_err()
        {
            cut = true;
            break;
        }
        let (_, closed) = read_to_close(&mut s, Duration::from_millis(1));
        if closed {
            cut = true;
            break;
        }
    }
    assert!(
        cut,
        "the connection was still open after 9 s of header lines"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // A connection that never sends a byte is closed too.
    let mut idle = TcpStream::connect(addr(&fx)).unwrap();
    let (_, closed) = read_to_close(&mut idle, Duration::from_secs(6));
    assert!(closed, "a silent new connection was held past the deadline");

    // The deadline is per request and starts at its first byte: a keep-alive connection
    // idle for longer than the deadline still serves its next request.
    let http = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    for _ in 0..2 {
        let resp = http.get(fx.url("/health")).send().unwrap();
        assert_eq!(resp.status(), 200);
        std::thread::sleep(Duration::from_millis(1500));
    }
    assert!(health_ok(&fx));
}

#[test]
fn a_stalled_body_gets_a_408_and_its_row() {
    let env = [("RELAY__SERVER__BODY_READ_TIMEOUT", "1s")];
    let fx = Fixture::start(Backend::Sqlite, reply(), &env).unwrap();
    let mut s = TcpStream::connect(addr(&fx)).unwrap();
    let a = addr(&fx);
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nHost: {a}\r\nx-api-key: {CLIENT_KEY}\r\ncontent-length: 500\r\n\r\n{{\"model\":"
    )
    .unwrap();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(8));
    let text = String::from_utf8_lossy(&got);
    assert!(closed, "{text}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("invalid_request_error") && text.contains("stalled"),
        "{text}"
    );
    let rows = fx.wait_rows(1);
    assert_eq!(rows[0].record.status_code, 408);
    assert_eq!(fx.mock.received().len(), 0);
}

#[test]
fn connections_beyond_the_cap_get_a_clean_503_and_slots_come_back() {
    let env = [
        ("RELAY__SERVER__MAX_CONNECTIONS", "20"),
        ("RELAY__SERVER__MAX_CONNECTIONS_PER_IP", "0"),
    ];
    let fx = Fixture::start(Backend::Sqlite, reply(), &env).unwrap();
    // Each held connection proves it has a slot by being served (keep-alive); one refused
    // while the start-up health check's connection was still closing is simply tried again.
    let mut held: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while held.len() < 20 {
        assert!(Instant::now() < deadline, "could not hold 20 connections");
        let mut s = TcpStream::connect(addr(&fx)).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        if buf[..n].starts_with(b"HTTP/1.1 200") {
            held.push(s);
        }
    }
    // Every slot is taken: the next connection is refused.
    let mut refused = TcpStream::connect(addr(&fx)).unwrap();
    let (got, closed) = read_to_close(&mut refused, Duration::from_secs(5));
    let text = String::from_utf8_lossy(&got);
    assert!(
        closed && text.starts_with("HTTP/1.1 503"),
        "closed {closed}: {text:?}"
    );
    assert!(text.contains("overloaded_error"), "{text}");
    assert!(!health_ok(&fx), "no slot is free");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !health_ok(&fx) {
        assert!(Instant::now() < deadline, "slots never came back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A connection from `src` (a loopback address other than 127.0.0.1 is another client IP).
fn connect_from(src: &str, to: &str) -> Option<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind(format!("{src}:0").parse().ok()?).ok()?;
        let s = socket.connect(to.parse().ok()?).await.ok()?;
        s.into_std().ok()
    })
    .inspect(|s| s.set_nonblocking(false).unwrap())
}

#[test]
fn valid_traffic_is_served_during_a_slowloris_flood_from_one_ip() {
    let env = [
        ("RELAY__SERVER__MAX_CONNECTIONS", "40"),
        ("RELAY__SERVER__MAX_CONNECTIONS_PER_IP", "8"),
        ("RELAY__SERVER__HEADER_TIMEOUT", "2s"),
    ];
    let fx = Fixture::start(Backend::Sqlite, reply(), &env).unwrap();
    let target = addr(&fx);
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    // The attacker (127.0.0.2) keeps 100 connections going, each sending a header line
    // every 500 ms and reconnecting when cut.
    let attackers: Vec<_> = (0..100)
        .map(|_| {
            let (stop, opened, target) = (stop.clone(), opened.clone(), target.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(mut s) = connect_from("127.0.0.2", &target) else {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    opened.fetch_add(1, Ordering::SeqCst);
                    let _ = s.write_all(b"POST /v1/messages HTTP/1.1\r\n");
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst)
                        && s.write_all(format!("x-{i}: 1\r\n").as_bytes()).is_ok()
                    {
                        i += 1;
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while opened.load(Ordering::SeqCst) < 100 {
        assert!(Instant::now() < deadline, "the flood never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // During the flood, every valid request from 127.0.0.1 is answered.
    let http = client();
    let until = Instant::now() + Duration::from_secs(5);
    let mut served = 0;
    while Instant::now() < until {
        assert!(health_ok(&fx), "/health failed during the flood");
        let resp = http
            .post(fx.url("/v1/messages"))
            .header("x-api-key", CLIENT_KEY)
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        served += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::SeqCst);
    for a in attackers {
        a.join().unwrap();
    }
    assert!(served >= 10, "{served}");
    assert!(
        opened.load(Ordering::SeqCst) > 100,
        "the attacker was cut and reconnected"
    );
}
