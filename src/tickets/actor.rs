//! The `TicketActor`: issues sold bookings' tickets, many bookings per transaction (the sales
//! the ticket worker delivers at once wait for one batch), and mails them. Each is idempotent,
//! so the bus may deliver `bookings.paid` and `tickets.issued` more than once.
use std::sync::Arc;

use actix::prelude::*;
use actix_web::web;
use boxoffice_actors::ids::BookingId;
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::store;
use crate::mail::{MailError, Mailer};

/// Bookings issued in one transaction at most.
const ISSUE_BATCH: usize = 256;

pub struct TicketActor {
    pool: PgPool,
    /// Bookings waiting for the next batch, with who waits for each.
    waiting: Vec<(BookingId, oneshot::Sender<Result<(), TicketError>>)>,
    /// A batch is being written: the next one starts when it has committed.
    issuing: bool,
    /// Signs ticket codes (`tickets.signing_key`).
    signing_key: Arc<str>,
    public_url: Arc<str>,
    mailer: Arc<Mailer>,
}

impl TicketActor {
    pub fn new(pool: PgPool, signing_key: &str, public_url: &str, mailer: Arc<Mailer>) -> Self {
        Self {
            pool,
            waiting: Vec::new(),
            issuing: false,
            signing_key: signing_key.into(),
            public_url: public_url.into(),
            mailer,
        }
    }
}

impl Actor for TicketActor {
    type Context = Context<Self>;
}

impl Supervised for TicketActor {
    /// A batch in flight died with the old context: its waiters are told to retry.
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.waiting.clear();
        self.issuing = false;
    }
}

/// Why tickets were not issued or mailed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("the tickets database failed")]
    Database(#[from] sqlx::Error),
    /// Issuing this booking failed (alone, after its batch failed).
    #[error("the tickets database failed")]
    Batch(#[source] Arc<sqlx::Error>),
    #[error("the ticket actor stopped before the batch committed")]
    Stopped,
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("booking {0} does not exist")]
    UnknownBooking(BookingId),
    #[error("the contact address {0:?} cannot be mailed")]
    BadAddress(String, #[source] lettre::address::AddressError),
    #[error("the ticket mail was not drawn")]
    Render(#[from] actix_web::error::BlockingError),
}

/// One ticket per admission of a sold booking (nothing if it has them).
#[derive(Message)]
#[rtype(result = "Result<(), TicketError>")]
pub struct IssueTickets(pub BookingId);

/// The ticket mail of a booking (nothing if it was sent, or the buyer turned mail off).
#[derive(Message)]
#[rtype(result = "Result<(), TicketError>")]
pub struct MailTickets(pub BookingId);

impl Handler<IssueTickets> for TicketActor {
    type Result = ResponseFuture<Result<(), TicketError>>;

    fn handle(
        &mut self,
        IssueTickets(booking): IssueTickets,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        let (answer, issued) = oneshot::channel();
        self.waiting.push((booking, answer));
        if !self.issuing {
            self.issue_waiting(ctx);
        }
        Box::pin(async move { issued.await.unwrap_or(Err(TicketError::Stopped)) })
    }
}

impl TicketActor {
    /// Issues what is waiting in one transaction, answers each waiter, and goes on with what
    /// arrived meanwhile (group commit, as the event engine does with holds). A batch that fails
    /// is issued again one booking at a time, so only the booking at fault is retried.
    fn issue_waiting(&mut self, ctx: &mut Context<Self>) {
        if self.waiting.is_empty() {
            self.issuing = false;
            return;
        }
        self.issuing = true;
        let take = self.waiting.len().min(ISSUE_BATCH);
        let batch: Vec<_> = self.waiting.drain(..take).collect();
        let bookings: Vec<BookingId> = batch.iter().map(|(booking, _)| *booking).collect();
        let (pool, key, url) = (
            self.pool.clone(),
            self.signing_key.clone(),
            self.public_url.clone(),
        );
        let write = async move {
            let together = store::issue(&pool, &bookings, &key, &url).await;
            match together {
                Ok(_) => bookings.iter().map(|_| Ok(())).collect(),
                // one booking that cannot be issued must not hold up the others: each alone
                Err(_) if bookings.len() > 1 => {
                    let mut alone = Vec::with_capacity(bookings.len());
                    for booking in &bookings {
                        let issued = store::issue(&pool, &[*booking], &key, &url).await;
                        alone.push(issued.map(drop).map_err(Arc::new));
                    }
                    alone
                }
                Err(error) => vec![Err(Arc::new(error))],
            }
        };
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |written: Vec<_>, act, ctx| {
                    for ((_, answer), issued) in batch.into_iter().zip(written) {
                        let _ = answer.send(issued.map_err(TicketError::Batch));
                    }
                    act.issue_waiting(ctx);
                }),
        );
    }
}

