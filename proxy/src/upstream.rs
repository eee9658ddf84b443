//! The upstream exchange (SPEC §2.4, §2.7) through Pingora's own `Connector` (pooled
//! connections, TLS verified against the system roots): the request header the account gets,
//! sending the body, and reading the response header within the first-byte timeout.

use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{header, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession as Http1Session};
use pingora::upstreams::peer::HttpPeer;
use tokio::io::AsyncWriteExt;

use crate::dns::DnsCache;
use crate::snapshot::{AccountEntry, Credential};
use relay_shared::config::RelayConfig;
use relay_shared::models::AuthHeader;

/// Beta flag an OAuth token needs on every call.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

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
    "accept-encoding",
    "x-api-key",
    "authorization",
    "cookie",
    "x-forwarded-for",
    "x-real-ip",
];

/// Why an attempt failed before a response header arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// DNS, TCP or TLS failed.
    #[error("cannot connect to the upstream: {0}")]
    Connect(String),
    /// Writing the request or reading the response header failed.
    #[error("upstream connection failed: {0}")]
    Io(String),
    /// No response header within the first-byte timeout.
    #[error("the upstream sent nothing for {0} s")]
    FirstByteTimeout(u64),
}

impl UpstreamError {
    /// A description for the client, without addresses or library details.
    pub fn public(&self) -> String {
        match self {
            Self::Connect(_) => "the connection to the upstream failed".into(),
            Self::Io(_) => "the upstream connection broke".into(),
            Self::FirstByteTimeout(s) => format!("the upstream sent nothing for {s} s"),
        }
    }
}

/// A live exchange whose response header has arrived. Both parts are boxed: they are large
/// and the exchange moves through several futures.
pub struct Exchange {
    /// The upstream session (read the body from it).
    pub session: Box<HttpSession>,
    /// The peer, to release the connection to the pool.
    pub peer: Box<HttpPeer>,
}

/// Sends requests to accounts.
pub struct Upstream {
    connector: Connector,
    dns: DnsCache,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
    /// Longest pause between two body chunks.
    pub idle_timeout: Duration,
}

impl Upstream {
    /// Builds the upstream side from a connector and the relay configuration.
    pub fn new(connector: Connector, cfg: &RelayConfig) -> Self {
        Self {
            connector,
            dns: DnsCache::default(),
            connect_timeout: cfg.connect_timeout,
            first_byte_timeout: cfg.first_byte_timeout,
            idle_timeout: cfg.idle_timeout,
        }
    }

    async fn peer(&self, account: &AccountEntry) -> Result<Box<HttpPeer>, UpstreamError> {
        let t = &account.target;
        let addr = self
            .dns
            .resolve(&t.host, t.port)
            .await
            .map_err(|e| UpstreamError::Connect(e.to_string()))?;
        let mut peer = Box::new(HttpPeer::new(addr, t.tls, t.host.clone()));
        peer.options.connection_timeout = Some(self.connect_timeout);
        peer.options.total_connection_timeout = Some(self.connect_timeout);
        peer.options.idle_timeout = Some(POOL_IDLE);
        peer.options.write_timeout = Some(Duration::from_secs(60));
        Ok(peer)
    }

    /// Sends `header` + `body` to `account` and waits for the response header. A stale pooled
    /// connection is retried once on a fresh one (nothing was processed upstream then).
    ///
    /// `again` builds the header once more for that retry (cheaper than copying it for every
    /// request in case one is needed).
    pub async fn send(
        &self,
        account: &AccountEntry,
        header: RequestHeader,
        again: impl Fn() -> Option<RequestHeader>,
        body: Bytes,
    ) -> Result<Exchange, UpstreamError> {
        let peer = self.peer(account).await?;
        let mut last = None;
        let mut header = Some(header);
        for _ in 0..2 {
            let Some(h) = header.take().or_else(&again) else {
                break;
            };
            let (session, reused) = self
                .connector
                .get_http_session(&*peer)
                .await
                .map_err(|e| UpstreamError::Connect(e.to_string()))?;
            match self.exchange(session, &peer, h, &body).await {
                Ok(session) => {
                    return Ok(Exchange {
                        session: Box::new(session),
                        peer,
                    })
                }
                Err(UpstreamError::Io(e)) if reused => last = Some(UpstreamError::Io(e)),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| UpstreamError::Io("retry failed".into())))
    }

