//! `POST /admin/accounts/{id}/test`: the cheapest real request to an account's upstream — a
//! `max_tokens: 1` message on a cheap model the account serves (mapped as the relay would map
//! it) — with the account's credential, through its proxy. Answers whether it worked, the
//! status, the latency and the upstream's error message; never a secret. The account's state
//! is not changed. A redirect is reported, never followed; a target that is, or resolves to,
//! a loopback, private, link-local or metadata address is refused with a 400 naming
//! `request_url` unless `security.allow_private_upstreams` ([`crate::upstream_guard`]).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::State;
use axum::Json;
use relay_shared::db::accounts::{self, AccountRow};
use relay_shared::glob::{allowed, glob_match};
use relay_shared::models::{AuthHeader, PlatformType};
use relay_shared::upstream_auth::{self, Credential};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::or_404;
use crate::auth::AdminUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;
use crate::state::AppState;
use crate::upstream_guard::{self, Refusal};

/// Models tried, cheapest first, against the account's allowed models.
const CHEAP_MODELS: [&str; 5] = [
    "claude-haiku-4-5",
    "claude-3-5-haiku-latest",
    "claude-sonnet-4-5",
    "claude-sonnet-4-0",
    "claude-opus-4-5",
];
/// Most bytes of an upstream answer read.
const MAX_BODY: usize = 64 * 1024;
/// Longest message passed on.
const MAX_MESSAGE: usize = 300;

/// The result of one test.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountTestResult {
    /// The upstream answered 2xx.
    pub ok: bool,
    /// The upstream's HTTP status (null when it could not be reached).
    pub status: Option<u16>,
    /// Time until the whole answer arrived, ms.
    pub latency_ms: u64,
    /// The model sent upstream.
    pub model: String,
    /// The upstream's `error.message`, or what went wrong, or a success note.
    pub message: String,
}

/// The model to ask for: the cheapest well-known one the account allows (else its first
/// exact allowed id), then mapped by the account's model mapping as the relay maps it.
pub fn probe_model(allow: &[String], mapping: &BTreeMap<String, String>) -> String {
    let requested = CHEAP_MODELS
        .iter()
        .find(|m| allowed(allow, m))
        .map(|m| m.to_string())
        .or_else(|| allow.iter().find(|p| !p.contains('*')).cloned())
        .unwrap_or_else(|| CHEAP_MODELS[0].to_string());
    mapping
        .iter()
        .find(|(from, _)| glob_match(from, &requested))
        .map_or(requested.clone(), |(_, to)| to.clone())
}

/// The credential of `a` (the relay's own rule, [`upstream_auth::pick`]).
fn credential(state: &AppState, a: &AccountRow) -> Result<Credential, ApiError> {
    let sb = &state.secrets.secret_box;
    let dec = |v: &Option<String>| {
        v.as_deref()
            .map(|c| sb.decrypt(c).map_err(ApiError::internal))
            .transpose()
    };
    let kind = PlatformType::parse(&a.platform_type)
        .ok_or_else(|| ApiError::internal("unknown platform_type"))?;
    upstream_auth::pick(kind, dec(&a.access_token_enc)?, dec(&a.secret_enc)?)
        .map_err(|_| ApiError::invalid("id", "the account has no credential to test with"))
}

/// The upstream's `error.message` (or `message`), without the credential.
fn upstream_message(body: &[u8], secret: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let m = v["error"]["message"]
        .as_str()
        .or_else(|| v["message"].as_str())
        .or_else(|| v["error"].as_str())?;
    Some(scrub(m, secret))
}

fn scrub(text: &str, secret: &str) -> String {
    let text: String = text.chars().take(MAX_MESSAGE).collect();
    if secret.len() >= 8 {
        text.replace(secret, "…")
    } else {
        text
    }
}

/// Sends the cheapest request to the account's upstream and reports the answer.
#[utoipa::path(post, path = "/api/v1/admin/accounts/{id}/test", tag = "admin-accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "What the upstream answered (see `ok`)", body = AccountTestResult),
        (status = 400, description = "The account has no credential, or its upstream address is refused", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    ))]
pub async fn test(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccountTestResult>, ApiError> {
    let a = accounts::get(&state.db, id)
        .await
        .map_err(or_404("account"))?;
    let result = probe(&state, &a, ProbeKind::Message).await?;
    tracing::info!(account = id, ok = result.ok, status = ?result.status, latency_ms = result.latency_ms, "account tested");
    Ok(Json(result))
}

/// Which request a probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// A `max_tokens: 1` message on the cheapest model the account serves (the admin test).
    Message,
    /// The cheapest request there is: `count_tokens` where the upstream is Anthropic's own
    /// (it costs nothing), else a `max_tokens: 1` message (the recovery probe).
    Cheapest,
}

/// Whether `count_tokens` reaches Anthropic itself for this account.
fn counts_tokens(a: &AccountRow, base: &str) -> bool {
    a.platform_type == PlatformType::Claude.as_str()
        || url::Url::parse(base)
            .ok()
            .and_then(|u| u.host_str().map(|h| h == "api.anthropic.com"))
            .unwrap_or(false)
}

