//! `POST /admin/accounts/{id}/test` against a mock upstream: the cheapest request (max_tokens
//! 1, a cheap or mapped model) with the account's credential exactly as the relay sends it —
//! console keys per `auth_header`, OAuth tokens as a bearer with the OAuth beta — and the
//! answer `{ok, status, latency_ms, message}` without any secret. A redirect is never
//! followed with the credential; loopback, private and metadata targets are refused unless
//! `security.allow_private_upstreams` (the mocks listen on loopback, so the tests that reach
//! them set it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::mock_http::MockHttp;
use relay_shared::testing::TestDb;
use serde_json::json;

const CONSOLE_KEY: &str = "sk-glm-console-SECRET-0123456789-Kk77";
const ACCESS: &str = "sk-ant-oat01-ProbeAccess-SECRET-0123-Jj66";

fn message_body() -> serde_json::Value {
    json!({ "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{ "type": "text", "text": "h" }], "stop_reason": "max_tokens",
            "usage": { "input_tokens": 8, "output_tokens": 1 } })
}

async fn console_and_oauth_credentials_reach_the_upstream(db: TestDb) {
    let mock = MockHttp::start(200, message_body()).await;
    let app = common::TestApp::spawn(db, |c| c.security.allow_private_upstreams = true).await;
    let admin = app.admin_token().await;

    // A console account sending both headers, no mapping: the cheap default model.
    let both = app
        .create_account(
            &admin,
            json!({ "name": "both", "platform_type": "claude_console",
            "request_url": format!("{}/api/anthropic", mock.url), "secret_key": CONSOLE_KEY }),
        )
        .await
        .expect(201)
        .id();
    let r = app.test_account(&admin, both).await.expect(200);
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["status"].as_u64()),
        (Some(true), Some(200))
    );
    assert!(r.body["latency_ms"].is_u64());
    assert!(r.body["message"].is_string());
    let seen = mock.seen();
    let s = &seen[0];
    assert_eq!(
        (s.method.as_str(), s.uri.as_str()),
        ("POST", "/api/anthropic/v1/messages")
    );
    assert_eq!(s.header("x-api-key"), CONSOLE_KEY);
    assert_eq!(s.header("authorization"), format!("Bearer {CONSOLE_KEY}"));
    assert_eq!(s.header("anthropic-version"), "2023-06-01");
    assert_eq!(s.header("anthropic-beta"), "");
    assert_eq!(s.body["max_tokens"], 1);
    assert_eq!(s.body["model"], "claude-haiku-4-5");

    // x-api-key only, with a mapping: the mapped model, no Authorization.
    let mapped = app
        .create_account(
            &admin,
            json!({ "name": "glm", "platform_type": "claude_console",
            "request_url": mock.url, "secret_key": CONSOLE_KEY, "auth_header": "x_api_key",
            "model_mapping": { "claude-*": "glm-4.6" } }),
        )
        .await
        .expect(201)
        .id();
    app.test_account(&admin, mapped).await.expect(200);
    let s = mock.seen().pop().unwrap();
    assert_eq!(s.header("x-api-key"), CONSOLE_KEY);
    assert_eq!(s.header("authorization"), "");
    assert_eq!(s.body["model"], "glm-4.6");

    // An OAuth account: bearer token plus the OAuth beta, no x-api-key.
    let oauth = app
        .create_account(&admin, json!({ "name": "max", "platform_type": "claude",
            "request_url": mock.url, "access_token": ACCESS, "refresh_token": "sk-ant-ort01-unused-refresh-0000",
            "allowed_models": ["claude-sonnet-*"] }))
        .await
        .expect(201)
        .id();
    let r = app.test_account(&admin, oauth).await.expect(200);
    assert_eq!(r.body["ok"], true);
    let s = mock.seen().pop().unwrap();
    assert_eq!(s.header("authorization"), format!("Bearer {ACCESS}"));
    assert_eq!(s.header("anthropic-beta"), "oauth-2025-04-20");
    assert_eq!(s.header("x-api-key"), "");
    assert_eq!(
        s.body["model"], "claude-sonnet-4-5",
        "the cheapest allowed model"
    );

    // The upstream's error message comes back, never the key it may quote.
    mock.push(
        401,
        json!({ "type": "error", "error": { "type": "authentication_error",
        "message": format!("invalid x-api-key {CONSOLE_KEY}") } }),
    );
    let r = app.test_account(&admin, both).await.expect(200);
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["status"].as_u64()),
        (Some(false), Some(401))
    );
    assert_eq!(r.body["message"], "invalid x-api-key …");

    // Nothing listens: not reached, no status.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let gone = app
        .create_account(
            &admin,
            json!({ "name": "gone", "platform_type": "claude_console",
            "request_url": dead, "secret_key": CONSOLE_KEY }),
        )
        .await
        .expect(201)
        .id();
    let r = app.test_account(&admin, gone).await.expect(200);
    assert_eq!(
        (r.body["ok"].as_bool(), r.body["status"].is_null()),
        (Some(false), true)
    );
    assert!(r.body["message"].as_str().unwrap().contains("connect"));

    let (_, user) = app.user("frank").await;
    app.test_account(&user, both).await.expect(403);
    app.test_account(&admin, 987_654).await.expect(404);
    app.assert_no_leaks();
}
both_backends!(
    console_and_oauth_credentials_reach_the_upstream,
    console_and_oauth_credentials_reach_the_upstream
);

