//! Upkeep off the hot path (SPEC §5): raw usage rows older than `usage.retention_days` are
//! deleted while the daily roll-ups keep them, and `last_used_at` of the key and the account
//! that served a request is set from the usage rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::client;
use common::fixture::{Backend, Fixture, CLIENT_KEY};
use common::mock::{json_body, Reply};
use relay_shared::db::usage::{insert_batch, UsageRecord};
use relay_shared::db::usage_stats::{daily_totals, RollupFilter};
use relay_shared::db::{accounts, api_keys, now_ms};

fn old_rows_go_and_last_used_times_are_kept(backend: Backend) {
    let reply = Reply::Json {
        status: 200,
        body: json_body("claude-sonnet-4-5", 5, 6, "ok"),
    };
    let env = [("RELAY__USAGE__RETENTION_DAYS", "2")];
    let Some(fx) = Fixture::start(backend, reply, &env) else {
        return;
    };
    let db = &fx.db.db;
    let old: Vec<UsageRecord> = (0..30)
        .map(|i| UsageRecord {
            request_id: format!("old-{i}"),
            row_key: 7_000 + i,
            created_at: now_ms() - 3 * 86_400_000 - i * 1_000,
            user_id: fx.user_id,
            api_key_id: fx.key_id,
            group_id: 1,
            status_code: 200,
            outcome: "ok".into(),
            model: "claude-sonnet-4-5".into(),
            input_tokens: 10,
            ..UsageRecord::default()
        })
        .collect();
    fx.rt
        .block_on(insert_batch(db, &old, chrono_tz::UTC))
        .unwrap();
    let resp = client()
        .post(fx.url("/v1/messages"))
        .header("x-api-key", CLIENT_KEY)
        .body(r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[]}"#)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);

    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let rows = fx.rows();
        let key = fx.rt.block_on(api_keys::get(db, fx.key_id)).unwrap();
        let account = fx.rt.block_on(accounts::get(db, fx.account_id)).unwrap();
        let done = rows.len() == 1
            && rows[0].record.request_id != "old-0"
            && key.last_used_at == Some(rows[0].record.created_at)
            && account.last_used_at == Some(rows[0].record.created_at);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} rows, key last used {:?}, account {:?}",
            rows.len(),
            key.last_used_at,
            account.last_used_at
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let days = fx
        .rt
        .block_on(daily_totals(
            db,
            &RollupFilter::default(),
            "0000-01-01",
            "9999-12-31",
        ))
        .unwrap();
    let requests: i64 = days.iter().map(|d| d.totals.requests).sum();
    assert_eq!(requests, 31, "the daily roll-ups keep the deleted rows");
}
on_both!(
    old_rows_go_and_last_used_times_are_kept,
    old_rows_go_and_last_used_times_are_kept
);
