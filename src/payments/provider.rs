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

/// What a gateway must do for us.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Stored on each payment.
    fn name(&self) -> &'static str;

    /// Registers a payment with the gateway and returns where the buyer pays it.
    fn checkout(
        &self,
        payment: &NewPayment,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

    /// Gives one captured transaction's money back. Asked again for the same transaction, a
    /// provider refunds it once (real gateways take the transaction id as the refund's
    /// idempotency key).
    fn refund(
        &self,
        refund: &RefundRequest,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}

pub struct RefundRequest {
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

impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn checkout(
        &self,
        payment: &NewPayment,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> {
        let url = format!(
            "{}/sandbox/pay/{}",
            self.public_url.trim_end_matches('/'),
            payment.payment_code
        );
        Box::pin(async move { Ok(url) })
    }

    fn refund(
        &self,
        _: &RefundRequest,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        Box::pin(async { Ok(()) })
    }
}

pub struct PaymentActor {
    pool: PgPool,
    provider: Arc<dyn PaymentProvider>,
}

impl PaymentActor {
    pub fn new(pool: PgPool, provider: Arc<dyn PaymentProvider>) -> Self {
        Self { pool, provider }
    }
}

impl Actor for PaymentActor {
    type Context = Context<Self>;
}

impl Supervised for PaymentActor {}

/// Make sure a checked-out booking has a pending payment with the gateway.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct EnsurePayment(pub BookingId);

/// Refund a succeeded payment (its seats could not be sold), saying why.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Refund {
    pub payment: Uuid,
    pub reason: String,
}

/// Give a recorded transaction's money back through the provider.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct RefundTransaction(pub Uuid);

impl Handler<EnsurePayment> for PaymentActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(
        &mut self,
        EnsurePayment(booking): EnsurePayment,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let (pool, provider) = (self.pool.clone(), self.provider.clone());
        Box::pin(async move {
            super::store::ensure_pending(&pool, booking, provider.as_ref())
                .await
                .map_err(|e| e.to_string())
        })
    }
}

impl Handler<Refund> for PaymentActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, msg: Refund, _: &mut Context<Self>) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            super::store::refund_payment(&pool, msg.payment, &msg.reason)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

impl Handler<RefundTransaction> for PaymentActor {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, msg: RefundTransaction, _: &mut Context<Self>) -> Self::Result {
        let (pool, provider) = (self.pool.clone(), self.provider.clone());
        Box::pin(async move {
            super::store::refund_transaction(&pool, msg.0, provider.as_ref())
                .await
                .map_err(|e| e.to_string())
        })
    }
}
