//! Organizers run their events here: [`events`] (create, edit, publish, cancel, delete),
//! [`ticket_types`] and [`seats`] (seat maps); the SQL they run is in `catalog::store`. An
//! organizer sees only its own events (others answer 404); admins see all.
pub mod events;
pub mod seats;
pub mod ticket_types;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::web;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{EventId, TicketTypeId};
use sqlx::PgPool;

use super::store::{self, Scope};
use super::{Event, EventDetail, TicketType};
use crate::auth::AuthUser;
use crate::cluster::forward::to_owner;
use crate::error::{ApiError, Code};

pub fn routes(cfg: &mut web::ServiceConfig, seat_map_limit: usize) {
    let seat_json = crate::error::extractors::json_config(seat_map_limit);
    cfg.configure(super::image::routes);
    cfg.service(
        web::resource("/admin/events")
            .route(web::post().to(events::create_event))
            .route(web::get().to(events::list_events)),
    )
    .service(
        web::resource("/admin/events/{id}")
            .wrap(from_fn(reload_engine))
            .route(web::get().to(events::get_event))
            .route(web::patch().to(events::update_event))
            .route(web::delete().to(events::delete_event)),
    )
    .service(
        web::resource("/admin/events/{id}/publish")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(events::publish_event)),
    )
    .service(
        web::resource("/admin/events/{id}/cancel")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(events::cancel_event)),
    )
    // these change inventory through the event's engine (`catalog::edit`): no reload needed,
    // and in a cluster they run on the node that owns the event
    .service(
        web::resource("/admin/events/{id}/seats")
            .wrap(from_fn(to_owner))
            .app_data(seat_json.clone())
            .route(web::post().to(seats::define_event_seats))
            .route(web::get().to(seats::get_event_seats)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(ticket_types::create_ticket_type)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types/{ticket_type_id}")
            .wrap(from_fn(to_owner))
            .route(web::patch().to(ticket_types::update_ticket_type))
            .route(web::delete().to(ticket_types::delete_ticket_type)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types/{ticket_type_id}/seats")
            .wrap(from_fn(to_owner))
            .app_data(seat_json)
            .route(web::post().to(seats::define_seats))
            .route(web::get().to(seats::get_seats))
            .route(web::delete().to(seats::delete_seats)),
    );
}

/// After a successful change to an event (its status, a new ticket type), its engine rereads
/// the catalog, so holds follow the organizer's edits at once.
async fn reload_engine(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let event = request
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<EventId>().ok());
    let changes = request.method() != Method::GET;
    let engine = request.app_data::<web::Data<EventDirectory>>().cloned();
    let queues = request
        .app_data::<web::Data<std::sync::Arc<crate::queue::Queues>>>()
        .cloned();
    let response = next.call(request).await?;
    if let (true, true, Some(event), Some(engine)) =
        (changes, response.status().is_success(), event, engine)
    {
        if let Some(queues) = queues {
            queues.reload(event);
        }
        engine.reload(event).await;
    }
    Ok(response)
}

/// The event if the caller runs it: organizers their own, admins any. Others get 404, so
/// whether an event exists is not revealed.
pub(crate) async fn owned_event(
    pool: &PgPool,
    user: &AuthUser,
    id: EventId,
) -> Result<Event, ApiError> {
    let scope = if user.is_admin() {
        Scope::All
    } else {
        Scope::OwnedBy(user.id)
    };
    store::find_event(pool, id, scope)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))
}

pub(crate) fn not_cancelled(event: &Event) -> Result<(), ApiError> {
    if event.status == "cancelled" {
        return Err(ApiError::new(
            Code::InvalidState,
            "the event is cancelled and can no longer change",
        ));
    }
    Ok(())
}

pub(crate) async fn detail(pool: &PgPool, event: Event) -> Result<EventDetail, ApiError> {
    let ticket_types = store::ticket_types_of(pool, event.id, true).await?;
    Ok(EventDetail {
        event,
        ticket_types,
        promo: None,
    })
}

/// The event and one of its ticket types, if the caller runs the event.
pub(super) async fn owned_ticket_type(
    pool: &PgPool,
    user: &AuthUser,
    event: EventId,
    id: TicketTypeId,
) -> Result<(Event, TicketType), ApiError> {
    let event = owned_event(pool, user, event).await?;
    let ticket_type = store::find_ticket_type(pool, event.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket type"))?;
    Ok((event, ticket_type))
}
