//! A ticket changing hands: its owner gives it to another email address before the event. The
//! old ticket stays, `transferred`, its code refused at the door; the new holder gets a new
//! ticket (a new id, so a new signed code) for the same admission, theirs at once if the
//! address has an account, else when it registers.
use actix_web::{web, HttpResponse};
use boxoffice_actors::ids::{EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{code, store, Ticket};
use crate::auth::{AuthUser, Email};
use crate::config::Settings;
use crate::error::{ApiError, Code};
use crate::input::Json;
use crate::mail::Mailer;
use crate::outbox::subjects::TICKETS_TRANSFERRED;
use crate::outbox::{Consumers, Handled, Wake};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/tickets/{id}/transfer").route(web::post().to(transfer)));
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// Who gets the ticket.
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct Transferred {
    /// The caller's ticket, now `transferred`: its code no longer admits anyone.
    pub ticket: Ticket,
    /// Who holds the admission now (mailed their new ticket).
    pub to_email: String,
}

#[derive(sqlx::FromRow)]
struct Owned {
    status: String,
    event_id: EventId,
    start_at: DateTime<Utc>,
    event_status: String,
    owner_email: String,
}

/// Give one of the caller's tickets to someone else before the event starts. From this moment
/// the old code is refused at the door (409 `ticket_voided`) and the new holder has a new code.
#[utoipa::path(post, path = "/v1/tickets/{id}/transfer", tag = "tickets", params(("id" = String, Path)),
    request_body = TransferBody,
    responses((status = 200, body = Transferred), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "invalid_state: used, refunded, transferred, or the event started", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, ticket_id = %id))]
pub async fn transfer(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    wake: web::Data<Wake>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|m| ApiError::invalid("email", m))?;
    let mut tx = pool.begin().await?;
    let owned: Option<Owned> = sqlx::query_as(
        "SELECT t.status, t.event_id, e.start_at, e.status AS event_status, u.email AS owner_email
         FROM tickets t JOIN events e ON e.id = t.event_id JOIN users u ON u.id = t.user_id
         WHERE t.id = $1 AND t.user_id = $2 FOR UPDATE OF t",
    )
    .bind(*id)
    .bind(user.id)
    .fetch_optional(&mut *tx)
    .await?;
    let owned = owned.ok_or_else(|| ApiError::not_found("ticket"))?;
    let refused = |why: &str| Err(ApiError::new(Code::InvalidState, why.to_owned()));
    match owned.status.as_str() {
        "valid" => {}
        "checked_in" => return refused("this ticket was used at the door"),
        "void" => return refused("this ticket was refunded"),
        _ => return refused("this ticket was transferred already"),
    }
    if owned.event_status == "cancelled" {
        return refused("the event is cancelled");
    }
    if owned.start_at <= Utc::now() {
        return refused("the event has started; tickets can no longer change hands");
    }
    if email.as_str() == owned.owner_email.to_lowercase() {
        return Err(ApiError::invalid(
            "email",
            "is your own address; give the ticket to someone else",
        ));
    }
    let holder: Option<UserId> = sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = $1")
        .bind(email.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let new = Uuid::now_v7();
    let signed = code::sign(settings.tickets.signing_key.expose(), new, owned.event_id);
    let short_code =
        store::free_short_codes(&mut tx, &[owned.event_id], std::slice::from_ref(&signed))
            .await?
            .remove(0);
    let qr_url = format!(
        "{}/v1/tickets/{new}/qr.svg",
        settings.server.public_url.trim_end_matches('/')
    );
    // the old row first: the admission's unique index counts only tickets not transferred
    sqlx::query("UPDATE tickets SET status = 'transferred', updated_at = now() WHERE id = $1")
        .bind(*id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO tickets (id, user_id, holder_email, booking_id, payment_id, event_id,
                              ticket_type_id, seat_id, admission_no, code, qr_url, short_code,
                              transferred_from)
         SELECT $2, $3, $4, booking_id, payment_id, event_id, ticket_type_id, seat_id,
                admission_no, $5, $6, $7, id
         FROM tickets WHERE id = $1",
    )
    .bind(*id)
    .bind(new)
    .bind(holder)
    .bind(email.as_str())
    .bind(&signed)
    .bind(&qr_url)
    .bind(&short_code)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $2, t.booking_id, jsonb_build_object('ticket_id', t.id, 'from_ticket', t.transferred_from,
                  'booking_id', t.booking_id, 'event_id', t.event_id, 'event_name', e.name,
                  'user_id', $3::uuid, 'to_user', t.user_id, 'to_email', t.holder_email)
         FROM tickets t JOIN events e ON e.id = t.event_id WHERE t.id = $1",
    )
    .bind(new)
    .bind(TICKETS_TRANSFERRED)
    .bind(user.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    wake.wake();
    tracing::info!(new_ticket_id = %new, "ticket transferred");
    let ticket = store::find(&pool, *id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    Ok(HttpResponse::Ok().json(Transferred {
        ticket,
        to_email: email.to_string(),
    }))
}

/// `mailer` on `tickets.transferred`: the new holder gets their ticket with its new code.
pub fn register(consumers: &mut Consumers, pool: PgPool, mailer: Arc<Mailer>) {
    consumers.register(
        super::consumer::MAILER,
        &[TICKETS_TRANSFERRED],
        move |delivery| {
            let (pool, mailer) = (pool.clone(), mailer.clone());
            async move { mail_new_holder(&pool, &mailer, delivery.payload()?).await }
        },
    );
}

#[derive(Deserialize)]
struct Moved {
    ticket_id: Uuid,
    to_email: String,
}

async fn mail_new_holder(pool: &PgPool, mailer: &Mailer, moved: Moved) -> Handled {
    let Some(ticket) = store::by_id(pool, moved.ticket_id).await? else {
        return Ok(());
    };
    if !crate::mail::claim(pool, "transfer", ticket.id, &moved.to_email).await? {
        return Ok(());
    }
    let to: lettre::message::Mailbox = match moved.to_email.parse::<lettre::Address>() {
        Ok(address) => address.into(),
        Err(error) => {
            return Err(crate::outbox::DeliveryError::refused(anyhow::anyhow!(
                "{:?} cannot be mailed: {error}",
                moved.to_email
            )))
        }
    };
    let from = mailer.from().clone();
    let code = ticket.booking_code.clone();
    let message =
        web::block(move || crate::mail::tickets_message(from, to, &code, &[ticket], None))
            .await
            .map_err(crate::outbox::DeliveryError::retry)?
            .map_err(crate::outbox::DeliveryError::refused)?;
    mailer
        .send(message)
        .await
        .map_err(crate::mail::OnceError::from)?;
    crate::mail::mark_sent(pool, "transfer", moved.ticket_id).await?;
    Ok(())
}
