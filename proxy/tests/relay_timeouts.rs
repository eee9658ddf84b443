//! Timeouts (SPEC §2.7): a stream of minutes with pauses under the idle timeout completes —
//! there is no total deadline — while a pause longer than the idle timeout ends the stream,
//! and an upstream that sends nothing within the first-byte timeout gets an error answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{sse_body, Reply};

const MODEL: &str = "claude-haiku-4-5-20251001";

fn timed_parts(body: &str, parts: usize, every: Duration) -> Vec<(Duration, String)> {
    let size = body.len().div_ceil(parts);
    let bytes = body.as_bytes();
    bytes
        .chunks(size)
        .map(|c| (every, String::from_utf8(c.to_vec()).unwrap()))
        .collect()
}

/// Status, the bytes received, whether the body ended cleanly, and the time taken.
fn post_stream(fx: &Fixture) -> (u16, String, bool, Duration) {
    let started = Instant::now();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let resp = http
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(format!(
            r#"{{"model":"{MODEL}","max_tokens":5,"stream":true,"messages":[]}}"#
        ))
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    let mut resp = resp;
    let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
    let complete = loop {
        match resp.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (
        status,
        String::from_utf8_lossy(&got).into_owned(),
        complete,
        started.elapsed(),
    )
}

#[test]
fn a_stream_of_several_minutes_with_pauses_under_the_idle_timeout_completes() {
    let body = sse_body(MODEL, 50, 4000, 0, 0, 0, "a long answer");
    // 130 s of streaming, a piece every 2 s, with idle and first-byte timeouts of 3 s.
    let parts = timed_parts(&body, 65, Duration::from_secs(2));
    let env = [
        ("RELAY__RELAY__IDLE_TIMEOUT", "3s"),
        ("RELAY__RELAY__FIRST_BYTE_TIMEOUT", "3s"),
    ];
    let fx = Fixture::start(Backend::Sqlite, Reply::Timed { parts }, &env).unwrap();
    let (status, text, complete, took) = post_stream(&fx);
    assert!(complete, "the whole answer, cleanly ended");
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_secs(120),
        "the stream lasted {took:?}"
    );
    assert_eq!(text, body, "the whole stream arrived");
    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!((r.outcome.as_str(), r.output_tokens), ("ok", 4000));
    assert!(r.duration_ms >= 120_000);
    assert!(client()
        .get(fx.url("/health"))
        .send()
        .unwrap()
        .status()
        .is_success());
}

#[test]
fn a_pause_longer_than_the_idle_timeout_ends_the_stream() {
    let body = sse_body(MODEL, 50, 60, 0, 0, 0, "cut");
    let cut = body.find("event: content_block_delta").unwrap();
    let parts = vec![
        (Duration::ZERO, body[..cut].to_string()),
        (Duration::from_secs(6), body[cut..].to_string()),
    ];
    let env = [("RELAY__RELAY__IDLE_TIMEOUT", "2s")];
    let fx = Fixture::start(Backend::Sqlite, Reply::Timed { parts }, &env).unwrap();
    let (status, text, complete, took) = post_stream(&fx);
    assert!(
        !complete,
        "a cut answer must not look complete to the client"
    );
    assert_eq!(status, 200, "the header was already sent");
    assert_eq!(text.len(), cut, "only what came before the pause arrived");
    assert!(
        took < Duration::from_secs(6),
        "cut by the idle timeout, not the upstream: {took:?}"
    );
    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!(r.outcome, "upstream_error");
    assert_eq!(r.input_tokens, 50, "usage seen before the cut is kept");
}

#[test]
fn an_upstream_silent_past_the_first_byte_timeout_gets_an_error_answer() {
    let env = [("RELAY__RELAY__FIRST_BYTE_TIMEOUT", "1s")];
    let hold = Duration::from_secs(30);
    let fx = Fixture::start(Backend::Sqlite, Reply::Silent { hold }, &env).unwrap();
    let started = Instant::now();
    let resp = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(format!(
            r#"{{"model":"{MODEL}","max_tokens":5,"messages":[]}}"#
        ))
        .send()
        .unwrap();
    let took = started.elapsed();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(status, 529, "{v}");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("sent nothing for 1 s"), "{msg}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "answered after {took:?}: the timeout, not the upstream's {hold:?}"
    );
    let rows = fx.wait_rows(1);
    assert_eq!(rows[0].record.outcome, "upstream_error");
}
