//! Sticky sessions and account concurrency through real HTTP (SPEC §3.2, §3.3): a Claude Code
//! session stays on the account that served it until that account fails; accounts never get
//! more than `max_concurrency` requests at once, and requests wait in line (fairly, up to
//! `scheduler.queue_timeout`) when every account is full.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::client;
use common::fixture::{AccountSpec, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Mock, Reply};

fn ok() -> Reply {
    Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "ok"),
    }
}

fn send(fx: &Fixture, session: &str, rid: &str) -> u16 {
    client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .header("x-claude-code-session-id", session)
        .header("x-request-id", rid)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn sessions_stay_on_their_account_and_move_once_when_it_fails(backend: Backend) {
    let Some(fx) = Fixture::start(backend, ok(), &[]) else {
        return;
    };
    let other = Mock::start(ok());
    let b = fx.add_account(&AccountSpec::new("b", &other.url()));
    std::thread::sleep(Duration::from_millis(1_000));
    let mocks: HashMap<i64, &Mock> = [(fx.account_id, &fx.mock), (b, &other)].into();

    for i in 0..20 {
        for s in ["one", "two"] {
            assert_eq!(send(&fx, s, &format!("{s}-{i}")), 200);
        }
    }
    let rows = fx.wait_rows(40);
    let account_of = |s: &str| -> Vec<i64> {
        let mut seen: Vec<i64> = rows
            .iter()
            .filter(|r| r.record.request_id.starts_with(&format!("{s}-")))
            .map(|r| r.record.account_id.unwrap())
            .collect();
        seen.dedup();
        seen
    };
    let (one, two) = (account_of("one"), account_of("two"));
    assert_eq!(one.len(), 1, "session one moved: {one:?}");
    assert_eq!(two.len(), 1, "session two moved: {two:?}");
    let sticky = rows.iter().filter(|r| r.record.sticky).count();
    assert_eq!(
        sticky, 38,
        "every request after each session's first used its pin"
    );

    // The pinned account of session one starts answering 529: the next request fails over,
    // succeeds, and the session stays on the new account.
    let pinned = one[0];
    let new = if pinned == fx.account_id {
        b
    } else {
        fx.account_id
    };
    mocks[&pinned].set_fallback(Reply::Json {
        status: 529,
        body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            .into(),
    });
    for i in 0..10 {
        assert_eq!(send(&fx, "one", &format!("moved-{i}")), 200);
    }
    let rows = fx.wait_rows(50);
    let moved: Vec<_> = rows
        .iter()
        .filter(|r| r.record.request_id.starts_with("moved-"))
        .collect();
    assert!(moved.iter().all(|r| r.record.account_id == Some(new)));
    let failed_over: Vec<_> = moved.iter().filter(|r| r.record.attempts == 2).collect();
    assert_eq!(failed_over.len(), 1, "one failover");
    assert!(
        moved.iter().filter(|r| r.record.sticky).count() == 9,
        "re-pinned to the new account"
    );
}
on_both!(
    sessions_stay_on_their_account_and_move_once_when_it_fails,
    sessions_stay_on_their_account_and_move_once_when_it_fails
);

fn slow_stream() -> Reply {
    let body = sse_body("claude-sonnet-4-5", 10, 20, 0, 0, 0, "slow");
    let cut = body.find("event: content_block_delta").unwrap();
    Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_millis(1_500), body[cut..].to_string()),
        ],
    }
}

/// Six concurrent slow streams against two accounts of `max_concurrency: 2`.
fn six_streams(env: &[(&str, &str)]) -> (Fixture, Mock, Vec<u16>) {
    let fx = Fixture::start(Backend::Sqlite, slow_stream(), env).unwrap();
    fx.set_max_concurrency(fx.account_id, 2);
    let other = Mock::start(slow_stream());
    let mut spec = AccountSpec::new("b", &other.url());
    spec.max_concurrency = 2;
    fx.add_account(&spec);
    std::thread::sleep(Duration::from_millis(1_000));
    let url = fx.url("/v1/messages");
    let streams: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let r = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap()
                    .post(url)
                    .header("x-api-key", CLIENT_KEY)
                    .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[]}"#)
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                let _ = r.text();
                status
            })
        })
        .collect();
    let statuses = streams.into_iter().map(|t| t.join().unwrap()).collect();
    (fx, other, statuses)
}

#[test]
fn accounts_never_exceed_max_concurrency_and_the_rest_wait_their_turn() {
    let (fx, other, statuses) = six_streams(&[]);
    assert_eq!(statuses, [200; 6], "the 5th and 6th waited for a slot");
    assert!(fx.mock.load.max.load(Ordering::SeqCst) <= 2);
    assert!(other.load.max.load(Ordering::SeqCst) <= 2);
    assert_eq!(
        fx.mock.received().len() + other.received().len(),
        6,
        "every stream reached an account once"
    );
}

#[test]
fn with_a_short_queue_timeout_the_requests_beyond_the_slots_get_529() {
    let (fx, other, mut statuses) = six_streams(&[("RELAY__SCHEDULER__QUEUE_TIMEOUT", "300ms")]);
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 529, 529]);
    assert!(fx.mock.load.max.load(Ordering::SeqCst) <= 2);
    assert!(other.load.max.load(Ordering::SeqCst) <= 2);
    let rows = fx.wait_rows(6);
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| r.record.status_code == 529)
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused
        .iter()
        .all(|r| r.record.error_type.as_deref() == Some("overloaded_error")));
}
