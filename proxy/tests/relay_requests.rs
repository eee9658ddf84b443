//! Request handling on the hot path: bodies of any size forwarded byte-identical, the body
//! limit, and a clear Anthropic-shaped error for every bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};

fn big_body(size: usize) -> String {
    let head =
        r#"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":""#;
    let tail = r#""}]}"#;
    let filler: String = (0..size - head.len() - tail.len())
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    format!("{head}{filler}{tail}")
}

fn bodies_of_one_and_twenty_mib_arrive_byte_identical_and_33_mib_is_refused(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1, 1, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let http = client();
    for size in [1 << 20, 20 << 20] {
        let body = big_body(size);
        let resp = http
            .post(fx.url("/v1/messages"))
            .header("x-api-key", CLIENT_KEY)
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "{size} bytes");
        let last = fx.mock.received().pop().unwrap();
        assert_eq!(last.body.len(), size);
        assert!(
            last.body == body.as_bytes(),
            "a {size}-byte body must arrive unchanged"
        );
    }
    let resp = http
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(big_body(33 << 20))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["error"]["type"], "request_too_large");
    assert_eq!(
        fx.mock.received().len(),
        2,
        "the refused body never reached the upstream"
    );
    let rows = fx.wait_rows(3);
    assert!(rows
        .iter()
        .any(|r| r.record.status_code == 413 && r.record.outcome == "relay_error"));
}
on_both!(
    bodies_of_one_and_twenty_mib_arrive_byte_identical_and_33_mib_is_refused,
    bodies_of_one_and_twenty_mib_arrive_byte_identical_and_33_mib_is_refused
);

fn bad_inputs_get_anthropic_errors_that_say_what_is_wrong(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("m", 1, 1, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let http = client();
    let send = |key: Option<&str>, body: &str| {
        let mut req = http.post(fx.url("/v1/messages")).body(body.to_string());
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let retry = resp
            .headers()
            .get("x-should-retry")
            .map(|v| v.to_str().unwrap().to_string());
        let rid = resp.headers().get("x-request-id").is_some();
        let v: serde_json::Value = resp.json().unwrap();
        assert_eq!(v["type"], "error");
        assert!(v["request_id"].is_string() && rid);
        (
            status,
            v["error"]["type"].as_str().unwrap().to_string(),
            v["error"]["message"].as_str().unwrap().to_string(),
            retry,
        )
    };
    let (s, t, m, r) = send(Some(CLIENT_KEY), "{not json");
    assert_eq!(
        (s, t.as_str(), r.as_deref()),
        (400, "invalid_request_error", Some("false"))
    );
    assert!(m.contains("not valid JSON"), "{m}");
    let (s, _, m, _) = send(Some(CLIENT_KEY), r#"{"max_tokens":1,"messages":[]}"#);
    assert_eq!(s, 400);
    assert!(m.contains("model"), "{m}");
    let (s, t, _, r) = send(Some("sk-relay-unknown"), r#"{"model":"m"}"#);
    assert_eq!(
        (s, t.as_str(), r.as_deref()),
        (401, "authentication_error", Some("false"))
    );
    let (s, t, m, _) = send(None, r#"{"model":"m"}"#);
    assert_eq!((s, t.as_str()), (401, "authentication_error"));
    assert!(m.contains("x-api-key"), "{m}");
    let resp = http.get(fx.url("/v1/nope")).send().unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        fx.mock.received().is_empty(),
        "no bad request reached the upstream"
    );

    let models: serde_json::Value = http
        .get(fx.url("/v1/models"))
        .header("authorization", format!("Bearer {CLIENT_KEY}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"claude-opus-4-8") && ids.contains(&"claude-haiku-4-5-20251001"),
        "{ids:?}"
    );
    assert_eq!(models["data"][0]["type"], "model");
    assert_eq!(models["has_more"], false);
    assert_eq!(models["first_id"].as_str(), ids.first().copied());
}
on_both!(
    bad_inputs_get_anthropic_errors_that_say_what_is_wrong,
    bad_inputs_get_anthropic_errors_that_say_what_is_wrong
);

fn requests_repeating_one_client_request_id_are_each_logged_and_billed(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 10, 20, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let http = client();
    for _ in 0..3 {
        let resp = http
            .post(fx.url("/v1/messages"))
            .header("x-api-key", CLIENT_KEY)
            .header("x-request-id", "my-fixed-request-id")
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}"#)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-request-id"], "my-fixed-request-id");
    }
    let rows = fx.wait_rows(3);
    assert_eq!(
        rows.len(),
        3,
        "one row per request, even with one request id"
    );
    assert!(rows
        .iter()
        .all(|r| r.record.request_id == "my-fixed-request-id"
            && r.record.output_tokens == 20
            && r.record.cost_micro_usd > 0));
}
on_both!(
    requests_repeating_one_client_request_id_are_each_logged_and_billed,
    requests_repeating_one_client_request_id_are_each_logged_and_billed
);
