//! The official Anthropic Python SDK (PyPI `anthropic`) through the relay: a plain call and
//! `messages.stream(...).get_final_message()`, with the relay key as `api_key`, as
//! `auth_token` (Authorization: Bearer) and in an explicit `x-api-key` header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::fixture::{Backend, Fixture, ACCOUNT_SECRET, CLIENT_KEY};
use common::mock::{json_body, sse_body, Reply};

fn python() -> String {
    std::env::var("RELAY_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn the_python_sdk_works_through_the_relay(backend: Backend) {
    let check = Command::new(python())
        .args(["-c", "import anthropic"])
        .status();
    assert!(
        check.is_ok_and(|s| s.success()),
        "the Python package `anthropic` is required (pip install anthropic; .ci/run installs it)"
    );
    let model = "claude-sonnet-4-5-20250929";
    let reply = Reply::Json {
        status: 200,
        body: json_body(model, 11, 7, "Hi from JSON"),
    };
    let Some(fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk_client.py");
    for mode in ["api_key", "auth_token", "x_api_key_header"] {
        fx.mock.push(Reply::Json {
            status: 200,
            body: json_body(model, 11, 7, "Hi from JSON"),
        });
        fx.mock.push(Reply::Sse {
            body: sse_body(model, 13, 9, 2, 3, 4, "Hi from SSE"),
            min: 1,
            max: 7,
            pause: Duration::ZERO,
        });
        let out = Command::new(python())
            .args([script, &fx.relay.base, CLIENT_KEY, mode])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert_eq!(lines[0]["text"], "Hi from JSON");
        assert_eq!(lines[0]["usage"]["input_tokens"], 11);
        assert_eq!(lines[0]["usage"]["output_tokens"], 7);
        assert_eq!(lines[1]["text"], "Hi from SSE");
        assert_eq!(lines[1]["usage"]["output_tokens"], 9);
        assert_eq!(
            lines[1]["usage"]["cache_creation"]["ephemeral_1h_input_tokens"],
            4
        );
        assert_eq!(lines[1]["model"], model);
    }
    let received = fx.mock.received();
    assert_eq!(received.len(), 6);
    for r in &received {
        assert_eq!(r.header("x-api-key"), [ACCOUNT_SECRET]);
        let all = format!("{:?}", r.headers);
        assert!(
            !all.contains(CLIENT_KEY),
            "the client key reached the upstream: {all}"
        );
        assert!(r.header("user-agent")[0].contains("Anthropic/Python"));
    }
    let rows = fx.wait_rows(6);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows.iter().filter(|r| r.record.stream).count(), 3);
    assert!(rows.iter().all(|r| r.record.outcome == "ok"));
}
on_both!(
    the_python_sdk_works_through_the_relay,
    the_python_sdk_works_through_the_relay
);
