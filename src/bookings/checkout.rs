//! After the hold: the buyer's contact details, checkout (the booking waits for its payment,
//! which the payment actor creates with the gateway) and cancel (the engine gives the
//! admissions back).
use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::EngineError;
use boxoffice_actors::ids::BookingId;
use boxoffice_actors::inventory::Rejection;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{own_booking, status_conflict, store, Booking, Information};
use crate::auth::AuthUser;
use crate::error::{ApiError, Code, Validation};
use crate::idempotency;
use crate::input::{json_object, Json, JsonBytes};
use crate::payments::provider::{EnsurePayment, PaymentActor};
use crate::status::BookingStatus;

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
    /// When the event asks for names (`attendee_names`): one per admission, in admission order
    /// (the booking's `items` in order, each item's seats in the order `seats` lists them).
    #[schema(max_items = 50)]
    pub attendees: Option<Vec<String>>,
}

/// The longest name a ticket carries.
const NAME_MAX: usize = 100;

impl InformationBody {
    /// The details, checked; `names` is how many admissions need a name (none when the event
    /// does not ask, and names given anyway are dropped).
    fn parse(self, names: Option<usize>) -> Result<Information, ApiError> {
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
        let attendees = names.map(|wanted| {
            let given: Vec<String> = self
                .attendees
                .unwrap_or_default()
                .iter()
                .map(|name| name.trim().to_owned())
                .collect();
            let word = |n: usize| if n == 1 { "name" } else { "names" };
            if given.len() != wanted {
                validation.fail(
                    "attendees",
                    format!(
                        "give the name of each person coming: {wanted} {} for {wanted} {}",
                        word(wanted),
                        if wanted == 1 { "ticket" } else { "tickets" }
                    ),
                );
            }
            for (i, name) in given.iter().enumerate().take(wanted) {
                if let Err(message) = crate::input::check_text(name, 1, NAME_MAX) {
                    validation.fail(&format!("attendees[{i}]"), message);
                }
            }
            given
        });
        validation.finish()?;
        Ok(Information {
            email: email.expect("checked above").as_str().to_owned(),
            phone,
            address,
            attendees,
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
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<BookingId>,
    body: Json<InformationBody>,
) -> Result<HttpResponse, ApiError> {
    let booking = own_booking(&pool, &user, *id).await?;
    let asks: bool = sqlx::query_scalar("SELECT attendee_names FROM events WHERE id = $1")
        .bind(booking.event_id)
        .fetch_one(pool.get_ref())
        .await?;
    let names = asks.then_some(booking.number_seats as usize);
    let information = body.into_inner().parse(names)?;
    store::save_information(&pool, *id, user.id, &information).await?;
    Ok(HttpResponse::Ok().json(own_booking(&pool, &user, *id).await?))
}

/// Gives a held (or checked-out, unpaid) booking `booking.extend_seconds` more from now, so a
/// buyer who needs more time keeps their seats; at most ten times a booking, then 409
/// `hold_not_extendable`. A hold that ended answers 409 `hold_expired`.
#[utoipa::path(post, path = "/v1/bookings/{id}/extend", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "hold_not_extendable, hold_expired or invalid_state", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn extend(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    settings: web::Data<crate::config::Settings>,
    user: AuthUser,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    let booking = own_booking(&pool, &user, *id).await?;
    if !booking.status.is_live() {
        return Err(status_conflict(booking.status));
    }
    if booking.extensions_left == 0 {
        return Err(ApiError::new(
            Code::HoldNotExtendable,
            format!(
                "This hold has had all the extra time it can have ({} times). Pay before it ends to keep the seats.",
                super::MAX_EXTENSIONS
            ),
        ));
    }
    let by =
        i64::try_from(settings.booking.extend_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    if let Err(error) = engine
        .extend(booking.event_id, booking.id, user.id, by)
        .await
    {
        // the hold ended a moment ago: say what the booking is now
        if error == EngineError::Rejected(Rejection::UnknownBooking) {
            let now = own_booking(&pool, &user, *id).await?;
            return Err(status_conflict(match now.status {
                live if live.is_live() => BookingStatus::Expired,
                other => other,
            }));
        }
        return Err(error.into());
    }
    Ok(HttpResponse::Ok().json(own_booking(&pool, &user, *id).await?))
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
    pool: web::Data<PgPool>,
    payments: web::Data<Addr<PaymentActor>>,
    user: AuthUser,
    id: web::Path<BookingId>,
    request: HttpRequest,
    JsonBytes(body): JsonBytes,
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
    let (id, owner, db) = (*id, user.clone(), pool.clone());
    let checkout = async move {
        store::checkout(&db, id, owner.id, &parsed.payment_method).await?;
        // the payment actor creates the payment with the gateway; the outbox's
        // bookings.confirmed asks again if this answer is lost
        payments
            .send(EnsurePayment(id))
            .await
            .map_err(ApiError::internal)?
            .map_err(|cause| {
                tracing::warn!(error = %anyhow::Error::new(cause), booking_id = %id, "payment not created");
                ApiError::new(
                    Code::Unavailable,
                    "the payment gateway is unavailable; retry the checkout",
                )
                .retry_after(1)
            })?;
        let booking = own_booking(&db, &owner, id).await?;
        Ok((
            StatusCode::OK,
            serde_json::to_value(booking).expect("bookings serialize"),
        ))
    };
    idempotency::once(&pool, user.id, key, &endpoint, &body, checkout).await
}

/// Gives a held (or pending-payment) booking's seats back. A paid booking is cancelled within
/// the event's refund policy (`refund_until`): its unused tickets are refunded (the booking's
/// `refunded` grows at once; the payment's `refunds` say when the money is back), otherwise 409
/// `refund_not_allowed`. Cancelling twice answers the booking as it is.
#[utoipa::path(post, path = "/v1/bookings/{id}/cancel", tag = "bookings", params(("id" = String, Path)),
    responses((status = 200, body = Booking), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    wake: web::Data<crate::outbox::Wake>,
    user: AuthUser,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    let booking = own_booking(&pool, &user, *id).await?;
    match booking.status {
        BookingStatus::Cancelled | BookingStatus::Refunded => {
            return Ok(HttpResponse::Ok().json(booking))
        }
        BookingStatus::Paid => {
            crate::refunds::buyer_cancel(&pool, &wake, &user, booking.id).await?;
            return Ok(HttpResponse::Ok().json(own_booking(&pool, &user, *id).await?));
        }
        live if live.is_live() => {}
        ended => return Err(status_conflict(ended)),
    }
    if let Err(error) = engine.cancel(booking.event_id, booking.id, user.id).await {
        // the engine may have expired it a moment ago: say what the booking is now
        if error == EngineError::Rejected(Rejection::UnknownBooking) {
            let now = own_booking(&pool, &user, *id).await?;
            return Err(status_conflict(now.status));
        }
        return Err(error.into());
    }
    Ok(HttpResponse::Ok().json(own_booking(&pool, &user, *id).await?))
}
