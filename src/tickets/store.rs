//! Tickets in PostgreSQL: issued once per admission of a sold booking, listed for their owner,
//! checked in once.
use boxoffice_actors::ids::{BookingId, EventId, UserId};
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use uuid::Uuid;

use super::{code, Ticket, TicketRow};
use crate::error::ApiError;
use crate::outbox::subjects::TICKETS_ISSUED;

const TICKET_COLUMNS: &str =
    "t.id, t.code, t.short_code, t.status, t.qr_url, t.checked_in_at, t.created_at,
    t.admission_no, t.booking_id, b.booking_code, t.payment_id, t.event_id, e.name AS event_name,
    e.start_at AS event_start_at, e.end_at AS event_end_at, e.location AS event_location,
    e.time_zone AS event_time_zone, t.attendee_name, t.ticket_type_id,
    tt.name AS ticket_type_name, s.id AS seat_id, s.section AS seat_section,
    s.row_label AS seat_row, s.seat_label AS seat_label,
    (SELECT COALESCE(nt.holder_email, nu.email) FROM tickets nt
     LEFT JOIN users nu ON nu.id = nt.user_id WHERE nt.transferred_from = t.id) AS transferred_to";

const TICKET_FROM: &str = "FROM tickets t
    JOIN bookings b ON b.id = t.booking_id
    JOIN events e ON e.id = t.event_id
    JOIN ticket_types tt ON tt.id = t.ticket_type_id
    LEFT JOIN seats s ON s.id = t.seat_id";

/// One ticket per admission of each confirmed booking in `bookings`, with its seat for
/// seat-mapped types, in one transaction with a `tickets.issued` outbox row per booking: the
/// ticket worker issues the bookings sold in one round together. Bookings that have tickets (or
/// are not sold) are skipped; returns the bookings issued now.
pub async fn issue(
    pool: &PgPool,
    bookings: &[BookingId],
    signing_key: &str,
    public_url: &str,
) -> Result<Vec<BookingId>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // locked in id order, so two batches that share bookings wait for each other, never deadlock
    let sold: Vec<(BookingId, EventId, UserId, Uuid)> = sqlx::query_as(
        "SELECT b.id, b.event_id, b.user_id, p.id FROM bookings b
         JOIN payments p ON p.booking_id = b.id AND p.status = 'succeeded'
         WHERE b.id = ANY($1) AND b.status = 'confirmed' ORDER BY b.id FOR UPDATE OF b",
    )
    .bind(bookings)
    .fetch_all(&mut *tx)
    .await?;
    // read after the lock: a batch that issued them meanwhile has committed
    let issued: Vec<BookingId> =
        sqlx::query_scalar("SELECT DISTINCT booking_id FROM tickets WHERE booking_id = ANY($1)")
            .bind(bookings)
            .fetch_all(&mut *tx)
            .await?;
    let sold: Vec<_> = sold
        .into_iter()
        .filter(|(booking, ..)| !issued.contains(booking))
        .collect();
    if sold.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<BookingId> = sold.iter().map(|(booking, ..)| *booking).collect();
    let items: Vec<(BookingId, Uuid, i32)> = sqlx::query_as(
        "SELECT booking_id, ticket_type_id, qty FROM booking_items
         WHERE booking_id = ANY($1) ORDER BY booking_id, id",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let seats: Vec<(BookingId, Uuid, Uuid)> = sqlx::query_as(
        "SELECT bs.booking_id, bs.ticket_type_id, bs.seat_id
         FROM booking_seats bs JOIN seats s ON s.id = bs.seat_id
         WHERE bs.booking_id = ANY($1) AND bs.active
         ORDER BY bs.booking_id, s.row_index, s.position",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;

    let base = public_url.trim_end_matches('/');
    let mut tickets = NewTickets::default();
    let mut counts: Vec<i32> = Vec::with_capacity(sold.len());
    for &(booking, event, user, payment) in &sold {
        let mut admission = 0;
        for &(_, ticket_type, qty) in items.iter().filter(|(b, ..)| *b == booking) {
            let mut seats_of_type = seats
                .iter()
                .filter(|(b, t, _)| *b == booking && *t == ticket_type)
                .map(|(.., seat)| *seat);
            for _ in 0..qty {
                admission += 1;
                let id = Uuid::now_v7();
                tickets.id.push(id);
                tickets.user.push(user);
                tickets.booking.push(booking);
                tickets.payment.push(payment);
                tickets.event.push(event);
                tickets.ticket_type.push(ticket_type);
                tickets.seat.push(seats_of_type.next());
                tickets.admission.push(admission);
                tickets.code.push(code::sign(signing_key, id, event));
                tickets
                    .qr_url
                    .push(format!("{base}/v1/tickets/{id}/qr.svg"));
            }
        }
        counts.push(admission);
    }
    let short_codes = free_short_codes(&mut tx, &tickets.event, &tickets.code).await?;
    sqlx::query(
        "INSERT INTO tickets (id, user_id, booking_id, payment_id, event_id, ticket_type_id,
                              seat_id, admission_no, code, qr_url, short_code)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[],
                              $6::uuid[], $7::uuid[], $8::int[], $9::text[], $10::text[],
                              $11::text[])",
    )
    .bind(&tickets.id)
    .bind(&tickets.user)
    .bind(&tickets.booking)
    .bind(&tickets.payment)
    .bind(&tickets.event)
    .bind(&tickets.ticket_type)
    .bind(&tickets.seat)
    .bind(&tickets.admission)
    .bind(&tickets.code)
    .bind(&tickets.qr_url)
    .bind(&short_codes)
    .execute(&mut *tx)
    .await?;
    // the names the buyer gave, one per admission, when the event asked for them
    sqlx::query(
        "UPDATE tickets t SET attendee_name = u.attendees[t.admission_no]
         FROM booking_users u
         WHERE u.booking_id = t.booking_id AND u.attendees IS NOT NULL AND t.id = ANY($1)",
    )
    .bind(&tickets.id)
    .execute(&mut *tx)
    .await?;
    let users: Vec<UserId> = sold.iter().map(|(_, _, user, _)| *user).collect();
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $1, booking, jsonb_build_object('booking_id', booking, 'user_id', buyer, 'tickets', n)
         FROM UNNEST($2::uuid[], $3::uuid[], $4::int[]) AS issued (booking, buyer, n)",
    )
    .bind(TICKETS_ISSUED)
    .bind(&ids)
    .bind(&users)
    .bind(&counts)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// The tickets of one batch as column arrays, for one `INSERT ... SELECT FROM UNNEST`.
