//! Tests of `db::accounts`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::db::groups;
use crate::db_test;

/// A console account in `group_id` with the schema's defaults.
pub(crate) fn new_account(name: &str, group_id: i64) -> NewAccount {
    NewAccount {
        name: name.to_string(),
        platform_type: "claude_console".into(),
        group_id,
        request_url: "https://api.example.com".into(),
        secret_enc: Some("enc:secret".into()),
        secret_hint: "sk-…1234".into(),
        access_token_enc: None,
        refresh_token_enc: None,
        token_expires_at: None,
        auth_header: "both".into(),
        priority: 100,
        weight: 100,
        max_concurrency: 0,
        allowed_models: vec![],
        model_mapping: BTreeMap::new(),
        proxy_url_enc: None,
        enabled: true,
        notes: String::new(),
    }
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
    let g = group(&db, "pool").await;
    let mut new = new_account("acc", g);
    new.allowed_models = vec!["claude-sonnet-*".into()];
    new.model_mapping = BTreeMap::from([("claude-*".into(), "glm-4.6".into())]);
    new.proxy_url_enc = Some("enc:proxy".into());
    let a = create(&db, &new).await.unwrap();
    assert_eq!((a.state.as_str(), a.enabled), ("active", true));
    assert_eq!(a.allowed_models().unwrap(), ["claude-sonnet-*"]);
    assert_eq!(a.model_mapping().unwrap()["claude-*"], "glm-4.6");
    assert_eq!(
        get(&db, a.id).await.unwrap().secret_enc.as_deref(),
        Some("enc:secret")
    );

    let patch = AccountPatch {
        weight: Some(7),
        allowed_models: Some(vec![]),
        proxy_url_enc: Some(None),
        notes: Some("n".into()),
        ..Default::default()
    };
    let b = update(&db, a.id, &patch).await.unwrap();
    assert_eq!((b.weight, b.notes.as_str()), (7, "n"));
    assert!(b.allowed_models().unwrap().is_empty());
    assert_eq!(b.proxy_url_enc, None);
    assert_eq!(b.name, "acc", "absent fields keep their value");
    assert_eq!(b.secret_enc.as_deref(), Some("enc:secret"));
    assert_eq!(b.model_mapping().unwrap().len(), 1);
    assert_eq!(b.priority, 100);

    let err = update(&db, a.id + 100, &AccountPatch::default())
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");
    delete(&db, a.id).await.unwrap();
    assert!(matches!(get(&db, a.id).await, Err(DbError::NotFound)));
    assert!(matches!(delete(&db, a.id).await, Err(DbError::NotFound)));
});

db_test!(an_unknown_group_is_a_conflict, |db| {
    let err = create(&db, &new_account("orphan", 999)).await.unwrap_err();
    assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
});

db_test!(list_filters_pages_and_counts, |db| {
    let (g1, g2) = (group(&db, "g1").await, group(&db, "g2").await);
    for i in 0..5 {
        create(&db, &new_account(&format!("a{i}"), g1))
            .await
            .unwrap();
    }
    let mut oauth = new_account("oauth", g2);
    oauth.platform_type = "claude".into();
    oauth.enabled = false;
    let o = create(&db, &oauth).await.unwrap();
    set_state(&db, o.id, "error", "credential rejected", None, Some("401"))
        .await
        .unwrap();

    let page = Page {
        page: 2,
        page_size: 2,
    };
    let by_group = AccountFilter {
        group_id: Some(g1),
        ..Default::default()
    };
    let (rows, total) = list(&db, &by_group, page).await.unwrap();
    assert_eq!(total, 5);
    let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a2", "a3"]);

    let all = Page {
        page: 1,
        page_size: 50,
    };
    let (_, total) = list(&db, &AccountFilter::default(), all).await.unwrap();
    assert_eq!(total, 6);
    for f in [
        AccountFilter {
            platform_type: Some("claude".into()),
            ..Default::default()
        },
        AccountFilter {
            state: Some("error".into()),
            ..Default::default()
        },
        AccountFilter {
            enabled: Some(false),
            ..Default::default()
        },
        AccountFilter {
            group_id: Some(g2),
            enabled: Some(false),
            ..Default::default()
        },
    ] {
        let (rows, total) = list(&db, &f, all).await.unwrap();
        assert_eq!((rows.len(), total, rows[0].id), (1, 1, o.id), "{f:?}");
    }
    let none = AccountFilter {
        group_id: Some(g1),
        enabled: Some(false),
        ..Default::default()
    };
    assert_eq!(list(&db, &none, all).await.unwrap().1, 0);
    assert_eq!(list_all(&db).await.unwrap().len(), 6);
});

