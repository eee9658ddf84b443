//! Login throttling (SPEC §6, §11): after `max_failed_logins` failures for one username or
//! from one client IP within `lockout`, further attempts are refused until the oldest of
//! those failures is `lockout` old. The public key lookup uses a second instance, per IP
//! only, against key guessing. In memory for a single instance; the type is the seam a
//! Redis-backed version will replace.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// Failed-login bookkeeping per username and per IP.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// Refuses after `max_failures` failures within `window`; `0` turns throttling off.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when either the username or the IP is locked out.
    pub fn check(&self, username: &str, ip: &str) -> Result<(), Duration> {
        self.check_at(username, ip, Instant::now())
    }

    /// Records a failed attempt for the username and for the IP.
    pub fn record_failure(&self, username: &str, ip: &str) {
        self.record_failure_at(username, ip, Instant::now());
    }

    /// `Err(retry_after)` when `ip` is locked out; for attempts that name no user (the
    /// public key lookup).
    pub fn check_ip(&self, ip: &str) -> Result<(), Duration> {
        self.check_keys(&[ip_key(ip)], Instant::now())
    }

    /// Records a failed attempt for `ip` alone.
    pub fn record_ip_failure(&self, ip: &str) {
        self.record_keys(&[ip_key(ip)], Instant::now());
    }

    /// Forgets the failures of `username` after a successful login (the IP's stay).
    pub fn record_success(&self, username: &str) {
        let mut map = self.lock();
        map.remove(&user_key(username));
    }

    fn check_at(&self, username: &str, ip: &str, now: Instant) -> Result<(), Duration> {
        self.check_keys(&[user_key(username), ip_key(ip)], now)
    }

    fn check_keys(&self, keys: &[String], now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let map = self.lock();
        let wait = keys
            .iter()
            .filter_map(|k| map.get(k))
            .filter_map(|times| self.locked_for(times, now))
            .max();
        match wait {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    fn record_failure_at(&self, username: &str, ip: &str, now: Instant) {
        self.record_keys(&[user_key(username), ip_key(ip)], now);
    }

    fn record_keys(&self, keys: &[String], now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in keys {
            let times = map.entry(key.clone()).or_default();
            times.push_back(now);
            while times.len() > self.max_failures {
                times.pop_front();
            }
        }
    }

    /// How long the key stays locked: its last `max_failures` failures all lie within the
    /// window, and the oldest of them leaves it after the returned time.
    fn locked_for(&self, times: &VecDeque<Instant>, now: Instant) -> Option<Duration> {
        if times.len() < self.max_failures {
            return None;
        }
        let oldest = *times.front()?;
        let unlock = oldest + self.window;
        (unlock > now).then(|| unlock - now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn user_key(username: &str) -> String {
    format!("u:{}", username.trim().to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn locks_a_user_or_an_ip_after_the_limit_until_the_window_passes() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3u32 {
            assert!(t.check_at("Alice", &format!("10.0.0.{i}"), t0).is_ok());
            t.record_failure_at("alice", &format!("10.0.0.{i}"), t0);
        }
        let wait = t.check_at("ALICE", "10.9.9.9", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(
            t.check_at("bob", "10.0.0.1", t0).is_ok(),
            "ips had one failure each"
        );
        let later = t0 + Duration::from_secs(61);
        assert!(t.check_at("alice", "10.9.9.9", later).is_ok());

        for name in ["a", "b", "c"] {
            t.record_failure_at(name, "192.0.2.1", t0);
        }
        assert!(t.check_at("zed", "192.0.2.1", t0).is_err());
        assert!(t.check_at("zed", "192.0.2.2", t0).is_ok());
    }

    #[test]
    fn ip_only_attempts_lock_the_ip_alone() {
        let t = LoginThrottle::new(2, Duration::from_secs(60));
        t.record_ip_failure("192.0.2.9");
        assert!(t.check_ip("192.0.2.9").is_ok());
        t.record_ip_failure("192.0.2.9");
        assert!(t.check_ip("192.0.2.9").is_err());
        assert!(t.check_ip("192.0.2.10").is_ok());
    }

    #[test]
    fn success_forgets_the_user_and_zero_disables() {
        let t = LoginThrottle::new(2, Duration::from_secs(60));
        let now = Instant::now();
        t.record_failure_at("u", "1", now);
        t.record_success("u");
        t.record_failure_at("u", "2", now);
        assert!(t.check_at("u", "3", now).is_ok());
        let off = LoginThrottle::new(0, Duration::from_secs(60));
        for _ in 0..5 {
            off.record_failure_at("u", "1", now);
        }
        assert!(off.check_at("u", "1", now).is_ok());
    }
}
