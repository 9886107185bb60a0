//! Tickets: one per admission of a sold booking, each with a signed code and its QR; listed
//! for their owner; checked in once by the event's organizer, who also lists the attendees.
pub mod actor;
pub mod attendees;
pub mod calendar;
pub mod code;
pub mod consumer;
pub mod pdf;
pub mod qr;
pub mod store;
pub mod transfer;

use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, Organizer};
use crate::config::Settings;
use crate::error::{ApiError, Code};
use crate::input::Json;
use crate::pagination::{self, Page};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tickets").route(web::get().to(list_tickets)))
        .service(web::resource("/tickets/{id}").route(web::get().to(get_ticket)))
        // the seed's singular path
        .service(web::resource("/ticket/{id}").route(web::get().to(get_ticket)))
        .service(web::resource("/tickets/{id}/qr.svg").route(web::get().to(qr_svg)))
        .service(web::resource("/tickets/{id}/qr.png").route(web::get().to(qr_png)))
        .service(web::resource("/admin/events/{id}/checkins").route(web::post().to(check_in)))
        .configure(pdf::routes)
        .configure(calendar::routes)
        .configure(attendees::routes)
        .configure(transfer::routes);
}

#[derive(sqlx::FromRow)]
pub struct TicketRow {
    id: Uuid,
    code: String,
    short_code: String,
    status: String,
    qr_url: String,
    checked_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    admission_no: i32,
    booking_id: BookingId,
    booking_code: String,
    payment_id: Uuid,
    event_id: EventId,
    event_name: String,
    event_start_at: DateTime<Utc>,
    event_end_at: DateTime<Utc>,
    event_location: String,
    event_time_zone: String,
    attendee_name: Option<String>,
    ticket_type_id: TicketTypeId,
    ticket_type_name: String,
    seat_id: Option<SeatId>,
    seat_section: Option<String>,
    seat_row: Option<String>,
    seat_label: Option<String>,
    transferred_to: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    /// The signed code the QR carries: show it at the door.
    pub code: String,
    /// What the door types when the QR will not scan, e.g. `K7QF-9M2X`: 8 Crockford base32
    /// characters, unique within the event, taken by check-in as well as `code`.
    #[serde(default)]
    pub short_code: String,
    /// `valid`, `checked_in`, `void` (refunded) or `transferred` (to someone else, whose ticket
    /// has a new code).
    pub status: String,
    /// The QR of `code` as SVG.
    pub qr_url: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    /// Which admission of the booking this is, from 1.
    pub admission_no: i32,
    pub booking_id: BookingId,
    pub booking_code: String,
    pub payment_id: Uuid,
    pub event: TicketEvent,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_name: String,
    /// For seat-mapped ticket types.
    pub seat: Option<TicketSeat>,
    /// The name on the ticket, when the event asks for one per ticket.
    pub attendee_name: Option<String>,
    /// A `transferred` ticket's new holder (their email).
    #[serde(default)]
    pub transferred_to: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketEvent {
    pub id: EventId,
    pub name: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub location: String,
    /// The IANA zone the event's times are read in.
    pub time_zone: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketSeat {
    pub id: SeatId,
    pub section: String,
    pub row: String,
    pub label: String,
}

impl From<TicketRow> for Ticket {
    fn from(row: TicketRow) -> Self {
        let seat = match (row.seat_id, row.seat_section, row.seat_row, row.seat_label) {
            (Some(id), Some(section), Some(row), Some(label)) => Some(TicketSeat {
                id,
                section,
                row,
                label,
            }),
            _ => None,
        };
        Ticket {
            id: row.id,
            code: row.code,
            short_code: row.short_code,
            status: row.status,
            qr_url: row.qr_url,
            checked_in_at: row.checked_in_at,
            issued_at: row.created_at,
            admission_no: row.admission_no,
            booking_id: row.booking_id,
            booking_code: row.booking_code,
            payment_id: row.payment_id,
            event: TicketEvent {
                id: row.event_id,
                name: row.event_name,
                start_at: row.event_start_at,
                end_at: row.event_end_at,
                location: row.event_location,
                time_zone: row.event_time_zone,
            },
            attendee_name: row.attendee_name,
            ticket_type_id: row.ticket_type_id,
            ticket_type_name: row.ticket_type_name,
            seat,
            transferred_to: row.transferred_to,
        }
    }
}

/// The caller's tickets, newest first.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets", params(crate::pagination::PageQuery),
    responses((status = 200, body = crate::pagination::Page<Ticket>)), security(("bearer" = [])))]
