//! Bodies and the view of `/admin/accounts`, and their checks. Secrets arrive in plain text,
//! are encrypted with the process's `SecretBox` before storage, and never come back: the view
//! carries a masked `secret_hint`, `has_*` flags and the proxy URL with its password masked.

use std::collections::BTreeMap;

use relay_shared::crypto::{secret_hint, SecretBox};
use relay_shared::db::accounts::AccountRow;
use relay_shared::models::{AccountState, AuthHeader, PlatformType};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::time::{rfc3339, rfc3339_opt, TimeInput};
use crate::validate;

/// An upstream account as answered. No secret ever appears here.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountView {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// `claude` (OAuth tokens) or `claude_console` (URL + key).
    pub platform_type: String,
    /// Group whose keys this account serves.
    pub group_id: i64,
    /// Upstream base URL (empty: the configured Anthropic URL).
    pub request_url: String,
    /// Masked credential, e.g. `sk-ant-…Ab12`.
    pub secret_hint: String,
    /// Whether a console key (`secret_key`) is stored.
    pub has_secret_key: bool,
    /// Whether an OAuth access token is stored.
    pub has_access_token: bool,
    /// Whether an OAuth refresh token is stored.
    pub has_refresh_token: bool,
    /// When the access token expires (RFC 3339 UTC), if known.
    pub expires_at: Option<String>,
    /// How a console key is sent: `x_api_key`, `bearer` or `both`.
    pub auth_header: String,
    /// Smaller is tried first.
    pub priority: i64,
    /// Share among accounts of the same priority.
    pub weight: i64,
    /// Requests in flight at most (0: unlimited).
    pub max_concurrency: i64,
    /// Model ids or globs served (empty: all).
    pub allowed_models: Vec<String>,
    /// Requested model (or glob) → upstream model.
    pub model_mapping: BTreeMap<String, String>,
    /// Outbound proxy with its password masked, if any.
    pub proxy_url: Option<String>,
    /// Admin switch.
    pub enabled: bool,
    /// `active`, `cooling` (until `cooldown_until`) or `error`; a cooldown whose time has
    /// passed reads `active`.
    pub state: String,
    /// Why the account is not active.
    pub state_reason: String,
    /// End of the cooldown (RFC 3339 UTC), while cooling.
    pub cooldown_until: Option<String>,
    /// Last upstream error.
    pub last_error: Option<String>,
    /// When the last upstream error happened (RFC 3339 UTC).
    pub last_error_at: Option<String>,
    /// Last request served (RFC 3339 UTC).
    pub last_used_at: Option<String>,
    /// Free text.
    pub notes: String,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change (RFC 3339 UTC).
    pub updated_at: String,
}

impl AccountView {
    /// The view of a stored account (`sb` decrypts the proxy URL to mask it).
    pub fn from_row(a: &AccountRow, sb: &SecretBox) -> Result<Self, ApiError> {
        let proxy_url = a.proxy_url_enc.as_deref().map(|enc| match sb.decrypt(enc) {
            Ok(plain) => mask_proxy_url(&plain),
            Err(e) => {
                tracing::warn!(account = a.id, error = %e, "cannot decrypt proxy_url");
                "(cannot be decrypted)".to_string()
            }
        });
        // A cooldown ends by itself when its time passes (the relay uses the account again at
        // once; the stored state catches up at the next recovery pass).
        let cooled_off = a.state == AccountState::Cooling.as_str()
            && a.cooldown_until
                .is_none_or(|t| t <= relay_shared::db::now_ms());
        let state = if cooled_off {
            AccountState::Active.as_str()
        } else {
            a.state.as_str()
        };
        Ok(Self {
            id: a.id,
            name: a.name.clone(),
            platform_type: a.platform_type.clone(),
            group_id: a.group_id,
            request_url: a.request_url.clone(),
            secret_hint: a.secret_hint.clone(),
            has_secret_key: a.secret_enc.is_some(),
            has_access_token: a.access_token_enc.is_some(),
            has_refresh_token: a.refresh_token_enc.is_some(),
            expires_at: rfc3339_opt(a.token_expires_at),
            auth_header: a.auth_header.clone(),
            priority: a.priority,
            weight: a.weight,
            max_concurrency: a.max_concurrency,
            allowed_models: a.allowed_models()?,
            model_mapping: a.model_mapping()?,
            proxy_url,
            enabled: a.enabled,
            state: state.to_string(),
            state_reason: if cooled_off {
                String::new()
            } else {
                a.state_reason.clone()
            },
            cooldown_until: if cooled_off {
                None
            } else {
                rfc3339_opt(a.cooldown_until)
            },
            last_error: a.last_error.clone(),
            last_error_at: rfc3339_opt(a.last_error_at),
            last_used_at: rfc3339_opt(a.last_used_at),
            notes: a.notes.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        })
    }
}

