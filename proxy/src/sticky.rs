//! Sticky sessions (SPEC §3.3): a Claude Code session stays on the account that served it, so
//! its prompt cache keeps paying off. Pins are scoped per relay key, last
//! `scheduler.sticky_ttl` and are renewed on use; after a failover the session is pinned to
//! the new account. [`SessionPins`] is the seam: [`MemoryPins`] serves one instance, a Redis
//! implementation shares pins between instances.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pingora::http::RequestHeader;

use crate::body::RequestMeta;

/// The session of a request: `x-claude-code-session-id`, else the one in `metadata.user_id`.
pub fn session_id<'a>(req: &'a RequestHeader, meta: &'a RequestMeta) -> Option<&'a str> {
    req.headers
        .get("x-claude-code-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(meta.session_id.as_deref())
}

/// Shards of [`MemoryPins`] (few locks held briefly, never across an await).
const SHARDS: usize = 16;
/// Pins per shard above which expired ones are swept on the next write.
const SWEEP_ABOVE: usize = 4_096;

/// Pins in this process.
pub struct MemoryPins {
    ttl_ms: i64,
    shards: Vec<Mutex<HashMap<(i64, String), Pin>>>,
}

#[derive(Debug, Clone, Copy)]
struct Pin {
    account_id: i64,
    expires_ms: i64,
}

impl MemoryPins {
    /// Pins that last `ttl` after their last use.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key_id: i64, session: &str) -> &Mutex<HashMap<(i64, String), Pin>> {
        let mut h: u64 = key_id as u64;
        for b in session.bytes() {
            h = h.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        &self.shards[(h % SHARDS as u64) as usize]
    }
}

impl MemoryPins {
    /// The account `session` of `key_id` is pinned to at `now_ms`, renewing the pin.
    pub fn get(&self, key_id: i64, session: &str, now_ms: i64) -> Option<i64> {
        let mut map = self
            .shard(key_id, session)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let k = (key_id, session.to_string());
        match map.get_mut(&k) {
            Some(p) if p.expires_ms > now_ms => {
                p.expires_ms = now_ms + self.ttl_ms;
                Some(p.account_id)
            }
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Pins `session` of `key_id` to `account_id` from `now_ms`.
    pub fn pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64) {
        let mut map = self
            .shard(key_id, session)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, p| p.expires_ms > now_ms);
        }
        map.insert(
            (key_id, session.to_string()),
            Pin {
                account_id,
                expires_ms: now_ms + self.ttl_ms,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_per_key_renewed_on_use_and_expire() {
        let pins = MemoryPins::new(Duration::from_secs(10));
        pins.pin(1, "s", 7, 0);
        assert_eq!(pins.get(1, "s", 5_000), Some(7));
        assert_eq!(pins.get(2, "s", 5_000), None, "another key's session");
        assert_eq!(pins.get(1, "s", 14_000), Some(7), "renewed at 5 s");
        assert_eq!(pins.get(1, "s", 30_000), None, "expired");
        pins.pin(1, "s", 8, 30_000);
        assert_eq!(pins.get(1, "s", 30_001), Some(8), "re-pinned");
    }
}
