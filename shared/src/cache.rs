//! Every Redis key this deployment writes, in one place (SPEC §10). All start with
//! `redis.key_prefix`, then `relay:`, so several deployments (or tests) can share a server.
//!
//! | key | type | what |
//! |---|---|---|
//! | `spend:{key}:d:{YYYYMMDD}` / `:w:{YYYYMMDD}` / `:m:{YYYYMM}` | string | micro-USD spent in the day / week (id of its Monday) / month, in the configured zone |
//! | `spend:{key}:t` | string | micro-USD spent ever |
//! | `spend:{key}:5h` | hash | five-minute bucket → micro-USD, for the rolling five hours |
//! | `rpm:{key}` | sorted set | admissions of the last minute, scored by time (ms) |
//! | `conc:{key}` | sorted set | concurrency leases, scored by their expiry (ms) |
//! | `pin:{key}:{session}` | string | the account a session is pinned to |
//! | `lock:{name}` | string | a job lock (who holds it), with an expiry |
//! | `changes` | pub/sub channel | "reload your snapshot" |

/// Builds the keys of one deployment.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix` (`redis.key_prefix`, possibly empty).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}relay:"),
        }
    }

    /// Spend of `key_id` in a calendar window: `kind` is `d`, `w` or `m`, `id` the window's.
    pub fn spend_window(&self, key_id: i64, kind: char, id: i64) -> String {
        format!("{}spend:{key_id}:{kind}:{id}", self.prefix)
    }

    /// Spend of `key_id` ever.
    pub fn spend_total(&self, key_id: i64) -> String {
        format!("{}spend:{key_id}:t", self.prefix)
    }

    /// The rolling five-hour buckets of `key_id`.
    pub fn spend_five_hours(&self, key_id: i64) -> String {
        format!("{}spend:{key_id}:5h", self.prefix)
    }

    /// Admissions of `key_id` in the last minute.
    pub fn rpm(&self, key_id: i64) -> String {
        format!("{}rpm:{key_id}", self.prefix)
    }

    /// Concurrency leases of `key_id`.
    pub fn concurrency(&self, key_id: i64) -> String {
        format!("{}conc:{key_id}", self.prefix)
    }

    /// The pin of a session of `key_id`.
    pub fn pin(&self, key_id: i64, session: &str) -> String {
        format!("{}pin:{key_id}:{session}", self.prefix)
    }

    /// A job lock.
    pub fn lock(&self, name: &str) -> String {
        format!("{}lock:{name}", self.prefix)
    }

    /// The change-notification channel.
    pub fn changes(&self) -> String {
        format!("{}changes", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_prefix() {
        let k = Keys::new("t1:");
        for key in [
            k.spend_window(3, 'd', 20261202),
            k.spend_total(3),
            k.spend_five_hours(3),
            k.rpm(3),
            k.concurrency(3),
            k.pin(3, "s"),
            k.lock("probe"),
            k.changes(),
        ] {
            assert!(key.starts_with("t1:relay:"), "{key}");
        }
        assert_eq!(
            k.spend_window(3, 'w', 20261130),
            "t1:relay:spend:3:w:20261130"
        );
    }
}