    /// Writes the request and waits for the response header; the session is closed on error.
    async fn exchange(
        &self,
        session: HttpSession,
        peer: &HttpPeer,
        header: RequestHeader,
        body: &Bytes,
    ) -> Result<HttpSession, UpstreamError> {
        let io = |e: Box<pingora::Error>| UpstreamError::Io(e.to_string());
        let mut session = match session {
            HttpSession::H1(h1) => HttpSession::H1(self.write_h1(h1, peer, &header, body).await?),
            mut other => {
                let written = async {
                    other.write_request_header(Box::new(header)).await?;
                    if !body.is_empty() {
                        other.write_request_body(body.clone(), true).await?;
                    }
                    other.finish_request_body().await
                };
                if let Err(e) = written.await {
                    other.shutdown().await;
                    return Err(io(e));
                }
                other
            }
        };
        let read = tokio::time::timeout(self.first_byte_timeout, session.read_response_header());
        let res = match read.await {
            Ok(r) => r.map_err(io),
            Err(_) => Err(UpstreamError::FirstByteTimeout(
                self.first_byte_timeout.as_secs(),
            )),
        };
        match res {
            Ok(()) => Ok(session),
            Err(e) => {
                session.shutdown().await;
                Err(e)
            }
        }
    }

    /// Writes an HTTP/1 request in one system call, so a small request leaves as one packet
    /// (Pingora's session sends the header and the body separately: two sends, and two
    /// reads upstream). The header carries `content-length`, so the body needs no framing.
    /// The write must finish within the first-byte timeout.
    async fn write_h1(
        &self,
        h1: Http1Session,
        peer: &HttpPeer,
        header: &RequestHeader,
        body: &Bytes,
    ) -> Result<Http1Session, UpstreamError> {
        let wire = http_req_header_to_wire(header)
            .ok_or_else(|| UpstreamError::Io("the request header cannot be sent".into()))?;
        let mut stream = h1.into_inner();
        // Vectored: the header and the body go out in one `writev` (the pooled client
        // stream writes through, without a buffer to gather them).
        let mut out = wire.chain(body.clone());
        let write = async {
            stream.write_all_buf(&mut out).await?;
            stream.flush().await
        };
        let failed = match tokio::time::timeout(self.first_byte_timeout, write).await {
            Ok(Ok(())) => return Ok(Http1Session::new_with_options(stream, peer)),
            Ok(Err(e)) => UpstreamError::Io(e.to_string()),
            Err(_) => UpstreamError::FirstByteTimeout(self.first_byte_timeout.as_secs()),
        };
        let _ = stream.shutdown().await;
        Err(failed)
    }

    /// Returns a fully read connection to the pool, or closes an unfinished one.
    pub async fn finish(&self, mut ex: Exchange) {
        if ex.session.response_done() {
            self.connector
                .release_http_session(*ex.session, &*ex.peer, Some(POOL_IDLE))
                .await;
        } else {
            ex.session.shutdown().await;
        }
    }
}

/// The header sent to `account` for the client's request `client` with a body of `body_len`.
pub fn upstream_header(
    client: &RequestHeader,
    account: &AccountEntry,
    body_len: usize,
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
    match &account.credential {
        Credential::ApiKey(key) => {
            if matches!(account.auth_header, AuthHeader::XApiKey | AuthHeader::Both) {
                h.insert_header("x-api-key", key.as_str())?;
            }
            if matches!(account.auth_header, AuthHeader::Bearer | AuthHeader::Both) {
                h.insert_header(header::AUTHORIZATION, format!("Bearer {}", key.as_str()))?;
            }
        }
        Credential::OAuth(token) => {
            h.insert_header(header::AUTHORIZATION, format!("Bearer {}", token.as_str()))?;
            let has = beta
                .as_deref()
                .is_some_and(|b| b.split(',').any(|f| f.trim() == OAUTH_BETA));
            if !has {
                beta = Some(match beta {
                    Some(b) if !b.trim().is_empty() => format!("{b},{OAUTH_BETA}"),
                    _ => OAUTH_BETA.to_string(),
                });
            }
        }
    }
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
    use relay_shared::models::{AccountState, PlatformType};
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
            state: AccountState::Active,
            cooldown_until: None,
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
        let h = upstream_header(&client(), &a, 42).unwrap();
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
        let h = upstream_header(&client(), &only_key, 0).unwrap();
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
        let h = upstream_header(&client(), &a, 1).unwrap();
        assert_eq!(get(&h, "authorization"), ["Bearer tok"]);
        assert!(get(&h, "x-api-key").is_empty());
        assert_eq!(
            get(&h, "anthropic-beta"),
            ["claude-code-20250219,oauth-2025-04-20"]
        );
        let mut c = client();
        c.insert_header("anthropic-beta", "oauth-2025-04-20")
            .unwrap();
        let h = upstream_header(&c, &a, 1).unwrap();
        assert_eq!(get(&h, "anthropic-beta"), ["oauth-2025-04-20"]);
    }
}
