//! The in-memory snapshot the hot path reads (SPEC §2.2, §4): keys, accounts and groups,
//! rebuilt from the database whenever the change version moves, and swapped atomically
//! (`ArcSwap`), so a request never waits on the database. Per-account runtime counters live in
//! [`AccountRuntime`] and survive rebuilds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use relay_shared::crypto::SecretBox;
use relay_shared::db::{accounts, api_keys, groups, settings, users, Db, DbError};
use relay_shared::db::{accounts::AccountRow, api_keys::ApiKeyRow, users::UserRow};
use relay_shared::models::{AccountState, AuthHeader, PlatformType, Role};
use relay_shared::proxy_spec::ProxySpec;
use relay_shared::upstream_auth;
use sha2::{Digest, Sha256};
use url::Url;
use zeroize::Zeroizing;

use crate::health::AccountHealth;
use crate::limits::KeyLimits;
use crate::readiness::Readiness;

/// A relay key as the hot path sees it.
#[derive(Debug)]
pub struct KeyEntry {
    /// Key id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Group whose accounts serve it.
    pub group_id: i64,
    /// Key switch.
    pub enabled: bool,
    /// Owner's switch.
    pub owner_enabled: bool,
    /// The owner may use the key's group: an administrator, its owner or a member.
    pub owner_in_group: bool,
    /// Expiry, epoch ms.
    pub expires_at: Option<i64>,
    /// Allowed model globs (empty: all).
    pub allowed_models: Vec<String>,
    /// Spend, rate and concurrency limits.
    pub limits: KeyLimits,
}

/// Where an account's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTarget {
    /// `https`.
    pub tls: bool,
    /// Host name (or IP) for DNS, SNI and `Host`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path prefix of the base URL without a trailing slash (`/api/anthropic`), or empty.
    pub path_prefix: String,
    /// Value of the `Host` header.
    pub host_header: String,
}

impl UpstreamTarget {
    /// Parses a base URL such as `https://open.bigmodel.cn/api/anthropic`.
    pub fn parse(base: &str) -> Option<Self> {
        let url = Url::parse(base).ok()?;
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default()?;
        let default_port = if tls { 443 } else { 80 };
        let host_header = match url.port() {
            Some(p) if p != default_port => format!("{}:{p}", url.host_str()?),
            _ => url.host_str()?.to_string(),
        };
        Some(Self {
            tls,
            host,
            port,
            path_prefix: url.path().trim_end_matches('/').to_string(),
            host_header,
        })
    }
}

pub use relay_shared::upstream_auth::Credential;

/// Counters and health of one account that outlive snapshot rebuilds.
#[derive(Debug, Default)]
pub struct AccountRuntime {
    /// Requests in flight.
    pub inflight: AtomicU32,
    /// Live health state (cooldown, error), synced from the stored state at each rebuild.
    pub health: AccountHealth,
}

/// What refreshing an OAuth account's access token needs.
pub struct OAuthTokens {
    /// The refresh token (single use: rotated on every refresh).
    pub refresh_token: Zeroizing<String>,
    /// When the access token in [`AccountEntry::credential`] expires, epoch ms.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An upstream account as the hot path sees it.
#[derive(Debug)]
pub struct AccountEntry {
    /// Account id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Kind.
    pub kind: PlatformType,
    /// Upstream.
    pub target: UpstreamTarget,
    /// Decrypted credential.
    pub credential: Credential,
    /// Header(s) for an API key.
    pub auth_header: AuthHeader,
    /// Smaller first.
    pub priority: i64,
    /// Share within a priority tier (≥ 1).
    pub weight: u32,
    /// 0 = unlimited.
    pub max_concurrency: u32,
    /// Allowed model globs (empty: all).
    pub allowed_models: Vec<String>,
    /// Requested model or glob → upstream model.
    pub model_mapping: Vec<(String, String)>,
    /// Outbound proxy of this account's upstream connections (SPEC §3.8), if any.
    pub proxy: Option<Arc<ProxySpec>>,
    /// The refresh side of an OAuth account (`None`: not OAuth, or a long-lived setup token
    /// that is never refreshed).
    pub oauth: Option<OAuthTokens>,
    /// Runtime counters and health.
    pub rt: Arc<AccountRuntime>,
}

impl AccountEntry {
    /// Requests in flight now.
    pub fn inflight(&self) -> u32 {
        self.rt.inflight.load(Ordering::Relaxed)
    }

