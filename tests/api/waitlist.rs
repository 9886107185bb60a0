//! Waiting lists: a sold-out type's line, the offers the event's actor makes from what comes
//! back (an expiry, a cancel, a refund), offers that lapse, and the line surviving a restart.
use std::sync::Arc;
use std::time::Duration;

use boxoffice::engine::journal::PgJournal;
use boxoffice::outbox::Wake;
use boxoffice_actors::clock::SystemClock;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::{EngineSettings, WaitlistAction, WaitlistAnswer, WaitlistAsk};
use boxoffice_actors::ids::{BookingId, TicketTypeId, UserId};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{eventually, expect_error, expect_json, spawn_app, TestApp, User};
use crate::mail::mail_files;
use crate::money::assert_money_rule;
use crate::payments::{check_out, wait_for_status, Webhook};
use crate::refunds::booking_of as booking;

pub async fn join(app: &TestApp, buyer: &User, event: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/v1/events/{event}/waitlist"),
        Some(&buyer.access_token),
        &body,
    )
    .await
}

/// Cancels the buyer's held booking.
pub async fn cancel(app: &TestApp, buyer: &User, booking: &Value) {
    let path = format!("/v1/bookings/{}/cancel", booking["id"].as_str().unwrap());
    expect_json(
        app.post(&path, Some(&buyer.access_token), &json!({})).await,
        StatusCode::OK,
    )
    .await;
}

