//! OAuth onboarding of `claude` accounts (SPEC §3.7): `start` creates a PKCE flow (state and
//! encrypted verifier kept 10 minutes, with the account fields as an encrypted draft) and
//! answers the authorize URL; `exchange` takes the pasted code once, trades it at the token
//! endpoint, and creates (or updates) the account with the encrypted tokens and their expiry.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::crypto::secret_hint;
use relay_shared::db::accounts::{self, AccountRow};
use relay_shared::db::now_ms;
use relay_shared::db::oauth::{self, OAuthSessionRow};
use relay_shared::models::PlatformType;

use super::accounts::{create_account, view};
use super::accounts_body::AccountUpdate;
use super::accounts_update::{build_patch, group_for};
pub use super::oauth_body::{ExchangeRequest, ExchangeResult, OAuthAccountFields, OAuthStart};
use super::{changed, or_404};
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, MaybeJson};
use crate::oauth_client::{self, OAuthError, Pkce};
use crate::state::AppState;
use crate::time::{rfc3339, rfc3339_opt, TimeInput};

/// How long a started flow may be finished.
pub const SESSION_TTL: Duration = Duration::from_secs(600);

fn bad_state() -> ApiError {
    ApiError::Invalid {
        code: "invalid_state",
        field: Some("state".into()),
        message: "this authorization is unknown, expired or already used; start again".into(),
    }
}

/// Starts an authorization: answers the URL to open and the `state` to send back.
#[utoipa::path(post, path = "/api/v1/admin/accounts/oauth/start", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = Option<OAuthAccountFields>, description = "Optional fields of the account to create"),
    responses(
        (status = 200, description = "Open `authorize_url`, then exchange the code", body = OAuthStart),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
    ))]
pub async fn start(
    State(state): State<AppState>,
    admin: AdminUser,
    MaybeJson(fields): MaybeJson<OAuthAccountFields>,
) -> Result<Json<OAuthStart>, ApiError> {
    let fields = fields.unwrap_or_default();
    fields.check()?;
    if let Some(g) = fields.group_id {
        group_for(&state, Some(g)).await?;
    }
    let sb = &state.secrets.secret_box;
    let pkce = Pkce::generate();
    let st = oauth_client::random_token();
    let url = oauth_client::authorize_url(&state.config.auth.oauth, &st, &pkce.challenge)
        .map_err(ApiError::internal)?;
    let draft = serde_json::to_string(&fields).map_err(ApiError::internal)?;
    let now = now_ms();
    let ttl = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(600_000);
    let row = OAuthSessionRow {
        state: st.clone(),
        code_verifier_enc: sb.encrypt(&pkce.verifier),
        created_by: admin.0.id,
        draft: sb.encrypt(&draft),
        created_at: now,
        expires_at: now + ttl,
    };
    oauth::insert(&state.db, &row).await?;
    if let Err(e) = oauth::purge_expired(&state.db, now).await {
        tracing::warn!(error = %e, "cannot purge expired OAuth sessions");
    }
    Ok(Json(OAuthStart {
        state: st,
        authorize_url: url,
        expires_at: rfc3339(row.expires_at),
    }))
}

fn oauth_error(e: OAuthError) -> ApiError {
    tracing::warn!(error = %e, "OAuth code exchange failed");
    match e {
        OAuthError::Rejected { status, message } if status == 429 || status >= 500 => {
            ApiError::BadGateway {
                code: "oauth_unavailable",
                message: format!("the OAuth token endpoint failed ({status}): {message}"),
            }
        }
        OAuthError::Rejected { message, .. } => ApiError::Invalid {
            code: "oauth_rejected",
            field: Some("code".into()),
            message: format!("the provider refused the code: {message}"),
        },
        OAuthError::Unreachable(m) => ApiError::BadGateway {
            code: "oauth_unreachable",
            message: format!("the OAuth token endpoint cannot be reached: {m}"),
        },
        OAuthError::BadResponse(m) => ApiError::BadGateway {
            code: "oauth_bad_response",
            message: format!("the OAuth token endpoint answered something unexpected: {m}"),
        },
    }
}

/// The state to use: the one sent, or the one the pasted code carried (they must agree).
fn state_of(sent: Option<&str>, pasted: Option<&str>) -> Result<String, ApiError> {
    let sent = sent.map(str::trim).filter(|s| !s.is_empty());
    match (sent, pasted) {
        (Some(a), Some(b)) if a != b => Err(ApiError::Invalid {
            code: "invalid_state",
            field: Some("state".into()),
            message: "the pasted code belongs to another authorization (its state differs)".into(),
        }),
        (Some(a), _) | (None, Some(a)) => Ok(a.to_string()),
        (None, None) => Err(ApiError::invalid("state", "`state` is required")),
    }
}

