//! Start-up steps shared by the subcommands: open and migrate the database, set up secrets,
//! run the first-start bootstrap, and print the one-time banner.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use relay_shared::bootstrap::{self, AdminSetup, ADMIN_PASSWORD_ENV, ADMIN_PASSWORD_FILE};
use relay_shared::config::{redact_url, Config};
use relay_shared::db::Db;
use relay_shared::secrets::{self, SecretSource, Secrets};

/// Everything a serving process needs from start-up.
pub struct Prepared {
    /// The migrated database.
    pub db: Db,
    /// JWT secret and cipher.
    pub secrets: Arc<Secrets>,
}

/// Opens the database named by the configuration and applies pending migrations.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let shown = redact_url(&config.database.url);
    let db = Db::connect(&config.database)
        .await
        .with_context(|| format!("cannot open the database {shown}"))?;
    db.migrate()
        .await
        .with_context(|| format!("cannot migrate the database {shown}"))?;
    tracing::info!(database = %shown, backend = db.backend_name(), "database ready");
    Ok(db)
}

/// Database, secrets and the first admin; prints the banner (with a generated password once).
pub async fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    let db = open_db(config).await?;
    let data_dir = &config.server.data_dir;
    let (secrets, sources) = secrets::load_or_generate(data_dir, |k| std::env::var(k).ok())
        .context("cannot set up secrets")?;
    for (name, src) in [
        ("JWT_SECRET", &sources[0]),
        ("RELAY_ENCRYPTION_KEY", &sources[1]),
    ] {
        log_secret_source(name, src);
    }
    let setup = bootstrap::first_start(&db, data_dir, std::env::var(ADMIN_PASSWORD_ENV).ok())
        .await
        .context("first-start bootstrap failed")?;
    print_banner(config, &setup, data_dir);
    restrict_data(config);
    Ok(Prepared {
        db,
        secrets: Arc::new(secrets),
    })
}

/// The data directory is 0700 and its files 0600 (SPEC §11), including those made by earlier
/// versions and the SQLite files (SQLite gives its WAL files the mode of the database file).
fn restrict_data(config: &Config) {
    let mut paths = vec![config.server.data_dir.clone()];
    if let Some(db) = config.database.url.strip_prefix("sqlite://") {
        let file = std::path::Path::new(db.split('?').next().unwrap_or_default());
        if let Some(dir) = file
            .parent()
            .filter(|d| *d != config.server.data_dir && !d.as_os_str().is_empty())
        {
            paths.push(dir.to_path_buf());
        }
    }
    for dir in paths {
        if let Err(e) = relay_shared::fsmode::restrict_dir(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot make the data directory private (0700, files 0600)");
        }
    }
}

fn log_secret_source(name: &str, src: &SecretSource) {
    match src {
        SecretSource::Env => tracing::info!("{name} taken from the environment"),
        SecretSource::File(p) => tracing::info!("{name} loaded from {}", p.display()),
        SecretSource::Generated(p) => tracing::warn!(
            "{name} was not set: generated one and saved it to {} (mode 0600); set it in the environment for multi-instance deployments",
            p.display()
        ),
    }
}

/// A URL a person can open for a listen address (`0.0.0.0` becomes `127.0.0.1`).
pub fn browse_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

fn print_banner(config: &Config, setup: &AdminSetup, data_dir: &Path) {
    let base = browse_url(config.server_addr());
    let mut lines = vec![
        "Claude Code Relay".to_string(),
        format!("  relay (ANTHROPIC_BASE_URL): {base}"),
        format!("  admin console:              {base}/"),
    ];
    match setup {
        AdminSetup::Generated { password, file } => {
            tracing::warn!(
                "first start: created user `admin` with a generated password, printed once on standard output and saved to {} (mode 0600)",
                file.display()
            );
            lines.push(format!("  first login:                admin / {password}"));
            lines.push(format!(
                "  (printed once; also saved to {} with mode 0600)",
                file.display()
            ));
        }
        AdminSetup::FromEnv => {
            tracing::info!(
                "first start: created user `admin` with the password from {ADMIN_PASSWORD_ENV}"
            );
            lines.push(format!(
                "  first login:                admin / (the password in {ADMIN_PASSWORD_ENV})"
            ));
        }
        AdminSetup::Existing => {
            let file = data_dir.join(ADMIN_PASSWORD_FILE);
            if file.exists() {
                lines.push(format!(
                    "  admin password:             see {}",
                    file.display()
                ));
            }
        }
    }
    let rule = "=".repeat(72);
    println!("{rule}\n{}\n{rule}", lines.join("\n"));
}

/// `relay reset-admin-password`: sets and prints a new admin password.
pub async fn reset_admin_password(config: &Config) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let setup = bootstrap::reset_admin_password(
        &db,
        &config.server.data_dir,
        std::env::var(ADMIN_PASSWORD_ENV).ok(),
    )
    .await
    .context("cannot reset the admin password")?;
    match setup {
        AdminSetup::Generated { password, file } => {
            println!(
                "new password for `admin`: {password}\n(also saved to {} with mode 0600)",
                file.display()
            );
        }
        _ => println!("the password of `admin` is now the value of {ADMIN_PASSWORD_ENV}"),
    }
    println!("every earlier login of `admin` has been revoked");
    db.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn browse_urls_replace_unspecified_hosts() {
        assert_eq!(
            browse_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(browse_url("[::1]:9".parse().unwrap()), "http://[::1]:9");
    }
}