/// The buyer's one entry on the event's waiting lists.
pub async fn entry_of(app: &TestApp, buyer: &User, event: &str) -> Value {
    let entries = expect_json(
        app.get(
            &format!("/v1/events/{event}/waitlist"),
            Some(&buyer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    entries[0].clone()
}

/// Waits (delivering the outbox) until the buyer's entry has `status`, and answers it.
pub async fn entry_with_status(app: &TestApp, buyer: &User, event: &str, status: &str) -> Value {
    eventually(10, status, || async {
        app.settle().await;
        let entry = entry_of(app, buyer, event).await;
        (entry["status"] == status).then_some(entry)
    })
    .await
}

#[actix_web::test]
async fn a_sold_out_type_offers_a_returned_seat_to_the_first_in_line_then_to_the_next_who_buys() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 2}), None)
        .await;
    let one = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    // sold out: one booking paid, one held
    let paid_buyer = app.customer().await;
    let paid = expect_json(app.hold(&paid_buyer, &one).await, StatusCode::CREATED).await;
    let paid = check_out(&app, &paid_buyer, &paid).await;
    expect_json(
        Webhook::new(&app, &paid, "txn-first").send(&app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &paid_buyer, &paid, "confirmed").await;
    let holder = app.customer().await;
    let held = expect_json(app.hold(&holder, &one).await, StatusCode::CREATED).await;
    // three join, in order; joining again answers the same entry
    let line = [
        app.customer().await,
        app.customer().await,
        app.customer().await,
    ];
    let wait_for_one = json!({"ticket_type_id": ticket_type["id"]});
    for (i, buyer) in line.iter().enumerate() {
        let entry = expect_json(
            join(&app, buyer, &event, wait_for_one.clone()).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(entry["status"], "waiting");
        assert_eq!(entry["position"], i + 1);
        assert_eq!(entry["qty"], 1);
    }
    let again = expect_json(
        join(&app, &line[0], &event, wait_for_one.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["id"], entry_of(&app, &line[0], &event).await["id"]);

    // the held booking expires: its seat goes to the first in line, not back on sale
    app.expire_holds();
    wait_for_status(&app, &holder, &held, "expired").await;
    let offered = entry_with_status(&app, &line[0], &event, "offered").await;
    let offer = booking(&app, &line[0], offered["booking_id"].as_str().unwrap()).await;
    assert_eq!(offer["status"], "held");
    assert_eq!(offer["number_seats"], 1);
    assert_eq!(offered["offer_expires_at"], offer["expired_at"]);
    let late = app.customer().await;
    expect_error(
        app.hold(&late, &one).await,
        StatusCode::CONFLICT,
        "sold_out",
    )
    .await;
    assert_eq!(entry_of(&app, &line[1], &event).await["position"], 1);
    // told in-site and by mail
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM notifications WHERE kind = 'waitlist_offered' AND user_id = '{}'",
            line[0].id
        ))
        .await,
        1
    );
    let mail = eventually(10, "the offer mail", || async {
        mail_files(&app.settings.email.dir)
            .into_iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            // unfolded: quoted-printable soft breaks and folded headers joined again
            .map(|mail| mail.replace("=\r\n", "").replace("\r\n ", " "))
            .find(|mail| mail.contains(&line[0].email) && mail.contains("held for you"))
    })
    .await;
    assert!(
        mail.contains(offer["booking_code"].as_str().unwrap()),
        "{mail}"
    );

    // the first lets the offer lapse: the second gets it, and buys
    app.advance(Duration::from_secs(
        app.settings.waitlist.offer_minutes * 60 + 1,
    ));
    entry_with_status(&app, &line[0], &event, "lapsed").await;
    let offered = entry_with_status(&app, &line[1], &event, "offered").await;
    let offer = booking(&app, &line[1], offered["booking_id"].as_str().unwrap()).await;
    let offer = check_out(&app, &line[1], &offer).await;
    expect_json(
        Webhook::new(&app, &offer, "txn-from-the-line")
            .send(&app)
            .await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &line[1], &offer, "confirmed").await;
    entry_with_status(&app, &line[1], &event, "bought").await;
    let third = entry_of(&app, &line[2], &event).await;
    assert_eq!(
        (&third["status"], &third["position"]),
        (&json!("waiting"), &json!(1))
    );

    // the organizer sees the line, on its page and in the sales report
    let listed = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/waitlist"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        listed["summary"],
        json!({"waiting": 1, "offered": 0, "bought": 1, "lapsed": 1, "left": 0})
    );
    let emails: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        line.iter().map(|b| b.email.as_str()).collect::<Vec<_>>()
    );
    let sales = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/sales"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sales["waitlist"], listed["summary"]);
    assert_money_rule(&app).await;
    // a cancelled event's line is over
    expect_json(
        app.post(
            &format!("/v1/admin/events/{event}/cancel"),
            Some(&organizer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(entry_of(&app, &line[2], &event).await["status"], "lapsed");
}

#[actix_web::test]
async fn joining_is_for_sold_out_types_and_leaving_an_offer_passes_it_on() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 3}), None)
        .await;
    let waiter = app.customer().await;
    // two of three left: a line for two is refused, a line for four is past what it holds
    let buyer = app.customer().await;
    let first = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    let first = expect_json(app.hold(&buyer, &first).await, StatusCode::CREATED).await;
    let refused = expect_error(
        join(
            &app,
            &waiter,
            &event,
            json!({"ticket_type_id": ticket_type["id"], "qty": 2}),
        )
        .await,
        StatusCode::CONFLICT,
        "not_sold_out",
    )
    .await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("2 tickets of this type are still on sale"),
        "{refused}"
    );
    for (body, field) in [
        (
            json!({"ticket_type_id": ticket_type["id"], "qty": 4}),
            "qty",
        ),
        (
            json!({"ticket_type_id": ticket_type["id"], "qty": 0}),
            "qty",
        ),
        (
            json!({"ticket_type_id": BookingId::new()}),
            "ticket_type_id",
        ),
    ] {
        let bad = expect_error(
            join(&app, &waiter, &event, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(bad["details"][0]["field"], field, "{bad}");
    }
    // a line for three: waits until all three are free
    let for_three = json!({"ticket_type_id": ticket_type["id"], "qty": 3});
    let waiting = expect_json(
        join(&app, &waiter, &event, for_three.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    let second = app.customer().await;
    let for_one = json!({"ticket_type_id": ticket_type["id"], "qty": 1});
    expect_error(
        join(&app, &second, &event, for_one.clone()).await,
        StatusCode::CONFLICT,
        "not_sold_out",
    )
    .await;
    let two = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2});
    let other = app.customer().await;
    let rest = expect_json(app.hold(&other, &two).await, StatusCode::CREATED).await;
    expect_json(
        join(&app, &second, &event, for_one).await,
        StatusCode::CREATED,
    )
    .await;
    // one seat back: too few for the first in line, so the second (for one) gets it
    cancel(&app, &buyer, &first).await;
    let offered = entry_with_status(&app, &second, &event, "offered").await;
    assert_eq!(entry_of(&app, &waiter, &event).await["status"], "waiting");
    // the other two come back; the second gives the offer up: all three go to the first
    cancel(&app, &other, &rest).await;
    let left = expect_json(
        app.delete(
            &format!(
                "/v1/events/{event}/waitlist/{}",
                offered["id"].as_str().unwrap()
            ),
            Some(&second.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(left["status"], "left");
    assert_eq!(
        booking(&app, &second, offered["booking_id"].as_str().unwrap()).await["status"],
        "cancelled"
    );
    let offered = entry_with_status(&app, &waiter, &event, "offered").await;
    assert_eq!(offered["id"], waiting["id"]);
    assert_eq!(
        booking(&app, &waiter, offered["booking_id"].as_str().unwrap()).await["number_seats"],
        3
    );
    // nobody else may leave it for them, and a left entry is gone from the line
    expect_error(
        app.delete(
            &format!(
                "/v1/events/{event}/waitlist/{}",
                offered["id"].as_str().unwrap()
            ),
            Some(&buyer.access_token),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn the_line_is_read_back_from_the_journal_after_a_restart() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 1}), None)
        .await;
    let event = event.parse().unwrap();
    let ticket_type: TicketTypeId = ticket_type["id"].as_str().unwrap().parse().unwrap();
    let users: Vec<UserId> = app
        .accounts(3)
        .await
        .iter()
        .map(|u| u.id.parse().unwrap())
        .collect();
    let engine = || async {
        let pool = sqlx::PgPool::connect(app.settings.database.url.expose())
            .await
            .unwrap();
        let journal = PgJournal::new(pool, Wake::default(), None);
        EventDirectory::new(
            Arc::new(journal),
            EngineSettings::default(),
            Arc::new(SystemClock),
        )
    };
    let before = engine().await;
    let hold = crate::engine::request(ticket_type, users[0], 1);
    before.hold(event, hold.clone()).await.unwrap();
    let mut line = Vec::new();
    for user in &users[1..] {
        let ask = WaitlistAsk {
            user: *user,
            action: WaitlistAction::Join {
                ticket_type,
                qty: 1,
            },
        };
        let Ok(WaitlistAnswer::Joined { entry, new: true }) = before.waitlist(event, ask).await
        else {
            panic!("joined");
        };
        line.push(entry.id);
    }
    drop(before);
    // a fresh engine reads the line back: the returned seat goes to the first who joined
    let after = engine().await;
    after.cancel(event, hold.booking, users[0]).await.unwrap();
    let offered: (String, Option<BookingId>) = eventually(10, "the offer", || async {
        let row: (String, Option<BookingId>) =
            sqlx::query_as("SELECT status, booking_id FROM waitlist_entries WHERE id = $1")
                .bind(line[0])
                .fetch_one(&app.pool)
                .await
                .unwrap();
        (row.0 == "offered").then_some(row)
    })
    .await;
    let status: String = sqlx::query_scalar("SELECT status FROM bookings WHERE id = $1")
        .bind(offered.1.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "held");
    let second: String = sqlx::query_scalar("SELECT status FROM waitlist_entries WHERE id = $1")
        .bind(line[1])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(second, "waiting");
}
