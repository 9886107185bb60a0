//! Payments: the pending payment a checkout creates with the gateway, the gateway's signed
//! webhook that settles it, and the buyer's view of it. What a settled payment does to the
//! booking happens after, through the outbox (see [`crate::outbox`]).
pub mod consumer;
pub mod provider;
pub mod sandbox;
pub mod signature;
pub mod store;

use actix_web::{web, HttpRequest, HttpResponse};
use boxoffice_actors::ids::BookingId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::config::Settings;
use crate::error::{ApiError, Code};
use crate::input::JsonBytes;
use crate::outbox::Wake;
use crate::status::PaymentStatus;
use sqlx::PgPool;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/payments/webhook").route(web::post().to(webhook)))
        .service(web::resource("/payments/{id}").route(web::get().to(get_payment)));
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Payment {
    pub id: Uuid,
    pub payment_code: String,
    pub booking_id: BookingId,
    /// Minor units of `currency`: the booking's total when it was checked out.
    pub price: i64,
    pub currency: String,
    /// `card`, `bank_transfer` or `ewallet`.
    pub method: String,
    pub provider: String,
    /// `pending` (open: at most one per booking), `succeeded`, `failed`, `refunded`, or
    /// `cancelled` (closed unpaid: another payment of the booking was paid). `flagged` is only
    /// found on payments settled before mismatched amounts were recorded as transactions.
    pub status: PaymentStatus,
    /// Where the buyer pays (the gateway's hosted page).
    pub checkout_url: Option<String>,
    pub transaction_id: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Every transaction the gateway reported for this payment, oldest first.
    #[sqlx(skip)]
    pub transactions: Vec<Transaction>,
    /// Refunds of the booking's tickets, oldest first (the organizer's, the buyer's, or the
    /// event's cancellation).
    #[sqlx(skip)]
    pub refunds: Vec<crate::refunds::Refund>,
    /// The latest refund's status: `pending`, `succeeded` or `failed`; absent without one.
    #[sqlx(skip)]
    pub refund_status: Option<String>,
}

/// One transaction the gateway reported. Money it captured either pays for the booking
/// (`applied`) or is refunded (`refund_status`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Transaction {
    pub transaction_id: String,
    /// What the gateway reported: `succeeded` or `failed`.
    pub status: String,
    pub amount: i64,
    pub currency: String,
    /// `applied` (paid the booking), `declined`, `flagged` (another amount or currency than
    /// the payment's, kept for review and refunded) or `duplicate` (the booking was paid
    /// already; refunded).
    pub outcome: String,
    /// `pending` or `succeeded` for money on its way back; absent when nothing is refunded.
    pub refund_status: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What can go wrong below HTTP when payments talk to the provider and the database.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("the payment gateway failed: {0:#}")]
    Gateway(anyhow::Error),
    #[error("the payments database failed")]
    Database(#[from] sqlx::Error),
}

/// One of the caller's payments.
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = Payment), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_payment(
    pool: web::Data<PgPool>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let payment = store::find(&pool, *id, user.id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    Ok(HttpResponse::Ok().json(payment))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    pub payment_code: String,
    pub booking_id: BookingId,
    /// The gateway's id of the transaction; a second call with the same id changes nothing.
    pub transaction_id: String,
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookBody {
    /// `succeeded` or `failed`.
    pub status: String,
    /// Minor units; must equal the payment's price.
    pub amount: i64,
    pub currency: String,
}

/// The gateway reports a payment's outcome. Signed: `X-Boxoffice-Signature: t=<unix
/// seconds>,v1=<hex HMAC-SHA256(payment.webhook_secret, "<t>.<raw query string>.<raw body>")>`,
/// within 5 minutes of our clock.
#[utoipa::path(post, path = "/v1/payments/webhook", tag = "payments", params(WebhookQuery,
        ("X-Boxoffice-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    request_body = WebhookBody,
    responses((status = 200, body = Payment), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn webhook(
    wake: web::Data<Wake>,
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    request: HttpRequest,
    JsonBytes(body): JsonBytes,
) -> Result<HttpResponse, ApiError> {
    let header = request
        .headers()
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok());
    let secret = settings.payment.webhook_secret.expose();
    signature::verify(
        secret,
        header,
        request.query_string(),
        &body,
        Utc::now().timestamp(),
    )
    .map_err(|e| ApiError::new(Code::InvalidSignature, e.to_string()))?;
    let query = web::Query::<WebhookQuery>::from_query(request.query_string())
        .map_err(|e| ApiError::new(Code::BadRequest, format!("invalid query string: {e}")))?
        .into_inner();
    let body: WebhookBody = crate::input::json_object(&body)?;
    if !matches!(body.status.as_str(), "succeeded" | "failed") {
        return Err(ApiError::invalid("status", "must be succeeded or failed"));
    }
    let payment = store::settle(
        &pool,
        &settings.payment.provider,
        &query.payment_code,
        query.booking_id,
        &query.transaction_id,
        &body,
    )
    .await?;
    wake.wake();
    Ok(HttpResponse::Ok().json(payment))
}
