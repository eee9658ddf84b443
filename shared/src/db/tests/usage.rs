//! Tests of `db::usage`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::db::usage_sql::{shaped_chunks, SHAPES};
use crate::db::usage_stats::{UsageTotals, COUNTERS};
use crate::db_test;
use std::collections::BTreeMap;

/// 2026-01-01T00:00:00Z.
pub(crate) const BASE: i64 = 1_767_225_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;
const MODELS: [&str; 3] = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"];

/// Forty requests over 2026-01-01 and 2026-01-02 (UTC): three keys of two users, accounts
/// 1-3 and none, three models, and ok / upstream_error / client_closed outcomes.
pub(crate) fn sample_records() -> Vec<UsageRecord> {
    (0..40).map(sample).collect()
}

pub(crate) fn sample(i: i64) -> UsageRecord {
    let key = 1 + i % 3;
    let (outcome, status, error) = if i % 5 == 4 {
        ("upstream_error", 529, Some("overloaded_error".to_string()))
    } else if i % 7 == 6 {
        ("client_closed", 499, None)
    } else {
        ("ok", 200, None)
    };
    UsageRecord {
        request_id: format!("req-{i:05}"),
        row_key: 1_000_000 + i,
        created_at: BASE + i * 71 * 60_000 + 13_000,
        user_id: if key == 3 { 11 } else { 10 },
        api_key_id: key,
        group_id: 100,
        account_id: (i % 4 != 0).then_some(i % 4),
        attempts: 1 + i % 2,
        route_reason: "priority".into(),
        sticky: i % 3 == 0,
        model: MODELS[(i as usize / 2) % 3].into(),
        upstream_model: format!("{}-20250929", MODELS[(i as usize / 2) % 3]),
        stream: i % 2 == 0,
        status_code: status,
        outcome: outcome.into(),
        error_type: error,
        input_tokens: 100 + i * 7,
        output_tokens: 20 + i * 3,
        cache_read_input_tokens: i * 11,
        cache_creation_5m_input_tokens: (i % 3) * 13,
        cache_creation_1h_input_tokens: (i % 2) * 17,
        cost_micro_usd: 1_000 + i * 37,
        duration_ms: 500 + i,
        ttfb_ms: (i % 2 == 0).then_some(100 + i),
        client_ip: format!("10.0.0.{i}"),
        user_agent: "claude-cli/2.0.0".into(),
        journal_seq: 0,
    }
}

/// The sums of `records`, computed field by field.
pub(crate) fn expected<'a>(records: impl IntoIterator<Item = &'a UsageRecord>) -> UsageTotals {
    let rs: Vec<&UsageRecord> = records.into_iter().collect();
    let sum = |f: fn(&UsageRecord) -> i64| rs.iter().map(|r| f(r)).sum::<i64>();
    UsageTotals {
        requests: rs.len() as i64,
        errors: rs.iter().filter(|r| r.outcome != "ok").count() as i64,
        input_tokens: sum(|r| r.input_tokens),
        output_tokens: sum(|r| r.output_tokens),
        cache_read_input_tokens: sum(|r| r.cache_read_input_tokens),
        cache_creation_5m_input_tokens: sum(|r| r.cache_creation_5m_input_tokens),
        cache_creation_1h_input_tokens: sum(|r| r.cache_creation_1h_input_tokens),
        cost_micro_usd: sum(|r| r.cost_micro_usd),
    }
}

/// The UTC day of a sample record in January 2026, without chrono.
pub(crate) fn utc_day(r: &UsageRecord) -> String {
    let day = 1 + (r.created_at - BASE).div_euclid(DAY_MS);
    assert!((1..=31).contains(&day), "sample outside January 2026");
    format!("2026-01-{day:02}")
}

type RollupRow = (String, i64, i64, String, i64, i64, UsageTotals);

#[derive(FromRow)]
struct Stored {
    bucket: String,
    api_key_id: i64,
    account_id: i64,
    model: String,
    user_id: i64,
    group_id: i64,
    #[sqlx(flatten)]
    totals: UsageTotals,
}

