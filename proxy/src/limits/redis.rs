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
use fred::clients::Pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{Expiration, SetOptions};
use relay_shared::cache::Keys;
use relay_shared::limit_windows::{self, Window};
use tokio::sync::mpsc;

use super::memory::MemoryLimiter;
use super::{Admitted, KeyLimits, Lease, Limiter, Refusal, SpendLimit};

/// Checks, counts and reads the pin (see the module documentation).
const ADMIT: &str = r#"
local function num(k) return tonumber(redis.call('GET', k) or '0') end
for i = 1, 4 do
  local lim = tonumber(ARGV[i])
  if lim > 0 then
    local s = num(KEYS[i])
    if s >= lim then return {1, i, s} end
  end
end
local lim5 = tonumber(ARGV[5])
if lim5 > 0 then
  local first = tonumber(ARGV[6])
  local h = redis.call('HGETALL', KEYS[5])
  local out = {2, 0}
  local total = 0
  for j = 1, #h, 2 do
    local b = tonumber(h[j])
    if b >= first then
      local v = tonumber(h[j + 1])
      total = total + v
      table.insert(out, b)
      table.insert(out, v)
    else
      redis.call('HDEL', KEYS[5], h[j])
    end
  end
  if total >= lim5 then
    out[2] = total
    return out
  end
end
local now = tonumber(ARGV[8])
local rpm = tonumber(ARGV[7])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - 60000)
  if redis.call('ZCARD', KEYS[6]) >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
    return {3, tonumber(oldest[2])}
  end
end
local conc = tonumber(ARGV[9])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now)
  if redis.call('ZCARD', KEYS[7]) >= conc then return {4} end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[6], now, ARGV[10])
  redis.call('PEXPIRE', KEYS[6], 61000)
end
if conc > 0 then
  redis.call('ZADD', KEYS[7], ARGV[11], ARGV[10])
  redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[11]) - now + 60000)
end
local pinned = -1
local ttl = tonumber(ARGV[12])
if ttl > 0 then
  local p = redis.call('GET', KEYS[8])
  if p then
    pinned = tonumber(p)
    redis.call('PEXPIRE', KEYS[8], ttl)
  end
end
return {0, pinned}
"#;

