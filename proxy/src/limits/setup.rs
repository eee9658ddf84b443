//! Builds the limiter of a front door at start (SPEC §4, §10): the in-memory counters seeded
//! from the database roll-ups (a restart keeps today's spend), and, when `redis.url` is set,
//! the Redis limiter over them, the change channel (an admin change here reaches every
//! instance at once) and the job lock of the recovery probe.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::SubscriberClient;
use fred::prelude::*;
use relay_shared::config::Config;
use relay_shared::db::{key_spend, now_ms, Db};
use tokio::sync::Notify;

use super::memory::{Memory, MemoryLimiter};
use super::redis::{RedisLimiter, Shared};
use super::SharedLimiter;

/// How often a change channel that could not be subscribed is tried again.
const SUBSCRIBE_RETRY: Duration = Duration::from_millis(500);

/// What the front door keeps of its limiter.
pub struct Limits {
    /// The limiter of the relay.
    pub limiter: SharedLimiter,
    /// The Redis limiter, when `redis.url` is set (job lock, `/ready`, metrics).
    pub redis: Option<Arc<RedisLimiter>>,
    /// Woken when the snapshot must be reloaded now (a change here or on another instance).
    pub wake: Arc<Notify>,
}

/// Why the limiter cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The spend roll-ups cannot be read.
    #[error("cannot read the keys' spend from the database: {0}")]
    Spend(#[from] relay_shared::db::DbError),
    /// The Redis URL is unusable.
    #[error("redis.url is unusable: {0}")]
    Redis(#[from] fred::error::Error),
}

/// Seeds the counters, connects Redis (without waiting for it) and listens for changes.
/// Runs on the core runtime, whose tasks the Redis limiter keeps.
pub async fn start(config: &Config, db: &Db) -> Result<Limits, SetupError> {
    let tz = config.tz();
    let memory = MemoryLimiter::new(tz, config.scheduler.sticky_ttl);
    let now = now_ms();
    let spend = key_spend::read(db, None, tz, now).await?;
    for (key_id, s) in &spend {
        memory.seed(*key_id, s, now);
    }
    let wake = Arc::new(Notify::new());
    if config.redis.url.is_empty() {
        let w = wake.clone();
        relay_shared::changes::on_change(move || w.notify_one());
        return Ok(Limits {
            limiter: Arc::new(Memory(memory)),
            redis: None,
            wake,
        });
    }
    let redis = RedisLimiter::start(
        &config.redis.url,
        &config.redis.key_prefix,
        memory,
        config.redis.lease_ttl,
        config.scheduler.sticky_ttl,
    )?;
    let (w, r) = (wake.clone(), redis.clone());
    relay_shared::changes::on_change(move || {
        w.notify_one();
        r.announce_change();
    });
    let subscriber =
        Builder::from_config(fred::types::config::Config::from_url(&config.redis.url)?)
            .set_policy(ReconnectPolicy::new_constant(0, 500))
            .build_subscriber_client()?;
    tokio::spawn(listen(subscriber, redis.keys().changes(), wake.clone()));
    tracing::info!(keys = spend.len(), "limits shared through Redis");
    Ok(Limits {
        limiter: Arc::new(Shared(redis.clone())),
        redis: Some(redis),
        wake,
    })
}

/// Wakes the snapshot watcher on every message of the change channel, and on every
/// reconnection (a change may have been missed meanwhile).
async fn listen(sub: SubscriberClient, channel: String, wake: Arc<Notify>) {
    let _connection = sub.connect();
    let mut messages = sub.message_rx();
    let mut reconnects = sub.reconnect_rx();
    while let Err(e) = sub.subscribe(channel.as_str()).await {
        tracing::debug!(error = %e, "change channel not subscribed yet");
        tokio::time::sleep(SUBSCRIBE_RETRY).await;
    }
    let _resubscriber = sub.manage_subscriptions();
    loop {
        tokio::select! {
            m = messages.recv() => match m {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            r = reconnects.recv() => match r {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => wake.notify_one(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
