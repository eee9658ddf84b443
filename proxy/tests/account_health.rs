//! Account health through real HTTP (SPEC §3.4–§3.6): an account that fails is set aside
//! (cooling, then error) and tried again only when its cooldown ends or a probe finds it
//! healed, while the group's other accounts serve every request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::client;
use common::fixture::{wait_for, AccountSpec, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Mock, Reply};
use relay_shared::db::{accounts, now_ms, settings};

const BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#;

fn send(fx: &Fixture, rid: &str) -> u16 {
    client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .header("x-request-id", rid)
        .body(BODY)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

fn ok() -> Reply {
    Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "ok"),
    }
}

/// Lets the relay's snapshot take in an account change (it polls every 250 ms).
fn settle() {
    std::thread::sleep(Duration::from_millis(1_000));
}

/// How the first account fails in [`a_failing_account_is_tried_once_per_cooldown`].
#[derive(Debug, Clone, Copy)]
enum Failure {
    Overloaded,
    RateLimited,
    ServerError,
    Refused,
    Silent,
}

fn a_failing_account_is_tried_once_per_cooldown(backend: Backend, failure: Failure) {
    let reply = match failure {
        Failure::Overloaded => Reply::Json {
            status: 529,
            body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
                .into(),
        },
        Failure::RateLimited => Reply::Raw {
            status: 429,
            headers: vec!["retry-after: 90".into()],
            body: br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
                .to_vec(),
        },
        Failure::ServerError => Reply::Json {
            status: 500,
            body: r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#.into(),
        },
        Failure::Refused | Failure::Silent => Reply::Silent {
            hold: Duration::from_secs(30),
        },
    };
    let env = [("RELAY__RELAY__FIRST_BYTE_TIMEOUT", "1s")];
    let Some(fx) = Fixture::start(backend, reply, &env) else {
        return;
    };
    if matches!(failure, Failure::Refused) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let patch = accounts::AccountPatch {
            request_url: Some(url),
            ..Default::default()
        };
        fx.rt
            .block_on(accounts::update(&fx.db.db, fx.account_id, &patch))
            .unwrap();
        fx.rt
            .block_on(settings::bump_change_version(&fx.db.db))
            .unwrap();
    }
    let healthy = Mock::start(ok());
    let b = fx.add_account(&AccountSpec::new("b", &healthy.url()));
    settle();

    let started = now_ms();
    for i in 0..50 {
        assert_eq!(send(&fx, &format!("r{i}")), 200, "{failure:?} request {i}");
    }
    let rows = fx.wait_rows(50);
    let retried: Vec<_> = rows.iter().filter(|r| r.record.attempts == 2).collect();
    assert_eq!(
        retried.len(),
        1,
        "{failure:?}: the failing account was tried once"
    );
    assert!(rows.iter().all(|r| r.record.account_id == Some(b)));
    assert!(rows
        .iter()
        .all(|r| r.record.attempts == 1 || r.record.route_reason == "failover"));
    if !matches!(failure, Failure::Refused) {
        assert_eq!(fx.mock.received().len(), 1, "{failure:?}");
    }
    // The transition is stored off the hot path, shortly after.
    wait_for("the cooldown is stored", Duration::from_secs(5), || {
        fx.account(fx.account_id).state == "cooling"
    });
    let a = fx.account(fx.account_id);
    let until = a.cooldown_until.unwrap() - started;
    let expected = match failure {
        Failure::RateLimited => 90_000,
        _ => 60_000,
    };
    assert!(
        (expected - 5_000..=expected + 5_000).contains(&until),
        "{failure:?}: cooling for {until} ms"
    );
    assert!(a.last_error.is_some() && a.last_error_at.is_some());
}

fn a_529_is_survived(backend: Backend) {
    a_failing_account_is_tried_once_per_cooldown(backend, Failure::Overloaded);
}
on_both!(a_529_is_survived, a_529_is_survived);

#[test]
fn a_429_with_retry_after_is_survived() {
    a_failing_account_is_tried_once_per_cooldown(Backend::Sqlite, Failure::RateLimited);
}

#[test]
fn a_500_is_survived() {
    a_failing_account_is_tried_once_per_cooldown(Backend::Sqlite, Failure::ServerError);
}

#[test]
fn a_refused_connection_is_survived() {
    a_failing_account_is_tried_once_per_cooldown(Backend::Sqlite, Failure::Refused);
}

#[test]
fn a_silent_upstream_is_survived() {
    a_failing_account_is_tried_once_per_cooldown(Backend::Sqlite, Failure::Silent);
}

fn rate_limited(reset_unix_s: i64) -> Reply {
    Reply::Raw {
        status: 429,
        headers: vec![format!("anthropic-ratelimit-unified-reset: {reset_unix_s}")],
        body: br#"{"type":"error","error":{"type":"rate_limit_error","message":"limit"}}"#.to_vec(),
    }
}

