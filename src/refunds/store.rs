//! Refunds in PostgreSQL. A request voids the tickets it names and writes, in the same
//! transaction, the refund and the outbox rows that follow from it: `tickets.voided` (the
//! event's actor puts their admissions back on sale), `payments.refund_requested` (the money
//! goes back through the provider) and `bookings.refunded` (the buyer is told).
use boxoffice_actors::ids::{BookingId, EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, Code};
use crate::outbox::subjects::{BOOKING_REFUNDED, PAYMENT_REFUND_REQUESTED, TICKETS_VOIDED};
use crate::status::BookingStatus;

/// Who asked for a refund.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestedBy {
    Organizer,
    /// Within the event's refund policy (`refund_until`).
    Buyer,
    /// The organizer cancelled the event: every paid booking is refunded in full.
    EventCancelled,
}

impl RequestedBy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Organizer => "organizer",
            Self::Buyer => "buyer",
            Self::EventCancelled => "event_cancelled",
        }
    }
}

/// A refund of some (or all) of a booking's tickets, as the organizer sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Refund {
    pub id: Uuid,
    pub booking_id: BookingId,
    pub booking_code: String,
    pub payment_id: Uuid,
    pub event_id: EventId,
    /// Minor units of `currency`: the price of the refunded tickets.
    pub amount: i64,
    pub currency: String,
    /// `pending` (on its way through the provider, retried with backoff), `succeeded`, or
    /// `failed` (the provider refused every attempt; the organizer may retry it).
    pub status: String,
    /// `organizer`, `buyer` or `event_cancelled`.
    pub requested_by: String,
    /// What the buyer is told.
    pub reason: String,
    /// The tickets it voided.
    pub tickets: Vec<Uuid>,
    /// Calls to the provider so far.
    pub attempts: i32,
    /// The provider's last refusal, for the organizer (not shown to buyers).
    pub last_error: Option<String>,
    /// Who gets the money back (the booking's contact address, else the account's).
    pub buyer_email: String,
    pub created_at: DateTime<Utc>,
    pub refunded_at: Option<DateTime<Utc>>,
}

const REFUND_SELECT: &str = "SELECT r.id, r.booking_id, b.booking_code, r.payment_id, r.event_id,
        r.amount, r.currency, r.status, r.requested_by, r.reason, r.tickets, r.attempts,
        r.last_error, COALESCE(bu.email, u.email) AS buyer_email, r.created_at, r.refunded_at
    FROM refunds r JOIN bookings b ON b.id = r.booking_id JOIN users u ON u.id = r.user_id
    LEFT JOIN booking_users bu ON bu.booking_id = r.booking_id";

