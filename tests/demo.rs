//! `boxoffice demo` against a fresh database: what a newcomer finds on the site afterwards, and
//! that a second run changes nothing but a missing banner.
#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::collections::BTreeSet;

use boxoffice::demo::{self, BUYER, ORGANIZER};
use helpers::{expect_json, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every published event, as the public listing pages through them.
async fn published(app: &TestApp) -> Vec<Value> {
    let page = expect_json(app.get("/v1/events?limit=100", None).await, StatusCode::OK).await;
    assert!(page["next_token"].is_null(), "more than one page: {page}");
    page["data"].as_array().unwrap().clone()
}

/// The banner every demo event of `category` gets on a site at `site`.
fn demo_banner(site: &str, category: &str) -> String {
    format!("{site}/assets/banner-{category}.svg")
}

#[actix_web::test]
async fn demo_seeds_events_a_buyer_can_book_and_a_second_run_creates_nothing() {
    let app = spawn_app().await;
    // the banners must be where the site is, so the public URL is this server's (with a
    // trailing slash, which the banner addresses must not double)
    let mut settings = app.settings.clone();
    settings.server.public_url = format!("{}/", app.address);

    let first = demo::run(settings.clone()).await.expect("the demo runs");
    assert!(first.events.len() >= 5, "{first:?}");
    assert_eq!(first.created(), first.events.len());
    assert_eq!(first.banners_added(), 0);
    assert_eq!(first.public_url, settings.server.public_url);

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
    // each with its category's banner, which the site serves as an image
    for event in &events {
        let banner = demo_banner(&app.address, event["category"].as_str().unwrap());
        assert_eq!(event["banner"], banner.as_str(), "{event}");
        let answer = app.api.http().get(&banner).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{banner}");
        let content_type = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("image/svg+xml"), "{content_type}");
        let svg = answer.text().await.unwrap();
        assert!(svg.starts_with("<svg "), "{banner}: {svg}");
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

    // an event from a run before the demo had banners: the next run gives it its banner
    let tokens = expect_json(
        app.login(ORGANIZER.email, ORGANIZER.password).await,
        StatusCode::OK,
    )
    .await;
    let organizer = tokens["access_token"].as_str().unwrap();
    let bare = &events[0];
    let path = format!("/v1/admin/events/{}", bare["id"].as_str().unwrap());
    let edited = expect_json(
        app.patch(&path, Some(organizer), &json!({"banner": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(edited["banner"].is_null(), "{edited}");

    let second = demo::run(settings.clone())
        .await
        .expect("the demo runs again");
    assert_eq!(second.created(), 0);
    assert_eq!(second.banners_added(), 1, "{second:?}");
    let ids = |summary: &demo::DemoSummary| -> BTreeSet<String> {
        summary.events.iter().map(|e| e.id.clone()).collect()
    };
    assert_eq!(ids(&second), ids(&first));
    let again = published(&app).await;
    assert_eq!(again.len(), events.len());
    for event in &again {
        let banner = demo_banner(&app.address, event["category"].as_str().unwrap());
        assert_eq!(event["banner"], banner.as_str(), "{event}");
    }
    let text = second.to_string();
    assert!(text.contains("exists already"), "{text}");
    assert!(text.contains("Gave 1 demo event"), "{text}");

    // a third run has nothing left to do
    let third = demo::run(settings)
        .await
        .expect("the demo runs a third time");
    assert_eq!(
        (third.created(), third.banners_added()),
        (0, 0),
        "{third:?}"
    );
}
