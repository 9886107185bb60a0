//! Refunds of sold tickets: the organizer's (a whole booking or some of its tickets), the
//! buyer's within the event's refund policy, and every paid booking of a cancelled event. A
//! refund voids its tickets at once; their seats go back on sale through the event's actor
//! (`tickets.voided`) and the money through the provider (`payments.refund_requested`).
pub mod store;

use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{BookingId, EventId};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, Organizer};
use crate::catalog::admin::owned_event;
use crate::error::{ApiError, Code};
use crate::input::Json;
use crate::mail::Mailer;
use crate::outbox::subjects::{BOOKING_REFUNDED, TICKETS_ISSUED};
use crate::outbox::{Consumers, DeliveryError, Handled, Wake};
use crate::pagination::{Page, PageQuery};
use crate::tickets::consumer::MAILER;
use std::sync::Arc;
pub use store::{Refund, RefundSummary, RequestedBy};

pub const NAME: &str = "refunder";

/// `refunder`: tickets issued for an event cancelled meanwhile (a payment that arrived after
/// the cancellation) are refunded at once, like the rest of the event's.
pub fn register(consumers: &mut Consumers, pool: PgPool, mailer: Arc<Mailer>) {
    let mail_pool = pool.clone();
    consumers.register(MAILER, &[BOOKING_REFUNDED], move |delivery| {
        let (pool, mailer) = (mail_pool.clone(), mailer.clone());
        async move { mail_refund(&pool, &mailer, delivery.payload()?).await }
    });
    consumers.register(NAME, &[TICKETS_ISSUED], move |delivery| {
        let pool = pool.clone();
        async move {
            let Issued { booking_id } = delivery.payload()?;
            let cancelled: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM bookings b JOIN events e ON e.id = b.event_id
                                WHERE b.id = $1 AND e.status = 'cancelled')",
            )
            .bind(booking_id)
            .fetch_one(&pool)
            .await?;
            if !cancelled {
                return Ok(());
            }
            let mut tx = pool.begin().await?;
            match store::request(
                &mut tx,
                booking_id,
                None,
                RequestedBy::EventCancelled,
                store::CANCELLED_REASON,
            )
            .await
            {
                Ok(_) => {
                    tx.commit().await?;
                    Ok(())
                }
                // refunded already (a redelivery)
                Err(error) if error.code == Code::InvalidState => Ok(()),
                Err(error) => Err(DeliveryError::retry(anyhow::anyhow!("{error}"))),
            }
        }
    });
}

#[derive(Deserialize)]
struct Issued {
    booking_id: BookingId,
}

#[derive(Deserialize)]
struct Refunded {
    refund: Uuid,
    booking_id: BookingId,
}

/// Tells the buyer by mail what is being refunded and why (unless they turned mail off).
async fn mail_refund(pool: &PgPool, mailer: &Mailer, refunded: Refunded) -> Handled {
    let contact: Option<(String, bool, String)> = sqlx::query_as(
        "SELECT COALESCE(bu.email, u.email), COALESCE(us.email_notifications, true), e.name
         FROM bookings b JOIN users u ON u.id = b.user_id JOIN events e ON e.id = b.event_id
         LEFT JOIN booking_users bu ON bu.booking_id = b.id
         LEFT JOIN user_settings us ON us.user_id = b.user_id
         WHERE b.id = $1",
    )
    .bind(refunded.booking_id)
    .fetch_optional(pool)
    .await?;
    let (Some((email, true, event)), Some(refund)) =
        (contact, store::find(pool, refunded.refund).await?)
    else {
        return Ok(());
    };
    let tickets = refund.tickets.len();
    let text = format!(
        "Booking {code} for {event}: {n} {was} refunded, {amount}, because {reason}.\n\n\
         {those} no longer admit anyone. The money goes back the way you paid; \
         we will tell you in My bookings when it is back.\n",
        code = refund.booking_code,
        n = if tickets == 1 {
            "1 ticket".to_owned()
        } else {
            format!("{tickets} tickets")
        },
        was = if tickets == 1 { "is" } else { "are" },
        amount = crate::money::format(refund.amount, &refund.currency),
        reason = refund.reason,
        those = if tickets == 1 { "It" } else { "They" },
    );
    let subject = format!("Refund for your booking {}", refund.booking_code);
    crate::mail::send_once(pool, mailer, "refund", refund.id, &email, &subject, text).await?;
    Ok(())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/bookings/{id}/refunds").route(web::post().to(refund_booking)),
    )
    .service(web::resource("/admin/events/{id}/refunds").route(web::get().to(list_refunds)))
    .service(web::resource("/admin/refunds/{id}/retry").route(web::post().to(retry_refund)));
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// The tickets to refund; left out, every ticket of the booking not yet used at the door.
    pub tickets: Option<Vec<Uuid>>,
    /// What the buyer is told (at most 500 characters); "the organizer refunded your tickets"
    /// when left out.
    pub reason: Option<String>,
}

const MAX_REASON: usize = 500;

/// The organizer's event that a booking belongs to (404 for anyone else's).
async fn booking_event(
    pool: &PgPool,
    user: &AuthUser,
    booking: BookingId,
) -> Result<EventId, ApiError> {
    let event: Option<EventId> = sqlx::query_scalar("SELECT event_id FROM bookings WHERE id = $1")
        .bind(booking)
        .fetch_optional(pool)
        .await?;
    let event = event.ok_or_else(|| ApiError::not_found("booking"))?;
    owned_event(pool, user, event)
        .await
        .map_err(|_| ApiError::not_found("booking"))?;
    Ok(event)
}

