//! OAuth access tokens of `claude` accounts (SPEC §3.7): refreshed `health.refresh_before`
//! their expiry, by a background pass and, when a request finds its token about to expire or
//! rejected, on the request path. One refresh per account at a time, however many requests
//! need it (single-flight): the others wait for it and use its token. The rotated refresh
//! token is saved with the new access token, only the token columns, then the change version
//! moves so every snapshot picks them up; until then the fresh tokens are served from here.
//! A refused refresh puts the account in `error` with the reason. Long-lived setup tokens
//! (no refresh token) are never refreshed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_admin::http_client::HttpClients;
use relay_admin::oauth_client::{refresh_token, OAuthError};
use relay_shared::config::OAuthConfig;
use relay_shared::crypto::SecretBox;
use relay_shared::db::{accounts, now_ms, settings, Db};
use zeroize::Zeroizing;

use crate::health::HealthBook;
use crate::snapshot::{AccountEntry, SnapshotStore};

/// How often the background pass looks for tokens about to expire.
const PASS_EVERY: Duration = Duration::from_secs(30);

/// Why no fresh token could be had.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The account has no refresh token.
    #[error("the account has no refresh token")]
    NotRefreshable,
    /// The token endpoint refused or failed.
    #[error(transparent)]
    Endpoint(#[from] OAuthError),
    /// The new tokens could not be stored.
    #[error("the refreshed tokens could not be stored: {0}")]
    Store(String),
}

/// Tokens refreshed here.
#[derive(Clone)]
struct Fresh {
    access: Arc<Zeroizing<String>>,
    refresh: Arc<Zeroizing<String>>,
    expires_at: Option<i64>,
}

/// Refreshes OAuth tokens; see the module documentation.
pub struct OAuthRefresher {
    db: Db,
    secret_box: SecretBox,
    cfg: OAuthConfig,
    refresh_before_ms: i64,
    http: HttpClients,
    health: Arc<HealthBook>,
    /// One lock per account: a refresh holds it.
    flights: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// The newest tokens of each account refreshed by this process.
    fresh: Mutex<HashMap<i64, Fresh>>,
}

impl OAuthRefresher {
    /// A refresher storing into `db`, against `cfg`'s token endpoint.
    pub fn new(
        db: Db,
        secret_box: SecretBox,
        cfg: OAuthConfig,
        refresh_before: Duration,
        health: Arc<HealthBook>,
    ) -> Self {
        Self {
            db,
            secret_box,
            cfg,
            refresh_before_ms: i64::try_from(refresh_before.as_millis()).unwrap_or(i64::MAX / 4),
            http: HttpClients::new(),
            health,
            flights: Mutex::new(HashMap::new()),
            fresh: Mutex::new(HashMap::new()),
        }
    }

