//! Which forwarded client addresses to believe (`auth.trusted_proxies`, SPEC §6). Pure: the
//! extractors in [`super::client`] gather the hop and its headers, this module decides.
//!
//! A *hop* is the address that connected to us (or to the front door). Its forwarded headers
//! are believed only when the hop is a trusted proxy; then `X-Forwarded-For` is read from the
//! right, each trusted proxy's entry skipped, and the first untrusted entry is the client (a
//! client can write anything at the left of the list, never at the right of what a trusted
//! proxy appended). Without a forwarded list, the trusted hop's `X-Real-IP` names the client.

use std::net::{IpAddr, SocketAddr};

/// The `auth.trusted_proxies` list: single addresses or CIDR ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

/// Why an entry of `auth.trusted_proxies` is not an address or a range.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR range such as 10.0.0.0/8")]
pub struct BadProxyEntry(pub String);

impl TrustedProxies {
    /// Parses the configured entries (`192.0.2.7`, `10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxyEntry> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<ipnet::IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| BadProxyEntry(e.to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `hop`: `hop` itself unless it is trusted; else the rightmost
    /// untrusted entry of `forwarded_for` (the leftmost when all are trusted, stopping at an
    /// entry that is not an address), else `real_ip`, else `hop`.
    pub fn client(&self, hop: IpAddr, forwarded_for: &[&str], real_ip: Option<&str>) -> IpAddr {
        if !self.contains(hop) {
            return canonical(hop);
        }
        if !forwarded_for.is_empty() {
            let mut client = hop;
            for entry in forwarded_for.iter().rev() {
                let Some(ip) = parse_hop(entry) else { break };
                client = ip;
                if !self.contains(ip) {
                    break;
                }
            }
            return canonical(client);
        }
        real_ip
            .and_then(parse_hop)
            .map_or(canonical(hop), canonical)
    }
}

/// Splits `X-Forwarded-For` values (one or more header lines) into entries, left to right.
pub fn split_forwarded<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// One address as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1` or
/// `[2001:db8::1]:443`.
pub fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entries_are_addresses_or_ranges() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", " fd00::/8 "]).unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        assert!(t.contains(ip("192.0.2.7")));
        assert!(!t.contains(ip("192.0.2.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example"]).is_err());
    }

    #[test]
    fn an_untrusted_hop_is_the_client_whatever_it_forwards() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let c = t.client(ip("203.0.113.9"), &["10.0.0.1", "1.1.1.1"], Some("2.2.2.2"));
        assert_eq!(c, ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.1"), &["1.1.1.1"], None),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_hops_the_rightmost_untrusted_entry_is_the_client() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // The client wrote "6.6.6.6" itself; the first proxy appended the real address.
        let chain = ["6.6.6.6", "198.51.100.4", "10.0.0.2"];
        assert_eq!(t.client(ip("10.0.0.1"), &chain, None), ip("198.51.100.4"));
        assert_eq!(
            t.client(ip("10.0.0.1"), &["10.0.0.3", "10.0.0.2"], None),
            ip("10.0.0.3")
        );
        assert_eq!(
            t.client(ip("10.0.0.1"), &["junk", "10.0.0.2"], None),
            ip("10.0.0.2")
        );
        assert_eq!(
            t.client(ip("10.0.0.1"), &["[2001:db8::5]:1234"], None),
            ip("2001:db8::5")
        );
        assert_eq!(
            t.client(ip("10.0.0.1"), &[], Some("198.51.100.5")),
            ip("198.51.100.5")
        );
        assert_eq!(t.client(ip("10.0.0.1"), &[], Some("junk")), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_values_split_on_commas_across_lines() {
        let v = split_forwarded(["1.1.1.1, 2.2.2.2", " ,3.3.3.3"].into_iter());
        assert_eq!(v, ["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
        assert_eq!(parse_hop("192.0.2.1:80"), Some(ip("192.0.2.1")));
        assert_eq!(parse_hop("[::1]"), Some(ip("::1")));
        assert_eq!(parse_hop("unknown"), None);
    }
}
