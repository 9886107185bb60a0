//! Catalog queries shared by the public and admin sides.
use boxoffice_actors::ids::{EventId, TicketTypeId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};

use super::{Event, Seat, TicketType};
use crate::error::ApiError;
use crate::pagination::Page;

/// Booking statuses that occupy capacity.
pub const ACTIVE_BOOKING: &str = "('held', 'pending_payment', 'confirmed')";

const EVENT_COLUMNS: &str = "e.id, e.organizer_id, e.name, e.title, e.description, e.category, e.start_at, e.end_at,
    e.banner, e.location, e.status, e.published_at, e.refund_until, e.time_zone, e.attendee_names,
    e.created_at, e.updated_at,
    (SELECT min(t.price) FROM ticket_types t WHERE t.event_id = e.id AND t.status = 'active') AS price_from,
    (SELECT t.currency FROM ticket_types t WHERE t.event_id = e.id AND t.status = 'active'
      ORDER BY t.price, t.id LIMIT 1) AS currency,
    (SELECT jsonb_build_object('enabled', q.enabled, 'opens_at', q.opens_at, 'starts_at', q.starts_at,
            'admit_minutes', q.admit_minutes, 'admit_at_once', q.admit_at_once,
            'challenge_bits', q.challenge_bits)
       FROM event_queues q WHERE q.event_id = e.id) AS queue";

/// Which events a listing may show.
#[derive(Clone, Copy)]
pub enum Scope {
    Published,
    OwnedBy(UserId),
    All,
}

#[derive(Default)]
pub struct EventFilter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub status: Option<String>,
}

/// Position in a listing ordered by start time, then id.
#[derive(Serialize, Deserialize)]
pub struct EventCursor(pub DateTime<Utc>, pub EventId);

pub async fn list_events(
    pool: &PgPool,
    scope: Scope,
    filter: &EventFilter,
    after: Option<EventCursor>,
    limit: u32,
) -> Result<Page<Event>, ApiError> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events e WHERE true"));
    match scope {
        Scope::Published => {
            query.push(" AND e.status = 'published'");
        }
        Scope::OwnedBy(user) => {
            query.push(" AND e.organizer_id = ").push_bind(user);
        }
        Scope::All => {}
    }
    if let Some(q) = filter.q.as_deref() {
        query
            .push(" AND e.search @@ websearch_to_tsquery('english', ")
            .push_bind(q.to_owned())
            .push(")");
    }
    if let Some(category) = &filter.category {
        query.push(" AND e.category = ").push_bind(category.clone());
    }
    if let Some(status) = &filter.status {
        query.push(" AND e.status = ").push_bind(status.clone());
    }
    if let Some(from) = filter.from {
        query.push(" AND e.start_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND e.start_at <= ").push_bind(to);
    }
    if let Some(location) = &filter.location {
        let pattern = format!(
            "%{}%",
            location
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query.push(" AND e.location ILIKE ").push_bind(pattern);
    }
    if let Some(EventCursor(start_at, id)) = after {
        query
            .push(" AND (e.start_at, e.id) > (")
            .push_bind(start_at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY e.start_at, e.id LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let rows: Vec<Event> = query.build_query_as().fetch_all(pool).await?;
    Ok(Page::from_rows(rows, limit, |e| {
        EventCursor(e.start_at, e.id)
    }))
}

/// The event if `scope` may see it.
pub async fn find_event(
    pool: &PgPool,
    id: EventId,
    scope: Scope,
) -> Result<Option<Event>, ApiError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {EVENT_COLUMNS} FROM events e WHERE e.id = "
    ));
    query.push_bind(id);
    match scope {
        // buyers holding tickets still need to see a cancelled event
        Scope::Published => {
            query.push(" AND e.status IN ('published', 'cancelled')");
        }
        Scope::OwnedBy(user) => {
            query.push(" AND e.organizer_id = ").push_bind(user);
        }
        Scope::All => {}
    }
    Ok(query.build_query_as().fetch_optional(pool).await?)
}

const TICKET_TYPE_COLUMNS: &str = "t.id, t.event_id, t.position, t.name, t.description, t.image_url, t.status,
    t.qty AS number_seats, t.price, t.currency, t.sale_at, t.sale_end, t.seat_mapped, t.max_per_user,
    t.created_at, t.updated_at";

/// Admissions of a ticket type taken by bookings that still hold or own them.
fn taken(ticket_type: &str) -> String {
    format!(
        "COALESCE((SELECT sum(bi.qty) FROM booking_items bi JOIN bookings b ON b.id = bi.booking_id
                   WHERE bi.ticket_type_id = {ticket_type} AND b.status IN {ACTIVE_BOOKING}), 0)"
    )
}