    fn fresh_of(&self, id: i64) -> Option<Fresh> {
        self.fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// The HTTP client for `a`'s token endpoint calls: through its proxy when it has one.
    fn client(&self, a: &AccountEntry) -> Result<reqwest::Client, RefreshError> {
        let Some(spec) = &a.proxy else {
            return self.http.client(None).map_err(|_| {
                RefreshError::Endpoint(OAuthError::Unreachable("no HTTP client".into()))
            });
        };
        let unreachable = |e: reqwest::Error| {
            RefreshError::Endpoint(OAuthError::Unreachable(format!(
                "proxy {}: {e}",
                spec.redacted()
            )))
        };
        reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(relay_admin::http_client::TIMEOUT)
            .connect_timeout(relay_admin::http_client::CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .proxy(spec.reqwest_proxy().map_err(unreachable)?)
            .build()
            .map_err(unreachable)
    }

    fn flight(&self, id: i64) -> Arc<tokio::sync::Mutex<()>> {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(id)
            .or_default()
            .clone()
    }

    /// The access token to send for `a` now, when it is not the snapshot's: one refreshed
    /// here that the snapshot does not have yet, or a new one when the snapshot's expires
    /// within `health.refresh_before` (refreshed now, single-flight). `None`: use the
    /// snapshot's credential.
    pub async fn token_for(&self, a: &AccountEntry) -> Option<Arc<Zeroizing<String>>> {
        let oauth = a.oauth.as_ref()?;
        let expires = self
            .fresh_of(a.id)
            .filter(|f| f.expires_at > oauth.expires_at)
            .map_or(oauth.expires_at, |f| f.expires_at);
        let due = expires.is_some_and(|t| t - self.refresh_before_ms <= now_ms());
        if due {
            return match self.refresh(a, None).await {
                Ok(token) => Some(token),
                Err(e) => {
                    tracing::warn!(account_id = a.id, error = %e, "OAuth token refresh failed; using the current token");
                    self.fresh_of(a.id).map(|f| f.access)
                }
            };
        }
        self.fresh_of(a.id)
            .filter(|f| f.expires_at > oauth.expires_at)
            .map(|f| f.access)
    }

    /// After the upstream rejected `used` (401/403): a fresh token, refreshed now unless
    /// another request already replaced `used`.
    pub async fn after_rejection(
        &self,
        a: &AccountEntry,
        used: &str,
    ) -> Result<Arc<Zeroizing<String>>, RefreshError> {
        self.refresh(a, Some(used)).await
    }

    /// Refreshes `a`'s tokens once, single-flight: a caller that waited for another's
    /// refresh gets that one's token. `stale` is a token known to be bad (it must not be
    /// returned).
    async fn refresh(
        &self,
        a: &AccountEntry,
        stale: Option<&str>,
    ) -> Result<Arc<Zeroizing<String>>, RefreshError> {
        let oauth = a.oauth.as_ref().ok_or(RefreshError::NotRefreshable)?;
        let seen = self.fresh_of(a.id).map(|f| f.access);
        let flight = self.flight(a.id);
        let _turn = flight.lock().await;
        // Someone refreshed while this request waited for its turn: use theirs.
        if let Some(f) = self.fresh_of(a.id) {
            let newer = seen.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &f.access));
            let good = stale.is_none_or(|s| s != f.access.as_str());
            let valid = f
                .expires_at
                .is_none_or(|t| t - self.refresh_before_ms > now_ms());
            if newer && good && valid {
                return Ok(f.access);
            }
        }
        let refresh = self.fresh_of(a.id).map_or_else(
            || oauth.refresh_token.to_string(),
            |f| f.refresh.to_string(),
        );
        let http = self.client(a)?;
        let tokens = match refresh_token(&http, &self.cfg, &refresh).await {
            Ok(t) => t,
            Err(e) => {
                if matches!(e, OAuthError::Rejected { .. }) {
                    let detail = format!("token refresh refused: {e}");
                    self.health.credential_rejected(a, &detail);
                }
                return Err(e.into());
            }
        };
        let now = now_ms();
        let expires_at = tokens.expires_at_ms(now);
        let access = Arc::new(tokens.access_token);
        let new_refresh = tokens
            .refresh_token
            .map_or_else(|| Arc::new(Zeroizing::new(refresh.clone())), Arc::new);
        let rotated = new_refresh.as_str() != refresh;
        let access_enc = self.secret_box.encrypt(access.as_str());
        let refresh_enc = rotated.then(|| self.secret_box.encrypt(new_refresh.as_str()));
        accounts::update_tokens(
            &self.db,
            a.id,
            &access_enc,
            refresh_enc.as_deref(),
            expires_at,
        )
        .await
        .map_err(|e| RefreshError::Store(e.to_string()))?;
        if let Err(e) = settings::bump_change_version(&self.db).await {
            tracing::warn!(error = %e, "change version not bumped after a token refresh");
        }
        self.fresh.lock().unwrap_or_else(|e| e.into_inner()).insert(
            a.id,
            Fresh {
                access: access.clone(),
                refresh: new_refresh,
                expires_at,
            },
        );
        tracing::info!(account_id = a.id, expires_at = ?expires_at, rotated, "OAuth access token refreshed");
        Ok(access)
    }

    /// Refreshes, every [`PASS_EVERY`], the tokens of the pool that expire within
    /// `health.refresh_before`. Runs forever.
    pub async fn run(self: Arc<Self>, store: Arc<SnapshotStore>) {
        let mut tick = tokio::time::interval(PASS_EVERY);
        loop {
            tick.tick().await;
            let snap = store.load();
            for a in snap.accounts() {
                if a.oauth.is_some() && a.rt.health.usable(now_ms()) {
                    let _ = self.token_for(a).await;
                }
            }
        }
    }
}
