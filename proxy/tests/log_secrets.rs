//! No secret at any log level (SPEC §11), the framework's own lines included: with the log at
//! `trace` (text) and at `debug` (JSON), a session that logs in, stores an account secret,
//! creates a relay key and uses it through both headers, and sends a malformed request with
//! the key in it, leaves none of those secrets in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::mock::{json_body, Mock, Reply};
use common::{client, Relay};

const PASSWORD: &str = "admin-password-for-log-test";
const ACCOUNT_SECRET: &str = "sk-ant-api03-LogTestAccountSecret-0123456789";

fn session_leaves_no_secret(level: &str, format: &str) {
    let mock = Mock::start(Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1, 1, "ok"),
    });
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ADMIN_PASSWORD", PASSWORD),
        ("RELAY__LOG__LEVEL", level),
        ("RELAY__LOG__FORMAT", format),
    ];
    let relay = Relay::start(dir.path(), 1, &env);
    let http = client();
    let login: serde_json::Value = http
        .post(format!("{}/api/v1/auth/login", relay.base))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let resp = http
        .post(format!("{}/api/v1/admin/accounts", relay.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "name": "mock", "platform_type": "claude_console",
            "request_url": mock.url(), "secret_key": ACCOUNT_SECRET,
        }))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().unwrap());
    let created: serde_json::Value = http
        .post(format!("{}/api/v1/api-keys", relay.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "log test"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    // The new key reaches the relay's snapshot within a second.
    let send = |header: (&str, String)| {
        http.post(format!("{}/v1/messages", relay.base))
            .header(header.0, header.1)
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap()
            .status()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while send(("x-api-key", key.clone())) != 200 {
        assert!(std::time::Instant::now() < deadline, "the key never worked");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(send(("authorization", format!("Bearer {key}"))), 200);
    // A malformed request (a header with a NUL byte) whose raw bytes Pingora logs.
    let mut s = TcpStream::connect(relay.base.trim_start_matches("http://")).unwrap();
    write!(
        s,
        "POST /v1/messages HTTP/1.1\r\nx-api-key: {key}\r\nAuthorization: Bearer {token}\r\nbad\0: x\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = std::io::Read::read(&mut s, &mut [0u8; 512]);
    drop(s);
    assert!(mock
        .received()
        .iter()
        .all(|r| r.header("x-api-key") == [ACCOUNT_SECRET]));

    let mut relay = relay;
    relay.stop();
    let log = relay.stderr();
    assert!(
        log.len() > 1_000,
        "the {level} log is suspiciously short:\n{log}"
    );
    for (what, secret) in [
        ("the admin password", PASSWORD),
        ("the login token", token.as_str()),
        ("the relay key", key.as_str()),
        ("the account secret", ACCOUNT_SECRET),
    ] {
        assert!(
            !log.contains(secret),
            "{what} is in the {level} {format} log"
        );
    }
    if format == "json" {
        for line in log.lines().filter(|l| l.starts_with('{')) {
            serde_json::from_str::<serde_json::Value>(line).expect(line);
        }
    }
}

#[test]
fn a_trace_text_log_holds_no_secret() {
    session_leaves_no_secret("trace", "text");
}

#[test]
fn a_debug_json_log_holds_no_secret() {
    session_leaves_no_secret("debug", "json");
}
