//! Key limits (SPEC §4): spend per day, week and month (in the configured time zone), per
//! rolling five hours and in total; requests per minute; requests in flight. Checked before a
//! request is forwarded, all at once ([`Limiter::admit`]); spend is added when the request
//! ends ([`Limiter::spent`]), so the overshoot is bounded by the requests in flight when the
//! limit was crossed. [`Limiter`] is the seam: [`memory::MemoryLimiter`] serves one instance
//! (counters rebuilt from the database roll-ups at start), [`redis::RedisLimiter`] keeps the
//! counters in Redis for every instance and falls back to its own memory while Redis is away.

pub mod memory;
pub mod redis;
mod redis_scripts;
mod redis_sync;
pub mod setup;

use std::sync::Arc;

use async_trait::async_trait;
use relay_shared::limit_windows::Window;

/// The limits of one key, micro-USD for spend (0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    /// Since midnight.
    pub daily: i64,
    /// Since Monday midnight.
    pub weekly: i64,
    /// Since the first of the month.
    pub monthly: i64,
    /// Over the last five hours.
    pub five_hours: i64,
    /// Ever.
    pub total: i64,
    /// Requests per minute.
    pub rpm: u32,
    /// Requests in flight.
    pub concurrency: u32,
}

impl KeyLimits {
    /// The limits stored on a key (negative values, which the API refuses, count as none).
    pub fn of_row(k: &relay_shared::db::api_keys::ApiKeyRow) -> Self {
        let count = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        Self {
            daily: k.daily_limit_micro_usd.max(0),
            weekly: k.weekly_limit_micro_usd.max(0),
            monthly: k.monthly_limit_micro_usd.max(0),
            five_hours: k.limit_5h_micro_usd.max(0),
            total: k.total_limit_micro_usd.max(0),
            rpm: count(k.rpm_limit),
            concurrency: count(k.concurrency_limit),
        }
    }

    /// Whether any limit is set (a key without limits costs the limiter nothing).
    pub fn any(&self) -> bool {
        self.spend_any() || self.rpm > 0 || self.concurrency > 0
    }

    /// Whether any spend limit is set.
    pub fn spend_any(&self) -> bool {
        self.daily > 0
            || self.weekly > 0
            || self.monthly > 0
            || self.five_hours > 0
            || self.total > 0
    }

    /// The limit of a calendar window.
    pub fn of(&self, w: Window) -> i64 {
        match w {
            Window::Day => self.daily,
            Window::Week => self.weekly,
            Window::Month => self.monthly,
        }
    }
}

/// Which spend limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendLimit {
    /// A calendar window.
    Calendar(Window),
    /// The rolling five hours.
    FiveHours,
    /// The total.
    Total,
}

impl SpendLimit {
    /// The limit's name in the API (`daily_limit_usd`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Calendar(Window::Day) => "daily_limit_usd",
            Self::Calendar(Window::Week) => "weekly_limit_usd",
            Self::Calendar(Window::Month) => "monthly_limit_usd",
            Self::FiveHours => "limit_5h_usd",
            Self::Total => "total_limit_usd",
        }
    }
}

/// Why a request is refused (429 `rate_limit_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A spend limit is reached; `resets_at` epoch ms when known (never for the total).
    Spend {
        /// Which one.
        which: SpendLimit,
        /// The limit, micro-USD.
        limit: i64,
        /// Spent in its window, micro-USD.
        spent: i64,
        /// When the window lets the key spend again.
        resets_at: Option<i64>,
    },
    /// The requests of the last minute reached `rpm_limit`; a slot frees at `retry_at`.
    Rpm {
        /// The limit.
        limit: u32,
        /// When the oldest counted request leaves the minute, epoch ms.
        retry_at: i64,
    },
    /// `concurrency_limit` requests are in flight.
    Concurrency {
        /// The limit.
        limit: u32,
    },
}

impl Refusal {
    /// The sentence for the client.
    pub fn message(&self, now_ms: i64) -> String {
        let usd = |m: i64| format!("${:.2}", m as f64 / 1_000_000.0);
        match self {
            Self::Spend {
                which,
                limit,
                spent,
                resets_at,
            } => {
                let when = match resets_at {
                    Some(t) => format!("; it resets in {}", human(t - now_ms)),
                    None => String::new(),
                };
                format!(
                    "this API key reached its {} of {} (spent {}){when}",
                    which.name(),
                    usd(*limit),
                    usd(*spent)
                )
            }
            Self::Rpm { limit, .. } => {
                format!("this API key is limited to {limit} requests per minute (rpm_limit)")
            }
            Self::Concurrency { limit } => {
                format!("this API key is limited to {limit} requests at once (concurrency_limit)")
            }
        }
    }

    /// Seconds to wait before retrying, when known.
    pub fn retry_after_s(&self, now_ms: i64) -> Option<u64> {
        let at = match self {
            Self::Spend { resets_at, .. } => (*resets_at)?,
            Self::Rpm { retry_at, .. } => *retry_at,
            Self::Concurrency { .. } => return Some(1),
        };
        Some(u64::try_from(((at - now_ms).max(0) + 999) / 1000).map_or(1, |s| s.max(1)))
    }

    /// Whether waiting cannot help soon (the answer then carries `x-should-retry: false`):
    /// a spend limit reached; a minute or a free slot is soon.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Spend { .. })
    }
}

fn human(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A held request slot of a key with a concurrency limit; given back on drop.
pub struct Lease {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Lease {
    /// A lease that holds nothing.
    pub fn none() -> Self {
        Self { release: None }
    }

    /// A lease released by `f`.
    pub fn new(f: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            release: Some(Box::new(f)),
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("held", &self.release.is_some())
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            f();
        }
    }
}

/// What an admitted request holds and learned.
#[derive(Debug)]
pub struct Admitted {
    /// Its concurrency slot (released on drop).
    pub lease: Lease,
    /// The account its session is pinned to, if any (SPEC §3.3).
    pub pinned: Option<i64>,
}

/// Where limits and session pins are counted.
#[async_trait]
pub trait Limiter: Send + Sync {
    /// Checks every limit of `key_id` at `now_ms` and, when none is reached, counts the
    /// request (its minute, a slot in flight); also reads (and renews) the pin of `session`.
    async fn admit(
        &self,
        key_id: i64,
        limits: &KeyLimits,
        session: Option<&str>,
        now_ms: i64,
    ) -> Result<Admitted, Refusal>;

    /// Adds the cost of a request of `key_id` that ended at `at_ms`. Never blocks.
    fn spent(&self, key_id: i64, cost_micro_usd: i64, at_ms: i64);

    /// Pins `session` of `key_id` to `account_id`. Never blocks.
    fn pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64);

    /// Whether the shared store answers (`None`: there is none, this instance counts alone).
    fn shared_up(&self) -> Option<bool> {
        None
    }
}

/// A limiter shared by the relay.
pub type SharedLimiter = Arc<dyn Limiter>;
