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
    // a sentence, and the time as data for the door to show in the event's zone
    assert_eq!(error["message"], "This ticket was already checked in.");
    assert_eq!(error["details"][0]["field"], "checked_in_at");
    assert_eq!(error["details"][0]["message"], first["checked_in_at"]);

    let forged = json!(format!("{}x", code.as_str().unwrap()));
    expect_error(
        check_in(&app, &organizer, &event, &forged).await,
        StatusCode::BAD_REQUEST,
        "invalid_ticket_code",
    )
    .await;
    let other_event = app.published_event(&organizer, json!({})).await;
    let elsewhere = expect_error(
        check_in(&app, &organizer, other_event["id"].as_str().unwrap(), code).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(elsewhere["message"], "This ticket is not for this event.");
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
        "ticket_id,booking_code,name,email,ticket_type,seat,status,checked_in_at,attendee_name,short_code"
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

/// Eight Crockford base32 characters with a dash in the middle.
fn is_short_code(code: &str) -> bool {
    let crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    code.len() == 9
        && code.char_indices().all(|(i, c)| {
            if i == 4 {
                c == '-'
            } else {
                crockford.contains(c)
            }
        })
}

#[actix_web::test]
async fn every_ticket_has_a_short_code_on_it_and_in_the_attendee_list() {
    let app = spawn_app().await;
    let (organizer, _, event, tickets) = paid_for_two(&app).await;
    let shorts: Vec<&str> = tickets
        .iter()
        .map(|t| t["short_code"].as_str().unwrap())
        .collect();
    assert!(shorts.iter().all(|s| is_short_code(s)), "{shorts:?}");
    assert_ne!(shorts[0], shorts[1]);
    for ticket in &tickets {
        let code = ticket["code"].as_str().unwrap();
        assert_eq!(
            ticket["short_code"],
            boxoffice::tickets::code::short_code(code, 0),
            "derived from the signed code"
        );
        // migration 0020 backfilled older tickets with the same derivation in SQL
        for attempt in [0, 1] {
            let in_sql: String = sqlx::query_scalar("SELECT ticket_short_code($1, $2)")
                .bind(code)
                .bind(attempt)
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert_eq!(
                in_sql,
                boxoffice::tickets::code::short_code(code, attempt as u32)
            );
        }
    }

    let token = Some(organizer.access_token.as_str());
    let path = format!("/v1/admin/events/{event}/attendees");
    let page = expect_json(app.get(&path, token).await, StatusCode::OK).await;
    for row in page["data"].as_array().unwrap() {
        let ticket = tickets
            .iter()
            .find(|t| t["id"] == row["ticket_id"])
            .unwrap();
        assert_eq!(row["short_code"], ticket["short_code"]);
    }
    // the door may search by it, typed as printed
    let found = expect_json(
        app.get(&format!("{path}?q={}", shorts[1]), token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["ticket_id"], tickets[1]["id"]);
    let csv = app
        .get(&format!("{path}.csv"), token)
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with(",short_code"), "{}", lines[0]);
    for short in &shorts {
        assert!(
            lines[1..].iter().any(|l| l.ends_with(&format!(",{short}"))),
            "{short} ends its line: {csv}"
        );
    }
}

/// A short code that another ticket of the event has (or another of the same batch) takes the
/// next attempt of the derivation, so issuance never trips over the unique index.
#[actix_web::test]
async fn a_short_code_already_taken_in_the_event_takes_the_next_attempt() {
    let app = spawn_app().await;
    let (_, _, event, tickets) = paid_for_two(&app).await;
    let event: uuid::Uuid = event.parse().unwrap();
    let taken = tickets[0]["code"].as_str().unwrap().to_owned();
    let fresh = "a code no ticket has".to_owned();
    let mut conn = app.pool.acquire().await.unwrap();
    let shorts = boxoffice::tickets::store::free_short_codes(
        &mut conn,
        &[event.into(), event.into(), event.into()],
        &[taken.clone(), fresh.clone(), fresh.clone()],
    )
    .await
    .unwrap();
    use boxoffice::tickets::code::short_code;
    assert_eq!(
        shorts,
        [
            short_code(&taken, 1),
            short_code(&fresh, 0),
            short_code(&fresh, 1)
        ]
    );
    // in another event the first attempt is free
    let elsewhere = boxoffice::tickets::store::free_short_codes(
        &mut conn,
        &[boxoffice_actors::ids::EventId::new()],
        std::slice::from_ref(&taken),
    )
    .await
    .unwrap();
    assert_eq!(elsewhere, [short_code(&taken, 0)]);
}

#[actix_web::test]
async fn the_door_checks_a_ticket_in_by_its_short_code_typed_any_way() {
    let app = spawn_app().await;
    let (organizer, _, event, tickets) = paid_for_two(&app).await;
    let short = tickets[0]["short_code"].as_str().unwrap();

    let first = expect_json(
        check_in(&app, &organizer, &event, &json!(short)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["id"], tickets[0]["id"]);
    assert_eq!(first["status"], "checked_in");
    let undashed = short.replace('-', "").to_lowercase();
    for again in [
        short.to_owned(),
        undashed.clone(),
        tickets[0]["code"].as_str().unwrap().to_owned(),
    ] {
        let error = expect_error(
            check_in(&app, &organizer, &event, &json!(again)).await,
            StatusCode::CONFLICT,
            "already_checked_in",
        )
        .await;
        assert_eq!(error["message"], "This ticket was already checked in.");
        assert_eq!(error["details"][0]["field"], "checked_in_at");
        assert_eq!(error["details"][0]["message"], first["checked_in_at"]);
    }

    // lowercase without the dash, 0 and 1 typed as the letters they look like
    let typed = tickets[1]["short_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase()
        .replace('0', "o")
        .replace('1', "l");
    let second = expect_json(
        check_in(&app, &organizer, &event, &json!(typed)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(second["id"], tickets[1]["id"]);

    // another event's ticket, by its short code, is not for this one
    let (_, _, _, theirs) = paid_for_two(&app).await;
    let foreign = expect_error(
        check_in(&app, &organizer, &event, &theirs[0]["short_code"]).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(foreign["message"], "This ticket is not for this event.");
    // and what is neither a signed code nor eight base32 characters is no code at all
    for junk in ["K7QF-9M2", "K7QF-9M2XX", "UUUU-UUUU"] {
        expect_error(
            check_in(&app, &organizer, &event, &json!(junk)).await,
            StatusCode::BAD_REQUEST,
            "invalid_ticket_code",
        )
        .await;
    }
}

#[actix_web::test]
async fn the_owner_downloads_a_ticket_as_a_pdf_with_its_short_code() {
    let app = spawn_app().await;
    let (organizer, buyer, event, tickets) = paid_for_two(&app).await;
    let (id, short) = (
        tickets[0]["id"].as_str().unwrap(),
        tickets[0]["short_code"].as_str().unwrap(),
    );
    let path = format!("/v1/tickets/{id}/ticket.pdf");
    let pdf = app.get(&path, Some(&buyer.access_token)).await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(
        pdf.headers()["content-disposition"],
        format!("attachment; filename=\"ticket-{short}.pdf\"").as_str()
    );
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("({short}) Tj")),
        "the short code as text"
    );
    assert!(text.contains("(Night of Strings) Tj"), "the event's name");
    assert!(text.contains("(Stalls, row A, seat "), "the seat");
    assert!(text.contains(&format!(
        "({}) Tj",
        tickets[0]["booking_code"].as_str().unwrap()
    )));

    // nobody else's, and not without logging in
    let stranger = app.customer().await;
    expect_error(
        app.get(&path, Some(&stranger.access_token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // a ticket given away no longer admits anyone: no PDF of it; the new one has its own code
    let other = tickets[1]["id"].as_str().unwrap();
    let friend = app.customer().await;
    let given = expect_json(
        app.post(
            &format!("/v1/tickets/{other}/transfer"),
            Some(&buyer.access_token),
            &json!({"email": friend.email}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(given["ticket"]["status"], "transferred");
    let refused = expect_error(
        app.get(
            &format!("/v1/tickets/{other}/ticket.pdf"),
            Some(&buyer.access_token),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    assert!(refused["message"].as_str().unwrap().ends_with('.'));
    let theirs = tickets_of(&app, &friend, 1).await;
    let new_short = theirs[0]["short_code"].as_str().unwrap();
    assert!(is_short_code(new_short));
    assert_ne!(new_short, tickets[1]["short_code"].as_str().unwrap());
    // the old short code is refused at the door like the old full code, the new one admits
    expect_error(
        check_in(&app, &organizer, &event, &tickets[1]["short_code"]).await,
        StatusCode::CONFLICT,
        "ticket_voided",
    )
    .await;
    expect_json(
        check_in(&app, &organizer, &event, &json!(new_short)).await,
        StatusCode::OK,
    )
    .await;
    let friends_pdf = app
        .get(
            &format!(
                "/v1/tickets/{}/ticket.pdf",
                theirs[0]["id"].as_str().unwrap()
            ),
            Some(&friend.access_token),
        )
        .await;
    assert_eq!(friends_pdf.status(), StatusCode::OK);
}

/// The calendar file's content lines, unfolded (RFC 5545 3.1), after checking that every
/// physical line ends in CRLF and is at most 75 octets.
fn ics_lines(ics: &str) -> Vec<String> {
    assert!(ics.ends_with("\r\n"));
    let mut lines: Vec<String> = Vec::new();
    for physical in ics.trim_end_matches("\r\n").split("\r\n") {
        assert!(
            physical.len() <= 75,
            "{} octets: {physical:?}",
            physical.len()
        );
        assert!(!physical.contains('\n'), "a bare LF in {physical:?}");
        match physical.strip_prefix(' ') {
            Some(more) => lines.last_mut().expect("a first line").push_str(more),
            None => lines.push(physical.to_owned()),
        }
    }
    lines
}

#[actix_web::test]
async fn a_published_event_is_offered_as_a_calendar_file() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let description = format!(
        "Strings, winds; and a choir.\nDoors open at 18:30. {}",
        "Bartók and Beethoven by candlelight, ".repeat(20)
    );
    let event = app
        .published_event(
            &organizer,
            json!({
                "name": "Strings, Winds; Voices",
                "description": description,
                "location": "Hanoi Opera House, 1 Tràng Tiền",
                "start_at": "2027-03-01T19:00:00Z",
                "end_at": "2027-03-01T22:30:00Z",
            }),
        )
        .await;
    let id = event["id"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/events/{id}/calendar.ics"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"strings-winds-voices.ics\""
    );
    let ics = response.text().await.unwrap();
    let lines = ics_lines(&ics);
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 1);
    let has = |line: &str| lines.iter().any(|l| l == line);
    assert!(has("SUMMARY:Strings\\, Winds\\; Voices"), "{lines:?}");
    assert!(has("DTSTART:20270301T190000Z"), "{lines:?}");
    assert!(has("DTEND:20270301T223000Z"), "{lines:?}");
    assert!(has(&format!("UID:{id}@boxoffice")));
    assert!(has("LOCATION:Hanoi Opera House\\, 1 Tràng Tiền"));
    assert!(has(&format!(
        "URL:{}/events/{id}",
        app.settings.server.public_url.trim_end_matches('/')
    )));
    let stamp = lines
        .iter()
        .find_map(|l| l.strip_prefix("DTSTAMP:"))
        .unwrap();
    assert!(stamp.len() == 16 && stamp.ends_with('Z'), "{stamp}");
    // the description's first 500 characters, escaped, long enough to have been folded
    let shown = lines
        .iter()
        .find_map(|l| l.strip_prefix("DESCRIPTION:"))
        .unwrap();
    let first: String = description.chars().take(500).collect();
    let escaped = first
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n");
    assert_eq!(shown, escaped);
    assert!(ics.contains("\r\n "), "long lines are folded");

    // drafts and unknown events are not in the catalog
    let draft = app.create_event(&organizer, json!({})).await;
    for missing in [
        draft["id"].as_str().unwrap().to_owned(),
        uuid::Uuid::now_v7().to_string(),
    ] {
        expect_error(
            app.get(&format!("/v1/events/{missing}/calendar.ics"), None)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
}
