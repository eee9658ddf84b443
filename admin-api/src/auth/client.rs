//! Facts about the client: its IP address and whether it reached the front door over HTTPS.
//! The front door sets `x-real-ip`, `x-forwarded-for` and `x-forwarded-proto`; they are
//! trusted only when the TCP peer is a loopback address (the front door on the same host),
//! otherwise the peer address is used.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::error::ApiError;

/// The client's IP address as text (`unknown` when the server was not given peer addresses).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Whether the client's connection to the front door used HTTPS (drives the cookie's
/// `Secure` flag).
#[derive(Debug, Clone, Copy)]
pub struct ClientHttps(pub bool);

fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn trusted_headers(parts: &Parts) -> bool {
    peer(parts).is_some_and(|ip| ip.is_loopback())
}

/// The client IP from `x-real-ip`, else the last `x-forwarded-for` entry (the one the trusted
/// hop appended).
fn forwarded_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let real = headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok());
    real.or_else(|| {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .next_back()
    })
}

/// The client IP of a request that came from TCP peer `peer` with `headers`: the forwarded
/// address when the peer is on loopback (the front door), else the peer; `unknown` without a
/// peer address.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap) -> String {
    match peer {
        Some(p) if p.is_loopback() => forwarded_ip(headers).unwrap_or(p).to_string(),
        Some(p) => p.to_string(),
        None => "unknown".into(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(peer(parts), &parts.headers)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientHttps {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let https = trusted_headers(parts)
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        Ok(Self(https))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_ip_wins_then_the_last_forwarded_entry() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.1.1.1, 2.2.2.2".parse().unwrap());
        assert_eq!(forwarded_ip(&h), Some("2.2.2.2".parse().unwrap()));
        h.insert("x-real-ip", "3.3.3.3".parse().unwrap());
        assert_eq!(forwarded_ip(&h), Some("3.3.3.3".parse().unwrap()));
        assert_eq!(forwarded_ip(&HeaderMap::new()), None);
    }
}