#[derive(sqlx::FromRow)]
struct Paid {
    status: BookingStatus,
    event_id: EventId,
    user_id: UserId,
    currency: String,
    payment_id: Option<Uuid>,
    price: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Live {
    id: Uuid,
    admission_no: i32,
    status: String,
    price: i64,
    seat: Option<String>,
    /// Given to someone else (a transfer's new ticket): no longer the buyer's to cancel.
    given: bool,
}

impl Live {
    /// "ticket 2 (Stalls B7)": how a person names it.
    fn name(&self) -> String {
        match &self.seat {
            Some(seat) => format!("ticket {} ({seat})", self.admission_no),
            None => format!("ticket {}", self.admission_no),
        }
    }
}

/// Refunds `tickets` of a paid booking (all its unused ones if `None`) inside `tx`; answers
/// the refund's id. The booking is locked first, so two refunds of one booking take turns and
/// never void a ticket twice.
pub async fn request(
    tx: &mut PgConnection,
    booking: BookingId,
    tickets: Option<&[Uuid]>,
    by: RequestedBy,
    reason: &str,
) -> Result<Uuid, ApiError> {
    let paid: Option<Paid> = sqlx::query_as(
        "SELECT b.status, b.event_id, b.user_id, b.currency, p.id AS payment_id, p.price
         FROM bookings b
         LEFT JOIN payments p ON p.booking_id = b.id AND p.status IN ('succeeded', 'refunded')
         WHERE b.id = $1 FOR UPDATE OF b",
    )
    .bind(booking)
    .fetch_optional(&mut *tx)
    .await?;
    let paid = paid.ok_or_else(|| ApiError::not_found("booking"))?;
    match paid.status {
        BookingStatus::Paid => {}
        BookingStatus::Refunded => {
            return Err(ApiError::new(
                Code::InvalidState,
                "every ticket of this booking was refunded already",
            ))
        }
        other => {
            return Err(ApiError::new(
                Code::InvalidState,
                format!(
                    "only a paid booking can be refunded; this one is {}",
                    other.as_str()
                ),
            ))
        }
    }
    let (Some(payment), Some(price)) = (paid.payment_id, paid.price) else {
        return Err(ApiError::new(
            Code::InvalidState,
            "this booking has no payment to refund",
        ));
    };
    let live: Vec<Live> = sqlx::query_as(
        "SELECT t.id, t.admission_no, t.status,
                COALESCE((SELECT max(bi.price) FROM booking_items bi
                          WHERE bi.booking_id = t.booking_id AND bi.ticket_type_id = t.ticket_type_id), 0) AS price,
                CASE WHEN s.id IS NULL THEN NULL ELSE s.section || ' ' || s.row_label || s.seat_label END AS seat,
                t.transferred_from IS NOT NULL AS given
         FROM tickets t LEFT JOIN seats s ON s.id = t.seat_id
         WHERE t.booking_id = $1 AND t.status IN ('valid', 'checked_in')
         ORDER BY t.admission_no",
    )
    .bind(booking)
    .fetch_all(&mut *tx)
    .await?;
    if live.is_empty() {
        let issued: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE booking_id = $1)")
                .bind(booking)
                .fetch_one(&mut *tx)
                .await?;
        return Err(ApiError::new(
            Code::InvalidState,
            if issued {
                "nothing is left to refund: every ticket of this booking was refunded"
            } else {
                "the tickets of this booking are being issued; try again in a moment"
            },
        ));
    }
    let used_ok = by == RequestedBy::EventCancelled;
    let chosen: Vec<&Live> = match tickets {
        Some([]) => {
            return Err(ApiError::invalid(
                "tickets",
                "name at least one ticket, or leave tickets out to refund them all",
            ))
        }
        Some(ids) => {
            let mut chosen = Vec::with_capacity(ids.len());
            for id in ids {
                let ticket = live.iter().find(|t| t.id == *id).ok_or_else(|| {
                    ApiError::invalid(
                        "tickets",
                        format!("{id} is not a ticket of this booking that can be refunded (it may have been refunded or transferred already)"),
                    )
                })?;
                if !chosen.iter().any(|c: &&Live| c.id == ticket.id) {
                    chosen.push(ticket);
                }
            }
            if let Some(used) = chosen.iter().find(|t| t.status == "checked_in" && !used_ok) {
                return Err(ApiError::new(
                    Code::InvalidState,
                    format!(
                        "{} was used at the door and cannot be refunded",
                        used.name()
                    ),
                ));
            }
            chosen
        }
        // a buyer cancelling refunds what they still hold: a ticket they gave away is its new
        // holder's (the organizer, or the event's cancellation, refunds those too)
        None => live
            .iter()
            .filter(|t| used_ok || t.status != "checked_in")
            .filter(|t| by != RequestedBy::Buyer || !t.given)
            .collect(),
    };
    if chosen.is_empty() {
        let message = if by == RequestedBy::Buyer && live.iter().any(|t| t.given) {
            "nothing is left to refund: the remaining tickets were given to someone else or used at the door"
        } else {
            "nothing is left to refund: the remaining tickets were used at the door"
        };
        return Err(ApiError::new(Code::InvalidState, message));
    }
    let amount: i64 = chosen.iter().map(|t| t.price).sum();
    let refunded: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(amount), 0)::bigint FROM refunds WHERE payment_id = $1 AND status <> 'failed'",
    )
    .bind(payment)
    .fetch_one(&mut *tx)
    .await?;
    if refunded + amount > price {
        // the tickets' prices add up to the payment; only a hand-edited booking gets here
        return Err(ApiError::internal(anyhow::anyhow!(
            "refund of {amount} on top of {refunded} exceeds payment {payment} of {price}"
        )));
    }
    let ids: Vec<Uuid> = chosen.iter().map(|t| t.id).collect();
    let id = Uuid::now_v7();
    // a free ticket has nothing to give back: its refund is done at once
    let status = if amount == 0 { "succeeded" } else { "pending" };
    sqlx::query(
        "INSERT INTO refunds (id, booking_id, payment_id, event_id, user_id, amount, currency,
                              status, requested_by, reason, tickets, refunded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                 CASE WHEN $8 = 'succeeded' THEN now() END)",
    )
    .bind(id)
    .bind(booking)
    .bind(payment)
    .bind(paid.event_id)
    .bind(paid.user_id)
    .bind(amount)
    .bind(&paid.currency)
    .bind(status)
    .bind(by.as_str())
    .bind(reason)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE tickets SET status = 'void', refund_id = $2, updated_at = now() WHERE id = ANY($1)",
    )
    .bind(&ids)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let mut subjects = vec![TICKETS_VOIDED, BOOKING_REFUNDED];
    if amount > 0 {
        subjects.push(PAYMENT_REFUND_REQUESTED);
    }
    emit(tx, id, &subjects).await?;
    tracing::info!(refund_id = %id, booking_id = %booking, amount, tickets = ids.len(), by = by.as_str(), "refund requested");
    Ok(id)
}

