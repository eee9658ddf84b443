//! The Claude OAuth client (SPEC §3.7, reference §9), free of HTTP-handler concerns so the
//! token refresher can reuse it: PKCE (S256), the authorize URL, reading the code a person
//! pastes back, and the token endpoint — the code exchange and the refresh, both with JSON
//! bodies. Tokens are held in [`Zeroizing`] strings and never printed.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use relay_shared::config::OAuthConfig;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

/// Longest provider error message passed on.
const MAX_MESSAGE: usize = 300;

/// A PKCE pair: the secret verifier (kept by the server) and its S256 challenge (sent in the
/// authorize URL).
pub struct Pkce {
    /// 43 base64url characters from 32 random bytes.
    pub verifier: Zeroizing<String>,
    /// base64url(SHA-256(verifier)).
    pub challenge: String,
}

impl Pkce {
    /// A fresh random pair.
    pub fn generate() -> Self {
        let verifier = Zeroizing::new(random_token());
        let challenge = challenge_of(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

/// The S256 challenge of `verifier`.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 32 random bytes, base64url: an OAuth `state` or a PKCE verifier.
pub fn random_token() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// The page the administrator opens to authorize the relay.
pub fn authorize_url(cfg: &OAuthConfig, state: &str, challenge: &str) -> Result<String, String> {
    let mut url = Url::parse(&cfg.authorize_url)
        .map_err(|e| format!("auth.oauth.authorize_url is not a URL: {e}"))?;
    url.query_pairs_mut()
        .append_pair("code", "true")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &cfg.redirect_uri)
        .append_pair("scope", &cfg.scopes)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", state);
    Ok(url.into())
}

/// What the administrator pasted back: the code, and the state when the paste carried one.
#[derive(Clone, PartialEq, Eq)]
pub struct PastedCode {
    /// The authorization code.
    pub code: String,
    /// The state that came with it (`code#state` or the callback URL's `state`).
    pub state: Option<String>,
}

impl fmt::Debug for PastedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PastedCode")
            .field("code", &"…")
            .field("state", &self.state)
            .finish()
    }
}

/// Reads the raw code, the `code#state` form the callback page shows, or the whole callback
/// URL (`…?code=X&state=Y`). `None` when no code can be found.
pub fn parse_pasted_code(input: &str) -> Option<PastedCode> {
    let input = input.trim();
    let nonempty = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    let (code, state) = if input.starts_with("http://") || input.starts_with("https://") {
        let url = Url::parse(input).ok()?;
        let pick = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let code = pick("code")?;
        let (code, from_hash) = match code.split_once('#') {
            Some((c, s)) => (c.to_string(), nonempty(s)),
            None => (code, None),
        };
        let state = pick("state")
            .or(from_hash)
            .or_else(|| url.fragment().and_then(nonempty));
        (code, state)
    } else if input.contains("code=") {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(input.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let pick = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        (pick("code")?, pick("state"))
    } else {
        match input.split_once('#') {
            Some((c, s)) => (c.to_string(), nonempty(s)),
            None => (input.to_string(), None),
        }
    };
    let code = code.trim().to_string();
    if code.is_empty() || code.len() > 2048 || code.chars().any(char::is_whitespace) {
        return None;
    }
    Some(PastedCode { code, state })
}

/// Tokens answered by the token endpoint.
pub struct TokenSet {
    /// The access token (`sk-ant-oat01-…`).
    pub access_token: Zeroizing<String>,
    /// The refresh token, when one was issued (rotated on every refresh).
    pub refresh_token: Option<Zeroizing<String>>,
    /// Lifetime of the access token in seconds, when given.
    pub expires_in: Option<i64>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"…")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenSet {
    /// When the access token expires, epoch ms, counted from `now_ms`.
    pub fn expires_at_ms(&self, now_ms: i64) -> Option<i64> {
        self.expires_in
            .map(|s| now_ms.saturating_add(s.saturating_mul(1000)))
    }
}

#[derive(Deserialize)]
struct RawTokens {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    scope: Option<String>,
}

/// Why a token request failed. Messages never hold a token.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused (an invalid, expired or used code; a revoked refresh token).
    #[error("the token endpoint refused ({status}): {message}")]
    Rejected {
        /// HTTP status of the refusal.
        status: u16,
        /// The provider's explanation.
        message: String,
    },
    /// The token endpoint could not be reached or timed out.
    #[error("the token endpoint cannot be reached: {0}")]
    Unreachable(String),
    /// The answer was not a token response.
    #[error("the token endpoint answered something unexpected: {0}")]
    BadResponse(String),
}

