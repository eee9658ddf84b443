//! `api_keys`: the relay keys clients present (SPEC §4). Only the SHA-256 hash of a key and a
//! display prefix are stored; the hash never leaves the server. Functions taking a `user_id`
//! scope the lookup to that owner, so a user can never reach another user's key by id.

use serde::Serialize;
use sqlx::FromRow;

use super::accounts::{decode_json, encode_json};
use super::{insert_id, now_ms, on_db, Db, DbError, DbResult, Page};

/// A stored API key.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct ApiKeyRow {
    /// Id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Group whose accounts serve this key.
    pub group_id: i64,
    /// Display name.
    pub name: String,
    /// Hex SHA-256 of the full key.
    #[serde(skip)]
    pub key_hash: String,
    /// Display prefix of the key.
    pub key_prefix: String,
    /// Switch.
    pub enabled: bool,
    /// Expiry, epoch ms (`None` = never).
    pub expires_at: Option<i64>,
    /// JSON array of model ids or globs (empty = all); see [`ApiKeyRow::allowed_models`].
    pub allowed_models: String,
    /// Daily spend limit, micro-USD (0 = none).
    pub daily_limit_micro_usd: i64,
    /// Total spend limit, micro-USD (0 = none).
    pub total_limit_micro_usd: i64,
    /// Requests per minute (0 = unlimited).
    pub rpm_limit: i64,
    /// Requests in flight (0 = unlimited).
    pub concurrency_limit: i64,
    /// Last request, epoch ms.
    pub last_used_at: Option<i64>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

impl ApiKeyRow {
    /// The decoded `allowed_models` column.
    pub fn allowed_models(&self) -> DbResult<Vec<String>> {
        decode_json("allowed_models", &self.allowed_models)
    }
}

/// Fields of a new key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Owner.
    pub user_id: i64,
    /// Group.
    pub group_id: i64,
    /// Display name.
    pub name: String,
    /// Hex SHA-256 of the full key.
    pub key_hash: String,
    /// Display prefix.
    pub key_prefix: String,
    /// Expiry, epoch ms.
    pub expires_at: Option<i64>,
    /// Allowed models (empty = all).
    pub allowed_models: Vec<String>,
    /// Daily spend limit, micro-USD.
    pub daily_limit_micro_usd: i64,
    /// Total spend limit, micro-USD.
    pub total_limit_micro_usd: i64,
    /// Requests per minute.
    pub rpm_limit: i64,
    /// Requests in flight.
    pub concurrency_limit: i64,
    /// Switch.
    pub enabled: bool,
}

/// A partial update; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyPatch {
    /// Display name.
    pub name: Option<String>,
    /// Group.
    pub group_id: Option<i64>,
    /// Switch.
    pub enabled: Option<bool>,
    /// Expiry (`Some(None)` = never expires).
    pub expires_at: Option<Option<i64>>,
    /// Allowed models.
    pub allowed_models: Option<Vec<String>>,
    /// Daily spend limit, micro-USD.
    pub daily_limit_micro_usd: Option<i64>,
    /// Total spend limit, micro-USD.
    pub total_limit_micro_usd: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Requests in flight.
    pub concurrency_limit: Option<i64>,
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiKeyFilter {
    /// Only keys of this user.
    pub user_id: Option<i64>,
    /// Only keys of this group.
    pub group_id: Option<i64>,
}

const COLUMNS: &str = "id, user_id, group_id, name, key_hash, key_prefix, enabled, expires_at, \
                       allowed_models, daily_limit_micro_usd, total_limit_micro_usd, rpm_limit, \
                       concurrency_limit, last_used_at, created_at, updated_at";

const FILTER: &str = "WHERE (? IS NULL OR user_id = ?) AND (? IS NULL OR group_id = ?)";

/// Creates a key and returns it.
pub async fn create(db: &Db, k: &NewApiKey) -> DbResult<ApiKeyRow> {
    let allowed = encode_json("allowed_models", &k.allowed_models)?;
    let now = now_ms();
    let id = insert_id!(
        db,
        sqlx::query(
            "INSERT INTO api_keys (user_id, group_id, name, key_hash, key_prefix, enabled, expires_at, \
             allowed_models, daily_limit_micro_usd, total_limit_micro_usd, rpm_limit, concurrency_limit, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(k.user_id)
        .bind(k.group_id)
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(&k.key_prefix)
        .bind(k.enabled)
        .bind(k.expires_at)
        .bind(&allowed)
        .bind(k.daily_limit_micro_usd)
        .bind(k.total_limit_micro_usd)
        .bind(k.rpm_limit)
        .bind(k.concurrency_limit)
        .bind(now)
        .bind(now)
    )?;
    get(db, id).await
}

/// The key with `id`.
pub async fn get(db: &Db, id: i64) -> DbResult<ApiKeyRow> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?");
    on_db!(db, p => sqlx::query_as::<_, ApiKeyRow>(&sql).bind(id).fetch_one(p).await.map_err(DbError::from))
}

