//! `payment-worker`, the payments' outbox consumer: a checked-out booking gets its payment
//! with the gateway (`bookings.confirmed`, asked again in case the checkout's own call was
//! lost), and money that pays for nothing goes back (`payments.refund_requested`).
use actix::Addr;
use boxoffice_actors::ids::BookingId;
use serde::Deserialize;
use uuid::Uuid;

use super::provider::{EnsurePayment, PaymentActor, RefundTickets, RefundTransaction};
use super::PaymentError;
use crate::outbox::subjects::{BOOKING_CHECKED_OUT, PAYMENT_REFUND_REQUESTED};
use crate::outbox::{Consumers, DeliveryError};

pub const NAME: &str = "payment-worker";

pub fn register(consumers: &mut Consumers, payments: Addr<PaymentActor>) {
    consumers.forward(
        NAME,
        &[BOOKING_CHECKED_OUT],
        payments.clone(),
        |CheckedOut { booking_id }| EnsurePayment(booking_id),
    );
    consumers.register(NAME, &[PAYMENT_REFUND_REQUESTED], move |delivery| {
        let payments = payments.clone();
        async move {
            // money that paid for nothing goes back by its transaction; sold tickets by refund
            match delivery.payload()? {
                RefundRequested {
                    refund: Some(refund),
                    ..
                } => Ok(payments.send(RefundTickets(refund)).await??),
                RefundRequested {
                    transaction: Some(transaction),
                    ..
                } => Ok(payments.send(RefundTransaction(transaction)).await??),
                RefundRequested { .. } => Err(DeliveryError::refused(anyhow::anyhow!(
                    "a refund request names neither a refund nor a transaction"
                ))),
            }
        }
    });
}

#[derive(Deserialize)]
struct CheckedOut {
    booking_id: BookingId,
}

#[derive(Deserialize)]
struct RefundRequested {
    transaction: Option<Uuid>,
    refund: Option<Uuid>,
}

/// A gateway or database that failed may work on the next attempt.
impl From<PaymentError> for DeliveryError {
    fn from(error: PaymentError) -> Self {
        DeliveryError::retry(error)
    }
}
