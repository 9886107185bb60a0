//! Payments in PostgreSQL: the pending payment a checkout creates, and what the gateway's
//! webhook does to it (in one transaction with the outbox row that tells the rest).
use boxoffice_actors::ids::{BookingId, UserId};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

use super::provider::{NewPayment, PaymentProvider, RefundRequest};
use super::{Payment, PaymentError, Transaction, WebhookBody};
use crate::error::{ApiError, Code};
use crate::outbox::subjects::{
    PAYMENT_FAILED, PAYMENT_REFUNDED, PAYMENT_REFUND_FAILED, PAYMENT_SUCCEEDED,
};
use crate::status::PaymentStatus;

const PAYMENT_COLUMNS: &str = "p.id, p.payment_code, p.booking_id, p.price, p.currency,
    p.method, p.provider, p.status, p.checkout_url, p.transaction_id, p.paid_at, p.created_at";

/// A payment's transactions, oldest first, as one JSON column beside [`PAYMENT_COLUMNS`], so a
/// payment is read in one statement.
const TRANSACTIONS: &str = "COALESCE((SELECT json_agg(json_build_object(
        'transaction_id', t.transaction_id, 'status', t.status, 'amount', t.amount,
        'currency', t.currency, 'outcome', t.outcome, 'refund_status', t.refund_status,
        'created_at', t.created_at) ORDER BY t.created_at, t.id)
    FROM payment_transactions t WHERE t.payment_id = p.id), '[]') AS transactions";

#[derive(sqlx::FromRow)]
struct PaymentRow {
    #[sqlx(flatten)]
    payment: Payment,
    transactions: Json<Vec<Transaction>>,
}

impl From<PaymentRow> for Payment {
    fn from(row: PaymentRow) -> Self {
        Payment {
            transactions: row.transactions.0,
            ..row.payment
        }
    }
}

async fn read<'c>(db: impl sqlx::PgExecutor<'c>, id: Uuid) -> Result<Payment, sqlx::Error> {
    let row: PaymentRow = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS}, {TRANSACTIONS} FROM payments p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(row.into())
}

/// A checked-out booking's one open payment: created unless one is open (or paid) already, and
/// registered with the provider outside any transaction. Concurrent callers (a double click, two
/// tabs, the outbox's `bookings.confirmed`) meet the `payments_one_open_key` index and all end
/// with the same payment.
pub async fn ensure_pending(
    pool: &PgPool,
    booking: BookingId,
    provider: &dyn PaymentProvider,
) -> Result<(), PaymentError> {
    let id = Uuid::now_v7();
    let created: Option<(Uuid, String, i64, String, String)> = sqlx::query_as(
        "INSERT INTO payments (id, payment_code, user_id, booking_id, price, currency, method, status, provider)
         SELECT $1, $2, b.user_id, b.id, b.total_price, b.currency, b.payment_method, 'pending', $3
         FROM bookings b
         WHERE b.id = $4 AND b.status = 'pending_payment' AND b.payment_method IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.status IN ('pending', 'succeeded'))
         ON CONFLICT (booking_id) WHERE status = 'pending' DO NOTHING
         RETURNING id, payment_code, price, currency, method",
    )
    .bind(id)
    .bind(format!("PAY-{}", crate::bookings::short_code(id)))
    .bind(provider.name())
    .bind(booking)
    .fetch_optional(pool)
    .await?;
    // ours; else a concurrent caller's, or one whose registration a crash interrupted
    let unregistered = match created {
        Some(created) => Some(created),
        None => {
            sqlx::query_as(
                "SELECT id, payment_code, price, currency, method FROM payments
             WHERE booking_id = $1 AND status = 'pending' AND checkout_url IS NULL",
            )
            .bind(booking)
            .fetch_optional(pool)
            .await?
        }
    };
    let Some((id, payment_code, amount, currency, method)) = unregistered else {
        return Ok(());
    };
    let payment = NewPayment {
        payment_code,
        amount,
        currency,
        method,
    };
    // the provider knows the payment by its code, so registering it twice is harmless
    let checkout_url = provider
        .checkout(&payment)
        .await
        .map_err(PaymentError::Gateway)?;
    sqlx::query("UPDATE payments SET checkout_url = $2 WHERE id = $1 AND checkout_url IS NULL")
        .bind(id)
        .bind(checkout_url)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn find(pool: &PgPool, id: Uuid, user: UserId) -> Result<Option<Payment>, ApiError> {
    let row: Option<PaymentRow> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS}, {TRANSACTIONS} FROM payments p
         WHERE p.id = $1 AND p.user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await?;
    let Some(mut payment) = row.map(Payment::from) else {
        return Ok(None);
    };
    payment.refunds = crate::refunds::store::of_payment(pool, payment.id).await?;
    payment.refund_status = payment.refunds.last().map(|r| r.status.clone());
    Ok(Some(payment))
}

