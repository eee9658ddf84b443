//! `TestApp` methods for logs, statistics, pricing, the public key lookup, account tests and
//! OAuth onboarding.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{json, Value};

use super::{Opts, Resp, TestApp};

impl TestApp {
    /// `GET /logs?…` (own rows).
    pub async fn my_logs(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/logs{query}"), token).await
    }

    /// `GET /admin/logs?…`.
    pub async fn all_logs(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/admin/logs{query}"), token).await
    }

    /// `GET {path}?…` where `path` is a statistics route (`/stats/models`, …).
    pub async fn stats(&self, token: &str, path: &str, query: &str) -> Resp {
        self.get(&format!("/stats/{path}{query}"), token).await
    }

    /// `GET /pricing?…`.
    pub async fn pricing(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/pricing{query}"), token).await
    }

    /// `POST /public/key-usage` with `{"key": key}` from client IP `ip`, without sign-in.
    pub async fn key_usage(&self, key: &str, ip: &str) -> Resp {
        let o = Opts {
            ip: Some(ip),
            ..Default::default()
        };
        self.send(
            Method::POST,
            "/public/key-usage",
            Some(json!({ "key": key })),
            o,
        )
        .await
    }

    /// `POST /public/key-usage` with the key in `x-api-key` and no body.
    pub async fn key_usage_by_header(&self, key: &str, ip: &str) -> Resp {
        let headers = [("x-api-key", key)];
        let o = Opts {
            ip: Some(ip),
            headers: &headers,
            ..Default::default()
        };
        self.send(Method::POST, "/public/key-usage", None, o).await
    }

    /// `POST /admin/accounts/{id}/test`.
    pub async fn test_account(&self, token: &str, id: i64) -> Resp {
        self.post(&format!("/admin/accounts/{id}/test"), token, json!({}))
            .await
    }

    /// `POST /admin/accounts/oauth/start`.
    pub async fn oauth_start(&self, token: &str, body: Value) -> Resp {
        self.post("/admin/accounts/oauth/start", token, body).await
    }

    /// `POST /admin/accounts/oauth/exchange`.
    pub async fn oauth_exchange(&self, token: &str, body: Value) -> Resp {
        self.post("/admin/accounts/oauth/exchange", token, body)
            .await
    }
}

/// Parses CSV text into its header and records.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A JSON value as its CSV field: strings bare, null empty, numbers and booleans as written.
pub fn csv_field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Asserts that CSV `text` holds exactly `items` (JSON objects), column by column.
#[track_caller]
pub fn assert_csv_matches(text: &str, items: &[Value]) {
    let (header, rows) = parse_csv(text);
    assert_eq!(rows.len(), items.len(), "row count");
    for (row, item) in rows.iter().zip(items) {
        let obj = item.as_object().unwrap();
        assert_eq!(header.len(), obj.len(), "columns {header:?} vs {obj:?}");
        for (col, field) in header.iter().zip(row) {
            let want = obj
                .get(col)
                .unwrap_or_else(|| panic!("column {col} not in JSON"));
            if let (Some(w), Ok(g)) = (want.as_f64(), field.parse::<f64>()) {
                if want.is_f64() {
                    assert!((w - g).abs() < 1e-12, "{col}: {g} vs {w}");
                    continue;
                }
            }
            assert_eq!(field, &csv_field(want), "column {col}");
        }
    }
}