/// Writes a counter only where Redis holds less (resynchronising after an outage).
const RAISE: &str = r#"
for i = 1, #KEYS do
  local v = tonumber(ARGV[i])
  if tonumber(redis.call('GET', KEYS[i]) or '0') < v then
    redis.call('SET', KEYS[i], v, 'PX', ARGV[#KEYS + 1])
  end
end
return 0
"#;

/// Writes the five-hour buckets only where Redis holds less (KEYS[1] the hash; ARGV bucket,
/// value pairs, then the hash's time to live).
const RAISE_5H: &str = r#"
for i = 1, #ARGV - 1, 2 do
  local v = tonumber(ARGV[i + 1])
  if tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') < v then
    redis.call('HSET', KEYS[1], ARGV[i], v)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[#ARGV])
return 0
"#;

/// How long a calendar spend counter lives after its last write.
const SPEND_TTL_MS: i64 = 40 * 86_400_000;

/// Spend not yet in Redis (written while it was away) kept for when it returns, at most.
const BACKLOG_MAX: usize = 100_000;
/// How often a Redis that went away is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Work for the background task.
#[derive(Debug, Clone)]
enum Op {
    Spend {
        key_id: i64,
        cost: i64,
        at_ms: i64,
    },
    Release {
        key_id: i64,
        lease: String,
    },
    Pin {
        key_id: i64,
        session: String,
        account_id: i64,
    },
    /// Tell the other instances to reload their snapshot.
    Publish,
}

/// The Redis-backed limiter.
pub struct RedisLimiter {
    client: Client,
    keys: Keys,
    local: Arc<MemoryLimiter>,
    admit: Script,
    up: AtomicBool,
    lease_ttl: Duration,
    pin_ttl: Duration,
    ops: mpsc::UnboundedSender<Op>,
    /// Leases this instance holds: lease id → key id (renewed while held).
    held: Mutex<HashMap<String, i64>>,
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

    fn went_down(&self, e: &Error) {
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

    /// The background task: batches of spend, releases, pins and announcements; lease
    /// renewal; watching Redis come back. Spend that could not be written waits in a bounded
    /// backlog and is written when Redis answers again.
    async fn background(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Op>) {
        let mut renew = tokio::time::interval((self.lease_ttl / 3).max(Duration::from_millis(200)));
        let mut retry = tokio::time::interval(RETRY_EVERY);
        let mut ops = Vec::new();
        let mut backlog: Vec<Op> = Vec::new();
        loop {
            tokio::select! {
                n = rx.recv_many(&mut ops, 512) => {
                    if n == 0 {
                        return;
                    }
                    if self.is_up() {
                        self.write_ops(&mut ops, &mut backlog).await;
                    } else {
                        self.keep(&mut ops, &mut backlog);
                    }
                }
                _ = renew.tick() => {
                    if self.is_up() {
                        self.renew_leases().await;
                    }
                }
                _ = retry.tick() => {
                    if !self.is_up() && self.client.ping::<()>(None).await.is_ok() {
                        self.resync(&mut backlog).await;
                    }
                }
            }
        }
    }

    /// Keeps what must survive an outage: spend (bounded); releases only forget the lease
    /// (it expires in Redis by itself); pins and announcements are dropped.
    fn keep(&self, ops: &mut Vec<Op>, backlog: &mut Vec<Op>) {
        for op in ops.drain(..) {
            match op {
                Op::Spend { .. } if backlog.len() < BACKLOG_MAX => backlog.push(op),
                Op::Spend { .. } => {}
                Op::Release { lease, .. } => {
                    self.held
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&lease);
                }
                Op::Pin { .. } | Op::Publish => {}
            }
        }
    }

    async fn write_ops(&self, ops: &mut Vec<Op>, backlog: &mut Vec<Op>) {
        let pipe = self.client.pipeline();
        let spends: Vec<Op> = ops
            .iter()
            .filter(|o| matches!(o, Op::Spend { .. }))
            .cloned()
            .collect();
        for op in ops.drain(..) {
            let queued: Result<(), Error> = match op {
                Op::Spend {
                    key_id,
                    cost,
                    at_ms,
                } => self.queue_spend(&pipe, key_id, cost, at_ms).await,
                Op::Release { key_id, lease } => {
                    self.held
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&lease);
                    pipe.zrem(self.keys.concurrency(key_id), lease).await
                }
                Op::Pin {
                    key_id,
                    session,
                    account_id,
                } => {
                    let px = i64::try_from(self.pin_ttl.as_millis()).unwrap_or(3_600_000);
                    pipe.set(
                        self.keys.pin(key_id, &session),
                        account_id,
                        Some(Expiration::PX(px)),
                        None,
                        false,
                    )
                    .await
                }
                Op::Publish => pipe.publish(self.keys.changes(), "reload").await,
            };
            if let Err(e) = queued {
                tracing::warn!(error = %e, "Redis command not queued");
            }
        }
        if let Err(e) = pipe.all::<Vec<Value>>().await {
            self.went_down(&e);
            let mut spends = spends;
            self.keep(&mut spends, backlog);
        }
    }

    async fn queue_spend(
        &self,
        pipe: &Pipeline<Client>,
        key_id: i64,
        cost: i64,
        at_ms: i64,
    ) -> Result<(), Error> {
        let spans = self.local.spans(at_ms);
        for (span, kind) in spans.iter().zip(['d', 'w', 'm']) {
            let k = self.keys.spend_window(key_id, kind, span.id);
            pipe.incr_by::<(), _>(k.clone(), cost).await?;
            pipe.pexpire::<(), _>(k, SPEND_TTL_MS, None).await?;
        }
        pipe.incr_by::<(), _>(self.keys.spend_total(key_id), cost)
            .await?;
        let h = self.keys.spend_five_hours(key_id);
        pipe.hincrby::<(), _, _>(h.clone(), limit_windows::bucket_of(at_ms), cost)
            .await?;
        pipe.pexpire::<(), _>(h, limit_windows::FIVE_HOURS_MS + 600_000, None)
            .await
    }

    async fn renew_leases(&self) {
        let held: Vec<(String, i64)> = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(l, k)| (l.clone(), *k))
            .collect();
        if held.is_empty() {
            return;
        }
        let expiry = relay_shared::db::now_ms()
            + i64::try_from(self.lease_ttl.as_millis()).unwrap_or(60_000);
        let pipe = self.client.pipeline();
        for (lease, key_id) in held {
            let _: Result<(), Error> = pipe
                .zadd(
                    self.keys.concurrency(key_id),
                    Some(SetOptions::XX),
                    None,
                    false,
                    false,
                    (expiry as f64, lease),
                )
                .await;
        }
        if let Err(e) = pipe.all::<Vec<Value>>().await {
            self.went_down(&e);
        }
    }

    /// Redis answers again: the spend written meanwhile goes in first, then every local
    /// spend counter is raised in Redis where Redis holds less (it restarted empty), and Redis
    /// decides again.
    async fn resync(&self, backlog: &mut Vec<Op>) {
        if !backlog.is_empty() {
            let pipe = self.client.pipeline();
            for op in backlog.iter() {
                if let Op::Spend {
                    key_id,
                    cost,
                    at_ms,
                } = op
                {
                    if let Err(e) = self.queue_spend(&pipe, *key_id, *cost, *at_ms).await {
                        tracing::warn!(error = %e, "Redis command not queued");
                    }
                }
            }
            if let Err(e) = pipe.all::<Vec<Value>>().await {
                tracing::warn!(error = %e, "Redis resynchronisation failed; will retry");
                return;
            }
            backlog.clear();
        }
        let now = relay_shared::db::now_ms();
        let spans = self.local.spans(now);
        let raise = Script::from_lua(RAISE);
        let raise_5h = Script::from_lua(RAISE_5H);
        for (key_id, state) in self.local.all_states() {
            let mut keys: Vec<String> = spans
                .iter()
                .zip(['d', 'w', 'm'])
                .map(|(s, k)| self.keys.spend_window(key_id, k, s.id))
                .collect();
            keys.push(self.keys.spend_total(key_id));
            let mut args: Vec<String> = spans
                .iter()
                .enumerate()
                .map(|(i, s)| state.calendar_spend(i, s).to_string())
                .collect();
            args.push(state.total().to_string());
            args.push(SPEND_TTL_MS.to_string());
            if let Err(e) = raise
                .evalsha_with_reload::<i64, _, _>(&self.client, keys, args)
                .await
            {
                tracing::warn!(error = %e, "Redis resynchronisation failed; will retry");
                return;
            }
            let live = limit_windows::first_live_bucket(now);
            let mut args: Vec<String> = state
                .five_hour_buckets()
                .into_iter()
                .filter(|(b, _)| *b >= live)
                .flat_map(|(b, v)| [b.to_string(), v.to_string()])
                .collect();
            if args.is_empty() {
                continue;
            }
            args.push((limit_windows::FIVE_HOURS_MS + 600_000).to_string());
            let key = vec![self.keys.spend_five_hours(key_id)];
            if let Err(e) = raise_5h
                .evalsha_with_reload::<i64, _, _>(&self.client, key, args)
                .await
            {
                tracing::warn!(error = %e, "Redis resynchronisation failed; will retry");
                return;
            }
        }
        tracing::info!("Redis reachable: counters synchronised, limits shared again");
        self.up.store(true, Ordering::Relaxed);
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
        let key = self.keys.lock(name);
        let px = i64::try_from(ttl.as_millis()).unwrap_or(60_000);
        let taken: Result<Option<String>, Error> = self
            .client
            .set(
                &key,
                holder,
                Some(Expiration::PX(px)),
                Some(SetOptions::NX),
                false,
            )
            .await;
        match taken {
            Ok(Some(_)) => true,
            Ok(None) => match self.client.get::<Option<String>, _>(&key).await {
                Ok(Some(h)) if h == holder => {
                    let _: Result<(), Error> = self.client.pexpire(&key, px, None).await;
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    self.went_down(&e);
                    true
                }
            },
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
