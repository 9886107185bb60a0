use boxoffice::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_error, expect_json, spawn_app};

/// A booking of `qty` admissions of the ticket type in `status`, written straight to the
/// tables (the booking API comes with the engine).
async fn insert_booking(
    pool: &PgPool,
    event_id: &str,
    ticket_type_id: &str,
    user_id: &str,
    qty: i32,
    status: &str,
) -> Uuid {
    let booking = Uuid::now_v7();
    let event: Uuid = event_id.parse().unwrap();
    let user: Uuid = user_id.parse().unwrap();
    sqlx::query(
        "INSERT INTO bookings (id, event_id, user_id, booking_code, status, held_at, expired_at, total_price, currency, number_seats)
         VALUES ($1, $2, $3, $4, $5, now(), now() + interval '15 minutes', 0, 'VND', $6)",
    )
    .bind(booking)
    .bind(event)
    .bind(user)
    .bind(booking.simple().to_string())
    .bind(status)
    .bind(qty)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO booking_items (id, booking_id, ticket_type_id, qty, price) VALUES ($1, $2, $3, $4, 0)")
        .bind(Uuid::now_v7())
        .bind(booking)
        .bind(ticket_type_id.parse::<Uuid>().unwrap())
        .bind(qty)
        .execute(pool)
        .await
        .unwrap();
    booking
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

#[actix_web::test]
async fn an_organizer_creates_edits_publishes_and_deletes_an_event() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let event = app
        .create_event(&organizer, json!({"category": "Concert"}))
        .await;
    assert_eq!(event["status"], "draft");
    assert_eq!(event["category"], "concert");
    assert_eq!(event["organizer_id"], organizer.id.as_str());
    assert_eq!(event["ticket_types"], json!([]));
    let path = format!("/v1/admin/events/{}", id(&event));

    let edited = expect_json(
        app.patch(
            &path,
            token,
            &json!({"title": "Now with a choir", "banner": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["title"], "Now with a choir");
    assert_eq!(
        edited["name"], event["name"],
        "fields left out keep their value"
    );
    assert!(edited["banner"].is_null());
    // the merged start and end must still be in order
    let error = expect_error(
        app.patch(&path, token, &json!({"start_at": "2027-03-02T00:00:00Z"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "end_at");

    expect_error(
        app.post(&format!("{path}/publish"), token, &json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    app.create_ticket_type(&organizer, id(&event), json!({}))
        .await;
    let published = expect_json(
        app.post(&format!("{path}/publish"), token, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    expect_json(
        app.get(&format!("/v1/events/{}", id(&event)), None).await,
        StatusCode::OK,
    )
    .await;

    let listed = expect_json(
        app.get("/v1/admin/events?status=published", token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    let response = app.delete(&path, token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.get(&path, token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/events/{}", id(&event)), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn organizer_b_cannot_see_or_touch_organizer_a_events() {
    let app = spawn_app().await;
    let a = app.organizer().await;
    let b = app.organizer().await;
    let event = app.create_event(&a, json!({})).await;
    let ticket_type = app.create_ticket_type(&a, id(&event), json!({})).await;
    let path = format!("/v1/admin/events/{}", id(&event));
    let tt_path = format!("{path}/ticket_types/{}", id(&ticket_type));
    let token = Some(b.access_token.as_str());

    expect_error(
        app.get(&path, token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.patch(&path, token, &json!({"name": "Hijacked"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&path, token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.post(&format!("{path}/publish"), token, &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.post(&format!("{path}/cancel"), token, &json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.post(
            &format!("{path}/ticket_types"),
            token,
            &json!({"name": "x", "price": 1, "currency": "VND", "number_seats": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.patch(&tt_path, token, &json!({"price": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&tt_path, token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let listed = expect_json(app.get("/v1/admin/events", token).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]));

    // nothing changed
    let unchanged = expect_json(app.get(&path, Some(&a.access_token)).await, StatusCode::OK).await;
    assert_eq!(unchanged["name"], event["name"]);
    assert_eq!(unchanged["ticket_types"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_admin_runs_any_organizers_event() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let admin = app.with_role(Role::Admin).await;
    let event = app.create_event(&organizer, json!({})).await;
    app.create_ticket_type(&organizer, id(&event), json!({}))
        .await;
    let path = format!("/v1/admin/events/{}", id(&event));
    let token = Some(admin.access_token.as_str());
    expect_json(
        app.patch(&path, token, &json!({"name": "Renamed by admin"}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        app.post(&format!("{path}/publish"), token, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let listed = expect_json(app.get("/v1/admin/events", token).await, StatusCode::OK).await;
    assert_eq!(listed["data"][0]["name"], "Renamed by admin");
}

#[actix_web::test]
async fn deleting_an_event_with_sold_tickets_is_refused_and_it_can_be_cancelled_instead() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let event = app.published_event(&organizer, json!({})).await;
    let ticket_type = &event["ticket_types"][0];
    insert_booking(
        &app.pool,
        id(&event),
        id(ticket_type),
        &buyer.id,
        2,
        "confirmed",
    )
    .await;
    let path = format!("/v1/admin/events/{}", id(&event));
    let token = Some(organizer.access_token.as_str());

    expect_error(
        app.delete(&path, token).await,
        StatusCode::CONFLICT,
        "event_has_sales",
    )
    .await;
    expect_json(app.get(&path, token).await, StatusCode::OK).await;

    let cancelled = expect_json(
        app.post(&format!("{path}/cancel"), token, &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    // off the listing, still readable by its buyers, frozen for edits
    let listing = expect_json(app.get("/v1/events", None).await, StatusCode::OK).await;
    assert_eq!(listing["data"], json!([]));
    let page = expect_json(
        app.get(&format!("/v1/events/{}", id(&event)), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["status"], "cancelled");
    expect_error(
        app.patch(&path, token, &json!({"name": "Back on"})).await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    expect_error(
        app.post(&format!("{path}/publish"), token, &json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
}

#[actix_web::test]
async fn an_event_whose_bookings_all_expired_can_be_deleted() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let event = app.published_event(&organizer, json!({})).await;
    insert_booking(
        &app.pool,
        id(&event),
        id(&event["ticket_types"][0]),
        &buyer.id,
        1,
        "expired",
    )
    .await;
    let response = app
        .delete(
            &format!("/v1/admin/events/{}", id(&event)),
            Some(&organizer.access_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn ticket_types_are_edited_within_what_is_booked() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let ticket_type = app
        .create_ticket_type(
            &organizer,
            id(&event),
            json!({"number_seats": 10, "currency": "usd"}),
        )
        .await;
    assert_eq!(ticket_type["currency"], "USD");
    let path = format!(
        "/v1/admin/events/{}/ticket_types/{}",
        id(&event),
        id(&ticket_type)
    );
    let token = Some(organizer.access_token.as_str());

    let edited = expect_json(
        app.patch(&path, token, &json!({"price": 1500, "sale_at": "2027-01-01T00:00:00Z", "sale_end": "2027-02-01T00:00:00Z", "image_url": "https://cdn.example.com/t.png"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (edited["price"].as_i64(), edited["number_seats"].as_i64()),
        (Some(1500), Some(10))
    );
    assert_eq!(edited["sale_at"], "2027-01-01T00:00:00Z");
    let error = expect_error(
        app.patch(&path, token, &json!({"sale_end": "2026-12-01T00:00:00Z"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "sale_end");

    insert_booking(
        &app.pool,
        id(&event),
        id(&ticket_type),
        &buyer.id,
        6,
        "held",
    )
    .await;
    expect_error(
        app.patch(&path, token, &json!({"number_seats": 5})).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    let shrunk = expect_json(
        app.patch(&path, token, &json!({"number_seats": 6})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            shrunk["number_seats"].as_i64(),
            shrunk["available"].as_i64()
        ),
        (Some(6), Some(0))
    );
    expect_error(
        app.patch(&path, token, &json!({"currency": "EUR"})).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    expect_error(
        app.delete(&path, token).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    let hidden = expect_json(
        app.patch(&path, token, &json!({"status": "hidden"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(hidden["status"], "hidden");

    let unbooked = app
        .create_ticket_type(&organizer, id(&event), json!({"name": "Spare"}))
        .await;
    let response = app
        .delete(
            &format!(
                "/v1/admin/events/{}/ticket_types/{}",
                id(&event),
                id(&unbooked)
            ),
            token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

fn seat_map() -> Value {
    json!({"sections": [
        {"name": "Stalls", "rows": [
            {"label": "A", "seats": 4},
            {"label": "B", "seats": ["1", "2", {"label": "3", "position": 5}], "rank": 1}
        ]},
        {"name": "Balcony", "rows": [{"label": "A", "seats": [{"label": "1", "rank": 0}, "2"]}]}
    ]})
}

#[actix_web::test]
async fn a_seat_map_sets_the_capacity_and_shows_every_seat_free() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let event = app.create_event(&organizer, json!({})).await;
    let seated = app
        .create_ticket_type(
            &organizer,
            id(&event),
            json!({"name": "Reserved", "seat_mapped": true, "number_seats": 1}),
        )
        .await;
    let event_path = format!("/v1/admin/events/{}", id(&event));
    let path = format!("{event_path}/ticket_types/{}", id(&seated));

    // a seat-mapped type without seats cannot go on sale
    expect_error(
        app.post(&format!("{event_path}/publish"), token, &json!({}))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;

    let map = expect_json(
        app.post(&format!("{path}/seats"), token, &seat_map()).await,
        StatusCode::OK,
    )
    .await;
    let seats = map["seats"].as_array().unwrap();
    assert_eq!(seats.len(), 9);
    assert!(seats.iter().all(|s| s["status"] == "free"));
    let balcony_1 = seats
        .iter()
        .find(|s| s["section"] == "Balcony" && s["label"] == "1")
        .unwrap();
    assert_eq!(balcony_1["rank"], 0);
    let b3 = seats
        .iter()
        .find(|s| s["section"] == "Stalls" && s["row"] == "B" && s["label"] == "3")
        .unwrap();
    assert_eq!(
        (b3["position"].as_i64(), b3["rank"].as_i64()),
        (Some(5), Some(1))
    );

    let detail = expect_json(app.get(&event_path, token).await, StatusCode::OK).await;
    assert_eq!(
        detail["ticket_types"][0]["number_seats"], 9,
        "capacity follows the map"
    );
    expect_error(
        app.patch(&path, token, &json!({"number_seats": 20})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.patch(&path, token, &json!({"seat_mapped": false}))
            .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;

    expect_json(
        app.post(&format!("{event_path}/publish"), token, &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let public = expect_json(
        app.get(&format!("/v1/events/{}/seats", id(&event)), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(public["seats"].as_array().unwrap().len(), 9);

    // replacing it is allowed until something is booked
    let smaller = json!({"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 2}]}]});
    let map = expect_json(
        app.post(&format!("{path}/seats"), token, &smaller).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(map["seats"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn seat_maps_are_checked() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let event = app.create_event(&organizer, json!({})).await;
    let event_path = format!("/v1/admin/events/{}", id(&event));
    let general = app
        .create_ticket_type(&organizer, id(&event), json!({}))
        .await;
    let seated = app
        .create_ticket_type(&organizer, id(&event), json!({"seat_mapped": true}))
        .await;
    let other_seated = app
        .create_ticket_type(&organizer, id(&event), json!({"seat_mapped": true}))
        .await;

    expect_error(
        app.post(
            &format!("{event_path}/ticket_types/{}/seats", id(&general)),
            token,
            &seat_map(),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    let duplicate =
        json!({"sections": [{"name": "S", "rows": [{"label": "A", "seats": ["1", "1"]}]}]});
    expect_error(
        app.post(
            &format!("{event_path}/ticket_types/{}/seats", id(&seated)),
            token,
            &duplicate,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.post(&format!("{event_path}/seats"), token, &seat_map())
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // the event-level route takes the ticket type in the body
    let mut body = seat_map();
    body["ticket_type_id"] = json!(id(&seated));
    expect_json(
        app.post(&format!("{event_path}/seats"), token, &body).await,
        StatusCode::OK,
    )
    .await;
    // the same seats for another type of the same event collide
    expect_error(
        app.post(
            &format!("{event_path}/ticket_types/{}/seats", id(&other_seated)),
            token,
            &seat_map(),
        )
        .await,
        StatusCode::CONFLICT,
        "seat_exists",
    )
    .await;
}

#[actix_web::test]
async fn a_booked_seat_shows_as_held_and_freezes_the_map() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let token = Some(organizer.access_token.as_str());
    let event = app.create_event(&organizer, json!({})).await;
    let seated = app
        .create_ticket_type(&organizer, id(&event), json!({"seat_mapped": true}))
        .await;
    let path = format!(
        "/v1/admin/events/{}/ticket_types/{}/seats",
        id(&event),
        id(&seated)
    );
    let map = expect_json(app.post(&path, token, &seat_map()).await, StatusCode::OK).await;
    let seat: Uuid = map["seats"][0]["id"].as_str().unwrap().parse().unwrap();

    let booking = insert_booking(&app.pool, id(&event), id(&seated), &buyer.id, 1, "held").await;
    sqlx::query("INSERT INTO booking_seats (id, booking_id, seat_id, ticket_type_id) VALUES ($1, $2, $3, $4)")
        .bind(Uuid::now_v7())
        .bind(booking)
        .bind(seat)
        .bind(id(&seated).parse::<Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();

    let map = expect_json(app.get(&path, token).await, StatusCode::OK).await;
    let statuses: Vec<&str> = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "held").count(), 1);
    expect_error(
        app.post(&path, token, &seat_map()).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
    expect_error(
        app.delete(&path, token).await,
        StatusCode::CONFLICT,
        "ticket_type_has_sales",
    )
    .await;
}

#[actix_web::test]
async fn the_database_refuses_a_seat_in_two_active_bookings() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let seated = app
        .create_ticket_type(&organizer, id(&event), json!({"seat_mapped": true}))
        .await;
    let path = format!(
        "/v1/admin/events/{}/ticket_types/{}/seats",
        id(&event),
        id(&seated)
    );
    let map = expect_json(
        app.post(&path, Some(&organizer.access_token), &seat_map())
            .await,
        StatusCode::OK,
    )
    .await;
    let seat: Uuid = map["seats"][0]["id"].as_str().unwrap().parse().unwrap();
    let ticket_type: Uuid = id(&seated).parse().unwrap();

    let assign = |booking: Uuid| {
        sqlx::query("INSERT INTO booking_seats (id, booking_id, seat_id, ticket_type_id) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::now_v7())
            .bind(booking)
            .bind(seat)
            .bind(ticket_type)
    };
    let first = insert_booking(&app.pool, id(&event), id(&seated), &buyer.id, 1, "held").await;
    let second = insert_booking(&app.pool, id(&event), id(&seated), &buyer.id, 1, "held").await;
    assign(first).execute(&app.pool).await.unwrap();
    let error = assign(second).execute(&app.pool).await.unwrap_err();
    assert_eq!(
        error.as_database_error().unwrap().constraint(),
        Some("booking_seats_active_key")
    );
    // once the first booking lets go of the seat, it can be assigned again
    sqlx::query("UPDATE booking_seats SET active = false WHERE booking_id = $1")
        .bind(first)
        .execute(&app.pool)
        .await
        .unwrap();
    assign(second).execute(&app.pool).await.unwrap();
}
