//! Tests of `db::api_keys`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::db::{groups, users};
use crate::db_test;

/// An enabled key without limits; `hash` must be unique.
pub(crate) fn new_key(user_id: i64, group_id: i64, hash: &str) -> NewApiKey {
    NewApiKey {
        user_id,
        group_id,
        name: format!("key {hash}"),
        key_hash: hash.to_string(),
        key_prefix: "sk-abc".into(),
        expires_at: None,
        allowed_models: vec![],
        daily_limit_micro_usd: 0,
        total_limit_micro_usd: 0,
        limit_5h_micro_usd: 0,
        weekly_limit_micro_usd: 0,
        monthly_limit_micro_usd: 0,
        rpm_limit: 0,
        concurrency_limit: 0,
        enabled: true,
    }
}

async fn user(db: &Db, name: &str) -> i64 {
    let u = users::NewUser {
        username: name,
        email: None,
        password_hash: "$argon2id$x",
        role: "user",
        must_change_password: false,
    };
    users::create(db, &u).await.unwrap().id
}

async fn group(db: &Db, name: &str) -> i64 {
    let g = groups::NewGroup {
        name,
        description: "",
        owner_id: None,
    };
    groups::create(db, &g).await.unwrap().id
}

db_test!(create_get_update_delete_keeps_absent_fields, |db| {
    let (u, g) = (user(&db, "u").await, group(&db, "g").await);
    let mut new = new_key(u, g, "h1");
    new.allowed_models = vec!["claude-*".into()];
    new.expires_at = Some(9_000);
    new.daily_limit_micro_usd = 5_000_000;
    let k = create(&db, &new).await.unwrap();
    assert_eq!((k.user_id, k.group_id, k.enabled), (u, g, true));
    assert_eq!(k.allowed_models().unwrap(), ["claude-*"]);
    assert_eq!(find_by_hash(&db, "h1").await.unwrap().unwrap().id, k.id);
    assert!(find_by_hash(&db, "nope").await.unwrap().is_none());

    let patch = ApiKeyPatch {
        rpm_limit: Some(60),
        limit_5h_micro_usd: Some(1),
        weekly_limit_micro_usd: Some(2),
        monthly_limit_micro_usd: Some(3),
        enabled: Some(false),
        expires_at: Some(None),
        ..Default::default()
    };
    let k2 = update(&db, k.id, &patch).await.unwrap();
    assert_eq!((k2.rpm_limit, k2.enabled, k2.expires_at), (60, false, None));
    assert_eq!(
        (
            k2.limit_5h_micro_usd,
            k2.weekly_limit_micro_usd,
            k2.monthly_limit_micro_usd
        ),
        (1, 2, 3)
    );
    assert_eq!(
        k2.daily_limit_micro_usd, 5_000_000,
        "absent fields keep their value"
    );
    assert_eq!(
        (k2.name.as_str(), k2.allowed_models.as_str()),
        (k.name.as_str(), k.allowed_models.as_str())
    );
    let patch = ApiKeyPatch {
        expires_at: Some(Some(7_000)),
        ..Default::default()
    };
    assert_eq!(
        update(&db, k.id, &patch).await.unwrap().expires_at,
        Some(7_000)
    );
    let err = update(&db, k.id + 100, &patch).await.unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");

    delete(&db, k.id).await.unwrap();
    assert!(matches!(get(&db, k.id).await, Err(DbError::NotFound)));
    assert!(matches!(delete(&db, k.id).await, Err(DbError::NotFound)));
});

db_test!(duplicate_hash_or_unknown_group_is_a_conflict, |db| {
    let (u, g) = (user(&db, "u").await, group(&db, "g").await);
    create(&db, &new_key(u, g, "same")).await.unwrap();
    let err = create(&db, &new_key(u, g, "same")).await.unwrap_err();
    assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
    let err = create(&db, &new_key(u, g + 100, "other"))
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
});

