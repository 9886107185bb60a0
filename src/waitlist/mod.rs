//! Waiting lists for sold-out ticket types: a buyer joins for a quantity, and when admissions
//! come back the event's actor offers them to the first entry that fits, as a hold of its own
//! (`waitlist.offer_minutes`); this module is the HTTP side, the organizer's view, and the
//! `waitlist.offered` mail. The line itself lives in `boxoffice_actors::waitlist`.
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::{WaitlistAction, WaitlistAnswer, WaitlistAsk};
use boxoffice_actors::ids::{BookingId, EventId, TicketTypeId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, Organizer};
use crate::catalog::admin::owned_event;
use crate::config::Settings;
use crate::error::{ApiError, Validation};
use crate::input::Json;
use crate::mail::Mailer;
use crate::outbox::subjects::WAITLIST_OFFERED;
use crate::outbox::{Consumers, Handled};
use crate::pagination::{Page, PageQuery};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events/{id}/waitlist")
            .route(web::post().to(join))
            .route(web::get().to(mine)),
    )
    .service(web::resource("/events/{id}/waitlist/{entry_id}").route(web::delete().to(leave)))
    .service(web::resource("/admin/events/{id}/waitlist").route(web::get().to(list)));
}

/// A place on a waiting list, as its buyer sees it.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub event_id: EventId,
    pub ticket_type_id: TicketTypeId,
    pub ticket_type_name: String,
    pub qty: i32,
    /// `waiting`, `offered` (a hold of its own: `booking_id`, until `offer_expires_at`),
    /// `bought`, `lapsed` (the offer ran out or was given up) or `left`.
    pub status: String,
    /// 1 for the first in line of its ticket type, while it waits.
    pub position: Option<i64>,
    pub booking_id: Option<BookingId>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// An entry as the organizer sees it, with whose it is.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrganizerEntry {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub entry: WaitlistEntry,
    pub email: String,
    pub name: Option<String>,
}

/// How the event's waiting lists stand, per status.
#[derive(Clone, Debug, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct WaitlistSummary {
    pub waiting: i64,
    pub offered: i64,
    pub bought: i64,
    pub lapsed: i64,
    pub left: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WaitlistPage {
    pub summary: WaitlistSummary,
    pub data: Vec<OrganizerEntry>,
    pub next_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    pub ticket_type_id: TicketTypeId,
    /// Admissions wanted together, 1 (the default) to `booking.max_per_order`.
    pub qty: Option<i64>,
}

const COLUMNS: &str = "w.id, w.event_id, w.ticket_type_id, t.name AS ticket_type_name, w.qty,
    w.status, w.booking_id, w.offer_expires_at, w.created_at,
    CASE WHEN w.status = 'waiting' THEN
      (SELECT count(*) FROM waitlist_entries o
       WHERE o.ticket_type_id = w.ticket_type_id AND o.status = 'waiting' AND o.id <= w.id)
    END AS position";

async fn entry(pool: &PgPool, id: Uuid) -> Result<WaitlistEntry, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM waitlist_entries w JOIN ticket_types t ON t.id = w.ticket_type_id
         WHERE w.id = $1"
    ))
    .bind(id)
    .fetch_one(pool)
    .await?)
}

/// Join a sold-out ticket type's waiting list. One entry per account and ticket type: asked
/// again while it waits or holds its offer, it answers that entry (200).
#[utoipa::path(post, path = "/v1/events/{id}/waitlist", tag = "waitlist", params(("id" = String, Path)),
    request_body = JoinBody,
    responses((status = 201, body = WaitlistEntry), (status = 200, description = "on the list already", body = WaitlistEntry),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "not_sold_out (book instead), sale_not_open (its sale ended), event_cancelled", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, event_id = %id))]
pub async fn join(
    pool: web::Data<PgPool>,
    engine: web::Data<EventDirectory>,
    settings: web::Data<Settings>,
    user: AuthUser,
    id: web::Path<EventId>,
    body: Json<JoinBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ticket_type = crate::catalog::store::find_ticket_type(&pool, *id, body.ticket_type_id)
        .await?
        .filter(|t| t.status == "active")
        .ok_or_else(|| {
            ApiError::invalid(
                "ticket_type_id",
                "is not a ticket type on sale in this event",
            )
        })?;
    let max = i64::from(settings.booking.max_per_order)
        .min(i64::from(ticket_type.number_seats))
        .min(ticket_type.max_per_user.map_or(i64::MAX, i64::from));
    let qty = body.qty.unwrap_or(1);
    let mut v = Validation::new();
    v.check(
        (1..=max).contains(&qty),
        "qty",
        format!("must be between 1 and {max}"),
    );
    v.finish()?;
    let ask = WaitlistAsk {
        user: user.id,
        action: WaitlistAction::Join {
            ticket_type: ticket_type.id,
            qty: qty as u32,
        },
    };
    let WaitlistAnswer::Joined { entry: joined, new } = engine.waitlist(*id, ask).await? else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "a join answered as a leave"
        )));
    };
    let answer = entry(&pool, joined.id).await?;
    Ok(if new {
        HttpResponse::Created().json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

/// The caller's places on this event's waiting lists, newest first (left and ended ones too).
#[utoipa::path(get, path = "/v1/events/{id}/waitlist", tag = "waitlist", params(("id" = String, Path)),
    responses((status = 200, body = Vec<WaitlistEntry>)), security(("bearer" = [])))]
pub async fn mine(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<EventId>,
) -> Result<HttpResponse, ApiError> {
    let entries: Vec<WaitlistEntry> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM waitlist_entries w JOIN ticket_types t ON t.id = w.ticket_type_id
         WHERE w.event_id = $1 AND w.user_id = $2 ORDER BY w.id DESC LIMIT 100"
    ))
    .bind(*id)
    .bind(user.id)
    .fetch_all(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(entries))
}