/// The payment a webhook settles, locked, with what is known of the reported transaction.
#[derive(sqlx::FromRow)]
struct Locked {
    #[sqlx(flatten)]
    payment: Payment,
    known_payment: Option<Uuid>,
    known_outcome: Option<String>,
    booking_paid: bool,
}

/// What one transaction the gateway reports does. Every transaction is recorded; money that
/// does not pay for the booking goes back (invariant 7 in docs/ARCHITECTURE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// It pays for the booking: the payment succeeds and the booking is sold.
    Applied,
    /// The gateway took no money.
    Declined,
    /// Another amount or currency than the payment's: kept for review and refunded.
    Flagged,
    /// The payment, or another payment of its booking, was paid already: refunded.
    Duplicate,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Declined => "declined",
            Outcome::Flagged => "flagged",
            Outcome::Duplicate => "duplicate",
        }
    }

    fn from_report(captured: bool, matches: bool, payable: bool) -> Self {
        match (captured, matches, payable) {
            (false, _, _) => Outcome::Declined,
            (true, false, _) => Outcome::Flagged,
            (true, true, true) => Outcome::Applied,
            (true, true, false) => Outcome::Duplicate,
        }
    }

    fn refund_reason(self) -> Option<&'static str> {
        match self {
            Outcome::Flagged => Some("the amount the gateway reported did not match the booking"),
            Outcome::Duplicate => Some("the booking had been paid already"),
            Outcome::Applied | Outcome::Declined => None,
        }
    }
}

