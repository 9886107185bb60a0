//! Bookings: a buyer holds admissions through the event's engine ([`hold`]), gives contact
//! information, checks out on to payment, or cancels ([`checkout`]); and reads their own
//! bookings (here, from [`store`]). Organizers' sales reports are in [`sales`].
pub mod checkout;
pub mod hold;
pub mod sales;
pub mod store;

use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, Code};
use crate::pagination;
use crate::status::{BookingStatus, PaymentStatus};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/bookings/hold").route(web::post().to(hold::hold)))
        .service(web::resource("/bookings").route(web::get().to(list_bookings)))
        .service(web::resource("/bookings/{id}").route(web::get().to(get_booking)))
        .service(
            web::resource("/bookings/{id}/information")
                .route(web::post().to(checkout::information)),
        )
        .service(web::resource("/bookings/{id}/checkout").route(web::post().to(checkout::checkout)))
        .service(web::resource("/bookings/{id}/cancel").route(web::post().to(checkout::cancel)))
        .service(web::resource("/bookings/{id}/extend").route(web::post().to(checkout::extend)));
    sales::routes(cfg);
}

/// A booking as its buyer sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    pub id: BookingId,
    /// Short code to quote to support and print on tickets.
    pub booking_code: String,
    pub event_id: EventId,
    /// `held`, `pending_payment`, `confirmed` (paid), `expired`, `cancelled`, or `refunded`
    /// (paid, then every ticket refunded).
    pub status: BookingStatus,
    pub held_at: DateTime<Utc>,
    /// When an unpaid hold ends and its seats go back on sale.
    pub expired_at: DateTime<Utc>,
    /// How many more times `POST /v1/bookings/{id}/extend` may give the hold more time.
    pub extensions_left: i32,
    /// Minor units of `currency`.
    pub total_price: i64,
    pub currency: String,
    /// Admissions in the booking.
    pub number_seats: i32,
    pub items: Vec<BookingItem>,
    pub seats: Vec<BookedSeat>,
    /// Contact details given with `POST /v1/bookings/{id}/information`.
    pub information: Option<Information>,
    /// The payment method chosen at checkout.
    pub payment_method: Option<String>,
    /// The booking's latest payment, once it is checked out (absent before): pay at its
    /// `checkout_url` while its `status` is `pending`. A booking paid twice over keeps the
    /// payment that paid it; see `GET /v1/payments/{id}` for its transactions and refunds.
    pub payment: Option<BookingPayment>,
    /// Minor units of `currency` refunded or on their way back (refunds that failed are not
    /// counted; see the payment's `refunds`).
    pub refunded: i64,
    /// The event's refund policy: until then the buyer may cancel a paid booking and get its
    /// price back (`POST /v1/bookings/{id}/cancel`); absent, only the organizer refunds. Not given in the answer to the hold itself.
    pub refund_until: Option<DateTime<Utc>>,
    /// The promo code the booking used (its `items` carry the discounted prices).
    pub promo_code: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BookingPayment {
    pub id: uuid::Uuid,
    pub payment_code: String,
    pub checkout_url: Option<String>,
    /// `pending`, `succeeded`, `failed`, `refunded`, `cancelled` or (old rows) `flagged`.
    pub status: PaymentStatus,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BookingItem {
    pub ticket_type_id: TicketTypeId,
    pub qty: i32,
    /// Unit price when the hold was made.
    pub price: i64,
    /// Of `qty`, how many were refunded (their admissions are on sale again).
    pub returned: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BookedSeat {
    pub id: SeatId,
    pub ticket_type_id: TicketTypeId,
    pub section: String,
    pub row: String,
    /// The seat's label in its row, as on the seat map.
    pub label: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Information {
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// The name on each ticket, in admission order, when the event asks for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<String>>,
}

/// How often a buyer may ask for more time on one hold: WCAG 2.2.1 asks that a time limit can
/// be extended at least ten times.
pub const MAX_EXTENSIONS: i32 = 10;

/// A booking's short code: 60 random bits of its id in Crockford base32, `XXXX-XXXX-XXXX`.
pub fn booking_code(id: BookingId) -> String {
    short_code(id.0)
}

/// 60 random bits of a UUIDv7 in Crockford base32, grouped `XXXX-XXXX-XXXX`.
pub fn short_code(id: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // the low 62 bits of a UUIDv7 are random; the time bits would repeat within a millisecond
    let random = id.as_u128() as u64;
    let mut code = String::with_capacity(14);
    for i in 0..12 {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(ALPHABET[((random >> (55 - 5 * i)) & 31) as usize] as char);
    }
    code
}

async fn own_booking(pool: &PgPool, user: &AuthUser, id: BookingId) -> Result<Booking, ApiError> {
    store::find(pool, id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))
}

/// One of the caller's bookings.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_booking(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(own_booking(&pool, &user, *id).await?))
}

/// The caller's bookings, newest first.
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings", params(crate::pagination::PageQuery),
    responses((status = 200, body = crate::pagination::Page<Booking>)), security(("bearer" = [])))]
pub async fn list_bookings(
    pool: web::Data<PgPool>,
    user: AuthUser,
    query: web::Query<pagination::PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit): (Option<BookingId>, u32) = query.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(store::list(&pool, user.id, after, limit).await?))
}

/// The error for acting on a booking that is no longer held.
fn status_conflict(status: BookingStatus) -> ApiError {
    match status {
        BookingStatus::Expired => ApiError::new(
            Code::HoldExpired,
            "the hold expired and its seats went back on sale",
        ),
        BookingStatus::Paid => ApiError::new(
            Code::InvalidState,
            "the booking is paid (confirmed); it can no longer be changed",
        ),
        BookingStatus::Cancelled => ApiError::new(Code::InvalidState, "the booking is cancelled"),
        live => ApiError::new(
            Code::InvalidState,
            format!("the booking is {}", live.as_str()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_codes_are_grouped_crockford_base32_and_differ_between_bookings() {
        let a = booking_code(BookingId::new());
        let b = booking_code(BookingId::new());
        assert_eq!(a.len(), 14);
        assert_eq!(a.matches('-').count(), 2);
        assert!(a
            .chars()
            .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)));
        assert_ne!(a, b);
    }
}
