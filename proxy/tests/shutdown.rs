//! Graceful shutdown: SIGTERM drains the relay requests in flight (reporting not-ready
//! meanwhile), flushes their usage rows, and exits promptly when idle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{sse_body, Reply};

#[test]
fn sigterm_lets_a_stream_in_flight_finish_then_exits_with_its_row_written() {
    let body = sse_body("claude-haiku-4-5", 7, 99, 0, 0, 0, "drain me");
    let cut = body.find("event: content_block_delta").unwrap();
    let parts = vec![
        (Duration::ZERO, body[..cut].to_string()),
        (Duration::from_secs(3), body[cut..].to_string()),
    ];
    let mut fx = Fixture::start(Backend::Sqlite, Reply::Timed { parts }, &[]).unwrap();
    let url = fx.url("/v1/messages");
    let stream = std::thread::spawn(move || {
        let r = client()
            .post(url)
            .header("x-api-key", CLIENT_KEY)
            .body(r#"{"model":"claude-haiku-4-5","stream":true,"max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    });
    std::thread::sleep(Duration::from_millis(800));
    fx.relay.send_term();
    std::thread::sleep(Duration::from_millis(300));
    let ready = client().get(fx.url("/ready")).send().unwrap();
    assert_eq!(ready.status(), 503, "not ready while draining");
    assert!(ready.text().unwrap().contains("shutting down"));
    let took = fx.relay.wait_exit();
    let (status, text) = stream.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(text, body, "the stream in flight finished whole");
    assert!(
        took < Duration::from_secs(20),
        "stopped {took:?} after SIGTERM"
    );
    let rows = fx.rows();
    assert_eq!(rows.len(), 1, "the row was flushed before exit");
    assert_eq!(
        (
            rows[0].record.outcome.as_str(),
            rows[0].record.output_tokens
        ),
        ("ok", 99)
    );
    let journal: Vec<_> = std::fs::read_dir(fx.relay.dir.join("data/usage-journal"))
        .unwrap()
        .collect();
    assert!(
        journal.is_empty(),
        "a clean shutdown leaves no journal to recover: {journal:?}"
    );
}

#[test]
fn sigterm_on_an_idle_relay_exits_at_once_not_after_the_grace_period() {
    let mut fx = Fixture::start(
        Backend::Sqlite,
        Reply::Json {
            status: 200,
            body: String::new(),
        },
        &[],
    )
    .unwrap();
    let took = fx.relay.terminate();
    assert!(
        took < Duration::from_secs(10),
        "an idle relay took {took:?} to stop (grace period is 60 s)"
    );
    assert!(
        fx.relay.stderr().contains("drained"),
        "{}",
        fx.relay.stderr()
    );
}

#[test]
fn streams_cut_by_the_end_of_the_grace_period_are_billed_with_the_usage_seen() {
    let body = sse_body("claude-haiku-4-5", 700, 99, 50, 0, 0, "too slow");
    let cut = body.find("event: content_block_delta").unwrap();
    let parts = vec![
        (Duration::ZERO, body[..cut].to_string()),
        (Duration::from_secs(60), body[cut..].to_string()),
    ];
    let env = [("RELAY__SERVER__GRACE_PERIOD", "1s")];
    let mut fx = Fixture::start(Backend::Sqlite, Reply::Timed { parts }, &env).unwrap();
    let streams: Vec<_> = (0..3)
        .map(|_| {
            let url = fx.url("/v1/messages");
            std::thread::spawn(move || {
                let r = reqwest::blocking::Client::new()
                    .post(url)
                    .header("x-api-key", CLIENT_KEY)
                    .body(r#"{"model":"claude-haiku-4-5","stream":true,"max_tokens":5,"messages":[]}"#)
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                // The body is cut when the relay stops.
                let _ = r.text();
                status
            })
        })
        .collect();
    // All three streams have started (the mock has them) before the signal.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fx.mock.received().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "streams never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = fx.relay.terminate();
    assert!(
        took < Duration::from_secs(15),
        "stopped {took:?} after SIGTERM"
    );
    for s in streams {
        assert_eq!(s.join().unwrap(), 200);
    }
    let rows = fx.rows();
    assert_eq!(rows.len(), 3, "every cut stream has its row");
    for r in &rows {
        let r = &r.record;
        assert_eq!((r.input_tokens, r.cache_read_input_tokens), (700, 50));
        assert!(r.cost_micro_usd > 0);
        assert_eq!(
            (r.outcome.as_str(), r.status_code),
            ("relay_error", 200),
            "{r:?}"
        );
        assert_eq!(r.error_type.as_deref(), Some("shutdown"));
    }
}
