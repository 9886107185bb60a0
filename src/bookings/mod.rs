//! Bookings: a buyer holds admissions through the event's engine, gives contact information,
//! checks out (on to payment), or cancels; and reads their own bookings. Holds and cancels go
//! through the event actor (`boxoffice-actors`); `journal` is how it persists; `store` reads.
pub mod journal;
pub mod sales;
pub mod store;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::event_actor::EngineError;
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
use boxoffice_actors::inventory::{Hold, ItemRequest, Millis, Rejection};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, Code, FieldError, Validation};
use crate::idempotency;
use crate::input::{json_object, Json};
use crate::pagination;
use crate::payments::provider::EnsurePayment;
use crate::startup::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/bookings/hold").route(web::post().to(hold)))
        .service(web::resource("/bookings").route(web::get().to(list_bookings)))
        .service(web::resource("/bookings/{id}").route(web::get().to(get_booking)))
        .service(web::resource("/bookings/{id}/information").route(web::post().to(information)))
        .service(web::resource("/bookings/{id}/checkout").route(web::post().to(checkout)))
        .service(web::resource("/bookings/{id}/cancel").route(web::post().to(cancel)));
    sales::routes(cfg);
}

/// A booking as its buyer sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    pub id: BookingId,
    /// Short code to quote to support and print on tickets.
    pub booking_code: String,
    pub event_id: EventId,
    /// `held`, `pending_payment`, `confirmed`, `expired` or `cancelled`.
    pub status: String,
    pub held_at: DateTime<Utc>,
    /// When an unpaid hold ends and its seats go back on sale.
    pub expired_at: DateTime<Utc>,
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
    /// The latest payment, once checked out: pay at its `checkout_url`.
    pub payment: Option<BookingPayment>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BookingPayment {
    pub id: uuid::Uuid,
    pub payment_code: String,
    pub checkout_url: Option<String>,
    /// `pending`, `succeeded`, `failed`, `refunded` or `flagged`.
    pub status: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BookingItem {
    pub ticket_type_id: TicketTypeId,
    pub qty: i32,
    /// Unit price when the hold was made.
    pub price: i64,
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
}

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

fn time(millis: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let seat_detail = |seat: SeatId, message: &str| FieldError {
            field: "seats".into(),
            message: format!("{seat} {message}"),
            seat: None,
        };
        match error {
            EngineError::Rejected(rejection) => match rejection {
                Rejection::SoldOut => ApiError::new(
                    Code::SoldOut,
                    "not enough admissions (or adjacent seats) left for this request",
                ),
                // `hold` answers with the seat's label (`seat_taken`); this is for a seat it
                // could not look up
                Rejection::SeatTaken(seat) => ApiError {
                    details: vec![seat_detail(seat, "is held or sold")],
                    ..ApiError::new(Code::SeatTaken, "a seat you picked was just taken")
                },
                Rejection::UnknownSeat(seat) => ApiError {
                    details: vec![seat_detail(seat, "is not a seat of this ticket type")],
                    ..ApiError::new(
                        Code::UnknownSeat,
                        format!("seat {seat} is not a seat of this ticket type"),
                    )
                },
                Rejection::UnknownTicketType(id) => ApiError::invalid(
                    "ticket_type_id",
                    format!("{id} is not a ticket type of this event"),
                ),
                Rejection::SaleNotOpen => {
                    ApiError::new(Code::SaleNotOpen, "this ticket type is not on sale now")
                }
                Rejection::OverOrderLimit { max } => ApiError::new(
                    Code::OverLimit,
                    format!("one booking may have at most {max} admissions"),
                ),
                Rejection::OverUserLimit { max } => ApiError::new(
                    Code::OverLimit,
                    format!("one buyer may have at most {max} admissions of this ticket type"),
                ),
                Rejection::InvalidRequest => ApiError::invalid(
                    "seats",
                    "seats can be chosen only for seat-mapped ticket types, one per admission",
                ),
                Rejection::MixedCurrencies => ApiError::invalid(
                    "items",
                    "all ticket types of one booking must share a currency",
                ),
                Rejection::UnknownBooking => ApiError::not_found("booking"),
                Rejection::AlreadyConfirmed => ApiError::new(
                    Code::InvalidState,
                    "the booking is confirmed; it can no longer be cancelled",
                ),
                Rejection::DuplicateBooking => ApiError::internal(rejection),
            },
            EngineError::EventNotFound => ApiError::not_found("event"),
            EngineError::EventCancelled => {
                ApiError::new(Code::EventCancelled, "the event is cancelled")
            }
            EngineError::Overloaded => ApiError::new(
                Code::Overloaded,
                "too many requests for this event right now; retry in a moment",
            )
            .retry_after(1),
            EngineError::Unavailable(cause) => {
                tracing::warn!(%cause, "event engine unavailable");
                ApiError::new(
                    Code::Unavailable,
                    "bookings are briefly unavailable; retry shortly",
                )
                .retry_after(1)
            }
        }
    }
}

