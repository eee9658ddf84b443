//! Where the account test may send an account's credential (SPEC §11): unless
//! `security.allow_private_upstreams` is set, never to loopback, private, shared (CGNAT),
//! link-local (cloud metadata: 169.254.169.254), unique-local, multicast or unspecified
//! addresses, nor to a host name that resolves to one. [`check`] answers the admin with a
//! clear refusal before anything is sent; [`GuardedResolver`] is the resolver of the client
//! that then connects, so the address connected to is one that was checked, even if the name
//! resolves differently the second time (DNS rebinding). Through an account's proxy the proxy
//! resolves the name itself; the target is still checked here first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why a target is refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// The URL has no host.
    #[error("the upstream URL has no host")]
    NoHost,
    /// The host is, or resolves to, an address that is not public.
    #[error(
        "`{host}` is {addr}, a loopback, private, link-local or metadata address; the account \
         test does not send credentials there unless security.allow_private_upstreams is set"
    )]
    NotPublic {
        /// The host as written in the URL.
        host: String,
        /// The address it is or resolves to.
        addr: IpAddr,
    },
}

/// Whether `ip` is anything but a public unicast address.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4),
        IpAddr::V6(v6) => v6_forbidden(v6),
    }
}

fn v4_forbidden(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
}

fn v6_forbidden(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_forbidden(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return v4_forbidden(Ipv4Addr::new(a, b, c, d));
    }
    if seg[0] == 0x2002 {
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return v4_forbidden(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (fd00::/8 included)
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
}

/// Refuses `url` when its host is, or resolves to, a forbidden address. A name that does not
/// resolve is not refused here (the request then fails to connect).
pub async fn check(url: &Url) -> Result<(), Refusal> {
    let port = url.port_or_known_default().unwrap_or(443);
    let (host, addrs): (String, Vec<IpAddr>) = match url.host() {
        None => return Err(Refusal::NoHost),
        Some(Host::Ipv4(v4)) => (v4.to_string(), vec![IpAddr::V4(v4)]),
        Some(Host::Ipv6(v6)) => (v6.to_string(), vec![IpAddr::V6(v6)]),
        Some(Host::Domain(d)) => {
            let found = tokio::net::lookup_host((d, port)).await;
            let ips = found
                .map(|it| it.map(|a| a.ip()).collect())
                .unwrap_or_default();
            (d.to_string(), ips)
        }
    };
    match addrs.into_iter().find(|ip| is_forbidden(*ip)) {
        Some(addr) => Err(Refusal::NotPublic { host, addr }),
        None => Ok(()),
    }
}

/// The refusal somewhere in `err`'s chain of causes, if the guard is why it failed.
pub fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        cur = e.source();
    }
    None
}

/// A resolver that answers only public addresses: a name with any forbidden address is not
/// resolved at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
                let refusal = Refusal::NotPublic {
                    host,
                    addr: bad.ip(),
                };
                return Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
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
    fn loopback_private_link_local_and_metadata_addresses_are_refused() {
        for bad in [
            "169.254.169.254",
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "fd00:ec2::254",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad}");
        }
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "160.79.104.10",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert!(!is_forbidden(ip(good)), "{good}");
        }
    }

    #[tokio::test]
    async fn literal_addresses_and_names_that_resolve_to_them_are_refused() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[fd00::5]/",
            "https://10.1.2.3/",
            "http://localhost:9/",
        ] {
            let r = check(&Url::parse(url).unwrap()).await;
            assert!(matches!(r, Err(Refusal::NotPublic { .. })), "{url}: {r:?}");
        }
        assert!(check(&Url::parse("https://1.1.1.1/").unwrap())
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_with_a_forbidden_address() {
        let err = GuardedResolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .unwrap();
        let refusal = refusal_in(err.as_ref()).unwrap();
        assert!(matches!(refusal, Refusal::NotPublic { .. }), "{refusal:?}");
    }
}