pub async fn ticket_types_of(
    pool: &PgPool,
    event: EventId,
    include_hidden: bool,
) -> Result<Vec<TicketType>, ApiError> {
    ticket_types(
        pool,
        event,
        include_hidden,
        &format!("t.qty - {}", taken("t.id")),
    )
    .await
}

/// The event's ticket types on offer with `available` left at capacity: for callers that take
/// the counts from the engine (summing a sold-out event's bookings costs a scan of all of them).
pub async fn ticket_types_uncounted(
    pool: &PgPool,
    event: EventId,
) -> Result<Vec<TicketType>, ApiError> {
    ticket_types(pool, event, false, "t.qty::bigint").await
}

async fn ticket_types(
    pool: &PgPool,
    event: EventId,
    include_hidden: bool,
    available: &str,
) -> Result<Vec<TicketType>, ApiError> {
    let sql = format!(
        "SELECT {TICKET_TYPE_COLUMNS}, {available} AS available FROM ticket_types t
         WHERE t.event_id = $1 AND ($2 OR t.status = 'active') ORDER BY t.position, t.id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(event)
        .bind(include_hidden)
        .fetch_all(pool)
        .await?)
}

pub async fn find_ticket_type(
    pool: &PgPool,
    event: EventId,
    id: TicketTypeId,
) -> Result<Option<TicketType>, ApiError> {
    let sql = format!(
        "SELECT {TICKET_TYPE_COLUMNS}, t.qty - {} AS available FROM ticket_types t WHERE t.event_id = $1 AND t.id = $2",
        taken("t.id")
    );
    Ok(sqlx::query_as(&sql)
        .bind(event)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Admissions of the ticket type in active bookings.
pub async fn taken_admissions<'c>(
    db: impl PgExecutor<'c>,
    id: TicketTypeId,
) -> Result<i64, ApiError> {
    let sql = format!("SELECT {}::BIGINT", taken("$1"));
    Ok(sqlx::query_scalar(&sql).bind(id).fetch_one(db).await?)
}

/// Whether any booking ever named this ticket type (its rows then pin the type and its seats).
pub async fn ticket_type_has_bookings<'c>(
    db: impl PgExecutor<'c>,
    id: TicketTypeId,
) -> Result<bool, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM booking_items WHERE ticket_type_id = $1)")
            .bind(id)
            .fetch_one(db)
            .await?,
    )
}

/// Every seat of the event (or of one ticket type), with free / held / sold.
pub async fn seats_of(
    pool: &PgPool,
    event: EventId,
    ticket_type: Option<TicketTypeId>,
) -> Result<Vec<Seat>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.ticket_type_id, s.section, s.row_label, s.seat_label, s.row_index, s.position, s.rank,
                CASE WHEN b.status = 'confirmed' THEN 'sold' WHEN b.status IS NOT NULL THEN 'held' ELSE 'free' END AS status
         FROM seats s
         LEFT JOIN booking_seats bs ON bs.seat_id = s.id AND bs.active
         LEFT JOIN bookings b ON b.id = bs.booking_id
         WHERE s.event_id = $1 AND ($2::UUID IS NULL OR s.ticket_type_id = $2)
         ORDER BY s.ticket_type_id, s.row_index, s.position",
    )
    .bind(event)
    .bind(ticket_type)
    .fetch_all(pool)
    .await?)
}

/// An event's fields as an organizer set them, checked (`admin::events`) before they are written.
pub struct EventFields<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub banner: Option<&'a str>,
    pub location: &'a str,
    /// An IANA name (checked by `validate`).
    pub time_zone: &'a str,
    pub attendee_names: bool,
}

impl<'a> EventFields<'a> {
    /// Binds the fields in their column order: name, title, description, category, start_at,
    /// end_at, banner, location, time_zone, attendee_names.
    fn bind(&'a self, query: Query<'a, Postgres, PgArguments>) -> Query<'a, Postgres, PgArguments> {
        query
            .bind(self.name.trim())
            .bind(self.title.trim())
            .bind(self.description.trim())
            .bind(self.category)
            .bind(self.start_at)
            .bind(self.end_at)
            .bind(self.banner)
            .bind(self.location.trim())
            .bind(self.time_zone)
            .bind(self.attendee_names)
    }
}

pub async fn insert_event(
    pool: &PgPool,
    id: EventId,
    organizer: UserId,
    fields: &EventFields<'_>,
) -> Result<(), sqlx::Error> {
    let query = sqlx::query(
        "INSERT INTO events (id, organizer_id, name, title, description, category, start_at, end_at, banner, location,
                             time_zone, attendee_names)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id)
    .bind(organizer);
    fields.bind(query).execute(pool).await?;
    Ok(())
}

