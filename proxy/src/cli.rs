//! Command line (clap): `relay [--config PATH] [serve|proxy|admin|migrate|check-config|reset-admin-password|healthcheck]`,
//! and the secret check `check-config` adds to the configuration's own validation.

pub mod healthcheck;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use relay_shared::config::Config;
use relay_shared::secrets::{self, ENCRYPTION_KEY_ENV, JWT_SECRET_ENV};

/// Default configuration file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config.yaml";

/// Claude Code Relay: share a pool of Claude accounts through relay API keys.
#[derive(Debug, Parser)]
#[command(name = "relay", version, about)]
pub struct Cli {
    /// Configuration file (default: config.yaml; all defaults when that file is absent).
    #[arg(long, short = 'c', global = true, env = "RELAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the front door with the admin API inside (the default).
    Serve,
    /// Run only the front door; the admin API runs elsewhere (`relay admin`).
    Proxy,
    /// Run only the admin API.
    Admin,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration and exit (non-zero when invalid).
    CheckConfig,
    /// Set a new password for `admin` (ADMIN_PASSWORD or generated and printed) and exit.
    ResetAdminPassword,
    /// Ask the running front door's GET /health (on server.listen) and exit 0 when it answers 200.
    Healthcheck,
}

impl Cli {
    /// The configuration path and whether it must exist (it must when named explicitly).
    pub fn config_path(&self) -> (PathBuf, bool) {
        match &self.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        }
    }
}

/// What `check-config` checks beyond the file: the secrets `serve` would use — from `env`, else
/// the files an earlier start kept under `server.data_dir` — are checked by the very code
/// `serve` runs ([`secrets::load_or_generate`]), pointed at a scratch folder so that nothing is
/// created or changed in the data directory. The error names the variable and the rule.
pub fn check_secrets(config: &Config, env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let kept = config.server.data_dir.join("secrets");
    let value = |var: &str, file: &str| {
        env(var).filter(|v| !v.trim().is_empty()).or_else(|| {
            let kept = std::fs::read_to_string(kept.join(file)).ok()?;
            Some(kept.trim().to_string())
        })
    };
    let jwt = value(JWT_SECRET_ENV, "jwt_secret");
    let key = value(ENCRYPTION_KEY_ENV, "encryption_key");
    let scratch = Scratch::new().map_err(|e| format!("cannot check the secrets: {e}"))?;
    let lookup = |k: &str| match k {
        JWT_SECRET_ENV => jwt.clone(),
        ENCRYPTION_KEY_ENV => key.clone(),
        _ => None,
    };
    secrets::load_or_generate(scratch.path(), lookup)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A fresh folder under the system's temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("relay-check-config-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config_in(dir: &Path) -> Config {
        let mut c = Config::default();
        c.server.data_dir = dir.to_path_buf();
        c
    }

    #[test]
    fn a_short_jwt_secret_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let c = config_in(dir.path());
        let short = |k: &str| (k == JWT_SECRET_ENV).then(|| "short-secret".to_string());
        let err = check_secrets(&c, short).unwrap_err();
        assert!(err.contains("JWT_SECRET"), "{err}");
        let long = |k: &str| (k == JWT_SECRET_ENV).then(|| "j".repeat(40));
        assert!(check_secrets(&c, long).is_ok());
        assert!(
            check_secrets(&c, |_| None).is_ok(),
            "generated at the first start"
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the data directory stays untouched"
        );
    }

    #[test]
    fn kept_secret_files_are_checked_and_a_bad_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/jwt_secret"), "tiny\n").unwrap();
        let c = config_in(dir.path());
        assert!(check_secrets(&c, |_| None)
            .unwrap_err()
            .contains("JWT_SECRET"));
        let bad_key = |k: &str| match k {
            JWT_SECRET_ENV => Some("j".repeat(40)),
            _ => Some("not-a-key".to_string()),
        };
        assert!(check_secrets(&c, bad_key).is_err());
    }
}
