//! Holds, information, checkout, cancel and reading bookings, over HTTP against the real engine
//! and PostgreSQL.
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    error_fields, eventually, expect_error, expect_json, spawn_app, TestApp, User,
};

/// Two rows of `seats` seats each: row A (rank 0) is better than row B (rank 1).
fn two_rows(seats: u32) -> Value {
    json!({"sections": [{"name": "Stalls", "rows": [
        {"label": "A", "seats": seats},
        {"label": "B", "seats": seats}
    ]}]})
}

/// An organizer, a buyer, and a published event with one ticket type.
struct Sale {
    organizer: User,
    buyer: User,
    event: String,
    ticket_type: Value,
}

async fn sale(app: &TestApp, ticket_type: Value, seat_map: Option<Value>) -> Sale {
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let (event, ticket_type) = app.event_with(&organizer, ticket_type, seat_map).await;
    Sale {
        organizer,
        buyer,
        event,
        ticket_type,
    }
}

async fn seats_of(app: &TestApp, event_id: &str) -> Vec<Value> {
    let map = expect_json(
        app.get(&format!("/v1/events/{event_id}/seats"), None).await,
        StatusCode::OK,
    )
    .await;
    map["seats"].as_array().unwrap().clone()
}

async fn live_admissions(app: &TestApp, event_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(number_seats), 0)::bigint FROM bookings
         WHERE event_id = $1::uuid AND status IN ('held', 'pending_payment', 'confirmed')",
    )
    .bind(event_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn outbox_subjects(app: &TestApp, booking_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT subject FROM outbox WHERE aggregate_id = $1::uuid ORDER BY id")
        .bind(booking_id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_hold_answers_201_with_the_booking_and_takes_the_admissions() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"number_seats": 10, "price": 150000}), None).await;

    // the seed's shape, with event_type_id
    let body = json!({"event_id": event, "event_type_id": ticket_type["id"], "qty": 3});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    assert_eq!(booking["status"], "held");
    assert_eq!(booking["event_id"], event.as_str());
    assert_eq!(booking["number_seats"], 3);
    assert_eq!(booking["total_price"], 450000);
    assert_eq!(booking["currency"], "VND");
    assert_eq!(booking["items"][0]["qty"], 3);
    assert_eq!(booking["items"][0]["ticket_type_id"], ticket_type["id"]);
    assert_eq!(booking["seats"], json!([]));
    let code = booking["booking_code"].as_str().unwrap();
    assert_eq!(code.len(), 14);
    let held_at: chrono::DateTime<chrono::Utc> =
        booking["held_at"].as_str().unwrap().parse().unwrap();
    let expired_at: chrono::DateTime<chrono::Utc> =
        booking["expired_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((expired_at - held_at).num_seconds(), 900);
    assert_eq!(app.available(&event).await, 7);

    // durable before the answer, readable by its buyer, listed
    let id = booking["id"].as_str().unwrap();
    let read = expect_json(
        app.get(&format!("/v1/bookings/{id}"), Some(&buyer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["booking_code"], code);
    assert_eq!(read["status"], "held");
    assert_eq!(read["items"], booking["items"]);
    let list = expect_json(
        app.get("/v1/bookings", Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_token"], Value::Null);
    assert_eq!(outbox_subjects(&app, id).await, ["bookings.held"]);

    // nobody else sees it
    let other = app.customer().await;
    expect_error(
        app.get(&format!("/v1/bookings/{id}"), Some(&other.access_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let list = expect_json(
        app.get("/v1/bookings", Some(&other.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn five_hundred_concurrent_holds_for_100_admissions_give_100_holds_and_400_sold_out() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 100}), None)
        .await;
    let buyers: Vec<User> = join_all((0..20).map(|_| app.customer())).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});

    let answers = join_all((0..500).map(|i| {
        let buyer = &buyers[i % buyers.len()];
        let body = &body;
        let app = &app;
        async move {
            let response = app.hold(buyer, body).await;
            let status = response.status();
            let json: Value = response.json().await.unwrap();
            (status, json)
        }
    }))
    .await;

    let held = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let sold_out = answers
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["error"]["code"] == "sold_out")
        .count();
    assert_eq!(
        held,
        100,
        "answers: {:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    assert_eq!(sold_out, 400);
    assert_eq!(live_admissions(&app, &event).await, 100);
    assert_eq!(app.available(&event).await, 0);
    let mut ids: Vec<&str> = answers
        .iter()
        .filter_map(|(_, b)| b["id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every hold is a booking of its own");
}

#[actix_web::test]
async fn buyers_racing_for_the_same_seat_get_one_winner_and_seat_taken_for_the_rest() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"seat_mapped": true}), Some(two_rows(5)))
        .await;
    let seat = seats_of(&app, &event).await[2]["id"].clone();
    let buyers: Vec<User> = join_all((0..20).map(|_| app.customer())).await;
    let body =
        json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1, "seats": [seat]});

    let answers = join_all(buyers.iter().map(|buyer| app.hold(buyer, &body))).await;
    let mut won = 0;
    for response in answers {
        if response.status() == StatusCode::CREATED {
            won += 1;
            let booking: Value = response.json().await.unwrap();
            assert_eq!(booking["seats"][0]["id"], seat);
            assert_eq!(booking["seats"][0]["row"], "A");
            assert_eq!(booking["seats"][0]["label"], "3");
        } else {
            let error = expect_error(response, StatusCode::CONFLICT, "seat_taken").await;
            assert_eq!(error["details"][0]["field"], "seats");
        }
    }
    assert_eq!(won, 1);
    let seats = seats_of(&app, &event).await;
    assert_eq!(seats.iter().filter(|s| s["status"] == "held").count(), 1);
    assert_eq!(seats[2]["status"], "held");
}

