//! Two relay processes sharing one MariaDB and one Redis (SPEC §4, §10): rpm and concurrency
//! hold across both exactly; a session pinned by one is honoured by the other; an account
//! cooled by one is skipped by the other; a key disabled through one instance's admin API is
//! refused by both within a second; only one runs the recovery probe; a killed instance's
//! concurrency slots free within the lease time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::fixture::{wait_for, AccountSpec, Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, sse_body, Mock, Reply};
use common::{client, Relay};
use relay_shared::db::api_keys::ApiKeyPatch;
use relay_shared::db::{accounts, settings};

const BODY: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#;

struct Pair {
    fx: Fixture,
    second: Relay,
    _dir: tempfile::TempDir,
    redis: String,
    prefix: String,
}

impl Pair {
    /// Relay one (with the fixture's database and mock) and relay two, both on `redis`.
    fn start(name: &str, reply: Reply, key: &ApiKeyPatch, env: &[(&str, &str)]) -> Option<Pair> {
        let redis = common::redis::shared()?;
        let prefix = common::redis::prefix(name);
        let mut all = vec![
            ("RELAY__REDIS__URL", redis.as_str()),
            ("RELAY__REDIS__KEY_PREFIX", prefix.as_str()),
        ];
        all.extend_from_slice(env);
        let fx = Fixture::start_with_key(Backend::MySql, reply, &all, key)?;
        let dir = tempfile::tempdir().unwrap();
        let second = Fixture::launch(dir.path(), 1, &fx.db.url, &fx.enc_key, &all);
        let pair = Pair {
            fx,
            second,
            _dir: dir,
            redis,
            prefix,
        };
        for base in pair.bases() {
            wait_for(
                "Redis reported up on /ready",
                Duration::from_secs(10),
                || ready(&base)["redis"] == "up",
            );
        }
        Some(pair)
    }

    fn bases(&self) -> [String; 2] {
        [self.fx.relay.base.clone(), self.second.base.clone()]
    }
}

fn ready(base: &str) -> serde_json::Value {
    client()
        .get(format!("{base}/ready"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn post(base: &str, session: Option<&str>) -> u16 {
    post_rid(
        base,
        session,
        &format!("req-{:016x}", rand::random::<u64>()),
    )
}

fn post_rid(base: &str, session: Option<&str>, rid: &str) -> u16 {
    let mut r = client()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .header("x-request-id", rid)
        .body(BODY);
    if let Some(s) = session {
        r = r.header("x-claude-code-session-id", s);
    }
    r.send().unwrap().status().as_u16()
}

/// `n` requests at once, alternating between the two relays.
fn burst(bases: &[String; 2], n: usize) -> Vec<u16> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (base, out) = (bases[i % 2].clone(), out.clone());
            std::thread::spawn(move || {
                let s = post(&base, None);
                out.lock().unwrap().push(s);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    Arc::try_unwrap(out).ok().unwrap().into_inner().unwrap()
}

fn ok() -> Reply {
    Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 2, 3, "ok"),
    }
}

fn slow_stream(hold: Duration) -> Reply {
    let body = sse_body("claude-sonnet-4-5", 10, 20, 0, 0, 0, "slow");
    let cut = body.find("event: content_block_delta").unwrap();
    Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (hold, body[cut..].to_string()),
        ],
    }
}

#[test]
fn rpm_and_concurrency_hold_across_two_instances() {
    let key = ApiKeyPatch {
        rpm_limit: Some(30),
        ..Default::default()
    };
    let Some(p) = Pair::start("rpm", ok(), &key, &[]) else {
        return;
    };
    let statuses = burst(&p.bases(), 100);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 30);
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
    assert_eq!(p.fx.mock.received().len(), 30);

    let key = ApiKeyPatch {
        concurrency_limit: Some(3),
        ..Default::default()
    };
    let Some(p) = Pair::start("conc", slow_stream(Duration::from_secs(2)), &key, &[]) else {
        return;
    };
    let statuses = burst(&p.bases(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3);
    assert_eq!(p.fx.mock.load.max.load(Ordering::SeqCst), 3);
    // Given back when they end, on both.
    for base in p.bases() {
        wait_for("a slot", Duration::from_secs(5), || {
            post(&base, None) == 200
        });
    }
}