/// Refund a paid booking of one of the organizer's events, in full or some of its tickets.
/// The tickets are void at once (refused at the door with 409 `ticket_voided`), their seats go
/// back on sale, and the money goes back through the provider (`status` `pending` until then).
#[utoipa::path(post, path = "/v1/admin/bookings/{id}/refunds", tag = "admin", params(("id" = String, Path)),
    request_body = RefundBody,
    responses((status = 201, body = Refund), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "invalid_state: not paid, nothing left, a used ticket", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, booking_id = %id))]
pub async fn refund_booking(
    pool: web::Data<PgPool>,
    wake: web::Data<Wake>,
    Organizer(user): Organizer,
    id: web::Path<BookingId>,
    body: Json<RefundBody>,
) -> Result<HttpResponse, ApiError> {
    booking_event(&pool, &user, *id).await?;
    let body = body.into_inner();
    let reason = match body.reason.as_deref().map(str::trim) {
        Some(r) if r.chars().count() > MAX_REASON => {
            return Err(ApiError::invalid(
                "reason",
                format!("must be at most {MAX_REASON} characters"),
            ))
        }
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => "the organizer refunded your tickets".to_owned(),
    };
    let mut tx = pool.begin().await?;
    let refund = store::request(
        &mut tx,
        *id,
        body.tickets.as_deref(),
        RequestedBy::Organizer,
        &reason,
    )
    .await?;
    tx.commit().await?;
    wake.wake();
    let refund = store::find(&pool, refund)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))?;
    Ok(HttpResponse::Created().json(refund))
}

/// A buyer cancels their paid booking within the event's refund policy: every ticket not used
/// at the door is refunded. Outside the policy, 409 `refund_not_allowed`.
pub async fn buyer_cancel(
    pool: &PgPool,
    wake: &Wake,
    user: &AuthUser,
    booking: BookingId,
) -> Result<(), ApiError> {
    let policy: Option<(
        Option<chrono::DateTime<chrono::Utc>>,
        boxoffice_actors::ids::UserId,
        String,
    )> = sqlx::query_as(
        "SELECT e.refund_until, b.user_id, e.time_zone FROM bookings b JOIN events e ON e.id = b.event_id
         WHERE b.id = $1",
    )
    .bind(booking)
    .fetch_optional(pool)
    .await?;
    let Some((until, _, zone)) = policy.filter(|(_, owner, _)| *owner == user.id) else {
        return Err(ApiError::not_found("booking"));
    };
    match until {
        None => {
            return Err(ApiError::new(
                Code::RefundNotAllowed,
                "this event does not refund cancelled bookings; ask the organizer",
            ))
        }
        Some(until) if chrono::Utc::now() > until => {
            return Err(ApiError::new(
                Code::RefundNotAllowed,
                format!(
                    "refunds for this event were possible until {}; ask the organizer",
                    crate::catalog::zone::local_time(until, &zone)
                ),
            ))
        }
        Some(_) => {}
    }
    let mut tx = pool.begin().await?;
    store::request(
        &mut tx,
        booking,
        None,
        RequestedBy::Buyer,
        "you cancelled the booking",
    )
    .await?;
    tx.commit().await?;
    wake.wake();
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundQuery {
    /// Only refunds in this status: `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundList {
    /// Every refund of the event, counted by status.
    pub summary: RefundSummary,
    pub data: Vec<Refund>,
    pub next_token: Option<String>,
}

/// An event's refunds, newest first, with how they stand: what the sales page shows while a
/// cancelled event's refunds go out, and the failed ones to retry.
#[utoipa::path(get, path = "/v1/admin/events/{id}/refunds", tag = "admin",
    params(("id" = String, Path), RefundQuery, PageQuery),
    responses((status = 200, body = RefundList), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_refunds(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    filter: web::Query<RefundQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let status = filter.into_inner().status;
    if let Some(status) = &status {
        if !["pending", "succeeded", "failed"].contains(&status.as_str()) {
            return Err(ApiError::invalid(
                "status",
                "must be pending, succeeded or failed",
            ));
        }
    }
    let (after, limit): (Option<Uuid>, u32) = page.into_inner().parse()?;
    let rows = store::of_event(&pool, event.id, status.as_deref(), after, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.id);
    Ok(HttpResponse::Ok().json(RefundList {
        summary: store::summary(&pool, event.id).await?,
        data: page.data,
        next_token: page.next_token,
    }))
}

/// Try a failed refund again through the provider, from its first attempt.
#[utoipa::path(post, path = "/v1/admin/refunds/{id}/retry", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Refund), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "invalid_state: the refund has not failed", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_refund(
    pool: web::Data<PgPool>,
    wake: web::Data<Wake>,
    Organizer(user): Organizer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let refund = store::find(&pool, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))?;
    owned_event(&pool, &user, refund.event_id)
        .await
        .map_err(|_| ApiError::not_found("refund"))?;
    if !store::retry(&pool, refund.id).await? {
        return Err(ApiError::new(
            Code::InvalidState,
            format!(
                "the refund is {}; only a failed one is tried again",
                refund.status
            ),
        ));
    }
    wake.wake();
    let refund = store::find(&pool, refund.id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))?;
    Ok(HttpResponse::Ok().json(refund))
}