/// One line of a hold.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldItem {
    /// Also accepted as the seed's `event_type_id`.
    #[serde(alias = "event_type_id")]
    pub ticket_type_id: TicketTypeId,
    /// Admissions; defaults to the number of `seats` when they are named.
    pub qty: Option<i64>,
    /// Seats to hold (seat-mapped types); without them the best available are picked.
    pub seats: Option<Vec<SeatId>>,
}

/// `{event_id, ticket_type_id, qty, seats?}` for one ticket type, or `{event_id, items: [...]}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    pub event_id: EventId,
    #[serde(alias = "event_type_id")]
    pub ticket_type_id: Option<TicketTypeId>,
    pub qty: Option<i64>,
    pub seats: Option<Vec<SeatId>>,
    pub items: Option<Vec<HoldItem>>,
}

/// Most lines one hold may have.
const MAX_ITEMS: usize = 20;

impl HoldBody {
    /// The lines to hold, or 422 naming every field at fault.
    fn items(self, max_per_order: u32) -> Result<(EventId, Vec<ItemRequest>), ApiError> {
        let mut validation = Validation::new();
        let lines: Vec<(String, HoldItem)> = match (self.ticket_type_id, self.items) {
            (Some(ticket_type_id), None) => vec![(
                String::new(),
                HoldItem {
                    ticket_type_id,
                    qty: self.qty,
                    seats: self.seats,
                },
            )],
            (None, Some(items)) if self.qty.is_none() && self.seats.is_none() => {
                validation.check(
                    !items.is_empty(),
                    "items",
                    "must name at least one ticket type",
                );
                validation.check(
                    items.len() <= MAX_ITEMS,
                    "items",
                    format!("may have at most {MAX_ITEMS} lines"),
                );
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| (format!("items[{i}]."), item))
                    .collect()
            }
            (None, Some(_)) => {
                return Err(ApiError::invalid(
                    "items",
                    "give qty and seats inside each item",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "items",
                    "give either ticket_type_id or items, not both",
                ))
            }
            (None, None) => return Err(ApiError::invalid("ticket_type_id", "is required")),
        };
        let mut requests = Vec::with_capacity(lines.len());
        for (prefix, line) in lines {
            let seats = line.seats.unwrap_or_default();
            let qty = line.qty.unwrap_or(seats.len() as i64);
            if qty < 1 {
                validation.fail(&format!("{prefix}qty"), "must be at least 1");
            } else if qty > i64::from(max_per_order) {
                validation.fail(
                    &format!("{prefix}qty"),
                    format!("must be at most {max_per_order} (booking.max_per_order)"),
                );
            } else if !seats.is_empty() && seats.len() as i64 != qty {
                validation.fail(&format!("{prefix}seats"), "must name exactly qty seats");
            }
            let mut unique = seats.clone();
            unique.sort();
            unique.dedup();
            validation.check(
                unique.len() == seats.len(),
                &format!("{prefix}seats"),
                "names a seat twice",
            );
            requests.push(ItemRequest {
                ticket_type: line.ticket_type_id,
                qty: qty.clamp(0, i64::from(u32::MAX)) as u32,
                seats,
            });
        }
        let total: i64 = requests.iter().map(|r| i64::from(r.qty)).sum();
        if requests.len() > 1 && total > i64::from(max_per_order) {
            validation.fail(
                "items",
                format!(
                    "may hold at most {max_per_order} admissions together (booking.max_per_order)"
                ),
            );
        }
        validation.finish()?;
        Ok((self.event_id, requests))
    }
}

