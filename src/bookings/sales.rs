//! An organizer's sales report for one event: sold, held and available admissions and revenue
//! per ticket type, and the latest bookings. Counts come from the running engine when there is
//! one (what buyers are being told), else from the bookings.
use actix_web::{web, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{BookingId, EventId, TicketTypeId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::auth::Organizer;
use crate::catalog::admin::owned_event;
use crate::error::ApiError;

const RECENT: i64 = 10;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/events/{id}/sales").route(web::get().to(sales)));
}

#[derive(Serialize, ToSchema)]
pub struct Sales {
    pub event_id: EventId,
    pub ticket_types: Vec<TypeSales>,
    /// Revenue of confirmed bookings, by currency (minor units).
    pub revenue: std::collections::BTreeMap<String, i64>,
    /// The latest bookings of the event, newest first.
    pub recent_bookings: Vec<RecentBooking>,
    /// How the event's refunds stand (`GET /v1/admin/events/{id}/refunds` lists them).
    pub refunds: crate::refunds::RefundSummary,
    /// How the event's waiting lists stand (`GET /v1/admin/events/{id}/waitlist` lists them).
    pub waitlist: crate::waitlist::WaitlistSummary,
    /// Tickets sold per hour (by when they were issued, refunded ones left out), oldest first;
    /// hours without sales are left out.
    pub timeline: Vec<SalesHour>,
    /// Tickets that admit someone (valid or checked in): the door's "of".
    pub tickets_issued: i64,
    /// Tickets checked in at the door.
    pub checked_in: i64,
}

/// One hour of sales.
#[derive(Serialize, ToSchema)]
pub struct SalesHour {
    /// The hour's start.
    pub at: DateTime<Utc>,
    pub tickets: i64,
    /// Minor units, by currency.
    pub revenue: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct TypeSales {
    pub ticket_type_id: TicketTypeId,
    pub name: String,
    pub capacity: i64,
    pub sold: i64,
    /// Admissions held and not yet paid (`held` and `pending_payment`).
    pub held: i64,
    pub available: i64,
    /// Minor units of `currency`, from confirmed bookings at the price they were held at,
    /// refunded tickets left out.
    pub revenue: i64,
    pub currency: String,
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct RecentBooking {
    pub id: BookingId,
    pub booking_code: String,
    pub status: String,
    pub number_seats: i32,
    pub total_price: i64,
    pub currency: String,
    pub held_at: DateTime<Utc>,
}

/// Sales of one of the organizer's events (admins: any event).
#[utoipa::path(get, path = "/v1/admin/events/{id}/sales", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Sales), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn sales(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let mut ticket_types: Vec<TypeSales> = sqlx::query_as(
        "SELECT tt.id AS ticket_type_id, tt.name, tt.qty::bigint AS capacity, tt.currency,
                COALESCE(sum(bi.qty - bi.returned) FILTER (WHERE b.status = 'confirmed'), 0)::bigint AS sold,
                COALESCE(sum(bi.qty) FILTER (WHERE b.status IN ('held', 'pending_payment')), 0)::bigint AS held,
                0::bigint AS available,
                COALESCE(sum((bi.qty - bi.returned) * bi.price) FILTER (WHERE b.status = 'confirmed'), 0)::bigint AS revenue
         FROM ticket_types tt
         LEFT JOIN booking_items bi ON bi.ticket_type_id = tt.id
         LEFT JOIN bookings b ON b.id = bi.booking_id
         WHERE tt.event_id = $1
         GROUP BY tt.id
         ORDER BY tt.position, tt.created_at",
    )
    .bind(event.id)
    .fetch_all(pool.get_ref())
    .await?;
    let mut revenue = std::collections::BTreeMap::new();
    for row in &mut ticket_types {
        // the engine answers holds before the next read of the bookings would see them
        if let Some(counts) = engine.counts(row.ticket_type_id) {
            row.held = counts.held.into();
            row.sold = counts.sold.into();
            row.capacity = counts.capacity.into();
        }
        row.available = (row.capacity - row.held - row.sold).max(0);
        *revenue.entry(row.currency.clone()).or_insert(0) += row.revenue;
    }
    let recent_bookings = sqlx::query_as(
        "SELECT id, booking_code, status, number_seats, total_price, currency, held_at
         FROM bookings WHERE event_id = $1 ORDER BY held_at DESC, id DESC LIMIT $2",
    )
    .bind(event.id)
    .bind(RECENT)
    .fetch_all(pool.get_ref())
    .await?;
    // a ticket given away is a new row with the same sale: only the first one counts
    let hours: Vec<(DateTime<Utc>, String, i64, i64)> = sqlx::query_as(
        "SELECT date_trunc('hour', t.created_at) AS at, b.currency, count(*),
                COALESCE(sum((SELECT bi.price FROM booking_items bi
                              WHERE bi.booking_id = t.booking_id AND bi.ticket_type_id = t.ticket_type_id
                              ORDER BY bi.id LIMIT 1)), 0)::bigint
         FROM tickets t JOIN bookings b ON b.id = t.booking_id
         WHERE t.event_id = $1 AND t.transferred_from IS NULL AND t.status <> 'void'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(event.id)
    .fetch_all(pool.get_ref())
    .await?;
    let mut timeline: Vec<SalesHour> = Vec::new();
    for (at, currency, tickets, amount) in hours {
        if timeline.last().map_or(true, |hour| hour.at != at) {
            timeline.push(SalesHour {
                at,
                tickets: 0,
                revenue: Default::default(),
            });
        }
        let hour = timeline.last_mut().expect("pushed above");
        hour.tickets += tickets;
        *hour.revenue.entry(currency).or_insert(0) += amount;
    }
    let (tickets_issued, checked_in): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status IN ('valid', 'checked_in')),
                count(*) FILTER (WHERE status = 'checked_in')
         FROM tickets WHERE event_id = $1",
    )
    .bind(event.id)
    .fetch_one(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(Sales {
        event_id: event.id,
        ticket_types,
        revenue,
        timeline,
        tickets_issued,
        checked_in,
        recent_bookings,
        refunds: crate::refunds::store::summary(&pool, event.id).await?,
        waitlist: crate::waitlist::summary(&pool, event.id).await?,
    }))
}