/// What a verified webhook call does: records the transaction and settles the payment with it
/// if it pays for the booking. The same `transaction_id` again changes nothing and answers as
/// the first time.
pub async fn settle(
    pool: &PgPool,
    provider: &str,
    payment_code: &str,
    booking: BookingId,
    transaction_id: &str,
    body: &WebhookBody,
) -> Result<Payment, ApiError> {
    let mut tx = pool.begin().await?;
    // the booking first, then the payment: two payments of one booking settle one at a time
    let locked: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM bookings b
         WHERE b.id = $2
           AND EXISTS (SELECT 1 FROM payments p WHERE p.payment_code = $1 AND p.booking_id = b.id)
         FOR UPDATE",
    )
    .bind(payment_code)
    .bind(booking)
    .fetch_optional(&mut *tx)
    .await?;
    if locked.is_none() {
        let owner: Option<BookingId> =
            sqlx::query_scalar("SELECT booking_id FROM payments WHERE payment_code = $1")
                .bind(payment_code)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match owner {
            None => ApiError::not_found("payment"),
            Some(_) => ApiError::new(
                Code::PaymentMismatch,
                "the payment belongs to another booking",
            ),
        });
    }
    let Locked {
        payment,
        known_payment,
        known_outcome,
        booking_paid,
    } = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS}, t.payment_id AS known_payment, t.outcome AS known_outcome,
                EXISTS (SELECT 1 FROM payments o
                        WHERE o.booking_id = p.booking_id AND o.status = 'succeeded') AS booking_paid
         FROM payments p
         LEFT JOIN payment_transactions t ON t.provider = $2 AND t.transaction_id = $3
         WHERE p.payment_code = $1
         FOR UPDATE OF p"
    ))
    .bind(payment_code)
    .bind(provider)
    .bind(transaction_id)
    .fetch_one(&mut *tx)
    .await?;
    if let (Some(settled), Some(outcome)) = (known_payment, known_outcome) {
        if settled != payment.id {
            return Err(ApiError::new(
                Code::PaymentMismatch,
                "this transaction_id settled another payment",
            ));
        }
        if outcome == Outcome::Flagged.as_str() {
            return Err(amount_mismatch(&payment, body));
        }
        return Ok(read(&mut *tx, payment.id).await?);
    }

    let captured = body.status == "succeeded";
    let payable = matches!(
        payment.status,
        PaymentStatus::Pending | PaymentStatus::Failed | PaymentStatus::Cancelled
    ) && !booking_paid;
    let outcome = Outcome::from_report(
        captured,
        body.amount == payment.price && body.currency == payment.currency,
        payable,
    );
    let recorded: Uuid = sqlx::query_scalar(
        "INSERT INTO payment_transactions
             (id, payment_id, provider, transaction_id, status, amount, currency, outcome, refund_status, refund_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::text IS NULL THEN NULL ELSE 'pending' END, $9)
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(payment.id)
    .bind(provider)
    .bind(transaction_id)
    .bind(&body.status)
    .bind(body.amount)
    .bind(&body.currency)
    .bind(outcome.as_str())
    .bind(if captured { outcome.refund_reason() } else { None })
    .fetch_one(&mut *tx)
    .await?;

    match outcome {
        Outcome::Applied => {
            // paid, whatever else was open for the booking closed (it can no longer be
            // paid), and the outbox row that tells the rest, in one statement
            sqlx::query(
                "WITH paid AS (
                     UPDATE payments SET status = 'succeeded', transaction_id = $2, paid_at = now()
                     WHERE id = $1 RETURNING id),
                 closed AS (
                     UPDATE payments SET status = 'cancelled'
                     WHERE booking_id = $3 AND status = 'pending' AND id <> $1)
                 INSERT INTO outbox (subject, aggregate_id, payload)
                 SELECT $4, p.id, jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id,
                          'event_id', b.event_id, 'user_id', p.user_id, 'price', p.price,
                          'currency', p.currency)
                 FROM payments p JOIN bookings b ON b.id = p.booking_id
                 WHERE p.id = (SELECT id FROM paid)",
            )
            .bind(payment.id)
            .bind(transaction_id)
            .bind(booking)
            .bind(PAYMENT_SUCCEEDED)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Declined if payment.status == PaymentStatus::Pending => {
            sqlx::query("UPDATE payments SET status = 'failed', transaction_id = $2 WHERE id = $1")
                .bind(payment.id)
                .bind(transaction_id)
                .execute(&mut *tx)
                .await?;
            // the buyer may check out again while the hold lasts
            sqlx::query(
                "UPDATE bookings SET status = 'held' WHERE id = $1 AND status = 'pending_payment'",
            )
            .bind(booking)
            .execute(&mut *tx)
            .await?;
            emit(&mut tx, PAYMENT_FAILED, payment.id).await?;
        }
        Outcome::Declined => {}
        Outcome::Flagged | Outcome::Duplicate => {
            tracing::warn!(payment_id = %payment.id, outcome = outcome.as_str(),
                "the gateway captured money that does not pay for the booking; refunding it");
            request_refund(&mut tx, recorded).await?;
        }
    }
    let settled = read(&mut *tx, payment.id).await?;
    tx.commit().await?;
    if outcome == Outcome::Flagged {
        return Err(amount_mismatch(&settled, body));
    }
    Ok(settled)
}

fn amount_mismatch(payment: &Payment, body: &WebhookBody) -> ApiError {
    ApiError::new(
        Code::AmountMismatch,
        format!(
            "expected {}, the gateway reported {} {}; the transaction is kept for review and refunded",
            crate::money::format(payment.price, &payment.currency),
            body.amount,
            body.currency
        ),
    )
}

