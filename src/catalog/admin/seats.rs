//! Seat maps of seat-mapped ticket types: define or replace, read, remove, each through the
//! event's engine.
use actix_web::{web, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{EventId, TicketTypeId};
use boxoffice_actors::inventory::InventoryEdit;
use sqlx::PgPool;

use super::{not_cancelled, owned_event, owned_ticket_type};
use crate::auth::{AuthUser, Organizer};
use crate::catalog::edit::through_engine;
use crate::catalog::seat_map::{self, NewSeat, SeatMapRequest};
use crate::catalog::store;
use crate::catalog::SeatMap;
use crate::error::{ApiError, Code};
use crate::input::Json;

/// Define (or replace) the seat map of a seat-mapped ticket type; its capacity becomes the
/// number of seats. Refused with 409 once any of its seats was booked.
#[utoipa::path(post, path = "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("ticket_type_id" = String, Path)), request_body = SeatMapRequest,
    responses((status = 200, body = SeatMap), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn define_seats(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, TicketTypeId)>,
    body: Json<SeatMapRequest>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, id) = path.into_inner();
    store_seat_map(&pool, &engine, &user, event_id, id, &body).await
}

/// The same as the ticket-type route, with `ticket_type_id` in the body.
#[utoipa::path(post, path = "/v1/admin/events/{id}/seats", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SeatMapRequest,
    responses((status = 200, body = SeatMap), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn define_event_seats(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    body: Json<SeatMapRequest>,
) -> Result<HttpResponse, ApiError> {
    let ticket_type = body
        .ticket_type_id
        .ok_or_else(|| ApiError::invalid("ticket_type_id", "is required"))?;
    store_seat_map(&pool, &engine, &user, *id, ticket_type, &body).await
}

async fn store_seat_map(
    pool: &PgPool,
    engine: &EventDirectory,
    user: &AuthUser,
    event_id: EventId,
    id: TicketTypeId,
    body: &SeatMapRequest,
) -> Result<HttpResponse, ApiError> {
    let (event, ticket_type) = owned_ticket_type(pool, user, event_id, id).await?;
    not_cancelled(&event)?;
    if !ticket_type.seat_mapped {
        return Err(ApiError::new(
            Code::InvalidState,
            "the ticket type is not seat-mapped; set seat_mapped: true first",
        ));
    }
    let seats = body.seats()?;
    let count = seats.len();
    replace_seats(pool, engine, event.id, id, seats).await?;
    tracing::info!(event_id = %event.id, ticket_type_id = %id, seats = count, "seat map defined");
    seat_map_of(pool, event.id, Some(id)).await
}

/// A ticket type's seats with their status.
#[utoipa::path(get, path = "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("ticket_type_id" = String, Path)), responses((status = 200, body = SeatMap)))]
pub async fn get_seats(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, TicketTypeId)>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, id) = path.into_inner();
    let (event, _) = owned_ticket_type(&pool, &user, event_id, id).await?;
    seat_map_of(&pool, event.id, Some(id)).await
}

/// Every seat of the event, drafts included, with its status.
#[utoipa::path(get, path = "/v1/admin/events/{id}/seats", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = SeatMap)))]
pub async fn get_event_seats(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    seat_map_of(&pool, event.id, None).await
}

/// Remove a ticket type's seat map (409 once any seat was booked).
#[utoipa::path(delete, path = "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("ticket_type_id" = String, Path)), responses((status = 204), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_seats(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, TicketTypeId)>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, id) = path.into_inner();
    let (event, _) = owned_ticket_type(&pool, &user, event_id, id).await?;
    not_cancelled(&event)?;
    replace_seats(&pool, &engine, event.id, id, Vec::new()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer with the event's seats (of one ticket type, or all) and their status.
async fn seat_map_of(
    pool: &PgPool,
    event_id: EventId,
    ticket_type: Option<TicketTypeId>,
) -> Result<HttpResponse, ApiError> {
    let seats = store::seats_of(pool, event_id, ticket_type).await?;
    Ok(HttpResponse::Ok().json(SeatMap { event_id, seats }))
}

/// Replaces (or with no seats, removes) a ticket type's seat map through the event's engine:
/// refused while any seat is held or sold, and once any booking ever named the type (its rows
/// keep the old seats).
async fn replace_seats(
    pool: &PgPool,
    engine: &EventDirectory,
    event: EventId,
    id: TicketTypeId,
    seats: Vec<NewSeat>,
) -> Result<(), ApiError> {
    through_engine(
        pool,
        engine,
        event,
        vec![InventoryEdit::Seats { ticket_type: id }],
        "the seat map cannot change while they are",
        move |mut tx| async move {
            if store::ticket_type_has_bookings(&mut *tx, id).await? {
                return Err(ApiError::new(
                    Code::TicketTypeHasSales,
                    "the ticket type has bookings, so its seat map can no longer change",
                ));
            }
            seat_map::replace(&mut tx, event, id, &seats).await?;
            Ok((tx, ()))
        },
    )
    .await
}
