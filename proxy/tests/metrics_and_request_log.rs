//! Observability (SPEC §8): after a mix of relayed requests (a success, a stream, an upstream
//! 529 failed over to a second account, an unknown key, a client that leaves mid-stream, an
//! unpriced model) `/metrics` counts each of them in the series of `deploy/metrics.txt`,
//! exports every series of that list, passes `promtool check metrics`, and names every metric
//! the Grafana dashboard queries; the JSON request log has one parseable line per request and
//! none of the keys, secrets or texts used.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::client;
use common::fixture::{wait_for, AccountSpec, Backend, Fixture, ACCOUNT_SECRET, CLIENT_KEY};
use common::mock::{json_body, sse_body, Mock, Reply};
use common::scrape::{contract, declares, sample};

const PROMPT: &str = "PROMPT-TEXT-never-in-logs-4242";
const ANSWER: &str = "ANSWER-TEXT-never-in-logs-4343";
const MODEL: &str = "claude-haiku-4-5";

fn post(fx: &Fixture, key: &str, model: &str, stream: bool) -> reqwest::blocking::Response {
    post_in(fx, key, model, stream, None)
}

/// A request, in a Claude Code session when `session` is given.
fn post_in(
    fx: &Fixture,
    key: &str,
    model: &str,
    stream: bool,
    session: Option<&str>,
) -> reqwest::blocking::Response {
    let body = format!(
        r#"{{"model":"{model}","stream":{stream},"max_tokens":5,"messages":[{{"role":"user","content":"{PROMPT}"}}]}}"#
    );
    let mut req = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", key)
        .body(body);
    if let Some(s) = session {
        req = req.header("x-claude-code-session-id", s);
    }
    req.send().unwrap()
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/install-test-deps.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

fn dashboard_metrics() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .current_dir(&root)
        .args([
            "scripts/check-metric-refs.py",
            "--known",
            "deploy/metrics.txt",
            "--dashboard",
            "deploy/grafana/relay-dashboard.json",
            "--list",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("deploy/grafana/relay-dashboard.json:"))
        .unwrap_or_else(|| panic!("no dashboard line in {text}"));
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// A relay after the mix of requests, with what must stay alive while it is scraped.
struct Mixed {
    fx: Fixture,
    _backup: Mock,
    _idle: std::net::TcpStream,
}

/// Starts a relay with a second account and sends it the mix of requests.
fn relay_after_a_mix_of_requests() -> Mixed {
    let ok = Reply::Json {
        status: 200,
        body: json_body(MODEL, 10, 5, ANSWER),
    };
    let env = [
        ("RELAY__LOG__FORMAT", "json"),
        ("RELAY__LOG__LEVEL", "info"),
    ];
    let fx = Fixture::start(Backend::Sqlite, ok.clone(), &env).unwrap();
    let backup = Mock::start(ok);
    let mut spec = AccountSpec::new("backup", &backup.url());
    spec.priority = 200;
    fx.add_account(&spec);
    wait_for(
        "the second account is in the snapshot",
        Duration::from_secs(10),
        || {
            sample(
                &fx.relay.metrics(),
                "relay_account_state",
                &[("account", "backup")],
            ) == 1.0
        },
    );

    // A success, and a stream, in one session (pinned by the first, a sticky hit for the
    // second).
    let session = Some("metrics-session-1");
    assert_eq!(
        post_in(&fx, CLIENT_KEY, MODEL, false, session).status(),
        200
    );
    fx.mock.push(Reply::Sse {
        body: sse_body(MODEL, 20, 7, 30, 4, 2, ANSWER),
        min: 1,
        max: 7,
        pause: Duration::ZERO,
    });
    let r = post_in(&fx, CLIENT_KEY, MODEL, true, session);
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("message_stop"));
    // An unknown key.
    assert_eq!(
        post(&fx, "sk-relay-NoSuchKey0000", MODEL, false).status(),
        401
    );
    // An unpriced model.
    fx.mock.push(Reply::Json {
        status: 200,
        body: json_body("mystery-model-x", 3, 3, ANSWER),
    });
    assert_eq!(
        post(&fx, CLIENT_KEY, "mystery-model-x", false).status(),
        200
    );
    // A client that leaves mid-stream.
    let body = sse_body(MODEL, 8, 9, 0, 0, 0, ANSWER);
    let cut = body.find("event: content_block_delta").unwrap();
    fx.mock.push(Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_secs(2), body[cut..].to_string()),
        ],
    });
    let r = post(&fx, CLIENT_KEY, MODEL, true);
    assert_eq!(r.status(), 200);
    drop(r);
    // A 529 failed over to the second account.
    fx.mock.push(Reply::Json {
        status: 529,
        body: r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            .into(),
    });
    assert_eq!(post(&fx, CLIENT_KEY, MODEL, false).status(), 200);

    // An idle client connection, open while the scrape counts them.
    let addr = fx.relay.base.trim_start_matches("http://").to_string();
    let idle = std::net::TcpStream::connect(&addr).unwrap();
    wait_for(
        "the idle connection is counted",
        Duration::from_secs(5),
        || sample(&fx.relay.metrics(), "relay_connections_open", &[]) >= 1.0,
    );
    assert_eq!(
        fx.wait_rows(5).len(),
        5,
        "one row per authenticated request"
    );
    Mixed {
        fx,
        _backup: backup,
        _idle: idle,
    }
}

