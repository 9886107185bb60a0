//! `POST /v1/bookings/hold`: the buyer's request checked and handed to the event's actor,
//! answered once the hold is durable (with the seats as the map shows them).
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::EngineError;
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
use boxoffice_actors::inventory::{Hold, ItemRequest, Rejection};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{booking_code, store, Booking, BookingItem};
use crate::auth::AuthUser;
use crate::config::Settings;
use crate::engine::time;
use crate::error::{ApiError, Code, FieldError, Validation};
use crate::idempotency;
use crate::input::{json_object, JsonBytes};
use crate::queue::http::check_admission;
use crate::queue::Queues;
use crate::status::BookingStatus;
use std::sync::Arc;

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
    /// For an event sold through its waiting room: the admission the queue gave (also
    /// accepted as the `X-Admission-Token` header).
    pub admission_token: Option<String>,
    /// A promo code of the event: its discount on the ticket types it applies to, and the
    /// hidden types it opens (422 on `promo_code` if it cannot be used; 409
    /// `promo_code_used_up` when its uses are taken).
    pub promo_code: Option<String>,
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
    responses((status = 201, body = Booking), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn hold(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    queues: web::Data<Arc<Queues>>,
    user: AuthUser,
    request: HttpRequest,
    JsonBytes(body): JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key_of(&request)?;
    let mut parsed: HoldBody = json_object(&body)?;
    let token = parsed.admission_token.take().or_else(|| {
        let header = request.headers().get("x-admission-token")?;
        header.to_str().ok().map(str::to_owned)
    });
    let max_per_order = settings.booking.max_per_order;
    let promo_code = parsed.promo_code.take().filter(|c| !c.trim().is_empty());
    let (event, items) = parsed.items(max_per_order)?;
    let db = pool.clone();
    let hold = async move {
        check_admission(&queues, event, user.id, token.as_deref()).await?;
        let promo = match &promo_code {
            Some(code) => {
                let types: Vec<_> = items.iter().map(|i| i.ticket_type).collect();
                Some(crate::promos::for_hold(&db, event, code, &types).await?)
            }
            None => None,
        };
        let request = boxoffice_actors::inventory::HoldRequest {
            booking: BookingId::new(),
            user: user.id,
            items,
            max_per_order,
            promo,
        };
        let hold = match engine.hold(event, request).await {
            Ok(hold) => hold,
            Err(EngineError::Rejected(Rejection::SeatTaken(seat))) => {
                return Err(seat_taken(&db, seat).await)
            }
            Err(error) => return Err(error.into()),
        };
        queues.held(event, user.id, u64::from(hold.admissions()));
        let booking =
            held_booking(&db, event, hold, promo_code.map(|c| c.trim().to_owned())).await?;
        Ok((
            StatusCode::CREATED,
            serde_json::to_value(booking).expect("bookings serialize"),
        ))
    };
    let endpoint = "POST /v1/bookings/hold";
    idempotency::once(&pool, user.id, key, endpoint, &body, hold).await
}

/// 409 `seat_taken` saying the seat as the buyer saw it on the map ("Stalls A1"), with the seat
/// (id, section, row, label) in `details`; the engine only knows its id.
async fn seat_taken(pool: &PgPool, id: SeatId) -> ApiError {
    let found = store::seats_by_id(pool, &[id]).await;
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
async fn held_booking(
    pool: &PgPool,
    event: EventId,
    hold: Hold,
    promo_code: Option<String>,
) -> Result<Booking, ApiError> {
    let seats = if hold.seats.is_empty() {
        Vec::new()
    } else {
        let ids: Vec<SeatId> = hold.seats.iter().map(|(_, seat)| *seat).collect();
        store::seats_by_id(pool, &ids).await?
    };
    Ok(Booking {
        id: hold.booking,
        booking_code: booking_code(hold.booking),
        event_id: event,
        status: BookingStatus::Held,
        held_at: time(hold.held_at),
        expired_at: time(hold.expires_at),
        extensions_left: super::MAX_EXTENSIONS,
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
                returned: 0,
            })
            .collect(),
        seats,
        information: None,
        payment_method: None,
        payment: None,
        refunded: 0,
        // the hot path reads nothing back: `GET /v1/bookings/{id}` says
        refund_until: None,
        promo_code,
    })
}
