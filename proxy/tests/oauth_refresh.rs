//! OAuth accounts' tokens (SPEC §3.7): refreshed before they expire, once however many
//! requests need it, the rotated refresh token stored; a refused refresh puts the account in
//! `error`; a token the upstream rejects is refreshed and the request retried once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::fixture::{wait_for, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Mock, Reply};
use relay_shared::db::now_ms;

fn ok() -> Reply {
    Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "ok"),
    }
}

fn tokens(access: &str, refresh: &str) -> Reply {
    Reply::Json {
        status: 200,
        body: format!(
            r#"{{"token_type":"Bearer","access_token":"{access}","refresh_token":"{refresh}","expires_in":28800,"scope":"user:inference"}}"#
        ),
    }
}

/// A relay whose seeded console account is left out (priority 100, after the OAuth one) and
/// whose token endpoint is `token_mock`.
fn start(backend: Backend, token_mock: &Mock) -> Option<Fixture> {
    let token_url = format!("{}/v1/oauth/token", token_mock.url());
    let env = [("RELAY__AUTH__OAUTH__TOKEN_URL", token_url.as_str())];
    Fixture::start(backend, ok(), &env)
}

fn send(fx: &Fixture) -> u16 {
    reqwest::blocking::Client::new()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn a_token_near_expiry_is_refreshed_once_under_twenty_requests(backend: Backend) {
    let token_mock = Mock::start(tokens("sk-ant-oat01-new-access", "sk-ant-ort01-rotated"));
    let Some(fx) = start(backend, &token_mock) else {
        return;
    };
    let upstream = Mock::start(ok());
    let expires = now_ms() + 60_000; // within health.refresh_before (5 min)
    let id = fx.add_oauth_account(
        &upstream.url(),
        "sk-ant-oat01-old-access",
        Some("sk-ant-ort01-first"),
        Some(expires),
    );
    std::thread::sleep(Duration::from_millis(1_000));
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let url = fx.url("/v1/messages");
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(url)
                    .header("x-api-key", CLIENT_KEY)
                    .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses, [200; 20]);
    let refreshes = token_mock.received();
    assert_eq!(refreshes.len(), 1, "exactly one refresh");
    let body: serde_json::Value = serde_json::from_slice(&refreshes[0].body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "sk-ant-ort01-first");
    let seen = upstream.received();
    assert_eq!(seen.len(), 20);
    assert!(
        seen.iter()
            .all(|r| r.header("authorization") == ["Bearer sk-ant-oat01-new-access"]),
        "every request used the new token"
    );
    assert_eq!(
        fx.tokens(id),
        (
            Some("sk-ant-oat01-new-access".into()),
            Some("sk-ant-ort01-rotated".into())
        ),
        "the rotated refresh token is stored"
    );
    let a = fx.account(id);
    assert!(a.token_expires_at.unwrap() > now_ms() + 7 * 3_600_000);
    // Later requests use the stored token from the snapshot, with no further refresh.
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(send(&fx), 200);
    assert_eq!(token_mock.received().len(), 1);
}
on_both!(
    a_token_near_expiry_is_refreshed_once_under_twenty_requests,
    a_token_near_expiry_is_refreshed_once_under_twenty_requests
);

fn a_refused_refresh_puts_the_account_in_error_with_the_reason(backend: Backend) {
    let token_mock = Mock::start(Reply::Json {
        status: 400,
        body: r#"{"error":"invalid_grant","error_description":"Refresh token revoked"}"#.into(),
    });
    let Some(fx) = start(backend, &token_mock) else {
        return;
    };
    let upstream = Mock::start(ok());
    let id = fx.add_oauth_account(
        &upstream.url(),
        "sk-ant-oat01-old-access",
        Some("sk-ant-ort01-revoked"),
        Some(now_ms() + 60_000),
    );
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(send(&fx), 200, "the request is still served");
    wait_for("the account is in error", Duration::from_secs(10), || {
        fx.account(id).state == "error"
    });
    let a = fx.account(id);
    assert_eq!(a.state_reason, "credential rejected");
    let err = a.last_error.unwrap();
    assert!(err.contains("refresh") && err.contains("revoked"), "{err}");
    assert_eq!(fx.tokens(id).1.as_deref(), Some("sk-ant-ort01-revoked"));
}
on_both!(
    a_refused_refresh_puts_the_account_in_error_with_the_reason,
    a_refused_refresh_puts_the_account_in_error_with_the_reason
);

#[test]
fn a_rejected_token_is_refreshed_and_the_request_retried_once() {
    let token_mock = Mock::start(tokens("sk-ant-oat01-replacement", "sk-ant-ort01-next"));
    let fx = start(Backend::Sqlite, &token_mock).unwrap();
    let upstream = Mock::start(ok());
    upstream.push(Reply::Json {
        status: 401,
        body:
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid token"}}"#
                .into(),
    });
    // The token is not near expiry: only the 401 triggers the refresh.
    let id = fx.add_oauth_account(
        &upstream.url(),
        "sk-ant-oat01-revoked-access",
        Some("sk-ant-ort01-first"),
        Some(now_ms() + 3_600_000),
    );
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(send(&fx), 200);
    let seen = upstream.received();
    assert_eq!(seen.len(), 2, "the first try and the retry");
    assert_eq!(
        seen[1].header("authorization"),
        ["Bearer sk-ant-oat01-replacement"]
    );
    assert_eq!(token_mock.received().len(), 1);
    assert_eq!(fx.account(id).state, "active");
    let rows = fx.wait_rows(1);
    assert_eq!(rows[0].record.account_id, Some(id));
}

#[test]
fn a_setup_token_without_a_refresh_token_is_never_refreshed() {
    let token_mock = Mock::start(tokens("x", "y"));
    let fx = start(Backend::Sqlite, &token_mock).unwrap();
    let upstream = Mock::start(ok());
    fx.add_oauth_account(
        &upstream.url(),
        "sk-ant-oat01-setup-token",
        None,
        Some(now_ms() + 1_000),
    );
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(send(&fx), 200);
    assert_eq!(token_mock.received().len(), 0);
    assert_eq!(
        upstream.received()[0].header("authorization"),
        ["Bearer sk-ant-oat01-setup-token"]
    );
}