#[test]
fn a_pin_made_by_one_is_honoured_by_the_other_and_a_cooled_account_is_skipped() {
    let Some(p) = Pair::start("pin", ok(), &ApiKeyPatch::default(), &[]) else {
        return;
    };
    let other = Mock::start(ok());
    let b = p.fx.add_account(&AccountSpec::new("b", &other.url()));
    let [one, two] = p.bases();
    for base in [&one, &two] {
        let before = other.received().len();
        wait_for("the relay uses account b", Duration::from_secs(10), || {
            post(base, None) == 200 && other.received().len() > before
        });
    }
    // The rows of these requests, by request id, newest first.
    let rows_of = |prefix: &str, n: usize| {
        let mut found = Vec::new();
        wait_for("their usage rows", Duration::from_secs(20), || {
            found =
                p.fx.rows()
                    .into_iter()
                    .filter(|r| r.record.request_id.starts_with(prefix))
                    .collect();
            found.len() >= n
        });
        found
    };
    assert_eq!(post_rid(&one, Some("session-1"), "first-0"), 200);
    let pinned = rows_of("first-", 1)[0].record.account_id.unwrap();
    for i in 0..10 {
        assert_eq!(post_rid(&two, Some("session-1"), &format!("two-{i}")), 200);
    }
    let on_two = rows_of("two-", 10);
    assert!(on_two.iter().all(|r| r.record.account_id == Some(pinned)));
    assert!(on_two.iter().all(|r| r.record.sticky), "the pin was hit");

    // Relay one sees the pinned account answer 429 for a minute: it cools it and fails over;
    // relay two then skips it for requests of no session (which would otherwise land on either).
    let (pinned_mock, other_id) = if pinned == b {
        (&other, p.fx.account_id)
    } else {
        (&p.fx.mock, b)
    };
    pinned_mock.set_fallback(Reply::Raw {
        status: 429,
        headers: vec!["retry-after: 60".into()],
        body: br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#
            .to_vec(),
    });
    assert_eq!(post(&one, Some("session-1")), 200);
    let seen = pinned_mock.received().len();
    wait_for("the account is cooling", Duration::from_secs(5), || {
        p.fx.account(pinned).state == "cooling"
    });
    // Within a second of the change, relay two has it.
    std::thread::sleep(Duration::from_secs(1));
    for i in 0..10 {
        assert_eq!(post_rid(&two, None, &format!("cooled-{i}")), 200);
    }
    assert_eq!(
        pinned_mock.received().len(),
        seen,
        "relay two never tried it"
    );
    assert!(rows_of("cooled-", 10)
        .iter()
        .all(|r| r.record.account_id == Some(other_id) && r.record.attempts == 1));
}