/// The existing `claude` account to store the tokens in.
async fn target(state: &AppState, id: i64) -> Result<AccountRow, ApiError> {
    let a = accounts::get(&state.db, id).await.map_err(|e| match e {
        relay_shared::db::DbError::NotFound => {
            ApiError::not_found_field("account_id", "no such account")
        }
        other => other.into(),
    })?;
    if a.platform_type != PlatformType::Claude.as_str() {
        return Err(ApiError::invalid(
            "account_id",
            "only a `claude` account can hold OAuth tokens",
        ));
    }
    Ok(a)
}

/// Exchanges the pasted code for tokens; with account fields (here or at start) creates the
/// `claude` account, with `account_id` stores them in that account.
#[utoipa::path(post, path = "/api/v1/admin/accounts/oauth/exchange", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Exchanged (no account created)", body = ExchangeResult),
        (status = 201, description = "Exchanged and the account created", body = ExchangeResult),
        (status = 400, description = "Invalid code or state, or the provider refused", body = ErrorBody),
        (status = 404, description = "No such group or account", body = ErrorBody),
        (status = 502, description = "The token endpoint failed", body = ErrorBody),
    ))]
pub async fn exchange(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiJson(req): ApiJson<ExchangeRequest>,
) -> Result<(StatusCode, Json<ExchangeResult>), ApiError> {
    let pasted = oauth_client::parse_pasted_code(&req.code).ok_or_else(|| {
        ApiError::invalid(
            "code",
            "`code` must be the authorization code, `code#state` or the callback URL",
        )
    })?;
    let st = state_of(req.state.as_deref(), pasted.state.as_deref())?;
    let over = req.fields();
    over.check()?;
    if let Some(g) = over.group_id {
        group_for(&state, Some(g)).await?;
    }
    let existing = match req.account_id {
        Some(id) => Some(target(&state, id).await?),
        None => None,
    };
    let session = oauth::take(&state.db, &st, now_ms())
        .await?
        .ok_or_else(bad_state)?;
    let sb = &state.secrets.secret_box;
    let verifier = sb
        .decrypt(&session.code_verifier_enc)
        .map_err(ApiError::internal)?;
    let draft: OAuthAccountFields = sb
        .decrypt(&session.draft)
        .ok()
        .and_then(|d| serde_json::from_str(&d).ok())
        .unwrap_or_default();
    let fields = draft.overridden_by(over);
    let stored_proxy = existing
        .as_ref()
        .and_then(|a| a.proxy_url_enc.as_deref())
        .and_then(|enc| sb.decrypt(enc).ok());
    let proxy = fields
        .proxy_url
        .as_deref()
        .or(stored_proxy.as_deref().map(|p| p.as_str()));
    let http = state.http.client(proxy.filter(|p| !p.trim().is_empty()))?;
    let tokens = oauth_client::exchange_code(
        &http,
        &state.config.auth.oauth,
        &pasted.code,
        &verifier,
        &st,
    )
    .await
    .map_err(oauth_error)?;
    let expires_at = tokens.expires_at_ms(now_ms());
    let access = tokens.access_token.to_string();
    let refresh = tokens.refresh_token.as_ref().map(|t| t.to_string());
    let (status, row) = if let Some(cur) = existing {
        let update = AccountUpdate {
            access_token: Some(Some(access)),
            refresh_token: Some(refresh),
            expires_at: Some(expires_at.map(TimeInput::EpochMs)),
            ..Default::default()
        };
        let patch = build_patch(&state, &cur, update).await?;
        let row = accounts::update(&state.db, cur.id, &patch)
            .await
            .map_err(or_404("account"))?;
        changed(&state.db).await?;
        (StatusCode::OK, Some(row))
    } else if let Some(name) = fields.name.clone() {
        let req = fields.into_account(name, access, refresh, expires_at);
        (
            StatusCode::CREATED,
            Some(create_account(&state, req).await?),
        )
    } else {
        (StatusCode::OK, None)
    };
    let account = row.as_ref().map(|r| view(&state, r)).transpose()?;
    Ok((
        status,
        Json(ExchangeResult {
            access_token_hint: secret_hint(&tokens.access_token),
            has_refresh_token: tokens.refresh_token.is_some(),
            expires_at: rfc3339_opt(expires_at),
            scope: tokens.scope.clone(),
            account,
        }),
    ))
}
