//! Organizers run their events here: create, edit, publish, cancel, delete; ticket types; seat
//! maps. An organizer sees only its own events (others answer 404); admins see all.
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{EventId, TicketTypeId};
use boxoffice_actors::inventory::InventoryEdit;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use utoipa::{IntoParams, ToSchema};

use super::edit::through_engine;
use super::public::EventQuery;
use super::seat_map::{self, NewSeat, SeatMapRequest};
use super::store::{self, Scope, ACTIVE_BOOKING};
use super::{check_category, Event, EventDetail, SeatMap, TicketType};
use crate::auth::{AuthUser, Organizer};
use crate::error::{ApiError, Code, Validation};
use crate::input::{check_date, check_text, check_url, nullable, Json};
use crate::pagination::Page;

pub fn routes(cfg: &mut web::ServiceConfig, seat_map_limit: usize) {
    let seat_json = crate::error::extractors::json_config(seat_map_limit);
    cfg.service(
        web::resource("/admin/events")
            .route(web::post().to(create_event))
            .route(web::get().to(list_events)),
    )
    .service(
        web::resource("/admin/events/{id}")
            .wrap(from_fn(reload_engine))
            .route(web::get().to(get_event))
            .route(web::patch().to(update_event))
            .route(web::delete().to(delete_event)),
    )
    .service(
        web::resource("/admin/events/{id}/publish")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(publish_event)),
    )
    .service(
        web::resource("/admin/events/{id}/cancel")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(cancel_event)),
    )
    // these change inventory through the event's engine (`catalog::edit`): no reload needed
    .service(
        web::resource("/admin/events/{id}/seats")
            .app_data(seat_json.clone())
            .route(web::post().to(define_event_seats))
            .route(web::get().to(get_event_seats)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types")
            .wrap(from_fn(reload_engine))
            .route(web::post().to(create_ticket_type)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types/{ticket_type_id}")
            .route(web::patch().to(update_ticket_type))
            .route(web::delete().to(delete_ticket_type)),
    )
    .service(
        web::resource("/admin/events/{id}/ticket_types/{ticket_type_id}/seats")
            .app_data(seat_json)
            .route(web::post().to(define_seats))
            .route(web::get().to(get_seats))
            .route(web::delete().to(delete_seats)),
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
    let response = next.call(request).await?;
    if let (true, true, Some(event), Some(engine)) =
        (changes, response.status().is_success(), event, engine)
    {
        engine.reload(event);
    }
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateEvent {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// music, concert, sports, film or other
    #[schema(value_type = super::Category)]
    pub category: String,
    /// RFC 3339, in the years 2000 to 2999.
    pub start_at: DateTime<Utc>,
    /// RFC 3339, in the years 2000 to 2999.
    pub end_at: DateTime<Utc>,
    pub banner: Option<String>,
    #[serde(default)]
    pub location: String,
}

/// Fields left out keep their value; `banner: null` removes the banner.
#[derive(Deserialize, ToSchema)]
pub struct UpdateEvent {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<super::Category>)]
    pub category: Option<String>,
    /// RFC 3339, in the years 2000 to 2999.
    pub start_at: Option<DateTime<Utc>>,
    /// RFC 3339, in the years 2000 to 2999.
    pub end_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub banner: Option<Option<String>>,
    pub location: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTicketType {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Minor units of `currency` (e.g. cents); 0 for free admission.
    pub price: i64,
    /// ISO 4217, e.g. `USD`, `VND`.
    pub currency: String,
    /// Capacity. For a seat-mapped type, defining the seat map sets it to the number of seats.
    #[serde(alias = "qty")]
    pub number_seats: i64,
    #[serde(default)]
    pub position: i32,
    pub image_url: Option<String>,
    /// RFC 3339, in the years 2000 to 2999.
    pub sale_at: Option<DateTime<Utc>>,
    /// RFC 3339, in the years 2000 to 2999.
    pub sale_end: Option<DateTime<Utc>>,
    #[serde(default)]
    pub seat_mapped: bool,
    pub max_per_user: Option<i64>,
    /// `active` (default) or `hidden`
    pub status: Option<String>,
}

/// Fields left out keep their value; `null` clears `image_url`, `sale_at`, `sale_end` or `max_per_user`.
#[derive(Deserialize, ToSchema)]
pub struct UpdateTicketType {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    #[serde(alias = "qty")]
    pub number_seats: Option<i64>,
    pub position: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<Option<String>>,
    /// RFC 3339, in the years 2000 to 2999.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub sale_at: Option<Option<DateTime<Utc>>>,
    /// RFC 3339, in the years 2000 to 2999.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub sale_end: Option<Option<DateTime<Utc>>>,
    pub seat_mapped: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_per_user: Option<Option<i64>>,
    pub status: Option<String>,
}

/// The admin listing's filter on top of the public ones.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// draft, published or cancelled
    #[param(value_type = Option<super::EventStatus>)]
    pub status: Option<String>,
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

fn not_cancelled(event: &Event) -> Result<(), ApiError> {
    if event.status == "cancelled" {
        return Err(ApiError::new(
            Code::InvalidState,
            "the event is cancelled and can no longer change",
        ));
    }
    Ok(())
}

async fn detail(pool: &PgPool, event: Event) -> Result<EventDetail, ApiError> {
    let ticket_types = store::ticket_types_of(pool, event.id, true).await?;
    Ok(EventDetail {
        event,
        ticket_types,
    })
}

struct EventFields<'a> {
    name: &'a str,
    title: &'a str,
    description: &'a str,
    category: &'a str,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    banner: Option<&'a str>,
    location: &'a str,
}

impl EventFields<'_> {
    fn validate(&self) -> Result<(), ApiError> {
        let mut v = Validation::new();
        for (field, value, min, max) in [
            ("name", self.name, 1, 200),
            ("title", self.title, 0, 300),
            ("description", self.description, 0, 20_000),
            ("location", self.location, 0, 300),
        ] {
            if let Err(m) = check_text(value, min, max) {
                v.fail(field, m);
            }
        }
        if let Err(m) = check_category(self.category) {
            v.fail("category", m);
        }
        for (field, at) in [("start_at", self.start_at), ("end_at", self.end_at)] {
            if let Err(m) = check_date(at) {
                v.fail(field, m);
            }
        }
        v.check(
            self.start_at < self.end_at,
            "end_at",
            "must be after start_at",
        );
        if let Some(Err(m)) = self.banner.map(check_url) {
            v.fail("banner", m);
        }
        v.finish()
    }
}

