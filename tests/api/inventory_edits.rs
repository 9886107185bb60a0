//! Organizers' edits that touch inventory (seat maps, capacities, removed ticket types) while
//! buyers hold: the event's engine takes them between batches and refuses what would strand a
//! hold, so neither side ever sees a 5xx and the event page agrees with the database.
use futures_util::future::{join, join_all};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{expect_error, expect_json, spawn_app, TestApp, User};

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

fn rows(labels: &[&str], seats: u32) -> Value {
    let rows: Vec<Value> = labels
        .iter()
        .map(|label| json!({"label": label, "seats": seats}))
        .collect();
    json!({"sections": [{"name": "Floor", "rows": rows}]})
}

/// A published event with a general-admission type of `capacity` and, when `map` is given, a
/// seat-mapped type with that map. Returns (event id, general type id, seated type id).
async fn event(
    app: &TestApp,
    organizer: &User,
    capacity: u32,
    map: Option<Value>,
) -> (String, String, Option<String>) {
    let token = Some(organizer.access_token.as_str());
    let event = app.create_event(organizer, json!({})).await;
    let event = id(&event).to_owned();
    let general = app
        .create_ticket_type(organizer, &event, json!({"number_seats": capacity}))
        .await;
    let mut seated = None;
    if let Some(map) = map {
        let ticket_type = app
            .create_ticket_type(
                organizer,
                &event,
                json!({"name": "Reserved", "seat_mapped": true}),
            )
            .await;
        let path = format!(
            "/v1/admin/events/{event}/ticket_types/{}/seats",
            id(&ticket_type)
        );
        expect_json(app.post(&path, token, &map).await, StatusCode::OK).await;
        seated = Some(id(&ticket_type).to_owned());
    }
    let path = format!("/v1/admin/events/{event}/publish");
    expect_json(app.post(&path, token, &json!({})).await, StatusCode::OK).await;
    (event, id(&general).to_owned(), seated)
}

/// `count` holds of one admission each, spread over `buyers` and alternating over `types`,
/// sent together with `edit`; returns the holds' statuses and the edit's answer.
async fn race<F>(
    app: &TestApp,
    buyers: &[User],
    event: &str,
    types: &[&str],
    count: usize,
    edit: F,
) -> (Vec<StatusCode>, (StatusCode, String))
where
    F: std::future::Future<Output = reqwest::Response>,
{
    let holds = (0..count).map(|i| {
        let body = json!({"event_id": event, "ticket_type_id": types[i % types.len()], "qty": 1});
        let buyer = &buyers[i % buyers.len()];
        async move { app.hold(buyer, &body).await.status() }
    });
    let edit = async {
        let response = edit.await;
        (response.status(), response.text().await.unwrap())
    };
    join(join_all(holds), edit).await
}

/// Checks that no hold and not the edit failed on the server's side, and that the edit was
/// answered with one of `allowed`.
fn assert_answered(
    holds: &[StatusCode],
    edit: &(StatusCode, String),
    allowed: &[StatusCode],
    round: usize,
) {
    let failed: Vec<u16> = holds
        .iter()
        .filter(|s| s.is_server_error())
        .map(|s| s.as_u16())
        .collect();
    assert!(
        failed.is_empty(),
        "round {round}: {} of {} holds failed with {failed:?}",
        failed.len(),
        holds.len()
    );
    assert!(
        allowed.contains(&edit.0),
        "round {round}: the organizer got {}: {}",
        edit.0,
        edit.1
    );
}

async fn buyers(app: &TestApp) -> Vec<User> {
    let mut buyers = Vec::new();
    for _ in 0..5 {
        buyers.push(app.customer().await);
    }
    buyers
}

/// Admissions the database has held or sold for a ticket type.
async fn taken(app: &TestApp, ticket_type: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(bi.qty), 0)::BIGINT FROM booking_items bi JOIN bookings b ON b.id = bi.booking_id
         WHERE bi.ticket_type_id = $1 AND b.status IN ('held', 'pending_payment', 'confirmed')",
    )
    .bind(ticket_type.parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Checks that the event page's `available` plus what the database holds or sold is each
/// type's capacity, and that no type holds more than its capacity.
async fn assert_page_agrees_with_database(app: &TestApp, event: &str) {
    let page = expect_json(
        app.get(&format!("/v1/events/{event}"), None).await,
        StatusCode::OK,
    )
    .await;
    for ticket_type in page["ticket_types"].as_array().unwrap() {
        let capacity = ticket_type["number_seats"].as_i64().unwrap();
        let available = ticket_type["available"].as_i64().unwrap();
        let taken = taken(app, id(ticket_type)).await;
        assert!(
            taken <= capacity,
            "{}: {taken} held or sold of capacity {capacity}",
            ticket_type["name"]
        );
        assert_eq!(
            available + taken,
            capacity,
            "{}: the page says {available} available, the database {taken} taken of {capacity}",
            ticket_type["name"]
        );
    }
}

#[actix_web::test]
async fn a_seat_map_replaced_while_buyers_hold_never_fails_or_strands_a_seat() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let buyers = buyers(&app).await;
    let mut replaced = 0;
    for round in 0..3 {
        let (event, general, seated) =
            event(&app, &organizer, 100, Some(rows(&["A", "B"], 40))).await;
        let seated = seated.unwrap();
        let path = format!("/v1/admin/events/{event}/ticket_types/{seated}/seats");
        let new_map = rows(&["C", "D", "E"], 30);
        let (holds, edit) = race(
            &app,
            &buyers,
            &event,
            &[&seated, &general],
            50,
            app.post(&path, token, &new_map),
        )
        .await;
        assert_answered(
            &holds,
            &edit,
            &[StatusCode::OK, StatusCode::CONFLICT],
            round,
        );
        if edit.0 == StatusCode::OK {
            replaced += 1;
        }

        // every live booking of the seated type has its seats, all in the current map
        let stranded: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM bookings b JOIN booking_items bi ON bi.booking_id = b.id
             WHERE bi.ticket_type_id = $1 AND b.status IN ('held', 'pending_payment', 'confirmed')
               AND bi.qty <> (SELECT count(*) FROM booking_seats bs JOIN seats s ON s.id = bs.seat_id
                              WHERE bs.booking_id = b.id AND bs.active AND s.ticket_type_id = $1)",
        )
        .bind(seated.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(stranded, 0, "round {round}: bookings without their seats");
        let map = expect_json(app.get(&path, token).await, StatusCode::OK).await;
        let held = map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] != "free")
            .count() as i64;
        assert_eq!(held, taken(&app, &seated).await, "round {round}");
        assert_page_agrees_with_database(&app, &event).await;
    }
    eprintln!("seat map replaced in {replaced} of 3 rounds, refused in the others");
}