/// `POST /admin/accounts` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccountRequest {
    /// Display name.
    pub name: String,
    /// `claude` or `claude_console`.
    pub platform_type: String,
    /// Upstream base URL; required for `claude_console`, optional for `claude`.
    #[serde(default)]
    pub request_url: Option<String>,
    /// The upstream API key (`claude_console`; a `claude` account may use it instead of an
    /// access token).
    #[serde(default)]
    pub secret_key: Option<String>,
    /// OAuth access token or long-lived setup token (`claude`).
    #[serde(default)]
    pub access_token: Option<String>,
    /// OAuth refresh token (`claude`).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// When the access token expires: RFC 3339, `"YYYY-MM-DD HH:MM:SS"` or epoch ms.
    #[serde(default)]
    pub expires_at: Option<TimeInput>,
    /// `x_api_key`, `bearer` or `both` (default `both`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Smaller is tried first (default 100).
    #[serde(default)]
    pub priority: Option<i64>,
    /// Share among accounts of the same priority (default 100, at least 1).
    #[serde(default)]
    pub weight: Option<i64>,
    /// Requests in flight at most (default 0: unlimited).
    #[serde(default)]
    pub max_concurrency: Option<i64>,
    /// Model ids or globs served (default: all).
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Requested model (or glob) → upstream model.
    #[serde(default)]
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// `http://`, `https://` or `socks5://` proxy, optionally with `user:password@`.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Admin switch (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Group (default: the default group).
    #[serde(default)]
    pub group_id: Option<i64>,
}

/// `PUT /admin/accounts/{id}` body: absent fields keep their value; `null` clears a secret,
/// the expiry or the proxy.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `claude` or `claude_console`.
    #[serde(default)]
    pub platform_type: Option<String>,
    /// Upstream base URL (`""`: the configured default, `claude` only).
    #[serde(default)]
    pub request_url: Option<String>,
    /// New upstream API key; `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub secret_key: Option<Option<String>>,
    /// New access token; `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub access_token: Option<Option<String>>,
    /// New refresh token; `null` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<Option<String>>,
    /// Access token expiry; `null` for unknown.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<TimeInput>)]
    pub expires_at: Option<Option<TimeInput>>,
    /// `x_api_key`, `bearer` or `both`.
    #[serde(default)]
    pub auth_header: Option<String>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Weight (at least 1).
    #[serde(default)]
    pub weight: Option<i64>,
    /// Max concurrency (0: unlimited).
    #[serde(default)]
    pub max_concurrency: Option<i64>,
    /// Allowed models (empty: all).
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Model mapping.
    #[serde(default)]
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// Proxy URL; `null` or `""` removes it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub proxy_url: Option<Option<String>>,
    /// Admin switch.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// Group.
    #[serde(default)]
    pub group_id: Option<i64>,
}

/// Parses `platform_type`.
pub fn platform(value: &str) -> Result<PlatformType, ApiError> {
    PlatformType::parse(value.trim()).ok_or_else(|| {
        ApiError::invalid(
            "platform_type",
            format!(
                "`platform_type` must be one of: {}",
                PlatformType::allowed()
            ),
        )
    })
}

