//! Secrets at rest and in transit (SPEC §11): argon2id password hashes, AES-256-GCM for
//! account secrets, SHA-256 for relay keys, and random key material.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prefix of every stored ciphertext, so the format can evolve.
const CIPHER_PREFIX: &str = "v1:";

/// Crypto failures. None of them carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The encryption key is not 32 bytes of base64 or 64 hex digits.
    #[error("RELAY_ENCRYPTION_KEY must be 32 bytes written as 64 hex digits or base64")]
    BadKey,
    /// A ciphertext could not be decrypted (wrong key or corrupt data).
    #[error("stored secret cannot be decrypted (wrong RELAY_ENCRYPTION_KEY or corrupt value)")]
    Decrypt,
    /// Hashing a password failed.
    #[error("password hashing failed")]
    Hash,
}

/// AES-256-GCM cipher for account secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// Builds the cipher from `RELAY_ENCRYPTION_KEY` text: 64 hex digits or base64 of 32 bytes.
    pub fn from_key_text(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = Zeroizing::new(
            if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
                hex::decode(text).map_err(|_| CryptoError::BadKey)?
            } else {
                STANDARD.decode(text).map_err(|_| CryptoError::BadKey)?
            },
        );
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)?;
        Ok(Self { cipher })
    }

    /// Encrypts `plain` with a fresh random nonce: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs under 64 GiB.
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{CIPHER_PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts a value written by [`SecretBox::encrypt`].
    pub fn decrypt(&self, stored: &str) -> Result<Zeroizing<String>, CryptoError> {
        let body = stored
            .strip_prefix(CIPHER_PREFIX)
            .ok_or(CryptoError::Decrypt)?;
        let raw = STANDARD.decode(body).map_err(|_| CryptoError::Decrypt)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// A new random 32-byte key as 64 hex digits (for `RELAY_ENCRYPTION_KEY`).
pub fn generate_encryption_key() -> String {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut());
    hex::encode(key.as_ref())
}

/// A new random secret of 48 bytes, base64url (for `JWT_SECRET`).
pub fn generate_jwt_secret() -> String {
    let mut key = Zeroizing::new([0u8; 48]);
    OsRng.fill_bytes(key.as_mut());
    URL_SAFE_NO_PAD.encode(key.as_ref())
}

/// A random alphanumeric password of `len` characters.
pub fn generate_password(len: usize) -> String {
    Alphanumeric.sample_string(&mut OsRng, len)
}

/// Hashes a password with argon2id and a random salt (CPU-heavy: call from a blocking task).
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Hash)
}

/// Checks a password against a stored argon2 PHC string (CPU-heavy: call from a blocking task).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new relay key: `sk-relay-` + 43 base62 characters (≈256 random bits).
pub fn generate_relay_key() -> String {
    format!("sk-relay-{}", Alphanumeric.sample_string(&mut OsRng, 43))
}

/// The SHA-256 of a relay key, as stored and looked up (64 lowercase hex digits).
pub fn hash_relay_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The display prefix kept for a relay key (`sk-relay-AbCd`), never enough to use it.
pub fn relay_key_prefix(key: &str) -> String {
    key.chars().take(13).collect()
}

/// A masked hint of a secret for list responses: `sk-ant-…Ab12`.
pub fn secret_hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "…".to_string();
    }
    let head: String = chars.iter().take(7).collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encrypt_round_trips_and_hides_plaintext() {
        let key = generate_encryption_key();
        let sb = SecretBox::from_key_text(&key).unwrap();
        let ct = sb.encrypt("sk-ant-api03-secret");
        assert!(ct.starts_with("v1:"));
        assert!(!ct.contains("secret"));
        assert_eq!(sb.decrypt(&ct).unwrap().as_str(), "sk-ant-api03-secret");
        assert_ne!(ct, sb.encrypt("sk-ant-api03-secret"), "nonces must differ");
    }

    #[test]
    fn wrong_key_or_tampering_fails() {
        let a = SecretBox::from_key_text(&generate_encryption_key()).unwrap();
        let b = SecretBox::from_key_text(&generate_encryption_key()).unwrap();
        let ct = a.encrypt("x");
        assert!(b.decrypt(&ct).is_err());
        let mut tampered = ct.clone();
        tampered.pop();
        tampered.push(if ct.ends_with('A') { 'B' } else { 'A' });
        assert!(a.decrypt(&tampered).is_err());
    }

    #[test]
    fn key_text_accepts_hex_and_base64_only_of_32_bytes() {
        assert!(SecretBox::from_key_text(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(SecretBox::from_key_text("short").is_err());
        assert!(SecretBox::from_key_text(&hex::encode([1u8; 16])).is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn relay_keys_are_long_random_and_hashed() {
        let k = generate_relay_key();
        assert!(k.starts_with("sk-relay-") && k.len() == 52);
        assert_ne!(k, generate_relay_key());
        let h = hash_relay_key(&k);
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash_relay_key(&k));
        assert_eq!(relay_key_prefix(&k).len(), 13);
        assert_eq!(secret_hint("sk-ant-api03-abcdefAb12"), "sk-ant-…Ab12");
        assert_eq!(secret_hint("short"), "…");
    }
}
