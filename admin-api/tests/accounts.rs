//! `/admin/accounts`: secrets are encrypted and never answered; fields are checked and named;
//! filters, switches and reset work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use relay_shared::db::accounts;
use serde_json::json;

const CONSOLE_KEY: &str = "sk-ant-api03-console-secret-VALUE-Ab12";
const ACCESS: &str = "sk-ant-oat01-access-token-SECRET-Zz99";
const REFRESH: &str = "sk-ant-ort01-refresh-token-SECRET-Yy88";

app_test!(
    a_console_account_is_stored_encrypted_and_answered_masked,
    |app| {
        let t = app.admin_token().await;
        let v = app.change_version().await;
        let body = json!({
            "name": "GLM",
            "platform_type": "claude_console",
            "request_url": "https://open.bigmodel.cn/api/anthropic/",
            "secret_key": CONSOLE_KEY,
            "auth_header": "x_api_key",
            "max_concurrency": 4,
            "allowed_models": ["claude-*"],
            "model_mapping": { "claude-*": "glm-4.6" },
            "proxy_url": "socks5://bob:hunter2-proxy-pass@127.0.0.1:1080",
            "notes": "team pool"
        });
        let r = app.create_account(&t, body).await.expect(201);
        assert!(app.change_version().await > v);
        let id = r.id();
        let b = &r.body;
        assert_eq!(b["request_url"], "https://open.bigmodel.cn/api/anthropic");
        assert_eq!(b["secret_hint"], "sk-ant-…Ab12");
        assert_eq!(
            (
                b["has_secret_key"].as_bool(),
                b["has_access_token"].as_bool()
            ),
            (Some(true), Some(false))
        );
        assert_eq!(b["proxy_url"], "socks5://bob:****@127.0.0.1:1080");
        assert_eq!(b["model_mapping"]["claude-*"], "glm-4.6");
        assert_eq!(
            (b["priority"].as_i64(), b["weight"].as_i64()),
            (Some(100), Some(100))
        );
        assert_eq!(
            (b["state"].as_str(), b["state_reason"].as_str()),
            (Some("active"), Some(""))
        );
        assert!(b["cooldown_until"].is_null());
        assert_eq!(b["enabled"], true);

        let row = accounts::get(&app.db, id).await.unwrap();
        let enc = row.secret_enc.clone().unwrap();
        assert!(!enc.contains("console-secret"), "stored encrypted");
        let plain = app.state.secrets.secret_box.decrypt(&enc).unwrap();
        assert_eq!(plain.as_str(), CONSOLE_KEY);

        app.get_account(&t, id).await.expect(200);
        app.list_accounts(&t, "").await.expect(200);
    }
);

app_test!(a_claude_account_keeps_its_tokens_and_expiry, |app| {
    let t = app.admin_token().await;
    let body = json!({
        "name": "Max",
        "platform_type": "claude",
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "expires_at": 1_893_456_000_000i64
    });
    let r = app.create_account(&t, body).await.expect(201);
    let id = r.id();
    assert_eq!(r.body["secret_hint"], "sk-ant-…Zz99");
    assert_eq!(r.body["has_refresh_token"], true);
    assert_eq!(r.body["expires_at"], "2030-01-01T00:00:00Z");
    assert_eq!(r.body["request_url"], "");

    let r = app
        .update_account(&t, id, json!({ "refresh_token": null, "weight": 5 }))
        .await
        .expect(200);
    assert_eq!(
        (
            r.body["has_refresh_token"].as_bool(),
            r.body["weight"].as_i64()
        ),
        (Some(false), Some(5))
    );
    assert_eq!(r.body["has_access_token"], true, "absent secrets are kept");
    let r = app
        .update_account(&t, id, json!({ "access_token": null }))
        .await
        .expect(400);
    assert_eq!(r.field(), "access_token");
    let row = accounts::get(&app.db, id).await.unwrap();
    assert!(row.access_token_enc.is_some());
});

