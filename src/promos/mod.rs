//! Promo codes: an organizer's discounts (percent or fixed, per ticket) on some or all of an
//! event's ticket types, valid in a window, limited in all and per account, and the hidden
//! types a code puts on sale. A hold that names a code gets it checked here against the catalog
//! and then counted by the event's actor, which alone decides whether a use is left.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{EventId, TicketTypeId};
use boxoffice_actors::inventory::PromoSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Organizer;
use crate::catalog::admin::owned_event;
use crate::error::{ApiError, Validation};
use crate::input::Json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/events/{id}/promo_codes")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/admin/events/{id}/promo_codes/{promo_id}").route(web::delete().to(retire)),
    );
}

/// A promo code as the organizer sees it.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PromoCode {
    pub id: Uuid,
    pub event_id: EventId,
    pub code: String,
    /// 0 to 100, off each ticket's price.
    pub percent_off: i32,
    /// Minor units off each ticket's price (after `percent_off`; never below zero).
    pub amount_off: i64,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// The ticket types it discounts; empty: all of the event's.
    pub ticket_type_ids: Vec<Uuid>,
    /// Hidden ticket types a buyer with the code may book.
    pub unlocks: Vec<Uuid>,
    /// Bookings that may use it in all, and per account; null: no limit.
    pub max_uses: Option<i32>,
    pub max_per_account: Option<i32>,
    /// Bookings holding or owning admissions with it now (a hold that ends gives its use back).
    pub uses: i64,
    /// `false` once retired: no new booking may use it.
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPromoCode {
    /// 1 to 40 letters, digits, `-` or `_`; unique in the event whatever the case.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,40}$")]
    pub code: String,
    #[serde(default)]
    pub percent_off: Option<i32>,
    #[serde(default)]
    pub amount_off: Option<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ticket_type_ids: Vec<TicketTypeId>,
    #[serde(default)]
    pub unlocks: Vec<TicketTypeId>,
    pub max_uses: Option<i32>,
    pub max_per_account: Option<i32>,
}

const COLUMNS: &str = "p.id, p.event_id, p.code, p.percent_off, p.amount_off, p.valid_from,
    p.valid_until, p.ticket_type_ids, p.unlocks, p.max_uses, p.max_per_account, p.active,
    p.created_at,
    (SELECT count(*) FROM bookings b WHERE b.promo_code_id = p.id
       AND b.status IN ('held', 'pending_payment', 'confirmed')) AS uses";

/// Create a promo code for one of the organizer's events.
#[utoipa::path(post, path = "/v1/admin/events/{id}/promo_codes", tag = "admin", params(("id" = String, Path)),
    request_body = NewPromoCode,
    responses((status = 201, body = PromoCode), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "the code exists in this event", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    body: Json<NewPromoCode>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let body = body.into_inner();
    let types: Vec<TicketTypeId> =
        sqlx::query_scalar("SELECT id FROM ticket_types WHERE event_id = $1")
            .bind(event.id)
            .fetch_all(pool.get_ref())
            .await?;
    let mut v = Validation::new();
    let code = body.code.trim();
    v.check(
        !code.is_empty()
            && code.len() <= 40
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "code",
        "must be 1 to 40 letters, digits, - or _",
    );
    let percent = body.percent_off.unwrap_or(0);
    let amount = body.amount_off.unwrap_or(0);
    v.check(
        (0..=100).contains(&percent),
        "percent_off",
        "must be 0 to 100",
    );
    v.check(amount >= 0, "amount_off", "must not be negative");
    v.check(
        percent > 0 || amount > 0 || !body.unlocks.is_empty(),
        "percent_off",
        "give a discount (percent_off or amount_off), or hidden ticket types to unlock",
    );
    if let (Some(from), Some(until)) = (body.valid_from, body.valid_until) {
        v.check(from < until, "valid_until", "must be after valid_from");
    }
    for (field, ids) in [
        ("ticket_type_ids", &body.ticket_type_ids),
        ("unlocks", &body.unlocks),
    ] {
        if let Some(stray) = ids.iter().find(|t| !types.contains(t)) {
            v.fail(field, format!("{stray} is not a ticket type of this event"));
        }
    }
    for (field, limit) in [
        ("max_uses", body.max_uses),
        ("max_per_account", body.max_per_account),
    ] {
        if limit.is_some_and(|n| n < 1) {
            v.fail(field, "must be at least 1 (leave it out for no limit)");
        }
    }
    v.finish()?;
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO promo_codes (id, event_id, code, percent_off, amount_off, valid_from, valid_until,
                                  ticket_type_ids, unlocks, max_uses, max_per_account)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(event.id)
    .bind(code)
    .bind(percent)
    .bind(amount)
    .bind(body.valid_from)
    .bind(body.valid_until)
    .bind(&body.ticket_type_ids)
    .bind(&body.unlocks)
    .bind(body.max_uses)
    .bind(body.max_per_account)
    .execute(pool.get_ref())
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("promo_codes_code_key") => {
            ApiError::new(
                crate::error::Code::InvalidState,
                format!("this event has a promo code {code:?} already"),
            )
        }
        _ => e.into(),
    })?;
    let created: PromoCode = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM promo_codes p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_one(pool.get_ref())
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// The event's promo codes with how often each is in use.
#[utoipa::path(get, path = "/v1/admin/events/{id}/promo_codes", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Vec<PromoCode>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let codes: Vec<PromoCode> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM promo_codes p WHERE p.event_id = $1 ORDER BY p.id"
    ))
    .bind(event.id)
    .fetch_all(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(codes))
}

