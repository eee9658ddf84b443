//! Asynchronous DNS with a small cache (reference/pingora-0.9-notes.md §3.3): Pingora's
//! `HttpPeer::new` would resolve on the worker thread and panic on failure, so peers are
//! always built from an address resolved here. Addresses rotate across A/AAAA records; the
//! last good answer is kept when a refresh fails.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an answer is used before it is refreshed.
const TTL: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Entry {
    addrs: Vec<SocketAddr>,
    fetched: Instant,
    next: AtomicUsize,
}

/// The cache (cheap to share).
#[derive(Debug, Default)]
pub struct DnsCache {
    entries: Mutex<HashMap<(String, u16), Arc<Entry>>>,
}

/// Resolution failed and nothing was cached.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {reason}")]
pub struct DnsError {
    /// The host name.
    pub host: String,
    /// Why.
    pub reason: String,
}

impl DnsCache {
    /// One address for `host:port` (an IP literal is returned as is).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let key = (host.to_string(), port);
        let cached = self.entries.lock().ok().and_then(|m| m.get(&key).cloned());
        if let Some(e) = &cached {
            if e.fetched.elapsed() < TTL {
                return Ok(pick(e));
            }
        }
        match tokio::net::lookup_host((host, port)).await {
            Ok(it) => {
                let addrs: Vec<SocketAddr> = it.collect();
                if addrs.is_empty() {
                    return cached.map(|e| pick(&e)).ok_or_else(|| DnsError {
                        host: host.into(),
                        reason: "no address".into(),
                    });
                }
                let entry = Arc::new(Entry {
                    addrs,
                    fetched: Instant::now(),
                    next: AtomicUsize::new(0),
                });
                let addr = pick(&entry);
                if let Ok(mut m) = self.entries.lock() {
                    m.insert(key, entry);
                }
                Ok(addr)
            }
            Err(e) => match cached {
                Some(entry) => {
                    tracing::warn!(host, error = %e, "DNS refresh failed; using the last answer");
                    Ok(pick(&entry))
                }
                None => Err(DnsError {
                    host: host.into(),
                    reason: e.to_string(),
                }),
            },
        }
    }
}

fn pick(e: &Entry) -> SocketAddr {
    let i = e.next.fetch_add(1, Ordering::Relaxed);
    e.addrs[i % e.addrs.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn literals_pass_through_and_names_resolve_and_are_cached() {
        let dns = DnsCache::default();
        assert_eq!(
            dns.resolve("127.0.0.1", 80).await.unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            dns.resolve("::1", 443).await.unwrap(),
            "[::1]:443".parse().unwrap()
        );
        let a = dns.resolve("localhost", 8080).await.unwrap();
        assert!(a.ip().is_loopback());
        assert_eq!(dns.entries.lock().unwrap().len(), 1);
        assert!(dns.resolve("no-such-host.invalid", 80).await.is_err());
    }
}
