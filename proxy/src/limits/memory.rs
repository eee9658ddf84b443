//! Key limits counted in this process (one instance, or Redis away): per key the spend of
//! the current day, week and month, the five-minute buckets of the last five hours, the
//! total, the starts of the last minute and the requests in flight, behind one short lock
//! per shard of keys (never held across an await). Exact on one instance. At start the
//! spend is rebuilt from the database roll-ups ([`MemoryLimiter::seed`]), so a restart does
//! not forget today's spend.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use chrono_tz::Tz;
use relay_shared::db::key_spend::KeySpend;
use relay_shared::limit_windows::{self, Span, Window};

use super::{Admitted, KeyLimits, Lease, Limiter, Refusal, SpendLimit};
use crate::sticky::MemoryPins;

const SHARDS: usize = 16;
const MINUTE_MS: i64 = 60_000;

/// The counters of one key.
#[derive(Debug, Default, Clone)]
pub struct KeyState {
    /// (window id, spend) of the day, week and month, in [`Window::ALL`] order.
    calendar: [(i64, i64); 3],
    /// (bucket, spend), oldest first, within the last five hours.
    buckets: VecDeque<(i64, i64)>,
    total: i64,
    /// Admission times of the last minute.
    minute: VecDeque<i64>,
    inflight: u32,
}

impl KeyState {
    fn add(&mut self, spans: &[Span; 3], cost: i64, at_ms: i64) {
        for (slot, span) in self.calendar.iter_mut().zip(spans) {
            if slot.0 == span.id {
                slot.1 += cost;
            } else if slot.0 < span.id {
                *slot = (span.id, cost);
            }
        }
        self.total += cost;
        let b = limit_windows::bucket_of(at_ms);
        match self.buckets.back_mut() {
            Some(last) if last.0 == b => last.1 += cost,
            _ => self.buckets.push_back((b, cost)),
        }
        self.prune(at_ms);
    }

    fn prune(&mut self, now_ms: i64) {
        let first = limit_windows::first_live_bucket(now_ms);
        while self.buckets.front().is_some_and(|(b, _)| *b < first) {
            self.buckets.pop_front();
        }
        while self
            .minute
            .front()
            .is_some_and(|t| *t <= now_ms - MINUTE_MS)
        {
            self.minute.pop_front();
        }
    }

    /// Spend in the calendar window `span` (0 when the counter is of an earlier one).
    pub fn calendar_spend(&self, i: usize, span: &Span) -> i64 {
        let (id, spent) = self.calendar[i];
        if id == span.id {
            spent
        } else {
            0
        }
    }

    /// Spend over the last five hours.
    pub fn five_hour_spend(&self, now_ms: i64) -> i64 {
        let first = limit_windows::first_live_bucket(now_ms);
        self.buckets
            .iter()
            .filter(|(b, _)| *b >= first)
            .map(|(_, v)| v)
            .sum()
    }

    /// The five-minute buckets of the rolling window, oldest first.
    pub fn five_hour_buckets(&self) -> Vec<(i64, i64)> {
        self.buckets.iter().copied().collect()
    }

    /// Spend ever.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// The first spend limit reached at `now_ms`, if any.
    fn spend_refusal(&self, l: &KeyLimits, spans: &[Span; 3], now_ms: i64) -> Option<Refusal> {
        for (i, w) in Window::ALL.iter().enumerate() {
            let limit = l.of(*w);
            let spent = self.calendar_spend(i, &spans[i]);
            if limit > 0 && spent >= limit {
                return Some(Refusal::Spend {
                    which: SpendLimit::Calendar(*w),
                    limit,
                    spent,
                    resets_at: Some(spans[i].end_ms),
                });
            }
        }
        if l.five_hours > 0 {
            let buckets: Vec<(i64, i64)> = self.buckets.iter().copied().collect();
            if let Some(reset) = limit_windows::five_hour_reset(&buckets, l.five_hours, now_ms) {
                return Some(Refusal::Spend {
                    which: SpendLimit::FiveHours,
                    limit: l.five_hours,
                    spent: self.five_hour_spend(now_ms),
                    resets_at: Some(reset),
                });
            }
        }
        if l.total > 0 && self.total >= l.total {
            return Some(Refusal::Spend {
                which: SpendLimit::Total,
                limit: l.total,
                spent: self.total,
                resets_at: None,
            });
        }
        None
    }
}

/// The in-memory limiter.
pub struct MemoryLimiter {
    tz: Tz,
    shards: Vec<Mutex<HashMap<i64, KeyState>>>,
    /// The calendar windows of now (read without a lock).
    spans: ArcSwapOption<[Span; 3]>,
    pins: MemoryPins,
}

