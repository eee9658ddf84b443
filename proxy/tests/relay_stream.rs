//! The hot path end to end: the real `relay` binary between a client and a mock upstream,
//! on SQLite and on MariaDB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::client;
use common::fixture::{Backend, Fixture, ACCOUNT_SECRET, CLIENT_KEY};
use common::mock::{json_body, sse_body, Reply};

const MODEL: &str = "claude-sonnet-4-5-20250929";

fn stream_request() -> String {
    format!(
        r#"{{"model":"{MODEL}","max_tokens":1024,"stream":true,"messages":[{{"role":"user","content":"Hello"}}]}}"#
    )
}

fn sse_arrives_byte_identical_and_the_row_is_exact(backend: Backend) {
    let body = sse_body(MODEL, 1200, 345, 5000, 2000, 1000, "Hello there");
    let reply = Reply::Sse {
        body: body.clone(),
        min: 1,
        max: 7,
        pause: Duration::ZERO,
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let resp = client()
        .post(fx.url("/v1/messages?beta=true"))
        .header("x-api-key", CLIENT_KEY)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "claude-code-20250219")
        .header("content-type", "application/json")
        .body(stream_request())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(resp.headers().contains_key("x-request-id"));
    let rid = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(
        resp.text().unwrap(),
        body,
        "the SSE bytes must arrive unchanged"
    );

    let seen = fx.mock.received();
    assert_eq!(seen.len(), 1);
    let up = &seen[0];
    assert_eq!(up.path, "/v1/messages?beta=true");
    assert_eq!(
        up.header("x-api-key"),
        [ACCOUNT_SECRET],
        "the account credential is sent"
    );
    assert!(up.header("authorization").is_empty());
    assert!(
        !format!("{:?}", up.headers).contains(CLIENT_KEY),
        "the client key never reaches the upstream"
    );
    assert_eq!(up.header("anthropic-beta"), ["claude-code-20250219"]);
    assert_eq!(up.header("accept-encoding"), ["identity"]);
    assert_eq!(up.body, stream_request().as_bytes());

    let rows = fx.wait_rows(1);
    assert_eq!(rows.len(), 1);
    let r = &rows[0].record;
    assert_eq!(r.request_id, rid);
    assert_eq!(
        (r.api_key_id, r.user_id, r.account_id),
        (fx.key_id, fx.user_id, Some(fx.account_id))
    );
    assert_eq!(
        (r.status_code, r.outcome.as_str(), r.stream),
        (200, "ok", true)
    );
    assert_eq!(r.model, MODEL);
    assert_eq!(r.upstream_model, MODEL);
    assert_eq!(
        (r.input_tokens, r.output_tokens, r.cache_read_input_tokens),
        (1200, 345, 5000),
        "output is the cumulative value of the last message_delta"
    );
    assert_eq!(
        (
            r.cache_creation_5m_input_tokens,
            r.cache_creation_1h_input_tokens
        ),
        (2000, 1000)
    );
    // Sonnet 4.5 per million: input $3, output $15, cache read $0.30, 5m write $3.75, 1h write $6.
    let expected = 1200 * 3 + 345 * 15 + 5000 * 3 / 10 + 2000 * 375 / 100 + 1000 * 6;
    assert_eq!(r.cost_micro_usd, expected);
    assert_eq!(r.attempts, 1);
    assert!(r.ttfb_ms.is_some());
}
on_both!(
    sse_arrives_byte_identical_and_the_row_is_exact,
    sse_arrives_byte_identical_and_the_row_is_exact
);

fn json_answers_are_relayed_and_counted_with_either_auth_header(backend: Backend) {
    let body = json_body("claude-haiku-4-5-20251001", 21, 8, "Hi!");
    let reply = Reply::Json {
        status: 200,
        body: body.clone(),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    for header in [
        ("x-api-key", CLIENT_KEY.to_string()),
        ("authorization", format!("Bearer {CLIENT_KEY}")),
    ] {
        let resp = client()
            .post(fx.url("/claude-code/v1/messages"))
            .header(header.0, header.1.as_str())
            .body(r#"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().unwrap(), body);
    }
    for up in fx.mock.received() {
        assert_eq!(
            up.path, "/v1/messages",
            "the /claude-code prefix is the relay's, not the upstream's"
        );
        assert_eq!(up.header("x-api-key"), [ACCOUNT_SECRET]);
        assert!(up.header("authorization").is_empty());
    }
    let rows = fx.wait_rows(2);
    assert_eq!(rows.len(), 2);
    for row in rows {
        let r = row.record;
        assert_eq!((r.input_tokens, r.output_tokens, r.stream), (21, 8, false));
        assert_eq!(r.model, "claude-haiku-4-5");
        assert_eq!(
            r.upstream_model, "claude-haiku-4-5-20251001",
            "billed by the model the upstream names"
        );
        assert_eq!(r.cost_micro_usd, 21 + 8 * 5);
    }
}
on_both!(
    json_answers_are_relayed_and_counted_with_either_auth_header,
    json_answers_are_relayed_and_counted_with_either_auth_header
);

fn a_client_that_leaves_mid_stream_still_gets_an_exact_row(backend: Backend) {
    let full = sse_body(MODEL, 10, 777, 0, 0, 0, "partial");
    let cut = full.find("event: content_block_delta").unwrap();
    let reply = Reply::Timed {
        parts: vec![
            (Duration::ZERO, full[..cut].to_string()),
            (Duration::from_millis(1500), full[cut..].to_string()),
        ],
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let addr = fx.relay.base.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    let req = stream_request();
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nhost: relay\r\nx-api-key: {CLIENT_KEY}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{req}",
        req.len()
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(s);

    let rows = fx.wait_rows(1);
    assert_eq!(rows.len(), 1);
    let r = &rows[0].record;
    assert_eq!((r.status_code, r.outcome.as_str()), (499, "client_closed"));
    assert_eq!(r.input_tokens, 10);
    assert_eq!(
        r.output_tokens, 777,
        "the relay kept reading until the final usage to bill exactly"
    );
}
on_both!(
    a_client_that_leaves_mid_stream_still_gets_an_exact_row,
    a_client_that_leaves_mid_stream_still_gets_an_exact_row
);

fn an_upstream_cut_mid_stream_delivers_what_arrived_and_bills_it(backend: Backend) {
    let full = sse_body(MODEL, 1200, 345, 0, 0, 0, "Hello there");
    // Cut before the final message_delta: the upstream dies mid-answer.
    let cut = full.find("event: message_delta").unwrap();
    let sent = full[..cut].to_string();
    let Some(fx) = Fixture::start(backend, Reply::Cut { body: sent.clone() }, &[]) else {
        return;
    };
    let mut resp = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .header("content-type", "application/json")
        .body(stream_request())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Every byte that reached the relay reaches the client; then the answer ends unfinished.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let ended_cleanly = loop {
        match resp.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    assert_eq!(String::from_utf8(got).unwrap(), sent);
    assert!(
        !ended_cleanly,
        "a cut answer must not look complete to the client"
    );

    let rows = fx.wait_rows(1);
    let r = &rows[0].record;
    assert_eq!((r.status_code, r.outcome.as_str()), (200, "upstream_error"));
    assert_eq!(
        (r.input_tokens, r.output_tokens),
        (1200, 1),
        "billed by what arrived: message_start's usage"
    );
}
on_both!(
    an_upstream_cut_mid_stream_delivers_what_arrived_and_bills_it,
    an_upstream_cut_mid_stream_delivers_what_arrived_and_bills_it
);
