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
                       state, state_reason, cooldown_until, last_error, last_used_at, notes, \
                       created_at, updated_at";

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

/// Records a health transition: writes exactly `state`, `state_reason`, `cooldown_until` and
/// `last_error` (a `None` clears them), and nothing else.
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
         updated_at = ? WHERE id = ?",
    )
    .bind(state)
    .bind(reason)
    .bind(cooldown_until)
    .bind(last_error)
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
pub(crate) mod tests {
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
}
