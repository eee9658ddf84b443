//! `/groups` and their members: owners and administrators manage a group; anyone else gets
//! 404 and never the object. Only administrators see and change other users' memberships.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use serde_json::json;

app_test!(a_user_creates_and_manages_a_group_they_own, |app| {
    let (uid, t) = app.user("nia").await;
    let v = app.change_version().await;
    let r = app
        .create_group(&t, json!({ "name": "nia-team", "description": "mine" }))
        .await
        .expect(201);
    let g = r.id();
    assert_eq!(r.body["owner_id"], uid);
    assert_eq!(r.body["is_default"], false);
    assert!(app.change_version().await > v);

    let r = app
        .update_group(&t, g, json!({ "description": "ours" }))
        .await
        .expect(200);
    assert_eq!(
        (r.body["name"].as_str(), r.body["description"].as_str()),
        (Some("nia-team"), Some("ours"))
    );
    let r = app
        .update_group(&t, g, json!({ "owner_id": null }))
        .await
        .expect(403);
    assert_eq!(r.field(), "owner_id");
    let r = app
        .create_group(&t, json!({ "name": "for-someone", "owner_id": uid + 1000 }))
        .await
        .expect(403);
    assert_eq!(r.field(), "owner_id");

    let r = app.list_groups(&t, "").await.expect(200);
    let names: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["default", "nia-team"]);

    let r = app
        .create_group(&t, json!({ "name": "nia-team" }))
        .await
        .expect(409);
    assert_eq!((r.code(), r.field()), ("name_taken", "name"));
    app.delete_group(&t, g).await.expect(204);
    app.get_group(&t, g).await.expect(404);
});

app_test!(another_user_cannot_see_change_or_delete_a_group, |app| {
    let (_, owner) = app.user("olga").await;
    let (mallory_id, mallory) = app.user("mallory").await;
    let g = app
        .create_group(&owner, json!({ "name": "olga-pool" }))
        .await
        .expect(201)
        .id();
    for r in [
        app.get_group(&mallory, g).await,
        app.update_group(&mallory, g, json!({ "name": "stolen" }))
            .await,
        app.delete_group(&mallory, g).await,
        app.list_members(&mallory, g).await,
        app.add_member(&mallory, g, json!({ "user_id": mallory_id }))
            .await,
        app.remove_member(&mallory, g, mallory_id).await,
    ] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert!(!r.text.contains("olga-pool"), "{}", r.text);
    }
    let r = app.list_groups(&mallory, "").await.expect(200);
    assert!(!r.text.contains("olga-pool"));
    let admin = app.admin_token().await;
    assert_eq!(
        app.get_group(&admin, g).await.expect(200).body["name"],
        "olga-pool"
    );
    assert_eq!(
        app.get_group(&owner, g).await.expect(200).body["name"],
        "olga-pool"
    );
});

app_test!(
    administrators_add_and_remove_members_who_then_see_the_group,
    |app| {
        let admin = app.admin_token().await;
        let (_, owner) = app.user("pam").await;
        let (quinn_id, quinn) = app.user("quinn").await;
        let g = app
            .create_group(&owner, json!({ "name": "pam-pool" }))
            .await
            .expect(201)
            .id();

        let v = app.change_version().await;
        let r = app
            .add_member(&admin, g, json!({ "user_id": quinn_id }))
            .await
            .expect(201);
        assert_eq!(
            (r.body["user_id"].as_i64(), r.body["username"].as_str()),
            (Some(quinn_id), Some("quinn"))
        );
        assert!(app.change_version().await > v);
        app.add_member(&admin, g, json!({ "username": "quinn" }))
            .await
            .expect(201);
        let r = app.list_members(&admin, g).await.expect(200);
        assert_eq!(r.body["total"], 1);

        // A member sees the group and may put keys in it, but not manage it.
        assert_eq!(
            app.get_group(&quinn, g).await.expect(200).body["name"],
            "pam-pool"
        );
        let r = app
            .update_group(&quinn, g, json!({ "name": "x" }))
            .await
            .expect(403);
        assert_eq!(r.code(), "forbidden");
        app.create_key(&quinn, json!({ "name": "in pam's pool", "group_id": g }))
            .await
            .expect(201);

        let r = app
            .add_member(&admin, g, json!({ "user_id": 999_999 }))
            .await
            .expect(404);
        assert_eq!(r.field(), "user_id");
        let r = app.add_member(&admin, g, json!({})).await.expect(400);
        assert_eq!(r.field(), "user_id");

        app.remove_member(&admin, g, quinn_id).await.expect(204);
        app.remove_member(&admin, g, quinn_id).await.expect(404);
        app.get_group(&quinn, g).await.expect(404);
        let r = app
            .create_key(&quinn, json!({ "name": "again", "group_id": g }))
            .await
            .expect(404);
        assert_eq!(r.field(), "group_id");
    }
);

