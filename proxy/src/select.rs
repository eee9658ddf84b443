//! Account selection (SPEC §3.2), pure: among the group's usable accounts that allow the model
//! and have a free slot, the session's pinned account when it is one of them (§3.3), else the
//! lowest priority number wins and within that tier the choice is random in proportion to
//! weight. Accounts already tried for this request are skipped. Health is read from each
//! account's live state ([`crate::health::AccountHealth`]).

use std::sync::Arc;

use rand::Rng;
use relay_shared::glob;

use crate::snapshot::{AccountEntry, GroupAccounts};

/// Why no account was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The group has no enabled account at all.
    NoAccounts,
    /// No account of the group allows the model (403 `permission_error`).
    ModelNotAllowed,
    /// Every account allowing the model is cooling down or in error (529), with the earliest
    /// known recovery time.
    Unavailable {
        /// Earliest end of a cooldown, epoch ms.
        earliest_recovery_ms: Option<i64>,
    },
    /// Every usable account is at its concurrency limit.
    AllBusy,
    /// Every usable account was already tried for this request.
    Exhausted,
}

/// The chosen account.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The account.
    pub account: Arc<AccountEntry>,
    /// It was chosen because the session is pinned to it.
    pub sticky: bool,
}

fn has_slot(a: &AccountEntry) -> bool {
    a.max_concurrency == 0 || a.inflight() < a.max_concurrency
}

