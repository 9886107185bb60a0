//! Access tokens (HS256 JWTs, short-lived) and refresh tokens (random, stored only as a hash).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Role;
use crate::config::Secret;
use crate::error::{ApiError, Code};

/// What an access token says about its bearer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: UserId,
    /// The login (refresh-token family) this token belongs to; logout revokes it.
    pub sid: Uuid,
    pub roles: Vec<Role>,
    pub iat: i64,
    pub exp: i64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_seconds: u64,
}

impl JwtKeys {
    pub fn new(secret: &Secret, access_ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // one server signs and checks: no clock skew to allow for
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            access_ttl_seconds,
        }
    }

    pub fn issue(
        &self,
        user: UserId,
        session: Uuid,
        roles: Vec<Role>,
        now: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            sub: user,
            sid: session,
            roles,
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl_seconds as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing does not fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::new(
                    Code::TokenExpired,
                    "the access token has expired; refresh it",
                ),
                _ => ApiError::new(Code::Unauthorized, "the access token is not valid"),
            })
    }
}

/// A new refresh token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    crate::input::sha256_hex(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(&Secret::new("test-secret"), 60)
    }

    #[test]
    fn a_token_verifies_with_its_claims() {
        let user = UserId::new();
        let session = Uuid::now_v7();
        let token = keys().issue(
            user,
            session,
            vec![Role::Customer, Role::Organizer],
            Utc::now(),
        );
        let claims = keys().verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!(claims.roles, vec![Role::Customer, Role::Organizer]);
    }

    #[test]
    fn expired_forged_and_garbage_tokens_are_refused() {
        let past = Utc::now() - chrono::Duration::seconds(120);
        let expired = keys().issue(UserId::new(), Uuid::now_v7(), vec![], past);
        assert_eq!(
            keys().verify(&expired).unwrap_err().code,
            Code::TokenExpired
        );

        let other = JwtKeys::new(&Secret::new("another-secret"), 60);
        let forged = other.issue(UserId::new(), Uuid::now_v7(), vec![Role::Admin], Utc::now());
        assert_eq!(keys().verify(&forged).unwrap_err().code, Code::Unauthorized);
        assert_eq!(
            keys().verify("garbage").unwrap_err().code,
            Code::Unauthorized
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(&a));
    }
}