/// Holds admissions for `booking.hold_seconds`; answered once the hold is durable.
#[utoipa::path(post, path = "/v1/bookings/hold", tag = "bookings", request_body = HoldBody,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; the same key within 24 h replays the first answer")),
    responses((status = 201, body = Booking), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn hold(
    state: web::Data<AppState>,
    user: AuthUser,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&request)?;
    let parsed: HoldBody = json_object(&body)?;
    let max_per_order = state.settings.booking.max_per_order;
    let (event, items) = parsed.items(max_per_order)?;
    let app = state.clone();
    let hold = async move {
        let request = boxoffice_actors::inventory::HoldRequest {
            booking: BookingId::new(),
            user: user.id,
            items,
            max_per_order,
        };
        let hold = match app.engine.hold(event, request).await {
            Ok(hold) => hold,
            Err(EngineError::Rejected(Rejection::SeatTaken(seat))) => {
                return Err(seat_taken(&app, seat).await)
            }
            Err(error) => return Err(error.into()),
        };
        let booking = held_booking(&app, event, hold).await?;
        Ok((
            StatusCode::CREATED,
            serde_json::to_value(booking).expect("bookings serialize"),
        ))
    };
    let endpoint = "POST /v1/bookings/hold";
    idempotency::once(&state.pool, user.id, key, endpoint, &body, hold).await
}

/// 409 `seat_taken` saying the seat as the buyer saw it on the map ("Stalls A1"), with the seat
/// (id, section, row, label) in `details`; the engine only knows its id.
async fn seat_taken(state: &AppState, id: SeatId) -> ApiError {
    let found = store::seats_by_id(&state.pool, &[id]).await;
    let Some(seat) = found.ok().and_then(|mut seats| seats.pop()) else {
        // taken all the same: a failed look-up only costs the label
        return EngineError::Rejected(Rejection::SeatTaken(id)).into();
    };
    let name = format!("{} {}{}", seat.section, seat.row, seat.label);
    ApiError {
        details: vec![FieldError {
            field: "seats".into(),
            message: format!("{name} is held or sold"),
            seat: Some(seat),
        }],
        ..ApiError::new(
            Code::SeatTaken,
            format!("{name} was just taken; pick another seat"),
        )
    }
}

/// The answer to a hold, from the engine's decision (no need to read back what was just written).
async fn held_booking(state: &AppState, event: EventId, hold: Hold) -> Result<Booking, ApiError> {
    let seats = if hold.seats.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<SeatId> = hold.seats.iter().map(|(_, seat)| *seat).collect();
        store::seats_by_id(&state.pool, &ids).await?
    };
    Ok(Booking {
        id: hold.booking,
        booking_code: booking_code(hold.booking),
        event_id: event,
        status: "held".into(),
        held_at: time(hold.held_at),
        expired_at: time(hold.expires_at),
        total_price: hold.total_price(),
        currency: hold.currency.clone(),
        number_seats: hold.admissions() as i32,
        items: hold
            .items
            .iter()
            .map(|&(ticket_type_id, qty, price)| BookingItem {
                ticket_type_id,
                qty: qty as i32,
                price,
            })
            .collect(),
        seats,
        information: None,
        payment_method: None,
        payment: None,
    })
}

async fn own_booking(
    state: &AppState,
    user: &AuthUser,
    id: BookingId,
) -> Result<Booking, ApiError> {
    store::find(&state.pool, id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("booking"))
}

/// One of the caller's bookings.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_booking(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(own_booking(&state, &user, *id).await?))
}

/// The caller's bookings, newest first.
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings", params(crate::pagination::PageQuery),
    responses((status = 200, body = crate::pagination::Page<Booking>)), security(("bearer" = [])))]
pub async fn list_bookings(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<pagination::PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit): (Option<BookingId>, u32) = query.into_inner().parse()?;
    Ok(HttpResponse::Ok().json(store::list(&state.pool, user.id, after, limit).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InformationBody {
    #[schema(max_length = 254)]
    pub email: String,
    /// 5 to 20 digits, with `+ - ( ) .` or spaces; blank means none.
    #[schema(
        max_length = 40,
        pattern = r"^\s*$|^\s*[ +().-]*([0-9][ +().-]*){5,20}\s*$"
    )]
    pub phone: Option<String>,
    #[schema(
        max_length = 500,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    pub address: Option<String>,
}

impl InformationBody {
    fn parse(self) -> Result<Information, ApiError> {
        let mut validation = Validation::new();
        let email = crate::auth::Email::parse(&self.email);
        if let Err(message) = &email {
            validation.fail("email", *message);
        }
        let phone = self
            .phone
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if let Some(phone) = &phone {
            let digits = phone.chars().filter(char::is_ascii_digit).count();
            validation.check(
                (5..=20).contains(&digits)
                    && phone.len() <= 40
                    && phone
                        .chars()
                        .all(|c| c.is_ascii_digit() || " +-().".contains(c)),
                "phone",
                "must be a phone number: 5 to 20 digits, with + - ( ) . or spaces",
            );
        }
        let address = self
            .address
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        if let Some(address) = &address {
            if let Err(message) = crate::input::check_text(address, 1, 500) {
                validation.fail("address", message);
            }
        }
        validation.finish()?;
        Ok(Information {
            email: email.expect("checked above").as_str().to_owned(),
            phone,
            address,
        })
    }
}