pub async fn list_tickets(
    pool: web::Data<PgPool>,
    user: AuthUser,
    query: web::Query<pagination::PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (after, limit): (Option<Uuid>, u32) = query.into_inner().parse()?;
    let tickets = store::list(&pool, user.id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(tickets, limit, |t| t.id)))
}

async fn own_ticket(pool: &PgPool, user: &AuthUser, id: Uuid) -> Result<Ticket, ApiError> {
    store::find(pool, id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))
}

/// One of the caller's tickets (also at `/v1/ticket/{id}`).
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, body = Ticket), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_ticket(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(own_ticket(&pool, &user, *id).await?))
}

/// The ticket's QR code (its signed `code`) as SVG.
#[utoipa::path(get, path = "/v1/tickets/{id}/qr.svg", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn qr_svg(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ticket = own_ticket(&pool, &user, *id).await?;
    // rendering is CPU work: off the async workers
    let svg = web::block(move || qr::svg(&ticket.code))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "private, max-age=86400"))
        .body(svg))
}

/// The ticket's QR code as PNG.
#[utoipa::path(get, path = "/v1/tickets/{id}/qr.png", tag = "tickets", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn qr_png(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ticket = own_ticket(&pool, &user, *id).await?;
    let png = web::block(move || qr::png(&ticket.code))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "private, max-age=86400"))
        .body(png))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    /// The code the ticket's QR carries, or its short code (`K7QF-9M2X`, with or without the
    /// dash, in any case).
    pub code: String,
}

/// The door: a genuine ticket of this event checks in once (200 with the ticket), by its signed
/// code or its short code; again is 409 `already_checked_in` (`details` give `checked_in_at`); a
/// refunded or transferred ticket's code is 409 `ticket_voided`; a forged code is 400
/// `invalid_ticket_code`; another event's is 404.
#[utoipa::path(post, path = "/v1/admin/events/{id}/checkins", tag = "admin", params(("id" = String, Path)),
    request_body = CheckInBody,
    responses((status = 200, body = Ticket), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn check_in(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    body: Json<CheckInBody>,
) -> Result<HttpResponse, ApiError> {
    let event = crate::catalog::admin::owned_event(&pool, &user, *id).await?;
    let key = settings.tickets.signing_key.expose();
    let not_here = || ApiError::new(Code::NotFound, "This ticket is not for this event.");
    // a signed code names its event itself; a short code is only known to the event's tickets
    let ticket = match code::verify(key, &body.code) {
        Some((ticket, ticket_event)) if ticket_event == event.id => ticket,
        Some(_) => return Err(not_here()),
        None => match code::parse_short(&body.code) {
            Some(short) => store::by_short_code(&pool, event.id, &short)
                .await?
                .ok_or_else(not_here)?,
            None => {
                return Err(ApiError::new(
                    Code::InvalidTicketCode,
                    "This is not a ticket code we know. Check it and try again.",
                ))
            }
        },
    };
    let checked_in = store::check_in(&pool, ticket, event.id).await?;
    let found = store::find_at_event(&pool, ticket, event.id)
        .await?
        .ok_or_else(not_here)?;
    if checked_in {
        tracing::info!(ticket_id = %ticket, "checked in");
        return Ok(HttpResponse::Ok().json(found));
    }
    match found.status.as_str() {
        "checked_in" => {
            let mut used = ApiError::new(
                Code::AlreadyCheckedIn,
                "This ticket was already checked in.",
            );
            // the time as data, for the door to show in the event's zone
            if let Some(at) = found.checked_in_at {
                used.details.push(crate::error::FieldError {
                    field: "checked_in_at".into(),
                    message: at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    seat: None,
                });
            }
            Err(used)
        }
        "void" => Err(ApiError::new(
            Code::TicketVoided,
            "This ticket was refunded and no longer admits anyone.",
        )),
        "transferred" => Err(ApiError::new(
            Code::TicketVoided,
            "This ticket was transferred to someone else, whose ticket has a new code. This one no longer admits anyone.",
        )),
        _ => Err(ApiError::new(
            Code::InvalidState,
            "This ticket cannot be checked in.",
        )),
    }
}
