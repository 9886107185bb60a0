//! The seed's whole flow over HTTP, through the sandbox gateway's hosted page as a buyer's
//! browser would use it.
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_json, spawn_app, TestApp, User};
use crate::payments::{check_out_with, wait_for_status};
use crate::tickets::{check_in, tickets_of};

/// The sandbox page of `booking`'s payment, on the test server.
fn sandbox_path(booking: &Value) -> String {
    let url = booking["payment"]["checkout_url"].as_str().unwrap();
    url[url.find("/sandbox/").expect("a sandbox checkout URL")..].to_owned()
}

async fn press(app: &TestApp, booking: &Value, outcome: &str) -> String {
    let page = app
        .api
        .http()
        .post(format!("{}{}", app.address, sandbox_path(booking)))
        .form(&[("outcome", outcome)])
        .send()
        .await
        .unwrap();
    // the gateway answers with a redirect back to its page, which shows the outcome
    assert_eq!(page.status(), StatusCode::OK);
    page.text().await.unwrap()
}

async fn book(
    app: &TestApp,
    buyer: &User,
    event: &str,
    ticket_type: &Value,
    method: &str,
) -> Value {
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(buyer, &body).await, StatusCode::CREATED).await;
    check_out_with(app, buyer, &booking, method).await
}

#[actix_web::test]
async fn a_buyer_goes_from_search_to_a_checked_in_ticket() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let map = json!({"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 4}]}]});
    let (event, ticket_type) = app
        .event_with(
            &organizer,
            json!({"seat_mapped": true, "price": 300000}),
            Some(map),
        )
        .await;
    let buyer = app.customer().await;
    let found = expect_json(app.get("/v1/events?q=strings", None).await, StatusCode::OK).await;
    assert_eq!(found["data"][0]["id"], event.as_str());
    let stream = app
        .request(
            reqwest::Method::GET,
            "/v1/notifications/stream",
            Some(&buyer.access_token),
        )
        .send()
        .await
        .unwrap();
    let mut live = stream.bytes_stream();

    let booking = book(&app, &buyer, &event, &ticket_type, "ewallet").await;
    assert_eq!(booking["status"], "pending_payment");
    let page = app.get(&sandbox_path(&booking), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("E-wallet") && page.contains("600,000 VND"),
        "{page}"
    );
    let outcome = press(&app, &booking, "pay").await;
    assert!(outcome.contains("Payment approved"), "{outcome}");
    // pressing again (a double click) pays nothing twice
    assert!(press(&app, &booking, "pay")
        .await
        .contains("Payment approved"));

    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    let tickets = tickets_of(&app, &buyer, 2).await;
    for ticket in &tickets {
        let id = ticket["id"].as_str().unwrap();
        for qr in ["qr.svg", "qr.png"] {
            let image = app
                .get(&format!("/v1/tickets/{id}/{qr}"), Some(&buyer.access_token))
                .await;
            assert_eq!(image.status(), StatusCode::OK, "{qr}");
        }
    }
    let mail_dir = app.settings.email.dir.clone();
    eventually(10, "the ticket mail", || async {
        app.settle().await;
        std::fs::read_dir(&mail_dir)
            .ok()?
            .flatten()
            .next()
            .map(|_| ())
    })
    .await;
    let mut received = String::new();
    while !received.contains("tickets_issued") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
            .await
            .expect("the notification arrives live")
            .unwrap()
            .unwrap();
        received.push_str(&String::from_utf8_lossy(&chunk));
    }

    // the outbox as /metrics counts it: every step delivered once, nothing waiting
    app.settle().await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for subject in ["payments.succeeded", "bookings.paid", "tickets.issued"] {
        let line = format!(
            "boxoffice_outbox_deliveries_total{{outcome=\"delivered\",subject=\"{subject}\"}} 1"
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("boxoffice_outbox_oldest_pending_seconds 0\n"),
        "{metrics}"
    );

    let code = &tickets[0]["code"];
    assert_eq!(
        check_in(&app, &organizer, &event, code).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        check_in(&app, &organizer, &event, code).await.status(),
        StatusCode::CONFLICT
    );
}

#[actix_web::test]
async fn declining_on_the_sandbox_page_leaves_the_hold_to_try_again() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let buyer = app.customer().await;
    let booking = book(&app, &buyer, &event, &ticket_type, "card").await;
    let outcome = press(&app, &booking, "decline").await;
    assert!(outcome.contains("Payment declined"), "{outcome}");
    let id = booking["id"].as_str().unwrap();
    let after = expect_json(
        app.get(&format!("/v1/bookings/{id}"), Some(&buyer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(after["status"], "held");
    assert_eq!(after["payment"]["status"], "failed");
}