app_test!(invalid_fields_are_refused_by_name, |app| {
    let t = app.admin_token().await;
    let base = json!({ "name": "x", "platform_type": "claude_console", "request_url": "https://api.example.com", "secret_key": "sk-test-0123456789" });
    let cases = [
        ("platform_type", json!("openai")),
        ("request_url", json!("ftp://example.com")),
        ("weight", json!(0)),
        ("priority", json!(-1)),
        ("max_concurrency", json!(-2)),
        ("proxy_url", json!("gopher://proxy:70")),
        ("auth_header", json!("cookie")),
        ("access_token", json!("tok-for-a-console-account")),
        ("group_id", json!(424_242)),
        ("name", json!("")),
        ("secret_key", json!("")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value;
        let r = app.create_account(&t, body).await;
        assert!(r.status == 400 || r.status == 404, "{field}: {}", r.text);
        assert_eq!(r.field(), field, "{}", r.text);
    }
    let mut body = base.clone();
    body.as_object_mut().unwrap().remove("request_url");
    assert_eq!(
        app.create_account(&t, body).await.expect(400).field(),
        "request_url"
    );
    let r = app
        .create_account(&t, json!({ "name": "c", "platform_type": "claude" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "access_token");
    let mut body = base.clone();
    body["api_secret"] = json!("x");
    let r = app.create_account(&t, body).await.expect(400);
    assert_eq!((r.code(), r.field()), ("unknown_field", "api_secret"));
});

app_test!(put_is_partial_and_a_new_secret_changes_the_hint, |app| {
    let t = app.admin_token().await;
    let body = json!({ "name": "c", "platform_type": "claude_console", "request_url": "https://api.example.com", "secret_key": CONSOLE_KEY, "priority": 3 });
    let id = app.create_account(&t, body).await.expect(201).id();
    let r = app
        .update_account(&t, id, json!({ "notes": "n" }))
        .await
        .expect(200);
    assert_eq!(
        (r.body["priority"].as_i64(), r.body["notes"].as_str()),
        (Some(3), Some("n"))
    );
    assert_eq!(r.body["secret_hint"], "sk-ant-…Ab12");
    let r = app
        .update_account(&t, id, json!({ "secret_key": "sk-new-console-key-QQ77" }))
        .await
        .expect(200);
    assert_eq!(r.body["secret_hint"], "sk-new-…QQ77");
    let r = app
        .update_account(&t, id, json!({ "proxy_url": "http://proxy.local:3128" }))
        .await
        .expect(200);
    assert_eq!(r.body["proxy_url"], "http://proxy.local:3128/");
    let r = app
        .update_account(&t, id, json!({ "proxy_url": null }))
        .await
        .expect(200);
    assert!(r.body["proxy_url"].is_null());
    let r = app
        .update_account(&t, id, json!({ "secret_key": null }))
        .await
        .expect(400);
    assert_eq!(r.field(), "secret_key");
    let r = app
        .update_account(&t, id, json!({ "request_url": "" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "request_url");
    app.update_account(&t, 999_999, json!({ "notes": "x" }))
        .await
        .expect(404);
});

app_test!(filters_switches_reset_and_delete, |app| {
    let t = app.admin_token().await;
    let g = app
        .create_group(&t, json!({ "name": "pool-b" }))
        .await
        .expect(201)
        .id();
    let console = |name: &str, group: Option<i64>| {
        let mut b = json!({ "name": name, "platform_type": "claude_console", "request_url": "https://api.example.com", "secret_key": "sk-test-0123456789" });
        if let Some(g) = group {
            b["group_id"] = json!(g);
        }
        b
    };
    let a1 = app
        .create_account(&t, console("a1", None))
        .await
        .expect(201)
        .id();
    let a2 = app
        .create_account(&t, console("a2", Some(g)))
        .await
        .expect(201)
        .id();
    let body = json!({ "name": "o", "platform_type": "claude", "access_token": ACCESS });
    app.create_account(&t, body).await.expect(201);

    let r = app
        .list_accounts(&t, &format!("?group_id={g}"))
        .await
        .expect(200);
    assert_eq!(
        (r.body["total"].as_i64(), r.body["items"][0]["id"].as_i64()),
        (Some(1), Some(a2))
    );
    let r = app
        .list_accounts(&t, "?platform_type=claude_console&page_size=1")
        .await
        .expect(200);
    assert_eq!(
        (
            r.body["total"].as_i64(),
            r.body["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    assert_eq!(
        app.list_accounts(&t, "?platform_type=gpt")
            .await
            .expect(400)
            .field(),
        "platform_type"
    );
    assert_eq!(
        app.list_accounts(&t, "?state=broken")
            .await
            .expect(400)
            .field(),
        "state"
    );

    let v = app.change_version().await;
    assert_eq!(
        app.account_action(&t, a1, "disable").await.expect(200).body["enabled"],
        false
    );
    assert!(app.change_version().await > v);
    let r = app.list_accounts(&t, "?enabled=false").await.expect(200);
    assert_eq!(r.body["total"], 1);
    assert_eq!(
        app.account_action(&t, a1, "enable").await.expect(200).body["enabled"],
        true
    );

    let until = relay_shared::db::now_ms() + 60_000;
    accounts::set_state(
        &app.db,
        a1,
        "cooling",
        "429 from upstream",
        Some(until),
        Some("rate limited"),
    )
    .await
    .unwrap();
    let r = app.get_account(&t, a1).await.expect(200);
    assert_eq!(
        (r.body["state"].as_str(), r.body["state_reason"].as_str()),
        (Some("cooling"), Some("429 from upstream"))
    );
    assert!(r.body["cooldown_until"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        app.list_accounts(&t, "?state=cooling")
            .await
            .expect(200)
            .body["total"],
        1
    );
    let r = app.account_action(&t, a1, "reset").await.expect(200);
    assert_eq!(
        (r.body["state"].as_str(), r.body["state_reason"].as_str()),
        (Some("active"), Some(""))
    );
    assert!(r.body["cooldown_until"].is_null() && r.body["last_error"].is_null());

    app.delete_account(&t, a2).await.expect(204);
    app.get_account(&t, a2).await.expect(404);
    app.account_action(&t, a2, "enable").await.expect(404);
    app.delete_group(&t, g).await.expect(204);
});
