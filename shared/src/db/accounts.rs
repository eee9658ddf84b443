//! `accounts`: the upstream accounts of the pool (SPEC §3). Secrets arrive here already
//! encrypted (`*_enc` columns) and never leave the server. Health transitions
//! ([`set_state`]) and token refreshes ([`update_tokens`]) write only their own columns, so a
//! stale full-row save can never undo them (SPEC §3.5, §3.7).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::FromRow;

use super::{insert_id, now_ms, on_db, Db, DbError, DbResult, Page};

/// A stored account.
#[derive(Debug, Clone, Default, FromRow, Serialize)]
pub struct AccountRow {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// `claude` (OAuth) or `claude_console` (URL + key).
    pub platform_type: String,
    /// Group whose keys this account serves.
    pub group_id: i64,
    /// Upstream base URL (empty = the configured default).
    pub request_url: String,
    /// Encrypted API key.
    #[serde(skip)]
    pub secret_enc: Option<String>,
    /// Masked secret for display, e.g. `sk-ant-…Ab12`.
    pub secret_hint: String,
    /// Encrypted OAuth access token.
    #[serde(skip)]
    pub access_token_enc: Option<String>,
    /// Encrypted OAuth refresh token.
    #[serde(skip)]
    pub refresh_token_enc: Option<String>,
    /// Access token expiry, epoch ms.
    pub token_expires_at: Option<i64>,
    /// `x_api_key`, `bearer` or `both`.
    pub auth_header: String,
    /// Smaller is tried first.
    pub priority: i64,
    /// Share among accounts of the same priority.
    pub weight: i64,
    /// Requests in flight at most (0 = unlimited).
    pub max_concurrency: i64,
    /// JSON array of model ids or globs (empty = all); see [`AccountRow::allowed_models`].
    pub allowed_models: String,
    /// JSON object model (or glob) → upstream model; see [`AccountRow::model_mapping`].
    pub model_mapping: String,
    /// Encrypted proxy URL.
    #[serde(skip)]
    pub proxy_url_enc: Option<String>,
    /// Admin switch.
    pub enabled: bool,
    /// `active`, `cooling` or `error`.
    pub state: String,
    /// Why the account is not active.
    pub state_reason: String,
    /// End of the cooldown, epoch ms.
    pub cooldown_until: Option<i64>,
    /// Last upstream error text.
    pub last_error: Option<String>,
    /// When that error happened, epoch ms.
    pub last_error_at: Option<i64>,
    /// Last request served, epoch ms.
    pub last_used_at: Option<i64>,
    /// Free text.
    pub notes: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

impl AccountRow {
    /// The decoded `allowed_models` column.
    pub fn allowed_models(&self) -> DbResult<Vec<String>> {
        decode_json("allowed_models", &self.allowed_models)
    }

