//! Key limits shared by every instance through Redis (SPEC §4, §10). One Lua script checks
//! every limit of a key, counts the request (its minute, a concurrency lease that expires)
//! and reads the session's pin, all in one atomic step: the request path makes at most one
//! Redis round trip before forwarding, and none for a key without limits or session. Spend
//! is added, leases given back and pins set off the request path, in pipelined batches by a
//! background task, which also renews the leases of long streams (a dead instance's leases
//! expire by themselves).
//!
//! The same counters are kept in this process ([`MemoryLimiter`]) as they go. When Redis
//! cannot be reached the relay goes on with them (logged once, reported by
//! [`RedisLimiter::is_up`]); when it answers again, every local spend counter is written back
//! where Redis has less (a restarted Redis starts empty), and Redis decides again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;
use relay_shared::cache::Keys;
use relay_shared::limit_windows::{self, Window};
use tokio::sync::mpsc;

use super::memory::MemoryLimiter;
use super::redis_scripts::{ADMIT, JOB_LOCK};
use super::redis_sync::Op;
use super::{Admitted, KeyLimits, Lease, Limiter, Refusal, SpendLimit};

/// The Redis-backed limiter.
pub struct RedisLimiter {
    pub(super) client: Client,
    pub(super) keys: Keys,
    pub(super) local: Arc<MemoryLimiter>,
    admit: Script,
    pub(super) up: AtomicBool,
    pub(super) lease_ttl: Duration,
    pub(super) pin_ttl: Duration,
    pub(super) ops: mpsc::UnboundedSender<Op>,
    /// Leases this instance holds: lease id → key id (renewed while held).
    pub(super) held: Mutex<HashMap<String, i64>>,
}

