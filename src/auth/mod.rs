//! Accounts and sessions: register and login (both throttled per client address, see
//! `throttle.rs`; login attempts are counted in PostgreSQL, together by every process),
//! refresh-token rotation with reuse detection, logout, roles. Access tokens are short-lived JWTs
//! checked by [`AuthUser`].
mod credentials;
mod password;
mod session;
pub mod store;
mod throttle;
mod token;

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use credentials::{Email, NewPassword};
pub use session::{AuthUser, Organizer, RevokedSessions, StreamUser};
pub use throttle::{AddressThrottle, Attempt, LoginLimits, LoginThrottle, ThrottleError};
pub use token::{Claims, JwtKeys};

use crate::config::Settings;
use crate::error::{ApiError, Code, Validation};
use crate::input::Json;
use crate::users::Username;
use sqlx::PgPool;

/// What an account may do. Every account is a customer; organizers run their own events;
/// admins run all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Organizer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Organizer => "organizer",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Role::Customer),
            "organizer" => Ok(Role::Organizer),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}; expected organizer or admin"
            )),
        }
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auths/register").route(web::post().to(register)))
        .service(web::resource("/auths/login").route(web::post().to(login)))
        .service(web::resource("/auths/refresh_token").route(web::post().to(refresh)))
        .service(web::resource("/auths/logout").route(web::post().to(logout)));
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", max_length = 254)]
    pub email: String,
    /// 8 to 128 characters, not only spaces.
    #[schema(min_length = 8, max_length = 128, pattern = r"\S")]
    pub password: String,
    /// 3 to 32 letters, digits, `_`, `.` or `-`.
    #[schema(pattern = r"^\s*[\w.-]{3,32}\s*$")]
    pub username: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredUser {
    pub id: UserId,
    pub email: String,
    pub username: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Works once: each refresh returns the next one.
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Create an account (a customer). Each client address may register `auth.register_max_per_ip`
/// accounts per `auth.register_window_seconds`; past that, 429 with `Retry-After`.
#[utoipa::path(post, path = "/v1/auths/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisteredUser), (status = 409, description = "email_taken or username_taken", body = crate::error::ErrorBody),
              (status = 422, description = "validation_failed", body = crate::error::ErrorBody),
              (status = 429, description = "too_many_attempts", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn register(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    registrations: web::Data<AddressThrottle>,
    req: HttpRequest,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut validation = Validation::new();
    let email = Email::parse(&body.email)
        .map_err(|m| validation.fail("email", m))
        .ok();
    let password = NewPassword::parse(body.password)
        .map_err(|m| validation.fail("password", m))
        .ok();
    let username = match body.username.as_deref().map(Username::parse) {
        Some(Err(m)) => {
            validation.fail("username", m);
            None
        }
        Some(Ok(name)) => Some(name),
        None => None,
    };
    validation.finish()?;
    let (email, password) = (email.expect("validated"), password.expect("validated"));

    // counted before the hash, so concurrent registrations cannot overtake the limit either
    let ip = client_ip(&req, settings.server.trust_forwarded_for);
    registrations
        .reserve(ip, Instant::now())
        .map_err(|seconds| {
            ApiError::new(
                Code::TooManyAttempts,
                "too many accounts registered from this address; try again later",
            )
            .retry_after(seconds)
        })?;
    let hash = password::hash(password.into_inner()).await?;
    let id = UserId::new();
    let created_at = store::create_account(
        &pool,
        store::NewAccount {
            id,
            email: &email,
            password_hash: &hash,
            username: username.as_ref().map(Username::as_str),
        },
    )
    .await?;
    tracing::info!(user_id = %id, "account registered");
    Ok(HttpResponse::Created().json(RegisteredUser {
        id,
        email: email.to_string(),
        username: username.map(|u| u.as_str().to_owned()),
        created_at,
    }))
}

/// Exchange email and password for tokens. Too many failures answer 429 with `Retry-After`:
/// for this account from this address, from this address, or (spaced out) for this account.
#[utoipa::path(post, path = "/v1/auths/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_credentials", body = crate::error::ErrorBody),
              (status = 429, description = "too_many_attempts", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn login(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    jwt: web::Data<JwtKeys>,
    throttle: web::Data<LoginThrottle>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password } = body.into_inner();
    let account = email.trim().to_lowercase();
    let ip = client_ip(&req, settings.server.trust_forwarded_for);
    // counted before the password is checked: concurrent guesses, on any process, cannot
    // overtake the limits
    let attempt = throttle.reserve(&account, ip).await?;
    let user = match check_password(&pool, &account, password).await {
        Ok(Some(user)) => user,
        // the attempt stays counted: it was a failure
        Ok(None) => {
            return Err(ApiError::new(
                Code::InvalidCredentials,
                "wrong email or password",
            ))
        }
        Err(e) => {
            still_counted(throttle.abandon(attempt).await);
            return Err(e);
        }
    };
    still_counted(throttle.succeeded(attempt).await);
    let refresh_ttl = settings.auth.refresh_ttl_seconds;
    let tokens = start_session(&pool, &jwt, refresh_ttl, user, Uuid::now_v7()).await?;
    tracing::info!(user_id = %user, "logged in");
    Ok(HttpResponse::Ok().json(tokens))
}

/// An attempt that could not be given back counts as a failure, the safe side: the answer stands
/// and the cause is logged.
fn still_counted(given_back: Result<(), ThrottleError>) {
    if let Err(error) = given_back {
        let error = anyhow::Error::from(error);
        tracing::warn!(error = %format_args!("{error:#}"), "a login attempt could not be given back");
    }
}

/// The account whose password `password` is, if it is.
async fn check_password(
    pool: &PgPool,
    account: &str,
    password: String,
) -> Result<Option<UserId>, ApiError> {
    let found = store::find_credentials(pool, account).await?;
    let (user, stored) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let verified = password::verify(password, stored).await?;
    Ok(user.filter(|_| verified))
}

/// Trade a refresh token for new tokens. Each refresh token works once; presenting a used one
/// again revokes every token of that login.
#[utoipa::path(post, path = "/v1/auths/refresh_token", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "invalid_refresh_token", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    jwt: web::Data<JwtKeys>,
    revoked: web::Data<RevokedSessions>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = token::hash_refresh_token(body.refresh_token.trim());
    let (next, next_hash) = token::new_refresh_token();
    let expires_at =
        Utc::now() + chrono::Duration::seconds(settings.auth.refresh_ttl_seconds as i64);
    match store::rotate_refresh_token(&pool, &presented, &next_hash, expires_at).await? {
        store::Rotation::Rotated { user, family } => {
            let roles = store::roles_of(&pool, user).await?;
            Ok(HttpResponse::Ok().json(TokenResponse {
                access_token: jwt.issue(user, family, roles, Utc::now()),
                refresh_token: next,
                token_type: "Bearer",
                expires_in: jwt.access_ttl_seconds,
            }))
        }
        store::Rotation::Invalid => Err(ApiError::new(
            Code::InvalidRefreshToken,
            "the refresh token is unknown, expired or revoked; log in again",
        )),
        store::Rotation::Reused { family } => {
            revoked.revoke(family);
            tracing::warn!(session = %family, "refresh token reused; the login is revoked");
            Err(ApiError::new(
                Code::InvalidRefreshToken,
                "this refresh token was already used, so every token of this login is now revoked; log in again",
            ))
        }
    }
}

/// End this login: its refresh tokens and access tokens stop working.
#[utoipa::path(post, path = "/v1/auths/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "logged out"), (status = 401, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn logout(
    pool: web::Data<PgPool>,
    revoked: web::Data<RevokedSessions>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    store::revoke_family(&pool, user.id, user.session).await?;
    revoked.revoke(user.session);
    Ok(HttpResponse::NoContent().finish())
}

async fn start_session(
    pool: &PgPool,
    jwt: &JwtKeys,
    refresh_ttl_seconds: u64,
    user: UserId,
    family: Uuid,
) -> Result<TokenResponse, ApiError> {
    let (refresh_token, hash) = token::new_refresh_token();
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(refresh_ttl_seconds as i64);
    store::insert_refresh_token(pool, user, family, &hash, expires_at).await?;
    let roles = store::roles_of(pool, user).await?;
    Ok(TokenResponse {
        access_token: jwt.issue(user, family, roles, now),
        refresh_token,
        token_type: "Bearer",
        expires_in: jwt.access_ttl_seconds,
    })
}

/// The caller's address: the TCP peer, or the first X-Forwarded-For hop behind a trusted proxy.
pub(crate) fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.connection_info()
                .realip_remote_addr()
                .map(str::to_owned)
        })
        .flatten()
        .and_then(|addr| {
            addr.parse::<IpAddr>()
                .ok()
                .or_else(|| addr.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        });
    forwarded
        .or_else(|| req.peer_addr().map(|addr| addr.ip()))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}
