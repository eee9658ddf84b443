//! Account selection (SPEC §3.2), pure: among the group's usable accounts that allow the model
//! and have a free slot, the lowest priority number wins, and within that tier the choice is
//! random in proportion to weight. Accounts already tried for this request are skipped.

use std::sync::Arc;

use rand::Rng;
use relay_shared::glob;
use relay_shared::models::AccountState;

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

/// Whether the account can take requests at `now_ms` by its health state.
pub fn healthy(a: &AccountEntry, now_ms: i64) -> bool {
    match a.state {
        AccountState::Active => a.cooldown_until.is_none_or(|t| t <= now_ms),
        AccountState::Cooling => a.cooldown_until.is_some_and(|t| t <= now_ms),
        AccountState::Error => false,
    }
}

fn has_slot(a: &AccountEntry) -> bool {
    a.max_concurrency == 0 || a.inflight() < a.max_concurrency
}

/// Chooses an account for `model`, skipping ids in `tried`.
pub fn select(
    group: &GroupAccounts,
    model: &str,
    tried: &[i64],
    now_ms: i64,
    rng: &mut impl Rng,
) -> Result<Arc<AccountEntry>, SelectError> {
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
    let usable = || allowing().filter(|a| healthy(a, now_ms));
    if usable().next().is_none() {
        let earliest_recovery_ms = allowing()
            .filter(|a| a.state == AccountState::Cooling || a.cooldown_until.is_some())
            .filter_map(|a| a.cooldown_until)
            .min();
        return Err(SelectError::Unavailable {
            earliest_recovery_ms,
        });
    }
    let untried = || usable().filter(|a| !tried.contains(&a.id));
    if untried().next().is_none() {
        return Err(SelectError::Exhausted);
    }
    // Accounts are sorted by priority: take the first tier that has a free slot.
    let mut best: Option<i64> = None;
    for a in untried().filter(|a| has_slot(a)) {
        best = Some(best.map_or(a.priority, |b: i64| b.min(a.priority)));
    }
    let Some(tier) = best else {
        return Err(SelectError::AllBusy);
    };
    let candidates: Vec<&Arc<AccountEntry>> = untried()
        .filter(|a| a.priority == tier && has_slot(a))
        .collect();
    let total: u64 = candidates.iter().map(|a| u64::from(a.weight)).sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for a in &candidates {
        let w = u64::from(a.weight);
        if pick < w {
            return Ok(Arc::clone(a));
        }
        pick -= w;
    }
    candidates
        .last()
        .map(|a| Arc::clone(a))
        .ok_or(SelectError::AllBusy)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::snapshot::{Credential, UpstreamTarget};
    use rand::SeedableRng;
    use relay_shared::models::{AuthHeader, PlatformType};
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
            state: AccountState::Active,
            cooldown_until: None,
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
            counts[select(&g, "m", &[], 0, &mut rng).unwrap().id as usize] += 1;
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
        let next = select(&g, "m", &[1, 2], 0, &mut rng).unwrap();
        assert_eq!(next.id, 3, "after both first-tier accounts failed");
        assert_eq!(
            select(&g, "m", &[1, 2, 3], 0, &mut rng).unwrap_err(),
            SelectError::Exhausted
        );
    }

    #[test]
    fn models_cooldowns_and_slots_filter_candidates() {
        let mut haiku = acct(1, 1, 1);
        haiku.allowed_models = vec!["claude-haiku-*".into()];
        let mut cooling = acct(2, 1, 1);
        cooling.state = AccountState::Cooling;
        cooling.allowed_models = vec!["claude-opus-*".into()];
        cooling.cooldown_until = Some(5_000);
        let g = group(vec![haiku, cooling]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            select(&g, "gpt-4", &[], 0, &mut rng).unwrap_err(),
            SelectError::ModelNotAllowed
        );
        assert_eq!(
            select(&g, "claude-opus-4-8", &[], 1_000, &mut rng).unwrap_err(),
            SelectError::Unavailable {
                earliest_recovery_ms: Some(5_000)
            }
        );
        assert_eq!(
            select(&g, "claude-opus-4-8", &[], 5_000, &mut rng)
                .unwrap()
                .id,
            2,
            "cooldown over"
        );

        let mut busy = acct(3, 1, 1);
        busy.max_concurrency = 1;
        busy.rt.inflight.store(1, Ordering::Relaxed);
        let g = group(vec![busy]);
        assert_eq!(
            select(&g, "m", &[], 0, &mut rng).unwrap_err(),
            SelectError::AllBusy
        );
        assert_eq!(
            select(&group(vec![]), "m", &[], 0, &mut rng).unwrap_err(),
            SelectError::NoAccounts
        );
    }
}
