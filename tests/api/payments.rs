//! Checkout to payment: the signed webhook, what a settled payment does to the booking
//! (confirmed, or back to held after a failure), late payments (sold again or refunded).
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_error, expect_json, spawn_app, TestApp, User};

/// The gateway's call, signed `seconds_ago` seconds ago with `secret`.
pub struct Webhook<'a> {
    pub payment: &'a Value,
    pub booking_id: &'a str,
    pub transaction_id: &'a str,
    pub status: &'a str,
    pub amount: i64,
    pub seconds_ago: i64,
    pub secret: &'a str,
}

impl<'a> Webhook<'a> {
    pub fn new(app: &'a TestApp, booking: &'a Value, transaction_id: &'a str) -> Self {
        Self {
            payment: &booking["payment"],
            booking_id: booking["id"].as_str().unwrap(),
            transaction_id,
            status: "succeeded",
            amount: booking["total_price"].as_i64().unwrap(),
            seconds_ago: 0,
            secret: app.settings.payment.webhook_secret.expose(),
        }
    }

    pub async fn send(&self, app: &TestApp) -> reqwest::Response {
        let query = format!(
            "payment_code={}&booking_id={}&transaction_id={}",
            self.payment["payment_code"].as_str().unwrap(),
            self.booking_id,
            self.transaction_id
        );
        let body =
            json!({"status": self.status, "amount": self.amount, "currency": "VND"}).to_string();
        let t = chrono::Utc::now().timestamp() - self.seconds_ago;
        let signature =
            boxoffice::payments::signature::sign(self.secret, t, &query, body.as_bytes());
        app.api
            .http()
            .post(format!("{}/v1/payments/webhook?{query}", app.address))
            .header("X-Boxoffice-Signature", signature)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// A buyer's booking on a fresh event, held, with information, checked out.
pub async fn checked_out(
    app: &TestApp,
    ticket_type: Value,
    seat_map: Option<Value>,
) -> (User, String, Value) {
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let (event, ticket_type) = app.event_with(&organizer, ticket_type, seat_map).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(app, &buyer, &booking).await;
    (buyer, event, booking)
}

pub async fn check_out(app: &TestApp, buyer: &User, booking: &Value) -> Value {
    check_out_with(app, buyer, booking, "card").await
}

/// Gives the buyer's email as contact and checks out with `method`; the booking after it.
pub async fn check_out_with(app: &TestApp, buyer: &User, booking: &Value, method: &str) -> Value {
    let id = booking["id"].as_str().unwrap();
    let token = Some(buyer.access_token.as_str());
    let information = json!({"email": buyer.email});
    expect_json(
        app.post(
            &format!("/v1/bookings/{id}/information"),
            token,
            &information,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let checkout = json!({"payment_method": method});
    expect_json(
        app.post(&format!("/v1/bookings/{id}/checkout"), token, &checkout)
            .await,
        StatusCode::OK,
    )
    .await
}

/// The gateway reports the booking's payment captured in full (its transaction `txn-<booking>`).
pub async fn pay(app: &TestApp, booking: &Value) {
    let transaction = format!("txn-{}", booking["id"].as_str().unwrap());
    expect_json(
        Webhook::new(app, booking, &transaction).send(app).await,
        StatusCode::OK,
    )
    .await;
}

pub async fn booking_status(app: &TestApp, buyer: &User, booking: &Value) -> String {
    let path = format!("/v1/bookings/{}", booking["id"].as_str().unwrap());
    let booking = expect_json(
        app.get(&path, Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    booking["status"].as_str().unwrap().to_owned()
}

/// Moves the engine's clock past the booking's hold and waits for the engine to expire it.
pub async fn expire(app: &TestApp, buyer: &User, booking: &Value) {
    app.expire_holds();
    wait_for_status(app, buyer, booking, "expired").await;
}

/// Delivers the outbox and waits for the booking's status (the engine's own changes, like an
/// expiry, happen beside the test).
pub async fn wait_for_status(app: &TestApp, buyer: &User, booking: &Value, status: &str) {
    eventually(10, status, || async {
        app.settle().await;
        (booking_status(app, buyer, booking).await == status).then_some(())
    })
    .await;
}

async fn payment(app: &TestApp, buyer: &User, booking: &Value) -> Value {
    let path = format!(
        "/v1/payments/{}",
        booking["payment"]["id"].as_str().unwrap()
    );
    expect_json(
        app.get(&path, Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await
}

async fn outbox_count(app: &TestApp, subject: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = $1")
        .bind(subject)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_signed_successful_payment_confirms_the_booking_once() {
    let app = spawn_app().await;
    let (buyer, event, booking) = checked_out(&app, json!({"number_seats": 3}), None).await;
    let payment = &booking["payment"];
    assert_eq!(booking["status"], "pending_payment");
    assert_eq!(payment["status"], "pending");
    let code = payment["payment_code"].as_str().unwrap();
    assert!(payment["checkout_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/sandbox/pay/{code}")));
    let stored = self::payment(&app, &buyer, &booking).await;
    assert_eq!(stored["price"], booking["total_price"]);
    assert_eq!(stored["method"], "card");

    let webhook = Webhook::new(&app, &booking, "txn-1");
    let settled = expect_json(webhook.send(&app).await, StatusCode::OK).await;
    assert_eq!(settled["status"], "succeeded");
    assert_eq!(settled["transaction_id"], "txn-1");
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    assert_eq!(app.available(&event).await, 2);
    assert_eq!(
        self::payment(&app, &buyer, &booking).await["status"],
        "succeeded"
    );

    // a replay answers the same and changes nothing
    let replayed = expect_json(webhook.send(&app).await, StatusCode::OK).await;
    assert_eq!(replayed["id"], settled["id"]);
    assert_eq!(outbox_count(&app, "payments.succeeded").await, 1);
    eventually(10, "the sale to be journaled", || async {
        app.settle().await;
        (outbox_count(&app, "bookings.paid").await == 1).then_some(())
    })
    .await;
    // nobody else sees the payment
    let stranger = app.customer().await;
    let path = format!("/v1/payments/{}", payment["id"].as_str().unwrap());
    expect_error(
        app.get(&path, Some(&stranger.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn the_webhook_refuses_what_a_gateway_did_not_send() {
    let app = spawn_app().await;
    let (buyer, _, booking) = checked_out(&app, json!({}), None).await;
    let other = checked_out(&app, json!({}), None).await.2;

    let forged = Webhook {
        secret: "not-the-secret",
        ..Webhook::new(&app, &booking, "t1")
    };
    expect_error(
        forged.send(&app).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    let stale = Webhook {
        seconds_ago: 301,
        ..Webhook::new(&app, &booking, "t1")
    };
    expect_error(
        stale.send(&app).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    let unsigned = app
        .api
        .http()
        .post(format!(
            "{}/v1/payments/webhook?payment_code=x&booking_id=y&transaction_id=z",
            app.address
        ))
        .json(&json!({"status": "succeeded", "amount": 1, "currency": "VND"}))
        .send()
        .await
        .unwrap();
    expect_error(unsigned, StatusCode::UNAUTHORIZED, "invalid_signature").await;

    let unknown_payment = json!({"payment_code": "PAY-NOPE"});
    let unknown = Webhook {
        payment: &unknown_payment,
        ..Webhook::new(&app, &booking, "t1")
    };
    expect_error(unknown.send(&app).await, StatusCode::NOT_FOUND, "not_found").await;
    let crossed = Webhook {
        booking_id: other["id"].as_str().unwrap(),
        ..Webhook::new(&app, &booking, "t1")
    };
    expect_error(
        crossed.send(&app).await,
        StatusCode::CONFLICT,
        "payment_mismatch",
    )
    .await;
    assert_eq!(
        self::payment(&app, &buyer, &booking).await["status"],
        "pending"
    );

    let short = Webhook {
        amount: 1,
        ..Webhook::new(&app, &booking, "t1")
    };
    expect_error(
        short.send(&app).await,
        StatusCode::CONFLICT,
        "amount_mismatch",
    )
    .await;
    // kept for review (and refunded), while the payment stays open for the right amount
    let payment = self::payment(&app, &buyer, &booking).await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["transactions"][0]["outcome"], "flagged");
    assert_eq!(payment["transactions"][0]["amount"], 1);
    assert_eq!(
        booking_status(&app, &buyer, &booking).await,
        "pending_payment"
    );
    assert_eq!(outbox_count(&app, "payments.succeeded").await, 0);
}

#[actix_web::test]
async fn a_failed_payment_lets_the_buyer_check_out_again_while_the_hold_lasts() {
    let app = spawn_app().await;
    let (buyer, _, booking) = checked_out(&app, json!({}), None).await;
    let failed = Webhook {
        status: "failed",
        ..Webhook::new(&app, &booking, "t-failed")
    };
    assert_eq!(
        expect_json(failed.send(&app).await, StatusCode::OK).await["status"],
        "failed"
    );
    assert_eq!(booking_status(&app, &buyer, &booking).await, "held");

    let again = check_out(&app, &buyer, &booking).await;
    assert_eq!(again["status"], "pending_payment");
    assert_eq!(again["payment"]["status"], "pending");
    assert_ne!(
        again["payment"]["payment_code"],
        booking["payment"]["payment_code"]
    );
    expect_json(
        Webhook::new(&app, &again, "t-ok").send(&app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
}

#[actix_web::test]
async fn a_late_payment_sells_the_same_seat_again_if_it_is_free_and_is_refunded_if_not() {
    let app = spawn_app().await;
    let one_seat =
        Some(json!({"sections": [{"name": "Box", "rows": [{"label": "A", "seats": 1}]}]}));
    let (buyer, _, booking) =
        checked_out(&app, json!({"seat_mapped": true}), one_seat.clone()).await;
    expire(&app, &buyer, &booking).await;
    expect_json(
        Webhook::new(&app, &booking, "late-1").send(&app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    let reinstated = expect_json(
        app.get(
            &format!("/v1/bookings/{}", booking["id"].as_str().unwrap()),
            Some(&buyer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reinstated["seats"], booking["seats"]);

    // this time someone else holds the seat when the money arrives
    let (buyer, event, booking) = checked_out(&app, json!({"seat_mapped": true}), one_seat).await;
    expire(&app, &buyer, &booking).await;
    let rival = app.customer().await;
    let ticket_type = &booking["items"][0]["ticket_type_id"];
    let body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1});
    let rivals = expect_json(app.hold(&rival, &body).await, StatusCode::CREATED).await;
    expect_json(
        Webhook::new(&app, &booking, "late-2").send(&app).await,
        StatusCode::OK,
    )
    .await;
    eventually(10, "the refund", || async {
        app.settle().await;
        (payment(&app, &buyer, &booking).await["status"] == "refunded").then_some(())
    })
    .await;
    assert_eq!(booking_status(&app, &buyer, &booking).await, "expired");
    assert_eq!(booking_status(&app, &rival, &rivals).await, "held");
    assert_eq!(outbox_count(&app, "payments.refunded").await, 1);
}
