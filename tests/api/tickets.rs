//! After the payment: one ticket per admission with a signed code and a QR, and check-in at
//! the door, once.
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_error, expect_json, spawn_app, TestApp, User};
use crate::payments::{check_out, wait_for_status, Webhook};

/// The buyer's tickets once there are `count` of them.
pub async fn tickets_of(app: &TestApp, buyer: &User, count: usize) -> Vec<Value> {
    eventually(10, "the tickets", || async {
        app.settle().await;
        let page = expect_json(
            app.get("/v1/tickets", Some(&buyer.access_token)).await,
            StatusCode::OK,
        )
        .await;
        let tickets = page["data"].as_array().unwrap().clone();
        (tickets.len() == count).then_some(tickets)
    })
    .await
}

/// An organizer's event with two seats, and a buyer who paid for both.
pub async fn paid_for_two(app: &TestApp) -> (User, User, String, Vec<Value>) {
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let map = json!({"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 2}]}]});
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"seat_mapped": true}), Some(map))
        .await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let booking = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let booking = check_out(app, &buyer, &booking).await;
    // the gateway's transaction ids are its own, one per payment
    let transaction = format!("txn-{}", booking["id"].as_str().unwrap());
    expect_json(
        Webhook::new(app, &booking, &transaction).send(app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(app, &buyer, &booking, "confirmed").await;
    let tickets = tickets_of(app, &buyer, 2).await;
    (organizer, buyer, event, tickets)
}

pub fn check_in(
    app: &TestApp,
    organizer: &User,
    event: &str,
    code: &Value,
) -> impl std::future::Future<Output = reqwest::Response> {
    let request = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/admin/events/{event}/checkins"),
            Some(&organizer.access_token),
        )
        .json(&json!({"code": code}));
    async move { request.send().await.unwrap() }
}

