//! Key limits on one instance, no Redis (SPEC §4): `concurrency_limit` and `rpm_limit` hold
//! exactly under bursts, a spend limit refuses once reached (429 `rate_limit_error` naming
//! it, `retry-after`, `x-should-retry: false`), and a restart keeps the day's spend (the
//! counters are rebuilt from the database). The calendar windows themselves (midnight in the
//! configured zone, Monday, the first of the month, the rolling five hours) are checked with
//! an injected clock in the limiter's unit tests and in `limits_redis.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Reply};
use relay_shared::db::api_keys::ApiKeyPatch;

const BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#;

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    should_retry: Option<String>,
    body: String,
    done: Instant,
}

fn send(fx: &Fixture) -> Answer {
    let r = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(BODY)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let retry_after = header("retry-after").map(|v| v.parse().unwrap());
    let should_retry = header("x-should-retry");
    let body = r.text().unwrap();
    Answer {
        status,
        retry_after,
        should_retry,
        body,
        done: Instant::now(),
    }
}

fn error_type(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["type"], "error", "{body}");
    v["error"]["type"].as_str().unwrap().to_string()
}

/// `n` requests at once, each on its own thread.
fn burst(fx: &Arc<Fixture>, n: usize) -> Vec<Answer> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (fx, out) = (fx.clone(), out.clone());
            std::thread::spawn(move || {
                let a = send(&fx);
                out.lock().unwrap().push(a);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Arc::try_unwrap(out).ok().unwrap().into_inner().unwrap()
}

fn slow_stream() -> Reply {
    let body = sse_body("claude-sonnet-4-5", 10, 20, 0, 0, 0, "slow");
    let cut = body.find("event: content_block_delta").unwrap();
    Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_millis(2_000), body[cut..].to_string()),
        ],
    }
}

#[test]
fn concurrency_limit_three_under_twenty_slow_streams() {
    let key = ApiKeyPatch {
        concurrency_limit: Some(3),
        ..Default::default()
    };
    let fx = Arc::new(Fixture::start_with_key(Backend::Sqlite, slow_stream(), &[], &key).unwrap());
    let answers = burst(&fx, 20);
    let ok: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!((ok.len(), refused.len()), (3, 17), "3 streams, 17 refusals");
    assert_eq!(
        fx.mock.load.max.load(Ordering::SeqCst),
        3,
        "never more than 3 at the mock"
    );
    assert_eq!(fx.mock.received().len(), 3);
    // Refused at once: every refusal came back before the first stream ended.
    let first_stream_end = ok.iter().map(|a| a.done).min().unwrap();
    assert!(refused.iter().all(|a| a.done < first_stream_end));
    for a in &refused {
        assert_eq!(error_type(&a.body), "rate_limit_error");
        assert!(a.body.contains("concurrency_limit"), "{}", a.body);
        assert_eq!(a.retry_after, Some(1));
        assert_ne!(
            a.should_retry.as_deref(),
            Some("false"),
            "a slot frees soon"
        );
    }
    // The slots are given back when the streams end.
    let a = send(&fx);
    assert_eq!(a.status, 200, "{}", a.body);
    let rows = fx.wait_rows(21);
    let limited = rows
        .iter()
        .filter(|r| r.record.route_reason == "key_limit" && r.record.status_code == 429)
        .count();
    assert_eq!(limited, 17, "each refusal is logged");
}

#[test]
fn rpm_limit_thirty_under_a_burst_of_a_hundred() {
    let key = ApiKeyPatch {
        rpm_limit: Some(30),
        ..Default::default()
    };
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "ok"),
    };
    let fx = Arc::new(Fixture::start_with_key(Backend::Sqlite, reply, &[], &key).unwrap());
    let mut answers = Vec::new();
    let waves: Vec<_> = (0..4)
        .map(|_| {
            let fx = fx.clone();
            std::thread::spawn(move || burst(&fx, 25))
        })
        .collect();
    for w in waves {
        answers.extend(w.join().unwrap());
    }
    let ok = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(ok, 30, "exactly rpm_limit succeed");
    assert_eq!(fx.mock.received().len(), 30);
    for a in answers.iter().filter(|a| a.status != 200) {
        assert_eq!(a.status, 429);
        assert_eq!(error_type(&a.body), "rate_limit_error");
        assert!(a.body.contains("rpm_limit"), "{}", a.body);
        let wait = a.retry_after.unwrap();
        assert!((1..=60).contains(&wait), "retry-after {wait}");
    }
}

fn daily_limit_holds_and_survives_a_restart(backend: Backend) {
    // Each answer costs $3 (a million input tokens of Sonnet 4.5); the limit is $5.
    let key = ApiKeyPatch {
        daily_limit_micro_usd: Some(5_000_000),
        ..Default::default()
    };
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1_000_000, 0, "ok"),
    };
    let Some(mut fx) = Fixture::start_with_key(backend, reply, &[], &key) else {
        return;
    };
    assert_eq!(send(&fx).status, 200);
    fx.wait_rows(1);
    assert_eq!(send(&fx).status, 200, "$3 of $5 spent: still admitted");
    fx.wait_rows(2);
    let a = send(&fx);
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(error_type(&a.body), "rate_limit_error");
    assert!(a.body.contains("daily_limit_usd of $5.00"), "{}", a.body);
    assert!(a.body.contains("spent $6.00"), "{}", a.body);
    assert_eq!(a.should_retry.as_deref(), Some("false"));
    let wait = a.retry_after.unwrap();
    assert!(
        wait > 0 && wait <= 86_400,
        "until midnight in Asia/Shanghai: {wait}"
    );
    assert_eq!(
        fx.mock.received().len(),
        2,
        "the refused request never left"
    );
    fx.wait_rows(3);

    // A restart rebuilds today's spend from the database.
    fx.relay.stop();
    let (url, key_text) = (fx.db.url.clone(), fx.enc_key.clone());
    fx.relay = Fixture::launch(fx.dir.path(), 2, &url, &key_text, &[]);
    let a = send(&fx);
    assert_eq!(a.status, 429, "after the restart: {}", a.body);
    assert!(a.body.contains("spent $6.00"), "{}", a.body);
    assert_eq!(fx.mock.received().len(), 2);
}
on_both!(
    daily_limit_holds_and_survives_a_restart,
    daily_limit_holds_and_survives_a_restart
);
