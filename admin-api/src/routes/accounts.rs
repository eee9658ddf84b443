//! `/admin/accounts`: the upstream accounts of the pool (administrators only). Secrets are
//! encrypted before storage and never answered.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::crypto::SecretBox;
use relay_shared::db::accounts::{self, AccountFilter, AccountPatch, AccountRow, NewAccount};
use relay_shared::models::{AccountState, AuthHeader, PlatformType};
use serde::Deserialize;
use utoipa::IntoParams;

use super::accounts_body::{
    auth_header, check_max_concurrency, check_notes, check_priority, check_weight, hint_of,
    only_claude, opt_secret, platform, proxy_url, request_url,
};
pub use super::accounts_body::{AccountUpdate, AccountView, NewAccountRequest};
use super::accounts_update::{build_patch, group_for};
use super::{changed, or_404};
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;
use crate::validate;

/// Filters of `GET /admin/accounts`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountListFilter {
    /// Only this group.
    pub group_id: Option<i64>,
    /// Only `claude` or `claude_console` accounts.
    pub platform_type: Option<String>,
    /// Only accounts in this state (`active`, `cooling`, `error`).
    pub state: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) accounts.
    pub enabled: Option<bool>,
}

pub(crate) fn view(state: &AppState, row: &AccountRow) -> Result<AccountView, ApiError> {
    AccountView::from_row(row, &state.secrets.secret_box)
}

/// Accounts, filtered and paged.
#[utoipa::path(get, path = "/api/v1/admin/accounts", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, AccountListFilter),
    responses(
        (status = 200, description = "One page of accounts", body = Paged<AccountView>),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(f): ApiQuery<AccountListFilter>,
) -> Result<Json<Paged<AccountView>>, ApiError> {
    let page = params.page()?;
    if let Some(p) = &f.platform_type {
        platform(p)?;
    }
    if let Some(s) = &f.state {
        AccountState::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "state",
                format!("`state` must be one of: {}", AccountState::allowed()),
            )
        })?;
    }
    let filter = AccountFilter {
        group_id: f.group_id,
        platform_type: f.platform_type,
        state: f.state,
        enabled: f.enabled,
    };
    let (rows, total) = accounts::list(&state.db, &filter, page).await?;
    let items = rows
        .iter()
        .map(|r| view(&state, r))
        .collect::<Result<_, _>>()?;
    Ok(Json(Paged::new(items, total, page)))
}

/// Adds an account to the pool (default group when `group_id` is absent).
#[utoipa::path(post, path = "/api/v1/admin/accounts", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewAccountRequest,
    responses(
        (status = 201, description = "Created", body = AccountView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiJson(req): ApiJson<NewAccountRequest>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let row = create_account(&state, req).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &row)?)))
}