/// Parses `auth_header`.
pub fn auth_header(value: &str) -> Result<AuthHeader, ApiError> {
    AuthHeader::parse(value.trim()).ok_or_else(|| {
        ApiError::invalid(
            "auth_header",
            format!("`auth_header` must be one of: {}", AuthHeader::allowed()),
        )
    })
}

/// A secret: trimmed, not empty, at most 8 KiB.
pub fn secret(field: &str, value: &str) -> Result<String, ApiError> {
    validate::text(field, value, 8192)
}

/// An upstream base URL: `http(s)://host[:port][/prefix]`, no query or fragment; a trailing
/// `/` is dropped. Empty stays empty.
pub fn request_url(value: &str) -> Result<String, ApiError> {
    let v = validate::optional_text("request_url", value, 512)?;
    if v.is_empty() {
        return Ok(v);
    }
    let bad = || {
        ApiError::invalid(
            "request_url",
            "`request_url` must be an http:// or https:// base URL such as https://api.anthropic.com",
        )
    };
    let url = Url::parse(&v).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// A proxy URL: `http://`, `https://`, `socks5://` or `socks5h://` with a host;
/// `user:password@` allowed. Empty means none.
pub fn proxy_url(value: &str) -> Result<Option<String>, ApiError> {
    let v = validate::optional_text("proxy_url", value, 512)?;
    if v.is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::invalid(
            "proxy_url",
            "`proxy_url` must be an http://, https:// or socks5:// URL with a host, \
             such as socks5://user:password@127.0.0.1:1080",
        )
    };
    let url = Url::parse(&v).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h")
        || url.host_str().is_none_or(str::is_empty)
    {
        return Err(bad());
    }
    Ok(Some(v))
}

/// The proxy URL with its password replaced by `****`.
pub fn mask_proxy_url(plain: &str) -> String {
    match Url::parse(plain) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("****"));
            }
            url.to_string()
        }
        Err(_) => "(invalid)".to_string(),
    }
}

/// Checks `priority` (0 to 1,000,000; smaller first).
pub fn check_priority(v: i64) -> Result<i64, ApiError> {
    validate::count("priority", v, 0, 1_000_000)
}

/// Checks `weight` (1 to 1,000,000).
pub fn check_weight(v: i64) -> Result<i64, ApiError> {
    validate::count("weight", v, 1, 1_000_000)
}

/// Checks `max_concurrency` (0, unlimited, to 100,000).
pub fn check_max_concurrency(v: i64) -> Result<i64, ApiError> {
    validate::count("max_concurrency", v, 0, 100_000)
}

/// Checks `notes` (at most 2,000 characters).
pub fn check_notes(v: &str) -> Result<String, ApiError> {
    validate::optional_text("notes", v, 2000)
}

/// The error for an OAuth field sent for a `claude_console` account.
pub fn only_claude(field: &str) -> ApiError {
    ApiError::invalid(field, format!("`{field}` is only for `claude` accounts"))
}

/// An optional secret, checked with [`secret`].
pub fn opt_secret(field: &str, v: Option<&str>) -> Result<Option<String>, ApiError> {
    v.map(|s| secret(field, s)).transpose()
}

/// The hint of the credential that will be used: the access token for `claude` when there is
/// one, else the key.
pub fn hint_of(primary: &str) -> String {
    secret_hint(primary)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_checked_and_proxy_passwords_masked() {
        assert_eq!(
            request_url("https://open.bigmodel.cn/api/anthropic/").unwrap(),
            "https://open.bigmodel.cn/api/anthropic"
        );
        assert!(request_url("ftp://x").is_err());
        assert!(request_url("https://x.io/?a=1").is_err());
        assert_eq!(request_url("").unwrap(), "");
        assert!(proxy_url("socks5://u:p@127.0.0.1:1080").unwrap().is_some());
        assert!(proxy_url("gopher://x").is_err());
        assert_eq!(proxy_url(" ").unwrap(), None);
        assert_eq!(
            mask_proxy_url("socks5://u:secret@127.0.0.1:1080"),
            "socks5://u:****@127.0.0.1:1080"
        );
        assert_eq!(mask_proxy_url("http://h:3128"), "http://h:3128/");
    }
}