impl MemoryLimiter {
    /// A limiter counting calendar windows in `tz`, keeping session pins for `pin_ttl`.
    pub fn new(tz: Tz, pin_ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            tz,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            spans: ArcSwapOption::empty(),
            pins: MemoryPins::new(pin_ttl),
        })
    }

    /// The pin of `session` of `key_id`, renewed.
    pub fn pin(&self, key_id: i64, session: &str, now_ms: i64) -> Option<i64> {
        self.pins.get(key_id, session, now_ms)
    }

    /// Pins `session` of `key_id` to `account_id`.
    pub fn set_pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64) {
        self.pins.pin(key_id, session, account_id, now_ms);
    }

    /// A copy of every key's counters.
    pub fn all_states(&self) -> Vec<(i64, KeyState)> {
        self.shards
            .iter()
            .flat_map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn shard(&self, key_id: i64) -> std::sync::MutexGuard<'_, HashMap<i64, KeyState>> {
        self.shards[(key_id.unsigned_abs() % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The calendar windows holding `now_ms` (worked out again only when one ends).
    pub fn spans(&self, now_ms: i64) -> [Span; 3] {
        if let Some(s) = self.spans.load().as_deref() {
            if s.iter().all(|w| w.start_ms <= now_ms && now_ms < w.end_ms) {
                return *s;
            }
        }
        let s = Window::ALL.map(|w| limit_windows::span(w, now_ms, self.tz));
        self.spans.store(Some(Arc::new(s)));
        s
    }

    /// Replaces the counters of `key_id` with the spend stored in the database at `now_ms`
    /// (the requests in flight stay).
    pub fn seed(&self, key_id: i64, spend: &KeySpend, now_ms: i64) {
        let spans = self.spans(now_ms);
        let mut state = KeyState {
            total: spend.total,
            buckets: spend.buckets(now_ms).into(),
            ..KeyState::default()
        };
        for (slot, span) in state.calendar.iter_mut().zip(&spans) {
            *slot = (span.id, spend.in_span(span));
        }
        let mut shard = self.shard(key_id);
        state.inflight = shard.get(&key_id).map_or(0, |s| s.inflight);
        shard.insert(key_id, state);
    }

    /// A copy of the counters of `key_id` (for display and for resynchronising Redis).
    pub fn state(&self, key_id: i64) -> Option<KeyState> {
        self.shard(key_id).get(&key_id).cloned()
    }

    /// Checks and counts synchronously (the body of [`Limiter::admit`]).
    pub fn admit_now(
        self: &Arc<Self>,
        key_id: i64,
        l: &KeyLimits,
        now_ms: i64,
    ) -> Result<Lease, Refusal> {
        if !l.any() {
            return Ok(Lease::none());
        }
        let spans = self.spans(now_ms);
        let mut shard = self.shard(key_id);
        let state = shard.entry(key_id).or_default();
        state.prune(now_ms);
        if let Some(r) = state.spend_refusal(l, &spans, now_ms) {
            return Err(r);
        }
        if l.rpm > 0 && state.minute.len() >= l.rpm as usize {
            let oldest = state.minute.front().copied().unwrap_or(now_ms);
            return Err(Refusal::Rpm {
                limit: l.rpm,
                retry_at: oldest + MINUTE_MS,
            });
        }
        if l.concurrency > 0 && state.inflight >= l.concurrency {
            return Err(Refusal::Concurrency {
                limit: l.concurrency,
            });
        }
        if l.rpm > 0 {
            state.minute.push_back(now_ms);
        }
        if l.concurrency == 0 {
            return Ok(Lease::none());
        }
        state.inflight += 1;
        let me = Arc::clone(self);
        Ok(Lease::new(move || {
            if let Some(s) = me.shard(key_id).get_mut(&key_id) {
                s.inflight = s.inflight.saturating_sub(1);
            }
        }))
    }

    /// Adds spend synchronously (the body of [`Limiter::spent`]).
    pub fn add_spend(&self, key_id: i64, cost: i64, at_ms: i64) {
        let spans = self.spans(at_ms);
        self.shard(key_id)
            .entry(key_id)
            .or_default()
            .add(&spans, cost, at_ms);
    }
}

/// The in-memory limiter behind the [`Limiter`] seam.
pub struct Memory(pub Arc<MemoryLimiter>);

#[async_trait]
impl Limiter for Memory {
    async fn admit(
        &self,
        key_id: i64,
        limits: &KeyLimits,
        session: Option<&str>,
        now_ms: i64,
    ) -> Result<Admitted, Refusal> {
        let lease = self.0.admit_now(key_id, limits, now_ms)?;
        let pinned = session.and_then(|s| self.0.pin(key_id, s, now_ms));
        Ok(Admitted { lease, pinned })
    }

    fn spent(&self, key_id: i64, cost: i64, at_ms: i64) {
        if cost > 0 {
            self.0.add_spend(key_id, cost, at_ms);
        }
    }

    fn pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64) {
        self.0.set_pin(key_id, session, account_id, now_ms);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn lim() -> Arc<MemoryLimiter> {
        MemoryLimiter::new("Asia/Shanghai".parse().unwrap(), Duration::from_secs(3600))
    }

    #[test]
    fn a_daily_limit_refuses_once_reached_and_accepts_after_midnight_there() {
        let m = lim();
        let l = KeyLimits {
            daily: 5_000_000,
            ..KeyLimits::default()
        };
        let evening = at("2026-12-02T15:00:00Z"); // 23:00 in Shanghai
        assert!(m.admit_now(1, &l, evening).is_ok());
        m.add_spend(1, 5_000_000, evening);
        let r = m.admit_now(1, &l, evening + 1).unwrap_err();
        let Refusal::Spend {
            which,
            resets_at,
            spent,
            ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(*which, SpendLimit::Calendar(Window::Day));
        assert_eq!(*spent, 5_000_000);
        assert_eq!(*resets_at, Some(at("2026-12-02T16:00:00Z")));
        assert_eq!(r.retry_after_s(evening), Some(3600));
        assert!(r.is_final());
        assert!(
            r.message(evening).contains("daily_limit_usd of $5.00"),
            "{}",
            r.message(evening)
        );
        // Midnight in Shanghai (16:00 UTC): a new day, worked out from the date.
        assert!(m.admit_now(1, &l, at("2026-12-02T16:00:00Z")).is_ok());
    }

    #[test]
    fn weekly_monthly_five_hour_and_total_windows_hold() {
        let m = lim();
        let now = at("2026-12-02T04:00:00Z"); // Wednesday noon in Shanghai
        m.add_spend(1, 3_000_000, now);
        let refused = |l: KeyLimits, t: i64| m.admit_now(1, &l, t).err();
        // The clock only moves forward here: each check prunes what aged out before it.
        let five = KeyLimits {
            five_hours: 3_000_000,
            ..KeyLimits::default()
        };
        assert!(refused(five, now + 4 * 3_600_000).is_some());
        assert!(
            refused(five, now + 5 * 3_600_000 + 300_000).is_none(),
            "aged out"
        );
        let weekly = KeyLimits {
            weekly: 3_000_000,
            ..KeyLimits::default()
        };
        assert!(refused(weekly, now).is_some());
        assert!(
            refused(weekly, at("2026-12-06T16:00:00Z")).is_none(),
            "Monday 7 Dec"
        );
        let monthly = KeyLimits {
            monthly: 3_000_000,
            ..KeyLimits::default()
        };
        assert!(refused(monthly, at("2026-12-31T15:00:00Z")).is_some());
        assert!(
            refused(monthly, at("2026-12-31T16:00:00Z")).is_none(),
            "1 January there"
        );
        let total = KeyLimits {
            total: 3_000_000,
            ..KeyLimits::default()
        };
        let r = refused(total, now + 400 * 86_400_000).unwrap();
        assert_eq!(r.retry_after_s(now), None, "the total never resets");
    }

    #[test]
    fn rpm_admits_exactly_the_limit_per_minute_and_concurrency_holds() {
        let m = lim();
        let l = KeyLimits {
            rpm: 30,
            ..KeyLimits::default()
        };
        let ok = (0..100)
            .filter(|i| m.admit_now(2, &l, 1_000 + i).is_ok())
            .count();
        assert_eq!(ok, 30);
        assert!(
            m.admit_now(2, &l, 61_001).is_ok(),
            "the first left the minute"
        );
        let c = KeyLimits {
            concurrency: 3,
            ..KeyLimits::default()
        };
        let held: Vec<_> = (0..3).map(|_| m.admit_now(3, &c, 0).unwrap()).collect();
        assert_eq!(
            m.admit_now(3, &c, 0).unwrap_err(),
            Refusal::Concurrency { limit: 3 }
        );
        drop(held);
        assert!(m.admit_now(3, &c, 0).is_ok());
    }

    #[test]
    fn seeded_spend_counts_in_its_windows() {
        let m = lim();
        let now = at("2026-12-02T04:00:00Z");
        let seed = KeySpend {
            days: vec![("2026-11-30".into(), 1_000), ("2026-12-02".into(), 2_000)],
            hours: vec![(now - 3_600_000 - (now % 3_600_000), 700)],
            total: 10_000,
        };
        m.seed(9, &seed, now);
        let s = m.state(9).unwrap();
        let spans = m.spans(now);
        assert_eq!(s.calendar_spend(0, &spans[0]), 2_000, "today");
        assert_eq!(s.calendar_spend(1, &spans[1]), 3_000, "since Monday 30 Nov");
        assert_eq!(s.calendar_spend(2, &spans[2]), 2_000, "since 1 Dec");
        assert_eq!(s.five_hour_spend(now), 700);
        assert_eq!(s.total(), 10_000);
    }
}
