//! Login throttling (SPEC §6, §11). Failures are counted per (username, client IP), so that
//! nobody elsewhere can lock the owner out, and per client IP whatever the username, so that
//! one address cannot try many users. An attempt takes its slot *before* the password is
//! checked ([`LoginThrottle::reserve`]): the slot is a failure unless the attempt reports
//! success, so any number of concurrent attempts can check at most the limit's worth of
//! passwords. A key is locked while it holds its limit of failures younger than the window;
//! it opens again when the oldest of them is a window old. The public key lookup uses a second
//! instance with IP-only attempts. In memory for one instance.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Keys kept before those with no failure left in the window are swept.
const SWEEP_AT: usize = 10_000;

type Failures = HashMap<String, VecDeque<Instant>>;

/// Failed-attempt bookkeeping per (username, IP) and per IP.
#[derive(Debug)]
pub struct LoginThrottle {
    per_user_ip: usize,
    per_ip: usize,
    window: Duration,
    failures: Arc<Mutex<Failures>>,
}

/// A reserved attempt: counted as a failure unless [`Attempt::succeeded`] or
/// [`Attempt::cancel`] is called (so an attempt whose request is dropped mid-way counts).
#[derive(Debug)]
#[must_use = "an attempt counts as a failure unless it is marked otherwise"]
pub struct Attempt {
    failures: Arc<Mutex<Failures>>,
    pair: Option<String>,
    ip: String,
    at: Instant,
    done: bool,
}

impl LoginThrottle {
    /// Locks a (username, IP) pair after `per_user_ip` failures and an IP after `per_ip`
    /// failures within `window`; a limit of `0` turns that limit off.
    pub fn new(per_user_ip: u32, per_ip: u32, window: Duration) -> Self {
        let limit = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            per_user_ip: limit(per_user_ip),
            per_ip: limit(per_ip),
            window,
            failures: Arc::default(),
        }
    }

    /// Takes a slot for one sign-in attempt of `username` from `ip`, or `Err(retry_after)`
    /// when the pair or the IP is locked. Checking and counting happen under one lock.
    pub fn reserve(&self, username: &str, ip: &str) -> Result<Attempt, Duration> {
        self.reserve_at(Some(username), ip, Instant::now())
    }

    /// Takes a slot for an attempt that names no user (the public key lookup).
    pub fn reserve_ip(&self, ip: &str) -> Result<Attempt, Duration> {
        self.reserve_at(None, ip, Instant::now())
    }

    fn reserve_at(
        &self,
        username: Option<&str>,
        ip: &str,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let pair = username.map(|u| pair_key(u, ip));
        let ip = ip_key(ip);
        let mut map = lock(&self.failures);
        if map.len() >= SWEEP_AT {
            let window = self.window;
            map.retain(|_, t| t.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let mut wait = None;
        let keys = [
            (pair.as_deref(), self.per_user_ip),
            (Some(&ip), self.per_ip),
        ];
        for (key, limit) in keys {
            let Some(key) = key else { continue };
            if let Some(w) = self.locked_for(&mut map, key, limit, now) {
                wait = wait.max(Some(w));
            }
        }
        if let Some(w) = wait {
            return Err(w);
        }
        for (key, limit) in keys {
            if let Some(key) = key.filter(|_| limit > 0) {
                map.entry(key.to_string()).or_default().push_back(now);
            }
        }
        drop(map);
        Ok(Attempt {
            failures: self.failures.clone(),
            pair,
            ip,
            at: now,
            done: false,
        })
    }

    /// Drops the failures of `key` older than the window; `Some(wait)` when it still holds
    /// `limit` of them (locked until the oldest is a window old).
    fn locked_for(
        &self,
        map: &mut Failures,
        key: &str,
        limit: usize,
        now: Instant,
    ) -> Option<Duration> {
        if limit == 0 {
            return None;
        }
        let times = map.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            times.pop_front();
        }
        if times.len() < limit {
            return None;
        }
        let unlock = *times.front()? + self.window;
        Some(
            unlock
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        )
    }
}

impl Attempt {
    /// The attempt succeeded: the pair's failures are forgotten, and this attempt's slot is
    /// given back to the IP (the IP's earlier failures stay).
    pub fn succeeded(mut self) {
        self.done = true;
        let mut map = lock(&self.failures);
        if let Some(pair) = &self.pair {
            map.remove(pair);
        }
        remove_one(&mut map, &self.ip, self.at);
    }

