//! Dead letters: outbox rows a consumer refused for good (or that failed `outbox.max_attempts`
//! times). They stay in the outbox with their reason, out of the dispatcher's way; an admin
//! lists them and replays one once its cause is fixed.
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Wake;
use crate::auth::AuthUser;
use crate::error::{ApiError, Code};
use crate::pagination::{Page, PageQuery};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/dead_letters").route(web::get().to(list)))
        .service(web::resource("/admin/dead_letters/{id}/replay").route(web::post().to(replay)));
}

/// An outbox row that was not delivered.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeadLetter {
    /// The outbox row's id.
    pub id: i64,
    pub subject: String,
    /// The booking or payment the row is about.
    pub aggregate_id: Uuid,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The consumer that refused it (`booking-engine`, `payment-worker`, `ticket-worker`,
    /// `mailer`, `notifier`).
    pub consumer: String,
    /// Why, with the cause's whole chain.
    pub reason: String,
    pub attempts: i32,
    /// How often an admin replayed it before.
    pub replays: i32,
    pub created_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, subject, aggregate_id, payload, COALESCE(dead_consumer, '') AS consumer,
    COALESCE(last_error, '') AS reason, attempts, replays, created_at, dead_at AS failed_at";

/// Takes the row out of delivery, saying who refused it and why.
pub(crate) async fn bury(
    pool: &PgPool,
    id: i64,
    consumer: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, dead_at = now(), dead_consumer = $2,
                last_error = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(consumer)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

fn require_admin(user: &AuthUser) -> Result<(), ApiError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(Code::Forbidden, "this needs the admin role"))
    }
}

/// The outbox rows that were not delivered, oldest first.
#[utoipa::path(get, path = "/v1/admin/dead_letters", tag = "admin", params(PageQuery),
    responses((status = 200, body = crate::pagination::Page<DeadLetter>),
        (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    pool: web::Data<PgPool>,
    user: AuthUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&user)?;
    let (after, limit): (Option<i64>, u32) = query.into_inner().parse()?;
    let rows: Vec<DeadLetter> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM outbox WHERE dead_at IS NOT NULL AND id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(after.unwrap_or(0))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool.get_ref())
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id)))
}

/// Puts a dead letter back in the outbox, due now, with its attempts counted from zero; its
/// consumers are idempotent, so what succeeded before is not done twice. Answers the letter as
/// it was.
#[utoipa::path(post, path = "/v1/admin/dead_letters/{id}/replay", tag = "admin",
    params(("id" = i64, Path)),
    responses((status = 200, body = DeadLetter), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn replay(
    pool: web::Data<PgPool>,
    wake: web::Data<Wake>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&user)?;
    let letter: Option<DeadLetter> = sqlx::query_as(&format!(
        "WITH letter AS (SELECT {COLUMNS} FROM outbox WHERE id = $1 AND dead_at IS NOT NULL FOR UPDATE)
         , requeued AS (
             UPDATE outbox SET dead_at = NULL, delivered_at = NULL, attempts = 0,
                    next_attempt_at = now(), replays = replays + 1
             WHERE id = (SELECT id FROM letter))
         SELECT * FROM letter"
    ))
    .bind(*id)
    .fetch_optional(pool.get_ref())
    .await?;
    let letter = letter.ok_or_else(|| ApiError::not_found("dead letter"))?;
    tracing::info!(outbox_id = letter.id, subject = %letter.subject, admin = %user.id, "dead letter replayed");
    wake.wake();
    Ok(HttpResponse::Ok().json(letter))
}