/// Retire a promo code: no new booking may use it; bookings that did keep their price.
#[utoipa::path(delete, path = "/v1/admin/events/{id}/promo_codes/{promo_id}", tag = "admin",
    params(("id" = String, Path), ("promo_id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn retire(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    path: web::Path<(EventId, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (event, promo) = path.into_inner();
    let event = owned_event(&pool, &user, event).await?;
    let retired = sqlx::query(
        "UPDATE promo_codes SET active = false, updated_at = now() WHERE id = $1 AND event_id = $2",
    )
    .bind(promo)
    .bind(event.id)
    .execute(pool.get_ref())
    .await?
    .rows_affected();
    if retired == 0 {
        return Err(ApiError::not_found("promo code"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(sqlx::FromRow)]
struct Found {
    id: Uuid,
    /// As the organizer typed it (the buyer's spelling may differ in case).
    code: String,
    percent_off: i32,
    amount_off: i64,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    ticket_type_ids: Vec<TicketTypeId>,
    unlocks: Vec<TicketTypeId>,
    max_uses: Option<i32>,
    max_per_account: Option<i32>,
    active: bool,
    /// The event's, for the times the refusals give.
    time_zone: String,
}

fn invalid(why: &str) -> ApiError {
    ApiError::invalid("promo_code", why.to_owned())
}

/// The promo code `code` of `event` if it may be used now; otherwise 422 on `promo_code`
/// saying why in words.
async fn usable(pool: &PgPool, event: EventId, code: &str) -> Result<Found, ApiError> {
    let found: Option<Found> = sqlx::query_as(
        "SELECT id, code, percent_off, amount_off, valid_from, valid_until, ticket_type_ids, unlocks,
                max_uses, max_per_account, active,
                (SELECT e.time_zone FROM events e WHERE e.id = promo_codes.event_id) AS time_zone
         FROM promo_codes WHERE event_id = $1 AND lower(code) = lower($2)",
    )
    .bind(event)
    .bind(code.trim())
    .fetch_optional(pool)
    .await?;
    let Some(found) = found.filter(|f| f.active) else {
        return Err(invalid("is not a promo code of this event"));
    };
    let now = Utc::now();
    if let Some(from) = found.valid_from.filter(|from| now < *from) {
        return Err(invalid(&format!(
            "can be used from {}",
            crate::catalog::zone::local_time(from, &found.time_zone)
        )));
    }
    if found.valid_until.is_some_and(|until| now >= until) {
        return Err(invalid("has expired"));
    }
    Ok(found)
}

/// What a valid code gives a buyer on the event page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PromoOffer {
    pub code: String,
    pub percent_off: i32,
    pub amount_off: i64,
    /// The types it discounts; empty: all.
    pub ticket_type_ids: Vec<Uuid>,
    /// Hidden types it opens (listed in the event's `ticket_types` with the code).
    pub unlocks: Vec<Uuid>,
    /// Each listed type's unit price with the code.
    pub prices: Vec<PromoPrice>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PromoPrice {
    pub ticket_type_id: Uuid,
    pub price: i64,
}

/// The offer of `code` on `event` for types priced `prices` (the event page with a code).
pub async fn offer(
    pool: &PgPool,
    event: EventId,
    code: &str,
) -> Result<(PromoOffer, PromoSpec), ApiError> {
    let found = usable(pool, event, code).await?;
    let spec = spec(pool, &found).await?;
    Ok((
        PromoOffer {
            code: found.code.clone(),
            percent_off: found.percent_off,
            amount_off: found.amount_off,
            ticket_type_ids: found.ticket_type_ids.iter().map(|t| t.0).collect(),
            unlocks: found.unlocks.iter().map(|t| t.0).collect(),
            prices: Vec::new(),
        },
        spec,
    ))
}

/// The promo code `code` of `event` as the actor needs it, if it may be used now on
/// `types`; otherwise 422 on `promo_code` saying why in words.
pub async fn for_hold(
    pool: &PgPool,
    event: EventId,
    code: &str,
    types: &[TicketTypeId],
) -> Result<PromoSpec, ApiError> {
    let found = usable(pool, event, code).await?;
    let applies = |t: &TicketTypeId| {
        found.ticket_type_ids.is_empty()
            || found.ticket_type_ids.contains(t)
            || found.unlocks.contains(t)
    };
    if !types.iter().any(applies) {
        return Err(invalid("does not apply to the tickets you chose"));
    }
    spec(pool, &found).await
}

/// A hidden ticket type's own sale window: `(id, sale_at, sale_end)`.
type SaleWindow = (TicketTypeId, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

async fn spec(pool: &PgPool, found: &Found) -> Result<PromoSpec, ApiError> {
    // the hidden types it opens sell in their own windows
    let windows: Vec<SaleWindow> =
        sqlx::query_as("SELECT id, sale_at, sale_end FROM ticket_types WHERE id = ANY($1)")
            .bind(&found.unlocks)
            .fetch_all(pool)
            .await?;
    Ok(PromoSpec {
        id: found.id,
        percent_off: found.percent_off as u32,
        amount_off: found.amount_off,
        ticket_types: found.ticket_type_ids.clone(),
        unlocks: windows
            .into_iter()
            .map(|(id, at, end)| {
                (
                    id,
                    at.map(|t| t.timestamp_millis()),
                    end.map(|t| t.timestamp_millis()),
                )
            })
            .collect(),
        max_uses: found.max_uses.map(|n| n as u32),
        max_per_account: found.max_per_account.map(|n| n as u32),
    })
}