pub async fn update_event(
    pool: &PgPool,
    id: EventId,
    fields: &EventFields<'_>,
) -> Result<(), sqlx::Error> {
    let query = sqlx::query(
        "UPDATE events SET name = $2, title = $3, description = $4, category = $5, start_at = $6, end_at = $7,
                banner = $8, location = $9, time_zone = $10, attendee_names = $11
         WHERE id = $1",
    )
    .bind(id);
    fields.bind(query).execute(pool).await?;
    Ok(())
}

/// Sets (or, with `None`, removes) the event's refund policy.
pub async fn set_refund_until(
    pool: &PgPool,
    id: EventId,
    until: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE events SET refund_until = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(until)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes the event unless it has live bookings, payments or tickets; whether it did.
pub async fn delete_unsold_event(pool: &PgPool, id: EventId) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // lock the event so no booking can start between the check and the delete
    sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let has_sales: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM bookings WHERE event_id = $1 AND status IN {ACTIVE_BOOKING})
             OR EXISTS (SELECT 1 FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE b.event_id = $1)
             OR EXISTS (SELECT 1 FROM tickets WHERE event_id = $1)"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if has_sales {
        return Ok(false);
    }
    // only expired or cancelled bookings are left: they go first, so that the ticket types
    // they name can go with the event
    sqlx::query("DELETE FROM bookings WHERE event_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// A draft goes on sale; any other status stays.
pub async fn publish_event(pool: &PgPool, id: EventId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE events SET status = 'published', published_at = now() WHERE id = $1 AND status = 'draft'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Calls the event off and, in the same transaction, refunds every paid booking of it in full
/// (see [`crate::refunds`]); answers how many bookings are being refunded.
pub async fn cancel_event(pool: &PgPool, id: EventId) -> Result<usize, ApiError> {
    let mut tx = pool.begin().await?;
    let cancelled = sqlx::query(
        "UPDATE events SET status = 'cancelled', updated_at = now() WHERE id = $1 AND status <> 'cancelled'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let refunds = if cancelled {
        // nothing more will be offered to its waiting lists
        sqlx::query(
            "UPDATE waitlist_entries SET status = 'lapsed', updated_at = now()
             WHERE event_id = $1 AND status = 'waiting'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        crate::refunds::store::refund_event(&mut tx, id).await?
    } else {
        0
    };
    tx.commit().await?;
    Ok(refunds)
}

/// A ticket type's fields after a create or an edit, checked together (`admin::ticket_types`) before they are written.
pub struct TicketTypeFields {
    pub name: String,
    pub description: String,
    pub price: i64,
    pub currency: String,
    pub number_seats: i64,
    pub position: i32,
    pub image_url: Option<String>,
    pub sale_at: Option<DateTime<Utc>>,
    pub sale_end: Option<DateTime<Utc>>,
    pub seat_mapped: bool,
    pub max_per_user: Option<i64>,
    pub status: String,
}

/// Creates or overwrites the ticket type `id` of `event` with checked `fields`.
pub async fn save_ticket_type(
    conn: &mut PgConnection,
    event: EventId,
    id: TicketTypeId,
    fields: &TicketTypeFields,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_types (id, event_id, position, name, description, image_url, status, qty, price, currency,
                                   sale_at, sale_end, seat_mapped, max_per_user)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (id) DO UPDATE SET
             position = EXCLUDED.position, name = EXCLUDED.name, description = EXCLUDED.description,
             image_url = EXCLUDED.image_url, status = EXCLUDED.status, qty = EXCLUDED.qty, price = EXCLUDED.price,
             currency = EXCLUDED.currency, sale_at = EXCLUDED.sale_at, sale_end = EXCLUDED.sale_end,
             seat_mapped = EXCLUDED.seat_mapped, max_per_user = EXCLUDED.max_per_user",
    )
    .bind(id)
    .bind(event)
    .bind(fields.position)
    .bind(fields.name.trim())
    .bind(fields.description.trim())
    .bind(&fields.image_url)
    .bind(&fields.status)
    .bind(fields.number_seats as i32)
    .bind(fields.price)
    .bind(&fields.currency)
    .bind(fields.sale_at)
    .bind(fields.sale_end)
    .bind(fields.seat_mapped)
    .bind(fields.max_per_user.map(|m| m as i32))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_ticket_type<'c>(
    conn: impl PgExecutor<'c>,
    id: TicketTypeId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM ticket_types WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
