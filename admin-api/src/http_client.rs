//! Outbound HTTP of the admin API (account tests, the OAuth token endpoint): reqwest over
//! rustls, verifying against the system roots and the bundled Mozilla roots, 10 s to
//! connect and 30 s in all. Redirects are never followed (a redirect must not carry a
//! credential elsewhere). One pooled client serves every call without a proxy, and a second
//! one, whose resolver answers only public addresses ([`GuardedResolver`]), sends account
//! tests; an account with a `proxy_url` gets a client through that proxy (SPEC §3.8).

use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use reqwest::{Client, Proxy};

use crate::error::ApiError;
use crate::upstream_guard::GuardedResolver;

/// Longest time one outbound call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time to connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shared client, and the way to get one through a proxy.
#[derive(Debug, Clone)]
pub struct HttpClients {
    direct: Option<Client>,
    guarded: Option<Client>,
}

impl Default for HttpClients {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClients {
    /// Builds the shared client (a failure is logged and retried at the first use).
    pub fn new() -> Self {
        let made = |c: Result<Client, reqwest::Error>| match c {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the outbound HTTP client");
                None
            }
        };
        Self {
            direct: made(build(None, false)),
            guarded: made(build(None, true)),
        }
    }

    /// The client to use, through `proxy_url` when given (`http://`, `https://` or
    /// `socks5://`, with optional `user:password@`).
    pub fn client(&self, proxy_url: Option<&str>) -> Result<Client, ApiError> {
        match (proxy_url, &self.direct) {
            (None, Some(c)) => Ok(c.clone()),
            (p, _) => build(p, false).map_err(ApiError::internal),
        }
    }

    /// The client for a request to an account's upstream: without a proxy and unless
    /// `allow_private`, one that connects only to public addresses.
    pub fn upstream(
        &self,
        proxy_url: Option<&str>,
        allow_private: bool,
    ) -> Result<Client, ApiError> {
        match (proxy_url, allow_private, &self.guarded) {
            (None, false, Some(c)) => Ok(c.clone()),
            (None, false, None) => build(None, true).map_err(ApiError::internal),
            (p, _, _) => self.client(p),
        }
    }
}

fn build(proxy_url: Option<&str>, guarded: bool) -> Result<Client, reqwest::Error> {
    let mut b = Client::builder()
        .use_rustls_tls()
        .timeout(TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(Policy::none())
        .user_agent(concat!("claude-code-relay/", env!("CARGO_PKG_VERSION")));
    if guarded {
        b = b.dns_resolver(Arc::new(GuardedResolver));
    }
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
        assert!(c.upstream(None, false).is_ok());
        assert!(c.upstream(Some("http://127.0.0.1:3128"), false).is_ok());
    }
}
