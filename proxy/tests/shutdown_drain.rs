//! Drain (SPEC §7): SIGTERM during 20 open slow streams turns `/ready` to 503 at once, still
//! serves new requests for `server.drain_accept_s`, then refuses them with a 503
//! `overloaded_error`; all 20 streams complete, their 20 usage rows are written, and the
//! process exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::client;
use common::fixture::{wait_for, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Reply};

const MODEL: &str = "claude-haiku-4-5";
const STREAMS: usize = 20;

fn request(fx: &Fixture, stream: bool) -> reqwest::blocking::RequestBuilder {
    client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(format!(
            r#"{{"model":"{MODEL}","stream":{stream},"max_tokens":5,"messages":[]}}"#
        ))
}

#[test]
fn sigterm_during_twenty_slow_streams_drains_them_all_and_exits_zero() {
    let body = sse_body(MODEL, 11, 22, 0, 0, 0, "slow stream");
    let cut = body.find("event: content_block_delta").unwrap();
    let slow = Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_secs(5), body[cut..].to_string()),
        ],
    };
    let env = [("RELAY__SERVER__DRAIN_ACCEPT_S", "2")];
    let mut fx = Fixture::start(Backend::Sqlite, slow, &env).unwrap();
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            let req = request(&fx, true);
            std::thread::spawn(move || {
                let r = req.send().unwrap();
                (r.status().as_u16(), r.text().unwrap())
            })
        })
        .collect();
    wait_for(
        "every stream reached the upstream",
        Duration::from_secs(20),
        || fx.mock.received().len() == STREAMS,
    );

    let http = client();
    let ready = fx.url("/ready");
    let signalled = Instant::now();
    fx.relay.send_term();
    loop {
        let status = http.get(&ready).send().unwrap().status();
        if status == 503 {
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "/ready stayed {status}"
        );
    }
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "/ready turned 503 after {took:?}"
    );

    // Within server.drain_accept_s a new request is still served...
    fx.mock.push(Reply::Json {
        status: 200,
        body: json_body(MODEL, 1, 1, "late"),
    });
    assert_eq!(request(&fx, false).send().unwrap().status(), 200);
    // ...after it, refused in Anthropic's error shape.
    let mut refused = None;
    while signalled.elapsed() < Duration::from_secs(4) {
        let r = request(&fx, false).send().unwrap();
        if r.status() == 503 {
            refused = Some(r.json::<serde_json::Value>().unwrap());
            break;
        }
        assert_eq!(r.status(), 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused = refused.expect("no request was refused within 4 s of SIGTERM");
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["error"]["type"], "overloaded_error");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("shutting down"));

    for s in streams {
        let (status, text) = s.join().unwrap();
        assert_eq!(
            (status, text.as_str()),
            (200, body.as_str()),
            "a stream was cut"
        );
    }
    fx.relay.wait_exit();
    let exit = fx.relay.exit.expect("the relay did not exit");
    assert!(exit.success(), "exit status {exit:?}");
    let rows = fx.rows();
    let streamed: Vec<_> = rows.iter().filter(|r| r.record.stream).collect();
    assert_eq!(
        streamed.len(),
        STREAMS,
        "one row per stream, flushed before exit"
    );
    for r in streamed {
        assert_eq!(
            (r.record.outcome.as_str(), r.record.output_tokens),
            ("ok", 22)
        );
    }
}
