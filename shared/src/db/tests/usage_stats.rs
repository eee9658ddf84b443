//! Tests of `db::usage_stats`.
#![allow(clippy::unwrap_used)]
use std::collections::BTreeMap;

use super::*;
use crate::db::usage::tests::{expected, sample_records, utc_day, BASE, DAY_MS};
use crate::db::usage::{insert_batch, UsageRecord};
use crate::db_test;

const HOUR_MS: i64 = 3_600_000;

fn filters() -> Vec<RollupFilter> {
    let f = RollupFilter::default();
    vec![
        f,
        RollupFilter {
            api_key_id: Some(2),
            ..f
        },
        RollupFilter {
            user_id: Some(10),
            ..f
        },
        RollupFilter {
            account_id: Some(0),
            ..f
        },
        RollupFilter {
            user_id: Some(11),
            account_id: Some(3),
            ..f
        },
        RollupFilter {
            api_key_id: Some(99),
            ..f
        },
    ]
}

fn matches(f: &RollupFilter, r: &UsageRecord) -> bool {
    f.user_id.is_none_or(|u| r.user_id == u)
        && f.api_key_id.is_none_or(|k| r.api_key_id == k)
        && f.account_id.is_none_or(|a| r.account_id.unwrap_or(0) == a)
}

/// Groups the matching `records` by `bucket` and sums each group.
fn grouped<K: Ord>(
    records: &[UsageRecord],
    keep: impl Fn(&UsageRecord) -> bool,
    bucket: impl Fn(&UsageRecord) -> K,
) -> Vec<(K, UsageTotals)> {
    let mut groups: BTreeMap<K, Vec<&UsageRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| keep(r)) {
        groups.entry(bucket(r)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(k, rs)| (k, expected(rs)))
        .collect()
}

db_test!(daily_totals_equal_the_sums_of_the_records, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    for f in filters() {
        let want = grouped(&records, |r| matches(&f, r), utc_day);
        let got = daily_totals(&db, &f, "2026-01-01", "2026-01-02")
            .await
            .unwrap();
        let got: Vec<_> = got.into_iter().map(|d| (d.day, d.totals)).collect();
        assert_eq!(got, want, "{f:?}");

        let want_second: Vec<_> = want
            .into_iter()
            .filter(|(d, _)| d == "2026-01-02")
            .collect();
        let got = daily_totals(&db, &f, "2026-01-02", "2026-01-31")
            .await
            .unwrap();
        let got: Vec<_> = got.into_iter().map(|d| (d.day, d.totals)).collect();
        assert_eq!(got, want_second, "{f:?}");
    }
    assert!(
        daily_totals(&db, &RollupFilter::default(), "2025-12-01", "2025-12-31")
            .await
            .unwrap()
            .is_empty()
    );
});

db_test!(hourly_totals_equal_the_sums_of_the_records, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    let hour = |r: &UsageRecord| BASE + (r.created_at - BASE) / HOUR_MS * HOUR_MS;
    for f in filters() {
        let want = grouped(&records, |r| matches(&f, r), hour);
        let got = hourly_totals(&db, &f, BASE, BASE + 2 * DAY_MS)
            .await
            .unwrap();
        let got: Vec<_> = got.into_iter().map(|h| (h.hour_start, h.totals)).collect();
        assert_eq!(got, want, "{f:?}");
    }
    let (from, to) = (BASE + 5 * HOUR_MS, BASE + 20 * HOUR_MS);
    let in_range = |r: &UsageRecord| r.created_at >= from && r.created_at < to;
    let want = grouped(&records, in_range, hour);
    assert!(want.len() > 5);
    let got = hourly_totals(&db, &RollupFilter::default(), from, to)
        .await
        .unwrap();
    let got: Vec<_> = got.into_iter().map(|h| (h.hour_start, h.totals)).collect();
    assert_eq!(got, want);
});

