//! The waiting room's endpoints: the public queue (its commitment, then its seed), joining,
//! where one stands (polled or streamed), and the organizer's live view.
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::ids::{EventId, UserId};
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::room::Standing;
use super::{admission, order, store, QueueError, QueueSettings, Queues, RoomHandle};
use crate::auth::{AuthUser, Organizer, StreamUser};
use crate::config::Settings;
use crate::engine::time;
use crate::error::{ApiError, Code, FieldError};
use crate::input::{json_object, JsonBytes};

/// An event's queue as anyone may see it.
#[derive(Serialize, ToSchema)]
pub struct PublicQueue {
    pub event_id: EventId,
    #[serde(flatten)]
    pub settings: QueueSettings,
    /// SHA-256 of the shuffle's seed, in hex, published before the start.
    pub seed_sha256: String,
    /// The seed itself (hex), once the pre-queue is shuffled; null before.
    pub seed: Option<String>,
    /// Entries not admitted yet.
    pub waiting: u64,
    /// Tickets neither held nor sold.
    pub available: u64,
}

/// Where the caller stands in the queue.
#[derive(Serialize, ToSchema)]
pub struct QueueStatus {
    pub event_id: EventId,
    /// `waiting`, `admitted`, `sold_out`, `expired` (the admission ran out) or `closed`
    pub status: &'static str,
    /// 1 is next; null in the pre-queue before the start, when places are drawn.
    pub position: Option<u64>,
    /// Seconds until admission at the pace so far (a guess, refreshed with every change).
    pub estimated_wait_seconds: Option<u64>,
    /// Hold with this (`admission_token` in the hold, or the `X-Admission-Token` header).
    pub admission_token: Option<String>,
    pub admitted_until: Option<DateTime<Utc>>,
    /// The same as `admission_token`.
    pub token: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub seed_sha256: String,
}

fn status_of(
    queues: &Queues,
    handle: &RoomHandle,
    event: EventId,
    user: UserId,
) -> Option<QueueStatus> {
    let now = queues.clock().now();
    let room = handle.read();
    let standing = room.standing(user, now)?;
    let mut status = QueueStatus {
        event_id: event,
        status: "waiting",
        position: None,
        estimated_wait_seconds: None,
        admission_token: None,
        admitted_until: None,
        token: None,
        starts_at: room.settings.starts_at,
        seed_sha256: room.commitment.clone(),
    };
    match standing {
        Standing::Waiting {
            position,
            estimate_seconds,
        } => {
            status.position = position;
            status.estimated_wait_seconds = estimate_seconds;
        }
        Standing::Admitted { until } => {
            let token = admission::sign(queues.secret(), event, user, until);
            status.status = "admitted";
            status.admission_token = Some(token.clone());
            status.token = Some(token);
            status.admitted_until = Some(time(until));
        }
        Standing::SoldOut { position } => {
            status.status = "sold_out";
            status.position = position;
        }
        Standing::Expired => status.status = "expired",
        Standing::Closed => status.status = "closed",
    }
    Some(status)
}

fn not_joined() -> ApiError {
    ApiError::new(
        Code::NotFound,
        "you are not in this waiting room: join it first",
    )
}

async fn room_of(queues: &Arc<Queues>, event: EventId) -> Result<Arc<RoomHandle>, ApiError> {
    queues
        .room(event)
        .await?
        .ok_or_else(|| ApiError::not_found("waiting room"))
}

/// The event's queue: settings, the seed's commitment (and the seed after the shuffle).
#[utoipa::path(get, path = "/v1/events/{id}/queue", tag = "queue", params(("id" = String, Path)),
    responses((status = 200, body = PublicQueue), (status = 404, body = crate::error::ErrorBody)))]
pub async fn public_queue(
    queues: web::Data<Arc<Queues>>,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let handle = room_of(&queues, *id).await?;
    Ok(HttpResponse::Ok().json(PublicQueue::of(*id, &handle)))
}

impl PublicQueue {
    fn of(event_id: EventId, handle: &RoomHandle) -> Self {
        let room = handle.read();
        PublicQueue {
            event_id,
            settings: room.settings.clone(),
            seed_sha256: room.commitment.clone(),
            seed: room.revealed.then(|| hex::encode(&room.seed)),
            waiting: room.waiting(),
            available: room.available,
        }
    }
}

/// A join's proof of work, when the queue asks one (`challenge_bits`).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    /// The `challenge` a 428 `challenge_required` answer gave.
    pub challenge: Option<String>,
    /// Any string such that SHA-256(`challenge:nonce`) starts with `challenge_bits` zero bits.
    pub nonce: Option<String>,
}

