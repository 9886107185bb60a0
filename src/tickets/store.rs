//! Tickets in PostgreSQL: issued once per admission of a sold booking, listed for their owner,
//! checked in once.
use boxoffice_actors::ids::{BookingId, EventId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use super::{code, Ticket, TicketRow};
use crate::error::ApiError;

const TICKET_COLUMNS: &str = "t.id, t.code, t.status, t.qr_url, t.checked_in_at, t.created_at,
    t.admission_no, t.booking_id, b.booking_code, t.payment_id, t.event_id, e.name AS event_name,
    e.start_at AS event_start_at, e.location AS event_location, t.ticket_type_id,
    tt.name AS ticket_type_name, s.id AS seat_id, s.section AS seat_section,
    s.row_label AS seat_row, s.seat_label AS seat_label";

const TICKET_FROM: &str = "FROM tickets t
    JOIN bookings b ON b.id = t.booking_id
    JOIN events e ON e.id = t.event_id
    JOIN ticket_types tt ON tt.id = t.ticket_type_id
    LEFT JOIN seats s ON s.id = t.seat_id";

/// One ticket per admission of a confirmed booking, with its seat for seat-mapped types, in
/// one transaction with a `tickets.issued` outbox row. Issuing again changes nothing; returns
/// whether tickets were issued now.
pub async fn issue(
    pool: &PgPool,
    booking: BookingId,
    signing_key: &str,
    public_url: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let header: Option<(EventId, UserId, Uuid)> = sqlx::query_as(
        "SELECT b.event_id, b.user_id, p.id FROM bookings b
         JOIN payments p ON p.booking_id = b.id AND p.status = 'succeeded'
         WHERE b.id = $1 AND b.status = 'confirmed' FOR UPDATE OF b",
    )
    .bind(booking)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((event, user, payment)) = header else {
        return Ok(false);
    };
    let issued: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE booking_id = $1)")
            .bind(booking)
            .fetch_one(&mut *tx)
            .await?;
    if issued {
        return Ok(false);
    }
    let items: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT ticket_type_id, qty FROM booking_items WHERE booking_id = $1 ORDER BY id",
    )
    .bind(booking)
    .fetch_all(&mut *tx)
    .await?;
    let seats: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT bs.ticket_type_id, bs.seat_id FROM booking_seats bs JOIN seats s ON s.id = bs.seat_id
         WHERE bs.booking_id = $1 AND bs.active ORDER BY s.row_index, s.position",
    )
    .bind(booking)
    .fetch_all(&mut *tx)
    .await?;
    let base = public_url.trim_end_matches('/');
    let mut admission = 0;
    for (ticket_type, qty) in items {
        let mut seats_of_type = seats
            .iter()
            .filter(|(t, _)| *t == ticket_type)
            .map(|(_, s)| *s);
        for _ in 0..qty {
            admission += 1;
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO tickets (id, user_id, booking_id, payment_id, event_id, ticket_type_id,
                                      seat_id, admission_no, code, qr_url)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(user)
            .bind(booking)
            .bind(payment)
            .bind(event)
            .bind(ticket_type)
            .bind(seats_of_type.next())
            .bind(admission)
            .bind(code::sign(signing_key, id, event))
            .bind(format!("{base}/v1/tickets/{id}/qr.svg"))
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         VALUES ('tickets.issued', $1, jsonb_build_object('booking_id', $1, 'user_id', $2::uuid, 'tickets', $3::int))",
    )
    .bind(booking)
    .bind(user)
    .bind(admission)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The user's tickets, newest first, after `after`.
pub async fn list(
    pool: &PgPool,
    user: UserId,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Ticket>, ApiError> {
    let rows: Vec<TicketRow> = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} {TICKET_FROM}
         WHERE t.user_id = $1 AND ($2::uuid IS NULL OR t.id < $2)
         ORDER BY t.id DESC LIMIT $3"
    ))
    .bind(user)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Ticket::from).collect())
}

pub async fn find(pool: &PgPool, id: Uuid, user: UserId) -> Result<Option<Ticket>, ApiError> {
    let row: Option<TicketRow> = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} {TICKET_FROM} WHERE t.id = $1 AND t.user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Ticket::from))
}

/// The ticket of `event` with this id, whoever owns it (for check-in).
pub async fn find_at_event(
    pool: &PgPool,
    id: Uuid,
    event: EventId,
) -> Result<Option<Ticket>, ApiError> {
    let row: Option<TicketRow> = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} {TICKET_FROM} WHERE t.id = $1 AND t.event_id = $2"
    ))
    .bind(id)
    .bind(event)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Ticket::from))
}

/// Marks a valid ticket checked in; `false` if it was not valid (already in, or void). One
/// statement, so two scanners at once cannot both succeed.
pub async fn check_in(pool: &PgPool, id: Uuid, event: EventId) -> Result<bool, ApiError> {
    let updated = sqlx::query(
        "UPDATE tickets SET status = 'checked_in', checked_in_at = now()
         WHERE id = $1 AND event_id = $2 AND status = 'valid'",
    )
    .bind(id)
    .bind(event)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// A booking's tickets in admission order.
pub async fn of_booking(pool: &PgPool, booking: BookingId) -> Result<Vec<Ticket>, sqlx::Error> {
    let rows: Vec<TicketRow> = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} {TICKET_FROM} WHERE t.booking_id = $1 ORDER BY t.admission_no"
    ))
    .bind(booking)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Ticket::from).collect())
}
