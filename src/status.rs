//! The statuses of bookings and payments, named once. Their spellings are the API's (and the
//! database's `CHECK` constraints'); the variants say what they mean here. A booking whose
//! API status is `confirmed` is **paid** ([`BookingStatus::Paid`]); the seed's subject
//! `bookings.confirmed` means something else, that the buyer checked out (see
//! [`crate::outbox::subjects`]).
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingStatus {
    /// Admissions held until `expired_at`.
    Held,
    /// Checked out: held until `expired_at` while the buyer pays.
    PendingPayment,
    /// Paid, and its admissions sold: the API's `confirmed`.
    #[serde(rename = "confirmed")]
    #[sqlx(rename = "confirmed")]
    Paid,
    /// The hold ran out unpaid; its admissions went back on sale.
    Expired,
    /// Given back before payment.
    Cancelled,
    /// Paid, then every ticket refunded: its admissions went back on sale.
    Refunded,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::PendingPayment => "pending_payment",
            Self::Paid => "confirmed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// Still holding admissions (not paid, not ended).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Held | Self::PendingPayment)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Open, waiting for the gateway (at most one per booking).
    Pending,
    Succeeded,
    Failed,
    Refunded,
    /// Settled with another amount before mismatches were kept as transactions (old rows).
    Flagged,
    /// Closed unpaid: another payment of the booking was paid.
    Cancelled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
            Self::Flagged => "flagged",
            Self::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_spelled_as_the_api_documents_them() {
        for status in [
            BookingStatus::Held,
            BookingStatus::PendingPayment,
            BookingStatus::Paid,
            BookingStatus::Expired,
            BookingStatus::Cancelled,
            BookingStatus::Refunded,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(BookingStatus::Paid.as_str(), "confirmed");
        for status in [PaymentStatus::Pending, PaymentStatus::Cancelled] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
