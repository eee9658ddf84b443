//! Facts about the client: its IP address and whether it reached us over HTTPS.
//!
//! Who connected to us decides which headers say what:
//! - a loopback peer is the front door (`proxy/src/front.rs`) or a proxy on this host. The
//!   front door writes its own TCP peer into `x-real-ip` (and `x-forwarded-for`), overwriting
//!   whatever the client sent, and passes the `X-Forwarded-For`, `X-Real-IP` and
//!   `X-Forwarded-Proto` that reached it on as [`FRONT_FORWARDED_FOR`], [`FRONT_REAL_IP`] and
//!   [`FRONT_FORWARDED_PROTO`] (dropping any the client sent under those names). So the hop is
//!   `x-real-ip`, and the passed-on headers are what that hop said;
//! - any other peer is the hop itself, with the standard headers.
//!
//! The hop's own headers are believed only when it is in `auth.trusted_proxies`
//! ([`TrustedProxies::client`]).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use super::proxies::{parse_hop, split_forwarded, TrustedProxies};
use crate::error::ApiError;
use crate::state::AppState;

/// The `X-Forwarded-For` that reached the front door, passed on by it.
pub const FRONT_FORWARDED_FOR: &str = "x-relay-forwarded-for";
/// The `X-Real-IP` that reached the front door, passed on by it.
pub const FRONT_REAL_IP: &str = "x-relay-real-ip";
/// The `X-Forwarded-Proto` that reached the front door, passed on by it.
pub const FRONT_FORWARDED_PROTO: &str = "x-relay-forwarded-proto";

/// The client's IP address as text (`unknown` when the server was not given peer addresses).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// Whether the client's connection used HTTPS (drives the cookie's `Secure` flag).
#[derive(Debug, Clone, Copy)]
pub struct ClientHttps(pub bool);

/// The address that connected, and what it says about the client.
struct Hop<'a> {
    ip: IpAddr,
    forwarded_for: Vec<&'a str>,
    real_ip: Option<&'a str>,
    proto: Option<&'a str>,
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn all<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    split_forwarded(headers.get_all(name).iter().filter_map(|v| v.to_str().ok()))
}

fn hop(peer: IpAddr, headers: &HeaderMap) -> Hop<'_> {
    if peer.is_loopback() {
        let front_peer = text(headers, "x-real-ip").and_then(parse_hop).or_else(|| {
            all(headers, "x-forwarded-for")
                .last()
                .and_then(|s| parse_hop(s))
        });
        Hop {
            ip: front_peer.unwrap_or(peer),
            forwarded_for: all(headers, FRONT_FORWARDED_FOR),
            real_ip: text(headers, FRONT_REAL_IP),
            proto: text(headers, FRONT_FORWARDED_PROTO),
        }
    } else {
        Hop {
            ip: peer,
            forwarded_for: all(headers, "x-forwarded-for"),
            real_ip: text(headers, "x-real-ip"),
            proto: text(headers, "x-forwarded-proto"),
        }
    }
}

/// The client IP of a request from TCP peer `peer` with `headers` (`unknown` without a
/// peer address).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let h = hop(peer, headers);
    trusted
        .client(h.ip, &h.forwarded_for, h.real_ip)
        .to_string()
}

/// Whether the client used HTTPS: the front door (or a proxy on this host) says so in
/// `x-forwarded-proto`, or a trusted proxy before it does.
pub fn client_https(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> bool {
    let https = |p: Option<&str>| p.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let Some(peer) = peer else {
        return false;
    };
    let h = hop(peer, headers);
    let from_trusted_hop = trusted.contains(h.ip) && https(h.proto);
    from_trusted_hop || (peer.is_loopback() && https(text(headers, "x-forwarded-proto")))
}

/// The TCP peer of a request.
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(
            peer(parts),
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

impl FromRequestParts<AppState> for ClientHttps {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_https(
            peer(parts),
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn lo() -> Option<IpAddr> {
        Some("127.0.0.1".parse().unwrap())
    }

    #[test]
    fn behind_the_front_door_the_hop_is_x_real_ip() {
        let none = TrustedProxies::default();
        let h = headers(&[
            ("x-real-ip", "203.0.113.5"),
            ("x-forwarded-for", "203.0.113.5"),
            (FRONT_FORWARDED_FOR, "6.6.6.6"),
        ]);
        assert_eq!(client_ip(lo(), &h, &none), "203.0.113.5");
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 2.2.2.2")]);
        assert_eq!(client_ip(lo(), &h, &none), "2.2.2.2");
        assert_eq!(client_ip(lo(), &HeaderMap::new(), &none), "127.0.0.1");
        assert_eq!(client_ip(None, &HeaderMap::new(), &none), "unknown");
    }

    #[test]
    fn a_trusted_proxy_before_the_front_door_names_the_client() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let h = headers(&[
            ("x-real-ip", "10.0.0.5"),
            (FRONT_FORWARDED_FOR, "6.6.6.6, 198.51.100.7"),
            (FRONT_FORWARDED_PROTO, "https"),
        ]);
        assert_eq!(client_ip(lo(), &h, &t), "198.51.100.7");
        assert!(client_https(lo(), &h, &t));
        let h = headers(&[("x-real-ip", "10.0.0.5"), (FRONT_REAL_IP, "198.51.100.8")]);
        assert_eq!(client_ip(lo(), &h, &t), "198.51.100.8");
        assert!(!client_https(lo(), &h, &t));
    }

    #[test]
    fn a_peer_that_is_not_loopback_is_believed_only_when_trusted() {
        let t = TrustedProxies::parse(&["192.0.2.0/24"]).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let trusted = Some("192.0.2.1".parse().unwrap());
        let stranger = Some("203.0.113.1".parse().unwrap());
        assert_eq!(client_ip(trusted, &h, &t), "198.51.100.9");
        assert!(client_https(trusted, &h, &t));
        assert_eq!(client_ip(stranger, &h, &t), "203.0.113.1");
        assert!(!client_https(stranger, &h, &t));
        let spoof = headers(&[(FRONT_FORWARDED_FOR, "198.51.100.9")]);
        assert_eq!(client_ip(stranger, &spoof, &t), "203.0.113.1");
    }
}