/// Every stored roll-up row of `table` (`usage_daily` or `usage_hourly`), sorted.
async fn rollup_rows(db: &Db, table: &str) -> Vec<RollupRow> {
    let bucket = if table == "usage_daily" {
        "day"
    } else {
        "CAST(hour_start AS CHAR)"
    };
    let sql = format!(
        "SELECT {bucket} AS bucket, api_key_id, account_id, model, user_id, group_id, {} \
         FROM {table}",
        COUNTERS.join(", ")
    );
    let rows: Vec<Stored> =
        on_db!(db, p => sqlx::query_as::<_, Stored>(&sql).fetch_all(p).await).unwrap();
    let mut rows: Vec<RollupRow> = rows
        .into_iter()
        .map(|s| {
            let t = s.totals;
            (
                s.bucket,
                s.api_key_id,
                s.account_id,
                s.model,
                s.user_id,
                s.group_id,
                t,
            )
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, a.1, a.2, &a.3).cmp(&(&b.0, b.1, b.2, &b.3)));
    rows
}

/// The roll-up rows `records` should produce, computed without the code under test.
fn expected_rollups(records: &[UsageRecord], daily: bool) -> Vec<RollupRow> {
    let mut groups: BTreeMap<(String, i64, i64, String), Vec<&UsageRecord>> = BTreeMap::new();
    for r in records {
        let bucket = if daily {
            utc_day(r)
        } else {
            (BASE + (r.created_at - BASE) / 3_600_000 * 3_600_000).to_string()
        };
        let key = (
            bucket,
            r.api_key_id,
            r.account_id.unwrap_or(0),
            r.model.clone(),
        );
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((b, k, a, m), rs)| (b, k, a, m, rs[0].user_id, rs[0].group_id, expected(rs)))
        .collect()
}

fn all(page_size: u32) -> Page {
    Page { page: 1, page_size }
}

