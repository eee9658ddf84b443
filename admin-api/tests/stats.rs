//! Statistics on a month of usage: every figure equals the sums computed here from the rows
//! written, days counted in the configured time zone (Asia/Shanghai) and hours in UTC; they
//! are read from the roll-ups only (the raw rows are deleted before reading); users see only
//! their own keys; the CSV exports hold the JSON's items.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use common::usage_data::{record, Owner, Sums, MODELS};
use common::{assert_csv_matches, TestApp};
use relay_shared::db::usage::{self, UsageRecord};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

struct World {
    admin: String,
    a_token: String,
    a_id: i64,
    b_id: i64,
    keys: [(i64, &'static str); 3],
    accounts: [(i64, &'static str); 2],
    rows: Vec<UsageRecord>,
    now: i64,
    tz: Tz,
}

async fn world(app: &TestApp) -> World {
    let admin = app.admin_token().await;
    let (a_id, a_token) = app.user("alice").await;
    let (b_id, b_token) = app.user("bob").await;
    let mut keys = [(0, "a-one"), (0, "a-two"), (0, "b-one")];
    for (i, (id, name)) in keys.iter_mut().enumerate() {
        let t = if i < 2 { &a_token } else { &b_token };
        *id = app
            .create_key(t, json!({ "name": *name }))
            .await
            .expect(201)
            .id();
    }
    let mut accounts = [(0, "pool-1"), (0, "pool-2")];
    for (id, name) in accounts.iter_mut() {
        *id = app
            .create_account(
                &admin,
                json!({ "name": *name, "platform_type": "claude_console",
                        "request_url": "https://api.example.com", "secret_key": "sk-test-0123456789" }),
            )
            .await
            .expect(201)
            .id();
    }
    let group = app.list_groups(&admin, "").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let now = Utc::now().timestamp_millis();
    let rows: Vec<UsageRecord> = (0..930)
        .map(|i| {
            let k = (i % 3) as usize;
            let owner = Owner {
                user_id: if k < 2 { a_id } else { b_id },
                api_key_id: keys[k].0,
                group_id: group,
            };
            let account = match i % 4 {
                0 => None,
                1 | 2 => Some(accounts[0].0),
                _ => Some(accounts[1].0),
            };
            record(i, owner, account, now - i * 48 * 60_000 - 7_000)
        })
        .collect();
    app.seed_usage(&rows).await;
    // Statistics come from the roll-ups: without the raw rows they must not change.
    let gone = usage::delete_logs_before(&app.db, now + HOUR)
        .await
        .unwrap();
    assert_eq!(gone, 930);
    World {
        admin,
        a_token,
        a_id,
        b_id,
        keys,
        accounts,
        rows,
        now,
        tz: app.state.config.tz(),
    }
}

impl World {
    fn day(&self, ms: i64) -> NaiveDate {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .with_timezone(&self.tz)
            .date_naive()
    }

    fn today(&self) -> NaiveDate {
        self.day(self.now)
    }

    fn of_user(&self, user: Option<i64>) -> Vec<&UsageRecord> {
        self.rows
            .iter()
            .filter(|r| user.is_none_or(|u| r.user_id == u))
            .collect()
    }
}

fn items(r: &common::Resp) -> Vec<Value> {
    r.body["items"].as_array().unwrap().clone()
}

app_test!(the_overview_compares_today_with_yesterday_per_role, |app| {
    let w = world(&app).await;
    let today = w.today();
    for (token, user, keys) in [(&w.admin, None, 3), (&w.a_token, Some(w.a_id), 2)] {
        let r = app.stats(token, "overview", "").await.expect(200);
        let rows = w.of_user(user);
        for (field, day) in [("today", today), ("yesterday", today - Duration::days(1))] {
            let want = Sums::of(rows.iter().copied().filter(|r| w.day(r.created_at) == day));
            assert!(want.requests > 0);
            want.assert_in(&r.body[field], field);
            assert_eq!(r.body[field]["day"], day.format("%Y-%m-%d").to_string());
        }
        assert_eq!(r.body["timezone"], "Asia/Shanghai");
        assert_eq!(r.body["keys"]["total"], keys);
        if user.is_none() {
            let a = &r.body["accounts"];
            assert_eq!(
                (
                    a["total"].as_i64(),
                    a["enabled"].as_i64(),
                    a["active"].as_i64()
                ),
                (Some(2), Some(2), Some(2))
            );
            assert_eq!(
                (a["cooling"].as_i64(), a["error"].as_i64()),
                (Some(0), Some(0))
            );
        } else {
            assert!(
                r.body.get("accounts").is_none(),
                "users see no account counts"
            );
        }
    }
    // An administrator narrows to one user; a user cannot widen to another.
    let r = app
        .stats(&w.admin, "overview", &format!("?user_id={}", w.b_id))
        .await
        .expect(200);
    let want = Sums::of(
        w.of_user(Some(w.b_id))
            .into_iter()
            .filter(|r| w.day(r.created_at) == today),
    );
    want.assert_in(&r.body["today"], "bob today");
    assert_eq!(r.body["keys"]["total"], 1);
    let r = app
        .stats(&w.a_token, "overview", &format!("?user_id={}", w.b_id))
        .await
        .expect(200);
    let want = Sums::of(
        w.of_user(Some(w.a_id))
            .into_iter()
            .filter(|r| w.day(r.created_at) == today),
    );
    want.assert_in(&r.body["today"], "alice today");
});

app_test!(
    the_daily_and_hourly_trends_equal_the_sums_of_the_rows,
    |app| {
        let w = world(&app).await;
        let today = w.today();
        let r = app.stats(&w.admin, "trend", "").await.expect(200);
        assert_eq!(r.body["granularity"], "day");
        let got = items(&r);
        assert_eq!(got.len(), 30);
        for (n, item) in got.iter().enumerate() {
            let day = today - Duration::days(29 - n as i64);
            assert_eq!(item["bucket"], day.format("%Y-%m-%d").to_string());
            let midnight =
                w.tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
                    .unwrap();
            assert_eq!(
                item["start"],
                midnight
                    .with_timezone(&Utc)
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string()
            );
            Sums::of(w.rows.iter().filter(|r| w.day(r.created_at) == day)).assert_in(item, "day");
        }

        // A user's month, with explicit dates.
        let from = today - Duration::days(31);
        let q = format!("?granularity=day&from={from}&to={today}");
        let r = app.stats(&w.a_token, "trend", &q).await.expect(200);
        let got = items(&r);
        assert_eq!(got.len(), 32);
        let mut total = 0;
        for (n, item) in got.iter().enumerate() {
            let day = from + Duration::days(n as i64);
            let rows = w.of_user(Some(w.a_id));
            let want = Sums::of(rows.into_iter().filter(|r| w.day(r.created_at) == day));
            want.assert_in(item, "alice day");
            total += want.requests;
        }
        assert_eq!(
            total,
            w.of_user(Some(w.a_id)).len() as i64,
            "the whole month"
        );

        // Hours (UTC buckets) over the last two days.
        let (from, to) = (w.now - 47 * HOUR, w.now);
        let q = format!("?granularity=hour&from={from}&to={to}");
        let r = app.stats(&w.admin, "trend", &q).await.expect(200);
        let got = items(&r);
        let first = from.div_euclid(HOUR) * HOUR;
        assert_eq!(got.len(), 48);
        for (n, item) in got.iter().enumerate() {
            let h = first + n as i64 * HOUR;
            let start = Utc.timestamp_millis_opt(h).unwrap();
            assert_eq!(
                item["bucket"],
                start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
            Sums::of(
                w.rows
                    .iter()
                    .filter(|r| r.created_at.div_euclid(HOUR) * HOUR == h),
            )
            .assert_in(item, "hour");
        }

        // The export holds the same buckets.
        let csv = app
            .get(&format!("/stats/trend/export.csv{q}"), &w.admin)
            .await
            .expect(200);
        assert_csv_matches(&csv.text, &got);

        for (q, field) in [
            ("?granularity=minute", "granularity"),
            ("?from=2026-02-01&to=2026-01-01", "to"),
            ("?from=2020-01-01&to=2026-01-01", "from"),
            ("?granularity=hour&from=2026-01-01&to=2026-03-01", "from"),
        ] {
            assert_eq!(
                app.stats(&w.admin, "trend", q).await.expect(400).field(),
                field,
                "{q}"
            );
        }
    }
);

app_test!(per_model_account_and_key_sums_are_ranked_by_cost, |app| {
    let w = world(&app).await;
    let today = w.today();
    let range = format!(
        "?from={}&to={today}&page_size=100",
        today - Duration::days(31)
    );
    let by = |rows: Vec<&UsageRecord>, key: &dyn Fn(&UsageRecord) -> String| {
        let mut m: BTreeMap<String, Vec<&UsageRecord>> = BTreeMap::new();
        for r in rows {
            m.entry(key(r)).or_default().push(r);
        }
        m.into_iter()
            .map(|(k, v)| (k, Sums::of(v)))
            .collect::<BTreeMap<_, _>>()
    };
    let check_ranked = |got: &[Value]| {
        let costs: Vec<i64> = got
            .iter()
            .map(|i| i["cost_micro_usd"].as_i64().unwrap())
            .collect();
        assert!(costs.windows(2).all(|c| c[0] >= c[1]), "{costs:?}");
    };

    // Models.
    let r = app.stats(&w.admin, "models", &range).await.expect(200);
    let want = by(w.of_user(None), &|r| r.model.clone());
    let got = items(&r);
    assert_eq!((r.body["total"].as_u64(), got.len()), (Some(3), 3));
    check_ranked(&got);
    for item in &got {
        let m = item["model"].as_str().unwrap();
        assert!(MODELS.contains(&m));
        want[m].assert_in(item, m);
    }
    let csv = app
        .get(&format!("/stats/models/export.csv{range}"), &w.admin)
        .await
        .expect(200);
    assert_csv_matches(&csv.text, &got);

    // Accounts (administrators only); requests that reached none are `null`.
    let r = app.stats(&w.admin, "accounts", &range).await.expect(200);
    let want = by(w.of_user(None), &|r| {
        r.account_id.map(|a| a.to_string()).unwrap_or_default()
    });
    let got = items(&r);
    assert_eq!(got.len(), 3);
    check_ranked(&got);
    for item in &got {
        let key = item["account_id"]
            .as_i64()
            .map(|a| a.to_string())
            .unwrap_or_default();
        want[&key].assert_in(item, &key);
        let name = w
            .accounts
            .iter()
            .find(|(id, _)| item["account_id"] == *id)
            .map(|(_, n)| *n);
        assert_eq!(item["account_name"].as_str(), name);
    }
    let csv = app
        .get(&format!("/stats/accounts/export.csv{range}"), &w.admin)
        .await
        .expect(200);
    assert_csv_matches(&csv.text, &got);
    assert_eq!(
        app.stats(&w.a_token, "accounts", "")
            .await
            .expect(403)
            .code(),
        "forbidden"
    );
    app.get("/stats/accounts/export.csv", &w.a_token)
        .await
        .expect(403);

    // Keys: everyone's for administrators, one user's on request, one's own for users.
    for (token, query_user, scope) in [
        (&w.admin, None, None),
        (&w.admin, Some(w.b_id), Some(w.b_id)),
        (&w.a_token, None, Some(w.a_id)),
        (&w.a_token, Some(w.b_id), Some(w.a_id)),
    ] {
        let q = match query_user {
            Some(u) => format!("{range}&user_id={u}"),
            None => range.clone(),
        };
        let r = app.stats(token, "keys", &q).await.expect(200);
        let want = by(w.of_user(scope), &|r| r.api_key_id.to_string());
        let got = items(&r);
        assert_eq!(got.len(), want.len(), "{q}");
        check_ranked(&got);
        for item in &got {
            let id = item["api_key_id"].as_i64().unwrap();
            want[&id.to_string()].assert_in(item, "key");
            let name = w.keys.iter().find(|(k, _)| *k == id).unwrap().1;
            assert_eq!(item["name"], name);
        }
        let csv = app
            .get(&format!("/stats/keys/export.csv{q}"), token)
            .await
            .expect(200);
        assert_csv_matches(&csv.text, &got);
    }

    // Pages of a ranking.
    let q = format!(
        "?from={}&to={today}&page_size=2",
        today - Duration::days(31)
    );
    let r = app.stats(&w.admin, "keys", &q).await.expect(200);
    assert_eq!((r.body["total"].as_i64(), items(&r).len()), (Some(3), 2));
    let q = format!(
        "?from={}&to={today}&page=2&page_size=2",
        today - Duration::days(31)
    );
    let r = app.stats(&w.admin, "keys", &q).await.expect(200);
    assert_eq!(items(&r).len(), 1);

    // The default range is the last 30 days: older rows are not counted.
    let r = app
        .stats(&w.admin, "models", "?page_size=100")
        .await
        .expect(200);
    let since = today - Duration::days(29);
    let recent: Vec<&UsageRecord> = w
        .rows
        .iter()
        .filter(|r| w.day(r.created_at) >= since)
        .collect();
    let sum: i64 = items(&r)
        .iter()
        .map(|i| i["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, recent.len() as i64);
    assert!(sum < w.rows.len() as i64);
});
