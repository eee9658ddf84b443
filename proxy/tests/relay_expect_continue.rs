//! `Expect: 100-continue` (curl sends it for bodies over 1 MiB, SPEC §2.3): the relay sends
//! the interim `100 Continue` at once, before any of the body, then the real answer; the
//! upstream never sees the `Expect` header, and the row is billed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};

/// Reads from `s` until `needle` has arrived (or the read times out).
fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        if buf.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn a_large_body_sent_after_100_continue_is_answered_and_billed(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 11, 13, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let filler = "a".repeat(2 << 20);
    let body = format!(
        r#"{{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{{"role":"user","content":"{filler}"}}]}}"#
    );
    let addr = fx.relay.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nHost: {addr}\r\nx-api-key: {CLIENT_KEY}\r\n\
         content-type: application/json\r\nExpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut got = Vec::new();
    assert!(
        read_until(&mut s, &mut got, b"\r\n\r\n"),
        "no interim answer before the body was sent: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        got.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    s.write_all(body.as_bytes()).unwrap();
    let mut rest = got.split_off(got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    assert!(
        read_until(&mut s, &mut rest, b"\"output_tokens\":13"),
        "the real answer follows: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        rest.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );

    let seen = fx.mock.received().pop().unwrap();
    assert!(seen.header("expect").is_empty(), "the upstream got Expect");
    assert_eq!(seen.body.len(), body.len());
    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!(
        (
            r.status_code,
            r.outcome.as_str(),
            r.input_tokens,
            r.output_tokens
        ),
        (200, "ok", 11, 13)
    );
}
on_both!(
    a_large_body_sent_after_100_continue_is_answered_and_billed,
    a_large_body_sent_after_100_continue_is_answered_and_billed
);