/// Create an event (as a draft) run by the caller.
#[utoipa::path(post, path = "/v1/admin/events", tag = "admin", security(("bearer" = [])), request_body = CreateEvent,
    responses((status = 201, body = EventDetail), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    body: Json<CreateEvent>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let category = body.category.trim().to_lowercase();
    let fields = EventFields {
        name: &body.name,
        title: &body.title,
        description: &body.description,
        category: &category,
        start_at: body.start_at,
        end_at: body.end_at,
        banner: body.banner.as_deref(),
        location: &body.location,
    };
    fields.validate()?;
    let id = EventId::new();
    sqlx::query(
        "INSERT INTO events (id, organizer_id, name, title, description, category, start_at, end_at, banner, location)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(user.id)
    .bind(fields.name.trim())
    .bind(fields.title.trim())
    .bind(fields.description.trim())
    .bind(fields.category)
    .bind(fields.start_at)
    .bind(fields.end_at)
    .bind(fields.banner)
    .bind(fields.location.trim())
    .execute(pool.get_ref())
    .await?;
    tracing::info!(event_id = %id, "event created");
    let event = owned_event(&pool, &user, id).await?;
    Ok(HttpResponse::Created().json(detail(&pool, event).await?))
}

/// The caller's events (all of them for an admin), in every status.
#[utoipa::path(get, path = "/v1/admin/events", tag = "admin", security(("bearer" = [])), params(EventQuery, StatusQuery),
    responses((status = 200, body = Page<Event>)))]
pub async fn list_events(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    search: web::Query<EventQuery>,
    status: web::Query<StatusQuery>,
) -> Result<HttpResponse, ApiError> {
    let (search, status) = (search.into_inner(), status.into_inner().status);
    let mut validation = Validation::new();
    if let Some(status) = &status {
        validation.check(
            ["draft", "published", "cancelled"].contains(&status.as_str()),
            "status",
            "must be draft, published or cancelled",
        );
    }
    let (mut filter, cursor, limit) = search.parse(&mut validation)?;
    filter.status = status;
    let scope = if user.is_admin() {
        Scope::All
    } else {
        Scope::OwnedBy(user.id)
    };
    Ok(HttpResponse::Ok().json(store::list_events(&pool, scope, &filter, cursor, limit).await?))
}