/// The payment's outbox row for `subject`, with what its consumers need.
async fn emit(
    tx: &mut sqlx::PgConnection,
    subject: &str,
    payment: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $2, p.id, jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id,
                  'event_id', b.event_id, 'user_id', p.user_id, 'price', p.price, 'currency', p.currency)
         FROM payments p JOIN bookings b ON b.id = p.booking_id WHERE p.id = $1",
    )
    .bind(payment)
    .bind(subject)
    .execute(tx)
    .await?;
    Ok(())
}

/// Asks the payments consumer (`payments.refund_requested`) to give a recorded transaction's
/// money back; the request is durable with the change that caused it.
async fn request_refund(tx: &mut sqlx::PgConnection, transaction: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT 'payments.refund_requested', p.id, jsonb_build_object('transaction', t.id,
                  'payment_id', p.id, 'booking_id', p.booking_id, 'user_id', p.user_id,
                  'amount', t.amount, 'currency', t.currency, 'reason', t.refund_reason)
         FROM payment_transactions t JOIN payments p ON p.id = t.payment_id WHERE t.id = $1",
    )
    .bind(transaction)
    .execute(tx)
    .await?;
    Ok(())
}

/// A succeeded payment whose admissions the engine could not sell (the hold ended and the
/// seats went to someone else, or the buyer cancelled): its transaction is to be refunded.
/// Asking twice changes nothing.
pub async fn refund_payment(
    pool: &PgPool,
    payment: Uuid,
    reason: &str,
) -> Result<(), PaymentError> {
    let mut tx = pool.begin().await?;
    let marked: Option<Uuid> = sqlx::query_scalar(
        "UPDATE payment_transactions t SET refund_status = 'pending', refund_reason = $2
         FROM payments p
         WHERE p.id = $1 AND t.payment_id = p.id AND p.status = 'succeeded'
           AND t.outcome = 'applied' AND t.refund_status IS NULL
         RETURNING t.id",
    )
    .bind(payment)
    .bind(reason)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(transaction) = marked {
        request_refund(&mut tx, transaction).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Gives a recorded transaction's money back through the provider, then records it (and a
/// refunded applied payment's status) with the `payments.refunded` row that tells the buyer.
/// The provider is called with no transaction open; it refunds a transaction once however
/// often it is asked, so a crash between the call and the record only repeats the call.
pub async fn refund_transaction(
    pool: &PgPool,
    transaction: Uuid,
    provider: &dyn PaymentProvider,
) -> Result<(), PaymentError> {
    let pending: Option<(String, String, i64, String)> = sqlx::query_as(
        "SELECT p.payment_code, t.transaction_id, t.amount, t.currency
         FROM payment_transactions t JOIN payments p ON p.id = t.payment_id
         WHERE t.id = $1 AND t.refund_status = 'pending'",
    )
    .bind(transaction)
    .fetch_optional(pool)
    .await?;
    let Some((payment_code, transaction_id, amount, currency)) = pending else {
        return Ok(());
    };
    provider
        .refund(&RefundRequest {
            key: transaction_id.clone(),
            payment_code,
            transaction_id,
            amount,
            currency,
        })
        .await
        .map_err(PaymentError::Gateway)?;
    let mut tx = pool.begin().await?;
    let refunded: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE payment_transactions SET refund_status = 'succeeded', refunded_at = now()
         WHERE id = $1 AND refund_status = 'pending' RETURNING payment_id, outcome",
    )
    .bind(transaction)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((payment, outcome)) = refunded else {
        return Ok(());
    };
    if outcome == Outcome::Applied.as_str() {
        sqlx::query(
            "UPDATE payments SET status = 'refunded' WHERE id = $1 AND status = 'succeeded'",
        )
        .bind(payment)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT 'payments.refunded', p.id, jsonb_build_object('payment_id', p.id,
                  'booking_id', p.booking_id, 'user_id', p.user_id, 'transaction', t.id,
                  'amount', t.amount, 'currency', t.currency, 'reason', t.refund_reason)
         FROM payment_transactions t JOIN payments p ON p.id = t.payment_id WHERE t.id = $1",
    )
    .bind(transaction)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a refund of sold tickets back through the provider (the payment's applied
/// transaction, for the refund's amount, keyed by the refund so a repeated call refunds once),
/// with no transaction open; then records it with the `payments.refunded` row that tells the
/// buyer. The payment is `refunded` once its refunds add up to its price. A refusal counts an
/// attempt: retried with the outbox's backoff until `max_attempts`, then the refund is
/// `failed` and `payments.refund_failed` tells the organizer.
pub async fn refund_tickets(
    pool: &PgPool,
    refund: Uuid,
    provider: &dyn PaymentProvider,
    max_attempts: u32,
) -> Result<(), PaymentError> {
    let pending: Option<(String, String, i64, String)> = sqlx::query_as(
        "SELECT p.payment_code, t.transaction_id, r.amount, r.currency
         FROM refunds r JOIN payments p ON p.id = r.payment_id
         JOIN payment_transactions t ON t.payment_id = p.id AND t.outcome = 'applied'
         WHERE r.id = $1 AND r.status = 'pending'",
    )
    .bind(refund)
    .fetch_optional(pool)
    .await?;
    let Some((payment_code, transaction_id, amount, currency)) = pending else {
        return Ok(());
    };
    let asked = provider
        .refund(&RefundRequest {
            key: format!("refund-{refund}"),
            payment_code,
            transaction_id,
            amount,
            currency,
        })
        .await;
    let mut tx = pool.begin().await?;
    if let Err(error) = asked {
        let reason = format!("{error:#}");
        let failed: Option<bool> = sqlx::query_scalar(
            "UPDATE refunds SET attempts = attempts + 1, last_error = $2, updated_at = now(),
                 status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE status END
             WHERE id = $1 AND status = 'pending' RETURNING status = 'failed'",
        )
        .bind(refund)
        .bind(&reason)
        .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        if failed == Some(true) {
            sqlx::query(
                "INSERT INTO outbox (subject, aggregate_id, payload)
                 SELECT $2, r.payment_id, jsonb_build_object('refund', r.id,
                          'booking_id', r.booking_id, 'event_id', r.event_id,
                          'user_id', e.organizer_id, 'amount', r.amount, 'currency', r.currency,
                          'booking_code', b.booking_code, 'error', r.last_error)
                 FROM refunds r JOIN events e ON e.id = r.event_id JOIN bookings b ON b.id = r.booking_id
                 WHERE r.id = $1",
            )
            .bind(refund)
            .bind(PAYMENT_REFUND_FAILED)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(refund_id = %refund, %reason, "the provider refused every attempt: refund failed");
            return Ok(());
        }
        tx.commit().await?;
        return Err(PaymentError::Gateway(error));
    }
    let done: Option<Uuid> = sqlx::query_scalar(
        "UPDATE refunds SET status = 'succeeded', refunded_at = now(), attempts = attempts + 1,
             last_error = NULL, updated_at = now()
         WHERE id = $1 AND status = 'pending' RETURNING payment_id",
    )
    .bind(refund)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment) = done else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE payments p SET status = 'refunded'
         WHERE p.id = $1 AND p.status = 'succeeded'
           AND (SELECT COALESCE(sum(r.amount), 0) FROM refunds r
                WHERE r.payment_id = p.id AND r.status = 'succeeded') >= p.price",
    )
    .bind(payment)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT $2, r.payment_id, jsonb_build_object('payment_id', r.payment_id,
                  'booking_id', r.booking_id, 'user_id', r.user_id, 'refund', r.id,
                  'amount', r.amount, 'currency', r.currency, 'reason', r.reason)
         FROM refunds r WHERE r.id = $1",
    )
    .bind(refund)
    .bind(PAYMENT_REFUNDED)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(refund_id = %refund, amount, "refund given back");
    Ok(())
}
