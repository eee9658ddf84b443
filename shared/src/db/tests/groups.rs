//! Tests of `db::groups`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::db::{accounts, api_keys, users};
use crate::db_test;

pub(crate) async fn user(db: &Db, name: &str) -> i64 {
    let u = users::NewUser {
        username: name,
        email: None,
        password_hash: "$argon2id$x",
        role: "user",
        must_change_password: false,
    };
    users::create(db, &u).await.unwrap().id
}

fn group(name: &str) -> NewGroup<'_> {
    NewGroup {
        name,
        description: "",
        owner_id: None,
    }
}

db_test!(create_get_update_delete_keeps_absent_fields, |db| {
    let owner = user(&db, "owner").await;
    let g = create(
        &db,
        &NewGroup {
            name: "team",
            description: "the team",
            owner_id: Some(owner),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (g.name.as_str(), g.owner_id, g.is_default),
        ("team", Some(owner), false)
    );
    assert_eq!(get(&db, g.id).await.unwrap().description, "the team");

    let patch = GroupPatch {
        name: Some("team2".into()),
        ..Default::default()
    };
    let g2 = update(&db, g.id, &patch).await.unwrap();
    assert_eq!(g2.name, "team2");
    assert_eq!(g2.description, "the team", "absent fields keep their value");
    assert_eq!(g2.owner_id, Some(owner));
    let patch = GroupPatch {
        owner_id: Some(None),
        ..Default::default()
    };
    assert_eq!(update(&db, g.id, &patch).await.unwrap().owner_id, None);
    assert!(matches!(
        update(&db, g.id + 100, &GroupPatch::default()).await,
        Err(DbError::NotFound)
    ));

    delete(&db, g.id).await.unwrap();
    assert!(matches!(get(&db, g.id).await, Err(DbError::NotFound)));
    assert!(matches!(delete(&db, g.id).await, Err(DbError::NotFound)));
});

db_test!(duplicate_name_is_a_conflict, |db| {
    create(&db, &group("dup")).await.unwrap();
    let err = create(&db, &group("dup")).await.unwrap_err();
    assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
});

db_test!(list_pages_and_counts, |db| {
    for i in 0..5 {
        create(&db, &group(&format!("g{i}"))).await.unwrap();
    }
    let page = Page {
        page: 2,
        page_size: 2,
    };
    let (rows, total) = list(&db, page).await.unwrap();
    assert_eq!(total, 5);
    let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["g2", "g3"]);
});

db_test!(
    a_group_in_use_by_an_account_or_key_cannot_be_deleted,
    |db| {
        let g = create(&db, &group("busy")).await.unwrap();
        let a = accounts::create(&db, &accounts::tests::new_account("a", g.id))
            .await
            .unwrap();
        let err = delete(&db, g.id).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
        accounts::delete(&db, a.id).await.unwrap();

        let uid = user(&db, "keyholder").await;
        let k = api_keys::create(&db, &api_keys::tests::new_key(uid, g.id, "h1"))
            .await
            .unwrap();
        let err = delete(&db, g.id).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
        api_keys::delete(&db, k.id).await.unwrap();

        delete(&db, g.id).await.unwrap();
    }
);

db_test!(the_default_group_is_created_once, |db| {
    assert!(default_group(&db).await.unwrap().is_none());
    let first = ensure_default(&db).await.unwrap();
    assert!(first.is_default);
    assert_eq!(first.name, DEFAULT_GROUP_NAME);
    let again = ensure_default(&db).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(default_group(&db).await.unwrap().unwrap().id, first.id);
    assert_eq!(
        list(
            &db,
            Page {
                page: 1,
                page_size: 10
            }
        )
        .await
        .unwrap()
        .1,
        1
    );
});

db_test!(a_plain_group_named_default_is_promoted, |db| {
    let plain = create(&db, &group(DEFAULT_GROUP_NAME)).await.unwrap();
    let d = ensure_default(&db).await.unwrap();
    assert_eq!(d.id, plain.id);
    assert!(d.is_default);
});

db_test!(membership_is_idempotent_and_listed_with_users, |db| {
    let g = create(&db, &group("club")).await.unwrap();
    let (a, b) = (user(&db, "ann").await, user(&db, "ben").await);
    add_member(&db, g.id, a).await.unwrap();
    add_member(&db, g.id, a).await.unwrap();
    add_member(&db, g.id, b).await.unwrap();
    let members = list_members(&db, g.id).await.unwrap();
    let names: Vec<_> = members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(names, ["ann", "ben"]);
    assert_eq!(members[0].role, "user");
    assert!(is_member(&db, g.id, a).await.unwrap());

    remove_member(&db, g.id, a).await.unwrap();
    assert!(!is_member(&db, g.id, a).await.unwrap());
    assert!(matches!(
        remove_member(&db, g.id, a).await,
        Err(DbError::NotFound)
    ));
    let err = add_member(&db, g.id + 100, a).await.unwrap_err();
    assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
});

db_test!(a_user_sees_groups_they_own_or_belong_to, |db| {
    let u = user(&db, "uma").await;
    let owned = create(
        &db,
        &NewGroup {
            name: "owned",
            description: "",
            owner_id: Some(u),
        },
    )
    .await
    .unwrap();
    let joined = create(&db, &group("joined")).await.unwrap();
    create(&db, &group("other")).await.unwrap();
    add_member(&db, joined.id, u).await.unwrap();
    add_member(&db, owned.id, u).await.unwrap();
    let ids: Vec<_> = list_for_user(&db, u)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(ids, [owned.id, joined.id]);
});
