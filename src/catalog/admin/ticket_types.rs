//! An event's ticket types: add, edit (capacity through the event's engine, which refuses to
//! strand a booking), remove.
use actix_web::{web, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{EventId, TicketTypeId};
use boxoffice_actors::inventory::InventoryEdit;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{not_cancelled, owned_event, owned_ticket_type};
use crate::auth::Organizer;
use crate::catalog::edit::through_engine;
use crate::catalog::store::{self, TicketTypeFields};
use crate::catalog::TicketType;
use crate::error::{ApiError, Code, Validation};
use crate::input::{check_date, check_text, check_url, nullable, Json};

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
    store::save_ticket_type(&mut *pool.acquire().await?, event.id, id, &fields).await?;
    Ok(HttpResponse::Created().json(saved_ticket_type(&pool, event.id, id).await?))
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
            store::save_ticket_type(&mut tx, event_id, id, &fields).await?;
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
            store::delete_ticket_type(&mut *tx, id).await?;
            Ok((tx, ()))
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
