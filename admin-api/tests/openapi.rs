//! The OpenAPI document at `/api/v1/openapi.json` lists every route, every operation it lists
//! is routed, it is a valid OpenAPI document (checked with `openapi-spec-validator` from
//! PyPI), and `/api/docs` serves a self-contained page for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::process::Command;

use reqwest::Method;
use serde_json::json;

/// Every route of the API: (path, method).
const ROUTES: &[(&str, &str)] = &[
    ("/api/v1/status", "get"),
    ("/api/v1/openapi.json", "get"),
    ("/api/docs", "get"),
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/logout", "post"),
    ("/api/v1/auth/logout-all", "post"),
    ("/api/v1/auth/register", "post"),
    ("/api/v1/user/profile", "get"),
    ("/api/v1/user/profile", "put"),
    ("/api/v1/user/password", "put"),
    ("/api/v1/admin/users", "get"),
    ("/api/v1/admin/users", "post"),
    ("/api/v1/admin/users/{id}", "put"),
    ("/api/v1/admin/users/{id}", "delete"),
    ("/api/v1/admin/users/{id}/reset-password", "post"),
    ("/api/v1/groups", "get"),
    ("/api/v1/groups", "post"),
    ("/api/v1/groups/{id}", "get"),
    ("/api/v1/groups/{id}", "put"),
    ("/api/v1/groups/{id}", "delete"),
    ("/api/v1/groups/{id}/members", "get"),
    ("/api/v1/groups/{id}/members", "post"),
    ("/api/v1/groups/{id}/members/{user_id}", "delete"),
    ("/api/v1/api-keys", "get"),
    ("/api/v1/api-keys", "post"),
    ("/api/v1/api-keys/{id}", "get"),
    ("/api/v1/api-keys/{id}", "put"),
    ("/api/v1/api-keys/{id}", "delete"),
    ("/api/v1/api-keys/{id}/regenerate", "post"),
    ("/api/v1/admin/accounts", "get"),
    ("/api/v1/admin/accounts", "post"),
    ("/api/v1/admin/accounts/{id}", "get"),
    ("/api/v1/admin/accounts/{id}", "put"),
    ("/api/v1/admin/accounts/{id}", "delete"),
    ("/api/v1/admin/accounts/{id}/enable", "post"),
    ("/api/v1/admin/accounts/{id}/disable", "post"),
    ("/api/v1/admin/accounts/{id}/reset", "post"),
    ("/api/v1/admin/accounts/{id}/test", "post"),
    ("/api/v1/admin/accounts/oauth/start", "post"),
    ("/api/v1/admin/accounts/oauth/exchange", "post"),
    ("/api/v1/logs", "get"),
    ("/api/v1/logs/{id}", "get"),
    ("/api/v1/logs/export.csv", "get"),
    ("/api/v1/admin/logs", "get"),
    ("/api/v1/admin/logs/{id}", "get"),
    ("/api/v1/admin/logs/export.csv", "get"),
    ("/api/v1/stats/overview", "get"),
    ("/api/v1/stats/trend", "get"),
    ("/api/v1/stats/trend/export.csv", "get"),
    ("/api/v1/stats/models", "get"),
    ("/api/v1/stats/models/export.csv", "get"),
    ("/api/v1/stats/accounts", "get"),
    ("/api/v1/stats/accounts/export.csv", "get"),
    ("/api/v1/stats/keys", "get"),
    ("/api/v1/stats/keys/export.csv", "get"),
    ("/api/v1/pricing", "get"),
    ("/api/v1/public/key-usage", "post"),
];

