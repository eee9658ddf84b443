//! Waiting for a slot (SPEC §3.2 step 4): when every candidate of a group is at its
//! `max_concurrency`, a request waits up to `scheduler.queue_timeout` for a slot to free in
//! its group, first come, first served: waiters are woken one per freed slot in the order they
//! started waiting, and a newcomer joins the line while anyone is waiting instead of taking
//! the freed slot first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::snapshot::AccountEntry;

/// The line of one group.
#[derive(Debug, Default)]
pub struct GroupQueue {
    notify: Notify,
    waiting: AtomicUsize,
}

impl GroupQueue {
    /// Whether requests are waiting.
    pub fn has_waiters(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Waits for a freed slot until `deadline`; false when it passed first.
    pub async fn wait(&self, deadline: Instant) -> bool {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let woken = tokio::time::timeout_at(deadline, self.notify.notified()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        woken.is_ok()
    }

    fn freed(&self) {
        self.notify.notify_one();
    }
}

/// The lines of every group.
#[derive(Debug, Default)]
pub struct SlotQueues {
    groups: Mutex<HashMap<i64, Arc<GroupQueue>>>,
}

impl SlotQueues {
    /// The line of `group_id`.
    pub fn group(&self, group_id: i64) -> Arc<GroupQueue> {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(group_id)
            .or_default()
            .clone()
    }
}

/// One in-flight slot of an account, taken with [`AccountEntry::try_acquire`]; given back on
/// drop, waking the next waiter of the group when the account has a concurrency limit.
pub struct Slot {
    account: Arc<AccountEntry>,
    queue: Option<Arc<GroupQueue>>,
}

impl Slot {
    /// Takes a slot of `account` (of `group_id`), or `None` when it is full.
    pub fn take(account: &Arc<AccountEntry>, group_id: i64, queues: &SlotQueues) -> Option<Self> {
        if !account.try_acquire() {
            return None;
        }
        let queue = (account.max_concurrency > 0).then(|| queues.group(group_id));
        Some(Self {
            account: account.clone(),
            queue,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.account.release();
        if let Some(q) = &self.queue {
            q.freed();
        }
    }
}
