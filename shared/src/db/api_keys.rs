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
    /// Spend limit over a rolling five hours, micro-USD (0 = none).
    pub limit_5h_micro_usd: i64,
    /// Spend limit since Monday, micro-USD (0 = none).
    pub weekly_limit_micro_usd: i64,
    /// Spend limit since the first of the month, micro-USD (0 = none).
    pub monthly_limit_micro_usd: i64,
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
    /// Rolling five-hour spend limit, micro-USD.
    pub limit_5h_micro_usd: i64,
    /// Weekly spend limit, micro-USD.
    pub weekly_limit_micro_usd: i64,
    /// Monthly spend limit, micro-USD.
    pub monthly_limit_micro_usd: i64,
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
    /// Rolling five-hour spend limit, micro-USD.
    pub limit_5h_micro_usd: Option<i64>,
    /// Weekly spend limit, micro-USD.
    pub weekly_limit_micro_usd: Option<i64>,
    /// Monthly spend limit, micro-USD.
    pub monthly_limit_micro_usd: Option<i64>,
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
                       allowed_models, daily_limit_micro_usd, total_limit_micro_usd, \
                       limit_5h_micro_usd, weekly_limit_micro_usd, monthly_limit_micro_usd, \
                       rpm_limit, concurrency_limit, last_used_at, created_at, updated_at";

const FILTER: &str = "WHERE (? IS NULL OR user_id = ?) AND (? IS NULL OR group_id = ?)";

/// Creates a key and returns it.
pub async fn create(db: &Db, k: &NewApiKey) -> DbResult<ApiKeyRow> {
    let allowed = encode_json("allowed_models", &k.allowed_models)?;
    let now = now_ms();
    let id = insert_id!(
        db,
        sqlx::query(
            "INSERT INTO api_keys (user_id, group_id, name, key_hash, key_prefix, enabled, expires_at, \
             allowed_models, daily_limit_micro_usd, total_limit_micro_usd, limit_5h_micro_usd, \
             weekly_limit_micro_usd, monthly_limit_micro_usd, rpm_limit, concurrency_limit, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .bind(k.limit_5h_micro_usd)
        .bind(k.weekly_limit_micro_usd)
        .bind(k.monthly_limit_micro_usd)
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
         limit_5h_micro_usd = COALESCE(?, limit_5h_micro_usd), \
         weekly_limit_micro_usd = COALESCE(?, weekly_limit_micro_usd), \
         monthly_limit_micro_usd = COALESCE(?, monthly_limit_micro_usd), \
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
    .bind(patch.limit_5h_micro_usd)
    .bind(patch.weekly_limit_micro_usd)
    .bind(patch.monthly_limit_micro_usd)
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
#[path = "tests/api_keys.rs"]
pub(crate) mod tests;
