//! Account, role and refresh-token queries.
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::credentials::Email;
use super::Role;
use crate::error::{violated_constraint, ApiError, Code};

pub struct NewAccount<'a> {
    pub id: UserId,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub username: Option<&'a str>,
}

/// Creates the credentials, the profile and default settings in one transaction.
pub async fn create_account(
    pool: &PgPool,
    account: NewAccount<'_>,
) -> Result<DateTime<Utc>, ApiError> {
    let mut tx = pool.begin().await?;
    let created_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO auth_profiles (id, email, password) VALUES ($1, $2, $3) RETURNING created_at",
    )
    .bind(account.id)
    .bind(account.email.as_str())
    .bind(account.password_hash)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("auth_profiles_email_key") => ApiError::new(
            Code::EmailTaken,
            "an account with this email already exists",
        ),
        _ => e.into(),
    })?;
    sqlx::query("INSERT INTO users (id, email, username) VALUES ($1, $2, $3)")
        .bind(account.id)
        .bind(account.email.as_str())
        .bind(account.username)
        .execute(&mut *tx)
        .await
        .map_err(crate::users::username_conflict)?;
    sqlx::query("INSERT INTO user_settings (user_id) VALUES ($1)")
        .bind(account.id)
        .execute(&mut *tx)
        .await?;
    // tickets transferred to this address before it had an account are theirs now
    sqlx::query(
        "UPDATE tickets SET user_id = $1, updated_at = now()
         WHERE user_id IS NULL AND lower(holder_email) = $2",
    )
    .bind(account.id)
    .bind(account.email.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(created_at)
}

pub async fn find_credentials(
    pool: &PgPool,
    email: &str,
) -> Result<Option<(UserId, String)>, ApiError> {
    Ok(
        sqlx::query_as("SELECT id, password FROM auth_profiles WHERE email = $1")
            .bind(email)
            .fetch_optional(pool)
            .await?,
    )
}

/// Every role of the user, `customer` first.
pub async fn roles_of(pool: &PgPool, user: UserId) -> Result<Vec<Role>, ApiError> {
    let granted: Vec<String> =
        sqlx::query_scalar("SELECT role FROM roles WHERE user_id = $1 ORDER BY role")
            .bind(user)
            .fetch_all(pool)
            .await?;
    let mut roles = vec![Role::Customer];
    roles.extend(granted.iter().filter_map(|r| r.parse::<Role>().ok()));
    Ok(roles)
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("no account has the email {0}")]
    NoSuchAccount(String),
    #[error("every account is a customer already; grant organizer or admin")]
    CustomerIsImplicit,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Grants `role` to the account with `email`; granting it twice is harmless.
pub async fn grant_role(pool: &PgPool, email: &str, role: Role) -> Result<UserId, GrantError> {
    if role == Role::Customer {
        return Err(GrantError::CustomerIsImplicit);
    }
    let email = email.trim().to_lowercase();
    let user: Option<UserId> = sqlx::query_scalar("SELECT id FROM auth_profiles WHERE email = $1")
        .bind(&email)
        .fetch_optional(pool)
        .await?;
    let user = user.ok_or(GrantError::NoSuchAccount(email))?;
    sqlx::query("INSERT INTO roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user)
        .bind(role.as_str())
        .execute(pool)
        .await?;
    Ok(user)
}

pub async fn insert_refresh_token(
    db: impl sqlx::PgExecutor<'_>,
    user: UserId,
    family: Uuid,
    hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO auth_refresh_tokens (id, auth_profile_id, family_id, refresh_token, expired_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(family)
    .bind(hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    auth_profile_id: UserId,
    family_id: Uuid,
    expired_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

pub enum Rotation {
    /// The presented token was good; the new one is stored.
    Rotated { user: UserId, family: Uuid },
    /// Unknown, expired or already revoked.
    Invalid,
    /// Used before: someone else may hold it. The whole family is now revoked.
    Reused { family: Uuid },
}

/// Uses the token with hash `presented` once and stores its successor `next` in the same family.
pub async fn rotate_refresh_token(
    pool: &PgPool,
    presented: &str,
    next: &str,
    next_expires_at: DateTime<Utc>,
) -> Result<Rotation, ApiError> {
    let mut tx = pool.begin().await?;
    // FOR UPDATE: two concurrent refreshes with the same token see it one after the other, so
    // the second one is a reuse and not a second successful rotation
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT auth_profile_id, family_id, expired_at, used_at, revoked_at
         FROM auth_refresh_tokens WHERE refresh_token = $1 FOR UPDATE",
    )
    .bind(presented)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(TokenRow {
        auth_profile_id: user,
        family_id: family,
        expired_at: expires_at,
        used_at,
        revoked_at,
    }) = row
    else {
        return Ok(Rotation::Invalid);
    };
    if revoked_at.is_some() {
        return Ok(Rotation::Invalid);
    }
    if used_at.is_some() {
        revoke_family_in(&mut tx, family).await?;
        tx.commit().await?;
        return Ok(Rotation::Reused { family });
    }
    if expires_at <= Utc::now() {
        return Ok(Rotation::Invalid);
    }
    sqlx::query("UPDATE auth_refresh_tokens SET used_at = now() WHERE refresh_token = $1")
        .bind(presented)
        .execute(&mut *tx)
        .await?;
    insert_refresh_token(&mut *tx, user, family, next, next_expires_at).await?;
    tx.commit().await?;
    Ok(Rotation::Rotated { user, family })
}

pub async fn revoke_family(pool: &PgPool, user: UserId, family: Uuid) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE auth_refresh_tokens SET revoked_at = now()
         WHERE family_id = $1 AND auth_profile_id = $2 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(user)
    .execute(pool)
    .await?;
    Ok(())
}

async fn revoke_family_in(tx: &mut sqlx::PgConnection, family: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE auth_refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family)
        .execute(tx)
        .await?;
    Ok(())
}

/// The families revoked after some time, as the database saw them at `as_of`.
pub struct RevokedFamilies {
    pub families: Vec<Uuid>,
    /// The database's time of the query: a later look from a little before it misses nothing.
    pub as_of: DateTime<Utc>,
}

/// Families revoked since `since`: their access tokens may still be unexpired.
pub async fn families_revoked_since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<RevokedFamilies, sqlx::Error> {
    let (as_of, families) = sqlx::query_as(
        "SELECT now(), ARRAY(SELECT DISTINCT family_id FROM auth_refresh_tokens WHERE revoked_at > $1)",
    )
    .bind(since)
    .fetch_one(pool)
    .await?;
    Ok(RevokedFamilies { families, as_of })
}