/// Leave a waiting list. An entry holding an offer gives its hold up, and the next in line
/// gets the admissions.
#[utoipa::path(delete, path = "/v1/events/{id}/waitlist/{entry_id}", tag = "waitlist",
    params(("id" = String, Path), ("entry_id" = String, Path)),
    responses((status = 200, body = WaitlistEntry), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "event_cancelled: its waiting lists ended with it", body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn leave(
    pool: web::Data<PgPool>,
    engine: web::Data<EventDirectory>,
    user: AuthUser,
    path: web::Path<(EventId, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (event, entry_id) = path.into_inner();
    let ask = WaitlistAsk {
        user: user.id,
        action: WaitlistAction::Leave { entry: entry_id },
    };
    engine.waitlist(event, ask).await?;
    Ok(HttpResponse::Ok().json(entry(&pool, entry_id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `waiting`, `offered`, `bought`, `lapsed` or `left`; all when left out.
    pub status: Option<String>,
}

const STATUSES: [&str; 5] = ["waiting", "offered", "bought", "lapsed", "left"];

/// The event's waiting lists, first in line first, with how they stand.
#[utoipa::path(get, path = "/v1/admin/events/{id}/waitlist", tag = "admin",
    params(("id" = String, Path), ListQuery, PageQuery),
    responses((status = 200, body = WaitlistPage), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    pool: web::Data<PgPool>,
    Organizer(user): Organizer,
    id: web::Path<EventId>,
    filter: web::Query<ListQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let event = owned_event(&pool, &user, *id).await?;
    let status = filter.into_inner().status;
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::invalid(
            "status",
            "must be waiting, offered, bought, lapsed or left",
        ));
    }
    let (after, limit): (Option<Uuid>, u32) = page.into_inner().parse()?;
    let rows: Vec<OrganizerEntry> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, u.email, u.username AS name
         FROM waitlist_entries w JOIN ticket_types t ON t.id = w.ticket_type_id
         JOIN users u ON u.id = w.user_id
         WHERE w.event_id = $1 AND ($2::text IS NULL OR w.status = $2)
           AND ($3::uuid IS NULL OR w.id > $3)
         ORDER BY w.id LIMIT $4"
    ))
    .bind(event.id)
    .bind(&status)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool.get_ref())
    .await?;
    let summary = summary(&pool, event.id).await?;
    let page = Page::from_rows(rows, limit, |row| row.entry.id);
    Ok(HttpResponse::Ok().json(WaitlistPage {
        summary,
        data: page.data,
        next_token: page.next_token,
    }))
}

/// How the event's waiting lists stand (the sales report shows it too).
pub async fn summary(pool: &PgPool, event: EventId) -> Result<WaitlistSummary, sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'waiting') AS waiting,
                count(*) FILTER (WHERE status = 'offered') AS offered,
                count(*) FILTER (WHERE status = 'bought') AS bought,
                count(*) FILTER (WHERE status = 'lapsed') AS lapsed,
                count(*) FILTER (WHERE status = 'left') AS left
         FROM waitlist_entries WHERE event_id = $1",
    )
    .bind(event)
    .fetch_one(pool)
    .await
}

/// `mailer` on `waitlist.offered`: the buyer is told by mail that admissions wait for them.
pub fn register(consumers: &mut Consumers, pool: PgPool, mailer: Arc<Mailer>) {
    consumers.register(
        crate::tickets::consumer::MAILER,
        &[WAITLIST_OFFERED],
        move |delivery| {
            let (pool, mailer) = (pool.clone(), mailer.clone());
            async move { mail_offer(&pool, &mailer, delivery.payload()?).await }
        },
    );
}

#[derive(Deserialize)]
struct Offered {
    entry_id: Uuid,
    user_id: UserId,
    booking_id: BookingId,
    qty: i64,
    expires_at: DateTime<Utc>,
}

async fn mail_offer(pool: &PgPool, mailer: &Mailer, offered: Offered) -> Handled {
    let contact: Option<(String, bool, String, String, String, String)> = sqlx::query_as(
        "SELECT u.email, COALESCE(us.email_notifications, true), e.name, t.name, b.booking_code,
                e.time_zone
         FROM waitlist_entries w JOIN users u ON u.id = w.user_id
         JOIN events e ON e.id = w.event_id JOIN ticket_types t ON t.id = w.ticket_type_id
         JOIN bookings b ON b.id = $2
         LEFT JOIN user_settings us ON us.user_id = u.id
         WHERE w.id = $1 AND w.user_id = $3",
    )
    .bind(offered.entry_id)
    .bind(offered.booking_id)
    .bind(offered.user_id)
    .fetch_optional(pool)
    .await?;
    let Some((email, true, event, ticket_type, code, zone)) = contact else {
        return Ok(());
    };
    let text = format!(
        "Good news: {n} for {event} came back, and they are held for you \
         (booking {code}) until {until}.\n\n\
         Open My bookings to pay for them before then; after that they go to the next person \
         on the waiting list.\n",
        n = match offered.qty {
            1 => format!("1 {ticket_type} ticket"),
            n => format!("{n} {ticket_type} tickets"),
        },
        until = crate::catalog::zone::local_time(offered.expires_at, &zone),
    );
    let subject = format!("Tickets for {event} are held for you");
    crate::mail::send_once(
        pool,
        mailer,
        "waitlist_offer",
        offered.entry_id,
        &email,
        &subject,
        text,
    )
    .await?;
    Ok(())
}
