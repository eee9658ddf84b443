//! Signing in and out, token revocation, the cookie's CSRF rule, forced
//! password changes, registration and body validation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::{Opts, ADMIN_PASSWORD};
use reqwest::Method;
use serde_json::json;

app_test!(
    login_answers_a_token_a_user_and_a_strict_http_only_cookie,
    |app| {
        let r = app.login("admin", ADMIN_PASSWORD).await.expect(200);
        let token = r.body["token"].as_str().unwrap();
        assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(r.body["user"]["username"], "admin");
        assert_eq!(r.body["user"]["role"], "admin");
        assert_eq!(r.body["user"]["must_change_password"], false);
        let cookie = r.set_cookie();
        assert!(
            cookie.starts_with(&format!("relay_session={token};")),
            "{cookie}"
        );
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie}");
        }
        let me = app.profile(token).await.expect(200);
        assert_eq!(me.body["username"], "admin");
        assert!(me.body["last_login_at"].is_string());

        let r = app.login("admin", "wrong-password").await.expect(401);
        assert_eq!(r.code(), "invalid_credentials");
        let r = app.login("nobody", "whatever-pass").await.expect(401);
        assert_eq!(r.code(), "invalid_credentials");
        let r = app.get("/user/profile", "not-a-jwt").await.expect(401);
        assert_eq!(r.code(), "invalid_token");
        let r = app
            .send(Method::GET, "/user/profile", None, Opts::default())
            .await
            .expect(401);
        assert_eq!(r.code(), "unauthorized");
    }
);

app_test!(
    logout_clears_the_cookie_and_logout_all_revokes_every_token,
    |app| {
        let t1 = app.admin_token().await;
        let t2 = app.admin_token().await;
        let r = app.logout(&t1).await.expect(204);
        assert!(r.set_cookie().contains("Max-Age=0"), "{}", r.set_cookie());
        app.profile(&t1).await.expect(200);

        app.logout_all(&t1).await.expect(204);
        for t in [&t1, &t2] {
            assert_eq!(app.profile(t).await.expect(401).code(), "invalid_token");
        }
        let t3 = app.admin_token().await;
        app.profile(&t3).await.expect(200);
    }
);

app_test!(an_old_token_is_refused_after_a_password_change, |app| {
    let (_, old) = app.user("carol").await;
    let r = app
        .change_password(&old, "carol-own-pass", "carol-newer-pass")
        .await
        .expect(200);
    let fresh = r.body["token"].as_str().unwrap().to_string();
    assert!(r.set_cookie().contains(&fresh));
    assert_eq!(app.profile(&old).await.expect(401).code(), "invalid_token");
    app.profile(&fresh).await.expect(200);
    app.login("carol", "carol-own-pass").await.expect(401);
    app.login("carol", "carol-newer-pass").await.expect(200);

    let r = app
        .change_password(&fresh, "not-it-at-all", "whatever-123")
        .await
        .expect(400);
    assert_eq!((r.code(), r.field()), ("wrong_password", "old_password"));
    let r = app
        .change_password(&fresh, "carol-newer-pass", "short")
        .await
        .expect(400);
    assert_eq!(r.field(), "new_password");
});

// Lockouts, their scope and the hashing cap are tested in login_throttle.rs.

app_test!(a_cookie_write_needs_x_requested_with, |app| {
    let token = app.admin_token().await;
    let body = json!({ "name": "cookie key" });
    let cookie = Opts {
        cookie: Some(&token),
        ..Default::default()
    };
    let r = app
        .send(
            Method::POST,
            "/api-keys",
            Some(body.clone()),
            cookie.clone(),
        )
        .await
        .expect(403);
    assert_eq!(r.code(), "csrf_check_failed");
    app.send(Method::GET, "/api-keys", None, cookie.clone())
        .await
        .expect(200);
    let with = Opts {
        cookie: Some(&token),
        xrw: true,
        ..Default::default()
    };
    app.send(Method::POST, "/api-keys", Some(body.clone()), with)
        .await
        .expect(201);
    // A bearer token needs no such header.
    app.create_key(&token, body).await.expect(201);
});

