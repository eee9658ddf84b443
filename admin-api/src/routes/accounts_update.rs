//! The partial update of an account: checks the fields present, checks that the account
//! still makes sense afterwards (a console account keeps a URL and a key, a `claude` account
//! a token or key), encrypts new secrets and recomputes the hint when the credential changes.

use relay_shared::db::accounts::{AccountPatch, AccountRow};
use relay_shared::db::groups::{self, GroupRow};
use relay_shared::db::DbError;
use relay_shared::models::PlatformType;

use super::accounts_body::{
    auth_header, check_max_concurrency, check_notes, check_priority, check_weight, hint_of,
    only_claude, opt_secret, platform, proxy_url, request_url, AccountUpdate,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::validate;

/// The group named by `id` (404 naming `group_id` when missing), or the default group.
pub(super) async fn group_for(state: &AppState, id: Option<i64>) -> Result<GroupRow, ApiError> {
    match id {
        None => Ok(groups::ensure_default(&state.db).await?),
        Some(id) => match groups::get(&state.db, id).await {
            Ok(g) => Ok(g),
            Err(DbError::NotFound) => Err(ApiError::not_found_field("group_id", "no such group")),
            Err(e) => Err(e.into()),
        },
    }
}

/// A secret field of the update: absent (keep), `null` (remove) or a new value.
fn secret_change(
    field: &str,
    v: Option<Option<String>>,
) -> Result<Option<Option<String>>, ApiError> {
    match v {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(s)) => Ok(Some(opt_secret(field, Some(&s))?)),
    }
}

/// Whether the account has the secret after the change.
fn has_after(change: &Option<Option<String>>, stored: &Option<String>) -> bool {
    match change {
        Some(v) => v.is_some(),
        None => stored.is_some(),
    }
}

/// Validates `req` against the stored account `cur` and builds the patch.
pub(super) async fn build_patch(
    state: &AppState,
    cur: &AccountRow,
    req: AccountUpdate,
) -> Result<AccountPatch, ApiError> {
    let sb = &state.secrets.secret_box;
    let kind = match req.platform_type.as_deref() {
        Some(p) => platform(p)?,
        None => platform(&cur.platform_type)?,
    };
    let url = req.request_url.as_deref().map(request_url).transpose()?;
    let secret_key = secret_change("secret_key", req.secret_key)?;
    let access = secret_change("access_token", req.access_token)?;
    let refresh = secret_change("refresh_token", req.refresh_token)?;
    let expires = match &req.expires_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(t)) => Some(Some(t.to_ms(state.config.tz(), "expires_at")?)),
    };

    let url_after = url.as_deref().unwrap_or(&cur.request_url);
    let has_secret = has_after(&secret_key, &cur.secret_enc);
    let has_access = has_after(&access, &cur.access_token_enc);
    match kind {
        PlatformType::ClaudeConsole => {
            if url_after.is_empty() {
                return Err(ApiError::invalid(
                    "request_url",
                    "`request_url` is required for `claude_console` accounts",
                ));
            }
            if !has_secret {
                return Err(ApiError::invalid(
                    "secret_key",
                    "a `claude_console` account needs `secret_key`",
                ));
            }
            for (field, given) in [
                ("access_token", matches!(access, Some(Some(_)))),
                ("refresh_token", matches!(refresh, Some(Some(_)))),
                ("expires_at", matches!(expires, Some(Some(_)))),
            ] {
                if given {
                    return Err(only_claude(field));
                }
            }
        }
        PlatformType::Claude if !has_access && !has_secret => {
            return Err(ApiError::invalid(
                "access_token",
                "a `claude` account needs `access_token` (or `secret_key`)",
            ));
        }
        PlatformType::Claude => {}
    }

    let credential_changed =
        req.platform_type.is_some() || secret_key.is_some() || access.is_some();
    let secret_hint = if credential_changed {
        let use_access = kind == PlatformType::Claude && has_access;
        let (change, stored) = if use_access {
            (&access, &cur.access_token_enc)
        } else {
            (&secret_key, &cur.secret_enc)
        };
        let plain = match change {
            Some(Some(new)) => Some(new.clone()),
            _ => stored
                .as_deref()
                .and_then(|enc| sb.decrypt(enc).ok())
                .map(|p| p.to_string()),
        };
        Some(
            plain
                .map(|p| hint_of(&p))
                .unwrap_or_else(|| "…".to_string()),
        )
    } else {
        None
    };
    let encrypt = |c: Option<Option<String>>| c.map(|v| v.map(|s| sb.encrypt(&s)));

    Ok(AccountPatch {
        name: req
            .name
            .as_deref()
            .map(|n| validate::text("name", n, 128))
            .transpose()?,
        platform_type: req
            .platform_type
            .as_ref()
            .map(|_| kind.as_str().to_string()),
        group_id: match req.group_id {
            Some(g) => Some(group_for(state, Some(g)).await?.id),
            None => None,
        },
        request_url: url,
        secret_enc: encrypt(secret_key),
        secret_hint,
        access_token_enc: encrypt(access),
        refresh_token_enc: encrypt(refresh),
        token_expires_at: expires,
        auth_header: req
            .auth_header
            .as_deref()
            .map(|h| auth_header(h).map(|a| a.as_str().to_string()))
            .transpose()?,
        priority: req.priority.map(check_priority).transpose()?,
        weight: req.weight.map(check_weight).transpose()?,
        max_concurrency: req.max_concurrency.map(check_max_concurrency).transpose()?,
        allowed_models: req
            .allowed_models
            .as_deref()
            .map(|m| validate::models("allowed_models", m))
            .transpose()?,
        model_mapping: req
            .model_mapping
            .as_ref()
            .map(|m| validate::model_mapping("model_mapping", m))
            .transpose()?,
        proxy_url_enc: match req.proxy_url {
            None => None,
            Some(p) => Some(proxy_url(p.as_deref().unwrap_or(""))?.map(|p| sb.encrypt(&p))),
        },
        enabled: req.enabled,
        notes: req.notes.as_deref().map(check_notes).transpose()?,
        ..Default::default()
    })
}
