//! After the sale: refunds (the organizer's, of some tickets or all; the buyer's within the
//! event's policy), a cancelled event refunding every paid booking through the provider, and
//! tickets that change hands. Each walk ends with the money rule (`money::assert_money_rule`).
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    eventually, expect_error, expect_json, spawn_app, spawn_app_with, TestApp, User,
};
use crate::money::assert_money_rule;
use crate::payments::{check_out, wait_for_status, Webhook};
use crate::tickets::{check_in, paid_for_two, tickets_of};

pub async fn refund(
    app: &TestApp,
    organizer: &User,
    booking: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/v1/admin/bookings/{booking}/refunds"),
        Some(&organizer.access_token),
        &body,
    )
    .await
}

async fn refunds_of(app: &TestApp, organizer: &User, event: &str) -> Value {
    expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/refunds"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

async fn payment_of(app: &TestApp, buyer: &User, ticket: &Value) -> Value {
    let path = format!("/v1/payments/{}", ticket["payment_id"].as_str().unwrap());
    expect_json(
        app.get(&path, Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await
}

pub async fn booking_of(app: &TestApp, buyer: &User, id: &str) -> Value {
    expect_json(
        app.get(&format!("/v1/bookings/{id}"), Some(&buyer.access_token))
            .await,
        StatusCode::OK,
    )
    .await
}

/// Seats of the event's first ticket type that a new buyer can hold right now.
pub async fn free_seats(app: &TestApp, event: &str) -> Vec<String> {
    let map = expect_json(
        app.get(&format!("/v1/events/{event}/seats"), None).await,
        StatusCode::OK,
    )
    .await;
    let mut free = Vec::new();
    for seat in map["seats"].as_array().cloned().unwrap_or_default() {
        if seat["status"] == "free" {
            free.push(seat["id"].as_str().unwrap().to_owned());
        }
    }
    free
}

#[actix_web::test]
async fn a_refund_of_some_tickets_voids_those_keeps_the_others_and_returns_their_seats() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    assert!(
        free_seats(&app, &event).await.is_empty(),
        "both seats are sold"
    );
    let booking = tickets[0]["booking_id"].as_str().unwrap();
    let (refunded, kept) = (&tickets[0], &tickets[1]);

    // a customer is not an organizer; a foreign ticket is refused with a sentence
    expect_error(
        refund(&app, &buyer, booking, json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        refund(
            &app,
            &organizer,
            booking,
            json!({"tickets": [uuid::Uuid::now_v7()]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        refund(&app, &organizer, booking, json!({"tickets": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let created = expect_json(
        refund(
            &app,
            &organizer,
            booking,
            json!({"tickets": [refunded["id"]], "reason": "the seat's view is blocked"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["amount"], 250000);
    assert_eq!(created["requested_by"], "organizer");
    assert_eq!(created["tickets"], json!([refunded["id"]]));

    // the voided code is refused at once; the kept one admits its holder
    let refused = check_in(&app, &organizer, &event, &refunded["code"]).await;
    expect_error(refused, StatusCode::CONFLICT, "ticket_voided").await;
    expect_json(
        check_in(&app, &organizer, &event, &kept["code"]).await,
        StatusCode::OK,
    )
    .await;

    // the seat is on sale again, through the engine, and the money went back
    let seat = refunded["seat"]["id"].as_str().unwrap().to_owned();
    eventually(10, "the refunded seat back on sale", || async {
        app.settle().await;
        (free_seats(&app, &event).await == vec![seat.clone()]).then_some(())
    })
    .await;
    let payment = eventually(10, "the refund given back", || async {
        app.settle().await;
        let payment = payment_of(&app, &buyer, kept).await;
        (payment["refund_status"] == "succeeded").then_some(payment)
    })
    .await;
    assert_eq!(
        payment["status"], "succeeded",
        "half of it still pays for a ticket"
    );
    assert_eq!(payment["refunds"][0]["amount"], 250000);
    let after = booking_of(&app, &buyer, booking).await;
    assert_eq!(after["status"], "confirmed");
    assert_eq!(after["refunded"], 250000);
    assert_eq!(after["items"][0]["returned"], 1);
    let mine = tickets_of(&app, &buyer, 2).await;
    let status_of = |id: &Value| {
        mine.iter()
            .find(|t| t["id"] == *id)
            .map(|t| t["status"].clone())
            .unwrap()
    };
    assert_eq!(status_of(&refunded["id"]), "void");
    assert_eq!(status_of(&kept["id"]), "checked_in");
    assert_money_rule(&app).await;
    // the actor read back from the journal (an edit of the event reloads it) agrees
    expect_json(
        app.patch(
            &format!("/v1/admin/events/{event}"),
            Some(&organizer.access_token),
            &json!({"title": "Reloaded"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    eventually(10, "one admission available after the reload", || async {
        (app.available(&event).await == 1).then_some(())
    })
    .await;

    // a used ticket is not refunded; with nothing else left, the request says so
    expect_error(
        refund(&app, &organizer, booking, json!({"tickets": [kept["id"]]})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    expect_error(
        refund(&app, &organizer, booking, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;

    // the freed seat sells to someone else
    let other = app.customer().await;
    let types = expect_json(
        app.get(&format!("/v1/events/{event}"), None).await,
        StatusCode::OK,
    )
    .await;
    let hold = json!({"event_id": event, "ticket_type_id": types["ticket_types"][0]["id"], "qty": 1, "seats": [seat]});
    expect_json(app.hold(&other, &hold).await, StatusCode::CREATED).await;

    // the buyer was told in-site; the database journal has what the engine decided
    let told = app
        .count("SELECT count(*) FROM notifications WHERE kind = 'booking_refunded'")
        .await;
    assert_eq!(told, 1);
    let returned = app.count("SELECT sum(returned) FROM booking_items").await;
    assert_eq!(returned, 1);
}

#[actix_web::test]
async fn refunding_every_ticket_refunds_the_booking_and_the_payment() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let booking = tickets[0]["booking_id"].as_str().unwrap();
    expect_json(
        refund(
            &app,
            &organizer,
            booking,
            json!({"tickets": [tickets[1]["id"]]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let rest = expect_json(
        refund(&app, &organizer, booking, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(rest["tickets"], json!([tickets[0]["id"]]));
    eventually(10, "the booking refunded", || async {
        app.settle().await;
        let booking = booking_of(&app, &buyer, booking).await;
        (booking["status"] == "refunded").then_some(())
    })
    .await;
    let payment = eventually(10, "the payment refunded", || async {
        app.settle().await;
        let payment = payment_of(&app, &buyer, &tickets[0]).await;
        (payment["status"] == "refunded").then_some(payment)
    })
    .await;
    assert_eq!(payment["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(free_seats(&app, &event).await.len(), 2);
    assert_money_rule(&app).await;
    let listed = refunds_of(&app, &organizer, &event).await;
    assert_eq!(listed["summary"]["succeeded"], 2);
    assert_eq!(listed["summary"]["refunded_amount"], 500000);
    expect_error(
        refund(&app, &organizer, booking, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
}

#[actix_web::test]
async fn a_buyer_cancels_a_paid_booking_only_within_the_refund_policy() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let booking = tickets[0]["booking_id"].as_str().unwrap();
    let cancel = || async {
        app.post(
            &format!("/v1/bookings/{booking}/cancel"),
            Some(&buyer.access_token),
            &json!({}),
        )
        .await
    };
    // no policy by default
    expect_error(cancel().await, StatusCode::CONFLICT, "refund_not_allowed").await;
    let set = |until: Value| {
        let app = &app;
        let organizer = &organizer;
        let event = event.clone();
        async move {
            app.patch(
                &format!("/v1/admin/events/{event}"),
                Some(&organizer.access_token),
                &json!({"refund_until": until}),
            )
            .await
        }
    };
    // after the event ends is no policy at all
    expect_error(
        set(json!("2027-03-02T00:00:00Z")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // a date gone by
    expect_json(set(json!("2020-01-01T00:00:00Z")).await, StatusCode::OK).await;
    let late = expect_error(cancel().await, StatusCode::CONFLICT, "refund_not_allowed").await;
    assert!(
        late["message"]
            .as_str()
            .unwrap()
            .contains("until Wed 1 Jan 2020, 00:00 UTC"),
        "{late}"
    );
    // within it
    let event_now = expect_json(set(json!("2027-02-28T12:00:00Z")).await, StatusCode::OK).await;
    assert_eq!(event_now["refund_until"], "2027-02-28T12:00:00Z");
    let cancelled = expect_json(cancel().await, StatusCode::OK).await;
    assert_eq!(cancelled["refunded"], 500000);
    wait_for_status(&app, &buyer, &json!({"id": booking}), "refunded").await;
    assert_money_rule(&app).await;
    let refund = &refunds_of(&app, &organizer, &event).await["data"][0];
    assert_eq!(refund["requested_by"], "buyer");
    assert_eq!(refund["status"], "succeeded");
    // asked again, the booking is as it is
    assert_eq!(
        expect_json(cancel().await, StatusCode::OK).await["status"],
        "refunded"
    );
    // the refund mail went out once
    let mailed = app
        .count("SELECT count(*) FROM sent_mail WHERE kind = 'refund' AND sent_at IS NOT NULL")
        .await;
    assert_eq!(mailed, 1);
}

/// One buyer's paid booking of one admission, its gateway transaction named `transaction`.
async fn paid_one(
    app: &TestApp,
    buyer: &User,
    event: &str,
    ticket_type: &Value,
    transaction: &str,
) {
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(app.hold(buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(app, buyer, &booking).await;
    expect_json(
        Webhook::new(app, &booking, transaction).send(app).await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn cancelling_an_event_refunds_every_paid_booking_and_lists_the_refund_the_provider_refuses()
{
    let app = spawn_app_with(|s| s.payment.refund_attempts = 3).await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 200}), None)
        .await;
    let buyers = app.accounts(200).await;
    for (n, chunk) in buyers.chunks(25).enumerate() {
        join_all(chunk.iter().enumerate().map(|(i, buyer)| {
            let app = &app;
            let event = &event;
            let ticket_type = &ticket_type;
            async move {
                // the sandbox refuses refunds of a transaction so named
                let transaction = if n == 0 && i == 0 {
                    "txn-refunds_declined".to_owned()
                } else {
                    format!("txn-{n}-{i}")
                };
                paid_one(app, buyer, event, ticket_type, &transaction).await
            }
        }))
        .await;
    }
    let cancel_event = || async {
        let path = format!("/v1/admin/events/{event}/cancel");
        let answer = app
            .post(&path, Some(&organizer.access_token), &json!({}))
            .await;
        expect_json(answer, StatusCode::OK).await
    };
    eventually(30, "200 bookings with tickets", || async {
        app.settle().await;
        let issued = app
            .count("SELECT count(DISTINCT booking_id) FROM tickets")
            .await;
        (issued == 200).then_some(())
    })
    .await;

    cancel_event().await;
    // every ticket is void at once; the money follows through the provider
    assert_eq!(
        app.count("SELECT count(*) FROM tickets WHERE status = 'void'")
            .await,
        200
    );
    let listed = eventually(30, "199 refunded and one failed", || async {
        app.settle().await;
        let listed = refunds_of(&app, &organizer, &event).await;
        (listed["summary"]["succeeded"] == 199 && listed["summary"]["failed"] == 1)
            .then_some(listed)
    })
    .await;
    assert_eq!(listed["summary"]["pending"], 0);
    let failed = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/refunds?status=failed"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let failed = &failed["data"][0];
    assert_eq!(
        failed["attempts"], 3,
        "tried three times with backoff: {failed}"
    );
    assert!(failed["last_error"]
        .as_str()
        .unwrap()
        .contains("declines refunds"));
    assert_eq!(failed["requested_by"], "event_cancelled");
    // the organizer is told, and may try again
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'refund_failed'")
            .await,
        1
    );
    let retried = expect_json(
        app.post(
            &format!("/v1/admin/refunds/{}/retry", failed["id"].as_str().unwrap()),
            Some(&organizer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["attempts"], 0);
    // every buyer was told, and every refunded payment is refunded
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'booking_refunded'")
            .await,
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payments WHERE status = 'refunded'")
            .await,
        199
    );
    // cancelled again: nothing more
    cancel_event().await;
    assert_eq!(app.count("SELECT count(*) FROM refunds").await, 200);
}

#[actix_web::test]
async fn a_transferred_ticket_refuses_its_old_code_and_admits_with_the_new_one_once() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let ticket = &tickets[0];
    let transfer = |body: Value| {
        let path = format!("/v1/tickets/{}/transfer", ticket["id"].as_str().unwrap());
        let app = &app;
        let buyer = &buyer;
        async move { app.post(&path, Some(&buyer.access_token), &body).await }
    };
    expect_error(
        transfer(json!({"email": "not an address"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        transfer(json!({"email": buyer.email})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let friend = "Friend.Of.Buyer@Example.com";
    let moved = expect_json(transfer(json!({"email": friend})).await, StatusCode::OK).await;
    assert_eq!(moved["ticket"]["status"], "transferred");
    assert_eq!(
        moved["ticket"]["transferred_to"],
        "friend.of.buyer@example.com"
    );
    assert_eq!(moved["to_email"], "friend.of.buyer@example.com");
    expect_error(
        transfer(json!({"email": "someone@example.com"})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;

    // the old code is refused from this moment
    expect_error(
        check_in(&app, &organizer, &event, &ticket["code"]).await,
        StatusCode::CONFLICT,
        "ticket_voided",
    )
    .await;
    // the new holder has no account yet: the ticket waits for one, and was mailed
    let mailed = eventually(10, "the new holder's mail", || async {
        app.settle().await;
        let n = app
            .count("SELECT count(*) FROM sent_mail WHERE kind = 'transfer' AND sent_at IS NOT NULL")
            .await;
        (n == 1).then_some(n)
    })
    .await;
    assert_eq!(mailed, 1);
    let registered = app.register(friend, "correct horse battery staple").await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let login = expect_json(
        app.login(friend, "correct horse battery staple").await,
        StatusCode::OK,
    )
    .await;
    let token = login["access_token"].as_str().unwrap();
    let theirs = expect_json(app.get("/v1/tickets", Some(token)).await, StatusCode::OK).await;
    let theirs = &theirs["data"][0];
    assert_ne!(theirs["code"], ticket["code"]);
    assert_eq!(theirs["seat"], ticket["seat"]);
    assert_eq!(theirs["status"], "valid");
    // the new code admits once
    expect_json(
        check_in(&app, &organizer, &event, &theirs["code"]).await,
        StatusCode::OK,
    )
    .await;
    expect_error(
        check_in(&app, &organizer, &event, &theirs["code"]).await,
        StatusCode::CONFLICT,
        "already_checked_in",
    )
    .await;
    // the attendee list names the new holder, once; the old owner was told in-site
    let attendees = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/attendees"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let rows = attendees["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .any(|r| r["email"] == "friend.of.buyer@example.com"));
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE kind = 'ticket_transferred'")
            .await,
        1
    );
    // the money still pays for both admissions
    assert_money_rule(&app).await;
}

#[actix_web::test]
async fn a_buyer_cancelling_refunds_only_the_tickets_they_did_not_give_away() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    expect_json(
        app.patch(
            &format!("/v1/admin/events/{event}"),
            Some(&organizer.access_token),
            &json!({"refund_until": "2027-02-01T00:00:00Z"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let given = expect_json(
        app.post(
            &format!(
                "/v1/tickets/{}/transfer",
                tickets[0]["id"].as_str().unwrap()
            ),
            Some(&buyer.access_token),
            &json!({"email": "friend@example.com"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let booking = tickets[0]["booking_id"].as_str().unwrap();
    expect_json(
        app.post(
            &format!("/v1/bookings/{booking}/cancel"),
            Some(&buyer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // the refund is the one ticket still the buyer's; the friend's stays valid
    let refunds = refunds_of(&app, &organizer, &event).await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
    assert_eq!(refunds["data"][0]["tickets"], json!([tickets[1]["id"]]));
    let friends: String =
        sqlx::query_scalar("SELECT status FROM tickets WHERE transferred_from = $1::uuid")
            .bind(given["ticket"]["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(friends, "valid");
    // asked again, nothing of the buyer's is left
    let again = expect_error(
        app.post(
            &format!("/v1/bookings/{booking}/cancel"),
            Some(&buyer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("given to someone else"),
        "{again}"
    );
    assert_money_rule(&app).await;
}

#[actix_web::test]
async fn an_event_is_created_with_its_refund_policy() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let event = app
        .create_event(&organizer, json!({"refund_until": "2027-02-01T00:00:00Z"}))
        .await;
    assert_eq!(event["refund_until"], "2027-02-01T00:00:00Z");
    let mut late = json!({
        "name": "Late policy", "category": "music",
        "start_at": "2027-03-01T19:00:00Z", "end_at": "2027-03-01T22:00:00Z",
        "refund_until": "2027-03-02T00:00:00Z"
    });
    let refused = expect_error(
        app.post("/v1/admin/events", Some(&organizer.access_token), &late)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(refused["details"][0]["field"], "refund_until");
    late["refund_until"] = Value::Null;
    let without = expect_json(
        app.post("/v1/admin/events", Some(&organizer.access_token), &late)
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(without["refund_until"].is_null(), "{without}");
}