/// Every paid booking of a cancelled event, refunded in full inside `tx` (the event's
/// cancellation); answers how many. A booking whose tickets are still being issued is refunded
/// when they are (see [`crate::tickets::store::issue`]).
pub async fn refund_event(tx: &mut PgConnection, event: EventId) -> Result<usize, ApiError> {
    let bookings: Vec<BookingId> = sqlx::query_scalar(
        "SELECT b.id FROM bookings b WHERE b.event_id = $1 AND b.status = 'confirmed'
           AND EXISTS (SELECT 1 FROM tickets t WHERE t.booking_id = b.id AND t.status IN ('valid', 'checked_in'))
         ORDER BY b.id",
    )
    .bind(event)
    .fetch_all(&mut *tx)
    .await?;
    for &booking in &bookings {
        request(
            tx,
            booking,
            None,
            RequestedBy::EventCancelled,
            CANCELLED_REASON,
        )
        .await?;
    }
    Ok(bookings.len())
}

/// The refund's outbox rows, one per subject in that order, each with what its consumers need
/// (keyed by the payment for the money, by the booking otherwise).
async fn emit(tx: &mut PgConnection, refund: Uuid, subjects: &[&str]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT s.subject, CASE WHEN s.subject = $3 THEN r.payment_id ELSE r.booking_id END,
                jsonb_build_object('refund', r.id, 'booking_id', r.booking_id,
                    'booking_code', b.booking_code, 'event_id', r.event_id,
                    'payment_id', r.payment_id, 'user_id', r.user_id, 'amount', r.amount,
                    'currency', r.currency, 'reason', r.reason, 'tickets', to_jsonb(r.tickets))
         FROM refunds r JOIN bookings b ON b.id = r.booking_id,
              UNNEST($2::text[]) WITH ORDINALITY AS s (subject, n)
         WHERE r.id = $1 ORDER BY s.n",
    )
    .bind(refund)
    .bind(subjects)
    .bind(PAYMENT_REFUND_REQUESTED)
    .execute(tx)
    .await?;
    Ok(())
}

pub const CANCELLED_REASON: &str = "the event was cancelled";

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Refund>, sqlx::Error> {
    sqlx::query_as(&format!("{REFUND_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A payment's refunds, oldest first, without what only the organizer sees.
pub async fn of_payment(pool: &PgPool, payment: Uuid) -> Result<Vec<Refund>, sqlx::Error> {
    let mut refunds: Vec<Refund> = sqlx::query_as(&format!(
        "{REFUND_SELECT} WHERE r.payment_id = $1 ORDER BY r.id"
    ))
    .bind(payment)
    .fetch_all(pool)
    .await?;
    for refund in &mut refunds {
        refund.last_error = None;
    }
    Ok(refunds)
}

/// An event's refunds, newest first, after `after`, optionally of one status.
pub async fn of_event(
    pool: &PgPool,
    event: EventId,
    status: Option<&str>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Refund>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{REFUND_SELECT} WHERE r.event_id = $1 AND ($2::text IS NULL OR r.status = $2)
           AND ($3::uuid IS NULL OR r.id < $3)
         ORDER BY r.id DESC LIMIT $4"
    ))
    .bind(event)
    .bind(status)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await
}

/// How an event's refunds stand: what the sales page shows.
#[derive(Clone, Debug, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct RefundSummary {
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Minor units given back (succeeded refunds).
    pub refunded_amount: i64,
}

pub async fn summary(pool: &PgPool, event: EventId) -> Result<RefundSummary, sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                COALESCE(sum(amount) FILTER (WHERE status = 'succeeded'), 0)::bigint AS refunded_amount
         FROM refunds WHERE event_id = $1",
    )
    .bind(event)
    .fetch_one(pool)
    .await
}

/// A failed refund tried again from its first attempt; `false` if it had not failed.
pub async fn retry(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let retried = sqlx::query(
        "UPDATE refunds SET status = 'pending', attempts = 0, last_error = NULL, updated_at = now()
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if retried {
        emit(&mut tx, id, &[PAYMENT_REFUND_REQUESTED]).await?;
    }
    tx.commit().await?;
    Ok(retried)
}
