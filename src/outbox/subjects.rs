//! Every subject the outbox carries, named once. The names are the seed's and part of the
//! contract; the constants say what each one means in this code. Beware the seed's
//! `bookings.confirmed`: it means the buyer *checked out* ([`BOOKING_CHECKED_OUT`]), while a
//! booking whose status is `confirmed` is *paid* (its event is [`BOOKING_PAID`]).
//!
//! Rust code binds these constants; the engine's journal writes `bookings.held`, `.paid`,
//! `.expired` and `.cancelled` inside its batch SQL (`'bookings.' || status`), and
//! `waitlist.offered`, by the same names.

/// A hold was placed (engine journal).
pub const BOOKING_HELD: &str = "bookings.held";
/// The buyer gave contact details and checked out: the booking waits for its payment.
pub const BOOKING_CHECKED_OUT: &str = "bookings.confirmed";
/// The engine sold a paid booking's admissions (status `confirmed`): issue its tickets.
pub const BOOKING_PAID: &str = "bookings.paid";
/// An unpaid hold ran out and its admissions went back on sale.
pub const BOOKING_EXPIRED: &str = "bookings.expired";
/// The buyer (or an organizer's cancel) gave the admissions back before payment.
pub const BOOKING_CANCELLED: &str = "bookings.cancelled";
/// The gateway captured the booking's amount.
pub const PAYMENT_SUCCEEDED: &str = "payments.succeeded";
/// The gateway reported a failed attempt.
pub const PAYMENT_FAILED: &str = "payments.failed";
/// A captured transaction pays for nothing: give its money back through the gateway.
pub const PAYMENT_REFUND_REQUESTED: &str = "payments.refund_requested";
/// Money went back to the buyer.
pub const PAYMENT_REFUNDED: &str = "payments.refunded";
/// A sold booking's tickets exist: mail them.
pub const TICKETS_ISSUED: &str = "tickets.issued";
/// Some or all of a sold booking's tickets were refunded (by the organizer, the buyer, or the
/// event's cancellation): tell the buyer.
pub const BOOKING_REFUNDED: &str = "bookings.refunded";
/// A refund's tickets no longer admit anyone: their admissions go back on sale.
pub const TICKETS_VOIDED: &str = "tickets.voided";
/// The provider refused a refund on every attempt: the organizer is told, and may retry it.
pub const PAYMENT_REFUND_FAILED: &str = "payments.refund_failed";
/// A ticket changed hands: the old code is refused, the new holder has a new one.
pub const TICKETS_TRANSFERRED: &str = "tickets.transferred";
/// Admissions came back and are held for the first waiting-list entry they fit (engine
/// journal): tell the buyer.
pub const WAITLIST_OFFERED: &str = "waitlist.offered";

pub const ALL: &[&str] = &[
    BOOKING_HELD,
    BOOKING_CHECKED_OUT,
    BOOKING_PAID,
    BOOKING_EXPIRED,
    BOOKING_CANCELLED,
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    PAYMENT_REFUND_REQUESTED,
    PAYMENT_REFUNDED,
    TICKETS_ISSUED,
    BOOKING_REFUNDED,
    TICKETS_VOIDED,
    PAYMENT_REFUND_FAILED,
    TICKETS_TRANSFERRED,
    WAITLIST_OFFERED,
];
