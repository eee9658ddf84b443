//! `/logs` and `/admin/logs`: a user sees only their own rows (by list, filter, id and
//! export); administrators see and filter every row; CSV exports hold exactly the rows and
//! fields of the JSON list.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::usage_data::{record, Owner};
use common::{assert_csv_matches, parse_csv, TestApp};
use relay_shared::db::usage::UsageRecord;
use serde_json::{json, Value};

/// 2026-01-10T12:00:00Z.
const BASE: i64 = 1_768_046_400_000;
const HOUR: i64 = 3_600_000;

struct World {
    admin: String,
    a_token: String,
    a: Owner,
    b: Owner,
    account: i64,
    rows: Vec<UsageRecord>,
}

async fn world(app: &TestApp) -> World {
    let admin = app.admin_token().await;
    let (a_id, a_token) = app.user("alice").await;
    let (b_id, b_token) = app.user("bob").await;
    let ka = app
        .create_key(&a_token, json!({ "name": "alice-key" }))
        .await
        .expect(201);
    let kb = app
        .create_key(&b_token, json!({ "name": "bob-key" }))
        .await
        .expect(201);
    let group = ka.body["group_id"].as_i64().unwrap();
    let account = app
        .create_account(
            &admin,
            json!({ "name": "acc", "platform_type": "claude_console",
                    "request_url": "https://api.example.com", "secret_key": "sk-test-acc-0123456789" }),
        )
        .await
        .expect(201)
        .id();
    let a = Owner {
        user_id: a_id,
        api_key_id: ka.id(),
        group_id: group,
    };
    let b = Owner {
        user_id: b_id,
        api_key_id: kb.id(),
        group_id: group,
    };
    let mut rows: Vec<UsageRecord> = (0..12)
        .map(|i| record(i, a, (i % 5 != 3).then_some(account), BASE - i * 2 * HOUR))
        .collect();
    rows.extend((0..6).map(|i| record(i, b, Some(account), BASE - i * 3 * HOUR - 60_000)));
    app.seed_usage(&rows).await;
    World {
        admin,
        a_token,
        a,
        b,
        account,
        rows,
    }
}

fn ids(r: &common::Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["request_id"].as_str().unwrap().to_string())
        .collect()
}

/// Request ids of `rows` that match, newest first.
fn want(rows: &[UsageRecord], keep: impl Fn(&UsageRecord) -> bool) -> Vec<String> {
    let mut v: Vec<&UsageRecord> = rows.iter().filter(|r| keep(r)).collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    v.iter().map(|r| r.request_id.clone()).collect()
}

type Keep<'a> = Box<dyn Fn(&UsageRecord) -> bool + 'a>;

const FIELDS: [&str; 25] = [
    "id",
    "request_id",
    "created_at",
    "api_key_id",
    "account_id",
    "user_id",
    "group_id",
    "model",
    "upstream_model",
    "stream",
    "status_code",
    "outcome",
    "error_type",
    "attempts",
    "sticky",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cost_micro_usd",
    "cost_usd",
    "duration_ms",
    "ttfb_ms",
];