/// Holds the seat at (row, label) for `buyer`; answers the seat as the seat map lists it.
async fn hold_seat(
    app: &TestApp,
    buyer: &User,
    event: &str,
    ticket_type: &Value,
    (row, label): (&str, &str),
) -> Value {
    let seat = seats_of(app, event)
        .await
        .into_iter()
        .find(|s| s["row"] == row && s["label"] == label)
        .unwrap();
    let body =
        json!({"event_id": event, "ticket_type_id": ticket_type["id"], "seats": [seat["id"]]});
    expect_json(app.hold(buyer, &body).await, StatusCode::CREATED).await;
    seat
}

#[actix_web::test]
async fn a_taken_seat_is_named_by_its_label_with_its_id_in_details() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"seat_mapped": true}), Some(two_rows(3))).await;
    let other = app.customer().await;
    let b2 = hold_seat(&app, &other, &event, &ticket_type, ("B", "2")).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "seats": [b2["id"]]});

    let error = expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "seat_taken",
    )
    .await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("Stalls B2") && !message.contains(b2["id"].as_str().unwrap()),
        "the message should say the seat as on the map, not its id: {message}"
    );
    let detail = &error["details"][0];
    assert_eq!(detail["field"], "seats");
    assert_eq!(detail["seat"]["id"], b2["id"], "{error}");
    assert_eq!(
        (
            &detail["seat"]["section"],
            &detail["seat"]["row"],
            &detail["seat"]["label"]
        ),
        (&json!("Stalls"), &json!("B"), &json!("2")),
        "{error}"
    );
}

#[actix_web::test]
async fn best_available_holds_adjacent_seats_in_the_best_row() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"seat_mapped": true}), Some(two_rows(4))).await;
    // with A2 taken, row A has no three seats side by side (A1 | A3 A4): row B it is
    hold_seat(&app, &buyer, &event, &ticket_type, ("A", "2")).await;

    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 3});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let picked: Vec<(&str, &str)> = booking["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["row"].as_str().unwrap(), s["label"].as_str().unwrap()))
        .collect();
    assert_eq!(picked, [("B", "1"), ("B", "2"), ("B", "3")]);

    // two more fit together in row A (A3, A4)
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let rows: Vec<&str> = booking["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["row"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["A", "A"]);
}

#[actix_web::test]
async fn an_unpaid_hold_expires_and_its_seats_go_back_on_sale() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"seat_mapped": true}), Some(two_rows(1))).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let id = booking["id"].as_str().unwrap().to_owned();
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;

    let path = format!("/v1/bookings/{id}");
    app.advance(std::time::Duration::from_secs(
        app.settings.booking.hold_seconds - 1,
    ));
    assert_eq!(app.available(&event).await, 0, "a second before its end");
    app.expire_holds();
    eventually(10, "the hold to expire", || async {
        let booking = expect_json(
            app.get(&path, Some(&buyer.access_token)).await,
            StatusCode::OK,
        )
        .await;
        (booking["status"] == "expired").then_some(())
    })
    .await;
    assert_eq!(app.available(&event).await, 2);
    assert!(seats_of(&app, &event)
        .await
        .iter()
        .all(|s| s["status"] == "free"));
    assert_eq!(
        outbox_subjects(&app, &id).await,
        ["bookings.held", "bookings.expired"]
    );
    // an expired hold cannot be checked out, and its seats sell again
    let checkout = format!("/v1/bookings/{id}/checkout");
    let body_checkout = json!({"payment_method": "card"});
    expect_error(
        app.post(&checkout, Some(&buyer.access_token), &body_checkout)
            .await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
    expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
}