async fn a_redirect_is_reported_and_never_followed_with_the_credential(db: TestDb) {
    let upstream = MockHttp::start(200, message_body()).await;
    let elsewhere = MockHttp::start(200, message_body()).await;
    let app = common::TestApp::spawn(db, |c| c.security.allow_private_upstreams = true).await;
    let admin = app.admin_token().await;
    let id = app
        .create_account(
            &admin,
            json!({ "name": "moved", "platform_type": "claude_console",
            "request_url": upstream.url, "secret_key": CONSOLE_KEY }),
        )
        .await
        .expect(201)
        .id();
    for status in [301u64, 302, 307, 308] {
        upstream.push_redirect(status as u16, &format!("{}/v1/messages", elsewhere.url));
        let r = app.test_account(&admin, id).await.expect(200);
        assert_eq!(
            (r.body["ok"].as_bool(), r.body["status"].as_u64()),
            (Some(false), Some(status))
        );
        assert!(
            r.body["message"].as_str().unwrap().contains("redirect"),
            "{}",
            r.text
        );
    }
    assert_eq!(upstream.seen().len(), 4);
    assert!(elsewhere.seen().is_empty(), "the redirect was followed");
    app.assert_no_leaks();
}
both_backends!(
    a_redirect_is_reported_and_never_followed_with_the_credential,
    a_redirect_is_reported_and_never_followed_with_the_credential
);

async fn loopback_and_private_upstreams_are_refused_by_default(db: TestDb) {
    let mock = MockHttp::start(200, message_body()).await;
    let app = common::TestApp::spawn(db, |_| {}).await;
    let admin = app.admin_token().await;
    let port = mock.url.rsplit(':').next().unwrap().to_string();
    for url in [
        mock.url.clone(),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("http://127.1.2.3:{port}"),
    ] {
        let id = app
            .create_account(
                &admin,
                json!({ "name": format!("near {url}"), "platform_type": "claude_console",
                "request_url": url, "secret_key": CONSOLE_KEY }),
            )
            .await
            .expect(201)
            .id();
        let r = app.test_account(&admin, id).await.expect(400);
        assert_eq!(
            (r.code(), r.field()),
            ("upstream_address_refused", "request_url"),
            "{url}: {}",
            r.text
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allow_private_upstreams"),
            "{}",
            r.text
        );
    }
    assert!(mock.seen().is_empty(), "a refused test sent nothing");
    app.assert_no_leaks();
}
both_backends!(
    loopback_and_private_upstreams_are_refused_by_default,
    loopback_and_private_upstreams_are_refused_by_default
);