/// Join the waiting room (once per account: joining again answers the same entry).
#[utoipa::path(post, path = "/v1/events/{id}/queue", tag = "queue", params(("id" = String, Path)),
    request_body(content = JoinBody, description = "optional: only a queue with `challenge_bits` needs it"),
    responses((status = 200, body = QueueStatus), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 428, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn join(
    queues: web::Data<Arc<Queues>>,
    settings: web::Data<Settings>,
    user: AuthUser,
    id: web::Path<EventId>,
    request: HttpRequest,
    JsonBytes(body): JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let event = *id;
    let body: JoinBody = if body.iter().all(u8::is_ascii_whitespace) {
        JoinBody::default()
    } else {
        json_object(&body)?
    };
    let handle = room_of(&queues, event).await?;
    if let Some(status) = status_of(&queues, &handle, event, user.id) {
        return Ok(HttpResponse::Ok().json(status));
    }
    let ip = crate::auth::client_ip(&request, settings.server.trust_forwarded_for);
    if let Err(wait) = queues.throttle().reserve(ip, std::time::Instant::now()) {
        return Err(ApiError::new(
            Code::TooManyAttempts,
            "too many joins from your address; wait a moment",
        )
        .retry_after(wait));
    }
    let bits = handle
        .room
        .read()
        .expect("room lock")
        .settings
        .challenge_bits;
    let now = queues.clock().now();
    if bits > 0 {
        let answered = match (&body.challenge, &body.nonce) {
            (Some(given), Some(nonce)) => {
                admission::solved(queues.secret(), event, user.id, now, given, nonce, bits)
            }
            _ => false,
        };
        if !answered {
            let challenge = admission::challenge(queues.secret(), event, user.id, now);
            return Err(ApiError {
                details: vec![
                    FieldError {
                        field: "challenge".into(),
                        message: challenge,
                        seat: None,
                    },
                    FieldError {
                        field: "challenge_bits".into(),
                        message: bits.to_string(),
                        seat: None,
                    },
                ],
                ..ApiError::new(
                    Code::ChallengeRequired,
                    format!("find a nonce such that SHA-256(challenge:nonce) starts with {bits} zero bits, then join again with both"),
                )
            });
        }
    }
    let handle = queues.join(event, user.id).await?;
    let status = status_of(&queues, &handle, event, user.id)
        .ok_or_else(|| ApiError::from(QueueError::Storage("joined entry missing".into())))?;
    Ok(HttpResponse::Ok().json(status))
}

/// Where the caller stands: position and estimate, or the admission to hold with.
#[utoipa::path(get, path = "/v1/events/{id}/queue/me", tag = "queue", params(("id" = String, Path)),
    responses((status = 200, body = QueueStatus), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(
    queues: web::Data<Arc<Queues>>,
    user: AuthUser,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let handle = room_of(&queues, *id).await?;
    let status = status_of(&queues, &handle, *id, user.id).ok_or_else(not_joined)?;
    Ok(HttpResponse::Ok().json(status))
}

/// Server-sent events: `event: status` with a [`QueueStatus`] whenever it changes (position,
/// admission, sold out), and a comment every 15 s. The token may come as `?access_token=`.
#[utoipa::path(get, path = "/v1/events/{id}/queue/stream", tag = "queue", params(("id" = String, Path)),
    responses((status = 200, content_type = "text/event-stream", body = String), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn stream_status(
    queues: web::Data<Arc<Queues>>,
    StreamUser(user): StreamUser,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = *id;
    let handle = room_of(&queues, event).await?;
    if status_of(&queues, &handle, event, user.id).is_none() {
        return Err(not_joined());
    }
    let state = (
        handle.changed.clone(),
        None::<String>,
        queues.into_inner(),
        handle,
    );
    let events = stream::unfold(
        state,
        move |(mut changed, mut last, queues, handle)| async move {
            loop {
                let status = status_of(&queues, &handle, event, user.id)?;
                let json = serde_json::to_string(&status).expect("statuses serialize");
                if last.as_deref() != Some(json.as_str()) {
                    let chunk = web::Bytes::from(format!("event: status\ndata: {json}\n\n"));
                    last = Some(json);
                    return Some((
                        Ok::<_, actix_web::Error>(chunk),
                        (changed, last, queues, handle),
                    ));
                }
                tokio::select! {
                    moved = changed.changed() => moved.ok()?,
                    _ = tokio::time::sleep(KEEP_ALIVE) => {
                        let chunk = web::Bytes::from_static(b": keep-alive\n\n");
                        return Some((Ok(chunk), (changed, last, queues, handle)));
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The organizer's live view of the queue.
#[derive(Serialize, ToSchema)]
pub struct QueueView {
    #[serde(flatten)]
    pub queue: PublicQueue,
    #[serde(flatten)]
    pub tally: store::Tally,
}

/// The queue of one of the caller's events, live: waiting, admitted, holding, bought, left.
#[utoipa::path(get, path = "/v1/admin/events/{id}/queue", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = QueueView), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn admin_view(
    pool: web::Data<PgPool>,
    queues: web::Data<Arc<Queues>>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    crate::catalog::admin::owned_event(&pool, &user, *id).await?;
    let handle = room_of(&queues, *id).await?;
    let queue = PublicQueue::of(*id, &handle);
    let tally = store::tally(&pool, *id, queues.clock().now()).await?;
    Ok(HttpResponse::Ok().json(QueueView { queue, tally }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::cluster::forward::reads_to_owner;
    use actix_web::middleware::from_fn;
    cfg.service(
        web::resource("/events/{id}/queue")
            .wrap(from_fn(reads_to_owner))
            .route(web::get().to(public_queue))
            .route(web::post().to(join)),
    )
    .service(
        web::resource("/events/{id}/queue/me")
            .wrap(from_fn(reads_to_owner))
            .route(web::get().to(me)),
    )
    .service(
        web::resource("/events/{id}/queue/stream")
            .wrap(from_fn(reads_to_owner))
            .route(web::get().to(stream_status)),
    )
    .service(
        web::resource("/admin/events/{id}/queue")
            .wrap(from_fn(reads_to_owner))
            .route(web::get().to(admin_view)),
    );
}

/// The admission check of a hold on `event` by `user`: nothing to check without a queue;
/// otherwise a valid token of this account and event, else 403.
pub async fn check_admission(
    queues: &Arc<Queues>,
    event: EventId,
    user: UserId,
    token: Option<&str>,
) -> Result<(), ApiError> {
    if !queues.required(event).await? {
        return Ok(());
    }
    let Some(token) = token else {
        return Err(ApiError::new(
            Code::QueueRequired,
            "this sale goes through its waiting room: join the queue and hold once admitted",
        ));
    };
    match admission::verify(queues.secret(), token, event, user, queues.clock().now()) {
        admission::TokenCheck::Valid => Ok(()),
        admission::TokenCheck::Expired => Err(ApiError::new(
            Code::AdmissionExpired,
            "your admission from the waiting room has run out",
        )),
        admission::TokenCheck::Invalid => Err(ApiError::new(
            Code::QueueRequired,
            "this admission token is not valid for your account and this event: join the queue",
        )),
    }
}

/// Checks and saves an organizer's queue settings: refused once the sale has started (the
/// pre-queue is shuffled then), and the seed drawn with the first settings is kept.
pub async fn save_settings(
    pool: &PgPool,
    queues: &Queues,
    event: EventId,
    settings: &QueueSettings,
) -> Result<(), ApiError> {
    let mut v = crate::error::Validation::new();
    for (field, at) in [
        ("queue.opens_at", settings.opens_at),
        ("queue.starts_at", settings.starts_at),
    ] {
        if let Err(m) = crate::input::check_date(at) {
            v.fail(field, m);
        }
    }
    v.check(
        settings.opens_at <= settings.starts_at,
        "queue.opens_at",
        "must not be after queue.starts_at",
    );
    v.check(
        (1..=240).contains(&settings.admit_minutes),
        "queue.admit_minutes",
        "must be 1 to 240",
    );
    v.check(
        (1..=100_000).contains(&settings.admit_at_once),
        "queue.admit_at_once",
        "must be 1 to 100000",
    );
    v.check(
        settings.challenge_bits <= 24,
        "queue.challenge_bits",
        "must be 0 to 24",
    );
    v.finish()?;
    let stored = store::find(pool, event).await?;
    let now = queues.clock().now();
    if let Some(stored) = &stored {
        if stored.settings.enabled
            && now >= stored.settings.starts_ms()
            && stored.settings != *settings
        {
            return Err(ApiError::new(
                Code::InvalidState,
                format!(
                    "the sale started at {}: its waiting room can no longer change",
                    stored.settings.starts_at.to_rfc3339()
                ),
            ));
        }
    }
    let seed = match stored {
        Some(stored) => stored.seed,
        None => order::new_seed().to_vec(),
    };
    store::save(pool, event, settings, &seed).await?;
    Ok(())
}
