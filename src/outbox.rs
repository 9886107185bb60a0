//! The outbox dispatcher: domain events written in the same transaction as the change that
//! causes them are delivered at least once, in order per aggregate, by one task per server.
//! Rows not yet delivered (a crash, a failing handler) are retried with backoff, also after a
//! restart, so every handler is idempotent.
use std::collections::HashMap;
use std::time::Duration;

use actix_web::web;
use boxoffice_actors::event_actor::{Confirmation, EngineError};
use boxoffice_actors::ids::BookingId;
use boxoffice_actors::inventory::Rejection;
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use uuid::Uuid;

use crate::bookings::journal;
use crate::notifications::{self, FromEvent};
use crate::payments::provider::{EnsurePayment, Refund, RefundTransaction};
use crate::startup::AppState;
use crate::tickets::actor::{IssueTickets, MailTickets};

/// How often undelivered rows are looked for when nobody pokes the dispatcher.
const POLL: Duration = Duration::from_millis(500);
/// Rows read per query: at flash-sale rates most are `bookings.held`, which nobody acts on, so
/// large batches keep the dispatcher's share of the database small.
const BATCH: i64 = 1000;

/// Aggregates (bookings, payments) whose rows are delivered at the same time; each one's rows
/// go in order. Small next to `database.max_connections`: a ticket mail keeps a connection while
/// it is sent, and the API needs the rest.
const CONCURRENCY: usize = 8;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    aggregate_id: Uuid,
    subject: String,
    payload: serde_json::Value,
    attempts: i32,
}