/// One of the caller's events with all its ticket types, hidden ones included.
#[utoipa::path(get, path = "/v1/admin/events/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// Edit an event.
#[utoipa::path(patch, path = "/v1/admin/events/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateEvent,
    responses((status = 200, body = EventDetail), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn update_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    body: Json<UpdateEvent>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    not_cancelled(&event)?;
    let body = body.into_inner();
    let category = body.category.as_deref().map(|c| c.trim().to_lowercase());
    let fields = EventFields {
        name: body.name.as_deref().unwrap_or(&event.name),
        title: body.title.as_deref().unwrap_or(&event.title),
        description: body.description.as_deref().unwrap_or(&event.description),
        category: category.as_deref().unwrap_or(&event.category),
        start_at: body.start_at.unwrap_or(event.start_at),
        end_at: body.end_at.unwrap_or(event.end_at),
        banner: match &body.banner {
            Some(banner) => banner.as_deref(),
            None => event.banner.as_deref(),
        },
        location: body.location.as_deref().unwrap_or(&event.location),
    };
    fields.validate()?;
    sqlx::query(
        "UPDATE events SET name = $2, title = $3, description = $4, category = $5, start_at = $6, end_at = $7,
                banner = $8, location = $9
         WHERE id = $1",
    )
    .bind(event.id)
    .bind(fields.name.trim())
    .bind(fields.title.trim())
    .bind(fields.description.trim())
    .bind(fields.category)
    .bind(fields.start_at)
    .bind(fields.end_at)
    .bind(fields.banner)
    .bind(fields.location.trim())
    .execute(pool.get_ref())
    .await?;
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// Delete an event that has sold nothing. With bookings or payments it answers 409
/// `event_has_sales`: cancel it instead.
#[utoipa::path(delete, path = "/v1/admin/events/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "event_has_sales", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn delete_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let mut tx = pool.begin().await?;
    // lock the event so no booking can start between the check and the delete
    sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    let has_sales: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM bookings WHERE event_id = $1 AND status IN {ACTIVE_BOOKING})
             OR EXISTS (SELECT 1 FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE b.event_id = $1)
             OR EXISTS (SELECT 1 FROM tickets WHERE event_id = $1)"
    ))
    .bind(event.id)
    .fetch_one(&mut *tx)
    .await?;
    if has_sales {
        return Err(ApiError::new(
            Code::EventHasSales,
            "the event has bookings or payments, so it cannot be deleted; cancel it instead (POST .../cancel)",
        ));
    }
    // only expired or cancelled bookings are left: they go first, so that the ticket types
    // they name can go with the event
    sqlx::query("DELETE FROM bookings WHERE event_id = $1")
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM events WHERE id = $1")
        .bind(event.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(event_id = %event.id, "event deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Put the event on sale in the public catalog. It needs at least one active ticket type, and
/// every seat-mapped type needs its seats. Publishing a published event changes nothing.
#[utoipa::path(post, path = "/v1/admin/events/{id}/publish", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "invalid_state", body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn publish_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    not_cancelled(&event)?;
    if event.status == "draft" {
        let ticket_types = store::ticket_types_of(&pool, event.id, false).await?;
        if ticket_types.is_empty() {
            return Err(ApiError::new(
                Code::InvalidState,
                "add an active ticket type before publishing",
            ));
        }
        let seats = store::seats_of(&pool, event.id, None).await?;
        if let Some(unmapped) = ticket_types
            .iter()
            .find(|t| t.seat_mapped && !seats.iter().any(|s| s.ticket_type_id == t.id))
        {
            return Err(ApiError::new(
                Code::InvalidState,
                format!(
                    "ticket type {:?} is seat-mapped but has no seats yet",
                    unmapped.name
                ),
            ));
        }
        sqlx::query("UPDATE events SET status = 'published', published_at = now() WHERE id = $1 AND status = 'draft'")
            .bind(event.id)
            .execute(pool.get_ref())
            .await?;
        tracing::info!(event_id = %event.id, "event published");
    }
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// Call the event off: it leaves the catalog listing and takes no new bookings. Cancelling a
/// cancelled event changes nothing.
#[utoipa::path(post, path = "/v1/admin/events/{id}/cancel", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn cancel_event(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    sqlx::query("UPDATE events SET status = 'cancelled' WHERE id = $1 AND status <> 'cancelled'")
        .bind(event.id)
        .execute(pool.get_ref())
        .await?;
    tracing::info!(event_id = %event.id, "event cancelled");
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// A ticket type's fields after a create or an edit, checked together.
struct TicketTypeFields {
    name: String,
    description: String,
    price: i64,
    currency: String,
    number_seats: i64,
    position: i32,
    image_url: Option<String>,
    sale_at: Option<DateTime<Utc>>,
    sale_end: Option<DateTime<Utc>>,
    seat_mapped: bool,
    max_per_user: Option<i64>,
    status: String,
}

impl TicketTypeFields {
    fn validate(&mut self) -> Result<(), ApiError> {
        self.currency = self.currency.trim().to_uppercase();
        let mut v = Validation::new();
        if let Err(m) = check_text(&self.name, 1, 200) {
            v.fail("name", m);
        }
        if let Err(m) = check_text(&self.description, 0, 5_000) {
            v.fail("description", m);
        }
        v.check(self.price >= 0, "price", "must not be negative");
        v.check(
            self.price <= 1_000_000_000_000,
            "price",
            "is implausibly large",
        );
        v.check(
            crate::money::is_currency(&self.currency),
            "currency",
            "must be a three-letter ISO 4217 code such as USD",
        );
        v.check(
            self.number_seats > 0,
            "number_seats",
            "must be greater than 0",
        );
        v.check(
            self.number_seats <= 1_000_000,
            "number_seats",
            "must be at most 1000000",
        );
        if let Some(Err(m)) = self.image_url.as_deref().map(check_url) {
            v.fail("image_url", m);
        }
        for (field, at) in [("sale_at", self.sale_at), ("sale_end", self.sale_end)] {
            if let Some(Err(m)) = at.map(check_date) {
                v.fail(field, m);
            }
        }
        if let (Some(sale_at), Some(sale_end)) = (self.sale_at, self.sale_end) {
            v.check(sale_at < sale_end, "sale_end", "must be after sale_at");
        }
        if let Some(max) = self.max_per_user {
            v.check(max > 0, "max_per_user", "must be greater than 0");
            v.check(max <= 1_000_000, "max_per_user", "must be at most 1000000");
        }
        v.check(
            ["active", "hidden"].contains(&self.status.as_str()),
            "status",
            "must be active or hidden",
        );
        v.finish()
    }
}

/// Creates or overwrites the ticket type `id` of `event` with checked `fields`.
async fn save_ticket_type(
    conn: &mut PgConnection,
    event: EventId,
    id: TicketTypeId,
    fields: &TicketTypeFields,
) -> Result<(), ApiError> {
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

async fn saved_ticket_type(
    pool: &PgPool,
    event: EventId,
    id: TicketTypeId,
) -> Result<TicketType, ApiError> {
    store::find_ticket_type(pool, event, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket type"))
}

/// Add a ticket type to an event.
#[utoipa::path(post, path = "/v1/admin/events/{id}/ticket_types", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    request_body = CreateTicketType,
    responses((status = 201, body = TicketType), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "invalid_state: the event is cancelled", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn create_ticket_type(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    body: Json<CreateTicketType>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    not_cancelled(&event)?;
    let body = body.into_inner();
    let mut fields = TicketTypeFields {
        name: body.name,
        description: body.description,
        price: body.price,
        currency: body.currency,
        number_seats: body.number_seats,
        position: body.position,
        image_url: body.image_url,
        sale_at: body.sale_at,
        sale_end: body.sale_end,
        seat_mapped: body.seat_mapped,
        max_per_user: body.max_per_user,
        status: body.status.unwrap_or_else(|| "active".to_owned()),
    };
    fields.validate()?;
    let id = TicketTypeId::new();
    save_ticket_type(&mut *pool.acquire().await?, event.id, id, &fields).await?;
    Ok(HttpResponse::Created().json(saved_ticket_type(&pool, event.id, id).await?))
}

async fn owned_ticket_type(
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

/// Edit a ticket type. Capacity cannot drop below what is held and sold; currency and
/// seat mapping cannot change once anything was booked.
#[utoipa::path(patch, path = "/v1/admin/events/{id}/ticket_types/{ticket_type_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("ticket_type_id" = String, Path)), request_body = UpdateTicketType,
    responses((status = 200, body = TicketType), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_ticket_type(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, TicketTypeId)>,
    body: Json<UpdateTicketType>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, id) = path.into_inner();
    let (event, current) = owned_ticket_type(&pool, &user, event_id, id).await?;
    not_cancelled(&event)?;
    let body = body.into_inner();
    let mut fields = TicketTypeFields {
        name: body.name.unwrap_or(current.name.clone()),
        description: body.description.unwrap_or(current.description.clone()),
        price: body.price.unwrap_or(current.price),
        currency: body.currency.unwrap_or(current.currency.clone()),
        number_seats: body.number_seats.unwrap_or(current.number_seats.into()),
        position: body.position.unwrap_or(current.position),
        image_url: body.image_url.unwrap_or(current.image_url.clone()),
        sale_at: body.sale_at.unwrap_or(current.sale_at),
        sale_end: body.sale_end.unwrap_or(current.sale_end),
        seat_mapped: body.seat_mapped.unwrap_or(current.seat_mapped),
        max_per_user: body
            .max_per_user
            .unwrap_or(current.max_per_user.map(i64::from)),
        status: body.status.unwrap_or(current.status.clone()),
    };
    fields.validate()?;

    let has_seats = !store::seats_of(&pool, event.id, Some(id)).await?.is_empty();
    if current.seat_mapped && has_seats && fields.number_seats != i64::from(current.number_seats) {
        return Err(ApiError::invalid(
            "number_seats",
            "is the number of seats in the map of a seat-mapped ticket type; change the seat map instead",
        ));
    }
    if has_seats && !fields.seat_mapped {
        return Err(ApiError::new(
            Code::InvalidState,
            "the ticket type has a seat map; delete it before turning seat_mapped off",
        ));
    }
    // the engine checks the capacity against what it holds and sold; the write runs between
    // its batches, so no hold lands between that check and the new capacity
    let edits = vec![InventoryEdit::Capacity {
        ticket_type: id,
        capacity: fields.number_seats as u32,
    }];
    let event_id = event.id;
    through_engine(
        &pool,
        &engine,
        event.id,
        edits,
        "number_seats cannot go below that",
        move |mut tx| async move {
            let booked = store::ticket_type_has_bookings(&mut *tx, id).await?;
            if booked
                && (fields.currency != current.currency || fields.seat_mapped != current.seat_mapped)
            {
                return Err(ApiError::new(
                    Code::TicketTypeHasSales,
                    "currency and seat_mapped cannot change once the ticket type has bookings",
                ));
            }
            // the journal agrees with the engine, short of bookings written behind its back
            let taken = store::taken_admissions(&mut *tx, id).await?;
            if fields.number_seats < taken {
                return Err(ApiError::new(
                    Code::TicketTypeHasSales,
                    format!("{taken} admissions of this ticket type are held or sold, so number_seats cannot go below that"),
                ));
            }
            save_ticket_type(&mut tx, event_id, id, &fields).await?;
            Ok((tx, ()))
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(saved_ticket_type(&pool, event.id, id).await?))
}

/// Remove a ticket type that was never booked (409 `ticket_type_has_sales` otherwise; hide it
/// instead). The event's engine stops offering it at once.
#[utoipa::path(delete, path = "/v1/admin/events/{id}/ticket_types/{ticket_type_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path), ("ticket_type_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_ticket_type(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, TicketTypeId)>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, id) = path.into_inner();
    let (event, _) = owned_ticket_type(&pool, &user, event_id, id).await?;
    not_cancelled(&event)?;
    through_engine(
        &pool,
        &engine,
        event.id,
        vec![InventoryEdit::Remove { ticket_type: id }],
        "it cannot be removed; set its status to hidden instead",
        move |mut tx| async move {
            // expired bookings still name the type: their rows keep it
            if store::ticket_type_has_bookings(&mut *tx, id).await? {
                return Err(ApiError::new(
                    Code::TicketTypeHasSales,
                    "the ticket type has bookings; set its status to hidden instead",
                ));
            }
            sqlx::query("DELETE FROM ticket_types WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            Ok((tx, ()))
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

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
    let seats = store::seats_of(pool, event.id, Some(id)).await?;
    Ok(HttpResponse::Ok().json(SeatMap {
        event_id: event.id,
        seats,
    }))
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
    let seats = store::seats_of(&pool, event.id, Some(id)).await?;
    Ok(HttpResponse::Ok().json(SeatMap {
        event_id: event.id,
        seats,
    }))
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
    let seats = store::seats_of(&pool, event.id, None).await?;
    Ok(HttpResponse::Ok().json(SeatMap {
        event_id: event.id,
        seats,
    }))
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