/// Chooses an account for `model`, skipping ids in `tried`, preferring `pinned` when it is a
/// candidate.
pub fn select(
    group: &GroupAccounts,
    model: &str,
    tried: &[i64],
    pinned: Option<i64>,
    now_ms: i64,
    rng: &mut impl Rng,
) -> Result<Choice, SelectError> {
    if group.accounts.is_empty() {
        return Err(SelectError::NoAccounts);
    }
    let allowing = || {
        group
            .accounts
            .iter()
            .filter(|a| glob::allowed(&a.allowed_models, model))
    };
    if allowing().next().is_none() {
        return Err(SelectError::ModelNotAllowed);
    }
    let usable = || allowing().filter(|a| a.rt.health.usable(now_ms));
    if usable().next().is_none() {
        let earliest_recovery_ms = allowing()
            .filter(|a| !a.rt.health.errored())
            .filter_map(|a| a.rt.health.cooling_until(now_ms))
            .min();
        return Err(SelectError::Unavailable {
            earliest_recovery_ms,
        });
    }
    let untried = || usable().filter(|a| !tried.contains(&a.id));
    if untried().next().is_none() {
        return Err(SelectError::Exhausted);
    }
    if let Some(pin) = pinned {
        if let Some(a) = untried().find(|a| a.id == pin && has_slot(a)) {
            return Ok(Choice {
                account: Arc::clone(a),
                sticky: true,
            });
        }
    }
    // Accounts are sorted by priority: take the first tier that has a free slot.
    let Some(tier) = untried().filter(|a| has_slot(a)).map(|a| a.priority).min() else {
        return Err(SelectError::AllBusy);
    };
    let candidates: Vec<&Arc<AccountEntry>> = untried()
        .filter(|a| a.priority == tier && has_slot(a))
        .collect();
    let total: u64 = candidates.iter().map(|a| u64::from(a.weight)).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    let mut chosen = candidates.last().copied();
    for a in &candidates {
        let w = u64::from(a.weight);
        if pick < w {
            chosen = Some(a);
            break;
        }
        pick -= w;
    }
    chosen
        .map(|a| Choice {
            account: Arc::clone(a),
            sticky: false,
        })
        .ok_or(SelectError::AllBusy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::snapshot::{Credential, UpstreamTarget};
    use rand::SeedableRng;
    use relay_shared::models::{AccountState, AuthHeader, PlatformType};
    use std::sync::atomic::Ordering;

    fn acct(id: i64, priority: i64, weight: u32) -> AccountEntry {
        AccountEntry {
            id,
            name: format!("a{id}"),
            kind: PlatformType::ClaudeConsole,
            target: UpstreamTarget::parse("http://127.0.0.1:1").unwrap(),
            credential: Credential::ApiKey(String::new().into()),
            auth_header: AuthHeader::Both,
            priority,
            weight,
            max_concurrency: 0,
            allowed_models: vec![],
            model_mapping: vec![],
            proxy: None,
            oauth: None,
            rt: Arc::default(),
        }
    }

    fn group(accounts: Vec<AccountEntry>) -> GroupAccounts {
        GroupAccounts {
            accounts: accounts.into_iter().map(Arc::new).collect(),
        }
    }

    #[test]
    fn the_lowest_priority_number_wins_and_weight_sets_the_share() {
        let g = group(vec![acct(1, 10, 100), acct(2, 10, 300), acct(3, 50, 1000)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[select(&g, "m", &[], None, 0, &mut rng).unwrap().account.id as usize] += 1;
        }
        assert_eq!(
            counts[3], 0,
            "a lower tier is used only when the first is exhausted"
        );
        let share = f64::from(counts[2]) / 4000.0;
        assert!(
            (0.70..0.80).contains(&share),
            "weight 300 of 400 ≈ 75 %, got {share}"
        );
        let next = select(&g, "m", &[1, 2], None, 0, &mut rng).unwrap();
        assert_eq!(next.account.id, 3, "after both first-tier accounts failed");
        assert_eq!(
            select(&g, "m", &[1, 2, 3], None, 0, &mut rng).unwrap_err(),
            SelectError::Exhausted
        );
    }

    #[test]
    fn models_cooldowns_and_slots_filter_candidates() {
        let mut haiku = acct(1, 1, 1);
        haiku.allowed_models = vec!["claude-haiku-*".into()];
        let mut cooling = acct(2, 1, 1);
        cooling.allowed_models = vec!["claude-opus-*".into()];
        cooling.rt.health.sync(AccountState::Cooling, Some(5_000));
        let g = group(vec![haiku, cooling]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            select(&g, "gpt-4", &[], None, 0, &mut rng).unwrap_err(),
            SelectError::ModelNotAllowed
        );
        assert_eq!(
            select(&g, "claude-opus-4-8", &[], None, 1_000, &mut rng).unwrap_err(),
            SelectError::Unavailable {
                earliest_recovery_ms: Some(5_000)
            }
        );
        assert_eq!(
            select(&g, "claude-opus-4-8", &[], None, 5_000, &mut rng)
                .unwrap()
                .account
                .id,
            2,
            "cooldown over"
        );

        let mut busy = acct(3, 1, 1);
        busy.max_concurrency = 1;
        busy.rt.inflight.store(1, Ordering::Relaxed);
        let g = group(vec![busy]);
        assert_eq!(
            select(&g, "m", &[], None, 0, &mut rng).unwrap_err(),
            SelectError::AllBusy
        );
        assert_eq!(
            select(&group(vec![]), "m", &[], None, 0, &mut rng).unwrap_err(),
            SelectError::NoAccounts
        );
        let broken = acct(4, 1, 1);
        broken.rt.health.sync(AccountState::Error, None);
        assert_eq!(
            select(&group(vec![broken]), "m", &[], None, 0, &mut rng).unwrap_err(),
            SelectError::Unavailable {
                earliest_recovery_ms: None
            }
        );
    }

    #[test]
    fn ten_thousand_choices_follow_weights_1_to_3_within_two_points() {
        let g = group(vec![acct(1, 5, 1), acct(2, 5, 3), acct(3, 9, 100)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut counts = [0u32; 4];
        for _ in 0..10_000 {
            counts[select(&g, "m", &[], None, 0, &mut rng).unwrap().account.id as usize] += 1;
        }
        let share = f64::from(counts[1]) / 10_000.0;
        assert!(
            (0.23..=0.27).contains(&share),
            "weight 1 of 4 ≈ 25 %, got {share}"
        );
        assert_eq!(
            counts[3], 0,
            "the lower tier only when the higher has no candidate"
        );
        // Full or tried: the lower tier takes over.
        g.accounts[0].rt.inflight.store(0, Ordering::Relaxed);
        let next = select(&g, "m", &[1, 2], None, 0, &mut rng).unwrap();
        assert_eq!(next.account.id, 3);
    }

    #[test]
    fn a_pinned_account_is_chosen_while_it_is_a_candidate() {
        let mut small = acct(1, 5, 1);
        small.max_concurrency = 1;
        let g = group(vec![small, acct(2, 5, 1000), acct(3, 1, 1)]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..50 {
            let c = select(&g, "m", &[], Some(1), 0, &mut rng).unwrap();
            assert!(
                c.sticky && c.account.id == 1,
                "pinned even outside the best tier"
            );
        }
        // Full, tried or unhealthy: another account, not sticky.
        assert!(g.accounts.iter().any(|a| a.id == 1 && a.try_acquire()));
        let c = select(&g, "m", &[], Some(1), 0, &mut rng).unwrap();
        assert!(!c.sticky && c.account.id == 3);
        assert!(!select(&g, "m", &[3], Some(3), 0, &mut rng).unwrap().sticky);
        assert_eq!(
            select(&g, "m", &[], Some(99), 0, &mut rng)
                .unwrap()
                .account
                .id,
            3
        );
    }
}