/// Exchanges an authorization `code` (with its PKCE `verifier` and `state`) for tokens:
/// `POST token_url` with JSON `{grant_type: "authorization_code", code, redirect_uri,
/// client_id, code_verifier, state}`.
pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    code: &str,
    verifier: &str,
    state: &str,
) -> Result<TokenSet, OAuthError> {
    let body = json!({
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": cfg.redirect_uri,
        "client_id": cfg.client_id,
        "code_verifier": verifier,
        "state": state,
    });
    post_token(http, &cfg.token_url, &body).await
}

/// Trades a refresh token for new tokens: `POST token_url` with JSON `{grant_type:
/// "refresh_token", refresh_token, client_id, scope}`. The answer's `refresh_token` replaces
/// the old one (it is single-use); when absent, the old one stays valid.
pub async fn refresh_token(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    refresh_token: &str,
) -> Result<TokenSet, OAuthError> {
    let body = json!({
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": cfg.client_id,
        "scope": cfg.scopes,
    });
    post_token(http, &cfg.token_url, &body).await
}

async fn post_token(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> Result<TokenSet, OAuthError> {
    let resp = http
        .post(url)
        .header("accept", "application/json")
        .json(body)
        .send()
        .await
        .map_err(|e| OAuthError::Unreachable(describe(&e)))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| OAuthError::Unreachable(describe(&e)))?;
    if !status.is_success() {
        let message = provider_message(&bytes).unwrap_or_else(|| format!("HTTP {status}"));
        return Err(OAuthError::Rejected {
            status: status.as_u16(),
            message,
        });
    }
    let raw: RawTokens = serde_json::from_slice(&bytes)
        .map_err(|_| OAuthError::BadResponse("the body is not a JSON token response".into()))?;
    let access_token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::BadResponse("no access_token in the answer".into()))?;
    Ok(TokenSet {
        access_token: Zeroizing::new(access_token),
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Zeroizing::new),
        expires_in: raw.expires_in,
        scope: raw.scope,
    })
}

/// A transport error in words, without the URL.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// The provider's explanation: `error_description`, `error.message`, or `error`.
fn provider_message(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = v["error_description"]
        .as_str()
        .or_else(|| v["error"]["message"].as_str())
        .or_else(|| v["error"].as_str())?;
    Some(text.chars().take(MAX_MESSAGE).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::generate();
        assert_eq!(p.verifier.len(), 43);
        assert_eq!(p.challenge, challenge_of(&p.verifier));
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn the_authorize_url_carries_the_pkce_and_client_parameters() {
        let cfg = OAuthConfig::default();
        let u = authorize_url(&cfg, "st4te", "ch4llenge").unwrap();
        let url = Url::parse(&u).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], cfg.client_id);
        assert_eq!(q["code_challenge"], "ch4llenge");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["redirect_uri"], cfg.redirect_uri);
        assert_eq!(q["scope"], cfg.scopes);
        assert_eq!(q["response_type"], "code");
    }

    #[test]
    fn a_pasted_code_may_be_raw_hashed_or_a_callback_url() {
        let p = |s| parse_pasted_code(s).unwrap();
        assert_eq!((p(" abc ").code, p(" abc ").state), ("abc".into(), None));
        let h = p("abc#st");
        assert_eq!((h.code.as_str(), h.state.as_deref()), ("abc", Some("st")));
        let u = p("https://platform.claude.com/oauth/code/callback?code=abc&state=st");
        assert_eq!((u.code.as_str(), u.state.as_deref()), ("abc", Some("st")));
        let f = p("https://x.example/cb?code=abc%23st2");
        assert_eq!((f.code.as_str(), f.state.as_deref()), ("abc", Some("st2")));
        let q = p("code=abc&state=st3");
        assert_eq!((q.code.as_str(), q.state.as_deref()), ("abc", Some("st3")));
        assert!(parse_pasted_code("").is_none());
        assert!(parse_pasted_code("https://x.example/cb?state=1").is_none());
        assert!(parse_pasted_code("a b").is_none());
        assert!(!format!("{:?}", p("secret-code")).contains("secret"));
    }

    #[test]
    fn provider_errors_are_read_from_the_usual_fields() {
        let m = |s: &str| provider_message(s.as_bytes());
        assert_eq!(
            m(r#"{"error":"invalid_grant","error_description":"Invalid code"}"#).as_deref(),
            Some("Invalid code")
        );
        assert_eq!(
            m(r#"{"error":{"type":"x","message":"bad"}}"#).as_deref(),
            Some("bad")
        );
        assert_eq!(
            m(r#"{"error":"invalid_grant"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(m("<html>"), None);
    }
}
