//! Payments in PostgreSQL: the pending payment a checkout creates, and what the gateway's
//! webhook does to it (in one transaction with the outbox row that tells the rest).
use boxoffice_actors::ids::{BookingId, UserId};
use sqlx::PgPool;
use uuid::Uuid;

use super::provider::{NewPayment, PaymentProvider};
use super::{Payment, WebhookBody};
use crate::error::{ApiError, Code};

const PAYMENT_COLUMNS: &str =
    "id, payment_code, booking_id, price, currency, method, provider, status,
    checkout_url, transaction_id, paid_at, created_at";

/// A checked-out booking's pending payment, created with the provider unless one is pending
/// (or succeeded) already.
pub async fn ensure_pending(
    pool: &PgPool,
    booking: BookingId,
    provider: &dyn PaymentProvider,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let wanted: Option<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT b.total_price, b.currency, b.payment_method FROM bookings b
         WHERE b.id = $1 AND b.status = 'pending_payment'
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.status IN ('pending', 'succeeded'))
         FOR UPDATE",
    )
    .bind(booking)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((amount, currency, Some(method))) = wanted else {
        return Ok(());
    };
    let id = Uuid::now_v7();
    let payment = NewPayment {
        payment_code: format!("PAY-{}", crate::bookings::short_code(id)),
        amount,
        currency,
        method,
    };
    let checkout_url = provider
        .checkout(&payment)
        .await
        .map_err(sqlx::Error::Protocol)?;
    sqlx::query(
        "INSERT INTO payments (id, payment_code, user_id, booking_id, price, currency, method, status, provider, checkout_url)
         SELECT $1, $2, b.user_id, b.id, $3, $4, $5, 'pending', $6, $7 FROM bookings b WHERE b.id = $8",
    )
    .bind(id)
    .bind(&payment.payment_code)
    .bind(payment.amount)
    .bind(&payment.currency)
    .bind(&payment.method)
    .bind(provider.name())
    .bind(checkout_url)
    .bind(booking)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn find(pool: &PgPool, id: Uuid, user: UserId) -> Result<Option<Payment>, ApiError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?)
}

/// What a verified webhook call does: settles a pending payment once. The same
/// `transaction_id` again changes nothing and answers the payment as it is.
pub async fn settle(
    pool: &PgPool,
    payment_code: &str,
    booking: BookingId,
    transaction_id: &str,
    body: &WebhookBody,
) -> Result<Payment, ApiError> {
    let mut tx = pool.begin().await?;
    let payment: Option<Payment> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_code = $1 FOR UPDATE"
    ))
    .bind(payment_code)
    .fetch_optional(&mut *tx)
    .await?;
    let payment = payment.ok_or_else(|| ApiError::not_found("payment"))?;
    if payment.booking_id != booking {
        return Err(ApiError::new(
            Code::PaymentMismatch,
            "the payment belongs to another booking",
        ));
    }
    if payment.transaction_id.as_deref() == Some(transaction_id) {
        return Ok(payment);
    }
    if payment.status != "pending" {
        return Err(ApiError::new(
            Code::InvalidState,
            format!("the payment is already {}", payment.status),
        ));
    }
    if body.amount != payment.price || body.currency != payment.currency {
        // kept for a person to look at: money arrived that does not match what was asked
        sqlx::query("UPDATE payments SET status = 'flagged', transaction_id = $2 WHERE id = $1")
            .bind(payment.id)
            .bind(transaction_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(payment_id = %payment.id, "webhook amount or currency differs; payment flagged");
        return Err(ApiError::new(
            Code::AmountMismatch,
            format!(
                "expected {} {}, the gateway reported {} {}; the payment is flagged",
                payment.price, payment.currency, body.amount, body.currency
            ),
        ));
    }
    let succeeded = body.status == "succeeded";
    let updated = sqlx::query(
        "UPDATE payments SET status = $2, transaction_id = $3,
                paid_at = CASE WHEN $2 = 'succeeded' THEN now() END
         WHERE id = $1",
    )
    .bind(payment.id)
    .bind(&body.status)
    .bind(transaction_id)
    .execute(&mut *tx)
    .await;
    if let Err(error) = &updated {
        match crate::error::violated_constraint(error) {
            Some("payments_transaction_key") => {
                return Err(ApiError::new(
                    Code::PaymentMismatch,
                    "this transaction_id settled another payment",
                ))
            }
            Some("payments_one_success_key") => {
                return Err(ApiError::new(
                    Code::InvalidState,
                    "another payment of this booking succeeded already",
                ))
            }
            _ => {}
        }
    }
    updated?;
    if !succeeded {
        // the buyer may check out again while the hold lasts
        sqlx::query(
            "UPDATE bookings SET status = 'held' WHERE id = $1 AND status = 'pending_payment'",
        )
        .bind(booking)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $2, p.id, jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id,
                  'event_id', b.event_id, 'user_id', p.user_id, 'price', p.price, 'currency', p.currency)
         FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.id = $1",
    )
    .bind(payment.id)
    .bind(if succeeded { "payments.succeeded" } else { "payments.failed" })
    .execute(&mut *tx)
    .await?;
    let payment: Payment = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
    ))
    .bind(payment.id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(payment)
}

/// A payment that succeeded for seats the engine could not sell any more goes back to the
/// buyer, through the provider; refunding twice changes nothing.
pub async fn refund(
    pool: &PgPool,
    payment: Uuid,
    reason: &str,
    provider: &dyn PaymentProvider,
) -> Result<(), String> {
    let failed = |e: sqlx::Error| e.to_string();
    let mut tx = pool.begin().await.map_err(failed)?;
    let settled: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT payment_code, price, currency FROM payments WHERE id = $1 AND status = 'succeeded' FOR UPDATE",
    )
    .bind(payment)
    .fetch_optional(&mut *tx)
    .await
    .map_err(failed)?;
    let Some((code, amount, currency)) = settled else {
        return Ok(());
    };
    provider.refund(&code, amount, &currency).await?;
    sqlx::query("UPDATE payments SET status = 'refunded' WHERE id = $1")
        .bind(payment)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT 'payments.refunded', p.id, jsonb_build_object('payment_id', p.id,
                  'booking_id', p.booking_id, 'user_id', p.user_id, 'reason', $2::text)
         FROM payments p WHERE p.id = $1",
    )
    .bind(payment)
    .bind(reason)
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)
}
