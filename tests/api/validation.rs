//! Bad input gets a 4xx with the error shape, never a 500.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_fields, expect_error, expect_json, spawn_app, TestApp, User};

async fn fields_refused(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Vec<String> {
    let error = expect_error(
        app.post(path, token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    error_fields(&error)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn registration_refuses_a_bad_email_and_a_short_password() {
    let app = spawn_app().await;
    assert_eq!(
        fields_refused(
            &app,
            "/v1/auths/register",
            None,
            json!({"email": "not-an-email", "password": "correct horse"})
        )
        .await,
        ["email"]
    );
    assert_eq!(
        fields_refused(
            &app,
            "/v1/auths/register",
            None,
            json!({"email": "a@example.com", "password": "short"})
        )
        .await,
        ["password"]
    );
    assert_eq!(
        fields_refused(
            &app,
            "/v1/auths/register",
            None,
            json!({"email": "", "password": "", "username": "x"})
        )
        .await,
        ["email", "password", "username"]
    );
}

async fn event_path(app: &TestApp) -> (User, String) {
    let organizer = app.organizer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let path = format!("/v1/admin/events/{}", event["id"].as_str().unwrap());
    (organizer, path)
}

/// `valid` with `change` merged in.
fn with(valid: &Value, change: Value) -> Value {
    let mut body = valid.clone();
    crate::helpers::merge(&mut body, change);
    body
}

#[actix_web::test]
async fn events_refuse_start_after_end_an_unknown_category_and_missing_names() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let valid = json!({"name": "Gig", "category": "music", "start_at": "2027-01-01T20:00:00Z", "end_at": "2027-01-01T22:00:00Z"});
    let cases = [
        (json!({"end_at": "2027-01-01T19:00:00Z"}), "end_at"),
        (json!({"end_at": "2027-01-01T20:00:00Z"}), "end_at"),
        (json!({"category": "opera"}), "category"),
        (json!({"name": "   "}), "name"),
        (json!({"banner": "javascript:alert(1)"}), "banner"),
        (json!({"name": "x".repeat(201)}), "name"),
    ];
    for (change, field) in cases {
        let refused = fields_refused(
            &app,
            "/v1/admin/events",
            token,
            with(&valid, change.clone()),
        )
        .await;
        assert_eq!(refused, [field], "{change}");
    }
    // a missing required field or a date that is not RFC 3339 is unreadable input
    expect_error(
        app.post("/v1/admin/events", token, &json!({"name": "Gig"}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.post(
            "/v1/admin/events",
            token,
            &with(&valid, json!({"start_at": "next friday"})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[actix_web::test]
async fn ticket_types_refuse_a_negative_price_zero_capacity_and_a_bad_currency() {
    let app = spawn_app().await;
    let (organizer, path) = event_path(&app).await;
    let path = format!("{path}/ticket_types");
    let token = Some(organizer.access_token.as_str());
    let valid = json!({"name": "GA", "price": 100, "currency": "USD", "number_seats": 10});
    let cases = [
        (json!({"price": -1}), "price"),
        (json!({"number_seats": 0}), "number_seats"),
        (json!({"number_seats": -5}), "number_seats"),
        (json!({"currency": "dollars"}), "currency"),
        (json!({"max_per_user": 0}), "max_per_user"),
        (json!({"status": "sold"}), "status"),
        (
            json!({"sale_at": "2027-02-01T00:00:00Z", "sale_end": "2027-01-01T00:00:00Z"}),
            "sale_end",
        ),
    ];
    for (change, field) in cases {
        let refused = fields_refused(&app, &path, token, with(&valid, change.clone())).await;
        assert_eq!(refused, [field], "{change}");
    }
    expect_error(
        app.post(&path, token, &with(&valid, json!({"price": "free"})))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // the seed's column name works as well
    let seed_shaped = json!({"name": "GA", "price": 100, "currency": "USD", "qty": 7});
    let created = expect_json(
        app.post(&path, token, &seed_shaped).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["number_seats"], 7);
}

#[actix_web::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in ["{\"email\": ", "not json", "[1, 2]", ""] {
        let response = app
            .request(Method::POST, "/v1/auths/register", None)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    expect_error(
        app.post(
            "/v1/auths/register",
            None,
            &json!({"email": 42, "password": "correct horse"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/auths/login", None)
        .header("content-type", "text/plain")
        .body("email=a@b.c")
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[actix_web::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let (organizer, path) = event_path(&app).await;
    let huge = "x".repeat(app.settings.server.json_limit_bytes + 1);
    let response = app
        .patch(
            &path,
            Some(&organizer.access_token),
            &json!({"description": huge}),
        )
        .await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // the same size without a declared length (chunked)
    let body = format!("{{\"email\": \"{huge}\", \"password\": \"x\"}}");
    let stream = futures_util::stream::iter(
        body.into_bytes()
            .chunks(8192)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = app
        .request(Method::POST, "/v1/auths/login", None)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

/// The endpoints that keep their body's bytes (hold and checkout to fingerprint an idempotent
/// request, the webhook to verify its signature) read it under the same rules as every JSON
/// endpoint: over `server.json_limit_bytes` is 413, declared or streamed, and a body that is
/// not JSON is 415, each in the error shape.
#[actix_web::test]
async fn hold_checkout_and_webhook_bodies_obey_the_json_limit_and_content_type() {
    let app = spawn_app().await;
    let buyer = app.customer().await;
    let huge = json!({"event_id": "x".repeat(app.settings.server.json_limit_bytes)}).to_string();
    let booking = uuid::Uuid::now_v7();
    let paths = [
        "/v1/bookings/hold".to_owned(),
        format!("/v1/bookings/{booking}/checkout"),
        "/v1/payments/webhook?payment_code=P&booking_id=B&transaction_id=T".to_owned(),
    ];
    for path in &paths {
        let send = |body: reqwest::Body, content_type: &str| {
            app.request(Method::POST, path, Some(&buyer.access_token))
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        let declared = send(huge.clone().into(), "application/json").await.unwrap();
        let error =
            expect_error(declared, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        assert!(
            error["message"].as_str().unwrap().contains("limit"),
            "{path}: {error}"
        );
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = huge
            .as_bytes()
            .chunks(8192)
            .map(|c| Ok(c.to_vec()))
            .collect();
        let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
        let streamed = send(streamed, "application/json").await.unwrap();
        expect_error(streamed, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
        let text = send("{}".into(), "text/plain").await.unwrap();
        expect_error(
            text,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
}

/// An organizer and the seats path of a new seat-mapped ticket type of theirs.
async fn seats_path(app: &TestApp) -> (User, String) {
    let (organizer, path) = event_path(app).await;
    let ticket_type = app
        .create_ticket_type(
            &organizer,
            path.rsplit('/').next().unwrap(),
            json!({"seat_mapped": true}),
        )
        .await;
    let seats = format!(
        "{path}/ticket_types/{}/seats",
        ticket_type["id"].as_str().unwrap()
    );
    (organizer, seats)
}

#[actix_web::test]
async fn a_large_seat_map_fits_under_its_own_limit() {
    let app = spawn_app().await;
    let (organizer, seats) = seats_path(&app).await;
    let token = Some(organizer.access_token.as_str());
    // 100 rows of 150 seats listed one by one: well over the general JSON limit
    let rows: Vec<Value> = (0..100)
        .map(|r| json!({"label": format!("R{r}"), "seats": (1..=150).map(|s| s.to_string()).collect::<Vec<_>>()}))
        .collect();
    let body = json!({"sections": [{"name": "Arena", "rows": rows}]});
    assert!(body.to_string().len() > app.settings.server.json_limit_bytes);
    let map = expect_json(app.post(&seats, token, &body).await, StatusCode::OK).await;
    assert_eq!(map["seats"].as_array().unwrap().len(), 15_000);
}

/// 300,000 empty labels in one row (0.9 MB): under `server.seat_map_limit_bytes` (8 MiB), so
/// the map is read and refused with a 422 that lists 100 problems and counts the rest,
/// instead of one of 91 MB.
#[actix_web::test]
async fn a_map_of_300000_bad_labels_gets_a_small_answer() {
    let app = spawn_app().await;
    let (organizer, seats) = seats_path(&app).await;
    let body = json!({"sections": [{"name": "Arena", "rows": [{"label": "A", "seats": vec![""; 300_000]}]}]});
    let sent = body.to_string().len();
    assert!(
        sent < app.settings.server.seat_map_limit_bytes,
        "{sent} bytes"
    );
    let response = app.post(&seats, Some(&organizer.access_token), &body).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = response.text().await.unwrap();
    assert!(text.len() < 64 * 1024, "a 422 of {} bytes", text.len());
    let error = &serde_json::from_str::<Value>(&text).unwrap()["error"];
    assert_eq!(error["code"], "validation_failed");
    assert_eq!(error["details"].as_array().unwrap().len(), 100);
    // each empty label is too short and (but the first) a duplicate; the map is also too big
    assert!(
        error["more_details"].as_u64().unwrap() > 500_000,
        "{}",
        error["more_details"]
    );
    assert!(error["message"].as_str().unwrap().len() < 1_000);
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    expect_error(
        app.get("/v1/no-such-thing", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.delete("/healthz", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    expect_error(
        app.delete("/v1/events", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let (organizer, _) = event_path(&app).await;
    expect_error(
        app.get("/v1/admin/events/not-a-uuid", Some(&organizer.access_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_nul_character_anywhere_is_refused_without_a_500() {
    let app = spawn_app().await;
    let (organizer, path) = event_path(&app).await;
    let token = Some(organizer.access_token.as_str());
    let error = expect_error(
        app.patch(&path, token, &json!({"location": "Hall\u{0}A"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "location");
    // fields with no rule of their own are caught when the database refuses them
    expect_error(
        app.get("/v1/events?q=rock%00roll", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.get("/v1/events?location=Ha%00noi", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.login("a\u{0}@example.com", "correct horse").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}
