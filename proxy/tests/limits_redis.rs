//! The Redis limiter (SPEC §4, §10) against a real Redis: every window with an injected clock
//! (midnight in the configured zone, Monday, the first of the month, the rolling five hours,
//! the minute), and a relay whose Redis stops mid-traffic: requests keep succeeding on local
//! counters, `/ready` says so (still 200), and when Redis returns the counters agree again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::client;
use common::fixture::{wait_for, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};
use common::redis::{command, OwnRedis};
use relay_proxy::limits::memory::MemoryLimiter;
use relay_proxy::limits::redis::{RedisLimiter, Shared};
use relay_proxy::limits::{KeyLimits, Limiter, Refusal, SpendLimit};
use relay_shared::cache::Keys;
use relay_shared::db::api_keys::ApiKeyPatch;
use relay_shared::limit_windows::{self, Window};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn at(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

/// Polls `admit` (the spend is written to Redis off the request path) until it gives `want`.
async fn admitted_when(
    l: &Shared,
    key: i64,
    limits: &KeyLimits,
    now: i64,
    want: bool,
) -> Option<Refusal> {
    for _ in 0..100 {
        let r = l.admit(key, limits, None, now).await;
        if r.is_ok() == want {
            return r.err();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("key {key} at {now}: admitted should be {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_window_with_an_injected_clock() {
    let Some(url) = common::redis::shared() else {
        return;
    };
    let prefix = common::redis::prefix("windows");
    let memory = MemoryLimiter::new(TZ, Duration::from_secs(3600));
    let r = RedisLimiter::start(
        &url,
        &prefix,
        memory,
        Duration::from_secs(30),
        Duration::from_secs(3600),
    )
    .unwrap();
    for _ in 0..200 {
        if r.is_up() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(r.is_up(), "Redis at {url} answers");
    let l = Shared(Arc::clone(&r));

    // Day: 23:00 in Shanghai, $5 spent of $5; a new day at midnight there (16:00 UTC).
    let daily = KeyLimits {
        daily: 5_000_000,
        ..KeyLimits::default()
    };
    let evening = at("2026-12-02T15:00:00Z");
    assert!(l.admit(1, &daily, None, evening).await.is_ok());
    l.spent(1, 5_000_000, evening);
    let refusal = admitted_when(&l, 1, &daily, evening + 1, false)
        .await
        .unwrap();
    let Refusal::Spend {
        which,
        spent,
        resets_at,
        ..
    } = &refusal
    else {
        panic!("{refusal:?}")
    };
    assert_eq!(*which, SpendLimit::Calendar(Window::Day));
    assert_eq!(*spent, 5_000_000);
    assert_eq!(*resets_at, Some(at("2026-12-02T16:00:00Z")));
    assert!(l
        .admit(1, &daily, None, at("2026-12-02T16:00:00Z"))
        .await
        .is_ok());

    // Week (Monday midnight there) and month (the first there).
    let wed_noon = at("2026-12-02T04:00:00Z");
    l.spent(2, 3_000_000, wed_noon);
    let weekly = KeyLimits {
        weekly: 3_000_000,
        ..KeyLimits::default()
    };
    admitted_when(&l, 2, &weekly, wed_noon, false).await;
    let sunday_late = at("2026-12-06T15:59:59Z");
    assert!(l.admit(2, &weekly, None, sunday_late).await.is_err());
    assert!(l.admit(2, &weekly, None, sunday_late + 1000).await.is_ok());
    let monthly = KeyLimits {
        monthly: 3_000_000,
        ..KeyLimits::default()
    };
    assert!(l
        .admit(2, &monthly, None, at("2026-12-31T15:59:00Z"))
        .await
        .is_err());
    assert!(l
        .admit(2, &monthly, None, at("2026-12-31T16:00:00Z"))
        .await
        .is_ok());

    // The rolling five hours: refused four hours later, free once the spend ages out.
    let five = KeyLimits {
        five_hours: 3_000_000,
        ..KeyLimits::default()
    };
    l.spent(3, 3_000_000, wed_noon);
    let r5 = admitted_when(&l, 3, &five, wed_noon + 4 * 3_600_000, false)
        .await
        .unwrap();
    let Refusal::Spend { resets_at, .. } = r5 else {
        panic!("{r5:?}")
    };
    let reset = resets_at.unwrap();
    assert!(reset > wed_noon + 4 * 3_600_000 && reset <= wed_noon + 5 * 3_600_000 + 300_000);
    assert!(l.admit(3, &five, None, reset).await.is_ok());

    // The minute: three admissions, the fourth waits for the first to leave it.
    let rpm = KeyLimits {
        rpm: 3,
        ..KeyLimits::default()
    };
    let t = at("2026-12-02T08:00:00Z");
    for i in 0..3 {
        assert!(l.admit(4, &rpm, None, t + i).await.is_ok());
    }
    match l.admit(4, &rpm, None, t + 10).await {
        Err(Refusal::Rpm { retry_at, limit: 3 }) => assert_eq!(retry_at, t + 60_000),
        other => panic!("{other:?}"),
    }
    assert!(l.admit(4, &rpm, None, t + 60_001).await.is_ok());

    // The job lock: one holder at a time; the holder renews it.
    let ttl = Duration::from_secs(5);
    assert!(r.job_lock("probe", "one", ttl).await);
    assert!(!r.job_lock("probe", "two", ttl).await, "held by another");
    assert!(
        r.job_lock("probe", "one", ttl).await,
        "renewed by its holder"
    );

    // Every key written carries the prefix.
    let total = Keys::new(&prefix).spend_total(1);
    assert_eq!(command(&url, &["GET", &total]).as_deref(), Some("5000000"));
}

fn day_spend(url: &str, prefix: &str, key_id: i64) -> i64 {
    let id = limit_windows::span(Window::Day, relay_shared::db::now_ms(), TZ).id;
    let k = Keys::new(prefix).spend_window(key_id, 'd', id);
    command(url, &["GET", &k]).map_or(0, |v| v.parse().unwrap())
}

/// The sum of the rolling five-hour buckets of `key_id` in Redis.
fn five_hour_spend(url: &str, prefix: &str, key_id: i64) -> i64 {
    let k = Keys::new(prefix).spend_five_hours(key_id);
    let sum = "local s = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do s = s + tonumber(v) end return s";
    command(url, &["EVAL", sum, "1", &k]).map_or(0, |v| v.parse().unwrap())
}

fn ready(fx: &Fixture) -> (u16, serde_json::Value) {
    let r = client().get(fx.url("/ready")).send().unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

fn post(fx: &Fixture) -> u16 {
    client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn redis_stopped_mid_traffic_then_back() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let prefix = common::redis::prefix("outage");
    let env = [
        ("RELAY__REDIS__URL", url.as_str()),
        ("RELAY__REDIS__KEY_PREFIX", prefix.as_str()),
    ];
    // $3 a request against a $100 daily limit.
    let key = ApiKeyPatch {
        daily_limit_micro_usd: Some(100_000_000),
        rpm_limit: Some(1000),
        ..Default::default()
    };
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 1_000_000, 0, "ok"),
    };
    let fx = Fixture::start_with_key(Backend::Sqlite, reply, &env, &key).unwrap();
    wait_for("Redis up", Duration::from_secs(10), || {
        ready(&fx).1["redis"] == "up"
    });
    for _ in 0..2 {
        assert_eq!(post(&fx), 200);
    }
    wait_for("$6 in Redis", Duration::from_secs(5), || {
        day_spend(&url, &prefix, fx.key_id) == 6_000_000
    });

    redis.stop();
    for _ in 0..3 {
        assert_eq!(post(&fx), 200, "served on local counters");
    }
    wait_for("/ready reports Redis down", Duration::from_secs(5), || {
        let (status, body) = ready(&fx);
        status == 200 && body["redis"] == "down"
    });
    assert_eq!(post(&fx), 200);
    assert!(fx.relay.metrics().lines().any(|l| l == "relay_redis_up 0"));
    let log = fx.relay.stderr();
    assert_eq!(
        log.matches("Redis unreachable").count(),
        1,
        "logged once:\n{log}"
    );

    // Back, empty: the local counters go in again ($3 × 6 = $18).
    redis.resume();
    wait_for("Redis up again", Duration::from_secs(10), || {
        ready(&fx).1["redis"] == "up"
    });
    wait_for("$18 in Redis", Duration::from_secs(5), || {
        day_spend(&url, &prefix, fx.key_id) == 18_000_000
    });
    assert_eq!(
        five_hour_spend(&url, &prefix, fx.key_id),
        18_000_000,
        "the five hours too"
    );
    assert_eq!(post(&fx), 200);
    wait_for("$21 in Redis", Duration::from_secs(5), || {
        day_spend(&url, &prefix, fx.key_id) == 21_000_000
    });
}