/// Sends the probe of `kind` to account `a` with its credential (the relay's own header
/// rule), through its proxy, never following a redirect, refusing private targets unless
/// `security.allow_private_upstreams`; the admin test and the relay's recovery job both use
/// it. The account's state is not changed here.
pub async fn probe(
    state: &AppState,
    a: &AccountRow,
    kind: ProbeKind,
) -> Result<AccountTestResult, ApiError> {
    let cred = credential(state, a)?;
    let base = match a.request_url.trim() {
        "" => state.config.relay.anthropic_base_url.as_str(),
        u => u,
    };
    let count = kind == ProbeKind::Cheapest && counts_tokens(a, base);
    let path = if count {
        "/v1/messages/count_tokens"
    } else {
        "/v1/messages"
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let allow_private = state.config.security.allow_private_upstreams;
    if !allow_private {
        let parsed = url::Url::parse(&url)
            .map_err(|_| ApiError::invalid("request_url", "the upstream URL is not valid"))?;
        upstream_guard::check(&parsed).await.map_err(refused)?;
    }
    let model = probe_model(&a.allowed_models()?, &a.model_mapping()?);
    let proxy = a
        .proxy_url_enc
        .as_deref()
        .map(|enc| {
            state
                .secrets
                .secret_box
                .decrypt(enc)
                .map_err(ApiError::internal)
        })
        .transpose()?;
    let http = state
        .http
        .upstream(proxy.as_deref().map(|p| p.as_str()), allow_private)?;
    let body = if count {
        json!({ "model": model, "messages": [{ "role": "user", "content": "hi" }] })
    } else {
        json!({
            "model": model,
            "max_tokens": 1,
            "messages": [{ "role": "user", "content": "hi" }],
        })
    };
    let mut req = http
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    let how = AuthHeader::parse(&a.auth_header).unwrap_or(AuthHeader::Both);
    for (name, value) in upstream_auth::headers(&cred, how) {
        req = req.header(name, value);
    }
    if let Some(beta) = upstream_auth::beta(&cred, None) {
        req = req.header("anthropic-beta", beta);
    }
    let started = Instant::now();
    let outcome = match req.send().await {
        Ok(mut resp) => {
            let status = resp.status();
            let mut bytes = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                bytes.extend_from_slice(&chunk);
                if bytes.len() >= MAX_BODY {
                    break;
                }
            }
            let message = if status.is_success() {
                format!("the upstream answered {}", status.as_u16())
            } else if status.is_redirection() {
                format!(
                    "the upstream answered a redirect (HTTP {}); it is not followed with the credential",
                    status.as_u16()
                )
            } else {
                upstream_message(&bytes, cred.secret())
                    .unwrap_or_else(|| format!("the upstream answered HTTP {}", status.as_u16()))
            };
            (status.is_success(), Some(status.as_u16()), message)
        }
        Err(e) => {
            if let Some(r) = upstream_guard::refusal_in(&e) {
                return Err(refused(r));
            }
            let what = if e.is_timeout() {
                "the upstream did not answer within 30 s"
            } else if e.is_connect() {
                "cannot connect to the upstream"
            } else {
                "the request to the upstream failed"
            };
            (false, None, what.to_string())
        }
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(AccountTestResult {
        ok: outcome.0,
        status: outcome.1,
        latency_ms,
        model,
        message: outcome.2,
    })
}

/// 400 `upstream_address_refused` naming `request_url`.
fn refused(r: Refusal) -> ApiError {
    ApiError::Invalid {
        code: "upstream_address_refused",
        field: Some("request_url".into()),
        message: r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_anthropic_itself_is_probed_with_count_tokens() {
        let row = |kind: &str| AccountRow {
            platform_type: kind.into(),
            ..AccountRow::default()
        };
        assert!(counts_tokens(&row("claude"), "http://127.0.0.1:9"));
        assert!(counts_tokens(
            &row("claude_console"),
            "https://api.anthropic.com"
        ));
        assert!(!counts_tokens(
            &row("claude_console"),
            "https://open.bigmodel.cn/api/anthropic"
        ));
    }

    #[test]
    fn the_probe_model_is_cheap_allowed_and_mapped() {
        let none = BTreeMap::new();
        assert_eq!(probe_model(&[], &none), "claude-haiku-4-5");
        let sonnet = vec!["claude-sonnet-*".to_string()];
        assert_eq!(probe_model(&sonnet, &none), "claude-sonnet-4-5");
        let exact = vec!["glm-4.6".to_string()];
        assert_eq!(probe_model(&exact, &none), "glm-4.6");
        let mapping = BTreeMap::from([("claude-*".to_string(), "glm-4.6".to_string())]);
        assert_eq!(probe_model(&[], &mapping), "glm-4.6");
    }

    #[test]
    fn messages_never_carry_the_credential() {
        let body = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret-123"}}"#;
        assert_eq!(
            upstream_message(body, "sk-ant-secret-123").as_deref(),
            Some("invalid x-api-key …")
        );
        assert_eq!(upstream_message(b"<html>", "x"), None);
    }
}