#[test]
fn a_mix_of_requests_is_counted_in_every_series_and_logged_without_secrets() {
    let Mixed { fx, .. } = &relay_after_a_mix_of_requests();
    let rows = fx.rows();
    let m = fx.relay.metrics();
    let group = fx
        .rt
        .block_on(relay_shared::db::groups::ensure_default(&fx.db.db))
        .unwrap()
        .name;
    let g = group.as_str();
    let count = |name: &str, labels: &[(&str, &str)]| sample(&m, name, labels);
    assert_eq!(count("relay_requests_total", &[]), 6.0, "{m}");
    assert_eq!(
        count(
            "relay_requests_total",
            &[
                ("status_class", "2xx"),
                ("outcome", "ok"),
                ("group", g),
                ("model", MODEL)
            ]
        ),
        3.0,
        "{m}"
    );
    assert_eq!(
        count(
            "relay_requests_total",
            &[("status_class", "4xx"), ("group", "")]
        ),
        1.0
    );
    assert_eq!(
        count("relay_requests_total", &[("outcome", "client_closed")]),
        1.0,
        "{m}"
    );
    assert_eq!(
        count("relay_requests_total", &[("model", "other")]),
        1.0,
        "unpriced: {m}"
    );
    assert_eq!(count("relay_unpriced_requests_total", &[]), 1.0);
    let attempts = |account: &str, result: &str| {
        count(
            "relay_upstream_attempts_total",
            &[("account", account), ("result", result)],
        )
    };
    assert_eq!(
        (
            attempts("mock", "ok"),
            attempts("mock", "server_error"),
            attempts("backup", "ok")
        ),
        (4.0, 1.0, 1.0),
        "{m}"
    );
    assert_eq!(count("relay_failovers_total", &[("group", g)]), 1.0);
    assert_eq!(
        (
            count("relay_sticky_total", &[("result", "hit")]),
            count("relay_sticky_total", &[("result", "miss")])
        ),
        (1.0, 1.0),
        "{m}"
    );
    assert_eq!(
        count("relay_tokens_total", &[("type", "input"), ("model", MODEL)]),
        10.0 + 20.0 + 8.0 + 10.0
    );
    assert_eq!(
        count(
            "relay_tokens_total",
            &[("type", "cache_write_5m"), ("model", MODEL)]
        ),
        4.0
    );
    assert_eq!(
        count(
            "relay_tokens_total",
            &[("type", "cache_write_1h"), ("model", MODEL)]
        ),
        2.0
    );
    assert_eq!(
        count(
            "relay_cache_read_tokens_total",
            &[("account", "mock"), ("group", g)]
        ),
        30.0
    );
    assert_eq!(
        count(
            "relay_cache_write_tokens_total",
            &[("account", "mock"), ("group", g)]
        ),
        6.0
    );
    assert_eq!(
        count(
            "relay_input_tokens_total",
            &[("account", "backup"), ("group", g)]
        ),
        10.0
    );
    let cost: i64 = rows.iter().map(|r| r.record.cost_micro_usd).sum();
    assert_eq!(count("relay_cost_micro_usd_total", &[]), cost as f64);
    assert_eq!(
        count(
            "relay_request_duration_seconds_count",
            &[("stream", "true")]
        ),
        2.0
    );
    assert_eq!(
        count(
            "relay_request_duration_seconds_count",
            &[("stream", "false")]
        ),
        3.0
    );
    assert_eq!(count("relay_ttfb_seconds_count", &[]), 5.0);
    assert_eq!(count("relay_overhead_seconds_count", &[]), 5.0);
    assert_eq!(count("relay_inflight_requests", &[]), 0.0);
    assert_eq!(
        count(
            "relay_account_state",
            &[("account", "mock"), ("state", "cooling")]
        ),
        1.0
    );
    assert!(count("relay_account_cooldown_seconds", &[("account", "mock")]) > 0.0);
    assert_eq!(count("relay_usage_dropped_rows_total", &[]), 0.0);
    assert_eq!(count("relay_redis_up", &[]), 1.0, "no redis.url: never 0");
    assert_eq!(
        count(
            "relay_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(count("relay_snapshot_age_seconds", &[]) < 5.0);

    for (name, kind) in contract() {
        assert!(
            declares(&m, &name, &kind),
            "{name} ({kind}) is not exported:\n{m}"
        );
    }
    let (clean, said) = promtool_check(&m);
    assert!(clean, "promtool check metrics: {said}");
    let log = fx.relay.stderr();
    let mut finished = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["message"] == "request finished" {
            finished += 1;
            for field in [
                "request_id",
                "key_id",
                "model",
                "status",
                "outcome",
                "attempts",
                "duration_ms",
                "cost_micro_usd",
                "input_tokens",
                "output_tokens",
            ] {
                assert!(!v["fields"][field].is_null(), "{field} missing: {line}");
            }
        }
    }
    assert_eq!(finished, 5, "one line per request with a row:\n{log}");
    for secret in [
        CLIENT_KEY,
        ACCOUNT_SECRET,
        "sk-ant-backup-secret",
        PROMPT,
        ANSWER,
    ] {
        assert!(!log.contains(secret), "the log holds {secret}");
    }
}

#[test]
fn every_metric_the_grafana_dashboard_queries_is_exported_by_a_live_relay() {
    let Mixed { fx, .. } = &relay_after_a_mix_of_requests();
    let m = fx.relay.metrics();
    let names = dashboard_metrics();
    assert!(names.len() > 20, "the dashboard names {names:?}");
    for name in names {
        assert!(
            m.contains(&format!("# TYPE {name} ")),
            "the dashboard queries {name}, which the relay does not export"
        );
    }
}
