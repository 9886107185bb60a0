//! An organizer's events: create (a draft), list, read, edit, publish, cancel, delete.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::EventId;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::{detail, not_cancelled, owned_event};
use crate::auth::Organizer;
use crate::catalog::public::EventQuery;
use crate::catalog::store::{self, EventFields, Scope};
use crate::catalog::{check_category, zone, Event, EventDetail};
use crate::error::{ApiError, Code, Validation};
use crate::input::{check_date, check_text, check_url, nullable, Json};
use crate::pagination::Page;

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
    #[schema(value_type = crate::catalog::Category)]
    pub category: String,
    /// RFC 3339, in the years 2000 to 2999.
    pub start_at: DateTime<Utc>,
    /// RFC 3339, in the years 2000 to 2999.
    pub end_at: DateTime<Utc>,
    pub banner: Option<String>,
    #[serde(default)]
    pub location: String,
    /// Until when buyers may cancel a paid booking for a refund (RFC 3339, before `end_at`);
    /// left out: no buyer refunds, only the organizer's.
    pub refund_until: Option<DateTime<Utc>>,
    /// The IANA time zone its times are shown in (`America/Denver`); left out, the zone of the
    /// city `location` names, else UTC.
    pub time_zone: Option<String>,
    /// Ask a name for each ticket with the booking's information (default false).
    #[serde(default)]
    pub attendee_names: bool,
}

/// Fields left out keep their value; `banner: null` removes the banner.
#[derive(Deserialize, ToSchema)]
pub struct UpdateEvent {
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<crate::catalog::Category>)]
    pub category: Option<String>,
    /// RFC 3339, in the years 2000 to 2999.
    pub start_at: Option<DateTime<Utc>>,
    /// RFC 3339, in the years 2000 to 2999.
    pub end_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub banner: Option<Option<String>>,
    pub location: Option<String>,
    /// The event's waiting room (all of its settings), editable until its sale starts.
    pub queue: Option<crate::queue::QueueSettings>,
    /// Until when buyers may cancel a paid booking for a refund (RFC 3339, before `end_at`);
    /// `null` removes the policy, so only the organizer refunds.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub refund_until: Option<Option<DateTime<Utc>>>,
    /// The IANA time zone its times are shown in.
    pub time_zone: Option<String>,
    /// Ask a name for each ticket with the booking's information (bookings already made keep
    /// what they gave).
    pub attendee_names: Option<bool>,
}

/// A refund policy ends in the years boxoffice takes, before the event does.
fn check_refund_until(until: DateTime<Utc>, fields: &EventFields) -> Result<(), ApiError> {
    let mut v = Validation::new();
    if let Err(m) = check_date(until) {
        v.fail("refund_until", m);
    }
    v.check(
        until < fields.end_at,
        "refund_until",
        "must be before the event ends (end_at)",
    );
    v.finish()
}

/// The admin listing's filter on top of the public ones.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// draft, published or cancelled
    #[param(value_type = Option<crate::catalog::EventStatus>)]
    pub status: Option<String>,
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
        if let Err(m) = zone::check_time_zone(self.time_zone) {
            v.fail("time_zone", m);
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
    let time_zone = match body.time_zone.as_deref().map(str::trim) {
        Some(zone) => zone.to_owned(),
        None => zone::zone_of_location(&body.location)
            .map_or("UTC", |zone| zone.name())
            .to_owned(),
    };
    let fields = EventFields {
        name: &body.name,
        title: &body.title,
        description: &body.description,
        category: &category,
        start_at: body.start_at,
        end_at: body.end_at,
        banner: body.banner.as_deref(),
        location: &body.location,
        time_zone: &time_zone,
        attendee_names: body.attendee_names,
    };
    fields.validate()?;
    if let Some(until) = body.refund_until {
        check_refund_until(until, &fields)?;
    }
    let id = EventId::new();
    store::insert_event(&pool, id, user.id, &fields).await?;
    if let Some(until) = body.refund_until {
        store::set_refund_until(&pool, id, Some(until)).await?;
    }
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
    queues: web::Data<std::sync::Arc<crate::queue::Queues>>,
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
        time_zone: body
            .time_zone
            .as_deref()
            .map_or(&event.time_zone, str::trim),
        attendee_names: body.attendee_names.unwrap_or(event.attendee_names),
    };
    fields.validate()?;
    if let Some(Some(until)) = body.refund_until {
        check_refund_until(until, &fields)?;
    }
    if let Some(queue) = &body.queue {
        crate::queue::http::save_settings(&pool, &queues, event.id, queue).await?;
    }
    store::update_event(&pool, event.id, &fields).await?;
    if let Some(until) = body.refund_until {
        store::set_refund_until(&pool, event.id, until).await?;
    }
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
    if !store::delete_unsold_event(&pool, event.id).await? {
        return Err(ApiError::new(
            Code::EventHasSales,
            "This event has bookings or payments, so it cannot be deleted. Cancel it instead: every paid booking is then refunded.",
        ));
    }
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
                "Add a ticket type that is on sale (not hidden) before publishing.",
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
        store::publish_event(&pool, event.id).await?;
        tracing::info!(event_id = %event.id, "event published");
    }
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}

/// Call the event off: it leaves the catalog listing and takes no new bookings, and every paid
/// booking is refunded in full through the provider (retried; see
/// `GET /v1/admin/events/{id}/refunds` for how they stand). Cancelling a cancelled event
/// changes nothing.
#[utoipa::path(post, path = "/v1/admin/events/{id}/cancel", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn cancel_event(
    pool: web::Data<PgPool>,
    wake: web::Data<crate::outbox::Wake>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let refunds = store::cancel_event(&pool, event.id).await?;
    wake.wake();
    tracing::info!(event_id = %event.id, refunds, "event cancelled");
    let event = owned_event(&pool, &user, event.id).await?;
    Ok(HttpResponse::Ok().json(detail(&pool, event).await?))
}
