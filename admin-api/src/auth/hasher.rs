//! Argon2id hashing and verification under a concurrency cap (SPEC §6): each hash takes about
//! 19 MiB, so at most `auth.max_concurrent_hashes` run at once, on blocking threads; other
//! callers wait for a turn without holding memory. The permit travels into the blocking task,
//! so a request that is dropped mid-hash keeps its turn until the hash really ends. Counters
//! (hashes run, most at once) are kept for the tests and for operators.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use relay_shared::crypto;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::ApiError;

/// What the hasher has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    /// Hashes and verifications run to the end (a verification against the dummy hash
    /// included).
    pub runs: u64,
    /// The most that ran at the same moment.
    pub peak: usize,
    /// The configured cap.
    pub cap: usize,
}

#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    peak: AtomicUsize,
    runs: AtomicU64,
}

/// The one way the admin API hashes and checks passwords.
#[derive(Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    cap: usize,
    counters: Arc<Counters>,
}

impl PasswordHasher {
    /// At most `cap` (at least 1) hashes at once.
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(cap)),
            cap,
            counters: Arc::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> HashStats {
        HashStats {
            runs: self.counters.runs.load(Ordering::SeqCst),
            peak: self.counters.peak.load(Ordering::SeqCst),
            cap: self.cap,
        }
    }

    /// Hashes `password` with argon2id and a fresh salt.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let password = Zeroizing::new(password);
        self.run(move || crypto::hash_password(&password))
            .await?
            .map_err(ApiError::internal)
    }

    /// Checks `password` against `phc`. With no stored hash (unknown user) a dummy hash is
    /// checked, so that the answer costs the same either way.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, ApiError> {
        let password = Zeroizing::new(password);
        self.run(move || match phc {
            Some(phc) => crypto::verify_password(&password, &phc),
            None => {
                crypto::verify_password(&password, dummy_hash());
                false
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let counters = self.counters.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
            counters.peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            counters.running.fetch_sub(1, Ordering::SeqCst);
            counters.runs.fetch_add(1, Ordering::SeqCst);
            out
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// A hash of a random password with the default parameters, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| crypto::hash_password(&crypto::generate_password(24)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_callers_share_the_cap_and_every_check_is_counted() {
        let hasher = Arc::new(PasswordHasher::new(2));
        let phc = hasher.hash("right password".into()).await.unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let (h, phc) = (hasher.clone(), phc.clone());
                tokio::spawn(async move {
                    let pw = if i % 2 == 0 {
                        "right password"
                    } else {
                        "wrong"
                    };
                    h.verify(pw.into(), Some(phc)).await.unwrap()
                })
            })
            .collect();
        let mut right = 0;
        for t in tasks {
            right += usize::from(t.await.unwrap());
        }
        assert_eq!(right, 6);
        let s = hasher.stats();
        assert_eq!(s.runs, 13);
        assert!((1..=2).contains(&s.peak), "{s:?}");
        assert!(!hasher.verify("x".into(), None).await.unwrap());
    }
}
