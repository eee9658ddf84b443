//! `/admin/users` and `/user/profile`: administrators manage users; a `user` gets 403 on
//! every `/admin` route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use serde_json::json;

app_test!(admins_create_list_update_and_delete_users, |app| {
    let admin = app.admin_token().await;
    let before = app.change_version().await;
    let r = app
        .create_user(
            &admin,
            json!({ "username": "ivy", "password": "ivy-first-pass", "email": "ivy@example.com", "role": "user" }),
        )
        .await
        .expect(201);
    let ivy = r.id();
    assert_eq!(r.body["email"], "ivy@example.com");
    assert!(app.change_version().await > before);

    for i in 0..3 {
        let body = json!({ "username": format!("bulk{i}"), "password": "bulk-pass-123" });
        app.create_user(&admin, body).await.expect(201);
    }
    let r = app
        .list_users(&admin, "?page=2&page_size=2")
        .await
        .expect(200);
    assert_eq!(r.body["total"], 5);
    assert_eq!(
        (r.body["page"].as_i64(), r.body["page_size"].as_i64()),
        (Some(2), Some(2))
    );
    let names: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["bulk0", "bulk1"]);
    let r = app.list_users(&admin, "?page_size=1000").await.expect(200);
    assert_eq!(r.body["page_size"], 100);

    let r = app
        .update_user(&admin, ivy, json!({ "role": "admin", "email": null }))
        .await
        .expect(200);
    assert_eq!(
        (r.body["role"].as_str(), r.body["email"].is_null()),
        (Some("admin"), true)
    );
    assert_eq!(r.body["username"], "ivy", "absent fields keep their value");
    let r = app
        .update_user(&admin, ivy, json!({ "role": "root" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "role");

    let v = app.change_version().await;
    app.delete_user(&admin, ivy).await.expect(204);
    assert!(app.change_version().await > v);
    app.delete_user(&admin, ivy).await.expect(404);
    app.update_user(&admin, ivy, json!({ "enabled": true }))
        .await
        .expect(404);
});

app_test!(usernames_and_emails_are_unique_and_checked, |app| {
    let admin = app.admin_token().await;
    let body = json!({ "username": "jo", "password": "jo-pass-1234" });
    assert_eq!(
        app.create_user(&admin, body).await.expect(400).field(),
        "username"
    );
    let body = json!({ "username": "admin", "password": "whatever-123" });
    let r = app.create_user(&admin, body).await.expect(409);
    assert_eq!((r.code(), r.field()), ("username_taken", "username"));
    let body = json!({ "username": "jon", "password": "jon-pass-1234", "email": "x@example.com" });
    app.create_user(&admin, body).await.expect(201);
    let body = json!({ "username": "jim", "password": "jim-pass-1234", "email": "x@example.com" });
    let r = app.create_user(&admin, body).await.expect(409);
    assert_eq!((r.code(), r.field()), ("email_taken", "email"));
    let body = json!({ "username": "jim", "password": "jim-pass-1234", "email": "not-an-email" });
    assert_eq!(
        app.create_user(&admin, body).await.expect(400).field(),
        "email"
    );
    let body = json!({ "username": "jim", "password": "short" });
    assert_eq!(
        app.create_user(&admin, body).await.expect(400).field(),
        "password"
    );
});

app_test!(
    an_admin_cannot_delete_disable_demote_or_reset_themselves,
    |app| {
        let admin = app.admin_token().await;
        let me = app.profile(&admin).await.expect(200).id();
        assert_eq!(
            app.delete_user(&admin, me).await.expect(400).code(),
            "cannot_delete_self"
        );
        app.update_user(&admin, me, json!({ "enabled": false }))
            .await
            .expect(400);
        app.update_user(&admin, me, json!({ "role": "user" }))
            .await
            .expect(400);
        // Their own password changes with the old one (PUT /user/password), never by a reset
        // that a stolen token alone could do.
        let r = app
            .reset_password(&admin, me, "taken-over-pass")
            .await
            .expect(400);
        assert_eq!((r.code(), r.field()), ("cannot_reset_self", "id"));
        app.profile(&admin).await.expect(200);
        app.login("admin", common::ADMIN_PASSWORD).await.expect(200);
    }
);

app_test!(a_user_gets_403_on_every_admin_route, |app| {
    let (uid, t) = app.user("kim").await;
    let paths = [
        ("GET", "/admin/users".to_string()),
        ("POST", "/admin/users".to_string()),
        ("PUT", format!("/admin/users/{uid}")),
        ("DELETE", format!("/admin/users/{uid}")),
        ("POST", format!("/admin/users/{uid}/reset-password")),
        ("GET", "/admin/accounts".to_string()),
        ("POST", "/admin/accounts".to_string()),
        ("GET", "/admin/accounts/1".to_string()),
        ("PUT", "/admin/accounts/1".to_string()),
        ("DELETE", "/admin/accounts/1".to_string()),
        ("POST", "/admin/accounts/1/enable".to_string()),
        ("POST", "/admin/accounts/1/disable".to_string()),
        ("POST", "/admin/accounts/1/reset".to_string()),
    ];
    for (method, path) in paths {
        let r = match method {
            "GET" => app.get(&path, &t).await,
            "POST" => app.post(&path, &t, json!({})).await,
            "PUT" => app.put(&path, &t, json!({})).await,
            _ => app.delete(&path, &t).await,
        };
        assert_eq!(
            (r.status, r.code()),
            (403, "forbidden"),
            "{method} {path}: {}",
            r.text
        );
    }
});

app_test!(users_edit_their_own_email, |app| {
    let (_, t) = app.user("lee").await;
    let r = app
        .update_profile(&t, json!({ "email": "lee@example.com" }))
        .await
        .expect(200);
    assert_eq!(r.body["email"], "lee@example.com");
    let r = app
        .update_profile(&t, json!({ "role": "admin" }))
        .await
        .expect(400);
    assert_eq!((r.code(), r.field()), ("unknown_field", "role"));
    assert_eq!(app.profile(&t).await.expect(200).body["role"], "user");
    let (_, other) = app.user("max").await;
    let r = app
        .update_profile(&other, json!({ "email": "lee@example.com" }))
        .await
        .expect(409);
    assert_eq!(r.field(), "email");
    let r = app
        .update_profile(&t, json!({ "email": null }))
        .await
        .expect(200);
    assert!(r.body["email"].is_null());
});