impl RedisLimiter {
    /// Connects to `url` (not waiting for it: the relay starts without Redis) and starts the
    /// background task on the current runtime.
    pub fn start(
        url: &str,
        prefix: &str,
        local: Arc<MemoryLimiter>,
        lease_ttl: Duration,
        pin_ttl: Duration,
    ) -> Result<Arc<Self>, Error> {
        let config = Config::from_url(url)?;
        let client = Builder::from_config(config)
            .with_performance_config(|p| {
                p.default_command_timeout = Duration::from_millis(500);
            })
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(1);
                c.max_command_attempts = 1;
            })
            .set_policy(ReconnectPolicy::new_constant(0, 500))
            .build()?;
        client.connect();
        let (tx, rx) = mpsc::unbounded_channel();
        let me = Arc::new(Self {
            client,
            keys: Keys::new(prefix),
            local,
            admit: Script::from_lua(ADMIT),
            up: AtomicBool::new(false),
            lease_ttl,
            pin_ttl,
            ops: tx,
            held: Mutex::new(HashMap::new()),
        });
        tokio::spawn(Arc::clone(&me).background(rx));
        Ok(me)
    }

    /// Whether Redis answers (else every decision is this instance's own).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The Redis client (for the job lock and the change channel).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The key formats.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(super) fn went_down(&self, e: &Error) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::error!(error = %e, "Redis unreachable: limits, pins and leases are counted by this instance alone until it returns");
        }
    }

    /// Checks the limits of `key_id` and reads the pin of `session` in one round trip.
    pub async fn admit_with_pin(
        &self,
        key_id: i64,
        l: &KeyLimits,
        session: Option<&str>,
        now_ms: i64,
    ) -> Result<Admitted, Refusal> {
        let pin_local = |s: Option<&str>| s.and_then(|s| self.local.pin(key_id, s, now_ms));
        if !l.any() && session.is_none() {
            return Ok(Admitted {
                lease: Lease::none(),
                pinned: None,
            });
        }
        if !self.is_up() {
            let lease = self.local.admit_now(key_id, l, now_ms)?;
            return Ok(Admitted {
                lease,
                pinned: pin_local(session),
            });
        }
        let spans = self.local.spans(now_ms);
        let kind = ['d', 'w', 'm'];
        let mut keys: Vec<String> = spans
            .iter()
            .zip(kind)
            .map(|(s, k)| self.keys.spend_window(key_id, k, s.id))
            .collect();
        keys.push(self.keys.spend_total(key_id));
        keys.push(self.keys.spend_five_hours(key_id));
        keys.push(self.keys.rpm(key_id));
        keys.push(self.keys.concurrency(key_id));
        keys.push(session.map_or_else(|| self.keys.pin(key_id, ""), |s| self.keys.pin(key_id, s)));
        let lease_id = format!("{now_ms}-{:016x}", rand::random::<u64>());
        let expiry = now_ms + i64::try_from(self.lease_ttl.as_millis()).unwrap_or(60_000);
        let pin_ttl = if session.is_some() {
            i64::try_from(self.pin_ttl.as_millis()).unwrap_or(3_600_000)
        } else {
            0
        };
        let args: Vec<String> = [
            l.daily,
            l.weekly,
            l.monthly,
            l.total,
            l.five_hours,
            limit_windows::first_live_bucket(now_ms),
            i64::from(l.rpm),
            now_ms,
            i64::from(l.concurrency),
        ]
        .iter()
        .map(i64::to_string)
        .chain([lease_id.clone(), expiry.to_string(), pin_ttl.to_string()])
        .collect();
        let answer: Result<Vec<i64>, Error> = self
            .admit
            .evalsha_with_reload(&self.client, keys, args)
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                self.went_down(&e);
                let lease = self.local.admit_now(key_id, l, now_ms)?;
                return Ok(Admitted {
                    lease,
                    pinned: pin_local(session),
                });
            }
        };
        match answer.as_slice() {
            [0, pinned] => {
                // Mirrored here, so a fallback starts from what this instance holds.
                let local = self
                    .local
                    .admit_now(key_id, l, now_ms)
                    .unwrap_or_else(|_| Lease::none());
                let lease = if l.concurrency > 0 {
                    self.held
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(lease_id.clone(), key_id);
                    let ops = self.ops.clone();
                    Lease::new(move || {
                        drop(local);
                        let _ = ops.send(Op::Release {
                            key_id,
                            lease: lease_id,
                        });
                    })
                } else {
                    local
                };
                Ok(Admitted {
                    lease,
                    pinned: (*pinned >= 0).then_some(*pinned),
                })
            }
            [1, which, spent] => {
                let (which, limit, resets_at) = match which {
                    1 => (
                        SpendLimit::Calendar(Window::Day),
                        l.daily,
                        Some(spans[0].end_ms),
                    ),
                    2 => (
                        SpendLimit::Calendar(Window::Week),
                        l.weekly,
                        Some(spans[1].end_ms),
                    ),
                    3 => (
                        SpendLimit::Calendar(Window::Month),
                        l.monthly,
                        Some(spans[2].end_ms),
                    ),
                    _ => (SpendLimit::Total, l.total, None),
                };
                Err(Refusal::Spend {
                    which,
                    limit,
                    spent: *spent,
                    resets_at,
                })
            }
            [2, spent, flat @ ..] => {
                let mut buckets: Vec<(i64, i64)> = flat
                    .chunks(2)
                    .filter_map(|c| Some((c[0], *c.get(1)?)))
                    .collect();
                buckets.sort_unstable();
                Err(Refusal::Spend {
                    which: SpendLimit::FiveHours,
                    limit: l.five_hours,
                    spent: *spent,
                    resets_at: limit_windows::five_hour_reset(&buckets, l.five_hours, now_ms),
                })
            }
            [3, oldest] => Err(Refusal::Rpm {
                limit: l.rpm,
                retry_at: oldest + 60_000,
            }),
            [4] => Err(Refusal::Concurrency {
                limit: l.concurrency,
            }),
            other => {
                tracing::error!(answer = ?other, "unexpected answer from the limits script; counting locally");
                let lease = self.local.admit_now(key_id, l, now_ms)?;
                Ok(Admitted {
                    lease,
                    pinned: pin_local(session),
                })
            }
        }
    }

    /// Pins `session` of `key_id` to `account_id` (off the request path).
    pub fn pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64) {
        self.local.set_pin(key_id, session, account_id, now_ms);
        let _ = self.ops.send(Op::Pin {
            key_id,
            session: session.to_string(),
            account_id,
        });
    }

    /// Asks the other instances to reload their snapshot. Never blocks.
    pub fn announce_change(&self) {
        let _ = self.ops.send(Op::Publish);
    }

    /// Takes the job lock `name` for `ttl` as `holder` (or renews it when `holder` has it).
    /// `true` when this instance may run the job: it holds the lock, or Redis is away and
    /// every instance decides alone.
    pub async fn job_lock(&self, name: &str, holder: &str, ttl: Duration) -> bool {
        if !self.is_up() {
            return true;
        }
        let px = i64::try_from(ttl.as_millis()).unwrap_or(60_000);
        let taken: Result<i64, Error> = Script::from_lua(JOB_LOCK)
            .evalsha_with_reload(
                &self.client,
                vec![self.keys.lock(name)],
                vec![holder.to_string(), px.to_string()],
            )
            .await;
        match taken {
            Ok(held) => held == 1,
            Err(e) => {
                self.went_down(&e);
                true
            }
        }
    }
}

/// The Redis limiter behind the [`Limiter`] seam.
pub struct Shared(pub Arc<RedisLimiter>);

#[async_trait]
impl Limiter for Shared {
    async fn admit(
        &self,
        key_id: i64,
        limits: &KeyLimits,
        session: Option<&str>,
        now_ms: i64,
    ) -> Result<Admitted, Refusal> {
        self.0.admit_with_pin(key_id, limits, session, now_ms).await
    }

    fn spent(&self, key_id: i64, cost: i64, at_ms: i64) {
        if cost <= 0 {
            return;
        }
        self.0.local.add_spend(key_id, cost, at_ms);
        let _ = self.0.ops.send(Op::Spend {
            key_id,
            cost,
            at_ms,
        });
    }

    fn pin(&self, key_id: i64, session: &str, account_id: i64, now_ms: i64) {
        self.0.pin(key_id, session, account_id, now_ms);
    }

    fn shared_up(&self) -> Option<bool> {
        Some(self.0.is_up())
    }
}
