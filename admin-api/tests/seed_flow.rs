//! The seed README's curl examples work as written: sign in, add an account, create a key
//! (with the seed's `"YYYY-MM-DD HH:MM:SS"` expiry, in the past by now and still accepted).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use serde_json::json;

app_test!(the_seed_curl_sequence_works_as_written, |app| {
    let v0 = app.change_version().await;
    // 1. curl -X POST /api/v1/auth/login -d '{"username":"admin","password":…}'
    let r = app.login("admin", common::ADMIN_PASSWORD).await.expect(200);
    let token = r.body["token"].as_str().unwrap().to_string();

    // 2. curl -X POST /api/v1/admin/accounts
    let body = json!({
        "name": "Claude官方账号",
        "platform_type": "claude",
        "request_url": "https://api.anthropic.com",
        "secret_key": "sk-your-claude-api-key",
        "priority": 100,
        "weight": 100
    });
    let r = app.create_account(&token, body).await.expect(201);
    assert_eq!(r.body["name"], "Claude官方账号");
    assert_eq!(r.body["platform_type"], "claude");
    assert_eq!(r.body["request_url"], "https://api.anthropic.com");
    assert_eq!(r.body["has_secret_key"], true);
    assert_eq!(r.body["secret_hint"], "sk-your…-key");
    let v1 = app.change_version().await;
    assert!(v1 > v0);

    // 3. curl -X POST /api/v1/api-keys
    let body = json!({ "name": "我的中转Key", "expires_at": "2025-12-31 23:59:59" });
    let r = app.create_key(&token, body).await.expect(201);
    assert_eq!(r.body["name"], "我的中转Key");
    assert_eq!(
        r.body["expires_at"], "2025-12-31T15:59:59Z",
        "read in Asia/Shanghai, stored as given"
    );
    assert!(r.body["key"].as_str().unwrap().starts_with("sk-relay-"));
    let default = app.list_groups(&token, "").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(r.body["group_id"], default);
    assert_eq!(
        r.body["group_id"],
        app.list_accounts(&token, "").await.body["items"][0]["group_id"]
    );
    assert!(app.change_version().await > v1);
    let row = relay_shared::db::api_keys::get(&app.db, r.id())
        .await
        .unwrap();
    assert_eq!(row.expires_at, Some(1_767_196_799_000));
});
