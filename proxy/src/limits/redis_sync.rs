//! The Redis limiter's background task: spend, slot releases, pins and announcements written
//! in pipelined batches off the request path; lease renewal; watching Redis come back and
//! writing back what was counted while it was away.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::Pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use fred::types::{Expiration, SetOptions};
use relay_shared::limit_windows;
use tokio::sync::mpsc;

use super::redis::RedisLimiter;
use super::redis_scripts::{RAISE, RAISE_5H};

/// How long a calendar spend counter lives after its last write.
pub(super) const SPEND_TTL_MS: i64 = 40 * 86_400_000;

/// Spend not yet in Redis (written while it was away) kept for when it returns, at most.
const BACKLOG_MAX: usize = 100_000;
/// How often a Redis that went away is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Work for the background task.
#[derive(Debug, Clone)]
pub(super) enum Op {
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

impl RedisLimiter {
    /// The background task: batches of spend, releases, pins and announcements; lease
    /// renewal; watching Redis come back. Spend that could not be written waits in a bounded
    /// backlog and is written when Redis answers again.
    pub(super) async fn background(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Op>) {
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
}
