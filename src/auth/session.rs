//! Who is calling: the `AuthUser` extractor checks the bearer token and that its login has not
//! been revoked (logout, or a refresh token reused). Revoked logins are kept in memory until
//! their last access token has expired, and reloaded from the database at start.
use std::future::{ready, Ready};
use std::time::{Duration, Instant};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use boxoffice_actors::ids::UserId;
use dashmap::DashMap;
use uuid::Uuid;

use super::Role;
use crate::error::{ApiError, Code};
use crate::startup::AppState;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: UserId,
    pub session: Uuid,
    pub roles: Vec<Role>,
}

impl AuthUser {
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// Organizers and admins run events; customers get 403.
    pub fn require_organizer(&self) -> Result<(), ApiError> {
        if self.is_admin() || self.roles.contains(&Role::Organizer) {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::Forbidden,
                "this needs the organizer or admin role",
            ))
        }
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// An authenticated organizer or admin; anyone else gets 403 before the body is even read.
#[derive(Clone, Debug)]
pub struct Organizer(pub AuthUser);

impl FromRequest for Organizer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|user| {
            user.require_organizer()?;
            Ok(Organizer(user))
        }))
    }
}

/// The caller of an event stream: browsers' `EventSource` cannot send headers, so the access
/// token may also come as `?access_token=`.
#[derive(Clone, Debug)]
pub struct StreamUser(pub AuthUser);

impl FromRequest for StreamUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let from_query = || {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("access_token").cloned())
        };
        let token = bearer(req).map(str::to_owned).or_else(from_query);
        ready(authenticate_token(req, token.as_deref()).map(StreamUser))
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    authenticate_token(req, bearer(req))
}

fn authenticate_token(req: &HttpRequest, token: Option<&str>) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered with the app");
    let token = token.ok_or_else(|| {
        ApiError::new(
            Code::Unauthorized,
            "send an access token: Authorization: Bearer <token>",
        )
    })?;
    let claims = state.jwt.verify(token.trim())?;
    if state.revoked.contains(claims.sid) {
        return Err(ApiError::new(
            Code::Unauthorized,
            "this login has ended; log in again",
        ));
    }
    Ok(AuthUser {
        id: claims.sub,
        session: claims.sid,
        roles: claims.roles,
    })
}

/// Logins whose access tokens must no longer be accepted.
pub struct RevokedSessions {
    until: DashMap<Uuid, Instant>,
    /// how long an access token lives: a revoked login is remembered that long
    keep: Duration,
}

impl RevokedSessions {
    pub fn new(access_ttl: Duration, already_revoked: impl IntoIterator<Item = Uuid>) -> Self {
        let now = Instant::now();
        Self {
            until: already_revoked
                .into_iter()
                .map(|sid| (sid, now + access_ttl))
                .collect(),
            keep: access_ttl,
        }
    }

    pub fn revoke(&self, session: Uuid) {
        let now = Instant::now();
        self.until.retain(|_, until| *until > now);
        self.until.insert(session, now + self.keep);
    }

    pub fn contains(&self, session: Uuid) -> bool {
        self.until.contains_key(&session)
    }
}
