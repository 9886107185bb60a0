//! What buyers see: published events, searched and filtered, one page at a time; an event with
//! its ticket types and availability; its seat map.
use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::EventId;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::IntoParams;

use super::store::{self, EventCursor, EventFilter, Scope};
use super::{check_category, EventDetail, SeatMap};
use crate::error::{ApiError, Validation};
use crate::pagination::{self, Page};
use crate::validators;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events").route(web::get().to(list_events)))
        .service(web::resource("/events/{id}").route(web::get().to(get_event)))
        .service(web::resource("/events/{id}/seats").route(web::get().to(get_seats)));
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Words to find in name, title, description or location (web-search syntax: quotes, `-word`, `or`).
    pub q: Option<String>,
    /// music, concert, sports, film or other
    #[param(value_type = Option<super::Category>)]
    pub category: Option<String>,
    /// Events starting at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events starting at or before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Part of the venue or city, any case.
    pub location: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    pub next_token: Option<String>,
}

impl EventQuery {
    /// Checks the query and splits it into filter, position and page size.
    pub fn parse(
        self,
        validation: &mut Validation,
    ) -> Result<(EventFilter, Option<EventCursor>, u32), ApiError> {
        let limit = pagination::limit(self.limit, validation);
        let non_empty =
            |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let category = non_empty(self.category).map(|c| c.to_lowercase());
        if let Some(category) = &category {
            if let Err(m) = check_category(category) {
                validation.fail("category", m);
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            validation.check(from <= to, "to", "must not be before from");
        }
        let q = non_empty(self.q);
        if let Some(q) = &q {
            validation.check(
                q.chars().count() <= 200,
                "q",
                "must be at most 200 characters",
            );
        }
        validation.finish()?;
        let cursor = self
            .next_token
            .as_deref()
            .map(pagination::decode)
            .transpose()?;
        let filter = EventFilter {
            q,
            category,
            from: self.from,
            to: self.to,
            location: non_empty(self.location),
            status: None,
        };
        Ok((filter, cursor, limit))
    }
}

/// Published events, soonest first, with full-text search and filters.
#[utoipa::path(get, path = "/v1/events", tag = "catalog", params(EventQuery),
    responses((status = 200, body = Page<super::Event>), (status = 422, body = crate::error::ErrorBody)))]
pub async fn list_events(
    pool: web::Data<PgPool>,
    query: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, cursor, limit) = query.into_inner().parse(&mut Validation::new())?;
    let page = store::list_events(&pool, Scope::Published, &filter, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

async fn visible_event(pool: &sqlx::PgPool, id: EventId) -> Result<super::Event, ApiError> {
    store::find_event(pool, id, Scope::Published)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))
}

/// A published (or cancelled) event with its ticket types on offer and what is left of each.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "catalog", params(("id" = String, Path), PromoQuery),
    responses((status = 200, body = EventDetail, description = "with an ETag"), (status = 304, description = "If-None-Match names the current ETag"), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn get_event(
    engine: web::Data<EventDirectory>,
    pool: web::Data<PgPool>,
    id: web::Path<EventId>,
    query: web::Query<PromoQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let event = visible_event(&pool, *id).await?;
    let mut ticket_types = store::ticket_types_uncounted(&pool, event.id).await?;
    let promo = match query.promo_code.as_deref().map(str::trim) {
        Some(code) if !code.is_empty() => {
            let (mut offer, spec) = crate::promos::offer(&pool, event.id, code).await?;
            let hidden = store::ticket_types_of(&pool, event.id, true).await?;
            ticket_types.extend(
                hidden
                    .into_iter()
                    .filter(|t| t.status != "active" && offer.unlocks.contains(&t.id.0)),
            );
            offer.prices = ticket_types
                .iter()
                .map(|t| crate::promos::PromoPrice {
                    ticket_type_id: t.id.0,
                    price: spec.price(t.id, t.price),
                })
                .collect();
            Some(offer)
        }
        _ => None,
    };
    // the engine's counts as of its last commit when its actor is running, else the database's
    for ticket_type in &mut ticket_types {
        ticket_type.available = match engine.counts(ticket_type.id) {
            Some(counts) => counts.available().into(),
            None => {
                i64::from(ticket_type.number_seats)
                    - store::taken_admissions(pool.get_ref(), ticket_type.id).await?
            }
        };
    }
    Ok(validators::json(
        &request,
        &EventDetail {
            event,
            ticket_types,
            promo,
        },
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PromoQuery {
    /// A promo code: the answer says what it gives and lists the hidden types it opens (422 on
    /// `promo_code` if it cannot be used now).
    pub promo_code: Option<String>,
}

/// The event's seats with their status: free, held or sold.
#[utoipa::path(get, path = "/v1/events/{id}/seats", tag = "catalog", params(("id" = String, Path)),
    responses((status = 200, body = SeatMap, description = "with an ETag"), (status = 304, description = "If-None-Match names the current ETag"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_seats(
    pool: web::Data<PgPool>,
    id: web::Path<EventId>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let event = visible_event(&pool, *id).await?;
    let seats = store::seats_of(&pool, event.id, None).await?;
    Ok(validators::json(
        &request,
        &SeatMap {
            event_id: event.id,
            seats,
        },
    ))
}