/// Delivers until the server stops.
pub async fn run(state: web::Data<AppState>) {
    loop {
        match deliver_due(&state).await {
            // delivering makes new rows (a payment's sale, then its tickets, then their mail)
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "outbox delivery failed; retrying"),
        }
        tokio::select! {
            _ = state.outbox.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Delivers the rows that are due, several aggregates at a time and each aggregate's rows in
/// order; returns how many it looked at.
async fn deliver_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, aggregate_id, subject, payload, attempts FROM outbox
         WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&state.pool)
    .await?;
    let count = rows.len();
    let mut by_aggregate: Vec<Vec<Row>> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for row in rows {
        let slot = *index.entry(row.aggregate_id).or_insert_with(|| {
            by_aggregate.push(Vec::new());
            by_aggregate.len() - 1
        });
        by_aggregate[slot].push(row);
    }
    let outcomes: Vec<Vec<(Row, Result<(), String>)>> = stream::iter(by_aggregate)
        .map(|rows| async move {
            let mut outcomes = Vec::with_capacity(rows.len());
            for row in rows {
                let outcome = deliver(state, &row).await;
                outcomes.push((row, outcome));
            }
            outcomes
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut delivered = Vec::with_capacity(count);
    for (row, outcome) in outcomes.into_iter().flatten() {
        match outcome {
            Ok(()) => delivered.push(row.id),
            Err(error) => {
                let backoff = 2_i64.saturating_pow(row.attempts.clamp(0, 8) as u32);
                tracing::warn!(outbox_id = row.id, subject = %row.subject, %error, backoff, "delivery failed");
                sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1,
                            next_attempt_at = now() + make_interval(secs => $2)
                     WHERE id = $1",
                )
                .bind(row.id)
                .bind(backoff as f64)
                .execute(&state.pool)
                .await?;
            }
        }
    }
    sqlx::query("UPDATE outbox SET delivered_at = now() WHERE id = ANY($1)")
        .bind(&delivered)
        .execute(&state.pool)
        .await?;
    Ok(count)
}

/// Routes one domain event to whoever acts on it, then to its user's notifications.
async fn deliver(state: &AppState, row: &Row) -> Result<(), String> {
    act(state, row).await?;
    if !notifications::notifies(&row.subject) {
        return Ok(());
    }
    let event = FromEvent {
        outbox_id: row.id,
        subject: row.subject.clone(),
        payload: row.payload.clone(),
    };
    state.hub.send(event).await.map_err(|e| e.to_string())?
}

/// What the event makes happen; subjects nobody acts on are done.
async fn act(state: &AppState, row: &Row) -> Result<(), String> {
    match row.subject.as_str() {
        "payments.succeeded" => {
            let paid: Paid =
                serde_json::from_value(row.payload.clone()).map_err(|e| e.to_string())?;
            sell_paid_booking(state, paid).await
        }
        "bookings.paid" => {
            let sold: Sold =
                serde_json::from_value(row.payload.clone()).map_err(|e| e.to_string())?;
            state
                .tickets
                .send(IssueTickets(sold.booking_id))
                .await
                .map_err(|e| e.to_string())?
        }
        "bookings.confirmed" => {
            let sold: Sold =
                serde_json::from_value(row.payload.clone()).map_err(|e| e.to_string())?;
            state
                .payments
                .send(EnsurePayment(sold.booking_id))
                .await
                .map_err(|e| e.to_string())?
        }
        "payments.refund_requested" => {
            let requested: RefundRequested =
                serde_json::from_value(row.payload.clone()).map_err(|e| e.to_string())?;
            state
                .payments
                .send(RefundTransaction(requested.transaction))
                .await
                .map_err(|e| e.to_string())?
        }
        "tickets.issued" => {
            let sold: Sold =
                serde_json::from_value(row.payload.clone()).map_err(|e| e.to_string())?;
            state
                .tickets
                .send(MailTickets(sold.booking_id))
                .await
                .map_err(|e| e.to_string())?
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct Sold {
    booking_id: BookingId,
}

#[derive(Deserialize)]
struct RefundRequested {
    transaction: Uuid,
}

#[derive(Deserialize)]
struct Paid {
    payment_id: Uuid,
    booking_id: BookingId,
}

/// A payment succeeded: the event's actor sells the booking's admissions, or, if its hold
/// ended and the admissions went to someone else, the payment is refunded. Delivered twice,
/// the second time finds the booking confirmed (or the payment refunded) and changes nothing.
async fn sell_paid_booking(state: &AppState, paid: Paid) -> Result<(), String> {
    let refund = |reason: &str| Refund {
        payment: paid.payment_id,
        reason: reason.to_owned(),
    };
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
        .bind(paid.booking_id)
        .fetch_optional(&state.pool)
        .await
        .map_err(|e| e.to_string())?;
    if status.as_deref() == Some("cancelled") {
        tracing::info!(booking_id = %paid.booking_id, "payment for a cancelled booking: refunding");
        let refund = refund("the booking was cancelled before the payment arrived");
        return state
            .payments
            .send(refund)
            .await
            .map_err(|e| e.to_string())?;
    }
    let Some((event, recorded)) = journal::recorded(&state.pool, paid.booking_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("booking {} not found", paid.booking_id));
    };
    match state
        .engine
        .confirm(event, paid.booking_id, Some(recorded))
        .await
    {
        Ok(Confirmation::Confirmed | Confirmation::AlreadyConfirmed) => Ok(()),
        Ok(Confirmation::Reinstated) => {
            tracing::info!(booking_id = %paid.booking_id, "late payment: the expired hold was sold again");
            Ok(())
        }
        Err(EngineError::Rejected(
            rejection @ (Rejection::SoldOut
            | Rejection::SeatTaken(_)
            | Rejection::UnknownSeat(_)
            | Rejection::UnknownTicketType(_)),
        )) => {
            tracing::info!(booking_id = %paid.booking_id, %rejection, "late payment for admissions sold since: refunding");
            let refund =
                refund("your hold had ended and the seats were sold before the payment arrived");
            state
                .payments
                .send(refund)
                .await
                .map_err(|e| e.to_string())?
        }
        Err(error) => Err(error.to_string()),
    }
}