#[test]
fn a_key_disabled_through_one_admin_api_is_refused_by_both_within_a_second() {
    let Some(p) = Pair::start("disable", ok(), &ApiKeyPatch::default(), &[]) else {
        return;
    };
    let [one, two] = p.bases();
    assert_eq!((post(&one, None), post(&two, None)), (200, 200));
    // The key's owner switches it off through relay one's admin API.
    let hash = relay_shared::crypto::hash_password("alice-password-for-tests").unwrap();
    p.fx.rt
        .block_on(relay_shared::db::users::set_password(
            &p.fx.db.db,
            p.fx.user_id,
            &hash,
            false,
        ))
        .unwrap();
    let login: serde_json::Value = client()
        .post(format!("{one}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "alice", "password": "alice-password-for-tests"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["token"].as_str().unwrap_or_else(|| panic!("{login}"));
    let r = client()
        .put(format!("{one}/api/v1/api-keys/{}", p.fx.key_id))
        .bearer_auth(token)
        .json(&serde_json::json!({"enabled": false}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
    let changed = Instant::now();
    wait_for("both relays refuse the key", Duration::from_secs(1), || {
        post(&one, None) == 401 && post(&two, None) == 401
    });
    assert!(changed.elapsed() < Duration::from_secs(1));
}

#[test]
fn only_one_instance_runs_the_recovery_probe() {
    let env = [
        ("RELAY__HEALTH__PROBE_INTERVAL", "1s"),
        ("RELAY__SECURITY__ALLOW_PRIVATE_UPSTREAMS", "true"),
    ];
    let failing = Reply::Json {
        status: 500,
        body: r#"{"type":"error","error":{"type":"api_error","message":"down"}}"#.into(),
    };
    let Some(p) = Pair::start("probe", failing, &ApiKeyPatch::default(), &env) else {
        return;
    };
    let db = &p.fx.db.db;
    p.fx.rt
        .block_on(accounts::set_state(
            db,
            p.fx.account_id,
            "error",
            "test",
            None,
            Some("down"),
        ))
        .unwrap();
    p.fx.rt.block_on(settings::bump_change_version(db)).unwrap();
    let probes = || p.fx.mock.received().len();
    wait_for("a first probe", Duration::from_secs(10), || probes() >= 1);
    let first = Instant::now();
    wait_for("six probes", Duration::from_secs(20), || probes() >= 6);
    // One prober: five intervals of a second between the first and the sixth (two would
    // have sent six in about half that).
    assert!(
        first.elapsed() >= Duration::from_millis(3_500),
        "six probes in {:?}",
        first.elapsed()
    );
    let holders: Vec<bool> = [p.fx.relay.stderr(), p.second.stderr()]
        .iter()
        .map(|log| {
            log.lines()
                .any(|l| l.contains("recovery probe job lock") && l.contains("held=true"))
        })
        .collect();
    assert_eq!(
        holders.iter().filter(|h| **h).count(),
        1,
        "exactly one holds the lock"
    );
    let lock = format!("{}relay:lock:probe", p.prefix);
    assert!(common::redis::command(&p.redis, &["GET", &lock]).is_some());
}

#[test]
fn a_killed_instance_frees_its_slots_within_the_lease_time() {
    let key = ApiKeyPatch {
        concurrency_limit: Some(2),
        ..Default::default()
    };
    let env = [("RELAY__REDIS__LEASE_TTL", "2s")];
    let Some(mut p) = Pair::start("lease", slow_stream(Duration::from_secs(60)), &key, &env) else {
        return;
    };
    let one = p.fx.relay.base.clone();
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let one = one.clone();
            std::thread::spawn(move || {
                let r = reqwest::blocking::Client::new()
                    .post(format!("{one}/v1/messages"))
                    .header("x-api-key", CLIENT_KEY)
                    .body(BODY)
                    .send();
                r.map(|r| r.status().as_u16()).ok()
            })
        })
        .collect();
    wait_for("two streams at the mock", Duration::from_secs(10), || {
        p.fx.mock.load.now.load(Ordering::SeqCst) == 2
    });
    let two = p.second.base.clone();
    p.fx.mock.set_fallback(ok());
    assert_eq!(post(&two, None), 429, "both slots are held");
    // Past the lease time the live instance has renewed them.
    std::thread::sleep(Duration::from_millis(3_000));
    assert_eq!(post(&two, None), 429, "renewed while the streams run");
    p.fx.relay.kill();
    let killed = Instant::now();
    wait_for("a slot is free again", Duration::from_secs(5), || {
        post(&two, None) == 200
    });
    assert!(killed.elapsed() < Duration::from_secs(5));
    for s in streams {
        let _ = s.join();
    }
}