app_test!(a_user_sees_only_their_own_rows, |app| {
    let w = world(&app).await;
    let own = want(&w.rows, |r| r.user_id == w.a.user_id);
    let r = app.my_logs(&w.a_token, "?page_size=100").await.expect(200);
    assert_eq!(r.body["total"], 12);
    assert_eq!(ids(&r), own);

    // Filters naming another user's key, or another user, never widen the scope.
    let r = app
        .my_logs(&w.a_token, &format!("?api_key_id={}", w.b.api_key_id))
        .await
        .expect(200);
    assert_eq!(r.body["total"], 0);
    let r = app
        .my_logs(
            &w.a_token,
            &format!("?user_id={}&page_size=100", w.b.user_id),
        )
        .await
        .expect(200);
    assert_eq!(ids(&r), own);

    // Another user's row by id is a 404, the same answer as a missing row.
    let all = app.all_logs(&w.admin, "?page_size=100").await.expect(200);
    let items = all.body["items"].as_array().unwrap();
    let of = |user: i64| {
        items.iter().find(|i| i["user_id"] == user).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let theirs = of(w.b.user_id);
    let r = app
        .get(&format!("/logs/{theirs}"), &w.a_token)
        .await
        .expect(404);
    assert_eq!(r.code(), "not_found");
    assert_eq!(
        app.get("/logs/99999999", &w.a_token).await.expect(404).text,
        r.text
    );
    let mine = app
        .get(&format!("/logs/{}", of(w.a.user_id)), &w.a_token)
        .await
        .expect(200);
    assert_eq!(mine.body["user_id"], w.a.user_id);

    // The administrators' list and row are refused.
    for path in [
        "/admin/logs".to_string(),
        format!("/admin/logs/{theirs}"),
        "/admin/logs/export.csv".to_string(),
    ] {
        let r = app.get(&path, &w.a_token).await.expect(403);
        assert_eq!(r.code(), "forbidden");
    }

    // The export holds the same rows.
    let csv = app.get("/logs/export.csv", &w.a_token).await.expect(200);
    let (_, rows) = parse_csv(&csv.text);
    let csv_ids: Vec<String> = rows.iter().map(|r| r[1].clone()).collect();
    assert_eq!(csv_ids, own);
    let csv = app
        .get(
            &format!("/logs/export.csv?api_key_id={}", w.b.api_key_id),
            &w.a_token,
        )
        .await
        .expect(200);
    assert_eq!(parse_csv(&csv.text).1.len(), 0);
});

app_test!(a_row_has_the_contract_fields, |app| {
    let w = world(&app).await;
    let r = app.my_logs(&w.a_token, "?page_size=100").await.expect(200);
    for item in r.body["items"].as_array().unwrap() {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut want_keys = FIELDS.to_vec();
        let mut got = keys.clone();
        want_keys.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want_keys);
        let rec = w
            .rows
            .iter()
            .find(|x| x.request_id == item["request_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            item["cache_creation_input_tokens"].as_i64().unwrap(),
            rec.cache_creation_5m_input_tokens + rec.cache_creation_1h_input_tokens
        );
        assert_eq!(item["cost_micro_usd"], rec.cost_micro_usd);
        let usd = item["cost_usd"].as_f64().unwrap();
        assert!((usd - rec.cost_micro_usd as f64 / 1e6).abs() < 1e-12);
        let created = item["created_at"].as_str().unwrap();
        let t = chrono::DateTime::parse_from_rfc3339(created).unwrap();
        assert!(created.ends_with('Z'));
        assert_eq!(t.timestamp_millis(), rec.created_at / 1000 * 1000);
        assert_eq!(item["account_id"].as_i64(), rec.account_id);
        assert_eq!(item["outcome"], rec.outcome.as_str());
        assert_eq!(item["status_code"], rec.status_code);
        assert_eq!(item["ttfb_ms"].as_i64(), rec.ttfb_ms);
    }
});

app_test!(administrators_filter_and_page_every_row, |app| {
    let w = world(&app).await;
    let t = &w.admin;
    let r = app.all_logs(t, "?page_size=100").await.expect(200);
    assert_eq!(r.body["total"], 18);
    assert_eq!(ids(&r), want(&w.rows, |_| true));

    let from_ms = BASE - 8 * HOUR; // 2026-01-10T04:00:00Z = 12:00 in Shanghai
    let cases: Vec<(String, Keep)> = vec![
        (
            format!("user_id={}", w.b.user_id),
            Box::new(|r| r.user_id == w.b.user_id),
        ),
        (
            format!("api_key_id={}", w.a.api_key_id),
            Box::new(|r| r.api_key_id == w.a.api_key_id),
        ),
        (
            format!("account_id={}", w.account),
            Box::new(|r| r.account_id == Some(w.account)),
        ),
        (
            "model=claude-opus-4-5".into(),
            Box::new(|r| r.model == "claude-opus-4-5"),
        ),
        ("status_code=529".into(), Box::new(|r| r.status_code == 529)),
        (
            "outcome=client_closed".into(),
            Box::new(|r| r.outcome == "client_closed"),
        ),
        (
            "from=2026-01-10%2012:00:00".into(),
            Box::new(move |r| r.created_at >= from_ms),
        ),
        (
            "from=2026-01-10T04:00:00Z&to=2026-01-10T10:00:00Z".into(),
            Box::new(move |r| r.created_at >= from_ms && r.created_at < BASE - 2 * HOUR),
        ),
        (
            format!("to={}&user_id={}", BASE - 5 * HOUR, w.a.user_id),
            Box::new(|r| r.created_at < BASE - 5 * HOUR && r.user_id == w.a.user_id),
        ),
    ];
    for (q, keep) in &cases {
        let r = app
            .all_logs(t, &format!("?page_size=100&{q}"))
            .await
            .expect(200);
        let expected = want(&w.rows, keep);
        assert!(!expected.is_empty(), "{q} selects something");
        assert_eq!(ids(&r), expected, "{q}");
        assert_eq!(r.body["total"], expected.len(), "{q}");
    }

    let r = app.all_logs(t, "?page=2&page_size=5").await.expect(200);
    assert_eq!(ids(&r), want(&w.rows, |_| true)[5..10]);
    assert_eq!(
        (
            r.body["page"].as_i64(),
            r.body["page_size"].as_i64(),
            r.body["total"].as_i64()
        ),
        (Some(2), Some(5), Some(18))
    );

    for (q, field) in [
        ("outcome=fine", "outcome"),
        ("from=last-week", "from"),
        ("status_code=abc", "status_code"),
        ("from=2026-01-10&to=2026-01-09", "to"),
    ] {
        let r = app.all_logs(t, &format!("?{q}")).await.expect(400);
        assert_eq!(r.field(), field, "{q}");
    }

    let any = r.body["items"][0]["id"].as_i64().unwrap();
    app.get(&format!("/admin/logs/{any}"), t).await.expect(200);
    app.get("/admin/logs/424242", t).await.expect(404);
});

app_test!(
    csv_exports_hold_the_rows_and_fields_of_the_json_list,
    |app| {
        let w = world(&app).await;
        for q in [
            "".to_string(),
            "model=claude-sonnet-4-5".into(),
            format!("user_id={}&outcome=ok", w.a.user_id),
        ] {
            let json = app
                .all_logs(&w.admin, &format!("?page_size=100&{q}"))
                .await
                .expect(200);
            let csv = app
                .get(&format!("/admin/logs/export.csv?{q}"), &w.admin)
                .await
                .expect(200);
            assert!(csv.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"));
            assert!(csv.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment"));
            let items: Vec<Value> = json.body["items"].as_array().unwrap().clone();
            assert_csv_matches(&csv.text, &items);
        }
        let json = app
            .my_logs(&w.a_token, "?page_size=100&stream=true")
            .await
            .expect(200);
        let csv = app.get("/logs/export.csv", &w.a_token).await.expect(200);
        assert_csv_matches(&csv.text, json.body["items"].as_array().unwrap());
    }
);

app_test!(a_large_export_streams_every_row_once_in_list_order, |app| {
    let w = world(&app).await;
    // Several export pages, with runs of rows sharing one timestamp across page borders.
    let rows: Vec<UsageRecord> = (0..1234)
        .map(|i| {
            let mut r = record(1000 + i, w.a, Some(w.account), BASE - (i / 3) * 1000);
            r.request_id = format!("bulk-{i:05}");
            r
        })
        .collect();
    app.seed_usage(&rows).await;
    let mut listed = Vec::new();
    for page in 1..=13 {
        let r = app
            .all_logs(&w.admin, &format!("?page={page}&page_size=100"))
            .await
            .expect(200);
        listed.extend(ids(&r));
    }
    assert_eq!(listed.len(), 1234 + 18);
    let csv = app
        .get("/admin/logs/export.csv", &w.admin)
        .await
        .expect(200);
    let (header, records) = parse_csv(&csv.text);
    assert_eq!(header[1], "request_id");
    let exported: Vec<String> = records.iter().map(|r| r[1].clone()).collect();
    assert_eq!(exported, listed);
});

app_test!(
    csv_cells_a_spreadsheet_would_run_as_formulas_start_with_a_quote,
    |app| {
        let w = world(&app).await;
        let mut row = record(500, w.a, Some(w.account), BASE + HOUR);
        row.request_id = "+req-formula".into();
        row.model = "=HYPERLINK(\"http://evil.example\",\"x\")".into();
        row.upstream_model = "-2+3".into();
        row.error_type = Some("@SUM(A1)".into());
        app.seed_usage(&[row]).await;

        let csv = app.get("/logs/export.csv", &w.a_token).await.expect(200);
        let (header, records) = parse_csv(&csv.text);
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let r = records
            .iter()
            .find(|r| r[col("request_id")] == "'+req-formula")
            .unwrap_or_else(|| panic!("no neutralised row in {}", csv.text));
        assert_eq!(
            r[col("model")],
            "'=HYPERLINK(\"http://evil.example\",\"x\")"
        );
        assert_eq!(r[col("upstream_model")], "'-2+3");
        assert_eq!(r[col("error_type")], "'@SUM(A1)");
        // Ordinary cells are untouched.
        assert!(records
            .iter()
            .any(|r| r[col("model")] == "claude-sonnet-4-5"));

        let csv = app
            .get(
                "/stats/models/export.csv?from=2026-01-01&to=2026-01-31",
                &w.a_token,
            )
            .await
            .expect(200);
        assert!(
            csv.text.contains("'=HYPERLINK(") && !csv.text.contains(",=HYPERLINK("),
            "{}",
            csv.text
        );
        for line in csv.text.lines() {
            assert!(!line.starts_with('='), "{line}");
        }
    }
);
