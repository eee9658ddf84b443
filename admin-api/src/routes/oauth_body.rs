//! Bodies and answers of the OAuth onboarding (`/admin/accounts/oauth/*`): the account fields
//! an administrator may give when starting or finishing the flow (kept with the PKCE state as
//! an encrypted draft), their checks, and the result of the exchange.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts_body::{
    check_max_concurrency, check_notes, check_priority, check_weight, proxy_url, request_url,
    AccountView, NewAccountRequest,
};
use crate::error::ApiError;
use crate::time::TimeInput;
use crate::validate;

/// Fields of the `claude` account to create once the code is exchanged (all optional; with
/// `name`, the account is created).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthAccountFields {
    /// Display name; when given (here or at exchange), the account is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Group (default: the default group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    /// Upstream base URL (default: the configured Anthropic URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_url: Option<String>,
    /// Smaller is tried first (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Share among accounts of the same priority (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Requests in flight at most (default 0: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<i64>,
    /// Model ids or globs served (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    /// Requested model (or glob) → upstream model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// Outbound proxy of the account; the token exchange uses it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Admin switch (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl OAuthAccountFields {
    /// Checks every field present (the group's existence is checked separately).
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(n) = &self.name {
            validate::text("name", n, 128)?;
        }
        if let Some(u) = &self.request_url {
            request_url(u)?;
        }
        self.priority.map(check_priority).transpose()?;
        self.weight.map(check_weight).transpose()?;
        self.max_concurrency
            .map(check_max_concurrency)
            .transpose()?;
        if let Some(m) = &self.allowed_models {
            validate::models("allowed_models", m)?;
        }
        if let Some(m) = &self.model_mapping {
            validate::model_mapping("model_mapping", m)?;
        }
        if let Some(p) = &self.proxy_url {
            proxy_url(p)?;
        }
        if let Some(n) = &self.notes {
            check_notes(n)?;
        }
        Ok(())
    }

    /// These fields, each replaced by the one in `over` when that one is given.
    pub fn overridden_by(self, over: Self) -> Self {
        Self {
            name: over.name.or(self.name),
            group_id: over.group_id.or(self.group_id),
            request_url: over.request_url.or(self.request_url),
            priority: over.priority.or(self.priority),
            weight: over.weight.or(self.weight),
            max_concurrency: over.max_concurrency.or(self.max_concurrency),
            allowed_models: over.allowed_models.or(self.allowed_models),
            model_mapping: over.model_mapping.or(self.model_mapping),
            proxy_url: over.proxy_url.or(self.proxy_url),
            enabled: over.enabled.or(self.enabled),
            notes: over.notes.or(self.notes),
        }
    }

    /// The new `claude` account named `name` holding the exchanged tokens.
    pub fn into_account(
        self,
        name: String,
        access_token: String,
        refresh_token: Option<String>,
        expires_at_ms: Option<i64>,
    ) -> NewAccountRequest {
        NewAccountRequest {
            name,
            platform_type: "claude".into(),
            request_url: self.request_url,
            secret_key: None,
            access_token: Some(access_token),
            refresh_token,
            expires_at: expires_at_ms.map(TimeInput::EpochMs),
            auth_header: None,
            priority: self.priority,
            weight: self.weight,
            max_concurrency: self.max_concurrency,
            allowed_models: self.allowed_models,
            model_mapping: self.model_mapping,
            proxy_url: self.proxy_url,
            enabled: self.enabled,
            notes: self.notes,
            group_id: self.group_id,
        }
    }
}

/// `POST /admin/accounts/oauth/start` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthStart {
    /// The `state` to send back with the code.
    pub state: String,
    /// The page to open and authorize on.
    pub authorize_url: String,
    /// When this flow expires (RFC 3339 UTC; 10 minutes).
    pub expires_at: String,
}

/// `POST /admin/accounts/oauth/exchange` body: the state and the pasted code, plus optional
/// account fields (they override the ones given at start).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The `state` of the start answer (optional when `code` is the callback URL or
    /// `code#state`, which carry it).
    #[serde(default)]
    pub state: Option<String>,
    /// The code as the callback page shows it (`code#state`), the raw code, or the whole
    /// callback URL.
    pub code: String,
    /// Store the tokens in this existing `claude` account instead of creating one.
    #[serde(default)]
    pub account_id: Option<i64>,
    /// See [`OAuthAccountFields`].
    #[serde(default)]
    pub name: Option<String>,
    /// Group (default: the default group).
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Upstream base URL.
    #[serde(default)]
    pub request_url: Option<String>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Weight.
    #[serde(default)]
    pub weight: Option<i64>,
    /// Max concurrency.
    #[serde(default)]
    pub max_concurrency: Option<i64>,
    /// Allowed models.
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Model mapping.
    #[serde(default)]
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// Outbound proxy (also used for the exchange).
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Admin switch.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
}

impl ExchangeRequest {
    /// The account fields of the request.
    pub fn fields(&self) -> OAuthAccountFields {
        OAuthAccountFields {
            name: self.name.clone(),
            group_id: self.group_id,
            request_url: self.request_url.clone(),
            priority: self.priority,
            weight: self.weight,
            max_concurrency: self.max_concurrency,
            allowed_models: self.allowed_models.clone(),
            model_mapping: self.model_mapping.clone(),
            proxy_url: self.proxy_url.clone(),
            enabled: self.enabled,
            notes: self.notes.clone(),
        }
    }
}

/// `POST /admin/accounts/oauth/exchange` answer. The tokens themselves are never answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeResult {
    /// Masked access token, e.g. `sk-ant-…Ab12`.
    pub access_token_hint: String,
    /// Whether a refresh token came with it (long-lived setup tokens have none).
    pub has_refresh_token: bool,
    /// When the access token expires (RFC 3339 UTC), if the provider said.
    pub expires_at: Option<String>,
    /// Granted scopes.
    pub scope: Option<String>,
    /// The account created or updated with the tokens (null when no account fields were
    /// given: the tokens are then dropped).
    pub account: Option<AccountView>,
}
