//! No row is lost, not even on SIGKILL (SPEC §5): every row goes to the local journal as its
//! request finishes, with a start record (and checkpoints) for each request in flight. The
//! next start writes finished rows the database missed, and turns requests that never
//! finished into rows with outcome `relay_crashed` and the usage of their last checkpoint.
//! Each test kills the real `relay` binary with SIGKILL and starts it again on the same data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{self, wait_rows, Backend, Fixture, CLIENT_KEY};
use common::forwarder::Forwarder;
use common::mock::{json_body, sse_body, Mock, Reply};
use relay_shared::crypto::{generate_encryption_key, SecretBox};

/// What the journal under `data/` holds: request ids with a progress record that has input
/// tokens, and finished rows.
fn journal(dir: &Path) -> (HashSet<String>, usize) {
    let mut progress = HashSet::new();
    let mut finished = 0;
    let Ok(entries) = std::fs::read_dir(dir.join("data/usage-journal")) else {
        return (progress, finished);
    };
    for e in entries {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(p) = v.get("p") {
                if p["input_tokens"].as_i64().unwrap_or(0) > 0 {
                    progress.insert(p["request_id"].as_str().unwrap().to_string());
                }
            } else if v.get("f").is_some() {
                finished += 1;
            }
        }
    }
    (progress, finished)
}

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn killed_mid_stream_requests_become_relay_crashed_rows_with_their_usage(backend: Backend) {
    // The first events (message_start with the input usage) at once, the rest a minute later.
    let body = sse_body("claude-sonnet-4-5", 1200, 80, 300, 40, 0, "hello");
    let cut = body.find("event: content_block_delta").unwrap();
    let reply = Reply::Timed {
        parts: vec![
            (Duration::ZERO, body[..cut].to_string()),
            (Duration::from_secs(60), body[cut..].to_string()),
        ],
    };
    let Some(mut fx) = Fixture::start(backend, reply, &[]) else {
        return;
    };
    let url = fx.url("/v1/messages");
    let streams: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let resp = reqwest::blocking::Client::new()
                    .post(url)
                    .header("x-api-key", CLIENT_KEY)
                    .header("x-request-id", format!("stream-{i}"))
                    .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"stream":true,"messages":[]}"#)
                    .send();
                // The body never completes: the relay dies under it.
                resp.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let statuses: Vec<u16> = streams.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let dir = fx.relay.dir.clone();
    wait_for(
        "the 20 streams' usage is journaled",
        Duration::from_secs(20),
        || journal(&dir).0.len() == 20,
    );
    fx.relay.kill();
    assert!(
        fx.rows().is_empty(),
        "nothing reached the database before the kill"
    );

    let _again = Fixture::launch(&dir, 2, &fx.db.url, &fx.enc_key, &[]);
    let rows = wait_rows(&fx.rt, &fx.db.db, 20);
    assert_eq!(rows.len(), 20);
    for r in &rows {
        let r = &r.record;
        assert!(r.request_id.starts_with("stream-"), "{}", r.request_id);
        assert_eq!(r.outcome, "relay_crashed");
        assert_eq!(r.status_code, 200, "the stream had started");
        assert_eq!(
            (
                r.input_tokens,
                r.cache_read_input_tokens,
                r.cache_creation_5m_input_tokens
            ),
            (1200, 300, 40)
        );
        assert!(r.cost_micro_usd > 0);
        assert_eq!(r.account_id, Some(fx.account_id));
    }
    assert!(
        journal(&dir) == (HashSet::new(), 0),
        "the recovered journal was removed"
    );
}
on_both!(
    killed_mid_stream_requests_become_relay_crashed_rows_with_their_usage,
    killed_mid_stream_requests_become_relay_crashed_rows_with_their_usage
);

fn rows_finished_but_not_yet_written_survive_a_kill(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 7, 9, "ok"),
    };
    // Rows wait in memory for an hour: only the journal has them when the process dies.
    let env = [("RELAY__USAGE__FLUSH_INTERVAL", "1h")];
    let Some(mut fx) = Fixture::start(backend, reply, &env) else {
        return;
    };
    let http = client();
    for i in 0..10 {
        let resp = http
            .post(fx.url("/v1/messages"))
            .header("x-api-key", CLIENT_KEY)
            .header("x-request-id", format!("done-{i}"))
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let dir = fx.relay.dir.clone();
    wait_for("the 10 rows are journaled", Duration::from_secs(20), || {
        journal(&dir).1 == 10
    });
    fx.relay.kill();
    assert!(fx.rows().is_empty());
    let _again = Fixture::launch(&dir, 2, &fx.db.url, &fx.enc_key, &[]);
    let rows = wait_rows(&fx.rt, &fx.db.db, 10);
    assert_eq!(rows.len(), 10);
    for r in &rows {
        let r = &r.record;
        assert!(r.request_id.starts_with("done-"));
        assert_eq!((r.outcome.as_str(), r.status_code), ("ok", 200));
        assert_eq!((r.input_tokens, r.output_tokens), (7, 9));
    }
}
on_both!(
    rows_finished_but_not_yet_written_survive_a_kill,
    rows_finished_but_not_yet_written_survive_a_kill
);

#[test]
fn a_kill_during_a_database_outage_loses_no_row() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = fixture::open(&rt, Backend::MySql) else {
        return;
    };
    let enc_key = generate_encryption_key();
    let sb = SecretBox::from_key_text(&enc_key).unwrap();
    let mock = Mock::start(Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 3, 4, "ok"),
    });
    rt.block_on(fixture::seed(&db.db, &sb, &mock.url()));
    let fwd = Forwarder::start("127.0.0.1:3306".parse().unwrap());
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let via_fwd = format!("mysql://root@{}/{name}", fwd.addr);
    let dir = tempfile::tempdir().unwrap();
    // The default buffer: rows stay in memory during the outage.
    let env = [("RELAY__DATABASE__CONNECT_TIMEOUT", "1s")];
    let mut relay = Fixture::launch(dir.path(), 1, &via_fwd, &enc_key, &env);
    fwd.cut();
    let http = client();
    for i in 0..40 {
        let resp = http
            .post(format!("{}/v1/messages", relay.base))
            .header("x-api-key", CLIENT_KEY)
            .header("x-request-id", format!("outage-{i}"))
            .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
            .send()
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "the hot path never waits on the database"
        );
    }
    wait_for("the 40 rows are journaled", Duration::from_secs(20), || {
        journal(dir.path()).1 == 40
    });
    relay.kill();
    fwd.restore();
    let _again = Fixture::launch(dir.path(), 2, &via_fwd, &enc_key, &env);
    let rows = wait_rows(&rt, &db.db, 40);
    assert_eq!(rows.len(), 40);
    assert!(rows
        .iter()
        .all(|r| r.record.request_id.starts_with("outage-") && r.record.outcome == "ok"));
}