    /// The decoded `model_mapping` column.
    pub fn model_mapping(&self) -> DbResult<BTreeMap<String, String>> {
        decode_json("model_mapping", &self.model_mapping)
    }
}

/// Decodes a JSON text column, reporting bad JSON as [`DbError::Corrupt`].
pub(super) fn decode_json<T: DeserializeOwned>(column: &'static str, text: &str) -> DbResult<T> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

/// Encodes a value for a JSON text column.
pub(super) fn encode_json<T: Serialize>(column: &'static str, value: &T) -> DbResult<String> {
    serde_json::to_string(value).map_err(|e| DbError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

/// Fields of a new account (state starts `active`).
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Display name.
    pub name: String,
    /// `claude` or `claude_console`.
    pub platform_type: String,
    /// Group.
    pub group_id: i64,
    /// Upstream base URL.
    pub request_url: String,
    /// Encrypted API key.
    pub secret_enc: Option<String>,
    /// Masked secret.
    pub secret_hint: String,
    /// Encrypted access token.
    pub access_token_enc: Option<String>,
    /// Encrypted refresh token.
    pub refresh_token_enc: Option<String>,
    /// Access token expiry, epoch ms.
    pub token_expires_at: Option<i64>,
    /// `x_api_key`, `bearer` or `both`.
    pub auth_header: String,
    /// Priority.
    pub priority: i64,
    /// Weight.
    pub weight: i64,
    /// Max concurrency (0 = unlimited).
    pub max_concurrency: i64,
    /// Allowed models (empty = all).
    pub allowed_models: Vec<String>,
    /// Model mapping.
    pub model_mapping: BTreeMap<String, String>,
    /// Encrypted proxy URL.
    pub proxy_url_enc: Option<String>,
    /// Admin switch.
    pub enabled: bool,
    /// Free text.
    pub notes: String,
}

/// A partial update; `None` keeps the stored value, `Some(None)` clears a nullable column.
#[derive(Debug, Clone, Default)]
pub struct AccountPatch {
    /// Display name.
    pub name: Option<String>,
    /// Platform type.
    pub platform_type: Option<String>,
    /// Group.
    pub group_id: Option<i64>,
    /// Upstream base URL.
    pub request_url: Option<String>,
    /// Encrypted API key.
    pub secret_enc: Option<Option<String>>,
    /// Masked secret.
    pub secret_hint: Option<String>,
    /// Encrypted access token.
    pub access_token_enc: Option<Option<String>>,
    /// Encrypted refresh token.
    pub refresh_token_enc: Option<Option<String>>,
    /// Access token expiry.
    pub token_expires_at: Option<Option<i64>>,
    /// Auth header mode.
    pub auth_header: Option<String>,
    /// Priority.
    pub priority: Option<i64>,
    /// Weight.
    pub weight: Option<i64>,
    /// Max concurrency.
    pub max_concurrency: Option<i64>,
    /// Allowed models.
    pub allowed_models: Option<Vec<String>>,
    /// Model mapping.
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// Encrypted proxy URL.
    pub proxy_url_enc: Option<Option<String>>,
    /// Admin switch.
    pub enabled: Option<bool>,
    /// Health state.
    pub state: Option<String>,
    /// Reason of the state.
    pub state_reason: Option<String>,
    /// End of the cooldown.
    pub cooldown_until: Option<Option<i64>>,
    /// Last error text.
    pub last_error: Option<Option<String>>,
    /// Free text.
    pub notes: Option<String>,
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Only this group.
    pub group_id: Option<i64>,
    /// Only this platform type.
    pub platform_type: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only enabled (or disabled) accounts.
    pub enabled: Option<bool>,
}

const COLUMNS: &str = "id, name, platform_type, group_id, request_url, secret_enc, secret_hint, \
                       access_token_enc, refresh_token_enc, token_expires_at, auth_header, priority, \
                       weight, max_concurrency, allowed_models, model_mapping, proxy_url_enc, enabled, \
                       state, state_reason, cooldown_until, last_error, last_error_at, last_used_at, \
                       notes, created_at, updated_at";

const FILTER: &str = "WHERE (? IS NULL OR group_id = ?) AND (? IS NULL OR platform_type = ?) \
                      AND (? IS NULL OR state = ?) AND (? IS NULL OR enabled = ?)";

macro_rules! bind_filter {
    ($q:expr, $f:expr) => {
        $q.bind($f.group_id)
            .bind($f.group_id)
            .bind($f.platform_type.as_deref())
            .bind($f.platform_type.as_deref())
            .bind($f.state.as_deref())
            .bind($f.state.as_deref())
            .bind($f.enabled)
            .bind($f.enabled)
    };
}

/// `(whether to write, value)` for a `CASE WHEN ? THEN ? ELSE col END` of a nullable column.
fn nullable<T: Clone>(v: &Option<Option<T>>) -> (bool, Option<T>) {
    match v {
        Some(x) => (true, x.clone()),
        None => (false, None),
    }
}

/// Creates an account and returns it.
pub async fn create(db: &Db, a: &NewAccount) -> DbResult<AccountRow> {
    let allowed = encode_json("allowed_models", &a.allowed_models)?;
    let mapping = encode_json("model_mapping", &a.model_mapping)?;
    let now = now_ms();
    let id = insert_id!(
        db,
        sqlx::query(
            "INSERT INTO accounts (name, platform_type, group_id, request_url, secret_enc, secret_hint, \
             access_token_enc, refresh_token_enc, token_expires_at, auth_header, priority, weight, \
             max_concurrency, allowed_models, model_mapping, proxy_url_enc, enabled, state, \
             state_reason, notes, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', '', ?, ?, ?)"
        )
        .bind(&a.name)
        .bind(&a.platform_type)
        .bind(a.group_id)
        .bind(&a.request_url)
        .bind(a.secret_enc.as_deref())
        .bind(&a.secret_hint)
        .bind(a.access_token_enc.as_deref())
        .bind(a.refresh_token_enc.as_deref())
        .bind(a.token_expires_at)
        .bind(&a.auth_header)
        .bind(a.priority)
        .bind(a.weight)
        .bind(a.max_concurrency)
        .bind(&allowed)
        .bind(&mapping)
        .bind(a.proxy_url_enc.as_deref())
        .bind(a.enabled)
        .bind(&a.notes)
        .bind(now)
        .bind(now)
    )?;
    get(db, id).await
}

/// The account with `id`.
pub async fn get(db: &Db, id: i64) -> DbResult<AccountRow> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = ?");
    on_db!(db, p => sqlx::query_as::<_, AccountRow>(&sql).bind(id).fetch_one(p).await.map_err(DbError::from))
}

/// One page of the accounts matching `filter`, by id, and how many match in all.
pub async fn list(db: &Db, filter: &AccountFilter, page: Page) -> DbResult<(Vec<AccountRow>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM accounts {FILTER} ORDER BY id LIMIT ? OFFSET ?");
    let rows = on_db!(db, p => bind_filter!(sqlx::query_as::<_, AccountRow>(&sql), filter)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(p)
        .await)?;
    let count = format!("SELECT COUNT(*) FROM accounts {FILTER}");
    let total = on_db!(db, p => bind_filter!(sqlx::query_scalar::<_, i64>(&count), filter).fetch_one(p).await)?;
    Ok((rows, total))
}

/// Every account (for the in-memory snapshot of the scheduler).
pub async fn list_all(db: &Db) -> DbResult<Vec<AccountRow>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, AccountRow>(&sql).fetch_all(p).await.map_err(DbError::from))
}

