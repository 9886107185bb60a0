//! argon2id hashing. Hashing costs tens of milliseconds of CPU, so it runs on the blocking pool,
//! never on an async worker.
use std::sync::OnceLock;

use actix_web::web;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::error::ApiError;

pub async fn hash(password: String) -> Result<String, ApiError> {
    web::block(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing failed: {e}")))
}

/// Checks `password` against `stored`. With no stored hash (unknown email) it still does the
/// work of one verification, so response time does not tell whether an account exists.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    web::block(move || {
        let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && stored != dummy_hash()
    })
    .await
    .map_err(ApiError::internal)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .expect("hashing a constant succeeds")
            .to_string()
    })
}
