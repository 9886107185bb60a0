//! In-site notifications: stored from domain events, listed, marked read, and pushed live over
//! server-sent events.
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_error, expect_json, spawn_app, TestApp, User};
use crate::payments::{check_out, wait_for_status, Webhook};

/// A booking of `buyer`, checked out and paid.
async fn pay(app: &TestApp, buyer: &User) {
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let booking = expect_json(app.hold(buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(app, buyer, &booking).await;
    expect_json(
        Webhook::new(app, &booking, "txn").send(app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(app, buyer, &booking, "confirmed").await;
}

async fn kinds(app: &TestApp, buyer: &User) -> Vec<String> {
    let page = expect_json(
        app.get("/v1/notifications", Some(&buyer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn payment_and_tickets_reach_the_buyer_live_and_in_the_list() {
    let app = spawn_app().await;
    let buyer = app.customer().await;
    expect_error(
        app.get("/v1/notifications/stream", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // as a browser's EventSource would: the token in the query
    let path = format!(
        "/v1/notifications/stream?access_token={}",
        buyer.access_token
    );
    let stream = app.get(&path, None).await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut chunks = stream.bytes_stream();

    pay(&app, &buyer).await;
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(received.contains("tickets_issued") && received.contains("payment_succeeded")) {
        let chunk = tokio::time::timeout_at(deadline, chunks.next())
            .await
            .unwrap_or_else(|_| panic!("no live notifications in 10 s; got {received:?}"))
            .expect("the stream stays open")
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("event: notification\n"), "{received}");
    let event_data: Vec<Value> = received
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(event_data
        .iter()
        .any(|n| n["title"] == "Your tickets are ready"));
    // the amount as people write it: the VND 250000 of the helpers' ticket type has no minor unit
    let paid = event_data
        .iter()
        .find(|n| n["kind"] == "payment_succeeded")
        .expect("the payment's notification");
    assert!(
        paid["body"]
            .as_str()
            .unwrap()
            .starts_with("We received 250,000 VND;"),
        "{paid}"
    );

    let listed = kinds(&app, &buyer).await;
    assert!(
        listed.contains(&"payment_succeeded".to_owned())
            && listed.contains(&"tickets_issued".to_owned()),
        "{listed:?}"
    );
    let page = expect_json(
        app.get("/v1/notifications", Some(&buyer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    let first = &page["data"][0];
    assert_eq!(first["read_at"], Value::Null);
    let read_path = format!("/v1/notifications/{}/read", first["id"].as_str().unwrap());
    let read = expect_json(
        app.post(&read_path, Some(&buyer.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(read["read_at"].is_string());
    let again = expect_json(
        app.post(&read_path, Some(&buyer.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["read_at"], read["read_at"]);
    let stranger = app.customer().await;
    expect_error(
        app.post(&read_path, Some(&stranger.access_token), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(kinds(&app, &stranger).await.is_empty());
}

#[actix_web::test]
async fn a_buyer_who_turned_site_notifications_off_gets_none() {
    let app = spawn_app().await;
    let buyer = app.customer().await;
    expect_json(
        app.patch(
            "/v1/users/me/settings",
            Some(&buyer.access_token),
            &json!({"site_notifications": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    pay(&app, &buyer).await;
    // the tickets are issued (so every event was delivered), yet nothing was stored
    eventually(10, "the tickets", || async {
        app.settle().await;
        let page = expect_json(
            app.get("/v1/tickets", Some(&buyer.access_token)).await,
            StatusCode::OK,
        )
        .await;
        (!page["data"].as_array().unwrap().is_empty()).then_some(())
    })
    .await;
    eventually(10, "every event delivered", || async {
        app.settle().await;
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    assert!(kinds(&app, &buyer).await.is_empty());
}
