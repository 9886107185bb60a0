//! Reading bookings back, and the changes that do not go through the engine: contact
//! information and checkout (neither changes which admissions are taken).
use std::collections::HashMap;

use boxoffice_actors::ids::{BookingId, EventId, SeatId, UserId};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{status_conflict, BookedSeat, Booking, BookingItem, BookingPayment, Information};
use crate::error::{ApiError, Code};
use crate::outbox::subjects::BOOKING_CHECKED_OUT;
use crate::pagination::Page;
use crate::status::{BookingStatus, PaymentStatus};

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: BookingId,
    booking_code: String,
    event_id: EventId,
    status: BookingStatus,
    held_at: DateTime<Utc>,
    expired_at: DateTime<Utc>,
    total_price: i64,
    currency: String,
    number_seats: i32,
    payment_method: Option<String>,
}

const BOOKING_COLUMNS: &str =
    "id, booking_code, event_id, status, held_at, expired_at, total_price,
    currency, number_seats, payment_method";

/// The user's booking with its items, seats and information.
pub async fn find(pool: &PgPool, id: BookingId, user: UserId) -> Result<Option<Booking>, ApiError> {
    let rows: Vec<BookingRow> = sqlx::query_as(&format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(complete(pool, rows).await?.pop())
}

/// The user's bookings, newest first, after `after`.
pub async fn list(
    pool: &PgPool,
    user: UserId,
    after: Option<BookingId>,
    limit: u32,
) -> Result<Page<Booking>, ApiError> {
    let rows: Vec<BookingRow> = sqlx::query_as(&format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(user)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let bookings = complete(pool, rows).await?;
    Ok(Page::from_rows(bookings, limit, |b| b.id))
}

/// Adds items, seats and information to booking rows, with one query for each.
async fn complete(pool: &PgPool, rows: Vec<BookingRow>) -> Result<Vec<Booking>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<BookingId> = rows.iter().map(|r| r.id).collect();
    let items: Vec<(BookingId, BookingItem)> =
        sqlx::query_as::<_, (BookingId, uuid::Uuid, i32, i64)>(
            "SELECT booking_id, ticket_type_id, qty, price FROM booking_items
             WHERE booking_id = ANY($1) ORDER BY booking_id, id",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(booking, ticket_type, qty, price)| {
            (
                booking,
                BookingItem {
                    ticket_type_id: ticket_type.into(),
                    qty,
                    price,
                },
            )
        })
        .collect();
    // a booking's seats while it holds them, and the seats it ended with otherwise
    let seats: Vec<(BookingId, uuid::Uuid, uuid::Uuid, String, String, String)> = sqlx::query_as(
        "SELECT bs.booking_id, s.id, s.ticket_type_id, s.section, s.row_label, s.seat_label
         FROM booking_seats bs JOIN seats s ON s.id = bs.seat_id
         WHERE bs.booking_id = ANY($1) ORDER BY bs.booking_id, s.row_index, s.position, s.id",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let information: Vec<(BookingId, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT booking_id, email, number_phone, address FROM booking_users WHERE booking_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;

    let mut items_of: HashMap<BookingId, Vec<BookingItem>> = HashMap::new();
    for (booking, item) in items {
        items_of.entry(booking).or_default().push(item);
    }
    let mut seats_of: HashMap<BookingId, Vec<BookedSeat>> = HashMap::new();
    // a booking sold again after its hold ended has its seats' rows twice (the old ones inactive)
    let mut seats = seats;
    seats.dedup_by_key(|(booking, seat, ..)| (*booking, *seat));
    for (booking, id, ticket_type, section, row, label) in seats {
        seats_of.entry(booking).or_default().push(BookedSeat {
            id: id.into(),
            ticket_type_id: ticket_type.into(),
            section,
            row,
            label,
        });
    }
    let payments: Vec<(BookingId, BookingPayment)> =
        sqlx::query_as::<_, (BookingId, uuid::Uuid, String, Option<String>, PaymentStatus)>(
            "SELECT DISTINCT ON (booking_id) booking_id, id, payment_code, checkout_url, status
         FROM payments WHERE booking_id = ANY($1)
         ORDER BY booking_id, status IN ('succeeded', 'refunded') DESC, id DESC",
        )
        .bind(&ids)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(booking, id, payment_code, checkout_url, status)| {
            (
                booking,
                BookingPayment {
                    id,
                    payment_code,
                    checkout_url,
                    status,
                },
            )
        })
        .collect();
    let mut payment_of: HashMap<BookingId, BookingPayment> = payments.into_iter().collect();
    let mut information_of: HashMap<BookingId, Information> = information
        .into_iter()
        .map(|(booking, email, phone, address)| {
            (
                booking,
                Information {
                    email,
                    phone,
                    address,
                },
            )
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| Booking {
            items: items_of.remove(&row.id).unwrap_or_default(),
            seats: seats_of.remove(&row.id).unwrap_or_default(),
            information: information_of.remove(&row.id),
            payment: payment_of.remove(&row.id),
            id: row.id,
            booking_code: row.booking_code,
            event_id: row.event_id,
            status: row.status,
            held_at: row.held_at,
            expired_at: row.expired_at,
            total_price: row.total_price,
            currency: row.currency,
            number_seats: row.number_seats,
            payment_method: row.payment_method,
        })
        .collect())
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

/// Locks the user's booking and checks it is still held (or pending payment) and in time.
async fn lock_live(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: BookingId,
    user: UserId,
) -> Result<BookingStatus, ApiError> {
    let row: Option<(BookingStatus, bool)> = sqlx::query_as(
        "SELECT status, expired_at <= now() FROM bookings WHERE id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    let (status, past_deadline) = row.ok_or_else(|| ApiError::not_found("booking"))?;
    match status {
        live if live.is_live() && past_deadline => Err(status_conflict(BookingStatus::Expired)),
        live if live.is_live() => Ok(live),
        ended => Err(status_conflict(ended)),
    }
}

pub async fn save_information(
    pool: &PgPool,
    id: BookingId,
    user: UserId,
    information: &Information,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    lock_live(&mut tx, id, user).await?;
    sqlx::query(
        "INSERT INTO booking_users (id, booking_id, user_id, email, number_phone, address)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (booking_id) DO UPDATE
           SET email = EXCLUDED.email, number_phone = EXCLUDED.number_phone, address = EXCLUDED.address",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(id)
    .bind(user)
    .bind(&information.email)
    .bind(&information.phone)
    .bind(&information.address)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// `held` to `pending_payment` with a `bookings.confirmed` (checked out) outbox row, in one transaction. A
/// booking already pending payment is left as it is.
pub async fn checkout(
    pool: &PgPool,
    id: BookingId,
    user: UserId,
    method: &str,
) -> Result<(), ApiError> {
    let mut tx = pool.begin().await?;
    if lock_live(&mut tx, id, user).await? == BookingStatus::PendingPayment {
        return Ok(());
    }
    let has_information: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM booking_users WHERE booking_id = $1)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if !has_information {
        return Err(ApiError::new(
            Code::InformationRequired,
            "give the booking's contact information (POST /v1/bookings/{id}/information) before checkout",
        ));
    }
    sqlx::query(
        "UPDATE bookings SET status = 'pending_payment', payment_method = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(method)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $2, b.id, jsonb_build_object(
                  'booking_id', b.id, 'event_id', b.event_id, 'user_id', b.user_id,
                  'payment_method', b.payment_method, 'total_price', b.total_price,
                  'currency', b.currency, 'expired_at', b.expired_at)
         FROM bookings b WHERE b.id = $1",
    )
    .bind(id)
    .bind(BOOKING_CHECKED_OUT)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
