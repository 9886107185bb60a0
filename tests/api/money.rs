//! The money rule (invariant 7 in docs/ARCHITECTURE.md): every transaction the gateway reports
//! is recorded, and every amount it captured ends either in tickets or in a refund through the
//! provider, never in neither. Each test walks one path to a succeeded payment and then checks
//! the rule over every transaction in the database.
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_error, expect_json, spawn_app, TestApp, User};
use crate::payments::{checked_out, expire, wait_for_status, Webhook};

/// A captured transaction with what became of its money.
#[derive(sqlx::FromRow)]
struct Captured {
    transaction_id: String,
    outcome: String,
    amount: i64,
    currency: String,
    refund_status: Option<String>,
    booking_status: String,
    price: i64,
    number_seats: i32,
    tickets: i64,
    /// The price of its tickets still admitting someone.
    in_tickets: i64,
    /// Refunds of its tickets that reached the buyer.
    refunded: i64,
}

/// Captured transactions whose money is neither in tickets nor refunded, each said in words.
/// A payment's money may be split: the tickets it kept plus the refunds of the others.
pub async fn money_lost(app: &TestApp) -> Vec<String> {
    let rows: Vec<Captured> = sqlx::query_as(
        "SELECT t.transaction_id, t.outcome, t.amount, t.currency, t.refund_status,
                b.status AS booking_status, p.price, b.number_seats,
                (SELECT count(*) FROM tickets k
                 WHERE k.payment_id = p.id AND k.status <> 'transferred') AS tickets,
                (SELECT COALESCE(sum((SELECT max(bi.price) FROM booking_items bi
                                      WHERE bi.booking_id = k.booking_id
                                        AND bi.ticket_type_id = k.ticket_type_id)), 0)
                 FROM tickets k
                 WHERE k.payment_id = p.id AND k.status IN ('valid', 'checked_in'))::bigint AS in_tickets,
                (SELECT COALESCE(sum(r.amount), 0) FROM refunds r
                 WHERE r.payment_id = p.id AND r.status = 'succeeded')::bigint AS refunded
         FROM payment_transactions t
         JOIN payments p ON p.id = t.payment_id
         JOIN bookings b ON b.id = p.booking_id
         WHERE t.status = 'succeeded'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    rows.into_iter()
        .filter_map(|c| {
            let refunded = c.refund_status.as_deref() == Some("succeeded");
            let in_tickets = c.outcome == "applied"
                && c.refund_status.is_none()
                && ["confirmed", "refunded"].contains(&c.booking_status.as_str())
                && c.amount == c.price
                && c.tickets == i64::from(c.number_seats)
                && c.in_tickets + c.refunded == c.amount;
            (refunded == in_tickets).then(|| {
                format!(
                    "{}: {} {} {}, refund {:?}, booking {}, {} of {} tickets, {} in tickets, {} refunded",
                    c.transaction_id,
                    c.amount,
                    c.currency,
                    c.outcome,
                    c.refund_status,
                    c.booking_status,
                    c.tickets,
                    c.number_seats,
                    c.in_tickets,
                    c.refunded
                )
            })
        })
        .collect()
}

/// Waits until no captured money is unaccounted for (the sale, the tickets and the refunds
/// happen after the webhook answers).
pub async fn assert_money_rule(app: &TestApp) {
    eventually(
        15,
        "every captured amount in tickets or refunded",
        || async {
            app.settle().await;
            money_lost(app).await.is_empty().then_some(())
        },
    )
    .await;
}

async fn transactions(app: &TestApp, booking: &Value) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT t.transaction_id, t.outcome, t.refund_status FROM payment_transactions t
         JOIN payments p ON p.id = t.payment_id WHERE p.booking_id = $1::uuid ORDER BY t.created_at, t.id",
    )
    .bind(booking["id"].as_str().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn refunds_told(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'payments.refunded'")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn app() -> TestApp {
    spawn_app().await
}

/// A buyer's booking of the one seat of a fresh event, checked out.
async fn one_seat_booking(app: &TestApp) -> (User, String, Value) {
    let map = json!({"sections": [{"name": "Box", "rows": [{"label": "A", "seats": 1}]}]});
    checked_out(app, json!({"seat_mapped": true}), Some(map)).await
}

async fn booking_of(app: &TestApp, buyer: &User, booking: &Value) -> Value {
    let path = format!("/v1/bookings/{}", booking["id"].as_str().unwrap());
    expect_json(
        app.get(&path, Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await
}

#[actix_web::test]
async fn a_payment_on_time_ends_in_tickets() {
    let app = spawn_app().await;
    let (buyer, _, booking) = one_seat_booking(&app).await;
    let webhook = Webhook::new(&app, &booking, "on-time");
    expect_json(webhook.send(&app).await, StatusCode::OK).await;
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    // the gateway's retry of the same transaction is one transaction
    expect_json(webhook.send(&app).await, StatusCode::OK).await;
    assert_money_rule(&app).await;
    assert_eq!(transactions(&app, &booking).await.len(), 1);
    assert_eq!(refunds_told(&app).await, 0);
}

#[actix_web::test]
async fn a_late_payment_for_free_seats_is_reinstated_and_ends_in_tickets() {
    let app = app().await;
    let (buyer, _, booking) = one_seat_booking(&app).await;
    expire(&app, &buyer, &booking).await;
    expect_json(
        Webhook::new(&app, &booking, "late").send(&app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    assert_money_rule(&app).await;
    assert_eq!(refunds_told(&app).await, 0);
}

#[actix_web::test]
async fn a_late_payment_for_seats_sold_since_is_refunded() {
    let app = app().await;
    let (buyer, event, booking) = one_seat_booking(&app).await;
    expire(&app, &buyer, &booking).await;
    let rival = app.customer().await;
    let ticket_type = &booking["items"][0]["ticket_type_id"];
    let body = json!({"event_id": event, "ticket_type_id": ticket_type, "qty": 1});
    expect_json(app.hold(&rival, &body).await, StatusCode::CREATED).await;
    expect_json(
        Webhook::new(&app, &booking, "late").send(&app).await,
        StatusCode::OK,
    )
    .await;
    assert_money_rule(&app).await;
    assert_eq!(
        booking_of(&app, &buyer, &booking).await["status"],
        "expired"
    );
    assert_eq!(refunds_told(&app).await, 1);
}

/// The outside test's case: a wrong amount used to flag the payment, and the buyer's correct
/// payment that followed was refused (409 `invalid_state`) and recorded nowhere.
#[actix_web::test]
async fn a_mismatched_amount_is_refunded_and_the_correct_payment_after_it_confirms() {
    let app = spawn_app().await;
    let (buyer, _, booking) = one_seat_booking(&app).await;
    let short = Webhook {
        amount: 1,
        ..Webhook::new(&app, &booking, "short")
    };
    let error = expect_error(
        short.send(&app).await,
        StatusCode::CONFLICT,
        "amount_mismatch",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("refunded"),
        "{error}"
    );
    // replayed, the gateway is told the same
    expect_error(
        short.send(&app).await,
        StatusCode::CONFLICT,
        "amount_mismatch",
    )
    .await;
    let paid = expect_json(
        Webhook::new(&app, &booking, "correct").send(&app).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["transactions"][0]["outcome"], "flagged");
    assert_eq!(paid["transactions"][1]["outcome"], "applied");
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    assert_money_rule(&app).await;
    assert_eq!(
        transactions(&app, &booking).await,
        [
            ("short".into(), "flagged".into(), Some("succeeded".into())),
            ("correct".into(), "applied".into(), None),
        ]
    );
    assert_eq!(refunds_told(&app).await, 1);
}

/// The outside test's other case: of two successes with different transaction ids the second
/// used to be answered 409 and recorded nowhere.
#[actix_web::test]
async fn concurrent_successes_end_in_one_sale_and_a_refund_for_each_other_capture() {
    let app = spawn_app().await;
    let (buyer, _, booking) = one_seat_booking(&app).await;
    let ids: Vec<String> = (0..4).map(|i| format!("capture-{i}")).collect();
    let webhooks: Vec<Webhook> = ids
        .iter()
        .map(|id| Webhook::new(&app, &booking, id))
        .collect();
    let answers = join_all(webhooks.iter().map(|w| w.send(&app))).await;
    for answer in answers {
        expect_json(answer, StatusCode::OK).await;
    }
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    assert_money_rule(&app).await;
    let outcomes: Vec<String> = transactions(&app, &booking)
        .await
        .into_iter()
        .map(|(_, outcome, _)| outcome)
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes.iter().filter(|o| *o == "applied").count(), 1);
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 3);
    assert_eq!(refunds_told(&app).await, 3);
}

#[actix_web::test]
async fn a_payment_for_a_cancelled_booking_is_refunded() {
    let app = spawn_app().await;
    let (buyer, event, booking) = one_seat_booking(&app).await;
    let id = booking["id"].as_str().unwrap();
    expect_json(
        app.post(
            &format!("/v1/bookings/{id}/cancel"),
            Some(&buyer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        Webhook::new(&app, &booking, "after-cancel")
            .send(&app)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_money_rule(&app).await;
    assert_eq!(
        booking_of(&app, &buyer, &booking).await["status"],
        "cancelled"
    );
    assert_eq!(app.available(&event).await, 1, "the seat stays on sale");
    assert_eq!(refunds_told(&app).await, 1);
}

/// A double click or two tabs used to create several pending payments (2-5 of 6 in most runs).
#[actix_web::test]
async fn concurrent_checkouts_answer_one_payment() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let id = booking["id"].as_str().unwrap();
    let token = Some(buyer.access_token.as_str());
    expect_json(
        app.post(
            &format!("/v1/bookings/{id}/information"),
            token,
            &json!({"email": buyer.email}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let path = format!("/v1/bookings/{id}/checkout");
    let checkout = json!({"payment_method": "card"});
    let answers = join_all((0..20).map(|_| app.post(&path, token, &checkout))).await;
    let mut codes = Vec::new();
    for answer in answers {
        let booking = expect_json(answer, StatusCode::OK).await;
        assert!(booking["payment"]["checkout_url"].is_string(), "{booking}");
        codes.push(booking["payment"]["payment_code"].clone());
    }
    codes.dedup();
    assert_eq!(codes.len(), 1, "one payment: {codes:?}");
    let payments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE booking_id = $1::uuid")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(payments, 1);
    // and the database refuses a second open payment whoever writes it
    let second = sqlx::query(
        "INSERT INTO payments (id, payment_code, user_id, booking_id, price, currency, method, status, provider)
         SELECT gen_random_uuid(), 'PAY-SECOND', user_id, booking_id, price, currency, method, 'pending', provider
         FROM payments WHERE booking_id = $1::uuid",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .expect_err("a second pending payment");
    assert_eq!(
        boxoffice::error::violated_constraint(&second),
        Some("payments_one_open_key")
    );
}
