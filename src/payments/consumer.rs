//! `payment-worker`, the payments' outbox consumer: a checked-out booking gets its payment
//! with the gateway (`bookings.confirmed`, asked again in case the checkout's own call was
//! lost), and money that pays for nothing goes back (`payments.refund_requested`).
use actix::Addr;
use boxoffice_actors::ids::BookingId;
use serde::Deserialize;
use uuid::Uuid;

use super::provider::{EnsurePayment, PaymentActor, RefundTransaction};
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
    consumers.forward(
        NAME,
        &[PAYMENT_REFUND_REQUESTED],
        payments,
        |RefundRequested { transaction }| RefundTransaction(transaction),
    );
}

#[derive(Deserialize)]
struct CheckedOut {
    booking_id: BookingId,
}

#[derive(Deserialize)]
struct RefundRequested {
    transaction: Uuid,
}

/// A gateway or database that failed may work on the next attempt.
impl From<PaymentError> for DeliveryError {
    fn from(error: PaymentError) -> Self {
        DeliveryError::retry(error)
    }
}