/// Stores the buyer's contact details for the booking (the tickets are mailed there).
#[utoipa::path(post, path = "/v1/bookings/{id}/information", tag = "bookings", params(("id" = String, Path)),
    request_body = InformationBody,
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn information(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<BookingId>,
    body: Json<InformationBody>,
) -> Result<HttpResponse, ApiError> {
    let information = body.into_inner().parse()?;
    store::save_information(&state.pool, *id, user.id, &information).await?;
    Ok(HttpResponse::Ok().json(own_booking(&state, &user, *id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    #[schema(value_type = PaymentMethod)]
    pub payment_method: String,
}

/// How the buyer pays; the document's name for [`PAYMENT_METHODS`].
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PaymentMethod {
    Card,
    BankTransfer,
    Ewallet,
}

pub const PAYMENT_METHODS: [&str; 3] = ["card", "bank_transfer", "ewallet"];

/// Moves a held booking with contact details to `pending_payment`, creates its payment with the
/// gateway (pay at `payment.checkout_url`) and writes `bookings.confirmed` on the outbox.
/// Checking out again answers the booking unchanged.
#[utoipa::path(post, path = "/v1/bookings/{id}/checkout", tag = "bookings", params(("id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters; the same key within 24 h replays the first answer")),
    request_body = CheckoutBody,
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn checkout(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<BookingId>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&request)?;
    let parsed: CheckoutBody = json_object(&body)?;
    if !PAYMENT_METHODS.contains(&parsed.payment_method.as_str()) {
        return Err(ApiError::invalid(
            "payment_method",
            "must be card, bank_transfer or ewallet",
        ));
    }
    let endpoint = format!("POST /v1/bookings/{id}/checkout");
    let (id, owner, app) = (*id, user.clone(), state.clone());
    let checkout = async move {
        store::checkout(&app.pool, id, owner.id, &parsed.payment_method).await?;
        // the payment actor creates the payment with the gateway; the outbox's
        // bookings.confirmed asks again if this answer is lost
        app.payments
            .send(EnsurePayment(id))
            .await
            .map_err(ApiError::internal)?
            .map_err(|cause| {
                tracing::warn!(%cause, booking_id = %id, "payment not created");
                ApiError::new(
                    Code::Unavailable,
                    "the payment gateway is unavailable; retry the checkout",
                )
                .retry_after(1)
            })?;
        let booking = own_booking(&app, &owner, id).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(booking).expect("bookings serialize"),
        ))
    };
    idempotency::once(&state.pool, user.id, key, &endpoint, &body, checkout).await
}

/// Gives a held (or pending-payment) booking's seats back. Cancelling twice answers the
/// cancelled booking.
#[utoipa::path(post, path = "/v1/bookings/{id}/cancel", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    let booking = own_booking(&state, &user, *id).await?;
    match booking.status.as_str() {
        "cancelled" => return Ok(HttpResponse::Ok().json(booking)),
        "held" | "pending_payment" => {}
        other => return Err(status_conflict(other)),
    }
    if let Err(error) = state
        .engine
        .cancel(booking.event_id, booking.id, user.id)
        .await
    {
        // the engine may have expired it a moment ago: say what the booking is now
        if error == EngineError::Rejected(Rejection::UnknownBooking) {
            let now = own_booking(&state, &user, *id).await?;
            return Err(status_conflict(&now.status));
        }
        return Err(error.into());
    }
    Ok(HttpResponse::Ok().json(own_booking(&state, &user, *id).await?))
}

/// The error for acting on a booking that is no longer held.
fn status_conflict(status: &str) -> ApiError {
    match status {
        "expired" => ApiError::new(
            Code::HoldExpired,
            "the hold expired and its seats went back on sale",
        ),
        "confirmed" => ApiError::new(
            Code::InvalidState,
            "the booking is confirmed; it can no longer be changed",
        ),
        "cancelled" => ApiError::new(Code::InvalidState, "the booking is cancelled"),
        other => ApiError::new(Code::InvalidState, format!("the booking is {other}")),
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
