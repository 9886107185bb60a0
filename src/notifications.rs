//! In-site notifications: the `NotificationHub` actor stores them per user from domain events
//! (payment received, tickets issued, refund, hold expired) and pushes them live to every open
//! server-sent-event stream of their user; the API lists them and marks them read.
use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::UserId;
use chrono::{DateTime, Utc};
use futures_util::stream;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::mpsc::{self, error::TrySendError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, RevokedSessions, StreamUser};
use crate::error::ApiError;
use crate::outbox::subjects::{
    BOOKING_EXPIRED, BOOKING_REFUNDED, PAYMENT_REFUNDED, PAYMENT_REFUND_FAILED, PAYMENT_SUCCEEDED,
    TICKETS_ISSUED, TICKETS_TRANSFERRED, WAITLIST_OFFERED,
};
use crate::outbox::{Consumers, DeliveryError};
use crate::pagination::{Page, PageQuery};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/notifications").route(web::get().to(list_notifications)))
        .service(web::resource("/notifications/stream").route(web::get().to(stream_notifications)))
        .service(web::resource("/notifications/{id}/read").route(web::post().to(mark_read)));
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: Uuid,
    /// `payment_succeeded`, `tickets_issued`, `payment_refunded`, `booking_expired`,
    /// `booking_refunded`, `refund_failed`, `ticket_transferred` or `waitlist_offered`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Ids to link to: `booking_id`, `payment_id`.
    pub data: serde_json::Value,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, title, body, data, read_at, created_at";

/// What a domain event tells its user, if anything.
fn from_event(
    subject: &str,
    payload: &serde_json::Value,
) -> Option<(&'static str, &'static str, String)> {
    let amount = || {
        crate::money::format(
            payload["amount"].as_i64().unwrap_or_default(),
            payload["currency"].as_str().unwrap_or_default(),
        )
    };
    let price = || {
        crate::money::format(
            payload["price"].as_i64().unwrap_or_default(),
            payload["currency"].as_str().unwrap_or_default(),
        )
    };
    match subject {
        PAYMENT_SUCCEEDED => Some((
            "payment_succeeded",
            "Payment received",
            format!("We received {}; your tickets are on their way.", price()),
        )),
        TICKETS_ISSUED => Some((
            "tickets_issued",
            "Your tickets are ready",
            format!(
                "{} ticket(s) are in My tickets.",
                payload["tickets"].as_i64().unwrap_or_default()
            ),
        )),
        PAYMENT_REFUNDED => Some(("payment_refunded", "Payment refunded", refunded(payload))),
        BOOKING_EXPIRED => Some((
            "booking_expired",
            "Your hold expired",
            "The seats went back on sale; you can book again.".to_owned(),
        )),
        BOOKING_REFUNDED => Some((
            "booking_refunded",
            "Refund on its way",
            format!(
                "{} of booking {} {} refunded ({}): {}. We will tell you when the money is back.",
                tickets(payload["tickets"].as_array().map_or(0, Vec::len)),
                payload["booking_code"].as_str().unwrap_or_default(),
                if payload["tickets"].as_array().map_or(0, Vec::len) == 1 { "was" } else { "were" },
                amount(),
                payload["reason"].as_str().unwrap_or("refunded"),
            ),
        )),
        PAYMENT_REFUND_FAILED => Some((
            "refund_failed",
            "A refund failed",
            format!(
                "The payment provider refused to refund {} for booking {}. Retry it from the event's sales page.",
                amount(),
                payload["booking_code"].as_str().unwrap_or_default(),
            ),
        )),
        TICKETS_TRANSFERRED => Some((
            "ticket_transferred",
            "Ticket transferred",
            format!(
                "Your ticket for {} now belongs to {}; its old code no longer admits anyone.",
                payload["event_name"].as_str().unwrap_or("the event"),
                payload["to_email"].as_str().unwrap_or("its new holder"),
            ),
        )),
        WAITLIST_OFFERED => Some((
            "waitlist_offered",
            "Tickets held for you",
            format!(
                "{} came back from the waiting list and are held for you until {}. Pay for them in My bookings before then.",
                tickets(payload["qty"].as_u64().unwrap_or(1) as usize),
                payload["expires_at"]
                    .as_str()
                    .and_then(|at| at.parse::<DateTime<Utc>>().ok())
                    .map_or_else(
                        || "the offer ends".to_owned(),
                        |at| crate::catalog::zone::local_time(at, payload["time_zone"].as_str().unwrap_or("UTC")),
                    ),
            ),
        )),
        _ => None,
    }
}

