//! Shared state of the admin API: cheap handles cloned into every handler.

use std::sync::Arc;
use std::time::Instant;

use relay_shared::config::Config;
use relay_shared::db::Db;
use relay_shared::secrets::Secrets;

use crate::auth::throttle::LoginThrottle;

/// Handles every handler can reach through `State<AppState>`.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration loaded at start.
    pub config: Arc<Config>,
    /// JWT secret and the cipher for account secrets.
    pub secrets: Arc<Secrets>,
    /// When the process started, for `/status`.
    pub started: Instant,
    /// Failed-login bookkeeping (per username and per IP).
    pub throttle: Arc<LoginThrottle>,
}

impl AppState {
    /// Builds the state.
    pub fn new(db: Db, config: Arc<Config>, secrets: Arc<Secrets>) -> Self {
        let throttle = Arc::new(LoginThrottle::new(
            config.auth.max_failed_logins,
            config.auth.lockout,
        ));
        Self {
            db,
            config,
            secrets,
            started: Instant::now(),
            throttle,
        }
    }
}
