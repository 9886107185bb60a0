use reqwest::StatusCode;

use crate::helpers::{expect_error, expect_json, spawn_app};

#[actix_web::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    assert_eq!(
        expect_json(app.get("/healthz", None).await, StatusCode::OK).await["status"],
        "ok"
    );
    assert_eq!(
        expect_json(app.get("/readyz", None).await, StatusCode::OK).await["status"],
        "ok"
    );
}

#[actix_web::test]
async fn readiness_fails_when_the_database_goes_away() {
    let app = spawn_app().await;
    app.pool.close().await;
    let response = app.get("/readyz", None).await;
    assert_eq!(
        expect_json(response, StatusCode::SERVICE_UNAVAILABLE).await["status"],
        "unavailable"
    );
    // requests that need the database say so with 503, not a generic 500
    let error = app.get("/v1/events", None).await;
    assert_eq!(error.headers().get("retry-after").unwrap(), "1");
    expect_error(error, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get(&format!("/v1/events/{}", uuid::Uuid::now_v7()), None)
            .await;
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        text.contains(
            r#"boxoffice_http_requests_total{method="GET",route="/v1/events/{id}",status="404"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"boxoffice_http_request_duration_seconds_count{method="GET",route="/v1/events/{id}"} 3"#), "{text}");
    let rss: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("boxoffice_process_resident_memory_bytes "))
        .expect("resident memory is reported")
        .parse()
        .unwrap();
    assert!(rss > 1 << 20, "{rss} bytes resident");
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let first = app.get("/healthz", None).await;
    let second = app.get("/v1/nowhere", None).await;
    let id = |r: &reqwest::Response| {
        r.headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_ne!(id(&first), id(&second));
}

#[actix_web::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app().await;
    let doc = expect_json(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("post", "/v1/auths/register"),
        ("post", "/v1/auths/login"),
        ("post", "/v1/auths/refresh_token"),
        ("post", "/v1/auths/logout"),
        ("get", "/v1/users/me"),
        ("patch", "/v1/users/me"),
        ("patch", "/v1/users/me/settings"),
        ("get", "/v1/events"),
        ("get", "/v1/events/{id}"),
        ("get", "/v1/events/{id}/seats"),
        ("post", "/v1/admin/events"),
        ("get", "/v1/admin/events"),
        ("get", "/v1/admin/events/{id}"),
        ("patch", "/v1/admin/events/{id}"),
        ("delete", "/v1/admin/events/{id}"),
        ("post", "/v1/admin/events/{id}/publish"),
        ("post", "/v1/admin/events/{id}/cancel"),
        ("post", "/v1/admin/events/{id}/seats"),
        ("get", "/v1/admin/events/{id}/seats"),
        ("post", "/v1/admin/events/{id}/ticket_types"),
        (
            "patch",
            "/v1/admin/events/{id}/ticket_types/{ticket_type_id}",
        ),
        (
            "delete",
            "/v1/admin/events/{id}/ticket_types/{ticket_type_id}",
        ),
        (
            "post",
            "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats",
        ),
        (
            "get",
            "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats",
        ),
        (
            "delete",
            "/v1/admin/events/{id}/ticket_types/{ticket_type_id}/seats",
        ),
        ("post", "/v1/bookings/hold"),
        ("get", "/v1/bookings"),
        ("get", "/v1/bookings/{id}"),
        ("post", "/v1/bookings/{id}/information"),
        ("post", "/v1/bookings/{id}/checkout"),
        ("post", "/v1/bookings/{id}/cancel"),
        ("post", "/v1/bookings/{id}/extend"),
        ("put", "/v1/admin/events/{id}/image"),
        ("delete", "/v1/admin/events/{id}/image"),
        ("get", "/v1/events/{id}/image"),
        ("get", "/v1/payments/{id}"),
        ("post", "/v1/payments/webhook"),
        ("get", "/v1/tickets"),
        ("get", "/v1/tickets/{id}"),
        ("get", "/v1/tickets/{id}/qr.svg"),
        ("get", "/v1/tickets/{id}/qr.png"),
        ("get", "/v1/tickets/{id}/ticket.pdf"),
        ("get", "/v1/events/{id}/calendar.ics"),
        ("post", "/v1/admin/events/{id}/checkins"),
        ("get", "/v1/admin/events/{id}/sales"),
        ("get", "/v1/admin/dead_letters"),
        ("post", "/v1/admin/dead_letters/{id}/replay"),
        ("get", "/v1/notifications"),
        ("post", "/v1/notifications/{id}/read"),
        ("get", "/v1/notifications/stream"),
        ("get", "/v1/events/{id}/queue"),
        ("post", "/v1/events/{id}/queue"),
        ("get", "/v1/events/{id}/queue/me"),
        ("get", "/v1/events/{id}/queue/stream"),
        ("get", "/v1/admin/events/{id}/queue"),
        ("get", "/v1/admin/events/{id}/attendees"),
        ("get", "/v1/admin/events/{id}/attendees.csv"),
        ("post", "/v1/admin/bookings/{id}/refunds"),
        ("get", "/v1/admin/events/{id}/refunds"),
        ("post", "/v1/admin/refunds/{id}/retry"),
        ("post", "/v1/tickets/{id}/transfer"),
        ("post", "/v1/admin/events/{id}/promo_codes"),
        ("get", "/v1/admin/events/{id}/promo_codes"),
        ("delete", "/v1/admin/events/{id}/promo_codes/{promo_id}"),
        ("post", "/v1/events/{id}/waitlist"),
        ("get", "/v1/events/{id}/waitlist"),
        ("delete", "/v1/events/{id}/waitlist/{entry_id}"),
        ("get", "/v1/admin/events/{id}/waitlist"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "a documented route the test does not know: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