fn a_unified_reset_cools_until_then_and_the_account_serves_again(backend: Backend) {
    let env = [("RELAY__HEALTH__MAX_COOLDOWN", "1h")];
    let Some(fx) = Fixture::start(backend, ok(), &env) else {
        return;
    };
    // The seeded account goes first (priority 1); the other waits behind it.
    let patch = accounts::AccountPatch {
        priority: Some(1),
        ..Default::default()
    };
    fx.rt
        .block_on(accounts::update(&fx.db.db, fx.account_id, &patch))
        .unwrap();
    let healthy = Mock::start(ok());
    fx.add_account(&AccountSpec::new("b", &healthy.url()));
    settle();

    let reset = now_ms() / 1000 + 3;
    fx.mock.push(rate_limited(reset));
    assert_eq!(send(&fx, "first"), 200, "the other account answers");
    wait_for("the cooldown is stored", Duration::from_secs(5), || {
        let a = fx.account(fx.account_id);
        (a.state.as_str(), a.cooldown_until) == ("cooling", Some(reset * 1000))
    });
    assert_eq!(send(&fx, "during"), 200);
    assert_eq!(fx.mock.received().len(), 1, "not tried while cooling");
    // Once the reset passes, the account serves again without a restart.
    wait_for("the account serves again", Duration::from_secs(10), || {
        send(&fx, "after") == 200 && fx.mock.received().len() == 2
    });

    // A reset days away is clamped to health.max_cooldown.
    let far = now_ms() / 1000 + 5 * 86_400;
    fx.mock.push(rate_limited(far));
    let before = now_ms();
    assert_eq!(send(&fx, "far"), 200);
    wait_for(
        "the long cooldown is stored",
        Duration::from_secs(5),
        || fx.account(fx.account_id).cooldown_until.unwrap_or(0) > before + 60_000,
    );
    let until = fx.account(fx.account_id).cooldown_until.unwrap() - before;
    assert!(
        (3_595_000..=3_605_000).contains(&until),
        "clamped to 1 h: {until} ms"
    );
}
on_both!(
    a_unified_reset_cools_until_then_and_the_account_serves_again,
    a_unified_reset_cools_until_then_and_the_account_serves_again
);

fn repeated_failures_put_an_account_in_error_and_a_probe_brings_it_back(backend: Backend) {
    let env = [
        ("RELAY__HEALTH__ERROR_THRESHOLD", "2"),
        ("RELAY__HEALTH__COOLDOWN_5XX", "1s"),
        ("RELAY__HEALTH__PROBE_INTERVAL", "1s"),
        ("RELAY__SECURITY__ALLOW_PRIVATE_UPSTREAMS", "true"),
    ];
    let failing = Reply::Json {
        status: 500,
        body: r#"{"type":"error","error":{"type":"api_error","message":"down"}}"#.into(),
    };
    let Some(fx) = Fixture::start(backend, failing, &env) else {
        return;
    };
    let patch = accounts::AccountPatch {
        priority: Some(1),
        ..Default::default()
    };
    fx.rt
        .block_on(accounts::update(&fx.db.db, fx.account_id, &patch))
        .unwrap();
    let healthy = Mock::start(ok());
    fx.add_account(&AccountSpec::new("b", &healthy.url()));
    settle();

    let mut i = 0;
    wait_for(
        "two failures put the account in error",
        Duration::from_secs(20),
        || {
            i += 1;
            assert_eq!(send(&fx, &format!("r{i}")), 200);
            fx.account(fx.account_id).state == "error"
        },
    );
    let a = fx.account(fx.account_id);
    assert!(a.state_reason.contains("2 failures"), "{}", a.state_reason);
    // In error, the relay no longer sends it traffic; only probes reach it.
    let seen = fx.mock.received().len();
    for j in 0..5 {
        assert_eq!(send(&fx, &format!("e{j}")), 200);
    }
    let probes = &fx.mock.received()[seen..];
    assert!(
        probes
            .iter()
            .all(|r| String::from_utf8_lossy(&r.body).contains(r#""max_tokens":1"#)),
        "only probes reach an account in error"
    );

    // The upstream heals: one cheap probe brings the account back.
    fx.mock.set_fallback(ok());
    let healed_at = fx.mock.received().len();
    wait_for(
        "the probe brings the account back",
        Duration::from_secs(20),
        || fx.account(fx.account_id).state == "active",
    );
    let after = &fx.mock.received()[healed_at..];
    assert_eq!(after.len(), 1, "one probe request");
    let probe = String::from_utf8_lossy(&after[0].body);
    assert!(probe.contains(r#""max_tokens":1"#), "{probe}");
    settle();
    assert_eq!(send(&fx, "back"), 200);
    assert_eq!(
        fx.mock.received().len(),
        healed_at + 2,
        "it serves relay traffic again"
    );
}
on_both!(
    repeated_failures_put_an_account_in_error_and_a_probe_brings_it_back,
    repeated_failures_put_an_account_in_error_and_a_probe_brings_it_back
);
