//! Identifiers have documented maximum lengths (SPEC §2.3) and every value that reaches a
//! usage row fits its column on both backends: a client cannot stop usage writing for
//! everybody with one over-long value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};

fn over_long_identifiers_get_a_400_or_a_generated_id_and_rows_keep_flowing(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 3, 4, "ok"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let http = client();
    let send = |model: &str, rid: &str, session: Option<&str>| {
        let mut req = http
            .post(fx.url("/v1/messages"))
            .header("x-api-key", CLIENT_KEY)
            .header("x-request-id", rid)
            .body(format!(
                r#"{{"model":"{model}","max_tokens":5,"messages":[]}}"#
            ));
        if let Some(s) = session {
            req = req.header("x-claude-code-session-id", s);
        }
        req.send().unwrap()
    };

    // A 100-character request id is answered with a generated one, and its row is stored.
    let long_rid = "r".repeat(100);
    let resp = send("claude-sonnet-4-5", &long_rid, None);
    assert_eq!(resp.status(), 200);
    let echoed = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(echoed.starts_with("req_"), "{echoed}");

    // A model past 256 bytes and a session id past 256 bytes are the client's error.
    for (model, session, what) in [
        ("m".repeat(257), None, "model"),
        ("m".repeat(4 << 20), None, "model"),
        (
            "claude-sonnet-4-5".to_string(),
            Some("s".repeat(257)),
            "x-claude-code-session-id",
        ),
    ] {
        let resp = send(&model, "ok-id", session.as_deref());
        assert_eq!(resp.status(), 400, "{what}");
        let v: serde_json::Value = resp.json().unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(what) && msg.contains("256"), "{msg}");
    }
    // A model of exactly 256 bytes is valid and is stored whole.
    let at_max = format!("claude-{}", "x".repeat(249));
    assert_eq!(send(&at_max, "max-id", None).status(), 200);

    let rows = fx.wait_rows(5);
    let seen: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.record.status_code,
                r.record.request_id.clone(),
                r.record.model.len(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 5, "every request has its row: {seen:?}");
    assert!(rows.iter().any(|r| r.record.request_id == echoed));
    assert!(rows
        .iter()
        .any(|r| r.record.model == at_max && r.record.status_code == 200));
    assert_eq!(
        rows.iter().filter(|r| r.record.status_code == 400).count(),
        3
    );
    // Rows recorded afterwards still arrive: nothing is stuck behind the long values.
    assert_eq!(send("claude-sonnet-4-5", "after", None).status(), 200);
    let rows = fx.wait_rows(6);
    assert!(rows.iter().any(|r| r.record.request_id == "after"));
    assert!(
        !fx.relay.dir.join("data/usage-dead-letter.jsonl").exists(),
        "no row was refused"
    );
}
on_both!(
    over_long_identifiers_get_a_400_or_a_generated_id_and_rows_keep_flowing,
    over_long_identifiers_get_a_400_or_a_generated_id_and_rows_keep_flowing
);
