//! How the engine's answers reach a buyer: every [`EngineError`] and [`Rejection`] as the
//! API's error code and a sentence. The one table; handlers only `?` engine calls.
use boxoffice_actors::event_actor::EngineError;
use boxoffice_actors::ids::SeatId;
use boxoffice_actors::inventory::Rejection;

use crate::error::{ApiError, Code, FieldError};

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
                Rejection::PromoUsedUp => ApiError::new(
                    Code::PromoCodeUsedUp,
                    "this promo code has been used as often as it may be; book without it or try another",
                ),
                Rejection::NotSoldOut { available } => ApiError::new(
                    Code::NotSoldOut,
                    match available {
                        1 => "1 ticket of this type is still on sale: book it instead".to_owned(),
                        n => format!("{n} tickets of this type are still on sale: book them instead"),
                    },
                ),
                Rejection::UnknownWaitlistEntry => ApiError::not_found("waiting-list entry"),
                Rejection::OverPromoLimit { max } => ApiError::new(
                    Code::OverLimit,
                    match max {
                        1 => "one account may use this promo code once, and you have".to_owned(),
                        n => format!("one account may use this promo code {n} times, and you have"),
                    },
                ),
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
            EngineError::Moved => ApiError::new(
                Code::Unavailable,
                "this event just moved to another server; retry in a moment",
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
