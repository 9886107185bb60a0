//! The API held to its own OpenAPI document and to HTTP: `Allow` on 405, bodies that must be
//! objects, dates in a sane range, `Cache-Control` on `/v1`, and a document that lists every
//! status the server answers with.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_app};

#[actix_web::test]
async fn method_not_allowed_names_the_allowed_methods() {
    let app = spawn_app().await;
    for (method, path, allowed) in [
        (Method::DELETE, "/v1/events", vec!["GET"]),
        (Method::PUT, "/v1/users/me", vec!["GET", "PATCH"]),
        (Method::GET, "/v1/bookings/hold", vec!["POST"]),
        (Method::DELETE, "/healthz", vec!["GET"]),
    ] {
        let response = app
            .request(method.clone(), path, None)
            .send()
            .await
            .unwrap();
        let header = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let mut named: Vec<&str> = header.split(',').map(str::trim).collect();
        named.sort_unstable();
        assert_eq!(named, allowed, "Allow of {method} {path}");
        expect_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
    }
}

/// A body that is a JSON array, which serde would read as a struct's fields in order.
async fn send_array(
    app: &crate::helpers::TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> StatusCode {
    let response = app
        .request(method, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let error = expect_json(response, status).await;
    assert!(error["error"]["code"].is_string(), "{path}: {error}");
    status
}

#[actix_web::test]
async fn json_arrays_are_not_read_as_objects() {
    let app = spawn_app().await;
    let buyer = app.customer().await;
    let token = &buyer.access_token;
    expect_json(
        app.patch(
            "/v1/users/me",
            Some(token),
            &json!({"username": "ada_l", "avatar": "https://cdn.example.com/a.png"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let status = send_array(
        &app,
        Method::PATCH,
        "/v1/users/me",
        token,
        json!([null, null]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "PATCH /v1/users/me with [null, null]"
    );
    let me = expect_json(app.get("/v1/users/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(me["username"], "ada_l", "{me}");
    assert_eq!(me["avatar"], "https://cdn.example.com/a.png", "{me}");

    let organizer = app.organizer().await;
    let (event_id, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let hold = json!([event_id, ticket_type["id"], 1, null, null]);
    let status = send_array(&app, Method::POST, "/v1/bookings/hold", token, hold).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "hold as an array");
    assert_eq!(app.available(&event_id).await, 100, "nothing was held");

    let booking = expect_json(
        app.hold(
            &buyer,
            &json!({"event_id": event_id, "items": [{"ticket_type_id": ticket_type["id"], "qty": 1}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/v1/bookings/{}/checkout", booking["id"].as_str().unwrap());
    let status = send_array(&app, Method::POST, &path, token, json!(["card"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "checkout as an array");

    let before = expect_json(
        app.get("/v1/admin/events", Some(&organizer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    let event = json!([
        "Night",
        "",
        "",
        "music",
        "2027-03-01T19:00:00Z",
        "2027-03-01T22:00:00Z",
        null,
        ""
    ]);
    let status = send_array(
        &app,
        Method::POST,
        "/v1/admin/events",
        &organizer.access_token,
        event,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "admin event as an array");
    let after = expect_json(
        app.get("/v1/admin/events", Some(&organizer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(before["data"], after["data"], "no event was created");
}

#[actix_web::test]
async fn event_dates_outside_a_sane_range_are_refused() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let token = Some(organizer.access_token.as_str());
    let base = json!({"name": "Night", "category": "music"});
    for (start, end) in [
        ("0000-01-01T19:00:00Z", "0000-01-01T22:00:00Z"),
        ("1969-12-31T19:00:00Z", "2027-03-01T22:00:00Z"),
        ("2027-03-01T19:00:00Z", "9999-12-31T22:00:00Z"),
    ] {
        let mut body = base.clone();
        crate::helpers::merge(&mut body, json!({"start_at": start, "end_at": end}));
        let error = expect_error(
            app.post("/v1/admin/events", token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(
            error["message"].as_str().unwrap().contains("_at"),
            "{error}"
        );
    }
    let event = app.create_event(&organizer, json!({})).await;
    let path = format!("/v1/admin/events/{}", event["id"].as_str().unwrap());
    expect_error(
        app.patch(&path, token, &json!({"start_at": "0000-01-01T00:00:00Z"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let path = format!("{path}/ticket_types");
    let ticket_type = json!({"name": "A", "price": 1, "currency": "USD", "number_seats": 1,
                             "sale_at": "0000-01-01T00:00:00Z"});
    expect_error(
        app.post(&path, token, &ticket_type).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn api_answers_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let buyer = app.customer().await;
    let token = Some(buyer.access_token.as_str());
    let cache_control = |r: &reqwest::Response| {
        r.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for response in [
        app.get("/v1/users/me", token).await,
        app.get("/v1/bookings", token).await,
        app.get("/v1/events", None).await,
        app.get("/v1/bookings/not-a-booking", token).await,
        app.get("/v1/users/me", None).await,
        app.post("/v1/bookings/hold", token, &json!({})).await,
    ] {
        let url = response.url().path().to_owned();
        assert_eq!(
            cache_control(&response).as_deref(),
            Some("no-store"),
            "{url}"
        );
    }
    // the site's own assets keep their validators
    let asset = app.get("/assets/app.js", None).await;
    assert_ne!(cache_control(&asset).as_deref(), Some("no-store"));
}

#[actix_web::test]
async fn every_authenticated_operation_documents_401() {
    let app = spawn_app().await;
    let doc = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    let mut missing = Vec::new();
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(security) = operation.get("security") else {
                continue;
            };
            if security.as_array().is_some_and(|s| s.is_empty()) {
                continue;
            }
            secured += 1;
            if operation["responses"].get("401").is_none() {
                missing.push(format!("{method} {path}"));
            }
        }
    }
    assert!(secured > 30, "{secured} operations have security");
    assert!(missing.is_empty(), "no 401 documented on: {missing:?}");
}