/// Applies `patch` to the account and returns the result.
pub async fn update(db: &Db, id: i64, patch: &AccountPatch) -> DbResult<AccountRow> {
    let allowed = match &patch.allowed_models {
        Some(v) => Some(encode_json("allowed_models", v)?),
        None => None,
    };
    let mapping = match &patch.model_mapping {
        Some(v) => Some(encode_json("model_mapping", v)?),
        None => None,
    };
    let secret = nullable(&patch.secret_enc);
    let access = nullable(&patch.access_token_enc);
    let refresh = nullable(&patch.refresh_token_enc);
    let expires = nullable(&patch.token_expires_at);
    let proxy = nullable(&patch.proxy_url_enc);
    let cooldown = nullable(&patch.cooldown_until);
    let last_error = nullable(&patch.last_error);
    let done = on_db!(db, p => sqlx::query(
        "UPDATE accounts SET name = COALESCE(?, name), platform_type = COALESCE(?, platform_type), \
         group_id = COALESCE(?, group_id), request_url = COALESCE(?, request_url), \
         secret_enc = CASE WHEN ? THEN ? ELSE secret_enc END, secret_hint = COALESCE(?, secret_hint), \
         access_token_enc = CASE WHEN ? THEN ? ELSE access_token_enc END, \
         refresh_token_enc = CASE WHEN ? THEN ? ELSE refresh_token_enc END, \
         token_expires_at = CASE WHEN ? THEN ? ELSE token_expires_at END, \
         auth_header = COALESCE(?, auth_header), priority = COALESCE(?, priority), \
         weight = COALESCE(?, weight), max_concurrency = COALESCE(?, max_concurrency), \
         allowed_models = COALESCE(?, allowed_models), model_mapping = COALESCE(?, model_mapping), \
         proxy_url_enc = CASE WHEN ? THEN ? ELSE proxy_url_enc END, enabled = COALESCE(?, enabled), \
         state = COALESCE(?, state), state_reason = COALESCE(?, state_reason), \
         cooldown_until = CASE WHEN ? THEN ? ELSE cooldown_until END, \
         last_error = CASE WHEN ? THEN ? ELSE last_error END, notes = COALESCE(?, notes), \
         updated_at = ? WHERE id = ?",
    )
    .bind(patch.name.as_deref())
    .bind(patch.platform_type.as_deref())
    .bind(patch.group_id)
    .bind(patch.request_url.as_deref())
    .bind(secret.0)
    .bind(secret.1.as_deref())
    .bind(patch.secret_hint.as_deref())
    .bind(access.0)
    .bind(access.1.as_deref())
    .bind(refresh.0)
    .bind(refresh.1.as_deref())
    .bind(expires.0)
    .bind(expires.1)
    .bind(patch.auth_header.as_deref())
    .bind(patch.priority)
    .bind(patch.weight)
    .bind(patch.max_concurrency)
    .bind(allowed.as_deref())
    .bind(mapping.as_deref())
    .bind(proxy.0)
    .bind(proxy.1.as_deref())
    .bind(patch.enabled)
    .bind(patch.state.as_deref())
    .bind(patch.state_reason.as_deref())
    .bind(cooldown.0)
    .bind(cooldown.1)
    .bind(last_error.0)
    .bind(last_error.1.as_deref())
    .bind(patch.notes.as_deref())
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

/// Deletes the account.
pub async fn delete(db: &Db, id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM accounts WHERE id = ?").bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Records a health transition: writes exactly `state`, `state_reason`, `cooldown_until`,
/// `last_error` (a `None` clears them) and `last_error_at` (now, or cleared with the error),
/// and nothing else.
pub async fn set_state(
    db: &Db,
    id: i64,
    state: &str,
    reason: &str,
    cooldown_until: Option<i64>,
    last_error: Option<&str>,
) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query(
        "UPDATE accounts SET state = ?, state_reason = ?, cooldown_until = ?, last_error = ?, \
         last_error_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(state)
    .bind(reason)
    .bind(cooldown_until)
    .bind(last_error)
    .bind(last_error.map(|_| now_ms()))
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Marks `active` every `cooling` account whose cooldown ended before `now_ms` (the relay
/// already uses them again; this keeps the stored state true). Returns how many changed.
pub async fn end_cooldowns(db: &Db, now_ms: i64) -> DbResult<u64> {
    on_db!(db, p => sqlx::query(
        "UPDATE accounts SET state = 'active', state_reason = '', cooldown_until = NULL, \
         updated_at = ? WHERE state = 'cooling' AND (cooldown_until IS NULL OR cooldown_until <= ?)",
    )
    .bind(now_ms)
    .bind(now_ms)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    .map_err(DbError::from))
}

/// Saves refreshed OAuth tokens, writing only the token columns. A `None` refresh token keeps
/// the stored one (the upstream did not rotate it); a `None` expiry means "does not expire".
pub async fn update_tokens(
    db: &Db,
    id: i64,
    access_token_enc: &str,
    refresh_token_enc: Option<&str>,
    token_expires_at: Option<i64>,
) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query(
        "UPDATE accounts SET access_token_enc = ?, refresh_token_enc = COALESCE(?, refresh_token_enc), \
         token_expires_at = ?, updated_at = ? WHERE id = ?",
    )
    .bind(access_token_enc)
    .bind(refresh_token_enc)
    .bind(token_expires_at)
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Records that the account served a request at `at_ms`; never moves the time backwards.
pub async fn touch_used(db: &Db, id: i64, at_ms: i64) -> DbResult<()> {
    on_db!(db, p => sqlx::query(
        "UPDATE accounts SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
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
#[path = "tests/accounts.rs"]
pub(crate) mod tests;
