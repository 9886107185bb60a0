//! `boxoffice demo` against a fresh database: what a newcomer finds on the site afterwards, and
//! that a second run changes nothing.
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::collections::BTreeSet;

use boxoffice::demo::{self, BUYER};
use helpers::{expect_json, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every published event, as the public listing pages through them.
async fn published(app: &TestApp) -> Vec<Value> {
    let page = expect_json(app.get("/v1/events?limit=100", None).await, StatusCode::OK).await;
    assert!(page["next_token"].is_null(), "more than one page: {page}");
    page["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn demo_seeds_events_a_buyer_can_book_and_a_second_run_creates_nothing() {
    let app = spawn_app().await;

    let first = demo::run(app.settings.clone())
        .await
        .expect("the demo runs");
    assert!(first.events.len() >= 5, "{first:?}");
    assert_eq!(first.created(), first.events.len());
    assert_eq!(first.public_url, app.settings.server.public_url);

    let events = published(&app).await;
    assert_eq!(events.len(), first.events.len());
    let categories: BTreeSet<&str> = events
        .iter()
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        BTreeSet::from(["concert", "film", "music", "other", "sports"])
    );
    let now = chrono::Utc::now();
    for event in &events {
        let start: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(event["start_at"].clone()).unwrap();
        assert!(start > now, "{event}");
    }

    let mut details = Vec::new();
    for event in &events {
        let path = format!("/v1/events/{}", event["id"].as_str().unwrap());
        details.push(expect_json(app.get(&path, None).await, StatusCode::OK).await);
    }
    let ticket_types = |detail: &Value| detail["ticket_types"].as_array().unwrap().clone();
    let seated = details
        .iter()
        .find(|d| ticket_types(d).iter().any(|t| t["seat_mapped"] == true))
        .expect("one event has a seat map");
    let seat_map = expect_json(
        app.get(
            &format!("/v1/events/{}/seats", seated["id"].as_str().unwrap()),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let seats = seat_map["seats"].as_array().unwrap();
    assert!(seats.len() >= 50, "{} seats", seats.len());
    assert!(seats.iter().all(|s| s["status"] == "free"));
    assert!(
        details
            .iter()
            .flat_map(ticket_types)
            .any(|t| t["seat_mapped"] == false && t["number_seats"].as_i64().unwrap() >= 5_000),
        "one event has a large general admission"
    );

    let tokens = expect_json(app.login(BUYER.email, BUYER.password).await, StatusCode::OK).await;
    let buyer = tokens["access_token"].as_str().unwrap();
    let front = ticket_types(seated)
        .into_iter()
        .find(|t| t["seat_mapped"] == true)
        .unwrap();
    let hold = json!({"event_id": seated["id"], "ticket_type_id": front["id"], "qty": 2});
    let booking = expect_json(
        app.post("/v1/bookings/hold", Some(buyer), &hold).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(booking["seats"].as_array().unwrap().len(), 2, "{booking}");

    let second = demo::run(app.settings.clone())
        .await
        .expect("the demo runs again");
    assert_eq!(second.created(), 0);
    let ids = |summary: &demo::DemoSummary| -> BTreeSet<String> {
        summary.events.iter().map(|e| e.id.clone()).collect()
    };
    assert_eq!(ids(&second), ids(&first));
    assert_eq!(published(&app).await.len(), events.len());
    assert!(second.to_string().contains("exists already"), "{second}");
}
