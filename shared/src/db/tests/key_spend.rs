//! Tests of `db::key_spend`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::db::usage::{insert_batch, UsageRecord};
use crate::db_test;

fn at(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

fn row(key: i64, when: &str, cost: i64) -> UsageRecord {
    UsageRecord {
        request_id: format!("r-{key}-{when}"),
        row_key: crate::db::usage::new_row_key(),
        created_at: at(when),
        api_key_id: key,
        user_id: 1,
        group_id: 1,
        account_id: Some(1),
        model: "claude-sonnet-4-5".into(),
        status_code: 200,
        outcome: "ok".into(),
        cost_micro_usd: cost,
        ..UsageRecord::default()
    }
}

db_test!(spend_is_read_per_window_in_the_zone, |db| {
    let tz: Tz = "Asia/Shanghai".parse().unwrap();
    // Wednesday 2 December 2026, 12:00 in Shanghai.
    let now = at("2026-12-02T04:00:00Z");
    let rows = vec![
        row(1, "2026-10-01T00:00:00Z", 1),      // long ago: the total only
        row(1, "2026-11-29T17:00:00Z", 10),     // Monday 30 Nov there: week
        row(1, "2026-11-30T17:00:00Z", 100),    // Tuesday 1 Dec there: week, month
        row(1, "2026-12-01T16:30:00Z", 1_000),  // Wednesday 00:30 there: today, not 5 h
        row(1, "2026-12-02T01:10:00Z", 10_000), // today, inside the last five hours
        row(2, "2026-12-02T03:59:00Z", 7),      // another key
    ];
    insert_batch(&db, &rows, tz).await.unwrap();
    let all = read(&db, None, tz, now).await.unwrap();
    let one = read(&db, Some(&[1]), tz, now).await.unwrap();
    assert_eq!(all.get(&1), one.get(&1));
    assert!(!one.contains_key(&2));
    let (cal, five, total) = one[&1].report(tz, now, 5_000);
    assert_eq!(
        cal.map(|w| w.spent),
        [11_000, 11_110, 11_100],
        "day, week, month"
    );
    assert_eq!(
        cal[0].resets_at,
        Some(at("2026-12-02T16:00:00Z")),
        "midnight there"
    );
    assert_eq!(
        cal[1].resets_at,
        Some(at("2026-12-06T16:00:00Z")),
        "Monday 7 Dec there"
    );
    assert_eq!(
        cal[2].resets_at,
        Some(at("2026-12-31T16:00:00Z")),
        "1 January there"
    );
    assert_eq!(five.spent, 10_000);
    // The 01:00 UTC hour counts in its last five minutes, so it leaves the window at 06:55.
    assert_eq!(five.resets_at, Some(at("2026-12-02T06:55:00Z")));
    assert_eq!((total.spent, total.resets_at), (11_111, None));
    assert_eq!(all[&2].total, 7);
    assert!(read(&db, Some(&[]), tz, now).await.unwrap().is_empty());
});
