//! Process secrets (SPEC §7, §11): `JWT_SECRET` and `RELAY_ENCRYPTION_KEY` come from the
//! environment; when absent they are generated once and kept in `<data_dir>/secrets/`
//! (folder 0700, files 0600), so a restart reuses them. Values are never logged, only paths.

use std::fs;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{generate_encryption_key, generate_jwt_secret, CryptoError, SecretBox};

/// Environment variable holding the JWT signing secret.
pub const JWT_SECRET_ENV: &str = "JWT_SECRET";
/// Environment variable holding the AES-256-GCM key for account secrets.
pub const ENCRYPTION_KEY_ENV: &str = "RELAY_ENCRYPTION_KEY";
/// Shortest JWT secret accepted.
const MIN_JWT_SECRET_LEN: usize = 32;

/// The secrets a process needs.
#[derive(Clone)]
pub struct Secrets {
    /// Key that signs and checks console tokens.
    pub jwt_secret: Zeroizing<String>,
    /// Cipher for account secrets at rest.
    pub secret_box: SecretBox,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// Where a secret came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable.
    Env,
    /// A file written by an earlier start.
    File(PathBuf),
    /// Generated now and written to this file.
    Generated(PathBuf),
}

/// Why the secrets could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The secrets folder or a file could not be read or written.
    #[error("cannot use secret file {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `JWT_SECRET` is too short.
    #[error("JWT_SECRET must be at least {MIN_JWT_SECRET_LEN} characters")]
    WeakJwtSecret,
    /// The encryption key is malformed.
    #[error(transparent)]
    Key(#[from] CryptoError),
}

/// Loads both secrets from `env` (a lookup such as `|k| std::env::var(k).ok()`) or from
/// `data_dir/secrets`, generating missing ones. Returns the secrets and where each came from
/// (JWT first, then the encryption key).
pub fn load_or_generate(
    data_dir: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Secrets, [SecretSource; 2]), SecretsError> {
    let dir = data_dir.join("secrets");
    let (jwt, jwt_src) = one(&dir, "jwt_secret", env(JWT_SECRET_ENV), generate_jwt_secret)?;
    if jwt.trim().len() < MIN_JWT_SECRET_LEN {
        return Err(SecretsError::WeakJwtSecret);
    }
    let (key, key_src) = one(
        &dir,
        "encryption_key",
        env(ENCRYPTION_KEY_ENV),
        generate_encryption_key,
    )?;
    let secret_box = SecretBox::from_key_text(&key)?;
    Ok((
        Secrets {
            jwt_secret: Zeroizing::new(jwt.trim().to_string()),
            secret_box,
        },
        [jwt_src, key_src],
    ))
}

fn one(
    dir: &Path,
    name: &str,
    from_env: Option<String>,
    generate: fn() -> String,
) -> Result<(Zeroizing<String>, SecretSource), SecretsError> {
    if let Some(v) = from_env.filter(|v| !v.trim().is_empty()) {
        return Ok((Zeroizing::new(v), SecretSource::Env));
    }
    let path = dir.join(name);
    let io = |source| SecretsError::Io {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(v) if !v.trim().is_empty() => {
            return Ok((
                Zeroizing::new(v.trim().to_string()),
                SecretSource::File(path.clone()),
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    create_private_dir(dir).map_err(|source| SecretsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let value = Zeroizing::new(generate());
    write_private_file(&path, value.as_bytes()).map_err(io)?;
    Ok((value, SecretSource::Generated(path)))
}

pub use crate::fsmode::{create_private_dir, write_private_file};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn missing_secrets_are_generated_once_with_private_modes_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, src) = load_or_generate(dir.path(), |_| None).unwrap();
        assert!(matches!(src[0], SecretSource::Generated(_)));
        assert!(matches!(src[1], SecretSource::Generated(_)));
        for f in ["jwt_secret", "encryption_key"] {
            let mode = fs::metadata(dir.path().join("secrets").join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let dmode = fs::metadata(dir.path().join("secrets"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);

        let (b, src) = load_or_generate(dir.path(), |_| None).unwrap();
        assert!(matches!(src[0], SecretSource::File(_)));
        assert_eq!(a.jwt_secret, b.jwt_secret);
        let ct = a.secret_box.encrypt("x");
        assert_eq!(b.secret_box.decrypt(&ct).unwrap().as_str(), "x");
    }

    #[test]
    fn environment_wins_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_encryption_key();
        let env = |k: &str| match k {
            JWT_SECRET_ENV => Some("j".repeat(40)),
            ENCRYPTION_KEY_ENV => Some(key.clone()),
            _ => None,
        };
        let (s, src) = load_or_generate(dir.path(), env).unwrap();
        assert_eq!(src, [SecretSource::Env, SecretSource::Env]);
        assert_eq!(s.jwt_secret.as_str(), "j".repeat(40));
        assert!(
            !dir.path().join("secrets").exists(),
            "nothing written when env provides both"
        );

        let weak = |k: &str| (k == JWT_SECRET_ENV).then(|| "short".to_string());
        assert!(matches!(
            load_or_generate(dir.path(), weak),
            Err(SecretsError::WeakJwtSecret)
        ));
        let bad = |k: &str| (k == ENCRYPTION_KEY_ENV).then(|| "zz".to_string());
        assert!(matches!(
            load_or_generate(dir.path(), bad),
            Err(SecretsError::Key(_))
        ));
    }
}
