//! The `TicketActor`: issues a sold booking's tickets and mails them. Each is idempotent, so
//! the outbox may deliver `bookings.paid` and `tickets.issued` more than once.
use std::sync::Arc;

use actix::prelude::*;
use actix_web::web;
use boxoffice_actors::ids::BookingId;
use sqlx::PgPool;
use uuid::Uuid;

use super::store;
use crate::mail::Mailer;

pub struct TicketActor {
    pool: PgPool,
    /// Signs ticket codes (`tickets.signing_key`).
    signing_key: Arc<str>,
    public_url: Arc<str>,
    mailer: Arc<Mailer>,
}

impl TicketActor {
    pub fn new(pool: PgPool, signing_key: &str, public_url: &str, mailer: Arc<Mailer>) -> Self {
        Self {
            pool,
            signing_key: signing_key.into(),
            public_url: public_url.into(),
            mailer,
        }
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;
}

impl Supervised for TicketActor {}

/// One ticket per admission of a sold booking (nothing if it has them).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct IssueTickets(pub BookingId);

/// The ticket mail of a booking (nothing if it was sent, or the buyer turned mail off).
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct MailTickets(pub BookingId);

impl Handler<IssueTickets> for TicketActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(
        &mut self,
        IssueTickets(booking): IssueTickets,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let (pool, key, url) = (
            self.pool.clone(),
            self.signing_key.clone(),
            self.public_url.clone(),
        );
        Box::pin(async move {
            store::issue(&pool, booking, &key, &url)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

impl Handler<MailTickets> for TicketActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, MailTickets(booking): MailTickets, _: &mut Context<Self>) -> Self::Result {
        let (pool, mailer) = (self.pool.clone(), self.mailer.clone());
        Box::pin(async move { mail_tickets(&pool, &mailer, booking).await })
    }
}

/// Mails a booking's tickets to its contact address (the account's email if none was given),
/// unless the buyer turned email off. Once per booking: `sent_mail` remembers it, in the same
/// transaction, so a redelivered `tickets.issued` does not mail again.
async fn mail_tickets(pool: &PgPool, mailer: &Mailer, booking: BookingId) -> Result<(), String> {
    let failed = |e: sqlx::Error| e.to_string();
    let contact: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT COALESCE(bu.email, u.email), b.booking_code, COALESCE(us.email_notifications, true)
         FROM bookings b JOIN users u ON u.id = b.user_id
         LEFT JOIN booking_users bu ON bu.booking_id = b.id
         LEFT JOIN user_settings us ON us.user_id = b.user_id
         WHERE b.id = $1",
    )
    .bind(booking)
    .fetch_optional(pool)
    .await
    .map_err(failed)?;
    let Some((email, booking_code, wanted)) = contact else {
        return Err(format!("booking {booking} not found"));
    };
    if !wanted {
        return Ok(());
    }
    let to: lettre::message::Mailbox =
        email.parse().map_err(|e| format!("contact {email}: {e}"))?;
    // read before the claim's transaction opens: one connection at a time per mail, so mails
    // delivered side by side cannot take the whole pool and wait on each other
    let tickets = store::of_booking(pool, booking).await.map_err(failed)?;
    let mut tx = pool.begin().await.map_err(failed)?;
    let first_time = sqlx::query(
        "INSERT INTO sent_mail (id, kind, aggregate_id, recipient) VALUES ($1, 'tickets', $2, $3)
         ON CONFLICT (kind, aggregate_id) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(booking)
    .bind(&email)
    .execute(&mut *tx)
    .await
    .map_err(failed)?
    .rows_affected()
        == 1;
    if !first_time {
        return Ok(());
    }
    let from = mailer.from().clone();
    let message =
        web::block(move || crate::mail::tickets_message(from, to, &booking_code, &tickets))
            .await
            .map_err(|e| e.to_string())??;
    mailer.send(message).await?;
    tx.commit().await.map_err(failed)?;
    tracing::info!(booking_id = %booking, "tickets mailed");
    Ok(())
}
