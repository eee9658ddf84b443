//! Upstream error bodies reach the client unchanged except for the account's own secret,
//! which is masked (SPEC §11): some compatible endpoints echo the key they were sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client;
use common::fixture::{Backend, Fixture, ACCOUNT_SECRET, CLIENT_KEY};
use common::mock::Reply;

#[test]
fn an_echoed_account_secret_is_masked_in_an_error_body() {
    let body = format!(
        r#"{{"type":"error","error":{{"type":"invalid_request_error","message":"bad request for key {ACCOUNT_SECRET}"}}}}"#
    );
    let reply = Reply::Json {
        status: 400,
        body: body.clone(),
    };
    let fx = Fixture::start(Backend::Sqlite, reply, &[]).unwrap();
    let resp = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let got = resp.text().unwrap();
    assert!(!got.contains(ACCOUNT_SECRET), "{got}");
    assert_eq!(
        got.len(),
        body.len(),
        "same length: content-length stays true"
    );
    assert!(got.contains("bad request for key sk-ant****"), "{got}");
    // Everything else is the upstream's answer, unchanged.
    let masked = format!("sk-ant{}", "*".repeat(ACCOUNT_SECRET.len() - 6));
    assert_eq!(got, body.replace(ACCOUNT_SECRET, &masked));
}
