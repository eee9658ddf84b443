//! Connection slots of the front door (SPEC §2.3): at most `server.max_connections` client
//! connections at once (kept below the process's descriptor limit), and, once more than half
//! are taken, at most `server.max_connections_per_ip` from one client IP, so a flood from one
//! source cannot lock everybody else out. Taken at accept, given back when the connection's
//! stream is dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Descriptors kept free for upstream connections, the database and files.
const FD_RESERVE: u64 = 1_024;

/// Connections refused because the front door was full (counted for the metrics).
pub static REFUSED_FULL: AtomicU64 = AtomicU64::new(0);
/// Connections refused because their IP held more than its share (counted for the metrics).
pub static REFUSED_PER_IP: AtomicU64 = AtomicU64::new(0);

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// The front door is busy and this IP already holds its share.
    IpShare,
}

/// The slots of one front door.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    per_ip: usize,
    open: AtomicUsize,
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One taken slot; given back on drop.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    ip: Option<IpAddr>,
}

impl Slots {
    /// Slots for `max` connections with a per-IP share of `per_ip` (0: none).
    pub fn new(max: usize, per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            per_ip,
            open: AtomicUsize::new(0),
            by_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most connections allowed at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes a slot for a connection from `ip`, or says why not.
    pub fn take(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, Refusal> {
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        if open >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            REFUSED_FULL.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Full);
        }
        if let Some(addr) = ip.filter(|_| self.per_ip > 0) {
            let mut by_ip = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
            let held = by_ip.entry(addr).or_insert(0);
            if open * 2 >= self.max && *held >= self.per_ip {
                drop(by_ip);
                self.open.fetch_sub(1, Ordering::AcqRel);
                REFUSED_PER_IP.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::IpShare);
            }
            *held += 1;
        }
        Ok(Slot {
            slots: self.clone(),
            ip: ip.filter(|_| self.per_ip > 0),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(addr) = self.ip {
            let mut by_ip = self.slots.by_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(held) = by_ip.get_mut(&addr) {
                *held -= 1;
                if *held == 0 {
                    by_ip.remove(&addr);
                }
            }
        }
        self.slots.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connection cap to use: `configured`, lowered to stay [`FD_RESERVE`] below the
/// descriptor limit (whose soft value is first raised to the hard one). Returns the cap and
/// the limit when it had to be lowered.
pub fn fit_to_descriptor_limit(configured: usize) -> (usize, Option<u64>) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (configured, None);
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let room = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    if configured > room {
        (room.max(16), Some(limit))
    } else {
        (configured, None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_cap_holds_and_slots_come_back_when_dropped() {
        let slots = Slots::new(3, 0);
        let taken: Vec<_> = (0..3).map(|_| slots.take(None).unwrap()).collect();
        assert_eq!(slots.take(None).unwrap_err(), Refusal::Full);
        drop(taken);
        assert_eq!(slots.open(), 0);
        assert!(slots.take(None).is_ok());
    }

    #[test]
    fn one_ip_gets_no_more_than_its_share_once_half_the_slots_are_taken() {
        let slots = Slots::new(10, 2);
        let greedy: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        // Below half the slots, the share does not apply.
        let mut held: Vec<_> = (0..5).map(|_| slots.take(Some(greedy)).unwrap()).collect();
        assert_eq!(slots.take(Some(greedy)).unwrap_err(), Refusal::IpShare);
        held.push(slots.take(Some(other)).unwrap());
        held.push(slots.take(Some(other)).unwrap());
        assert_eq!(slots.take(Some(other)).unwrap_err(), Refusal::IpShare);
        assert!(slots.take(Some("10.0.0.3".parse().unwrap())).is_ok());
        drop(held);
        assert_eq!(slots.open(), 0);
        assert!(slots.by_ip.lock().unwrap().is_empty());
    }
}