db_test!(set_state_touches_only_the_state_columns, |db| {
    let g = group(&db, "pool").await;
    let mut new = new_account("acc", g);
    new.refresh_token_enc = Some("enc:rt".into());
    let a = create(&db, &new).await.unwrap();
    touch_used(&db, a.id, 1_000).await.unwrap();
    set_state(
        &db,
        a.id,
        "cooling",
        "429",
        Some(5_000),
        Some("rate limited"),
    )
    .await
    .unwrap();
    let b = get(&db, a.id).await.unwrap();
    assert_eq!(
        (
            b.state.as_str(),
            b.state_reason.as_str(),
            b.cooldown_until,
            b.last_error.as_deref()
        ),
        ("cooling", "429", Some(5_000), Some("rate limited"))
    );
    assert_eq!(
        (
            b.name,
            b.enabled,
            b.weight,
            b.secret_enc,
            b.refresh_token_enc,
            b.last_used_at
        ),
        (
            a.name,
            a.enabled,
            a.weight,
            a.secret_enc,
            a.refresh_token_enc,
            Some(1_000)
        )
    );
    set_state(&db, a.id, "active", "", None, None)
        .await
        .unwrap();
    let c = get(&db, a.id).await.unwrap();
    assert_eq!(
        (c.state.as_str(), c.cooldown_until, c.last_error),
        ("active", None, None)
    );
    let err = set_state(&db, a.id + 100, "error", "", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::NotFound), "{err:?}");
});

db_test!(a_token_refresh_writes_only_the_token_columns, |db| {
    let g = group(&db, "pool").await;
    let mut new = new_account("oauth", g);
    new.platform_type = "claude".into();
    new.access_token_enc = Some("enc:at1".into());
    new.refresh_token_enc = Some("enc:rt1".into());
    new.token_expires_at = Some(1_000);
    let a = create(&db, &new).await.unwrap();
    set_state(&db, a.id, "error", "refresh failed", None, Some("x"))
        .await
        .unwrap();

    update_tokens(&db, a.id, "enc:at2", Some("enc:rt2"), Some(2_000))
        .await
        .unwrap();
    let b = get(&db, a.id).await.unwrap();
    assert_eq!(b.access_token_enc.as_deref(), Some("enc:at2"));
    assert_eq!(b.refresh_token_enc.as_deref(), Some("enc:rt2"));
    assert_eq!(b.token_expires_at, Some(2_000));
    assert_eq!(
        (b.state.as_str(), b.last_error.as_deref()),
        ("error", Some("x"))
    );
    assert_eq!((b.name, b.secret_enc), (a.name, a.secret_enc));

    update_tokens(&db, a.id, "enc:at3", None, Some(3_000))
        .await
        .unwrap();
    let c = get(&db, a.id).await.unwrap();
    assert_eq!(c.access_token_enc.as_deref(), Some("enc:at3"));
    assert_eq!(
        c.refresh_token_enc.as_deref(),
        Some("enc:rt2"),
        "a None refresh token keeps the stored one"
    );

    // A later admin edit that does not name the tokens leaves the rotated ones alone.
    let patch = AccountPatch {
        name: Some("renamed".into()),
        ..Default::default()
    };
    let d = update(&db, a.id, &patch).await.unwrap();
    assert_eq!(d.refresh_token_enc.as_deref(), Some("enc:rt2"));
    assert!(matches!(
        update_tokens(&db, a.id + 100, "x", None, None).await,
        Err(DbError::NotFound)
    ));
});

db_test!(touch_used_never_moves_backwards, |db| {
    let g = group(&db, "pool").await;
    let a = create(&db, &new_account("acc", g)).await.unwrap();
    assert_eq!(a.last_used_at, None);
    touch_used(&db, a.id, 2_000).await.unwrap();
    touch_used(&db, a.id, 1_000).await.unwrap();
    assert_eq!(get(&db, a.id).await.unwrap().last_used_at, Some(2_000));
});

db_test!(bad_json_is_reported_as_corrupt, |db| {
    let g = group(&db, "pool").await;
    let a = create(&db, &new_account("acc", g)).await.unwrap();
    on_db!(&db, p => sqlx::query("UPDATE accounts SET model_mapping = '{not json' WHERE id = ?")
        .bind(a.id)
        .execute(p)
        .await
        .map(|_| ()))
    .unwrap();
    let a = get(&db, a.id).await.unwrap();
    assert!(a.allowed_models().unwrap().is_empty());
    let err = a.model_mapping().unwrap_err();
    assert!(
        matches!(
            err,
            DbError::Corrupt {
                column: "model_mapping",
                ..
            }
        ),
        "{err:?}"
    );
});