#[derive(Default)]
struct NewTickets {
    id: Vec<Uuid>,
    user: Vec<UserId>,
    booking: Vec<BookingId>,
    payment: Vec<Uuid>,
    event: Vec<EventId>,
    ticket_type: Vec<Uuid>,
    seat: Vec<Option<Uuid>>,
    admission: Vec<i32>,
    code: Vec<String>,
    qr_url: Vec<String>,
}

/// The short codes of new tickets of `events` with signed `codes`: each one's first
/// [`code::short_code`] unless a ticket of its event has it already (or an earlier one of these
/// does), then its next attempt. One pair in 2^40 collides, so this is nearly always one query.
/// A ticket written meanwhile with the same one fails the unique index, and its batch is
/// retried with new ticket ids.
pub async fn free_short_codes(
    conn: &mut PgConnection,
    events: &[EventId],
    codes: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut attempts = vec![0; codes.len()];
    let mut shorts: Vec<String> = codes.iter().map(|c| code::short_code(c, 0)).collect();
    loop {
        let taken: HashSet<(EventId, String)> = sqlx::query_as(
            "SELECT event_id, short_code FROM tickets
             WHERE (event_id, short_code) IN (SELECT * FROM UNNEST($1::uuid[], $2::text[]))",
        )
        .bind(events)
        .bind(&shorts)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        let mut mine = HashSet::with_capacity(shorts.len());
        let mut again = false;
        for i in 0..shorts.len() {
            let key = (events[i], shorts[i].clone());
            if taken.contains(&key) || !mine.insert(key) {
                attempts[i] += 1;
                shorts[i] = code::short_code(&codes[i], attempts[i]);
                again = true;
            }
        }
        if !again {
            return Ok(shorts);
        }
    }
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

/// The ticket with this id, whoever holds it.
pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<Ticket>, sqlx::Error> {
    let row: Option<TicketRow> = sqlx::query_as(&format!(
        "SELECT {TICKET_COLUMNS} {TICKET_FROM} WHERE t.id = $1"
    ))
    .bind(id)
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

/// The ticket of `event` with this short code, as [`code::parse_short`] reads it.
pub async fn by_short_code(
    pool: &PgPool,
    event: EventId,
    short_code: &str,
) -> Result<Option<Uuid>, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM tickets WHERE event_id = $1 AND short_code = $2")
            .bind(event)
            .bind(short_code)
            .fetch_optional(pool)
            .await?,
    )
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
