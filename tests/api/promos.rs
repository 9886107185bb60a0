//! Promo codes: discounts, limits counted by the event's actor (no race), uses given back when
//! a hold ends, and hidden ticket types a code opens.
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_app, TestApp, User};
use crate::money::assert_money_rule;
use crate::payments::{check_out, wait_for_status, Webhook};

async fn promo(app: &TestApp, organizer: &User, event: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/v1/admin/events/{event}/promo_codes"),
        Some(&organizer.access_token),
        &body,
    )
    .await
}

/// Creates a promo code, which must succeed.
async fn created_promo(app: &TestApp, organizer: &User, event: &str, body: Value) -> Value {
    expect_json(
        promo(app, organizer, event, body).await,
        StatusCode::CREATED,
    )
    .await
}

fn with_code(event: &str, ticket_type: &Value, code: &str) -> Value {
    json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1, "promo_code": code})
}

#[actix_web::test]
async fn a_thousand_buyers_racing_for_a_code_with_ten_uses_get_exactly_ten() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"number_seats": 2000}), None)
        .await;
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "EARLY10", "percent_off": 10, "max_uses": 10}),
    )
    .await;
    let buyers = app.accounts(1000).await;
    let mut statuses = Vec::new();
    for chunk in buyers.chunks(100) {
        let answers = join_all(chunk.iter().map(|buyer| {
            let body = with_code(&event, &ticket_type, "early10");
            let app = &app;
            async move {
                let answer = app.hold(buyer, &body).await;
                let status = answer.status();
                let body: Value = answer.json().await.unwrap();
                (status, body)
            }
        }))
        .await;
        statuses.extend(answers);
    }
    let won: Vec<&Value> = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won.len(), 10);
    assert!(
        won.iter().all(|b| b["total_price"] == 225000),
        "10% off 250000"
    );
    assert!(statuses
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED)
        .all(|(s, b)| *s == StatusCode::CONFLICT && b["error"]["code"] == "promo_code_used_up"));
    assert_eq!(
        app.count("SELECT count(*) FROM bookings WHERE promo_code_id IS NOT NULL")
            .await,
        10
    );
    let listed = expect_json(
        app.get(
            &format!("/v1/admin/events/{event}/promo_codes"),
            Some(&organizer.access_token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["uses"], 10);
}

#[actix_web::test]
async fn a_hold_that_ends_gives_its_use_back_and_the_per_account_limit_counts() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "ONCE", "amount_off": 50000, "max_uses": 1, "max_per_account": 1}),
    )
    .await;
    let (first, second) = (app.customer().await, app.customer().await);
    let held = expect_json(
        app.hold(&first, &with_code(&event, &ticket_type, "ONCE"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["total_price"], 200000);
    expect_error(
        app.hold(&second, &with_code(&event, &ticket_type, "ONCE"))
            .await,
        StatusCode::CONFLICT,
        "promo_code_used_up",
    )
    .await;
    // the hold runs out: its use is free again, for the other buyer
    app.expire_holds();
    wait_for_status(&app, &first, &held, "expired").await;
    expect_json(
        app.hold(&second, &with_code(&event, &ticket_type, "ONCE"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    // one use per account: the second buyer's next hold with it is refused even with uses left
    let organizer_code = json!({"code": "MEMBER", "percent_off": 5, "max_per_account": 1});
    expect_json(
        promo(&app, &organizer, &event, organizer_code).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.hold(&second, &with_code(&event, &ticket_type, "member"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let again = expect_error(
        app.hold(&second, &with_code(&event, &ticket_type, "member"))
            .await,
        StatusCode::CONFLICT,
        "over_limit",
    )
    .await;
    assert!(
        again["message"].as_str().unwrap().contains("once"),
        "{again}"
    );
    // a cancelled hold gives it back too
    let mine = expect_json(
        app.hold(&first, &with_code(&event, &ticket_type, "member"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let cancel = format!("/v1/bookings/{}/cancel", mine["id"].as_str().unwrap());
    expect_json(
        app.post(&cancel, Some(&first.access_token), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        app.hold(&first, &with_code(&event, &ticket_type, "member"))
            .await,
        StatusCode::CREATED,
    )
    .await;
}

#[actix_web::test]
async fn a_code_is_checked_and_opens_a_hidden_ticket_type() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, standard) = app.event_with(&organizer, json!({}), None).await;
    let hidden = app
        .create_ticket_type(
            &organizer,
            &event,
            json!({"name": "Friends of the house", "status": "hidden", "price": 100000}),
        )
        .await;
    // the organizer's mistakes, in words
    let bad = expect_error(
        promo(
            &app,
            &organizer,
            &event,
            json!({"code": "no spaces", "percent_off": 150}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = crate::helpers::error_fields(&bad);
    assert!(
        fields.contains(&"code") && fields.contains(&"percent_off"),
        "{bad}"
    );
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "FRIENDS", "unlocks": [hidden["id"]]}),
    )
    .await;
    expect_error(
        promo(
            &app,
            &organizer,
            &event,
            json!({"code": "friends", "percent_off": 5}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_state",
    )
    .await;
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "OLD", "percent_off": 5, "valid_until": "2020-01-01T00:00:00Z"}),
    )
    .await;
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "HIDDENONLY", "percent_off": 5, "ticket_type_ids": [hidden["id"]]}),
    )
    .await;
    let buyer = app.customer().await;
    for (code, why) in [
        ("NOPE", "is not a promo code of this event"),
        ("OLD", "has expired"),
        ("HIDDENONLY", "does not apply to the tickets you chose"),
    ] {
        let refused = expect_error(
            app.hold(&buyer, &with_code(&event, &standard, code)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["details"][0]["field"], "promo_code");
        assert!(refused.to_string().contains(why), "{refused}");
    }
    // the event page with the code lists the hidden type, and the prices with the code
    let page = |code: &str| format!("/v1/events/{event}?promo_code={code}");
    let listed = expect_json(app.get(&page("friends"), None).await, StatusCode::OK).await;
    assert!(listed["ticket_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == hidden["id"]));
    assert_eq!(listed["promo"]["unlocks"], json!([hidden["id"]]));
    let plain_page = expect_json(
        app.get(&format!("/v1/events/{event}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(plain_page["ticket_types"].as_array().unwrap().len(), 1);
    assert!(plain_page.get("promo").is_none());
    expect_error(
        app.get(&page("NOPE"), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // the hidden type: not on sale without the code, on sale with it
    let plain = json!({"event_id": event, "ticket_type_id": hidden["id"], "qty": 1});
    expect_error(
        app.hold(&buyer, &plain).await,
        StatusCode::CONFLICT,
        "sale_not_open",
    )
    .await;
    let held = expect_json(
        app.hold(&buyer, &with_code(&event, &hidden, "FRIENDS"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["total_price"], 100000);
}

#[actix_web::test]
async fn a_discounted_booking_pays_its_discounted_price_and_a_refund_gives_back_what_was_paid() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let (event, ticket_type) = app.event_with(&organizer, json!({}), None).await;
    created_promo(
        &app,
        &organizer,
        &event,
        json!({"code": "FIFTH", "percent_off": 20}),
    )
    .await;
    let buyer = app.customer().await;
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 2, "promo_code": "FIFTH"});
    let held = expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    assert_eq!(held["total_price"], 400000);
    assert_eq!(held["items"][0]["price"], 200000);
    let priced = expect_json(
        app.get(&format!("/v1/events/{event}?promo_code=fifth"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(priced["promo"]["prices"][0]["price"], 200000);
    // the code as the organizer wrote it, whatever the buyer typed
    assert_eq!(priced["promo"]["code"], "FIFTH");
    let booking = check_out(&app, &buyer, &held).await;
    expect_json(
        Webhook::new(&app, &booking, "discounted").send(&app).await,
        StatusCode::OK,
    )
    .await;
    wait_for_status(&app, &buyer, &booking, "confirmed").await;
    let tickets = crate::tickets::tickets_of(&app, &buyer, 2).await;
    assert_money_rule(&app).await;
    let refund = expect_json(
        crate::refunds::refund(
            &app,
            &organizer,
            booking["id"].as_str().unwrap(),
            json!({"tickets": [tickets[0]["id"]]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        refund["amount"], 200000,
        "the price paid, not the list price"
    );
    assert_money_rule(&app).await;
}