/// The key with `id` if `user_id` owns it; [`DbError::NotFound`] otherwise (also when it
/// belongs to someone else, so that ids of other users' keys reveal nothing).
pub async fn get_for_user(db: &Db, id: i64, user_id: i64) -> DbResult<ApiKeyRow> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = ? AND user_id = ?");
    on_db!(db, p => sqlx::query_as::<_, ApiKeyRow>(&sql).bind(id).bind(user_id).fetch_one(p).await.map_err(DbError::from))
}

/// The key whose hash is `key_hash`, if any.
pub async fn find_by_hash(db: &Db, key_hash: &str) -> DbResult<Option<ApiKeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = ?");
    on_db!(db, p => sqlx::query_as::<_, ApiKeyRow>(&sql).bind(key_hash).fetch_optional(p).await.map_err(DbError::from))
}

/// One page of the keys matching `filter`, by id, and how many match in all.
pub async fn list(db: &Db, filter: ApiKeyFilter, page: Page) -> DbResult<(Vec<ApiKeyRow>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys {FILTER} ORDER BY id LIMIT ? OFFSET ?");
    let rows = on_db!(db, p => sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(filter.user_id)
        .bind(filter.user_id)
        .bind(filter.group_id)
        .bind(filter.group_id)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(p)
        .await)?;
    let count = format!("SELECT COUNT(*) FROM api_keys {FILTER}");
    let total = on_db!(db, p => sqlx::query_scalar::<_, i64>(&count)
        .bind(filter.user_id)
        .bind(filter.user_id)
        .bind(filter.group_id)
        .bind(filter.group_id)
        .fetch_one(p)
        .await)?;
    Ok((rows, total))
}

/// Every key (for the in-memory snapshot of the front door).
pub async fn list_all(db: &Db) -> DbResult<Vec<ApiKeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, ApiKeyRow>(&sql).fetch_all(p).await.map_err(DbError::from))
}

/// Applies `patch` to the key and returns the result.
pub async fn update(db: &Db, id: i64, patch: &ApiKeyPatch) -> DbResult<ApiKeyRow> {
    let allowed = match &patch.allowed_models {
        Some(v) => Some(encode_json("allowed_models", v)?),
        None => None,
    };
    let (set_expiry, expires_at) = match patch.expires_at {
        Some(e) => (true, e),
        None => (false, None),
    };
    let done = on_db!(db, p => sqlx::query(
        "UPDATE api_keys SET name = COALESCE(?, name), group_id = COALESCE(?, group_id), \
         enabled = COALESCE(?, enabled), expires_at = CASE WHEN ? THEN ? ELSE expires_at END, \
         allowed_models = COALESCE(?, allowed_models), \
         daily_limit_micro_usd = COALESCE(?, daily_limit_micro_usd), \
         total_limit_micro_usd = COALESCE(?, total_limit_micro_usd), \
         rpm_limit = COALESCE(?, rpm_limit), concurrency_limit = COALESCE(?, concurrency_limit), \
         updated_at = ? WHERE id = ?",
    )
    .bind(patch.name.as_deref())
    .bind(patch.group_id)
    .bind(patch.enabled)
    .bind(set_expiry)
    .bind(expires_at)
    .bind(allowed.as_deref())
    .bind(patch.daily_limit_micro_usd)
    .bind(patch.total_limit_micro_usd)
    .bind(patch.rpm_limit)
    .bind(patch.concurrency_limit)
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    get(db, id).await
}

/// Deletes the key.
pub async fn delete(db: &Db, id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM api_keys WHERE id = ?").bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Deletes the key if `user_id` owns it; [`DbError::NotFound`] otherwise.
pub async fn delete_for_user(db: &Db, id: i64, user_id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM api_keys WHERE id = ? AND user_id = ?")
        .bind(id)
        .bind(user_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Replaces the key material (hash and prefix) and returns the key; nothing else changes.
pub async fn regenerate(db: &Db, id: i64, new_hash: &str, new_prefix: &str) -> DbResult<ApiKeyRow> {
    let done = on_db!(db, p => sqlx::query(
        "UPDATE api_keys SET key_hash = ?, key_prefix = ?, updated_at = ? WHERE id = ?",
    )
    .bind(new_hash)
    .bind(new_prefix)
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    get(db, id).await
}

/// Records that the key was used at `at_ms`; never moves the time backwards.
pub async fn touch_used(db: &Db, id: i64, at_ms: i64) -> DbResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
    )
    .bind(at_ms)
    .bind(id)
    .bind(at_ms)
    .execute(p)
    .await
    .map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
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
            enabled: Some(false),
            expires_at: Some(None),
            ..Default::default()
        };
        let k2 = update(&db, k.id, &patch).await.unwrap();
        assert_eq!((k2.rpm_limit, k2.enabled, k2.expires_at), (60, false, None));
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
}
