//! The hot path never waits on the database, and no usage row is lost (SPEC §5): with the
//! database cut while requests flow, requests keep succeeding; when it returns every row
//! arrives, and rows spilled at a shutdown during the outage arrive after the next start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client;
use common::fixture::{self, wait_rows, Backend, Fixture, CLIENT_KEY};
use common::forwarder::Forwarder;
use common::mock::{json_body, Mock, Reply};
use relay_shared::crypto::{generate_encryption_key, SecretBox};

fn send(base: &str) -> u16 {
    client()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn requests_succeed_through_a_database_outage_and_every_row_arrives() {
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
    let env = [
        ("RELAY__USAGE__BUFFER_ROWS", "10"),
        ("RELAY__DATABASE__CONNECT_TIMEOUT", "1s"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Fixture::launch(dir.path(), 1, &via_fwd, &enc_key, &env);

    // Traffic flows from a second thread while the database is cut and restored.
    let sent = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (base, sent, failed, stop) = (
            relay.base.clone(),
            sent.clone(),
            failed.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let status = send(&base);
                sent.fetch_add(1, Ordering::SeqCst);
                if status != 200 {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    fwd.cut();
    let cut_at = sent.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(4));
    let during = sent.load(Ordering::SeqCst) - cut_at;
    let ready = client()
        .get(format!("{}/ready", relay.base))
        .send()
        .unwrap()
        .status();
    assert_eq!(ready, 503, "/ready reports the outage");
    fwd.restore();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    traffic.join().unwrap();
    let total = sent.load(Ordering::SeqCst);
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed during the outage"
    );
    assert!(
        during >= 20,
        "traffic flowed during the outage ({during} requests)"
    );

    let rows = wait_rows(&rt, &db.db, total);
    assert_eq!(
        rows.len(),
        total,
        "every request has exactly one row once the database is back"
    );

    // Second outage, then a shutdown while it lasts: rows spill to the file…
    fwd.cut();
    for _ in 0..25 {
        assert_eq!(send(&relay.base), 200);
    }
    relay.stop();
    let spill = dir.path().join("data/usage-spill.jsonl");
    assert!(
        spill.exists(),
        "rows were spilled at shutdown; stderr:\n{}",
        relay.stderr()
    );
    // …and arrive after the next start, once the database is back.
    fwd.restore();
    let started = Instant::now();
    let mut again = Fixture::launch(dir.path(), 2, &via_fwd, &enc_key, &env);
    let rows = wait_rows(&rt, &db.db, total + 25);
    assert_eq!(
        rows.len(),
        total + 25,
        "spilled rows were replayed after {:?}",
        started.elapsed()
    );
    let mut ids: Vec<&str> = rows.iter().map(|r| r.record.request_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total + 25, "no row was written twice");
    again.stop();
}