db_test!(another_users_key_is_not_found, |db| {
    let (alice, mallory) = (user(&db, "alice").await, user(&db, "mallory").await);
    let g = group(&db, "g").await;
    let k = create(&db, &new_key(alice, g, "h1")).await.unwrap();
    assert_eq!(get_for_user(&db, k.id, alice).await.unwrap().id, k.id);
    let err = get_for_user(&db, k.id, mallory).await.unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");
    let err = delete_for_user(&db, k.id, mallory).await.unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");
    assert!(
        get(&db, k.id).await.is_ok(),
        "the refused delete left the key"
    );
    delete_for_user(&db, k.id, alice).await.unwrap();
    assert!(matches!(get(&db, k.id).await, Err(DbError::NotFound)));
});

db_test!(list_filters_pages_and_counts, |db| {
    let (a, b) = (user(&db, "a").await, user(&db, "b").await);
    let (g1, g2) = (group(&db, "g1").await, group(&db, "g2").await);
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(
            create(&db, &new_key(a, g1, &format!("a{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let b1 = create(&db, &new_key(b, g1, "b1")).await.unwrap().id;
    let b2 = create(&db, &new_key(b, g2, "b2")).await.unwrap().id;

    let page = Page {
        page: 2,
        page_size: 3,
    };
    let (rows, total) = list(
        &db,
        ApiKeyFilter {
            user_id: Some(a),
            group_id: None,
        },
        page,
    )
    .await
    .unwrap();
    assert_eq!(total, 4);
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[3]]);

    let all = Page {
        page: 1,
        page_size: 50,
    };
    let ids_of = |(rows, total): (Vec<ApiKeyRow>, i64)| {
        (rows.iter().map(|r| r.id).collect::<Vec<_>>(), total)
    };
    let f = ApiKeyFilter {
        user_id: Some(b),
        group_id: None,
    };
    assert_eq!(ids_of(list(&db, f, all).await.unwrap()), (vec![b1, b2], 2));
    let f = ApiKeyFilter {
        user_id: Some(b),
        group_id: Some(g2),
    };
    assert_eq!(ids_of(list(&db, f, all).await.unwrap()), (vec![b2], 1));
    let f = ApiKeyFilter {
        user_id: None,
        group_id: Some(g1),
    };
    assert_eq!(list(&db, f, all).await.unwrap().1, 5);
    assert_eq!(list(&db, ApiKeyFilter::default(), all).await.unwrap().1, 6);
    assert_eq!(list_all(&db).await.unwrap().len(), 6);
});

db_test!(regenerate_replaces_only_the_key_material, |db| {
    let (u, g) = (user(&db, "u").await, group(&db, "g").await);
    let mut new = new_key(u, g, "old");
    new.rpm_limit = 10;
    let k = create(&db, &new).await.unwrap();
    touch_used(&db, k.id, 1_000).await.unwrap();
    let r = regenerate(&db, k.id, "new", "sk-new").await.unwrap();
    assert_eq!(
        (r.key_hash.as_str(), r.key_prefix.as_str()),
        ("new", "sk-new")
    );
    assert_eq!(
        (r.name, r.rpm_limit, r.enabled, r.last_used_at),
        (k.name, 10, true, Some(1_000))
    );
    assert!(find_by_hash(&db, "old").await.unwrap().is_none());
    assert_eq!(find_by_hash(&db, "new").await.unwrap().unwrap().id, k.id);
    let err = regenerate(&db, k.id + 100, "x", "y").await.unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");
});

db_test!(touch_used_never_moves_backwards, |db| {
    let (u, g) = (user(&db, "u").await, group(&db, "g").await);
    let k = create(&db, &new_key(u, g, "h")).await.unwrap();
    touch_used(&db, k.id, 2_000).await.unwrap();
    touch_used(&db, k.id, 1_000).await.unwrap();
    assert_eq!(get(&db, k.id).await.unwrap().last_used_at, Some(2_000));
});

db_test!(deleting_the_owner_deletes_their_keys, |db| {
    let (u, g) = (user(&db, "u").await, group(&db, "g").await);
    let k = create(&db, &new_key(u, g, "h")).await.unwrap();
    users::delete(&db, u).await.unwrap();
    assert!(matches!(get(&db, k.id).await, Err(DbError::NotFound)));
});