    /// The attempt could not be judged (the database failed): its slots are given back.
    pub fn cancel(mut self) {
        self.done = true;
        let mut map = lock(&self.failures);
        if let Some(pair) = &self.pair {
            remove_one(&mut map, pair, self.at);
        }
        remove_one(&mut map, &self.ip, self.at);
    }

    /// The attempt failed: its slots stay counted (the same as dropping it).
    pub fn failed(mut self) {
        self.done = true;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            tracing::debug!("a sign-in attempt ended without an answer; counted as a failure");
        }
    }
}

fn remove_one(map: &mut Failures, key: &str, at: Instant) {
    if let Some(times) = map.get_mut(key) {
        if let Some(i) = times.iter().position(|t| *t == at) {
            times.remove(i);
        }
        if times.is_empty() {
            map.remove(key);
        }
    }
}

fn lock(m: &Mutex<Failures>) -> MutexGuard<'_, Failures> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn pair_key(username: &str, ip: &str) -> String {
    format!("u:{}\u{0}{ip}", username.trim().to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_pair_locks_after_its_limit_and_other_ips_still_get_in() {
        let t = LoginThrottle::new(3, 100, MIN);
        let t0 = Instant::now();
        for _ in 0..3 {
            t.reserve_at(Some("Alice"), "10.0.0.1", t0)
                .unwrap()
                .failed();
        }
        let wait = t.reserve_at(Some("alice "), "10.0.0.1", t0).unwrap_err();
        assert_eq!(wait, MIN);
        t.reserve_at(Some("alice"), "10.0.0.2", t0)
            .unwrap()
            .succeeded();
        t.reserve_at(Some("bob"), "10.0.0.1", t0).unwrap().failed();
        let later = t0 + MIN + Duration::from_secs(1);
        assert!(t.reserve_at(Some("alice"), "10.0.0.1", later).is_ok());
    }

    #[test]
    fn an_ip_locks_after_its_ceiling_whatever_the_user() {
        let t = LoginThrottle::new(3, 4, MIN);
        let t0 = Instant::now();
        for name in ["a", "b", "c", "d"] {
            t.reserve_at(Some(name), "192.0.2.1", t0).unwrap().failed();
        }
        assert!(t.reserve_at(Some("zed"), "192.0.2.1", t0).is_err());
        assert!(t.reserve_at(Some("zed"), "192.0.2.2", t0).is_ok());
    }

    #[test]
    fn slots_are_taken_before_the_answer_so_concurrent_attempts_stop_at_the_limit() {
        let t = LoginThrottle::new(10, 100, MIN);
        let held: Vec<_> = (0..60)
            .filter_map(|_| t.reserve("root", "198.51.100.1").ok())
            .collect();
        assert_eq!(held.len(), 10);
        drop(held);
        assert!(
            t.reserve("root", "198.51.100.1").is_err(),
            "dropped attempts count"
        );
    }

    #[test]
    fn success_forgets_the_pair_and_cancel_gives_the_slot_back() {
        let t = LoginThrottle::new(2, 3, MIN);
        t.reserve("u", "1").unwrap().failed();
        t.reserve("u", "1").unwrap().succeeded();
        t.reserve("u", "1").unwrap().failed();
        assert!(
            t.reserve("u", "1").is_ok(),
            "only one failure since the success"
        );
        let t = LoginThrottle::new(1, 1, MIN);
        t.reserve("u", "1").unwrap().cancel();
        t.reserve_ip("1").unwrap().cancel();
        assert!(t.reserve("u", "1").is_ok());
    }

    #[test]
    fn ip_only_attempts_count_for_the_ip() {
        let t = LoginThrottle::new(2, 2, MIN);
        t.reserve_ip("192.0.2.9").unwrap().failed();
        t.reserve_ip("192.0.2.9").unwrap().failed();
        assert!(t.reserve_ip("192.0.2.9").is_err());
        assert!(t.reserve_ip("192.0.2.10").is_ok());
    }

    #[test]
    fn a_zero_limit_turns_that_limit_off() {
        let t = LoginThrottle::new(0, 0, MIN);
        for _ in 0..5 {
            t.reserve("u", "1").unwrap().failed();
        }
        assert!(t.reserve("u", "1").is_ok());
    }
}
