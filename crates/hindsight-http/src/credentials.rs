//! Passwords, API tokens and session secrets: made, hashed and checked.
//!
//! Passwords are hashed with Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane), on
//! tokio's blocking threads and at most two at a time, so that a burst of logins neither stalls
//! the server nor exhausts its memory. Tokens and session ids are 256 random bits; only their
//! SHA-256 is stored, which is enough for secrets that cannot be guessed.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// How API tokens start, so that secret scanners and people can tell them apart.
pub const TOKEN_PREFIX: &str = "hst_";

static HASHING: Semaphore = Semaphore::const_new(2);

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP's parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash to verify against when the account does not exist, so that an unknown email takes
/// as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password_blocking("not a real password").expect("hashing works"));

pub fn hash_password_blocking(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

fn verify_password_blocking(password: &str, hash: Option<&str>) -> bool {
    let dummy = DUMMY_HASH.as_str();
    let Ok(parsed) = PasswordHash::new(hash.unwrap_or(dummy)) else {
        return false;
    };
    let matches = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && hash.is_some()
}

/// Hashes a password off the async threads.
pub async fn hash_password(password: String) -> Result<String, String> {
    let _permit = HASHING.acquire().await.map_err(|error| error.to_string())?;
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|error| error.to_string())?
}

/// Checks a password off the async threads; with no hash (an unknown account) it does the same
/// work and answers `false`.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let Ok(_permit) = HASHING.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password_blocking(&password, hash.as_deref()))
        .await
        .unwrap_or(false)
}

/// 256 random bits, hex-encoded, after `prefix`.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let mut secret = String::with_capacity(prefix.len() + 64);
    secret.push_str(prefix);
    secret.push_str(&hex::encode(bytes));
    secret
}

/// What is stored of a secret: its SHA-256, hex-encoded.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_and_nothing_else() {
        let hash = hash_password_blocking("correct horse battery staple").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password_blocking(
            "correct horse battery staple",
            Some(&hash)
        ));
        assert!(!verify_password_blocking(
            "correct horse battery stapler",
            Some(&hash)
        ));
        assert!(!verify_password_blocking("not a real password", None));
    }

    #[test]
    fn secrets_are_random_and_stored_only_as_hashes() {
        let one = new_secret(TOKEN_PREFIX);
        let two = new_secret(TOKEN_PREFIX);
        assert_ne!(one, two);
        assert_eq!(one.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