#[actix_web::test]
async fn the_per_user_limit_counts_what_the_buyer_already_holds() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"number_seats": 50, "max_per_user": 2}), None).await;
    let one = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let first = expect_json(app.hold(&buyer, &one).await, StatusCode::CREATED).await;
    expect_json(app.hold(&buyer, &one).await, StatusCode::CREATED).await;
    let error = expect_error(
        app.hold(&buyer, &one).await,
        StatusCode::CONFLICT,
        "over_limit",
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains('2'));
    // another buyer is not affected; a cancel gives the first buyer room again
    expect_json(
        app.hold(&app.customer().await, &one).await,
        StatusCode::CREATED,
    )
    .await;
    let cancel = format!("/v1/bookings/{}/cancel", first["id"].as_str().unwrap());
    expect_json(
        app.post(&cancel, Some(&buyer.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_json(app.hold(&buyer, &one).await, StatusCode::CREATED).await;
    // the per-order limit (booking.max_per_order = 10)
    let many = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 11});
    let error = expect_error(
        app.hold(&buyer, &many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "qty");
}

#[actix_web::test]
async fn holds_are_refused_outside_the_sale_window() {
    let app = spawn_app().await;
    let Sale {
        organizer,
        buyer,
        event: later,
        ticket_type: later_type,
    } = sale(&app, json!({"sale_at": "2099-01-01T00:00:00Z"}), None).await;
    let body = json!({"event_id": later, "ticket_type_id": later_type["id"], "qty": 1});
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "sale_not_open",
    )
    .await;

    let (over, over_type) = app
        .event_with(
            &organizer,
            json!({"sale_at": "2020-01-01T00:00:00Z", "sale_end": "2020-02-01T00:00:00Z"}),
            None,
        )
        .await;
    let body = json!({"event_id": over, "ticket_type_id": over_type["id"], "qty": 1});
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "sale_not_open",
    )
    .await;

    // the organizer opens the sale: the running engine follows at once
    let path = format!(
        "/v1/admin/events/{later}/ticket_types/{}",
        later_type["id"].as_str().unwrap()
    );
    expect_json(
        app.patch(
            &path,
            Some(&organizer.access_token),
            &json!({"sale_at": "2020-01-01T00:00:00Z"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let body = json!({"event_id": later, "ticket_type_id": later_type["id"], "qty": 1});
    eventually(5, "the engine to reload the ticket type", || async {
        (app.hold(&buyer, &body).await.status() == StatusCode::CREATED).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn information_then_checkout_moves_the_booking_to_pending_payment() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let id = booking["id"].as_str().unwrap();
    let token = Some(buyer.access_token.as_str());
    let checkout = format!("/v1/bookings/{id}/checkout");
    let information = format!("/v1/bookings/{id}/information");

    expect_error(
        app.post(&checkout, token, &json!({"payment_method": "card"}))
            .await,
        StatusCode::CONFLICT,
        "information_required",
    )
    .await;
    let error = expect_error(
        app.post(
            &information,
            token,
            &json!({"email": "nope", "phone": "call me"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields = error_fields(&error);
    assert_eq!(fields, ["email", "phone"]);
    let given = json!({"email": "ada@example.com", "phone": "+84 90 123 4567", "address": "1 Trang Tien, Hanoi"});
    let with_information =
        expect_json(app.post(&information, token, &given).await, StatusCode::OK).await;
    assert_eq!(with_information["information"], given);

    expect_error(
        app.post(&checkout, token, &json!({"payment_method": "cash"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let checked_out = expect_json(
        app.post(&checkout, token, &json!({"payment_method": "ewallet"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(checked_out["status"], "pending_payment");
    assert_eq!(checked_out["payment_method"], "ewallet");
    // again: the same booking, no second payment request
    let again = expect_json(
        app.post(&checkout, token, &json!({"payment_method": "ewallet"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["status"], "pending_payment");
    assert_eq!(
        outbox_subjects(&app, id).await,
        ["bookings.held", "bookings.confirmed"]
    );
    // still holding its admissions
    assert_eq!(app.available(&event).await, 98);
}

#[actix_web::test]
async fn cancel_gives_the_admissions_back_once() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({"seat_mapped": true}), Some(two_rows(2))).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    assert_eq!(app.available(&event).await, 2);
    let path = format!("/v1/bookings/{}/cancel", booking["id"].as_str().unwrap());

    let stranger = app.customer().await;
    expect_error(
        app.post(&path, Some(&stranger.access_token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let cancelled = expect_json(
        app.post(&path, Some(&buyer.access_token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.available(&event).await, 4);
    assert!(seats_of(&app, &event)
        .await
        .iter()
        .all(|s| s["status"] == "free"));
    let again = expect_json(
        app.post(&path, Some(&buyer.access_token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["status"], "cancelled");
    assert_eq!(
        outbox_subjects(&app, booking["id"].as_str().unwrap()).await,
        ["bookings.held", "bookings.cancelled"]
    );
}

#[actix_web::test]
async fn a_retried_hold_with_the_same_idempotency_key_holds_once() {
    let app = spawn_app().await;
    let Sale {
        organizer: _,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let send = |key: &'static str, body: Value| {
        let request = app
            .request(
                reqwest::Method::POST,
                "/v1/bookings/hold",
                Some(&buyer.access_token),
            )
            .header("Idempotency-Key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };

    let first = send("retry-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = send("retry-1", body.clone()).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(live_admissions(&app, &event).await, 2);

    let other_body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    expect_error(
        send("retry-1", other_body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    // a new key is a new hold; a key of another user is theirs alone
    expect_json(send("retry-2", body.clone()).await, StatusCode::CREATED).await;
    assert_eq!(live_admissions(&app, &event).await, 4);
    let bad = app
        .request(
            reqwest::Method::POST,
            "/v1/bookings/hold",
            Some(&buyer.access_token),
        )
        .header("Idempotency-Key", "")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "bad_request").await;
}

#[actix_web::test]
async fn several_ticket_types_are_held_together_or_not_at_all() {
    let app = spawn_app().await;
    let Sale {
        organizer,
        buyer,
        event,
        ticket_type: standard,
    } = sale(&app, json!({"number_seats": 5, "price": 100}), None).await;
    let vip = app
        .create_ticket_type(
            &organizer,
            &event,
            json!({"name": "VIP", "number_seats": 1, "price": 1000}),
        )
        .await;
    let body = json!({"event_id": event, "items": [
        {"ticket_type_id": standard["id"], "qty": 2},
        {"ticket_type_id": vip["id"], "qty": 1}
    ]});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    assert_eq!(booking["number_seats"], 3);
    assert_eq!(booking["total_price"], 1200);
    assert_eq!(booking["items"].as_array().unwrap().len(), 2);
    // VIP is gone, so nothing of this request is held
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;
    assert_eq!(app.available(&event).await, 3);
}

#[actix_web::test]
async fn bad_holds_get_clear_errors() {
    let app = spawn_app().await;
    let Sale {
        organizer,
        buyer,
        event,
        ticket_type: general,
    } = sale(&app, json!({"number_seats": 5}), None).await;
    let (mapped_event, mapped) = app
        .event_with(&organizer, json!({"seat_mapped": true}), Some(two_rows(2)))
        .await;
    let tt = general["id"].clone();

    for (body, field) in [
        (
            json!({"event_id": event, "ticket_type_id": tt, "qty": 0}),
            "qty",
        ),
        (json!({"event_id": event, "qty": 1}), "ticket_type_id"),
        (
            json!({"event_id": event, "items": [{"ticket_type_id": tt, "qty": 6}, {"ticket_type_id": tt, "qty": 5}]}),
            "items",
        ),
        (
            json!({"event_id": event, "ticket_type_id": tt, "qty": 1, "items": []}),
            "items",
        ),
        (
            json!({"event_id": event, "ticket_type_id": uuid::Uuid::now_v7(), "qty": 1}),
            "ticket_type_id",
        ),
        (
            json!({"event_id": event, "ticket_type_id": tt, "seats": [uuid::Uuid::now_v7()]}),
            "seats",
        ),
        (
            json!({"event_id": mapped_event, "ticket_type_id": mapped["id"], "qty": 2, "seats": [uuid::Uuid::now_v7()]}),
            "seats",
        ),
    ] {
        let error = expect_error(
            app.hold(&buyer, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error["details"][0]["field"], field, "body: {body}");
    }
    let unknown_seat = json!({"event_id": mapped_event, "ticket_type_id": mapped["id"], "seats": [uuid::Uuid::now_v7()]});
    expect_error(
        app.hold(&buyer, &unknown_seat).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_seat",
    )
    .await;
    expect_error(
        app.hold(
            &buyer,
            &json!({"event_id": event, "ticket_type_id": tt, "qty": "two"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let unknown_event = json!({"event_id": uuid::Uuid::now_v7(), "ticket_type_id": tt, "qty": 1});
    expect_error(
        app.hold(&buyer, &unknown_event).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let anonymous = app
        .post(
            "/v1/bookings/hold",
            None,
            &json!({"event_id": event, "ticket_type_id": tt, "qty": 1}),
        )
        .await;
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // a draft event is invisible; a cancelled one says so
    let draft = app.create_event(&organizer, json!({})).await;
    let draft_type = app
        .create_ticket_type(&organizer, draft["id"].as_str().unwrap(), json!({}))
        .await;
    let body = json!({"event_id": draft["id"], "ticket_type_id": draft_type["id"], "qty": 1});
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let cancel = format!("/v1/admin/events/{event}/cancel");
    expect_json(
        app.post(&cancel, Some(&organizer.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let body = json!({"event_id": event, "ticket_type_id": tt, "qty": 1});
    eventually(5, "the engine to see the cancellation", || async {
        let response = app.hold(&buyer, &body).await;
        (response.status() == StatusCode::CONFLICT).then_some(response)
    })
    .await;
    expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::CONFLICT,
        "event_cancelled",
    )
    .await;
}

#[actix_web::test]
async fn a_commit_the_database_refuses_is_undone_and_the_engine_goes_on() {
    let app = spawn_app().await;
    let Sale {
        buyer,
        event,
        ticket_type,
        ..
    } = sale(&app, json!({"seat_mapped": true}), Some(two_rows(1))).await;
    let seats = seats_of(&app, &event).await;
    let hold_seat = |i: usize| json!({"event_id": event, "ticket_type_id": ticket_type["id"], "seats": [seats[i]["id"]]});
    let kept = expect_json(app.hold(&buyer, &hold_seat(1)).await, StatusCode::CREATED).await;

    // behind the engine's back, seat 0 is taken in the database: the unique index on active
    // seats must refuse the engine's batch rather than let the seat be sold twice
    sqlx::query(
        "INSERT INTO bookings (id, event_id, user_id, booking_code, status, held_at, expired_at,
                               total_price, currency, number_seats)
         VALUES ($1, $2::uuid, $3::uuid, 'MANUAL', 'held', now(), now() + interval '1 hour', 0, 'VND', 1);
         ",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&event)
    .bind(&buyer.id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO booking_seats (id, booking_id, seat_id, ticket_type_id)
         SELECT $1, id, $2::uuid, $3::uuid FROM bookings WHERE booking_code = 'MANUAL'",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(seats[0]["id"].as_str().unwrap())
    .bind(ticket_type["id"].as_str().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let refused = app.hold(&buyer, &hold_seat(0)).await;
    assert!(refused.headers().contains_key("retry-after"));
    expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // the failed batch left no trace in memory: the kept hold cancels, its seat sells again
    let cancel = format!("/v1/bookings/{}/cancel", kept["id"].as_str().unwrap());
    expect_json(
        app.post(&cancel, Some(&buyer.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_json(app.hold(&buyer, &hold_seat(1)).await, StatusCode::CREATED).await;
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM booking_seats WHERE active AND seat_id = $1::uuid",
    )
    .bind(seats[0]["id"].as_str().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(doubled, 1);
}

#[actix_web::test]
async fn an_event_that_asks_for_names_takes_one_per_admission_with_the_information() {
    let app = spawn_app().await;
    let Sale {
        organizer,
        buyer,
        event,
        ticket_type,
    } = sale(&app, json!({}), None).await;
    let asks = json!({"attendee_names": true});
    let path = format!("/v1/admin/events/{event}");
    let edited = expect_json(
        app.patch(&path, Some(&organizer.access_token), &asks).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["attendee_names"], true);
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let information = format!(
        "/v1/bookings/{}/information",
        booking["id"].as_str().unwrap()
    );
    let token = Some(buyer.access_token.as_str());

    for (attendees, field) in [
        (json!(null), "attendees"),
        (json!(["Ada Lovelace"]), "attendees"),
        (json!(["Ada Lovelace", "   "]), "attendees[1]"),
    ] {
        let given = json!({"email": "ada@example.com", "attendees": attendees});
        let error = expect_error(
            app.post(&information, token, &given).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error_fields(&error), [field], "{attendees}: {error}");
    }
    let given = json!({"email": "ada@example.com", "attendees": [" Ada Lovelace ", "Alan Turing"]});
    let saved = expect_json(app.post(&information, token, &given).await, StatusCode::OK).await;
    assert_eq!(
        saved["information"]["attendees"],
        json!(["Ada Lovelace", "Alan Turing"])
    );

    // paid: each ticket carries its name, in admission order, and so does the door's list
    let checkout = format!("/v1/bookings/{}/checkout", booking["id"].as_str().unwrap());
    let booking = expect_json(
        app.post(&checkout, token, &json!({"payment_method": "card"}))
            .await,
        StatusCode::OK,
    )
    .await;
    crate::payments::pay(&app, &booking).await;
    let mut tickets = crate::tickets::tickets_of(&app, &buyer, 2).await;
    tickets.sort_by_key(|t| t["admission_no"].as_i64());
    let names: Vec<&Value> = tickets.iter().map(|t| &t["attendee_name"]).collect();
    assert_eq!(names, [&json!("Ada Lovelace"), &json!("Alan Turing")]);
    let list = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/attendees?q=turing"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["attendee_name"], "Alan Turing");
}

#[actix_web::test]
async fn a_buyer_keeps_a_hold_longer_ten_times_at_most_and_it_ends_at_its_new_time() {
    let app = spawn_app().await;
    let Sale {
        buyer,
        event,
        ticket_type,
        ..
    } = sale(&app, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    assert_eq!(booking["extensions_left"], 10);
    let id = booking["id"].as_str().unwrap();
    let extend = format!("/v1/bookings/{id}/extend");
    let token = Some(buyer.access_token.as_str());
    let deadline = |b: &Value| {
        chrono::DateTime::parse_from_rfc3339(b["expired_at"].as_str().unwrap()).unwrap()
    };

    // with 100 s left, "5 more minutes" moves the end to 300 s from now
    let hold = app.settings.booking.hold_seconds;
    app.advance(std::time::Duration::from_secs(hold - 100));
    let extended = expect_json(app.post(&extend, token, &json!({})).await, StatusCode::OK).await;
    assert_eq!(
        (deadline(&extended) - deadline(&booking)).num_seconds(),
        200,
        "{extended}"
    );
    assert_eq!(extended["extensions_left"], 9);
    // past the old end the seats are still held; past the new one they are not
    app.advance(std::time::Duration::from_secs(150));
    app.settle().await;
    let now = expect_json(
        app.get(&format!("/v1/bookings/{id}"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["status"], "held");
    assert_eq!(app.available(&event).await, 99);

    for left in (0..9).rev() {
        let again = expect_json(app.post(&extend, token, &json!({})).await, StatusCode::OK).await;
        assert_eq!(again["extensions_left"], left);
    }
    let refused = expect_error(
        app.post(&extend, token, &json!({})).await,
        StatusCode::CONFLICT,
        "hold_not_extendable",
    )
    .await;
    assert!(
        refused["message"].as_str().unwrap().contains("ten")
            || refused["message"].as_str().unwrap().contains("10")
    );

    // someone else's booking is not theirs to extend
    let other = app.customer().await;
    expect_error(
        app.post(&extend, Some(&other.access_token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    app.advance(std::time::Duration::from_secs(301));
    eventually(10, "the extended hold to end", || async {
        app.settle().await;
        (app.available(&event).await == 100).then_some(())
    })
    .await;
    expect_error(
        app.post(&extend, token, &json!({})).await,
        StatusCode::CONFLICT,
        "hold_expired",
    )
    .await;
}
