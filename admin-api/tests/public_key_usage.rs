//! `POST /public/key-usage`: a key holder reads their key's usage without signing in, the key
//! in the body or in `x-api-key` (never a URL); the answer says nothing about the owner or
//! other objects; an unknown key is a plain 404; failed lookups are throttled per IP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use common::usage_data::{record, Owner, Sums};
use common::{Opts, TestApp};
use relay_shared::db::usage::UsageRecord;
use reqwest::Method;
use serde_json::json;

const EMAIL: &str = "carol.owner@example.com";
const HOUR: i64 = 3_600_000;

struct Key {
    key: String,
    id: i64,
    rows: Vec<UsageRecord>,
    user_token: String,
}

async fn key_with_usage(app: &TestApp) -> Key {
    let (carol, t) = app.user("carol").await;
    app.update_profile(&t, json!({ "email": EMAIL }))
        .await
        .expect(200);
    let r = app
        .create_key(
            &t,
            json!({ "name": "carol's laptop", "daily_limit_usd": 5, "total_limit_usd": 100,
                    "allowed_models": ["claude-sonnet-*"], "expires_at": "2030-12-31 23:59:59",
                    "rpm_limit": 60, "limit_5h_usd": 2, "weekly_limit_usd": 20,
                    "monthly_limit_usd": 50 }),
        )
        .await
        .expect(201);
    let key = r.body["key"].as_str().unwrap().to_string();
    let owner = Owner {
        user_id: carol,
        api_key_id: r.id(),
        group_id: r.body["group_id"].as_i64().unwrap(),
    };
    let now = Utc::now().timestamp_millis();
    let rows: Vec<UsageRecord> = (0..45)
        .map(|i| record(i, owner, Some(1), now - i * 20 * HOUR - 5_000))
        .collect();
    // Another key's traffic must not show.
    let (dave, dt) = app.user("dave").await;
    let other = app
        .create_key(&dt, json!({ "name": "dave" }))
        .await
        .expect(201);
    let theirs: Vec<UsageRecord> = (0..10)
        .map(|i| {
            let o = Owner {
                user_id: dave,
                api_key_id: other.id(),
                group_id: owner.group_id,
            };
            record(i, o, Some(1), now - i * HOUR)
        })
        .collect();
    app.seed_usage(&rows).await;
    app.seed_usage(&theirs).await;
    Key {
        key,
        id: r.id(),
        rows,
        user_token: t,
    }
}

fn local_day(ms: i64, tz: chrono_tz::Tz) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .unwrap()
        .with_timezone(&tz)
        .date_naive()
}