/// Makes `openapi_spec_validator` importable, installing it from PyPI when missing.
fn validator_ready() {
    let ok = |args: &[&str]| {
        Command::new("python3")
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if ok(&["-c", "import openapi_spec_validator"]) {
        return;
    }
    let installed = ok(&["-m", "pip", "install", "-q", "openapi-spec-validator"])
        || ok(&[
            "-m",
            "pip",
            "install",
            "-q",
            "--user",
            "openapi-spec-validator",
        ])
        || ok(&[
            "-m",
            "pip",
            "install",
            "-q",
            "--break-system-packages",
            "openapi-spec-validator",
        ]);
    assert!(installed, "cannot install openapi-spec-validator from PyPI");
}

app_test!(the_document_lists_every_route_and_is_valid, |app| {
    let r = app.openapi().await.expect(200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = r.body["paths"].as_object().unwrap();
    for (path, method) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} missing from the document"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists exactly the routes"
    );
    let schemas = r.body["components"]["schemas"].as_object().unwrap();
    for s in [
        "ApiKeyView",
        "AccountView",
        "ErrorBody",
        "UsageLogView",
        "TotalsView",
        "Overview",
        "Trend",
        "KeyUsage",
        "AccountTestResult",
        "OAuthStart",
        "ExchangeResult",
        "PricingView",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());

    validator_ready();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &r.text).unwrap();
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
});

app_test!(
    every_documented_operation_is_routed_and_leaks_nothing,
    |app| {
        // Data for the routes to show: an account with secrets, a key, usage of that key.
        let token = app.admin_token().await;
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        app.create_account(
            &token,
            json!({ "name": "acc", "platform_type": "claude_console", "request_url": dead,
                "secret_key": "sk-ant-api03-route-walk-SECRET-0001",
                "proxy_url": "http://user:proxy-SECRET-pass@127.0.0.1:9" }),
        )
        .await
        .expect(201);
        let key = app
            .create_key(&token, json!({ "name": "k" }))
            .await
            .expect(201);
        let owner = common::usage_data::Owner {
            user_id: key.body["user_id"].as_i64().unwrap(),
            api_key_id: key.id(),
            group_id: key.body["group_id"].as_i64().unwrap(),
        };
        let now = relay_shared::db::now_ms();
        let rows: Vec<_> = (0..5)
            .map(|i| common::usage_data::record(i, owner, Some(1), now - i * 60_000))
            .collect();
        app.seed_usage(&rows).await;

        let doc = app.openapi().await.expect(200).body;
        let mut ops: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.push((path.clone(), method.clone()));
            }
        }
        // Reads first, deletes late, and revoking the token last.
        ops.sort_by_key(|(p, m)| {
            let rank = match m.as_str() {
                "get" => 0,
                "delete" => 2,
                _ => 1,
            };
            (p.ends_with("logout-all"), rank, p.clone())
        });
        let root = app.base.trim_end_matches("/api/v1").to_string();
        for (path, method) in ops {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let concrete = path.replace("{id}", "1").replace("{user_id}", "1");
            let (status, text) = match concrete.strip_prefix("/api/v1") {
                Some(rel) => {
                    let o = common::Opts {
                        token: Some(&token),
                        ..Default::default()
                    };
                    let r = app.send(m, rel, Some(json!({})), o).await;
                    (r.status, r.text)
                }
                None => {
                    let r = reqwest::Client::new()
                        .request(m, format!("{root}{concrete}"))
                        .send()
                        .await
                        .unwrap();
                    (r.status().as_u16(), r.text().await.unwrap())
                }
            };
            assert_ne!(status, 405, "{method} {path}: {text}");
            assert!(
                !(status == 404 && text.contains("no route for")),
                "{method} {path} is documented but not routed"
            );
            assert_ne!(status, 500, "{method} {path}: {text}");
        }
        // `app_test!` then checks every recorded answer for secrets, hashes and full keys.
        app.remember_secret("route-walk-SECRET");
        app.remember_secret("proxy-SECRET-pass");
    }
);

app_test!(the_docs_page_is_self_contained, |app| {
    let root = app.base.trim_end_matches("/api/v1").to_string();
    let r = reqwest::get(format!("{root}/api/docs")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/api/v1/openapi.json"));
    for external in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "@import",
        "//cdn",
        "unpkg",
        "jsdelivr",
    ] {
        assert!(!html.contains(external), "the page loads `{external}`");
    }
    app.openapi().await.expect(200);
});
