//! The settings that change without a restart (SPEC §7): prices, the scheduler's attempts and
//! queue wait, and account health thresholds, held in one snapshot that a reload swaps whole.
//! A request reads the snapshot once at its start (one atomic load) and keeps it to its end,
//! so a reload never changes a request half-way, and never drops a connection.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use relay_shared::config::{Config, HealthConfig};
use relay_shared::pricing::PriceTable;

/// One consistent set of tunables.
#[derive(Debug)]
pub struct Tunables {
    /// Model prices.
    pub prices: Arc<PriceTable>,
    /// Model ids listed by `GET /v1/models` (before filtering by key and group).
    pub known_models: Vec<String>,
    /// Accounts tried per request (`scheduler.max_attempts`).
    pub max_attempts: u32,
    /// Longest wait for a slot when every account is full (`scheduler.queue_timeout`).
    pub queue_timeout: Duration,
    /// Cooldowns and error thresholds (`health`).
    pub health: HealthConfig,
}

impl Tunables {
    /// The tunables of `c`.
    pub fn from_config(c: &Config) -> Self {
        Self {
            prices: Arc::new(PriceTable::from_config(&c.pricing)),
            known_models: c
                .pricing
                .models
                .keys()
                .filter(|m| !m.contains('*'))
                .cloned()
                .collect(),
            max_attempts: c.scheduler.max_attempts,
            queue_timeout: c.scheduler.queue_timeout,
            health: c.health.clone(),
        }
    }
}

/// The swappable holder shared by the relay, the health book and the reloader.
pub type SharedTunables = Arc<ArcSwap<Tunables>>;

/// A holder starting with `c`'s tunables.
pub fn shared(c: &Config) -> SharedTunables {
    Arc::new(ArcSwap::from_pointee(Tunables::from_config(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swap_is_seen_by_the_next_load_and_not_by_a_held_one() {
        let mut c = Config::default();
        let t = shared(&c);
        let held = t.load_full();
        c.scheduler.max_attempts = 7;
        t.store(Arc::new(Tunables::from_config(&c)));
        assert_eq!(t.load().max_attempts, 7);
        assert_eq!(held.max_attempts, Config::default().scheduler.max_attempts);
    }
}
