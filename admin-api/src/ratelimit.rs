//! The per-client request rate limit of the admin API (`admin.rate_limit_per_minute`, SPEC
//! §11): a token bucket per client IP holding up to a minute's worth of requests and refilled
//! continuously. In memory, per instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before the full (idle) ones are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Allows `per_minute` requests per minute per client, in bursts of up to `per_minute`;
    /// `0` turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            capacity: f64::from(per_minute),
            per_second: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the limit is on.
    pub fn enabled(&self) -> bool {
        self.capacity > 0.0
    }

    /// Takes one request from `client`'s bucket, or says how long until one is available.
    pub fn check(&self, client: &str) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &str, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            let (cap, rate) = (self.capacity, self.per_second);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < cap);
        }
        let b = map.entry(client.to_string()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.capacity);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_then_one_request_per_refill() {
        let r = RateLimiter::new(60);
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(r.check_at("1.2.3.4", t0).is_ok());
        }
        let wait = r.check_at("1.2.3.4", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(r.check_at("5.6.7.8", t0).is_ok(), "another client");
        let t1 = t0 + Duration::from_secs(1);
        assert!(r.check_at("1.2.3.4", t1).is_ok());
        assert!(r.check_at("1.2.3.4", t1).is_err());
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..60 {
            assert!(
                r.check_at("1.2.3.4", later).is_ok(),
                "capped at one minute's worth"
            );
        }
        assert!(r.check_at("1.2.3.4", later).is_err());
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let r = RateLimiter::new(0);
        assert!(!r.enabled());
        for _ in 0..1000 {
            assert!(r.check("x").is_ok());
        }
    }
}
