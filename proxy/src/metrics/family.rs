//! A family of labelled counters that the hot path bumps without a lock: the label sets live
//! in an `ArcSwap`'d map that is read with one atomic load and copied only when a new label
//! set appears (rare: labels are bounded). Past `cap` label sets, new ones are folded into an
//! overflow set, so a stream of odd values cannot grow the map without bound.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

/// Counters of type `V` (a struct of atomics) by label set `K`.
pub struct Family<K, V> {
    map: ArcSwap<HashMap<K, Arc<V>>>,
    grow: Mutex<()>,
    cap: usize,
}

impl<K: Hash + Eq + Clone, V: Default> Family<K, V> {
    /// An empty family holding at most `cap` label sets (plus the overflow set).
    pub fn new(cap: usize) -> Self {
        Self {
            map: ArcSwap::from_pointee(HashMap::new()),
            grow: Mutex::new(()),
            cap,
        }
    }

    /// Runs `f` on the counters of `key`, creating them when new; `overflow` names the set
    /// used once the family is full.
    pub fn with(&self, key: K, overflow: impl FnOnce(K) -> K, f: impl FnOnce(&V)) {
        if let Some(v) = self.map.load().get(&key) {
            f(v);
            return;
        }
        let _grow = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.map.load_full();
        let key = if current.contains_key(&key) || current.len() < self.cap {
            key
        } else {
            overflow(key)
        };
        if let Some(v) = current.get(&key) {
            f(v);
            return;
        }
        let mut next = HashMap::clone(&current);
        let v = Arc::new(V::default());
        f(&v);
        next.insert(key, v);
        self.map.store(Arc::new(next));
    }

    /// Every label set and its counters, for a scrape.
    pub fn entries(&self) -> Vec<(K, Arc<V>)> {
        self.map
            .load()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn counts_by_label_set_and_folds_new_sets_once_full() {
        let f: Family<String, AtomicU64> = Family::new(2);
        let bump = |k: &str| {
            f.with(
                k.to_string(),
                |_| "other".into(),
                |v| {
                    v.fetch_add(1, Ordering::Relaxed);
                },
            )
        };
        bump("a");
        bump("a");
        bump("b");
        bump("c");
        bump("d");
        let mut got: Vec<(String, u64)> = f
            .entries()
            .into_iter()
            .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![("a".into(), 2), ("b".into(), 1), ("other".into(), 2)]
        );
    }
}
