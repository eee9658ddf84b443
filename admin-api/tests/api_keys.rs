//! `/api-keys`: limits are saved as given, the full key is shown only on create and
//! regenerate, users reach only their own keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use relay_shared::crypto::hash_relay_key;
use relay_shared::db::api_keys;
use serde_json::json;

app_test!(
    limits_and_allowed_models_given_on_create_are_saved_and_returned,
    |app| {
        let (uid, t) = app.user("rae").await;
        let v = app.change_version().await;
        let body = json!({
            "name": "limited",
            "allowed_models": ["claude-sonnet-*", "claude-haiku-4-5"],
            "daily_limit_usd": 5.5,
            "total_limit_usd": 100,
            "rpm_limit": 30,
            "concurrency_limit": 2,
            "expires_at": "2030-01-02T03:04:05Z",
            "enabled": false
        });
        let r = app.create_key(&t, body).await.expect(201);
        assert!(app.change_version().await > v);
        let id = r.id();
        let key = r.body["key"].as_str().unwrap().to_string();
        assert!(key.starts_with("sk-relay-") && key.len() >= 40);
        assert!(key.starts_with(r.body["key_prefix"].as_str().unwrap()));
        for b in [&r.body, &app.get_key(&t, id).await.expect(200).body] {
            assert_eq!(b["user_id"], uid);
            assert_eq!(b["daily_limit_usd"], 5.5);
            assert_eq!(b["total_limit_usd"], 100.0);
            assert_eq!(b["rpm_limit"], 30);
            assert_eq!(b["concurrency_limit"], 2);
            assert_eq!(
                b["allowed_models"],
                json!(["claude-sonnet-*", "claude-haiku-4-5"])
            );
            assert_eq!(b["expires_at"], "2030-01-02T03:04:05Z");
            assert_eq!(b["enabled"], false);
        }
        let row = api_keys::get(&app.db, id).await.unwrap();
        assert_eq!(
            (row.daily_limit_micro_usd, row.total_limit_micro_usd),
            (5_500_000, 100_000_000)
        );
        assert_eq!(
            row.key_hash,
            hash_relay_key(&key),
            "only the hash is stored"
        );

        let listed = app.list_keys(&t, "").await.expect(200);
        assert_eq!(listed.body["total"], 1);
        assert!(listed.body["items"][0].get("key").is_none());
        assert!(app.get_key(&t, id).await.body.get("key").is_none());
    }
);

app_test!(
    a_key_without_a_group_joins_the_default_group_and_money_rounds,
    |app| {
        let t = app.admin_token().await;
        let default = app.list_groups(&t, "").await.body["items"][0]["id"]
            .as_i64()
            .unwrap();
        let r = app
            .create_key(&t, json!({ "name": "plain", "daily_limit_usd": 0.1234567 }))
            .await
            .expect(201);
        assert_eq!(r.body["group_id"], default);
        assert_eq!(r.body["daily_limit_usd"], 0.123457);
        assert_eq!(r.body["expires_at"], serde_json::Value::Null);
        assert_eq!(r.body["allowed_models"], json!([]));
        assert_eq!(r.body["enabled"], true);
    }
);

