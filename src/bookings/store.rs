//! Reading bookings back, and the changes that do not go through the engine: contact
//! information and checkout (neither changes which admissions are taken).
use boxoffice_actors::ids::{BookingId, EventId, SeatId, UserId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use super::{status_conflict, BookedSeat, Booking, BookingItem, BookingPayment, Information};
use crate::error::{ApiError, Code};
use crate::outbox::subjects::BOOKING_CHECKED_OUT;
use crate::pagination::Page;
use crate::status::BookingStatus;

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: BookingId,
    booking_code: String,
    event_id: EventId,
    status: BookingStatus,
    held_at: DateTime<Utc>,
    expired_at: DateTime<Utc>,
    extensions: i32,
    total_price: i64,
    currency: String,
    number_seats: i32,
    payment_method: Option<String>,
    items: Json<Vec<BookingItem>>,
    seats: Json<Vec<BookedSeat>>,
    information: Option<Json<Information>>,
    payment: Option<Json<BookingPayment>>,
    refunded: i64,
    refund_until: Option<DateTime<Utc>>,
    promo_code: Option<String>,
}

impl From<BookingRow> for Booking {
    fn from(row: BookingRow) -> Self {
        Booking {
            id: row.id,
            booking_code: row.booking_code,
            event_id: row.event_id,
            status: row.status,
            held_at: row.held_at,
            expired_at: row.expired_at,
            extensions_left: (super::MAX_EXTENSIONS - row.extensions).max(0),
            total_price: row.total_price,
            currency: row.currency,
            number_seats: row.number_seats,
            items: row.items.0,
            seats: row.seats.0,
            information: row.information.map(|i| i.0),
            payment_method: row.payment_method,
            payment: row.payment.map(|p| p.0),
            refunded: row.refunded,
            refund_until: row.refund_until,
            promo_code: row.promo_code,
        }
    }
}

/// A booking with its items, seats, information and latest payment, in one statement (every
/// read of a booking, polled while a payment settles, costs one round trip). Its seats are the
/// ones it holds, or the ones it ended with; a booking sold again after its hold ended has
/// rows for its seats twice (the old ones inactive), hence the DISTINCT. Of its payments, the
/// one that paid it, else the latest.
const BOOKING_SELECT: &str = "SELECT b.id, b.booking_code, b.event_id, b.status, b.held_at, b.expired_at,
       b.extensions, b.total_price, b.currency, b.number_seats, b.payment_method,
       COALESCE((SELECT json_agg(json_build_object('ticket_type_id', i.ticket_type_id,
                                                   'qty', i.qty, 'price', i.price,
                                                   'returned', i.returned) ORDER BY i.id)
                 FROM booking_items i WHERE i.booking_id = b.id), '[]') AS items,
       COALESCE((SELECT json_agg(json_build_object('id', s.id, 'ticket_type_id', s.ticket_type_id,
                                                   'section', s.section, 'row', s.row_label,
                                                   'label', s.seat_label)
                                 ORDER BY s.row_index, s.position, s.id)
                 FROM seats s
                 WHERE s.id IN (SELECT bs.seat_id FROM booking_seats bs WHERE bs.booking_id = b.id)),
                '[]') AS seats,
       (SELECT json_build_object('email', u.email, 'phone', u.number_phone, 'address', u.address,
                                 'attendees', u.attendees)
        FROM booking_users u WHERE u.booking_id = b.id) AS information,
       (SELECT json_build_object('id', p.id, 'payment_code', p.payment_code,
                                 'checkout_url', p.checkout_url, 'status', p.status)
        FROM payments p WHERE p.booking_id = b.id
        ORDER BY p.status IN ('succeeded', 'refunded') DESC, p.id DESC LIMIT 1) AS payment,
       (SELECT COALESCE(sum(r.amount), 0) FROM refunds r
        WHERE r.booking_id = b.id AND r.status <> 'failed')::bigint AS refunded,
       (SELECT e.refund_until FROM events e WHERE e.id = b.event_id) AS refund_until,
       (SELECT pc.code FROM promo_codes pc WHERE pc.id = b.promo_code_id) AS promo_code
FROM bookings b";

