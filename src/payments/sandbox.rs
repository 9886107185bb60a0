//! The built-in `sandbox` gateway: a hosted page at `/sandbox/pay/{payment_code}` where the
//! buyer presses "Pay" or "Decline" for the method they chose; the gateway then calls our
//! webhook over HTTP, signed, exactly as a real provider would, and shows the outcome with a
//! link back to the buyer's booking on the site (a real gateway's return URL).
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use boxoffice_actors::ids::BookingId;
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::provider::Sandbox;
use super::signature;
use crate::config::Settings;
use crate::error::ApiError;
use crate::input::escape_html;
use crate::status::PaymentStatus;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sandbox/pay/{payment_code}")
            .route(web::get().to(page))
            .route(web::post().to(decide)),
    );
}

#[derive(sqlx::FromRow)]
struct Pending {
    payment_code: String,
    booking_id: BookingId,
    price: i64,
    currency: String,
    method: String,
    status: PaymentStatus,
    booking_code: String,
    event_name: String,
}

async fn pending(pool: &PgPool, code: &str) -> Result<Pending, ApiError> {
    sqlx::query_as(
        "SELECT p.payment_code, p.booking_id, p.price, p.currency, p.method, p.status, b.booking_code,
                e.name AS event_name
         FROM payments p JOIN bookings b ON b.id = p.booking_id JOIN events e ON e.id = b.event_id
         WHERE p.payment_code = $1",
    )
    .bind(code)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| ApiError::not_found("payment"))
}

fn method_name(method: &str) -> &'static str {
    match method {
        "card" => "Card",
        "bank_transfer" => "Bank transfer",
        _ => "E-wallet",
    }
}

/// What a decided payment's page says, in the words of a gateway's receipt.
fn outcome(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Succeeded => {
            "Payment approved. You can return to boxoffice for your tickets."
        }
        PaymentStatus::Failed => {
            "Payment declined. Nothing was charged; you can return to boxoffice and try again."
        }
        PaymentStatus::Refunded => "This payment was refunded.",
        PaymentStatus::Cancelled => "This payment was cancelled. Nothing was charged.",
        _ => "This payment is being checked. Return to boxoffice to see how it ends.",
    }
}

/// The gateway's checkout page for one payment.
pub async fn page(
    pool: web::Data<PgPool>,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let payment = pending(&pool, &code).await?;
    let amount = escape_html(&crate::money::format(payment.price, &payment.currency));
    let action = if payment.status == PaymentStatus::Pending {
        format!(
            "<form method=\"post\"><p>Pay with <b>{}</b>.</p>
               <button name=\"outcome\" value=\"pay\" type=\"submit\">Pay {amount}</button>
               <button name=\"outcome\" value=\"decline\" type=\"submit\">Decline</button>
               <button name=\"outcome\" value=\"pay_refunds_declined\" type=\"submit\">Approve, but refuse its refunds later</button></form>",
            method_name(&payment.method)
        )
    } else {
        format!("<p role=\"status\"><b>{}</b></p>", outcome(payment.status))
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
         <title>Sandbox payment {code}</title>
         <style>body{{font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
         button{{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}}</style></head>
         <body><main><h1>Sandbox gateway</h1><p>No real money moves here.</p>
         <p>{event}, booking <b>{booking}</b>: <b>{amount}</b></p>{action}
         <p><a href=\"/bookings/{booking_id}\">Return to boxoffice</a></p></main></body></html>",
        code = escape_html(&payment.payment_code),
        event = escape_html(&payment.event_name),
        booking = escape_html(&payment.booking_code),
        booking_id = payment.booking_id,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

#[derive(Deserialize)]
pub struct Decision {
    /// `pay`, `decline`, or `pay_refunds_declined` (paid, but the sandbox will refuse to
    /// refund it, as a test card does)
    outcome: String,
}

/// The buyer's choice: the gateway reports it to our webhook, signed, then shows the outcome.
pub async fn decide(
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    request: HttpRequest,
    code: web::Path<String>,
    form: web::Form<Decision>,
) -> Result<HttpResponse, ApiError> {
    let payment = pending(&pool, &code).await?;
    let (status, marker) = match form.outcome.as_str() {
        "pay" => ("succeeded", ""),
        "decline" => ("failed", ""),
        "pay_refunds_declined" => ("succeeded", Sandbox::REFUNDS_DECLINED),
        _ => {
            return Err(ApiError::invalid(
                "outcome",
                "must be pay, decline or pay_refunds_declined",
            ))
        }
    };
    if payment.status == PaymentStatus::Pending {
        let query = format!(
            "payment_code={}&booking_id={}&transaction_id=sbx_{marker}{}",
            payment.payment_code,
            payment.booking_id,
            Uuid::now_v7().simple()
        );
        let body = serde_json::json!({"status": status, "amount": payment.price, "currency": payment.currency}).to_string();
        let secret = settings.payment.webhook_secret.expose();
        let signed = signature::sign(
            secret,
            chrono::Utc::now().timestamp(),
            &query,
            body.as_bytes(),
        );
        // our own listener, never a host named by the request
        let url = format!(
            "http://{}/v1/payments/webhook?{query}",
            request.app_config().local_addr()
        );
        let answer = reqwest::Client::new()
            .post(url)
            .header(signature::HEADER, signed)
            .header(header::CONTENT_TYPE.as_str(), "application/json")
            .body(body)
            .send()
            .await
            .map_err(ApiError::internal)?;
        if !answer.status().is_success() {
            tracing::warn!(status = %answer.status(), payment_code = %payment.payment_code, "webhook refused the sandbox's call");
        }
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/sandbox/pay/{}", payment.payment_code),
        ))
        .finish())
}
