//! `booking-engine`, the engine's outbox consumer: a succeeded payment has the event's actor
//! sell the booking's admissions (reinstating an ended hold whose admissions are still free).
//! When the booking cannot be sold, payments are told ([`Unsold`]) and decide about the money.
//! Refunded tickets (`tickets.voided`) have the actor put their admissions back on sale.
use actix::Addr;
use actix_web::web;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::{Confirmation, EngineError, Kept};
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
use boxoffice_actors::inventory::Rejection;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::journal;
use crate::outbox::subjects::{PAYMENT_SUCCEEDED, TICKETS_VOIDED};
use crate::outbox::{Consumers, DeliveryError, Handled};
use crate::payments::provider::{PaymentActor, Unsold, UnsoldBecause};
use crate::status::BookingStatus;

pub const NAME: &str = "booking-engine";

pub fn register(
    consumers: &mut Consumers,
    pool: PgPool,
    engine: web::Data<EventDirectory>,
    payments: Addr<PaymentActor>,
) {
    let (pool_for_returns, engine_for_returns) = (pool.clone(), engine.clone());
    consumers.register(NAME, &[PAYMENT_SUCCEEDED], move |delivery| {
        let (pool, engine, payments) = (pool.clone(), engine.clone(), payments.clone());
        async move { sell_paid_booking(&pool, &engine, &payments, delivery.payload()?).await }
    });
    // sales arriving together join one of the actor's batches: one commit for many
    consumers.width(NAME, 64);
    let (pool, engine) = (pool_for_returns, engine_for_returns);
    consumers.register(NAME, &[TICKETS_VOIDED], move |delivery| {
        let (pool, engine) = (pool.clone(), engine.clone());
        async move { return_voided(&pool, &engine, delivery.payload()?).await }
    });
}

#[derive(Deserialize)]
struct Voided {
    booking_id: BookingId,
    event_id: EventId,
}

/// Puts a refund's admissions back on sale: the actor is told what the booking keeps (its
/// tickets still valid or used), so a redelivery, or two refunds' rows in either order, end
/// the same.
async fn return_voided(pool: &PgPool, engine: &EventDirectory, voided: Voided) -> Handled {
    let kept: Vec<(TicketTypeId, Option<SeatId>)> = sqlx::query_as(
        "SELECT ticket_type_id, seat_id FROM tickets
         WHERE booking_id = $1 AND status IN ('valid', 'checked_in')",
    )
    .bind(voided.booking_id)
    .fetch_all(pool)
    .await?;
    let mut keep: Vec<(TicketTypeId, u32)> = Vec::new();
    let mut keep_seats = Vec::new();
    for (ticket_type, seat) in kept {
        match keep.iter_mut().find(|(t, _)| *t == ticket_type) {
            Some((_, n)) => *n += 1,
            None => keep.push((ticket_type, 1)),
        }
        keep_seats.extend(seat.map(|seat| (ticket_type, seat)));
    }
    let kept = Kept {
        booking: voided.booking_id,
        keep,
        keep_seats,
    };
    match engine.return_admissions(voided.event_id, kept).await {
        Ok(_) => Ok(()),
        // refunded in full already (a redelivery after the booking left the inventory)
        Err(EngineError::Rejected(Rejection::UnknownBooking)) => Ok(()),
        Err(EngineError::EventNotFound) => Ok(()),
        Err(error) => Err(DeliveryError::retry(error)),
    }
}

#[derive(Deserialize)]
struct Paid {
    payment_id: Uuid,
    booking_id: BookingId,
    event_id: EventId,
}

/// Sells the paid booking. In the common case (the hold is live) that is one message to the
/// event's actor and nothing read first; only a booking the actor no longer holds is looked up,
/// to sell its ended hold again or to tell payments it cannot be sold. Delivered twice, the
/// second time finds the booking sold (or the payment refunded) and changes nothing.
async fn sell_paid_booking(
    pool: &PgPool,
    engine: &EventDirectory,
    payments: &Addr<PaymentActor>,
    paid: Paid,
) -> Handled {
    let unsold = |why| Unsold {
        payment: paid.payment_id,
        why,
    };
    let sold = match engine.confirm(paid.event_id, paid.booking_id, None).await {
        Err(EngineError::Rejected(Rejection::UnknownBooking)) => {
            let status: Option<BookingStatus> =
                sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
                    .bind(paid.booking_id)
                    .fetch_optional(pool)
                    .await?;
            if status == Some(BookingStatus::Cancelled) {
                return Ok(payments
                    .send(unsold(UnsoldBecause::BookingCancelled))
                    .await??);
            }
            let Some((event, recorded)) = journal::recorded(pool, paid.booking_id).await? else {
                return Err(DeliveryError::refused(anyhow::anyhow!(
                    "booking {} of payment {} does not exist",
                    paid.booking_id,
                    paid.payment_id
                )));
            };
            engine.confirm(event, paid.booking_id, Some(recorded)).await
        }
        other => other,
    };
    match sold {
        Ok(Confirmation::Confirmed | Confirmation::AlreadyConfirmed) => Ok(()),
        Ok(Confirmation::Reinstated) => {
            tracing::info!(booking_id = %paid.booking_id, "late payment: the expired hold was sold again");
            Ok(())
        }
        Err(EngineError::Rejected(
            rejection @ (Rejection::SoldOut
            | Rejection::SeatTaken(_)
            | Rejection::UnknownSeat(_)
            | Rejection::UnknownTicketType(_)),
        )) => {
            tracing::info!(booking_id = %paid.booking_id, %rejection, "late payment for admissions sold since");
            Ok(payments
                .send(unsold(UnsoldBecause::AdmissionsSold))
                .await??)
        }
        // the engine is busy, restarting or cannot reach the database: later
        Err(error) => Err(DeliveryError::retry(error)),
    }
}
