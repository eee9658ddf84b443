//! Command line (clap): `relay [--config PATH] [serve|proxy|admin|migrate|check-config|reset-admin-password]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
