//! First start (SPEC §6, §11): the default group and, when there are no users, the `admin`
//! user with `ADMIN_PASSWORD` or a generated password that is returned once for printing and
//! written to a 0600 file in the data directory. Never a fixed default password.

use std::path::{Path, PathBuf};

use crate::crypto::{generate_password, hash_password, CryptoError};
use crate::db::{groups, users, Db, DbError};
use crate::models::Role;
use crate::secrets::write_private_file;

/// Environment variable with the first admin's password.
pub const ADMIN_PASSWORD_ENV: &str = "ADMIN_PASSWORD";
/// Login name of the first admin.
pub const ADMIN_USERNAME: &str = "admin";
/// File (in the data directory) holding a generated admin password.
pub const ADMIN_PASSWORD_FILE: &str = "admin-password.txt";
/// Length of generated passwords.
const GENERATED_LEN: usize = 20;
/// Shortest password accepted from `ADMIN_PASSWORD`.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Errors of the first-start steps.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The database refused a step.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Hashing failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The password file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ADMIN_PASSWORD` is too short.
    #[error("ADMIN_PASSWORD must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    /// `reset-admin-password` found no admin user.
    #[error("there is no user named `admin`")]
    NoAdmin,
}

/// What the first start did about the admin user.
#[derive(Debug)]
pub enum AdminSetup {
    /// Users existed already; nothing was done.
    Existing,
    /// Created with the password from `ADMIN_PASSWORD` (not repeated anywhere).
    FromEnv,
    /// Created with a generated password: print it once; it is also in `file`.
    Generated {
        /// The password, to print once.
        password: String,
        /// Where it was written (0600).
        file: PathBuf,
    },
}

/// Creates the default group and, with no users, the first admin.
pub async fn first_start(
    db: &Db,
    data_dir: &Path,
    env_password: Option<String>,
) -> Result<AdminSetup, BootstrapError> {
    groups::ensure_default(db).await?;
    if users::count(db).await? > 0 {
        return Ok(AdminSetup::Existing);
    }
    let (password, generated) = choose_password(env_password)?;
    let hash = hash_blocking(password.clone()).await?;
    let created = users::create(
        db,
        &users::NewUser {
            username: ADMIN_USERNAME,
            email: None,
            password_hash: &hash,
            role: Role::Admin.as_str(),
            must_change_password: false,
        },
    )
    .await;
    match created {
        Ok(_) => {}
        // Another instance created it at the same moment: theirs stands.
        Err(DbError::Conflict { .. }) => return Ok(AdminSetup::Existing),
        Err(e) => return Err(e.into()),
    }
    if generated {
        let file = write_password_file(data_dir, &password)?;
        Ok(AdminSetup::Generated { password, file })
    } else {
        Ok(AdminSetup::FromEnv)
    }
}

/// Sets a new password for `admin` (from `ADMIN_PASSWORD` or generated), revoking its tokens.
pub async fn reset_admin_password(
    db: &Db,
    data_dir: &Path,
    env_password: Option<String>,
) -> Result<AdminSetup, BootstrapError> {
    let admin = users::find_by_username(db, ADMIN_USERNAME)
        .await?
        .ok_or(BootstrapError::NoAdmin)?;
    let (password, generated) = choose_password(env_password)?;
    let hash = hash_blocking(password.clone()).await?;
    users::set_password(db, admin.id, &hash, false).await?;
    users::update(
        db,
        admin.id,
        &users::UserPatch {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .await?;
    if generated {
        let file = write_password_file(data_dir, &password)?;
        Ok(AdminSetup::Generated { password, file })
    } else {
        Ok(AdminSetup::FromEnv)
    }
}

fn choose_password(env_password: Option<String>) -> Result<(String, bool), BootstrapError> {
    match env_password.filter(|p| !p.is_empty()) {
        Some(p) if p.chars().count() < MIN_PASSWORD_LEN => Err(BootstrapError::WeakPassword),
        Some(p) => Ok((p, false)),
        None => Ok((generate_password(GENERATED_LEN), true)),
    }
}

async fn hash_blocking(password: String) -> Result<String, CryptoError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| CryptoError::Hash)?
}

fn write_password_file(data_dir: &Path, password: &str) -> Result<PathBuf, BootstrapError> {
    let file = data_dir.join(ADMIN_PASSWORD_FILE);
    let io = |source| BootstrapError::Io {
        path: file.clone(),
        source,
    };
    crate::secrets::create_private_dir(data_dir).map_err(io)?;
    write_private_file(&file, password.as_bytes()).map_err(io)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::verify_password;
    use crate::db_test;

    db_test!(
        first_start_creates_admin_once_with_a_generated_password,
        |db| {
            let dir = tempfile::tempdir().unwrap();
            let AdminSetup::Generated { password, file } =
                first_start(&db, dir.path(), None).await.unwrap()
            else {
                panic!("expected a generated password");
            };
            assert_eq!(password.len(), GENERATED_LEN);
            assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), password);
            let admin = users::find_by_username(&db, "admin")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(admin.role, "admin");
            assert!(verify_password(&password, &admin.password_hash));
            assert!(groups::default_group(&db).await.is_ok());
            assert!(matches!(
                first_start(&db, dir.path(), None).await.unwrap(),
                AdminSetup::Existing
            ));
            assert_eq!(users::count(&db).await.unwrap(), 1);
        }
    );

    db_test!(
        admin_password_from_env_is_used_and_reset_revokes_tokens,
        |db| {
            let dir = tempfile::tempdir().unwrap();
            let setup = first_start(&db, dir.path(), Some("s3cret-pass".into()))
                .await
                .unwrap();
            assert!(matches!(setup, AdminSetup::FromEnv));
            assert!(!dir.path().join(ADMIN_PASSWORD_FILE).exists());
            let before = users::find_by_username(&db, "admin")
                .await
                .unwrap()
                .unwrap();
            assert!(verify_password("s3cret-pass", &before.password_hash));

            assert!(matches!(
                reset_admin_password(&db, dir.path(), Some("short".into())).await,
                Err(BootstrapError::WeakPassword)
            ));
            let AdminSetup::Generated { password, .. } =
                reset_admin_password(&db, dir.path(), None).await.unwrap()
            else {
                panic!("expected a generated password");
            };
            let after = users::find_by_username(&db, "admin")
                .await
                .unwrap()
                .unwrap();
            assert!(verify_password(&password, &after.password_hash));
            assert!(after.token_version > before.token_version);
        }
    );
}