app_test!(
    a_plain_user_cannot_enumerate_users_through_group_membership,
    |app| {
        let admin = app.admin_token().await;
        let (_, pam) = app.user("pam").await;
        let (quinn_id, quinn) = app.user("quinn").await;
        let (rita_id, rita) = app.user("rita").await;
        app.update_profile(&rita, json!({ "email": "rita@example.com" }))
            .await
            .expect(200);
        let g = app
            .create_group(&pam, json!({ "name": "pam-pool" }))
            .await
            .expect(201)
            .id();
        for id in [quinn_id, rita_id] {
            app.add_member(&admin, g, json!({ "user_id": id }))
                .await
                .expect(201);
        }
        let others = |text: &str| {
            ["rita", "quinn", "\"username\"", "\"role\""]
                .iter()
                .any(|n| text.contains(n))
        };

        // The owner sees no one (they are not a member), and adding answers the same for
        // users that exist and users that do not.
        let r = app.list_members(&pam, g).await.expect(200);
        assert_eq!(r.body["total"], 0, "{}", r.text);
        assert!(!others(&r.text), "{}", r.text);
        let mut answers = Vec::new();
        for body in [
            json!({ "user_id": rita_id }),
            json!({ "user_id": 999_999 }),
            json!({ "username": "rita" }),
            json!({ "username": "nobody-at-all" }),
        ] {
            let r = app.add_member(&pam, g, body).await.expect(403);
            assert!(!others(&r.text), "{}", r.text);
            answers.push(r.text);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        app.remove_member(&pam, g, quinn_id).await.expect(403);

        // A member sees their own membership only, in this group and in the default one.
        let r = app.list_members(&quinn, g).await.expect(200);
        assert_eq!(r.body["total"], 1, "{}", r.text);
        assert_eq!(r.body["items"][0]["user_id"], quinn_id);
        assert!(!r.text.contains("rita"), "{}", r.text);
        let default = app.list_groups(&quinn, "").await.expect(200).body["items"][0]["id"]
            .as_i64()
            .unwrap();
        let r = app.list_members(&quinn, default).await.expect(200);
        assert_eq!(r.body["total"], 1, "{}", r.text);
        assert!(
            !r.text.contains("rita") && !r.text.contains("admin"),
            "{}",
            r.text
        );
        app.remove_member(&quinn, g, rita_id).await.expect(403);
        let r = app
            .add_member(&quinn, g, json!({ "username": "admin" }))
            .await
            .expect(403);
        assert!(!r.text.contains("\"role\""), "{}", r.text);

        // A member may leave; an administrator sees everyone.
        app.remove_member(&quinn, g, quinn_id).await.expect(204);
        app.get_group(&quinn, g).await.expect(404);
        let r = app.list_members(&admin, default).await.expect(200);
        assert_eq!(r.body["total"], 3, "pam, quinn and rita: {}", r.text);
    }
);

app_test!(
    the_default_group_and_groups_in_use_cannot_be_deleted,
    |app| {
        let admin = app.admin_token().await;
        let r = app.list_groups(&admin, "").await.expect(200);
        let default = r.body["items"][0]["id"].as_i64().unwrap();
        assert_eq!(r.body["items"][0]["is_default"], true);
        assert_eq!(
            app.delete_group(&admin, default).await.expect(409).code(),
            "default_group"
        );

        let g = app
            .create_group(&admin, json!({ "name": "busy" }))
            .await
            .expect(201)
            .id();
        let k = app
            .create_key(&admin, json!({ "name": "k", "group_id": g }))
            .await
            .expect(201)
            .id();
        assert_eq!(
            app.delete_group(&admin, g).await.expect(409).code(),
            "group_in_use"
        );
        app.delete_key(&admin, k).await.expect(204);
        app.delete_group(&admin, g).await.expect(204);
        assert_eq!(
            app.create_group(&admin, json!({ "name": "  " }))
                .await
                .expect(400)
                .field(),
            "name"
        );
    }
);
