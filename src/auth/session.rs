//! Who is calling: the `AuthUser` extractor checks the bearer token and that its login has not
//! been revoked (logout, or a refresh token reused). Revoked logins are kept in memory until
//! their last access token has expired, so a request costs no query: loaded from the database at
//! start, then learned from it by polling every second ([`RevokedSessions::shared`]). A login
//! revoked by another process is still accepted here until the next look, about a second at most
//! (longer only while the database does not answer); one revoked by this process is refused at
//! once. What is open under a login (an event stream) can wait for its revocation with
//! [`RevokedSessions::ended`], wherever it was revoked.
use std::future::{ready, Future, Ready};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::{store, JwtKeys, Role};
use crate::error::{ApiError, Code};

/// How often every process looks for logins revoked by the others.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Each look goes back this far before the last one: a revocation is stamped when its
/// transaction starts and seen when it commits, so one may appear a little in the past.
const POLL_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

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
    let jwt = req
        .app_data::<web::Data<JwtKeys>>()
        .expect("JwtKeys are registered with the app");
    let revoked = req
        .app_data::<web::Data<RevokedSessions>>()
        .expect("RevokedSessions are registered with the app");
    let token = token.ok_or_else(|| {
        ApiError::new(
            Code::Unauthorized,
            "send an access token: Authorization: Bearer <token>",
        )
    })?;
    let claims = jwt.verify(token.trim())?;
    if revoked.contains(claims.sid) {
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
    until: Arc<DashMap<Uuid, Instant>>,
    /// how long an access token lives: a revoked login is remembered that long
    keep: Duration,
    /// ticks on every revocation, so whatever waits on a login looks again
    revocations: watch::Sender<()>,
}

impl RevokedSessions {
    pub fn new(access_ttl: Duration, already_revoked: impl IntoIterator<Item = Uuid>) -> Self {
        let now = Instant::now();
        Self {
            until: Arc::new(
                already_revoked
                    .into_iter()
                    .map(|sid| (sid, now + access_ttl))
                    .collect(),
            ),
            keep: access_ttl,
            revocations: watch::Sender::new(()),
        }
    }

    /// The logins revoked within the access tokens' lifetime, and from then on those that any
    /// process revokes, learned by a task polling the database every [`POLL_EVERY`]; it ends
    /// when the pool is closed or the set dropped.
    pub async fn shared(pool: &PgPool, access_ttl: Duration) -> Result<Arc<Self>, sqlx::Error> {
        // an absurd lifetime: every revocation ever made
        let since = chrono::TimeDelta::from_std(access_ttl)
            .ok()
            .and_then(|ttl| Utc::now().checked_sub_signed(ttl))
            .unwrap_or(DateTime::UNIX_EPOCH);
        let loaded = store::families_revoked_since(pool, since).await?;
        let revoked = Arc::new(Self::new(access_ttl, loaded.families));
        tokio::spawn(follow(Arc::downgrade(&revoked), pool.clone(), loaded.as_of));
        Ok(revoked)
    }

    pub fn revoke(&self, session: Uuid) {
        let now = Instant::now();
        self.until.retain(|_, until| *until > now);
        self.until.insert(session, now + self.keep);
        self.revocations.send_replace(());
    }

    /// Adds the logins of `sessions` not known yet (revoked by another process); whatever waits
    /// on one of them is told.
    fn learn(&self, sessions: impl IntoIterator<Item = Uuid>) {
        let now = Instant::now();
        let mut learned = false;
        for session in sessions {
            if !self.until.contains_key(&session) {
                self.until.insert(session, now + self.keep);
                learned = true;
            }
        }
        if learned {
            self.until.retain(|_, until| *until > now);
            self.revocations.send_replace(());
        }
    }

    pub fn contains(&self, session: Uuid) -> bool {
        self.until.contains_key(&session)
    }

    /// Resolves once `session` is revoked (at once if it already is).
    pub fn ended(&self, session: Uuid) -> impl Future<Output = ()> + Send + 'static {
        // subscribed before the first look, so a revocation in between is not missed
        let mut revocations = self.revocations.subscribe();
        let until = self.until.clone();
        async move {
            while !until.contains_key(&session) {
                if revocations.changed().await.is_err() {
                    // the sender lives as long as the server: nothing will revoke it now
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// Polls for logins revoked since `as_of` (less [`POLL_OVERLAP`]) into `revoked`, until the pool
/// is closed or `revoked` dropped.
async fn follow(revoked: Weak<RevokedSessions>, pool: PgPool, mut as_of: DateTime<Utc>) {
    let mut failing = false;
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        if revoked.strong_count() == 0 {
            return;
        }
        match store::families_revoked_since(&pool, as_of - POLL_OVERLAP).await {
            Ok(found) => {
                let Some(revoked) = revoked.upgrade() else {
                    return;
                };
                revoked.learn(found.families);
                as_of = found.as_of;
                if std::mem::take(&mut failing) {
                    tracing::info!("learning revoked logins from the database again");
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                // said once per outage, not every second; the next look goes back from the
                // last one that answered, so nothing revoked meanwhile is missed
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(%error, "cannot learn logins revoked elsewhere; retrying");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn ended_resolves_when_its_session_is_revoked_and_not_for_another() {
        let revoked = RevokedSessions::new(Duration::from_secs(60), []);
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        let ended = revoked.ended(mine);
        revoked.revoke(other);
        let mut ended = std::pin::pin!(ended);
        assert!(
            futures_util::FutureExt::now_or_never(ended.as_mut()).is_none(),
            "another login's revocation ends nothing"
        );
        revoked.revoke(mine);
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("ends on its own revocation");
        // already revoked: resolves at once
        tokio::time::timeout(Duration::from_secs(5), revoked.ended(mine))
            .await
            .expect("ends at once");
    }

    #[actix_web::test]
    async fn a_revocation_learned_from_elsewhere_ends_its_login_and_a_known_one_changes_nothing() {
        let revoked = RevokedSessions::new(Duration::from_secs(60), []);
        let (mine, other) = (Uuid::now_v7(), Uuid::now_v7());
        revoked.revoke(other);
        let ticks = revoked.revocations.subscribe();
        revoked.learn([other]);
        assert!(!ticks.has_changed().unwrap(), "nothing new, nobody is told");
        let ended = revoked.ended(mine);
        revoked.learn([other, mine]);
        assert!(revoked.contains(mine));
        tokio::time::timeout(Duration::from_secs(5), ended)
            .await
            .expect("ends on its revocation learned from elsewhere");
    }
}
