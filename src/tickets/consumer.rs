//! The tickets' outbox consumers: `ticket-worker` issues a sold booking's tickets
//! (`bookings.paid`), `mailer` mails them (`tickets.issued`).
use actix::Addr;
use boxoffice_actors::ids::BookingId;
use serde::Deserialize;

use super::actor::{IssueTickets, MailTickets, TicketActor, TicketError};
use crate::outbox::subjects::{BOOKING_PAID, TICKETS_ISSUED};
use crate::outbox::{Consumers, DeliveryError};

pub const ISSUER: &str = "ticket-worker";
pub const MAILER: &str = "mailer";

/// The two consumers; `mails` ticket mails at once (`email.concurrency`).
pub fn register(consumers: &mut Consumers, tickets: Addr<TicketActor>, mails: usize) {
    consumers.forward(
        ISSUER,
        &[BOOKING_PAID],
        tickets.clone(),
        |Sold { booking_id }| IssueTickets(booking_id),
    );
    consumers.forward(MAILER, &[TICKETS_ISSUED], tickets, |Sold { booking_id }| {
        MailTickets(booking_id)
    });
    // every sale the lane delivers at once joins one batch of tickets
    consumers.width(ISSUER, 64);
    consumers.width(MAILER, mails);
}

#[derive(Deserialize)]
struct Sold {
    booking_id: BookingId,
}

impl From<TicketError> for DeliveryError {
    fn from(error: TicketError) -> Self {
        let permanent = match &error {
            TicketError::Mail(mail) => mail.is_permanent(),
            TicketError::UnknownBooking(_) | TicketError::BadAddress(..) => true,
            TicketError::Database(_)
            | TicketError::Batch(_)
            | TicketError::Stopped
            | TicketError::Render(_) => false,
        };
        if permanent {
            DeliveryError::refused(error)
        } else {
            DeliveryError::retry(error)
        }
    }
}