    /// Takes an in-flight slot if the account is below `max_concurrency` (atomically: two
    /// requests never both take the last slot); false when full.
    pub fn try_acquire(&self) -> bool {
        let max = self.max_concurrency;
        self.rt
            .inflight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (max == 0 || n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back a slot taken by [`Self::try_acquire`].
    pub fn release(&self) {
        self.rt.inflight.fetch_sub(1, Ordering::AcqRel);
    }

    /// The model to send upstream for `requested`: the first mapping that matches, else the same.
    pub fn map_model<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model_mapping
            .iter()
            .find(|(from, _)| relay_shared::glob::glob_match(from, requested))
            .map_or(requested, |(_, to)| to.as_str())
    }
}

/// The accounts of one group, sorted by priority then id.
#[derive(Debug, Default)]
pub struct GroupAccounts {
    /// Accounts.
    pub accounts: Vec<Arc<AccountEntry>>,
}

/// Everything the hot path needs, as of one change version.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The change version this snapshot reflects.
    pub version: i64,
    keys: HashMap<[u8; 32], Arc<KeyEntry>>,
    groups: HashMap<i64, Arc<GroupAccounts>>,
}

impl Snapshot {
    /// The key whose SHA-256 is `hash`.
    pub fn key(&self, hash: &[u8; 32]) -> Option<&Arc<KeyEntry>> {
        self.keys.get(hash)
    }

    /// Every account of the pool.
    pub fn accounts(&self) -> impl Iterator<Item = &Arc<AccountEntry>> {
        self.groups.values().flat_map(|g| g.accounts.iter())
    }

    /// The account with `id`, if it is in the pool.
    pub fn account(&self, id: i64) -> Option<&Arc<AccountEntry>> {
        self.accounts().find(|a| a.id == id)
    }

