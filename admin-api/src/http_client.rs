//! Outbound HTTP of the admin API (account tests, the OAuth token endpoint): reqwest over
//! rustls, verifying against the system roots and the bundled Mozilla roots, 10 s to
//! connect and 30 s in all. One pooled client serves every call without a proxy; an account
//! with a `proxy_url` gets a client through that proxy (SPEC §3.8).

use std::time::Duration;

use reqwest::{Client, Proxy};

use crate::error::ApiError;

/// Longest time one outbound call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time to connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared client, and the way to get one through a proxy.
#[derive(Debug, Clone)]
pub struct HttpClients {
    direct: Option<Client>,
}

impl Default for HttpClients {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClients {
    /// Builds the shared client (a failure is logged and retried at the first use).
    pub fn new() -> Self {
        let direct = match build(None) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the outbound HTTP client");
                None
            }
        };
        Self { direct }
    }

    /// The client to use, through `proxy_url` when given (`http://`, `https://` or
    /// `socks5://`, with optional `user:password@`).
    pub fn client(&self, proxy_url: Option<&str>) -> Result<Client, ApiError> {
        match (proxy_url, &self.direct) {
            (None, Some(c)) => Ok(c.clone()),
            (p, _) => build(p).map_err(ApiError::internal),
        }
    }
}

fn build(proxy_url: Option<&str>) -> Result<Client, reqwest::Error> {
    let mut b = Client::builder()
        .use_rustls_tls()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("claude-code-relay/", env!("CARGO_PKG_VERSION")));
    b = match proxy_url {
        Some(p) => b.proxy(Proxy::all(p)?),
        // Never pick up HTTP(S)_PROXY from the environment by surprise.
        None => b.no_proxy(),
    };
    b.build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn clients_build_with_and_without_a_proxy() {
        let c = HttpClients::new();
        assert!(c.client(None).is_ok());
        assert!(c.client(Some("socks5://u:p@127.0.0.1:1080")).is_ok());
        assert!(c.client(Some("http://127.0.0.1:3128")).is_ok());
    }
}
