//! The full-flow scenario: each purchase is a hold, the buyer's information, a checkout, the
//! gateway's signed success webhook, and then reading the booking until it is `confirmed` (the
//! outbox and the event's actor confirm it in the background).
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use boxoffice::payments::signature;
use reqwest::Method;
use serde_json::{json, Value};

use crate::sale::{self, call, Sale};
use crate::tally::Tally;
use crate::{Load, Report};

/// How long a paid booking may take to read `confirmed`.
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);
/// How long the ticket mails may take to be sent after the run, before those left are counted
/// as not sent.
const MAILED_WITHIN: Duration = Duration::from_secs(120);
/// Between reads of a paid booking: often enough to time the confirmation to a few tens of
/// milliseconds, seldom enough that the reads do not become the load.
const POLL: Duration = Duration::from_millis(50);

pub async fn full_flow(load: &Load, webhook_secret: &str) -> anyhow::Result<Report> {
    let sale = Sale::set_up(load).await?;
    let secret = webhook_secret.to_owned();
    let (tally, steps, elapsed) = sale
        .run(load.duration(), move |sale, connection, deadline| {
            let secret = secret.clone();
            async move {
                let mut purchases = Tally::default();
                let mut steps: BTreeMap<String, Tally> = BTreeMap::new();
                let mut n = connection;
                while Instant::now() < deadline {
                    let Some(event) = sale.event_for(connection) else {
                        break;
                    };
                    let buyer = sale.buyer(n);
                    n += sale.connections;
                    let started = Instant::now();
                    let (status, body) =
                        sale::hold(sale.node(connection), event, &buyer.token).await;
                    steps
                        .entry("hold".into())
                        .or_default()
                        .answer(status, started.elapsed());
                    if status == 409 {
                        sale.sold_out(event).await;
                        continue;
                    }
                    let booking = body.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                    let status = match booking {
                        Some(booking) if status == 201 => {
                            buy(
                                &sale,
                                &booking,
                                &buyer.email,
                                &buyer.token,
                                &secret,
                                &mut steps,
                            )
                            .await
                        }
                        _ => status,
                    };
                    purchases.answer(status, started.elapsed());
                }
                (purchases, steps)
            }
        })
        .await;
    let mut steps = steps;
    steps.insert("mail".into(), sale.mail_latencies(MAILED_WITHIN).await?);
    sale.report("full-flow", tally, steps, elapsed, &["confirmed"])
        .await
}

/// Information, checkout, webhook, confirmation of one held booking, each step timed into
/// `steps`; 200 when the booking read `confirmed`, else the status of the step that failed.
async fn buy(
    sale: &Sale,
    booking: &Value,
    email: &str,
    token: &str,
    secret: &str,
    steps: &mut BTreeMap<String, Tally>,
) -> u16 {
    let id = booking["id"].as_str().unwrap_or_default();
    let post = |step: &'static str, path: String, body: Value| async move {
        let sent = Instant::now();
        let outcome = call(&sale.api, Method::POST, &path, Some(token), &body).await;
        (step, sent.elapsed(), outcome)
    };
    let mut checked_out = Value::Null;
    for (step, path, body) in [
        (
            "information",
            format!("/v1/bookings/{id}/information"),
            json!({"email": email}),
        ),
        (
            "checkout",
            format!("/v1/bookings/{id}/checkout"),
            json!({"payment_method": "card"}),
        ),
    ] {
        let (step, took, outcome) = post(step, path, body).await;
        let tally = steps.entry(step.into()).or_default();
        match outcome {
            Ok(answer) => {
                tally.answer(200, took);
                checked_out = answer;
            }
            Err(_) => {
                tally.answer(500, took);
                return 500;
            }
        }
    }

    // the gateway's call, signed as the sandbox signs it
    let payment = &checked_out["payment"];
    let query = format!(
        "payment_code={}&booking_id={id}&transaction_id=loadgen-{id}",
        payment["payment_code"].as_str().unwrap_or_default()
    );
    let body = json!({"status": "succeeded", "amount": checked_out["total_price"], "currency": checked_out["currency"]})
        .to_string();
    let signed = signature::sign(
        secret,
        chrono::Utc::now().timestamp(),
        &query,
        body.as_bytes(),
    );
    let sent = Instant::now();
    let response = sale
        .api
        .request(Method::POST, &format!("/v1/payments/webhook?{query}"), None)
        .header(signature::HEADER, signed)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await;
    let status = response.map_or(0, |r| r.status().as_u16());
    steps
        .entry("webhook".into())
        .or_default()
        .answer(status, sent.elapsed());
    if status != 200 {
        return status;
    }

    // confirmed in the background: read the booking until it says so
    let deadline = Instant::now() + CONFIRM_WITHIN;
    let path = format!("/v1/bookings/{id}");
    loop {
        let booking = call(&sale.api, Method::GET, &path, Some(token), &Value::Null).await;
        if booking.is_ok_and(|b| b["status"] == "confirmed") {
            steps
                .entry("confirmed".into())
                .or_default()
                .answer(200, sent.elapsed());
            return 200;
        }
        if Instant::now() > deadline {
            steps
                .entry("confirmed".into())
                .or_default()
                .answer(504, sent.elapsed());
            return 504;
        }
        tokio::time::sleep(POLL).await;
    }
}