/// "1 ticket", "3 tickets".
fn tickets(n: usize) -> String {
    if n == 1 {
        "1 ticket".to_owned()
    } else {
        format!("{n} tickets")
    }
}

/// "We refunded 90.00 USD: the booking had been paid already."
fn refunded(payload: &serde_json::Value) -> String {
    let reason = payload["reason"]
        .as_str()
        .unwrap_or("the seats could not be sold");
    match (payload["amount"].as_i64(), payload["currency"].as_str()) {
        (Some(amount), Some(currency)) => {
            format!(
                "We refunded {}: {reason}.",
                crate::money::format(amount, currency)
            )
        }
        _ => format!("Your payment was refunded: {reason}."),
    }
}

/// The subjects that tell their user something (most `bookings.*` do not).
pub const SUBJECTS: &[&str] = &[
    PAYMENT_SUCCEEDED,
    TICKETS_ISSUED,
    PAYMENT_REFUNDED,
    BOOKING_EXPIRED,
    BOOKING_REFUNDED,
    PAYMENT_REFUND_FAILED,
    TICKETS_TRANSFERRED,
    WAITLIST_OFFERED,
];

pub const NAME: &str = "notifier";

/// `notifier`, the notifications' outbox consumer: what users are told.
pub fn register(consumers: &mut Consumers, hub: Addr<NotificationHub>) {
    consumers.register(NAME, SUBJECTS, move |delivery| {
        let hub = hub.clone();
        async move {
            let event = FromEvent {
                outbox_id: delivery.id,
                subject: delivery.subject,
                payload: delivery.payload,
            };
            Ok(hub.send(event).await??)
        }
    });
}

/// Why a notification was not stored.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("the notifications database failed")]
    Database(#[from] sqlx::Error),
    #[error("a {0} event without a user_id")]
    NoUser(String),
}

impl From<NotificationError> for DeliveryError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::Database(_) => DeliveryError::retry(error),
            NotificationError::NoUser(_) => DeliveryError::refused(error),
        }
    }
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", params(PageQuery),
    responses((status = 200, body = crate::pagination::Page<Notification>)), security(("bearer" = [])))]
pub async fn list_notifications(
    pool: web::Data<PgPool>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit): (Option<Uuid>, u32) = query.into_inner().parse()?;
    let rows: Vec<Notification> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(user.id)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |n| n.id)))
}

/// Marks one of the caller's notifications read (again: no change).
#[utoipa::path(post, path = "/v1/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = Notification), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn mark_read(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let notification: Option<Notification> = sqlx::query_as(&format!(
        "UPDATE notifications SET read_at = COALESCE(read_at, now())
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(*id)
    .bind(user.id)
    .fetch_optional(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(notification.ok_or_else(|| ApiError::not_found("notification"))?))
}

/// Server-sent events: each new notification of the caller as `event: notification` with the
/// notification as JSON, and a comment every 15 s to keep the connection open. The access token
/// may be given as `?access_token=` (browsers' EventSource cannot send headers). The stream ends
/// when its login does (logout).
#[utoipa::path(get, path = "/v1/notifications/stream", tag = "notifications",
    responses((status = 200, content_type = "text/event-stream", body = String)), security(("bearer" = [])))]