db_test!(totals_by_dimension_equal_the_sums_of_the_records, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    type KeyOf = fn(&UsageRecord) -> String;
    let dims: [(RollupDim, KeyOf); 4] = [
        (RollupDim::Model, |r| r.model.clone()),
        (RollupDim::Account, |r| {
            r.account_id.unwrap_or(0).to_string()
        }),
        (RollupDim::ApiKey, |r| r.api_key_id.to_string()),
        (RollupDim::User, |r| r.user_id.to_string()),
    ];
    for (dim, key) in dims {
        for f in filters() {
            for (from, to) in [("2026-01-01", "2026-01-02"), ("2026-01-02", "2026-01-02")] {
                let keep = |r: &UsageRecord| matches(&f, r) && utc_day(r).as_str() >= from;
                let mut want = grouped(&records, keep, key);
                want.sort_by(|a, b| {
                    b.1.cost_micro_usd
                        .cmp(&a.1.cost_micro_usd)
                        .then(a.0.cmp(&b.0))
                });
                let got = totals_by(&db, dim, &f, from, to).await.unwrap();
                let got: Vec<_> = got.into_iter().map(|d| (d.key, d.totals)).collect();
                assert_eq!(got, want, "{dim:?} {f:?} {from}");
            }
        }
    }
});

db_test!(paged_totals_walk_the_same_groups_by_falling_cost, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    for dim in [
        RollupDim::Model,
        RollupDim::Account,
        RollupDim::ApiKey,
        RollupDim::User,
    ] {
        for f in filters() {
            let all = totals_by(&db, dim, &f, "2026-01-01", "2026-01-31")
                .await
                .unwrap();
            let mut walked = Vec::new();
            for n in 1..=5 {
                let page = Page {
                    page: n,
                    page_size: 2,
                };
                let (rows, total) = totals_by_page(&db, dim, &f, "2026-01-01", "2026-01-31", page)
                    .await
                    .unwrap();
                assert_eq!(total, all.len() as i64, "{dim:?} {f:?}");
                assert!(rows.len() <= 2);
                walked.extend(rows);
            }
            assert!(walked
                .windows(2)
                .all(|w| w[0].totals.cost_micro_usd >= w[1].totals.cost_micro_usd));
            let mut a = all.clone();
            a.sort_by(|x, y| x.key.cmp(&y.key));
            walked.sort_by(|x, y| x.key.cmp(&y.key));
            assert_eq!(walked, a, "{dim:?} {f:?}");
        }
    }
    let (rows, total) = totals_by_page(
        &db,
        RollupDim::Model,
        &RollupFilter::default(),
        "2025-01-01",
        "2025-12-31",
        Page {
            page: 1,
            page_size: 10,
        },
    )
    .await
    .unwrap();
    assert!(rows.is_empty());
    assert_eq!(total, 0);
});

db_test!(key_costs_split_today_from_the_total, |db| {
    let records = sample_records();
    insert_batch(&db, &records, chrono_tz::UTC).await.unwrap();
    let got = key_costs(&db, "2026-01-02").await.unwrap();
    let want: Vec<KeyCost> = (1..=3)
        .map(|k| {
            let of_key = || records.iter().filter(move |r| r.api_key_id == k);
            KeyCost {
                api_key_id: k,
                total_micro_usd: of_key().map(|r| r.cost_micro_usd).sum(),
                today_micro_usd: of_key()
                    .filter(|r| r.created_at >= BASE + DAY_MS)
                    .map(|r| r.cost_micro_usd)
                    .sum(),
            }
        })
        .collect();
    assert_eq!(got, want);
    assert!(want
        .iter()
        .all(|k| k.today_micro_usd > 0 && k.today_micro_usd < k.total_micro_usd));

    for k in &want {
        let today = key_spend_since_day(&db, k.api_key_id, "2026-01-02")
            .await
            .unwrap();
        assert_eq!(today, k.today_micro_usd);
        let all = key_spend_since_day(&db, k.api_key_id, "2026-01-01")
            .await
            .unwrap();
        assert_eq!(all, k.total_micro_usd);
    }
    assert_eq!(key_spend_since_day(&db, 99, "2026-01-01").await.unwrap(), 0);
    let none_today = key_costs(&db, "2026-02-01").await.unwrap();
    assert!(none_today.iter().all(|k| k.today_micro_usd == 0));
});

db_test!(an_empty_database_reads_as_no_usage, |db| {
    let f = RollupFilter::default();
    assert!(daily_totals(&db, &f, "2026-01-01", "2026-12-31")
        .await
        .unwrap()
        .is_empty());
    assert!(hourly_totals(&db, &f, 0, i64::MAX)
        .await
        .unwrap()
        .is_empty());
    assert!(
        totals_by(&db, RollupDim::Model, &f, "2026-01-01", "2026-12-31")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(key_costs(&db, "2026-01-01").await.unwrap().is_empty());
    assert_eq!(key_spend_since_day(&db, 1, "2026-01-01").await.unwrap(), 0);
});