app_test!(put_changes_only_the_fields_given, |app| {
    let (_, t) = app.user("sam").await;
    let body = json!({ "name": "k", "rpm_limit": 10, "daily_limit_usd": 2, "expires_at": "2031-05-06 07:08:09" });
    let id = app.create_key(&t, body).await.expect(201).id();
    let r = app
        .update_key(
            &t,
            id,
            json!({ "name": "renamed", "total_limit_usd": 9.99 }),
        )
        .await
        .expect(200);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["rpm_limit"], 10);
    assert_eq!(r.body["daily_limit_usd"], 2.0);
    assert_eq!(r.body["total_limit_usd"], 9.99);
    assert_eq!(
        r.body["expires_at"], "2031-05-05T23:08:09Z",
        "Asia/Shanghai is UTC+8"
    );
    let r = app
        .update_key(&t, id, json!({ "expires_at": null, "rpm_limit": null }))
        .await
        .expect(200);
    assert!(r.body["expires_at"].is_null());
    assert_eq!(r.body["rpm_limit"], 0);
    let r = app
        .update_key(&t, id, json!({ "expires_at": "tomorrow" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "expires_at");
    let r = app
        .update_key(&t, id, json!({ "key_prefix": "sk-x" }))
        .await
        .expect(400);
    assert_eq!((r.code(), r.field()), ("unknown_field", "key_prefix"));
});

app_test!(
    a_user_cannot_read_change_or_delete_another_users_key,
    |app| {
        let (_, alice) = app.user("alice").await;
        let (_, bob) = app.user("bob").await;
        let id = app
            .create_key(&alice, json!({ "name": "alice's" }))
            .await
            .expect(201)
            .id();
        for r in [
            app.get_key(&bob, id).await,
            app.update_key(&bob, id, json!({ "enabled": false })).await,
            app.delete_key(&bob, id).await,
            app.regenerate_key(&bob, id).await,
        ] {
            assert_eq!(r.status, 404, "{}", r.text);
            assert!(!r.text.contains("alice's"));
        }
        let r = app
            .list_keys(&bob, &format!("?user_id={}", 1))
            .await
            .expect(200);
        assert_eq!(
            r.body["total"], 0,
            "a user's filter cannot reach other users' keys"
        );
        assert_eq!(
            app.get_key(&alice, id).await.expect(200).body["enabled"],
            true
        );

        let admin = app.admin_token().await;
        let r = app.list_keys(&admin, "").await.expect(200);
        assert_eq!(r.body["total"], 1);
        let alice_id = r.body["items"][0]["user_id"].as_i64().unwrap();
        let r = app
            .list_keys(&admin, &format!("?user_id={alice_id}"))
            .await
            .expect(200);
        assert_eq!(r.body["total"], 1);
        let r = app.list_keys(&admin, "?user_id=abc").await.expect(400);
        assert_eq!(r.field(), "user_id");
        app.update_key(&admin, id, json!({ "enabled": false }))
            .await
            .expect(200);
        app.delete_key(&alice, id).await.expect(204);
        app.get_key(&alice, id).await.expect(404);
    }
);

app_test!(a_user_may_only_use_groups_they_own_or_belong_to, |app| {
    let admin = app.admin_token().await;
    let private = app
        .create_group(&admin, json!({ "name": "private" }))
        .await
        .expect(201)
        .id();
    let (_, t) = app.user("tess").await;
    let r = app
        .create_key(&t, json!({ "name": "k", "group_id": private }))
        .await
        .expect(404);
    assert_eq!(r.field(), "group_id");
    let r = app
        .create_key(&t, json!({ "name": "k", "group_id": 987_654 }))
        .await
        .expect(404);
    assert_eq!(r.field(), "group_id");
    let own = app
        .create_group(&t, json!({ "name": "tess-own" }))
        .await
        .expect(201)
        .id();
    let id = app
        .create_key(&t, json!({ "name": "k", "group_id": own }))
        .await
        .expect(201)
        .id();
    let r = app
        .update_key(&t, id, json!({ "group_id": private }))
        .await
        .expect(404);
    assert_eq!(r.field(), "group_id");
});

app_test!(
    regenerate_replaces_the_key_and_shows_the_new_one_once,
    |app| {
        let (_, t) = app.user("uma").await;
        let r = app
            .create_key(&t, json!({ "name": "k", "rpm_limit": 7 }))
            .await
            .expect(201);
        let (id, old) = (r.id(), r.body["key"].as_str().unwrap().to_string());
        let v = app.change_version().await;
        let r = app.regenerate_key(&t, id).await.expect(201);
        assert!(app.change_version().await > v);
        let new = r.body["key"].as_str().unwrap().to_string();
        assert_ne!(old, new);
        assert_eq!((r.id(), r.body["rpm_limit"].as_i64()), (id, Some(7)));
        assert!(api_keys::find_by_hash(&app.db, &hash_relay_key(&old))
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            api_keys::find_by_hash(&app.db, &hash_relay_key(&new))
                .await
                .unwrap()
                .unwrap()
                .id,
            id
        );
        assert!(app.get_key(&t, id).await.body.get("key").is_none());
    }
);

app_test!(
    a_user_removed_from_the_default_group_cannot_make_keys_there,
    |app| {
        let (uid, t) = app.user("dee").await;
        app.create_key(&t, json!({"name": "before"}))
            .await
            .expect(201);
        let admin = app.admin_token().await;
        let default = relay_shared::db::groups::ensure_default(&app.db)
            .await
            .unwrap();
        app.remove_member(&admin, default.id, uid).await.expect(204);
        let r = app
            .create_key(&t, json!({"name": "after"}))
            .await
            .expect(403);
        assert_eq!(r.body["error"]["code"], "not_a_member");
        let named = json!({"name": "after", "group_id": default.id});
        app.create_key(&t, named).await.expect(404);
    }
);