pub async fn stream_notifications(
    hub: web::Data<Addr<NotificationHub>>,
    revoked: web::Data<RevokedSessions>,
    StreamUser(user): StreamUser,
) -> HttpResponse {
    let (tx, rx) = mpsc::channel::<Notification>(64);
    hub.do_send(Subscribe { user: user.id, tx });
    let opened = stream::once(async {
        Ok::<_, actix_web::Error>(web::Bytes::from_static(b": connected\n\n"))
    });
    let events = stream::unfold(
        (rx, tokio::time::interval(KEEP_ALIVE)),
        |(mut rx, mut tick)| async move {
            tick.reset();
            let chunk = tokio::select! {
                notification = rx.recv() => {
                    let notification = notification?;
                    let json = serde_json::to_string(&notification).expect("notifications serialize");
                    format!("event: notification\nid: {}\ndata: {json}\n\n", notification.id)
                }
                _ = tick.tick() => ": keep-alive\n\n".to_owned(),
            };
            Some((
                Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
                (rx, tick),
            ))
        },
    );
    // logging out (or a reused refresh token) ends this login's streams, not only new requests
    let ended = revoked.ended(user.session);
    let stream =
        futures_util::StreamExt::take_until(futures_util::StreamExt::chain(opened, events), ended);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The `NotificationActor`: stores the notifications domain events make and pushes them to
/// the open streams of their user. Streams whose client left are dropped on the next push.
pub struct NotificationHub {
    pool: PgPool,
    streams: HashMap<UserId, Vec<mpsc::Sender<Notification>>>,
    /// In a cluster a user's stream may be open on another node: notifications go to every
    /// node's hub through here ([`FanOut`]) instead of to this hub's streams.
    fan_out: Option<mpsc::UnboundedSender<(UserId, Notification)>>,
}

impl NotificationHub {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            streams: HashMap::new(),
            fan_out: None,
        }
    }

    fn push(&mut self, user: UserId, notification: Notification) {
        if let Some(streams) = self.streams.get_mut(&user) {
            // a full stream (a client not reading) misses the push; the list still has it
            streams.retain(|tx| match tx.try_send(notification.clone()) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Closed(_)) => false,
            });
            if streams.is_empty() {
                self.streams.remove(&user);
            }
        }
    }
}

/// A domain event from the outbox: notify its user if it concerns them.
#[derive(Message)]
#[rtype(result = "Result<(), NotificationError>")]
pub struct FromEvent {
    pub outbox_id: i64,
    pub subject: String,
    pub payload: serde_json::Value,
}

impl Handler<FromEvent> for NotificationHub {
    type Result = ResponseActFuture<Self, Result<(), NotificationError>>;

    fn handle(&mut self, msg: FromEvent, _: &mut Context<Self>) -> Self::Result {
        let pool = self.pool.clone();
        let stored = async move { store(&pool, msg.outbox_id, &msg.subject, &msg.payload).await };
        Box::pin(stored.into_actor(self).map(|stored, hub, _| {
            if let Some((user, notification)) = stored? {
                match &hub.fan_out {
                    Some(fan_out) if !fan_out.is_closed() => {
                        let _ = fan_out.send((user, notification));
                    }
                    _ => hub.push(user, notification),
                }
            }
            Ok(())
        }))
    }
}

impl Actor for NotificationHub {
    type Context = Context<Self>;
}

impl Supervised for NotificationHub {}

/// Sends this hub's notifications through `0` to every node's hub (cluster mode).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FanOut(pub mpsc::UnboundedSender<(UserId, Notification)>);

impl Handler<FanOut> for NotificationHub {
    type Result = ();

    fn handle(&mut self, msg: FanOut, _: &mut Context<Self>) {
        self.fan_out = Some(msg.0);
    }
}

/// A notification some node stored, for the streams of its user open here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Push {
    pub user: UserId,
    pub notification: Notification,
}

impl Handler<Push> for NotificationHub {
    type Result = ();

    fn handle(&mut self, msg: Push, _: &mut Context<Self>) {
        self.push(msg.user, msg.notification);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub user: UserId,
    pub tx: mpsc::Sender<Notification>,
}

impl Handler<Subscribe> for NotificationHub {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.streams.entry(msg.user).or_default().push(msg.tx);
    }
}

/// Stores the notification an outbox row makes for its user (once: the row's id is unique
/// among notifications) if they want in-site notifications; returns it when it is new.
async fn store(
    pool: &PgPool,
    outbox_id: i64,
    subject: &str,
    payload: &serde_json::Value,
) -> Result<Option<(UserId, Notification)>, NotificationError> {
    let Some((kind, title, body)) = from_event(subject, payload) else {
        return Ok(None);
    };
    let Some(user) = payload["user_id"]
        .as_str()
        .and_then(|u| u.parse::<UserId>().ok())
    else {
        return Err(NotificationError::NoUser(subject.to_owned()));
    };
    let data = serde_json::json!({"booking_id": payload["booking_id"], "payment_id": payload["payment_id"]});
    let stored: Option<Notification> = sqlx::query_as(&format!(
        "INSERT INTO notifications (id, user_id, kind, title, body, data, outbox_id)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE COALESCE((SELECT site_notifications FROM user_settings WHERE user_id = $2), true)
         ON CONFLICT (outbox_id) DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(kind)
    .bind(title)
    .bind(body)
    .bind(data)
    .bind(outbox_id)
    .fetch_optional(pool)
    .await?;
    Ok(stored.map(|notification| (user, notification)))
}