/// The user's booking with its items, seats and information.
pub async fn find(pool: &PgPool, id: BookingId, user: UserId) -> Result<Option<Booking>, ApiError> {
    let row: Option<BookingRow> = sqlx::query_as(&format!(
        "{BOOKING_SELECT} WHERE b.id = $1 AND b.user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Booking::from))
}

/// The user's bookings, newest first, after `after`.
pub async fn list(
    pool: &PgPool,
    user: UserId,
    after: Option<BookingId>,
    limit: u32,
) -> Result<Page<Booking>, ApiError> {
    let rows: Vec<BookingRow> = sqlx::query_as(&format!(
        "{BOOKING_SELECT}
         WHERE b.user_id = $1 AND ($2::uuid IS NULL OR b.id < $2)
         ORDER BY b.id DESC LIMIT $3"
    ))
    .bind(user)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let bookings = rows.into_iter().map(Booking::from).collect();
    Ok(Page::from_rows(bookings, limit, |b| b.id))
}

/// Section, row and seat labels of `ids`, in the order given.
pub async fn seats_by_id(pool: &PgPool, ids: &[SeatId]) -> Result<Vec<BookedSeat>, ApiError> {
    let mut seats: Vec<BookedSeat> = sqlx::query_as(
        "SELECT id, ticket_type_id, section, row_label AS row, seat_label AS label FROM seats WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    seats.sort_by_key(|s| ids.iter().position(|id| *id == s.id));
    Ok(seats)
}

/// A booking's status if it is live, else why the buyer can no longer change it.
fn live_or_why(row: Option<(BookingStatus, bool)>) -> Result<BookingStatus, ApiError> {
    let (status, past_deadline) = row.ok_or_else(|| ApiError::not_found("booking"))?;
    match status {
        live if live.is_live() && past_deadline => Err(status_conflict(BookingStatus::Expired)),
        live if live.is_live() => Ok(live),
        ended => Err(status_conflict(ended)),
    }
}

/// Saves the contact details of a live booking in one statement; when nothing was saved, the
/// booking is read again to say why.
pub async fn save_information(
    pool: &PgPool,
    id: BookingId,
    user: UserId,
    information: &Information,
) -> Result<(), ApiError> {
    let saved = sqlx::query(
        "WITH live AS (
             SELECT id FROM bookings
             WHERE id = $2 AND user_id = $3 AND status IN ('held', 'pending_payment')
               AND expired_at > now()
             FOR UPDATE)
         INSERT INTO booking_users (id, booking_id, user_id, email, number_phone, address, attendees)
         SELECT $1, live.id, $3, $4, $5, $6, $7 FROM live
         ON CONFLICT (booking_id) DO UPDATE
           SET email = EXCLUDED.email, number_phone = EXCLUDED.number_phone, address = EXCLUDED.address,
               attendees = EXCLUDED.attendees",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(id)
    .bind(user)
    .bind(&information.email)
    .bind(&information.phone)
    .bind(&information.address)
    .bind(&information.attendees)
    .execute(pool)
    .await?
    .rows_affected();
    if saved == 1 {
        return Ok(());
    }
    let row: Option<(BookingStatus, bool)> = sqlx::query_as(
        "SELECT status, expired_at <= now() FROM bookings WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    live_or_why(row)?;
    // no live booking a moment ago, one now: statuses never go back to live, so this is a bug
    Err(ApiError::internal(anyhow::anyhow!(
        "booking {id} is live but its information was not saved"
    )))
}

/// `held` to `pending_payment` with a `bookings.confirmed` (checked out) outbox row, in one
/// statement (so one round trip, and atomic). A booking already pending payment is left as it is.
pub async fn checkout(
    pool: &PgPool,
    id: BookingId,
    user: UserId,
    method: &str,
) -> Result<(), ApiError> {
    let found: Option<(BookingStatus, bool, bool)> = sqlx::query_as(
        "WITH found AS (
             SELECT b.id, b.status, b.expired_at <= now() AS past_deadline,
                    EXISTS (SELECT 1 FROM booking_users u WHERE u.booking_id = b.id) AS informed
             FROM bookings b WHERE b.id = $1 AND b.user_id = $2
             FOR UPDATE),
         moved AS (
             UPDATE bookings b SET status = 'pending_payment', payment_method = $3
             FROM found f
             WHERE b.id = f.id AND f.status = 'held' AND NOT f.past_deadline AND f.informed
             RETURNING b.*),
         emitted AS (
             INSERT INTO outbox (subject, aggregate_id, payload)
             SELECT $4, m.id, jsonb_build_object(
                      'booking_id', m.id, 'event_id', m.event_id, 'user_id', m.user_id,
                      'payment_method', m.payment_method, 'total_price', m.total_price,
                      'currency', m.currency, 'expired_at', m.expired_at)
             FROM moved m)
         SELECT status, past_deadline, informed FROM found",
    )
    .bind(id)
    .bind(user)
    .bind(method)
    .bind(BOOKING_CHECKED_OUT)
    .fetch_optional(pool)
    .await?;
    let informed = found.as_ref().is_some_and(|(_, _, informed)| *informed);
    let status = live_or_why(found.map(|(status, past, _)| (status, past)))?;
    if status == BookingStatus::Held && !informed {
        return Err(ApiError::new(
            Code::InformationRequired,
            "give the booking's contact information (POST /v1/bookings/{id}/information) before checkout",
        ));
    }
    Ok(())
}