app_test!(a_password_set_by_an_admin_must_be_changed_first, |app| {
    let admin = app.admin_token().await;
    let body = json!({ "username": "erin", "password": "erin-given-pass" });
    let r = app.create_user(&admin, body).await.expect(201);
    assert_eq!(r.body["must_change_password"], true);
    let erin_id = r.id();

    let r = app.login("erin", "erin-given-pass").await.expect(200);
    assert_eq!(r.body["user"]["must_change_password"], true);
    let t = r.body["token"].as_str().unwrap().to_string();
    app.profile(&t).await.expect(200);
    for r in [
        app.list_keys(&t, "").await,
        app.create_key(&t, json!({ "name": "k" })).await,
        app.list_groups(&t, "").await,
        app.update_profile(&t, json!({ "email": "e@example.com" }))
            .await,
    ] {
        assert_eq!(
            (r.status, r.code()),
            (403, "password_change_required"),
            "{}",
            r.text
        );
    }
    let r = app
        .change_password(&t, "erin-given-pass", "erin-chosen-pass")
        .await
        .expect(200);
    assert_eq!(r.body["user"]["must_change_password"], false);
    let t = r.body["token"].as_str().unwrap().to_string();
    app.list_keys(&t, "").await.expect(200);

    // A reset by the admin revokes the token and asks again.
    app.reset_password(&admin, erin_id, "erin-reset-pass")
        .await
        .expect(200);
    app.profile(&t).await.expect(401);
    let r = app.login("erin", "erin-reset-pass").await.expect(200);
    let t = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.list_keys(&t, "").await.expect(403).code(),
        "password_change_required"
    );
    app.logout_all(&t).await.expect(204);
});

app_test!(a_disabled_user_is_refused, |app| {
    let admin = app.admin_token().await;
    let (id, t) = app.user("frank").await;
    app.update_user(&admin, id, json!({ "enabled": false }))
        .await
        .expect(200);
    assert_eq!(app.profile(&t).await.expect(401).code(), "user_disabled");
    // Signing in answers as a wrong password would (see login_throttle.rs).
    let r = app.login("frank", "frank-own-pass").await.expect(401);
    assert_eq!(r.code(), "invalid_credentials");
});

app_test!(registration_is_refused_unless_enabled, |app| {
    let r = app
        .register(json!({ "username": "gina", "password": "gina-pass-123" }))
        .await
        .expect(403);
    assert_eq!(r.code(), "registration_disabled");
});

app_test!(
    registration_when_enabled_creates_a_user_in_the_default_group,
    config = |c| {
        c.auth.allow_registration = true;
    },
    |app| {
        let r = app
            .register(json!({ "username": "gina", "email": "gina@example.com", "password": "gina-pass-123" }))
            .await
            .expect(201);
        assert_eq!(r.body["user"]["role"], "user");
        assert_eq!(r.body["user"]["must_change_password"], false);
        let t = r.body["token"].as_str().unwrap().to_string();
        let groups = app.list_groups(&t, "").await.expect(200);
        assert_eq!(groups.body["items"][0]["is_default"], true);
        app.create_key(&t, json!({ "name": "mine" }))
            .await
            .expect(201);
        let r = app
            .register(json!({ "username": "gina", "password": "gina-pass-456" }))
            .await
            .expect(409);
        assert_eq!((r.code(), r.field()), ("username_taken", "username"));
        let r = app
            .register(json!({ "username": "hal", "password": "short" }))
            .await
            .expect(400);
        assert_eq!(r.field(), "password");
    }
);

app_test!(malformed_bodies_are_400s_that_name_the_field, |app| {
    let t = app.admin_token().await;
    let r = app
        .create_key(&t, json!({ "name": "k", "colour": "red" }))
        .await
        .expect(400);
    assert_eq!((r.code(), r.field()), ("unknown_field", "colour"));
    let r = app
        .create_key(&t, json!({ "name": "k", "rpm_limit": "many" }))
        .await
        .expect(400);
    assert_eq!(r.field(), "rpm_limit");
    let r = app.create_key(&t, json!({})).await.expect(400);
    assert_eq!(r.field(), "name");
    let r = app
        .create_key(&t, json!({ "name": "k", "daily_limit_usd": -1 }))
        .await
        .expect(400);
    assert_eq!(r.field(), "daily_limit_usd");

    let raw = reqwest::Client::new()
        .post(format!("{}/api-keys", app.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");

    let raw = reqwest::Client::new()
        .post(format!("{}/api-keys", app.base))
        .bearer_auth(&t)
        .body("{\"name\":\"k\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 415);

    let huge = "x".repeat(3 * 1024 * 1024);
    let r = app
        .create_key(&t, json!({ "name": huge }))
        .await
        .expect(413);
    assert_eq!(r.code(), "request_too_large");

    let r = app.get("/api-keys/abc", &t).await.expect(400);
    assert_eq!(r.code(), "invalid_request");
    let r = app.get("/nothing-here", &t).await.expect(404);
    assert_eq!(r.code(), "not_found");
    let r = app
        .send(
            Method::PATCH,
            "/api-keys",
            None,
            Opts {
                token: Some(&t),
                ..Default::default()
            },
        )
        .await
        .expect(405);
    assert_eq!(r.code(), "method_not_allowed");
});
