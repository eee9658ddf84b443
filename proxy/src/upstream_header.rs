//! The request header an account gets (SPEC §2.4): the client's headers minus hop-by-hop
//! ones and the client's credentials, plus the account's own credential, host and framing.

use http::{header, HeaderValue};
use pingora::http::RequestHeader;

use crate::snapshot::{AccountEntry, Credential};
use relay_shared::upstream_auth;

pub use relay_shared::upstream_auth::OAUTH_BETA;

/// Request headers never forwarded: hop-by-hop, the client's credentials, and those the
/// relay sets itself.
const DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    // The relay sends the whole body at once and must never take an interim 100 for the
    // answer.
    "expect",
    "accept-encoding",
    "x-api-key",
    "authorization",
    "cookie",
    "x-forwarded-for",
    "x-real-ip",
    "x-relay-forwarded-for",
    "x-relay-real-ip",
    "x-relay-forwarded-proto",
];

/// The header sent to `account` for the client's request `client` with a body of `body_len`;
/// `bearer` replaces an OAuth account's access token with a fresher one.
pub fn upstream_header(
    client: &RequestHeader,
    account: &AccountEntry,
    body_len: usize,
    bearer: Option<&str>,
) -> pingora::Result<RequestHeader> {
    let pq = client.uri.path_and_query().map_or("/", |p| p.as_str());
    let pq = pq.strip_prefix("/claude-code").unwrap_or(pq);
    let path = format!("{}{}", account.target.path_prefix, pq);
    // Header names go out in lower case (HTTP/1 names are case-insensitive): keeping the
    // client's spelling would cost a second header map per request.
    let mut h = RequestHeader::build_no_case(
        client.method.clone(),
        path.as_bytes(),
        Some(client.headers.len() + 4),
    )?;
    let mut beta: Option<String> = None;
    for (name, value) in client.headers.iter() {
        let n = name.as_str();
        if DROPPED.contains(&n) {
            continue;
        }
        if n == "anthropic-beta" {
            let v = String::from_utf8_lossy(value.as_bytes());
            beta = Some(match beta {
                Some(b) => format!("{b},{v}"),
                None => v.into_owned(),
            });
            continue;
        }
        h.append_header(name.clone(), value.clone())?;
    }
    h.insert_header(header::HOST, account.target.host_header.as_str())?;
    h.insert_header(header::CONTENT_LENGTH, HeaderValue::from(body_len))?;
    h.insert_header(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    )?;
    let fresh;
    let credential = match bearer {
        Some(t) => {
            fresh = Credential::OAuth(zeroize::Zeroizing::new(t.to_string()));
            &fresh
        }
        None => &account.credential,
    };
    for (name, value) in upstream_auth::headers(credential, account.auth_header) {
        h.insert_header(name, value)?;
    }
    let beta = upstream_auth::beta(credential, beta);
    if let Some(b) = beta {
        h.insert_header("anthropic-beta", b)?;
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::snapshot::UpstreamTarget;
    use relay_shared::models::{AuthHeader, PlatformType};
    use std::sync::Arc;

    fn account(kind: PlatformType, base: &str, auth: AuthHeader) -> AccountEntry {
        AccountEntry {
            id: 1,
            name: "a".into(),
            kind,
            target: UpstreamTarget::parse(base).unwrap(),
            credential: match kind {
                PlatformType::Claude => Credential::OAuth("tok".to_string().into()),
                PlatformType::ClaudeConsole => Credential::ApiKey("sk-acct".to_string().into()),
            },
            auth_header: auth,
            priority: 1,
            weight: 1,
            max_concurrency: 0,
            allowed_models: vec![],
            model_mapping: vec![],
            proxy: None,
            oauth: None,
            rt: Arc::default(),
        }
    }

    fn client() -> RequestHeader {
        let mut r =
            RequestHeader::build("POST", b"/claude-code/v1/messages?beta=true", None).unwrap();
        for (k, v) in [
            ("host", "relay.local"),
            ("x-api-key", "sk-relay-client"),
            ("authorization", "Bearer sk-relay-client"),
            ("cookie", "a=b"),
            ("connection", "keep-alive"),
            ("accept-encoding", "gzip, br"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "claude-code-20250219"),
            ("x-claude-code-session-id", "s1"),
            ("content-length", "999"),
        ] {
            r.append_header(k, v).unwrap();
        }
        r
    }

    fn get<'a>(h: &'a RequestHeader, k: &str) -> Vec<&'a str> {
        h.headers
            .get_all(k)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn console_accounts_get_their_key_and_never_the_clients() {
        let a = account(
            PlatformType::ClaudeConsole,
            "https://open.bigmodel.cn/api/anthropic",
            AuthHeader::Both,
        );
        let h = upstream_header(&client(), &a, 42, None).unwrap();
        assert_eq!(h.uri.to_string(), "/api/anthropic/v1/messages?beta=true");
        assert_eq!(get(&h, "host"), ["open.bigmodel.cn"]);
        assert_eq!(get(&h, "x-api-key"), ["sk-acct"]);
        assert_eq!(get(&h, "authorization"), ["Bearer sk-acct"]);
        assert_eq!(get(&h, "content-length"), ["42"]);
        assert_eq!(get(&h, "accept-encoding"), ["identity"]);
        assert!(get(&h, "cookie").is_empty() && get(&h, "connection").is_empty());
        assert_eq!(get(&h, "anthropic-version"), ["2023-06-01"]);
        assert_eq!(get(&h, "anthropic-beta"), ["claude-code-20250219"]);
        assert_eq!(get(&h, "x-claude-code-session-id"), ["s1"]);

        let only_key = account(
            PlatformType::ClaudeConsole,
            "http://127.0.0.1:9",
            AuthHeader::XApiKey,
        );
        let h = upstream_header(&client(), &only_key, 0, None).unwrap();
        assert!(get(&h, "authorization").is_empty());
        assert_eq!(get(&h, "host"), ["127.0.0.1:9"]);
    }

    #[test]
    fn oauth_accounts_send_a_bearer_token_and_the_oauth_beta_once() {
        let a = account(
            PlatformType::Claude,
            "https://api.anthropic.com",
            AuthHeader::Both,
        );
        let h = upstream_header(&client(), &a, 1, None).unwrap();
        assert_eq!(get(&h, "authorization"), ["Bearer tok"]);
        assert!(get(&h, "x-api-key").is_empty());
        assert_eq!(
            get(&h, "anthropic-beta"),
            ["claude-code-20250219,oauth-2025-04-20"]
        );
        let mut c = client();
        c.insert_header("anthropic-beta", "oauth-2025-04-20")
            .unwrap();
        let h = upstream_header(&c, &a, 1, None).unwrap();
        assert_eq!(get(&h, "anthropic-beta"), ["oauth-2025-04-20"]);
    }
}
