//! The organizer's attendee list: every ticket of an event with who holds it, its type and
//! seat, and whether it was checked in; searchable, paged, and exported as CSV.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{BookingId, EventId, TicketTypeId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Organizer;
use crate::catalog::admin::owned_event;
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery};

/// One admission of the event, as the door sees it.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attendee {
    pub ticket_id: Uuid,
    pub booking_id: BookingId,
    pub booking_code: String,
    /// The account's username, when it has one.
    pub name: Option<String>,
    /// The holder's address: whoever a ticket was transferred to, else the contact address
    /// given at checkout.
    pub email: String,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type: String,
    /// "Stalls A1"; null for general admission.
    pub seat: Option<String>,
    /// `valid`, `checked_in` or `void` (refunded). A transferred ticket is listed once, as its
    /// new holder's.
    pub status: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The name on the ticket, when the event asks for one per ticket.
    pub attendee_name: Option<String>,
    /// The ticket's short code (`K7QF-9M2X`), what the door may type instead of scanning.
    pub short_code: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttendeeQuery {
    /// Words matched in the name, email, booking code, seat, name on the ticket or short code
    /// (case does not matter).
    pub q: Option<String>,
}

/// Longest search text taken.
const MAX_QUERY: usize = 200;

fn search(query: &AttendeeQuery) -> Result<Option<String>, ApiError> {
    let text = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    match text {
        Some(text) if text.chars().count() > MAX_QUERY => Err(ApiError::invalid(
            "q",
            format!("must be at most {MAX_QUERY} characters"),
        )),
        Some(text) if text.contains('\0') => Err(ApiError::invalid("q", "must not contain NUL")),
        other => Ok(other.map(str::to_owned)),
    }
}

/// The attendees of `event` matching `text`, after `after`, at most `limit` (all without one).
async fn attendees(
    pool: &PgPool,
    event: EventId,
    text: Option<&str>,
    after: Option<Uuid>,
    limit: Option<u32>,
) -> Result<Vec<Attendee>, sqlx::Error> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT * FROM (
           SELECT t.id AS ticket_id, t.booking_id, b.booking_code, u.username AS name,
                  COALESCE(t.holder_email, bu.email, u.email) AS email, t.ticket_type_id,
                  tt.name AS ticket_type,
                  CASE WHEN s.id IS NULL THEN NULL
                       ELSE s.section || ' ' || s.row_label || s.seat_label END AS seat,
                  t.status, t.checked_in_at, t.attendee_name, t.short_code
             FROM tickets t
             JOIN bookings b ON b.id = t.booking_id
             LEFT JOIN users u ON u.id = t.user_id
             JOIN ticket_types tt ON tt.id = t.ticket_type_id
             LEFT JOIN booking_users bu ON bu.booking_id = b.id
             LEFT JOIN seats s ON s.id = t.seat_id
            WHERE t.status <> 'transferred' AND t.event_id = ",
    );
    query.push_bind(event).push(") a WHERE true");
    if let Some(after) = after {
        query.push(" AND a.ticket_id > ").push_bind(after);
    }
    if let Some(text) = text {
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query
            .push(" AND concat_ws(' ', a.name, a.email, a.booking_code, a.seat, a.attendee_name, a.short_code) ILIKE ")
            .push_bind(pattern);
    }
    query.push(" ORDER BY a.ticket_id");
    if let Some(limit) = limit {
        query.push(" LIMIT ").push_bind(i64::from(limit) + 1);
    }
    query.build_query_as().fetch_all(pool).await
}

/// The attendees of one of the caller's events, by ticket, searchable (`q`).
#[utoipa::path(get, path = "/v1/admin/events/{id}/attendees", tag = "admin",
    params(("id" = String, Path), AttendeeQuery, PageQuery),
    responses((status = 200, body = Page<Attendee>), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    filter: web::Query<AttendeeQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let text = search(&filter)?;
    let (after, limit): (Option<Uuid>, u32) = page.into_inner().parse()?;
    let rows = attendees(&pool, event.id, text.as_deref(), after, Some(limit)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |a| a.ticket_id)))
}

/// Every attendee matching `q`, as CSV (one header line, then a line per ticket).
#[utoipa::path(get, path = "/v1/admin/events/{id}/attendees.csv", tag = "admin",
    params(("id" = String, Path), AttendeeQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn export(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    filter: web::Query<AttendeeQuery>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let text = search(&filter)?;
    let rows = attendees(&pool, event.id, text.as_deref(), None, None).await?;
    // a big event's file is CPU work: off the async threads
    let csv = tokio::task::spawn_blocking(move || to_csv(&rows))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"attendees-{}.csv\"", event.id),
        ))
        .body(csv))
}

fn to_csv(rows: &[Attendee]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "ticket_id",
        "booking_code",
        "name",
        "email",
        "ticket_type",
        "seat",
        "status",
        "checked_in_at",
        "attendee_name",
        "short_code",
    ])?;
    for a in rows {
        out.write_record([
            a.ticket_id.to_string(),
            a.booking_code.clone(),
            a.name.clone().unwrap_or_default(),
            a.email.clone(),
            a.ticket_type.clone(),
            a.seat.clone().unwrap_or_default(),
            a.status.clone(),
            a.checked_in_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            a.attendee_name.clone().unwrap_or_default(),
            a.short_code.clone(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/events/{id}/attendees").route(web::get().to(list)))
        .service(web::resource("/admin/events/{id}/attendees.csv").route(web::get().to(export)));
}