#[actix_web::test]
async fn a_paid_booking_gets_one_ticket_per_seat_with_a_working_qr() {
    let app = spawn_app().await;
    let (_, buyer, event, tickets) = paid_for_two(&app).await;
    let mut seats: Vec<&str> = tickets
        .iter()
        .map(|t| t["seat"]["label"].as_str().unwrap())
        .collect();
    seats.sort();
    assert_eq!(seats, ["1", "2"]);
    let ticket = &tickets[0];
    assert_eq!(ticket["status"], "valid");
    assert_eq!(ticket["event"]["id"], event.as_str());
    assert_eq!(ticket["seat"]["row"], "A");
    let id = ticket["id"].as_str().unwrap();
    assert!(ticket["qr_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v1/tickets/{id}/qr.svg")));

    // the seed's singular path too
    for path in [format!("/v1/tickets/{id}"), format!("/v1/ticket/{id}")] {
        let read = expect_json(
            app.get(&path, Some(&buyer.access_token)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(read["code"], ticket["code"]);
    }
    let qr = app
        .get(
            &format!("/v1/tickets/{id}/qr.svg"),
            Some(&buyer.access_token),
        )
        .await;
    assert_eq!(qr.status(), StatusCode::OK);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    let svg = qr.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    let png = app
        .get(
            &format!("/v1/tickets/{id}/qr.png"),
            Some(&buyer.access_token),
        )
        .await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    // only their owner sees them
    let stranger = app.customer().await;
    expect_error(
        app.get(&format!("/v1/tickets/{id}"), Some(&stranger.access_token))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.get(
            &format!("/v1/tickets/{id}/qr.svg"),
            Some(&stranger.access_token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // issuing again (a redelivered event) changes nothing
    let booking: uuid::Uuid = ticket["booking_id"].as_str().unwrap().parse().unwrap();
    let again = boxoffice::tickets::store::issue(
        &app.pool,
        &[booking.into()],
        app.settings.tickets.signing_key.expose(),
        "http://x",
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
    let issued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE subject = 'tickets.issued'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(issued, 1);
}

#[actix_web::test]
async fn a_ticket_checks_in_once_and_forged_or_foreign_codes_are_refused() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let code = &tickets[0]["code"];

    let first = expect_json(
        check_in(&app, &organizer, &event, code).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["status"], "checked_in");
    assert_eq!(first["id"], tickets[0]["id"]);
    let error = expect_error(
        check_in(&app, &organizer, &event, code).await,
        StatusCode::CONFLICT,
        "already_checked_in",
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("checked in at"));

    let forged = json!(format!("{}x", code.as_str().unwrap()));
    expect_error(
        check_in(&app, &organizer, &event, &forged).await,
        StatusCode::BAD_REQUEST,
        "invalid_ticket_code",
    )
    .await;
    let other_event = app.published_event(&organizer, json!({})).await;
    expect_error(
        check_in(&app, &organizer, other_event["id"].as_str().unwrap(), code).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        check_in(&app, &buyer, &event, code).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let rival = app.organizer().await;
    expect_error(
        check_in(&app, &rival, &event, code).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // two scanners at once: one gets in
    let second = &tickets[1]["code"];
    let answers = join_all((0..2).map(|_| check_in(&app, &organizer, &event, second))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        1,
        "{statuses:?}"
    );
    let page = expect_json(
        app.get("/v1/tickets", Some(&buyer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert!(page["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["status"] == "checked_in"));
}

#[actix_web::test]
async fn the_sales_report_counts_sold_and_held_admissions_and_revenue_for_its_organizer_only() {
    let app = spawn_app().await;
    let (organizer, buyer, event, _) = paid_for_two(&app).await;
    let path = format!("/v1/admin/events/{event}/sales");
    let sales = |user: &User| {
        let token = user.access_token.clone();
        let app = &app;
        let path = &path;
        async move { app.get(path, Some(&token)).await }
    };

    let report = expect_json(sales(&organizer).await, StatusCode::OK).await;
    let types = report["ticket_types"].as_array().unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0]["sold"], 2);
    assert_eq!(types[0]["held"], 0);
    assert_eq!(types[0]["available"], 0);
    let price = types[0]["revenue"].as_i64().unwrap();
    assert!(price > 0, "two paid admissions bring revenue: {report}");
    assert_eq!(
        report["revenue"][types[0]["currency"].as_str().unwrap()],
        price
    );
    let recent = report["recent_bookings"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0]["status"], "confirmed");
    // the chart's hours: both tickets in this one, and the door's count
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1, "{report}");
    assert_eq!(timeline[0]["tickets"], 2);
    assert_eq!(
        timeline[0]["revenue"][types[0]["currency"].as_str().unwrap()],
        price
    );
    assert_eq!(
        (
            report["tickets_issued"].as_i64(),
            report["checked_in"].as_i64()
        ),
        (Some(2), Some(0))
    );
    let ticket = &tickets_of(&app, &buyer, 2).await[0];
    expect_json(
        check_in(&app, &organizer, &event, &ticket["code"]).await,
        StatusCode::OK,
    )
    .await;
    let report = expect_json(sales(&organizer).await, StatusCode::OK).await;
    assert_eq!(
        (
            report["tickets_issued"].as_i64(),
            report["checked_in"].as_i64()
        ),
        (Some(2), Some(1))
    );

    expect_error(sales(&buyer).await, StatusCode::FORBIDDEN, "forbidden").await;
    let rival = app.organizer().await;
    expect_error(sales(&rival).await, StatusCode::NOT_FOUND, "not_found").await;
}

/// The ticket worker issues the sales it is given together: one transaction for several
/// bookings, each with its own tickets (seats, admission numbers) and its own `tickets.issued`
/// row; a booking that is not sold is skipped, and issuing again changes nothing.
#[actix_web::test]
async fn sold_bookings_are_issued_in_one_batch_and_an_unsold_one_is_skipped() {
    let app = spawn_app().await;
    paid_for_two(&app).await;
    paid_for_two(&app).await;
    let sold: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM bookings WHERE status = 'confirmed' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(sold.len(), 2);
    // as if neither had been issued yet
    sqlx::query("DELETE FROM tickets")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM outbox WHERE subject = 'tickets.issued'")
        .execute(&app.pool)
        .await
        .unwrap();
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    let buyer = app.customer().await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let held = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    let held: uuid::Uuid = held["id"].as_str().unwrap().parse().unwrap();

    let issue = |bookings: Vec<uuid::Uuid>| {
        let pool = app.pool.clone();
        let key = app.settings.tickets.signing_key.expose().to_owned();
        async move {
            let bookings: Vec<_> = bookings.into_iter().map(Into::into).collect();
            boxoffice::tickets::store::issue(&pool, &bookings, &key, "http://x")
                .await
                .unwrap()
        }
    };
    let issued = issue(vec![sold[1], held, sold[0]]).await;
    let issued: Vec<uuid::Uuid> = issued.into_iter().map(|b| b.0).collect();
    assert_eq!(
        issued, sold,
        "both sold bookings, in id order; not the held one"
    );
    let tickets: Vec<(uuid::Uuid, i32, bool)> = sqlx::query_as(
        "SELECT booking_id, admission_no, seat_id IS NOT NULL FROM tickets
         ORDER BY booking_id, admission_no",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let expected: Vec<(uuid::Uuid, i32, bool)> = sold
        .iter()
        .flat_map(|b| [(*b, 1, true), (*b, 2, true)])
        .collect();
    assert_eq!(tickets, expected);
    let news: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT aggregate_id FROM outbox WHERE subject = 'tickets.issued' ORDER BY aggregate_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(news, sold, "one tickets.issued per booking");

    assert!(issue(vec![sold[0], sold[1], held]).await.is_empty());
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 4, "issuing again changes nothing");
}

#[actix_web::test]
async fn the_organizer_lists_searches_and_exports_the_attendees() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let token = Some(organizer.access_token.as_str());
    let path = format!("/v1/admin/events/{event}/attendees");
    // one of the two is at the door already
    let code = tickets[0]["code"].as_str().unwrap();
    let checked = app
        .post(
            &format!("/v1/admin/events/{event}/checkins"),
            token,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(checked.status(), StatusCode::OK);

    let page = expect_json(
        app.get(&format!("{path}?limit=1"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let next = page["next_token"].as_str().expect("a second page");
    let rest = expect_json(
        app.get(&format!("{path}?limit=1&next_token={next}"), token)
            .await,
        StatusCode::OK,
    )
    .await;
    let all: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["data"].as_array().unwrap())
        .cloned()
        .collect();
    assert!(rest["next_token"].is_null());
    let mut seats: Vec<&str> = all.iter().map(|a| a["seat"].as_str().unwrap()).collect();
    seats.sort();
    assert_eq!(seats, ["Stalls A1", "Stalls A2"]);
    assert!(all.iter().all(|a| a["email"] == buyer.email.as_str()));
    let statuses: Vec<&str> = all.iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert!(
        statuses.contains(&"checked_in") && statuses.contains(&"valid"),
        "{statuses:?}"
    );

    let found = expect_json(
        app.get(&format!("{path}?q=stalls%20a2"), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["seat"], "Stalls A2");
    let none = expect_json(
        app.get(&format!("{path}?q=nobody%25"), token).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        none["data"].as_array().unwrap().is_empty(),
        "a % is a character, not a wildcard"
    );
    let long = "x".repeat(201);
    let refused = app.get(&format!("{path}?q={long}"), token).await;
    expect_error(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let csv = app.get(&format!("{path}.csv"), token).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ticket_id,booking_code,name,email,ticket_type,seat,status,checked_in_at,attendee_name"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines.iter().any(|l| l.contains("Stalls A1"))
            && lines.iter().any(|l| l.contains("checked_in"))
    );

    // another organizer, and a buyer, see nothing of it
    let other = app.organizer().await;
    let foreign = app.get(&path, Some(&other.access_token)).await;
    expect_error(foreign, StatusCode::NOT_FOUND, "not_found").await;
    let customer = app
        .get(&format!("{path}.csv"), Some(&buyer.access_token))
        .await;
    expect_error(customer, StatusCode::FORBIDDEN, "forbidden").await;
}