app_test!(
    a_key_holder_sees_limits_spend_trend_and_recent_requests,
    |app| {
        let k = key_with_usage(&app).await;
        let tz = app.state.config.tz();
        let r = app.key_usage(&k.key, "198.51.100.1").await.expect(200);
        let b = &r.body;
        assert_eq!(b["name"], "carol's laptop");
        assert_eq!(b["key_prefix"], k.key[..13]);
        assert_eq!(
            (b["enabled"].as_bool(), b["status"].as_str()),
            (Some(true), Some("active"))
        );
        assert_eq!(b["expires_at"], "2030-12-31T15:59:59Z");
        assert_eq!(b["allowed_models"], json!(["claude-sonnet-*"]));
        assert_eq!(b["daily_limit_usd"], 5.0);
        assert_eq!(b["total_limit_usd"], 100.0);
        assert_eq!(b["rpm_limit"], 60);
        assert_eq!(
            (
                &b["limit_5h_usd"],
                &b["weekly_limit_usd"],
                &b["monthly_limit_usd"]
            ),
            (&json!(2.0), &json!(20.0), &json!(50.0))
        );

        let today = local_day(Utc::now().timestamp_millis(), tz);
        let spent = |keep: &dyn Fn(&UsageRecord) -> bool| {
            k.rows
                .iter()
                .filter(|r| keep(r))
                .map(|r| r.cost_micro_usd)
                .sum::<i64>() as f64
                / 1e6
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(
            b["today_cost_usd"].as_f64().unwrap(),
            spent(&|r| local_day(r.created_at, tz) == today)
        ));
        assert!(close(
            b["total_cost_usd"].as_f64().unwrap(),
            spent(&|_| true)
        ));

        let next_midnight = tz
            .from_local_datetime(&(today + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            b["daily_reset_at"],
            next_midnight.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        let secs = b["daily_reset_in_seconds"].as_i64().unwrap();
        assert!((0..=86_400).contains(&secs));
        assert!((secs - (next_midnight.timestamp() - Utc::now().timestamp())).abs() <= 5);

        // Spend against each limit, from the same roll-ups the relay counts from; the key's
        // own API object shows the same.
        let now = Utc::now().timestamp_millis();
        let micros = |keep: &dyn Fn(&UsageRecord) -> bool| -> i64 {
            k.rows
                .iter()
                .filter(|r| keep(r))
                .map(|r| r.cost_micro_usd)
                .sum()
        };
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let first = today.with_day(1).unwrap();
        let s = &b["spend"];
        assert_eq!(
            s["daily"]["spent_micro_usd"],
            micros(&|r| local_day(r.created_at, tz) == today)
        );
        assert_eq!(s["daily"]["limit_micro_usd"], 5_000_000);
        assert_eq!(s["daily"]["resets_at"], b["daily_reset_at"]);
        assert_eq!(
            s["weekly"]["spent_micro_usd"],
            micros(&|r| local_day(r.created_at, tz) >= monday)
        );
        let next_monday = tz
            .from_local_datetime(&(monday + Duration::days(7)).and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            s["weekly"]["resets_at"],
            next_monday.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert_eq!(
            s["monthly"]["spent_micro_usd"],
            micros(&|r| local_day(r.created_at, tz) >= first)
        );
        assert_eq!(
            s["five_hours"]["spent_micro_usd"],
            micros(&|r| r.created_at > now - 5 * HOUR + 600_000)
        );
        assert_eq!(s["five_hours"]["limit_micro_usd"], 2_000_000);
        assert_eq!(s["total"]["spent_micro_usd"], micros(&|_| true));
        assert_eq!(s["total"]["resets_at"], serde_json::Value::Null);
        let own = app.get_key(&k.user_token, k.id).await.expect(200);
        assert_eq!(own.body["spend"]["daily"], s["daily"]);
        assert_eq!(own.body["spend"]["total"], s["total"]);
        assert_eq!(own.body["weekly_limit_usd"], 20.0);

        let trend = b["trend"].as_array().unwrap();
        assert_eq!(trend.len(), 30);
        for (n, day) in trend.iter().enumerate() {
            let d = today - Duration::days(29 - n as i64);
            assert_eq!(day["day"], d.format("%Y-%m-%d").to_string());
            Sums::of(k.rows.iter().filter(|r| local_day(r.created_at, tz) == d))
                .assert_in(day, "day");
        }

        let recent = b["recent_requests"].as_array().unwrap();
        assert_eq!(recent.len(), 20);
        for (item, rec) in recent.iter().zip(&k.rows) {
            assert_eq!(item["model"], rec.model.as_str());
            assert_eq!(item["status_code"], rec.status_code);
            assert_eq!(item["input_tokens"], rec.input_tokens);
            assert!(close(
                item["cost_usd"].as_f64().unwrap(),
                rec.cost_micro_usd as f64 / 1e6
            ));
            let t =
                chrono::DateTime::parse_from_rfc3339(item["created_at"].as_str().unwrap()).unwrap();
            assert_eq!(t.timestamp(), rec.created_at / 1000);
        }

        // Nothing about the owner or about other objects.
        assert!(!r.text.contains(EMAIL));
        assert!(!r.text.contains("_id\""), "no ids: {}", r.text);
        assert!(!r.text.contains(&k.key));

        // The key in x-api-key, with no body, answers the same.
        let h = app
            .key_usage_by_header(&k.key, "198.51.100.1")
            .await
            .expect(200);
        assert_eq!(h.body["trend"], r.body["trend"]);
        assert_eq!(h.body["recent_requests"], r.body["recent_requests"]);
        assert_eq!(h.body["name"], r.body["name"]);

        // A disabled key still answers, as disabled.
        app.update_key(&k.user_token, k.id, json!({ "enabled": false }))
            .await
            .expect(200);
        let r = app.key_usage(&k.key, "198.51.100.1").await.expect(200);
        assert_eq!(r.body["status"], "disabled");
    }
);

app_test!(
    an_unknown_key_is_a_plain_404_and_a_url_key_is_not_read,
    |app| {
        let k = key_with_usage(&app).await;
        let r = app
            .key_usage(
                "sk-relay-NoSuchKey0000000000000000000000000000000000",
                "198.51.100.2",
            )
            .await;
        let r = r.expect(404);
        assert_eq!(r.code(), "not_found");
        assert!(r.body["error"]["message"].is_string());
        let url = format!("/public/key-usage?key={}", k.key);
        let o = Opts {
            ip: Some("198.51.100.2"),
            ..Default::default()
        };
        let r = app.send(Method::POST, &url, None, o).await.expect(400);
        assert_eq!(r.field(), "key");
        app.send(Method::GET, "/public/key-usage", None, Opts::default())
            .await
            .expect(405);
    }
);

app_test!(
    failed_lookups_are_throttled_per_ip,
    config = |c| {
        c.auth.max_failed_logins = 3;
    },
    |app| {
        let k = key_with_usage(&app).await;
        for _ in 0..5 {
            app.key_usage(&k.key, "203.0.113.7").await.expect(200);
        }
        for n in 0..3 {
            let guess = format!("sk-relay-guess{n:040}");
            app.key_usage(&guess, "203.0.113.5").await.expect(404);
        }
        let r = app.key_usage(&k.key, "203.0.113.5").await.expect(429);
        assert_eq!(r.code(), "too_many_attempts");
        assert!(
            r.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        app.key_usage(&k.key, "203.0.113.6").await.expect(200);
        app.key_usage(&k.key, "203.0.113.7").await.expect(200);
    }
);