#[actix_web::test]
async fn a_capacity_cut_while_buyers_hold_never_strands_a_hold() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let buyers = buyers(&app).await;
    for round in 0..3 {
        let (event, general, _) = event(&app, &organizer, 100, None).await;
        let path = format!("/v1/admin/events/{event}/ticket_types/{general}");
        let (holds, edit) = race(
            &app,
            &buyers,
            &event,
            &[&general],
            50,
            app.patch(&path, token, &json!({"number_seats": 30})),
        )
        .await;
        assert_answered(
            &holds,
            &edit,
            &[StatusCode::OK, StatusCode::CONFLICT],
            round,
        );
        assert_page_agrees_with_database(&app, &event).await;
    }
}

#[actix_web::test]
async fn a_ticket_type_removed_while_buyers_hold_never_fails_a_hold() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let buyers = buyers(&app).await;
    for round in 0..3 {
        let (event, general, _) = event(&app, &organizer, 100, None).await;
        let other = app
            .create_ticket_type(
                &organizer,
                &event,
                json!({"name": "Late", "number_seats": 100}),
            )
            .await;
        let path = format!("/v1/admin/events/{event}/ticket_types/{}", id(&other));
        let (holds, edit) = race(
            &app,
            &buyers,
            &event,
            &[id(&other), &general],
            50,
            app.delete(&path, token),
        )
        .await;
        assert_answered(
            &holds,
            &edit,
            &[StatusCode::NO_CONTENT, StatusCode::CONFLICT],
            round,
        );
        assert_page_agrees_with_database(&app, &event).await;
    }
}

#[actix_web::test]
async fn capacity_cannot_go_below_what_is_held_and_a_raise_sells_at_once() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let token = Some(organizer.access_token.as_str());
    let (event, general, _) = event(&app, &organizer, 3, None).await;
    let path = format!("/v1/admin/events/{event}/ticket_types/{general}");
    let body = json!({"event_id": event, "ticket_type_id": general, "qty": 3});
    expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;

    let error = expect_error(
        app.patch(&path, token, &json!({"number_seats": 2})).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    assert_eq!(
        error["message"],
        "3 admissions of this ticket type are held or sold, so number_seats cannot go below that"
    );

    let one = json!({"event_id": event, "ticket_type_id": general, "qty": 1});
    expect_error(
        app.hold(&buyer, &one).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;
    expect_json(
        app.patch(&path, token, &json!({"number_seats": 4})).await,
        StatusCode::OK,
    )
    .await;
    // the engine has the new capacity the moment the organizer has the answer
    expect_json(app.hold(&buyer, &one).await, StatusCode::CREATED).await;
    expect_error(
        app.hold(&buyer, &one).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;
    assert_page_agrees_with_database(&app, &event).await;
}

#[actix_web::test]
async fn a_held_seat_keeps_its_map_and_the_refusal_names_it() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let token = Some(organizer.access_token.as_str());
    let (event, _, seated) = event(&app, &organizer, 10, Some(rows(&["A"], 4))).await;
    let seated = seated.unwrap();
    let body = json!({"event_id": event, "ticket_type_id": seated, "qty": 2});
    expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;

    let path = format!("/v1/admin/events/{event}/ticket_types/{seated}/seats");
    for response in [
        app.post(&path, token, &rows(&["Z"], 2)).await,
        app.delete(&path, token).await,
    ] {
        let error = expect_error(response, StatusCode::CONFLICT, "ticket_type_has_sales").await;
        assert_eq!(
            error["message"],
            "seats Floor, row A, seat 1; Floor, row A, seat 2 are held or sold, so the seat map cannot change while they are"
        );
    }
}

#[actix_web::test]
async fn a_ticket_type_with_live_holds_stays_and_one_without_goes_from_the_engine() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let token = Some(organizer.access_token.as_str());
    let (event, general, _) = event(&app, &organizer, 10, None).await;
    let unsold = app
        .create_ticket_type(
            &organizer,
            &event,
            json!({"name": "Late", "number_seats": 5}),
        )
        .await;
    let body = json!({"event_id": event, "ticket_type_id": general, "qty": 2});
    expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;

    let error = expect_error(
        app.delete(
            &format!("/v1/admin/events/{event}/ticket_types/{general}"),
            token,
        )
        .await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    assert_eq!(
        error["message"],
        "2 admissions of this ticket type are held or sold, so it cannot be removed; set its status to hidden instead"
    );

    let response = app
        .delete(
            &format!("/v1/admin/events/{event}/ticket_types/{}", id(&unsold)),
            token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let body = json!({"event_id": event, "ticket_type_id": id(&unsold), "qty": 1});
    let error = expect_error(
        app.hold(&buyer, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "ticket_type_id");
    assert_page_agrees_with_database(&app, &event).await;
}