impl Handler<MailTickets> for TicketActor {
    type Result = ResponseFuture<Result<(), TicketError>>;

    fn handle(&mut self, MailTickets(booking): MailTickets, _: &mut Context<Self>) -> Self::Result {
        let (pool, mailer) = (self.pool.clone(), self.mailer.clone());
        Box::pin(async move { mail_tickets(&pool, &mailer, booking).await })
    }
}

/// What the buyer paid for: the items still theirs at their prices, and the event's organizer.
async fn receipt_of(
    pool: &PgPool,
    booking: BookingId,
) -> Result<crate::mail::Receipt, sqlx::Error> {
    let lines: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT tt.name, bi.qty, bi.price FROM booking_items bi
         JOIN ticket_types tt ON tt.id = bi.ticket_type_id
         WHERE bi.booking_id = $1 ORDER BY bi.id",
    )
    .bind(booking)
    .fetch_all(pool)
    .await?;
    let (total, currency, promo_code, payment_method, organizer, organizer_email): (
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
    ) = sqlx::query_as(
        "SELECT b.total_price, b.currency, pc.code, b.payment_method,
                COALESCE(o.username, o.email), o.email
         FROM bookings b JOIN events e ON e.id = b.event_id JOIN users o ON o.id = e.organizer_id
         LEFT JOIN promo_codes pc ON pc.id = b.promo_code_id
         WHERE b.id = $1",
    )
    .bind(booking)
    .fetch_one(pool)
    .await?;
    Ok(crate::mail::Receipt {
        lines,
        total,
        currency,
        promo_code,
        payment_method,
        organizer,
        organizer_email,
    })
}

/// Mails a booking's tickets to its contact address (the account's email if none was given),
/// unless the buyer turned email off. Once per booking: the mail is claimed in `sent_mail`
/// (committed) before the mail server is talked to, with no transaction open meanwhile, and
/// marked sent after; a redelivered `tickets.issued` finds it sent and does nothing. A claim
/// never marked sent (the server refused it, or we stopped in between) is sent again.
async fn mail_tickets(
    pool: &PgPool,
    mailer: &Mailer,
    booking: BookingId,
) -> Result<(), TicketError> {
    let contact: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT COALESCE(bu.email, u.email), b.booking_code, COALESCE(us.email_notifications, true)
         FROM bookings b JOIN users u ON u.id = b.user_id
         LEFT JOIN booking_users bu ON bu.booking_id = b.id
         LEFT JOIN user_settings us ON us.user_id = b.user_id
         WHERE b.id = $1",
    )
    .bind(booking)
    .fetch_optional(pool)
    .await?;
    let Some((email, booking_code, wanted)) = contact else {
        return Err(TicketError::UnknownBooking(booking));
    };
    if !wanted {
        return Ok(());
    }
    let to: lettre::message::Mailbox = email
        .parse::<lettre::Address>()
        .map_err(|e| TicketError::BadAddress(email.clone(), e))?
        .into();
    if !crate::mail::claim(pool, "tickets", booking.0, &email).await? {
        return Ok(());
    }
    let tickets = store::of_booking(pool, booking).await?;
    let receipt = receipt_of(pool, booking).await?;
    let from = mailer.from().clone();
    let message = web::block(move || {
        crate::mail::tickets_message(from, to, &booking_code, &tickets, Some(&receipt))
    })
    .await??;
    mailer.send(message).await?;
    crate::mail::mark_sent(pool, "tickets", booking.0).await?;
    tracing::info!(booking_id = %booking, "tickets mailed");
    Ok(())
}