db_test!(a_batch_is_listed_newest_first_and_filtered, |db| {
    let records = sample_records();
    assert_eq!(
        insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
        40
    );

    let (rows, total) = list_logs(
        &db,
        &LogFilter::default(),
        Page {
            page: 1,
            page_size: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(total, 40);
    let ids: Vec<_> = rows.iter().map(|r| r.record.request_id.as_str()).collect();
    let newest: Vec<_> = (30..40).rev().map(|i| format!("req-{i:05}")).collect();
    assert_eq!(ids, newest);
    let (last, _) = list_logs(
        &db,
        &LogFilter::default(),
        Page {
            page: 4,
            page_size: 10,
        },
    )
    .await
    .unwrap();
    assert_eq!(last.last().unwrap().record, records[0]);

    type Keep = Box<dyn Fn(&UsageRecord) -> bool>;
    let filters: Vec<(LogFilter, Keep)> = vec![
        (
            LogFilter {
                api_key_id: Some(2),
                ..Default::default()
            },
            Box::new(|r| r.api_key_id == 2),
        ),
        (
            LogFilter {
                user_id: Some(10),
                model: Some(MODELS[1].into()),
                ..Default::default()
            },
            Box::new(|r| r.user_id == 10 && r.model == MODELS[1]),
        ),
        (
            LogFilter {
                account_id: Some(3),
                ..Default::default()
            },
            Box::new(|r| r.account_id == Some(3)),
        ),
        (
            LogFilter {
                group_id: Some(100),
                ..Default::default()
            },
            Box::new(|_| true),
        ),
        (
            LogFilter {
                group_id: Some(101),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
        (
            LogFilter {
                outcome: Some("upstream_error".into()),
                ..Default::default()
            },
            Box::new(|r| r.outcome == "upstream_error"),
        ),
        (
            LogFilter {
                status_code: Some(499),
                ..Default::default()
            },
            Box::new(|r| r.status_code == 499),
        ),
        (
            LogFilter {
                from_ms: Some(BASE + 10 * 3_600_000),
                to_ms: Some(BASE + 30 * 3_600_000),
                ..Default::default()
            },
            Box::new(|r| {
                r.created_at >= BASE + 10 * 3_600_000 && r.created_at < BASE + 30 * 3_600_000
            }),
        ),
        (
            LogFilter {
                api_key_id: Some(1),
                outcome: Some("ok".into()),
                from_ms: Some(BASE + DAY_MS),
                ..Default::default()
            },
            Box::new(|r| r.api_key_id == 1 && r.outcome == "ok" && r.created_at >= BASE + DAY_MS),
        ),
    ];
    for (filter, keep) in &filters {
        let want: Vec<&UsageRecord> = records.iter().rev().filter(|r| keep(r)).collect();
        let (rows, total) = list_logs(&db, filter, all(100)).await.unwrap();
        assert_eq!(total, want.len() as i64, "{filter:?}");
        let got: Vec<&UsageRecord> = rows.iter().map(|r| &r.record).collect();
        assert_eq!(got, want, "{filter:?}");
    }
    let (page, total) = list_logs(
        &db,
        &filters[0].0,
        Page {
            page: 2,
            page_size: 5,
        },
    )
    .await
    .unwrap();
    assert_eq!(total, 13);
    assert_eq!(page.len(), 5);

    let one = &rows[3];
    assert_eq!(get_log(&db, one.id).await.unwrap(), *one);
    assert!(matches!(
        get_log(&db, one.id + 1_000).await,
        Err(DbError::NotFound)
    ));
});

db_test!(
    a_keyset_walk_visits_every_matching_row_once_in_list_order,
    |db| {
        let mut records = sample_records();
        // Rows sharing one created_at are ordered by id.
        for r in records.iter_mut().skip(10).take(5) {
            r.created_at = BASE + 5 * DAY_MS / 10;
        }
        insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
        for filter in [
            LogFilter::default(),
            LogFilter {
                api_key_id: Some(2),
                ..Default::default()
            },
            LogFilter {
                outcome: Some("nothing-like-this".into()),
                ..Default::default()
            },
        ] {
            let (want, _) = list_logs(&db, &filter, all(100)).await.unwrap();
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let rows = list_logs_after(&db, &filter, cursor, 3).await.unwrap();
                assert!(rows.len() <= 3);
                let Some(last) = rows.last() else { break };
                cursor = Some(LogCursor::from(last));
                got.extend(rows);
            }
            assert_eq!(got, want, "{filter:?}");
        }
    }
);

db_test!(
    a_replayed_batch_inserts_nothing_and_leaves_rollups_unchanged,
    |db| {
        let records = sample_records();
        assert_eq!(
            insert_batch(&db, &records[..30], chrono_tz::UTC)
                .await
                .unwrap(),
            30
        );
        assert_eq!(
            rollup_rows(&db, "usage_daily").await,
            expected_rollups(&records[..30], true)
        );

        // A batch overlapping the stored rows adds only the new ones, to logs and roll-ups.
        assert_eq!(
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
            10
        );
        let daily = rollup_rows(&db, "usage_daily").await;
        let hourly = rollup_rows(&db, "usage_hourly").await;
        assert_eq!(daily, expected_rollups(&records, true));
        assert_eq!(hourly, expected_rollups(&records, false));

        assert_eq!(
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
            0
        );
        assert_eq!(rollup_rows(&db, "usage_daily").await, daily);
        assert_eq!(rollup_rows(&db, "usage_hourly").await, hourly);
        assert_eq!(
            list_logs(&db, &LogFilter::default(), all(1))
                .await
                .unwrap()
                .1,
            40
        );
        assert_eq!(insert_batch(&db, &[], chrono_tz::UTC).await.unwrap(), 0);
    }
);

db_test!(
    a_row_repeated_within_a_batch_in_doubt_is_written_once,
    |db| {
        let fresh = sample(100);
        let batch = [sample(1), fresh.clone(), sample(2), fresh.clone()];
        assert_eq!(insert_batch(&db, &batch, chrono_tz::UTC).await.unwrap(), 3);
        let (rows, total) = list_logs(&db, &LogFilter::default(), all(10))
            .await
            .unwrap();
        assert_eq!(total, 3);
        assert!(rows.iter().any(|r| r.record == fresh));
        assert_eq!(
            rollup_rows(&db, "usage_daily").await,
            expected_rollups(&batch[..3], true)
        );
    }
);

db_test!(
    requests_sharing_a_client_request_id_are_each_logged_and_billed,
    |db| {
        // A client may send the same x-request-id on every request: each is its own row.
        let mut a = sample(1);
        a.request_id = "client-fixed-id".into();
        let mut b = a.clone();
        b.row_key = a.row_key + 1;
        let mut c = a.clone();
        c.row_key = a.row_key + 2;
        c.created_at += 1;
        assert_eq!(
            write_batch(&db, &[a.clone(), b.clone()], chrono_tz::UTC, Batch::New)
                .await
                .unwrap(),
            2
        );
        // A write in doubt still tells them apart by row key.
        assert_eq!(
            insert_batch(&db, &[a.clone(), b.clone(), c.clone()], chrono_tz::UTC)
                .await
                .unwrap(),
            1
        );
        let (rows, total) = list_logs(&db, &LogFilter::default(), all(10))
            .await
            .unwrap();
        assert_eq!(total, 3);
        for r in [&a, &b, &c] {
            assert!(rows.iter().any(|row| row.record == *r), "{r:?}");
        }
        assert_eq!(
            rollup_rows(&db, "usage_daily").await,
            expected_rollups(&[a, b, c], true)
        );
    }
);

db_test!(
    a_new_batch_replayed_in_doubt_adds_nothing_and_old_rows_match_by_request_id,
    |db| {
        let records = sample_records();
        assert_eq!(
            write_batch(&db, &records, chrono_tz::UTC, Batch::New)
                .await
                .unwrap(),
            40
        );
        let daily = rollup_rows(&db, "usage_daily").await;
        assert_eq!(
            insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
            0
        );
        assert_eq!(rollup_rows(&db, "usage_daily").await, daily);

        // Rows from before row keys (row_key 0, e.g. from an old spill file) are matched by
        // their request id, which was unique then.
        let old: Vec<_> = (200..203)
            .map(|i| UsageRecord {
                row_key: 0,
                ..sample(i)
            })
            .collect();
        assert_eq!(insert_batch(&db, &old, chrono_tz::UTC).await.unwrap(), 3);
        assert_eq!(insert_batch(&db, &old, chrono_tz::UTC).await.unwrap(), 0);
        let mut renamed = old[0].clone();
        renamed.request_id = "another-old-request".into();
        assert_eq!(
            insert_batch(&db, &[renamed], chrono_tz::UTC).await.unwrap(),
            1
        );
        assert_eq!(
            list_logs(&db, &LogFilter::default(), all(1))
                .await
                .unwrap()
                .1,
            44
        );
    }
);

db_test!(a_batch_larger_than_one_statement_is_written_whole, |db| {
    let records: Vec<_> = (0..1_234).map(sample).collect();
    // Some rows of the second statement's chunk are already stored.
    assert_eq!(
        insert_batch(&db, &records[600..640], chrono_tz::UTC)
            .await
            .unwrap(),
        40
    );
    assert_eq!(
        insert_batch(&db, &records, chrono_tz::UTC).await.unwrap(),
        1_194
    );
    assert_eq!(
        list_logs(&db, &LogFilter::default(), all(1))
            .await
            .unwrap()
            .1,
        1_234
    );
    let daily = rollup_rows(&db, "usage_daily").await;
    let sum = |rows: &[RollupRow]| rows.iter().map(|r| r.6.cost_micro_usd).sum::<i64>();
    assert_eq!(sum(&daily), expected(&records).cost_micro_usd);
    assert_eq!(daily.iter().map(|r| r.6.requests).sum::<i64>(), 1_234);
    let hourly = rollup_rows(&db, "usage_hourly").await;
    assert_eq!(sum(&hourly), expected(&records).cost_micro_usd);
});

db_test!(the_day_bucket_follows_the_time_zone, |db| {
    let at = BASE + 17 * 3_600_000 + 30 * 60_000; // 2026-01-01T17:30Z
    let mut shanghai = sample(0);
    shanghai.created_at = at;
    let mut utc = sample(1);
    utc.created_at = at;
    utc.api_key_id = 2;
    insert_batch(&db, &[shanghai], chrono_tz::Asia::Shanghai)
        .await
        .unwrap();
    insert_batch(&db, &[utc], chrono_tz::UTC).await.unwrap();
    let daily = rollup_rows(&db, "usage_daily").await;
    let days: Vec<_> = daily.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(days, [("2026-01-01", 2), ("2026-01-02", 1)]);
    let hour = (BASE + 17 * 3_600_000).to_string();
    let hourly = rollup_rows(&db, "usage_hourly").await;
    assert!(hourly.iter().all(|r| r.0 == hour), "{hourly:?}");
    assert_eq!(hourly.len(), 2);
});

#[test]
fn day_and_hour_helpers_use_the_zone_and_utc_hours() {
    let at = BASE + 17 * 3_600_000 + 30 * 60_000;
    assert_eq!(day_of(at, chrono_tz::Asia::Shanghai).unwrap(), "2026-01-02");
    assert_eq!(day_of(at, chrono_tz::UTC).unwrap(), "2026-01-01");
    assert_eq!(
        day_of(at, chrono_tz::America::New_York).unwrap(),
        "2026-01-01"
    );
    assert_eq!(hour_of(at), BASE + 17 * 3_600_000);
    assert_eq!(hour_of(-1), -3_600_000);
    assert_eq!(day_of(i64::MAX, chrono_tz::UTC), None);
}

db_test!(retention_deletes_old_rows_and_keeps_rollups, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    let daily = rollup_rows(&db, "usage_daily").await;
    let cutoff = BASE + DAY_MS;
    let old = records.iter().filter(|r| r.created_at < cutoff).count() as u64;
    assert!(old > 14, "enough rows for several chunks");
    assert_eq!(delete_logs_in_chunks(&db, cutoff, 7).await.unwrap(), old);
    let (rows, total) = list_logs(&db, &LogFilter::default(), all(100))
        .await
        .unwrap();
    assert_eq!(total as u64, 40 - old);
    assert!(rows.iter().all(|r| r.record.created_at >= cutoff));
    assert_eq!(delete_logs_before(&db, cutoff).await.unwrap(), 0);
    assert_eq!(rollup_rows(&db, "usage_daily").await, daily);

    let hours_before = rollup_rows(&db, "usage_hourly").await;
    let gone = hours_before
        .iter()
        .filter(|r| r.0.parse::<i64>().unwrap() < cutoff)
        .count();
    assert_eq!(
        delete_hourly_before(&db, cutoff).await.unwrap(),
        gone as u64
    );
    assert_eq!(
        rollup_rows(&db, "usage_hourly").await.len(),
        hours_before.len() - gone
    );
});

#[test]
fn batches_are_cut_into_a_few_statement_sizes_only() {
    for n in [0usize, 1, 3, 5, 17, 499, 500, 501, 1_234] {
        let items: Vec<usize> = (0..n).collect();
        let shaped: Vec<(usize, &[usize])> = shaped_chunks(&items).collect();
        assert!(
            shaped.iter().all(|(s, p)| SHAPES[*s] == p.len()),
            "{n}: {shaped:?}"
        );
        let pieces: Vec<&[usize]> = shaped.into_iter().map(|(_, p)| p).collect();
        let joined: Vec<usize> = pieces.concat();
        assert_eq!(joined, items, "{n}: every row once, in order");
        // Largest first, so a batch needs few statements.
        assert!(pieces.windows(2).all(|w| w[0].len() >= w[1].len()), "{n}");
    }
}

db_test!(
    last_used_times_follow_the_latest_row_of_each_key_and_account,
    |db| {
        use crate::db::{accounts, api_keys, groups};
        let g = groups::ensure_default(&db).await.unwrap();
        let uid = crate::db::groups::tests::user(&db, "holder").await;
        let k = api_keys::create(&db, &api_keys::tests::new_key(uid, g.id, "h1"))
            .await
            .unwrap();
        let a = accounts::create(&db, &accounts::tests::new_account("a", g.id))
            .await
            .unwrap();
        let row = |i: i64, at: i64| UsageRecord {
            api_key_id: k.id,
            account_id: Some(a.id),
            created_at: at,
            ..sample(i)
        };
        insert_batch(&db, &[row(1, 5_000), row(2, 9_000)], chrono_tz::UTC)
            .await
            .unwrap();
        touch_last_used(&db, 0).await.unwrap();
        assert_eq!(
            api_keys::get(&db, k.id).await.unwrap().last_used_at,
            Some(9_000)
        );
        let acc = accounts::get(&db, a.id).await.unwrap();
        assert_eq!(acc.last_used_at, Some(9_000));
        // Only rows after the id seen last time are looked at; times never go backwards.
        let seen = max_log_id(&db).await.unwrap();
        insert_batch(&db, &[row(3, 7_000)], chrono_tz::UTC)
            .await
            .unwrap();
        touch_last_used(&db, seen).await.unwrap();
        assert_eq!(
            api_keys::get(&db, k.id).await.unwrap().last_used_at,
            Some(9_000)
        );
        insert_batch(&db, &[row(4, 12_000)], chrono_tz::UTC)
            .await
            .unwrap();
        touch_last_used(&db, seen).await.unwrap();
        assert_eq!(
            api_keys::get(&db, k.id).await.unwrap().last_used_at,
            Some(12_000)
        );
    }
);
