//! Which credential an account sends upstream and in which headers (SPEC §3.1), written once
//! for the relay, the recovery probe and the admin account test:
//! - a `claude` account sends its OAuth access token as `Authorization: Bearer` and adds the
//!   `oauth-2025-04-20` beta; a long-lived setup token (`sk-ant-oat…`) given as its secret is
//!   sent the same way, and a plain API key given to a `claude` account (the seed project's
//!   examples do this) goes as an API key;
//! - an API key goes as `x-api-key`, `Authorization: Bearer` or both, per `auth_header`.

use zeroize::Zeroizing;

use crate::models::{AuthHeader, PlatformType};

/// Beta flag an OAuth token needs on every call.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// The credential sent upstream.
pub enum Credential {
    /// A Console (or compatible) API key, sent per [`AuthHeader`].
    ApiKey(Zeroizing<String>),
    /// An OAuth access token (or setup token), sent as `Authorization: Bearer`.
    OAuth(Zeroizing<String>),
}

impl Credential {
    /// The secret itself (to mask it where an upstream echoes it).
    pub fn secret(&self) -> &str {
        match self {
            Self::ApiKey(s) | Self::OAuth(s) => s.as_str(),
        }
    }

    /// Whether this is an OAuth bearer token.
    pub fn is_oauth(&self) -> bool {
        matches!(self, Self::OAuth(_))
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ApiKey(_) => "ApiKey(..)",
            Self::OAuth(_) => "OAuth(..)",
        })
    }
}

/// Why an account has no usable credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Neither an access token nor a secret is stored.
    #[error("no access token or secret key")]
    Missing,
}

/// The credential of an account of `kind` from its decrypted access token and secret.
pub fn pick(
    kind: PlatformType,
    access_token: Option<Zeroizing<String>>,
    secret: Option<Zeroizing<String>>,
) -> Result<Credential, CredentialError> {
    match (kind, access_token, secret) {
        (PlatformType::Claude, Some(token), _) => Ok(Credential::OAuth(token)),
        (PlatformType::Claude, None, Some(s)) if s.starts_with("sk-ant-oat") => {
            Ok(Credential::OAuth(s))
        }
        (_, _, Some(s)) => Ok(Credential::ApiKey(s)),
        (PlatformType::ClaudeConsole, Some(_), None) | (_, None, None) => {
            Err(CredentialError::Missing)
        }
    }
}

/// The credential headers, as (lower-case name, value) pairs, for `cred` sent per `how`.
pub fn headers(cred: &Credential, how: AuthHeader) -> Vec<(&'static str, String)> {
    match cred {
        Credential::OAuth(t) => vec![("authorization", format!("Bearer {}", t.as_str()))],
        Credential::ApiKey(k) => {
            let mut out = Vec::with_capacity(2);
            if matches!(how, AuthHeader::XApiKey | AuthHeader::Both) {
                out.push(("x-api-key", k.to_string()));
            }
            if matches!(how, AuthHeader::Bearer | AuthHeader::Both) {
                out.push(("authorization", format!("Bearer {}", k.as_str())));
            }
            out
        }
    }
}

/// The `anthropic-beta` value to send for `cred` given the client's (comma-joined) value:
/// OAuth adds [`OAUTH_BETA`] once; anything else keeps the client's.
pub fn beta(cred: &Credential, client: Option<String>) -> Option<String> {
    if !cred.is_oauth() {
        return client;
    }
    let has = client
        .as_deref()
        .is_some_and(|b| b.split(',').any(|f| f.trim() == OAUTH_BETA));
    if has {
        return client;
    }
    Some(match client {
        Some(b) if !b.trim().is_empty() => format!("{b},{OAUTH_BETA}"),
        _ => OAUTH_BETA.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn z(s: &str) -> Option<Zeroizing<String>> {
        Some(Zeroizing::new(s.to_string()))
    }

    #[test]
    fn claude_accounts_use_tokens_as_bearer_and_keys_as_keys() {
        let kind = |c: Credential| match c {
            Credential::OAuth(t) => format!("bearer {}", t.as_str()),
            Credential::ApiKey(k) => format!("key {}", k.as_str()),
        };
        let claude = PlatformType::Claude;
        assert_eq!(kind(pick(claude, z("tok"), z("x")).unwrap()), "bearer tok");
        assert_eq!(
            kind(pick(claude, None, z("sk-ant-oat01-s")).unwrap()),
            "bearer sk-ant-oat01-s"
        );
        assert_eq!(
            kind(pick(claude, None, z("sk-ant-api03")).unwrap()),
            "key sk-ant-api03"
        );
        let console = PlatformType::ClaudeConsole;
        assert_eq!(kind(pick(console, None, z("k")).unwrap()), "key k");
        assert_eq!(
            pick(console, z("t"), None).unwrap_err(),
            CredentialError::Missing
        );
        assert_eq!(
            pick(claude, None, None).unwrap_err(),
            CredentialError::Missing
        );
    }

    #[test]
    fn keys_go_in_the_configured_headers_and_oauth_adds_its_beta_once() {
        let key = Credential::ApiKey(Zeroizing::new("k".into()));
        let names = |how| -> Vec<&str> { headers(&key, how).iter().map(|h| h.0).collect() };
        assert_eq!(names(AuthHeader::Both), ["x-api-key", "authorization"]);
        assert_eq!(names(AuthHeader::XApiKey), ["x-api-key"]);
        assert_eq!(headers(&key, AuthHeader::Bearer)[0].1, "Bearer k");
        let tok = Credential::OAuth(Zeroizing::new("t".into()));
        assert_eq!(
            headers(&tok, AuthHeader::XApiKey),
            [("authorization", "Bearer t".into())]
        );
        assert_eq!(beta(&tok, None).as_deref(), Some(OAUTH_BETA));
        assert_eq!(
            beta(&tok, Some("a,b".into())).as_deref(),
            Some("a,b,oauth-2025-04-20")
        );
        let already = format!("x, {OAUTH_BETA}");
        assert_eq!(beta(&tok, Some(already.clone())), Some(already));
        assert_eq!(beta(&key, Some("a".into())).as_deref(), Some("a"));
    }
}