    /// The accounts of a group (empty when none).
    pub fn group(&self, group_id: i64) -> Option<&Arc<GroupAccounts>> {
        self.groups.get(&group_id)
    }
}

/// SHA-256 of a presented key.
pub fn key_digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// The rows a snapshot is built from.
#[derive(Debug, Default)]
pub struct Rows {
    /// Users.
    pub users: Vec<UserRow>,
    /// Relay keys.
    pub keys: Vec<ApiKeyRow>,
    /// Accounts.
    pub accounts: Vec<AccountRow>,
    /// (group, user) pairs of members and owners.
    pub access: Vec<(i64, i64)>,
}

/// Builds a snapshot from rows. Accounts whose secret cannot be decrypted or whose URL is
/// unusable are left out with a warning (by id; never the secret).
pub fn build(
    version: i64,
    rows: &Rows,
    secret_box: &SecretBox,
    runtimes: &Mutex<HashMap<i64, Arc<AccountRuntime>>>,
    anthropic_base: &str,
) -> Snapshot {
    let (user_rows, key_rows, account_rows) = (&rows.users, &rows.keys, &rows.accounts);
    let enabled_users: HashMap<i64, bool> = user_rows.iter().map(|u| (u.id, u.enabled)).collect();
    let admins: HashSet<i64> = user_rows
        .iter()
        .filter(|u| u.role == Role::Admin.as_str())
        .map(|u| u.id)
        .collect();
    let access: HashSet<(i64, i64)> = rows.access.iter().copied().collect();
    let mut keys = HashMap::with_capacity(key_rows.len());
    for k in key_rows {
        let Ok(raw) = hex::decode(&k.key_hash) else {
            continue;
        };
        let Ok(hash) = <[u8; 32]>::try_from(raw.as_slice()) else {
            continue;
        };
        let entry = KeyEntry {
            id: k.id,
            user_id: k.user_id,
            group_id: k.group_id,
            enabled: k.enabled,
            owner_enabled: enabled_users.get(&k.user_id).copied().unwrap_or(false),
            owner_in_group: admins.contains(&k.user_id)
                || access.contains(&(k.group_id, k.user_id)),
            expires_at: k.expires_at,
            allowed_models: k.allowed_models().unwrap_or_default(),
            limits: KeyLimits::of_row(k),
        };
        keys.insert(hash, Arc::new(entry));
    }
    let mut rts = runtimes.lock().unwrap_or_else(|e| e.into_inner());
    let mut by_group: HashMap<i64, Vec<Arc<AccountEntry>>> = HashMap::new();
    for a in account_rows.iter().filter(|a| a.enabled) {
        match account_entry(a, secret_box, anthropic_base) {
            Ok(mut entry) => {
                entry.rt = rts.entry(a.id).or_default().clone();
                let state = AccountState::parse(&a.state).unwrap_or(AccountState::Active);
                entry.rt.health.sync(state, a.cooldown_until);
                by_group
                    .entry(a.group_id)
                    .or_default()
                    .push(Arc::new(entry));
            }
            Err(why) => tracing::warn!(account_id = a.id, "account left out of the pool: {why}"),
        }
    }
    rts.retain(|id, _| account_rows.iter().any(|a| a.id == *id));
    let groups = by_group
        .into_iter()
        .map(|(g, mut accounts)| {
            accounts.sort_by_key(|a| (a.priority, a.id));
            (g, Arc::new(GroupAccounts { accounts }))
        })
        .collect();
    Snapshot {
        version,
        keys,
        groups,
    }
}

fn account_entry(
    a: &AccountRow,
    sb: &SecretBox,
    anthropic_base: &str,
) -> Result<AccountEntry, String> {
    let kind = PlatformType::parse(&a.platform_type).ok_or("unknown platform_type")?;
    let base = match (kind, a.request_url.trim()) {
        (PlatformType::Claude, "") => anthropic_base,
        (_, url) => url,
    };
    let target = UpstreamTarget::parse(base).ok_or("request_url is not an http(s) URL")?;
    let decrypt = |v: &Option<String>| -> Result<Option<Zeroizing<String>>, String> {
        v.as_deref()
            .map(|c| sb.decrypt(c).map_err(|e| e.to_string()))
            .transpose()
    };
    let access = decrypt(&a.access_token_enc)?;
    let has_access = access.is_some();
    let credential =
        upstream_auth::pick(kind, access, decrypt(&a.secret_enc)?).map_err(|e| e.to_string())?;
    let oauth = match (kind, has_access, decrypt(&a.refresh_token_enc)?) {
        (PlatformType::Claude, true, Some(refresh_token)) => Some(OAuthTokens {
            refresh_token,
            expires_at: a.token_expires_at,
        }),
        _ => None,
    };
    Ok(AccountEntry {
        id: a.id,
        name: a.name.clone(),
        kind,
        target,
        credential,
        auth_header: AuthHeader::parse(&a.auth_header).unwrap_or(AuthHeader::Both),
        priority: a.priority,
        weight: u32::try_from(a.weight.max(1)).unwrap_or(u32::MAX),
        max_concurrency: u32::try_from(a.max_concurrency.max(0)).unwrap_or(u32::MAX),
        allowed_models: a.allowed_models().map_err(|e| e.to_string())?,
        model_mapping: a
            .model_mapping()
            .map_err(|e| e.to_string())?
            .into_iter()
            .collect(),
        proxy: decrypt(&a.proxy_url_enc)?
            .map(|url| ProxySpec::parse(&url).map(Arc::new))
            .transpose()
            .map_err(|e| format!("proxy_url: {e}"))?,
        oauth,
        rt: Arc::default(),
    })
}

/// Holds the current snapshot and rebuilds it from the database.
pub struct SnapshotStore {
    current: ArcSwap<Snapshot>,
    runtimes: Mutex<HashMap<i64, Arc<AccountRuntime>>>,
    secret_box: SecretBox,
    anthropic_base: String,
}

impl SnapshotStore {
    /// An empty store (no key is known until [`SnapshotStore::reload`] succeeds).
    pub fn new(secret_box: SecretBox, anthropic_base: String) -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            runtimes: Mutex::new(HashMap::new()),
            secret_box,
            anthropic_base,
        }
    }

    /// The current snapshot (a cheap pointer copy).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Reads every key, account and user and swaps in a new snapshot at `version`.
    pub async fn reload(&self, db: &Db, version: i64) -> Result<(), DbError> {
        let rows = Rows {
            users: users::list_all(db).await?,
            keys: api_keys::list_all(db).await?,
            accounts: accounts::list_all(db).await?,
            access: groups::access_pairs(db).await?,
        };
        let snap = build(
            version,
            &rows,
            &self.secret_box,
            &self.runtimes,
            &self.anthropic_base,
        );
        tracing::debug!(
            version,
            keys = rows.keys.len(),
            accounts = rows.accounts.len(),
            "snapshot reloaded"
        );
        self.current.store(Arc::new(snap));
        Ok(())
    }

    /// Watches the change version every `every`, and at once when `wake` is notified (a
    /// change announced here or on another instance), and reloads when it moves; marks
    /// readiness after the first successful load. Runs forever.
    pub async fn watch(
        self: Arc<Self>,
        db: Db,
        ready: Arc<Readiness>,
        every: Duration,
        wake: Arc<tokio::sync::Notify>,
    ) {
        let mut loaded: Option<i64> = None;
        loop {
            match settings::change_version(&db).await {
                Ok(v) if loaded != Some(v) => match self.reload(&db, v).await {
                    Ok(()) => {
                        loaded = Some(v);
                        ready.set_snapshot_loaded();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "snapshot reload failed; keeping the previous one")
                    }
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "change version unavailable; keeping the snapshot")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = wake.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base_urls_keep_their_path_prefix_and_port() {
        let t = UpstreamTarget::parse("https://open.bigmodel.cn/api/anthropic/").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path_prefix.as_str()),
            (true, "open.bigmodel.cn", 443, "/api/anthropic")
        );
        assert_eq!(t.host_header, "open.bigmodel.cn");
        let t = UpstreamTarget::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (
                t.tls,
                t.port,
                t.path_prefix.as_str(),
                t.host_header.as_str()
            ),
            (false, 9000, "", "127.0.0.1:9000")
        );
        assert!(UpstreamTarget::parse("ftp://x").is_none());
    }
}
