//! The gateway port and the `PaymentActor` that talks to it. The actor creates a booking's
//! payment with the provider when the booking is checked out (asked directly by the checkout
//! handler, and again by the outbox's `bookings.confirmed`, so a crash in between loses
//! nothing) and refunds through the provider. Both are idempotent.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix::prelude::*;
use boxoffice_actors::ids::BookingId;
use sqlx::PgPool;
use uuid::Uuid;

use super::PaymentError;

/// What a gateway call answers: its failures come with their cause, whatever the gateway is.
pub type GatewayFuture<T> = Pin<Box<dyn Future<Output = Result<T, anyhow::Error>> + Send>>;

/// What a gateway must do for us.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Stored on each payment.
    fn name(&self) -> &'static str;

    /// Registers a payment with the gateway and returns where the buyer pays it.
    fn checkout(&self, payment: &NewPayment) -> GatewayFuture<String>;

    /// Gives one captured transaction's money back. Asked again for the same transaction, a
    /// provider refunds it once (real gateways take the transaction id as the refund's
    /// idempotency key).
    fn refund(&self, refund: &RefundRequest) -> GatewayFuture<()>;
}

pub struct RefundRequest {
    /// The refund's idempotency key with the provider: asked twice with one key, it refunds once.
    pub key: String,
    pub payment_code: String,
    pub transaction_id: String,
    pub amount: i64,
    pub currency: String,
}

pub struct NewPayment {
    pub payment_code: String,
    pub amount: i64,
    pub currency: String,
    pub method: String,
}

/// The built-in stand-in: its hosted page lives in this server (see [`super::sandbox`]) and
/// refunds need no call.
pub struct Sandbox {
    pub public_url: String,
}

impl Sandbox {
    /// In a transaction id: the sandbox refuses to refund it.
    pub const REFUNDS_DECLINED: &'static str = "refunds_declined";
}

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn checkout(&self, payment: &NewPayment) -> GatewayFuture<String> {
        let url = format!(
            "{}/sandbox/pay/{}",
            self.public_url.trim_end_matches('/'),
            payment.payment_code
        );
        Box::pin(async move { Ok(url) })
    }

    /// Declines refunds of a transaction whose id contains [`Sandbox::REFUNDS_DECLINED`] (the
    /// hosted page's "Pay (refunds declined)"), as real gateways' test cards do, so a refund
    /// the provider refuses can be seen end to end.
    fn refund(&self, refund: &RefundRequest) -> GatewayFuture<()> {
        let declined = refund.transaction_id.contains(Self::REFUNDS_DECLINED);
        Box::pin(async move {
            if declined {
                anyhow::bail!("the sandbox declines refunds of this transaction");
            }
            Ok(())
        })
    }
}

pub struct PaymentActor {
    pool: PgPool,
    provider: Arc<dyn PaymentProvider>,
    /// Calls to the provider before a refund is `failed` (`payment.refund_attempts`).
    refund_attempts: u32,
}

impl PaymentActor {
    pub fn new(pool: PgPool, provider: Arc<dyn PaymentProvider>, refund_attempts: u32) -> Self {
        Self {
            pool,
            provider,
            refund_attempts,
        }
    }
}

impl Actor for PaymentActor {
    type Context = Context<Self>;
}

impl Supervised for PaymentActor {}

/// Make sure a checked-out booking has a pending payment with the gateway.
#[derive(Message)]
#[rtype(result = "Result<(), PaymentError>")]
pub struct EnsurePayment(pub BookingId);

/// A succeeded payment's booking could not be sold; payments decide what happens to the money
/// (today: it is refunded, saying why).
#[derive(Message)]
#[rtype(result = "Result<(), PaymentError>")]
pub struct Unsold {
    pub payment: Uuid,
    pub why: UnsoldBecause,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsoldBecause {
    /// The buyer cancelled the booking before the payment arrived.
    BookingCancelled,
    /// The hold had ended and its admissions were sold to someone else.
    AdmissionsSold,
}

impl UnsoldBecause {
    /// What the buyer is told (the refund notification says "We refunded 90.00 USD: <this>.").
    pub fn reason(self) -> &'static str {
        match self {
            Self::BookingCancelled => "the booking was cancelled before the payment arrived",
            Self::AdmissionsSold => {
                "your hold had ended and the seats were sold before the payment arrived"
            }
        }
    }
}

/// Give a recorded transaction's money back through the provider.
#[derive(Message)]
#[rtype(result = "Result<(), PaymentError>")]
pub struct RefundTransaction(pub Uuid);

/// Give a refund of sold tickets back through the provider: retried (the outbox's backoff)
/// until `payment.refund_attempts` calls have failed, then `failed`.
#[derive(Message)]
#[rtype(result = "Result<(), PaymentError>")]
pub struct RefundTickets(pub Uuid);

impl Handler<RefundTickets> for PaymentActor {
    type Result = ResponseFuture<Result<(), PaymentError>>;

    fn handle(&mut self, msg: RefundTickets, _: &mut Context<Self>) -> Self::Result {
        let (pool, provider, attempts) = (
            self.pool.clone(),
            self.provider.clone(),
            self.refund_attempts,
        );
        Box::pin(async move {
            super::store::refund_tickets(&pool, msg.0, provider.as_ref(), attempts).await
        })
    }
}

impl Handler<EnsurePayment> for PaymentActor {
    type Result = ResponseFuture<Result<(), PaymentError>>;

    fn handle(
        &mut self,
        EnsurePayment(booking): EnsurePayment,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let (pool, provider) = (self.pool.clone(), self.provider.clone());
        Box::pin(
            async move { super::store::ensure_pending(&pool, booking, provider.as_ref()).await },
        )
    }
}

impl Handler<Unsold> for PaymentActor {
    type Result = ResponseFuture<Result<(), PaymentError>>;

    fn handle(&mut self, msg: Unsold, _: &mut Context<Self>) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            tracing::info!(payment_id = %msg.payment, why = ?msg.why, "paid booking not sold: refunding");
            super::store::refund_payment(&pool, msg.payment, msg.why.reason()).await
        })
    }
}

impl Handler<RefundTransaction> for PaymentActor {
    type Result = ResponseFuture<Result<(), PaymentError>>;

    fn handle(&mut self, msg: RefundTransaction, _: &mut Context<Self>) -> Self::Result {
        let (pool, provider) = (self.pool.clone(), self.provider.clone());
        Box::pin(
            async move { super::store::refund_transaction(&pool, msg.0, provider.as_ref()).await },
        )
    }
}