/// Validates `req`, encrypts its secrets, stores the account and tells the proxies. Shared by
/// `POST /admin/accounts` and the OAuth exchange.
pub(crate) async fn create_account(
    state: &AppState,
    req: NewAccountRequest,
) -> Result<AccountRow, ApiError> {
    let kind = platform(&req.platform_type)?;
    let name = validate::text("name", &req.name, 128)?;
    let url = request_url(req.request_url.as_deref().unwrap_or(""))?;
    let secret_key = opt_secret("secret_key", req.secret_key.as_deref())?;
    let access = opt_secret("access_token", req.access_token.as_deref())?;
    let refresh = opt_secret("refresh_token", req.refresh_token.as_deref())?;
    let expires = req
        .expires_at
        .as_ref()
        .map(|t| t.to_ms(state.config.tz(), "expires_at"))
        .transpose()?;
    match kind {
        PlatformType::ClaudeConsole => {
            if url.is_empty() {
                return Err(ApiError::invalid(
                    "request_url",
                    "`request_url` is required for `claude_console` accounts",
                ));
            }
            if secret_key.is_none() {
                return Err(ApiError::invalid(
                    "secret_key",
                    "`secret_key` is required for `claude_console` accounts",
                ));
            }
            for (field, given) in [
                ("access_token", access.is_some()),
                ("refresh_token", refresh.is_some()),
                ("expires_at", expires.is_some()),
            ] {
                if given {
                    return Err(only_claude(field));
                }
            }
        }
        PlatformType::Claude if access.is_none() && secret_key.is_none() => {
            return Err(ApiError::invalid(
                "access_token",
                "a `claude` account needs `access_token` (or `secret_key`)",
            ));
        }
        PlatformType::Claude => {}
    }
    let group = group_for(state, req.group_id).await?;
    let sb: &SecretBox = &state.secrets.secret_box;
    let primary = access
        .as_deref()
        .or(secret_key.as_deref())
        .unwrap_or_default();
    let new = NewAccount {
        name,
        platform_type: kind.as_str().to_string(),
        group_id: group.id,
        request_url: url,
        secret_hint: hint_of(primary),
        secret_enc: secret_key.as_deref().map(|s| sb.encrypt(s)),
        access_token_enc: access.as_deref().map(|s| sb.encrypt(s)),
        refresh_token_enc: refresh.as_deref().map(|s| sb.encrypt(s)),
        token_expires_at: expires,
        auth_header: match req.auth_header.as_deref() {
            Some(h) => auth_header(h)?,
            None => AuthHeader::Both,
        }
        .as_str()
        .to_string(),
        priority: check_priority(req.priority.unwrap_or(100))?,
        weight: check_weight(req.weight.unwrap_or(100))?,
        max_concurrency: check_max_concurrency(req.max_concurrency.unwrap_or(0))?,
        allowed_models: validate::models(
            "allowed_models",
            req.allowed_models.as_deref().unwrap_or_default(),
        )?,
        model_mapping: validate::model_mapping(
            "model_mapping",
            &req.model_mapping.unwrap_or_default(),
        )?,
        proxy_url_enc: proxy_url(req.proxy_url.as_deref().unwrap_or(""))?.map(|p| sb.encrypt(&p)),
        enabled: req.enabled.unwrap_or(true),
        notes: check_notes(req.notes.as_deref().unwrap_or(""))?,
    };
    let row = accounts::create(&state.db, &new).await?;
    changed(&state.db).await?;
    Ok(row)
}

/// One account.
#[utoipa::path(get, path = "/api/v1/admin/accounts/{id}", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountView>, ApiError> {
    let row = accounts::get(&state.db, id)
        .await
        .map_err(or_404("account"))?;
    Ok(Json(view(&state, &row)?))
}

/// Changes an account (absent fields keep their value; `null` clears a secret or the proxy).
#[utoipa::path(put, path = "/api/v1/admin/accounts/{id}", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    request_body = AccountUpdate,
    responses(
        (status = 200, description = "Updated", body = AccountView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such account or group", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AccountUpdate>,
) -> Result<Json<AccountView>, ApiError> {
    let current = accounts::get(&state.db, id)
        .await
        .map_err(or_404("account"))?;
    let patch = build_patch(&state, &current, req).await?;
    let row = accounts::update(&state.db, id, &patch)
        .await
        .map_err(or_404("account"))?;
    changed(&state.db).await?;
    Ok(Json(view(&state, &row)?))
}

/// Removes an account from the pool.
#[utoipa::path(delete, path = "/api/v1/admin/accounts/{id}", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    accounts::delete(&state.db, id)
        .await
        .map_err(or_404("account"))?;
    changed(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn switch(state: &AppState, id: i64, enabled: bool) -> Result<Json<AccountView>, ApiError> {
    let patch = AccountPatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    let row = accounts::update(&state.db, id, &patch)
        .await
        .map_err(or_404("account"))?;
    changed(&state.db).await?;
    Ok(Json(view(state, &row)?))
}

/// Turns an account on.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/enable", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "Enabled", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn enable(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountView>, ApiError> {
    switch(&state, id, true).await
}

/// Turns an account off (it serves no request until enabled).
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/disable", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "Disabled", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountView>, ApiError> {
    switch(&state, id, false).await
}

/// Returns an account to `active`: clears the reason, the cooldown and the last error.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/reset", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "Reset", body = AccountView),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn reset(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountView>, ApiError> {
    accounts::set_state(&state.db, id, AccountState::Active.as_str(), "", None, None)
        .await
        .map_err(or_404("account"))?;
    changed(&state.db).await?;
    let row = accounts::get(&state.db, id)
        .await
        .map_err(or_404("account"))?;
    Ok(Json(view(&state, &row)?))
}
