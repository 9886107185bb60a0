use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_error, expect_json, spawn_app, TestApp, User};

/// Every event the listing at `query` returns, following next_token to the end.
async fn all_pages(app: &TestApp, query: &str, limit: u32) -> Vec<Value> {
    let mut events = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..100 {
        let token = next
            .as_deref()
            .map(|t| format!("&next_token={t}"))
            .unwrap_or_default();
        let page = expect_json(
            app.get(&format!("/v1/events?limit={limit}{query}{token}"), None)
                .await,
            StatusCode::OK,
        )
        .await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit as usize);
        events.extend(data.iter().cloned());
        match page["next_token"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => return events,
        }
    }
    panic!("pagination did not end");
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

async fn catalog(app: &TestApp) -> User {
    let organizer = app.organizer().await;
    for body in [
        json!({"name": "Rock the Park", "category": "concert", "location": "Thong Nhat Park, Hanoi",
               "description": "Three stages of guitars", "start_at": "2027-05-01T18:00:00Z", "end_at": "2027-05-01T23:00:00Z"}),
        json!({"name": "Derby Day", "title": "The city football derby", "category": "sports", "location": "My Dinh Stadium, Hanoi",
               "start_at": "2027-04-10T12:00:00Z", "end_at": "2027-04-10T14:00:00Z"}),
        json!({"name": "Midnight Screening", "category": "film", "location": "Cinema Saigon, Ho Chi Minh City",
               "description": "A restored noir classic", "start_at": "2027-06-01T23:00:00Z", "end_at": "2027-06-02T01:00:00Z"}),
        json!({"name": "Jazz Brunch", "category": "music", "location": "Riverside Hall, Da Nang",
               "title": "Saxophone quartet concerts on the river", "start_at": "2027-04-20T10:00:00Z", "end_at": "2027-04-20T12:00:00Z"}),
    ] {
        app.published_event(&organizer, body).await;
    }
    app.create_event(
        &organizer,
        json!({"name": "Secret Draft Concert", "category": "concert"}),
    )
    .await;
    organizer
}

#[actix_web::test]
async fn the_listing_shows_published_events_only_soonest_first() {
    let app = spawn_app().await;
    catalog(&app).await;
    let events = all_pages(&app, "", 20).await;
    assert_eq!(
        names(&events),
        [
            "Derby Day",
            "Jazz Brunch",
            "Rock the Park",
            "Midnight Screening"
        ]
    );
    assert!(events.iter().all(|e| e["status"] == "published"));
    assert_eq!(events[0]["price_from"], 250000);
    assert_eq!(events[0]["currency"], "VND");
}

#[actix_web::test]
async fn text_search_looks_in_name_title_description_and_location() {
    let app = spawn_app().await;
    catalog(&app).await;
    for (q, expected) in [
        ("derby", vec!["Derby Day"]),               // name
        ("football", vec!["Derby Day"]),            // title
        ("noir", vec!["Midnight Screening"]),       // description
        ("da nang", vec!["Jazz Brunch"]),           // location
        ("guitar", vec!["Rock the Park"]),          // stemmed: guitars
        ("concert", vec!["Jazz Brunch"]),           // "concerts" in a title; the draft stays hidden
        ("hanoi -football", vec!["Rock the Park"]), // web-search syntax
        ("opera", vec![]),
    ] {
        let events = all_pages(&app, &format!("&q={}", urlencode(q)), 20).await;
        assert_eq!(names(&events), expected, "q={q}");
    }
}

#[actix_web::test]
async fn each_filter_narrows_the_listing() {
    let app = spawn_app().await;
    catalog(&app).await;
    let cases = [
        ("&category=sports", vec!["Derby Day"]),
        ("&category=FILM", vec!["Midnight Screening"]),
        ("&location=hanoi", vec!["Derby Day", "Rock the Park"]),
        (
            "&from=2027-04-20T10:00:00Z",
            vec!["Jazz Brunch", "Rock the Park", "Midnight Screening"],
        ),
        ("&to=2027-04-20T10:00:00Z", vec!["Derby Day", "Jazz Brunch"]),
        (
            "&from=2027-04-15T00:00:00Z&to=2027-05-15T00:00:00Z&location=a",
            vec!["Jazz Brunch", "Rock the Park"],
        ),
        ("&category=concert&location=da%20nang", vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            names(&all_pages(&app, query, 20).await),
            expected,
            "{query}"
        );
    }
}

#[actix_web::test]
async fn pagination_visits_every_published_event_exactly_once() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let mut published = HashSet::new();
    for i in 0..23 {
        // several events share a start time, so the order must break ties by id
        let start = format!("2027-01-{:02}T20:00:00Z", 1 + i / 3);
        let end = format!("2027-01-{:02}T23:00:00Z", 1 + i / 3);
        let body = json!({"name": format!("Show {i}"), "start_at": start, "end_at": end});
        let event = if i % 5 == 0 {
            app.create_event(&organizer, body).await // drafts, not listed
        } else {
            let event = app.published_event(&organizer, body).await;
            published.insert(event["id"].as_str().unwrap().to_owned());
            event
        };
        assert!(event["id"].is_string());
    }
    for limit in [1, 4, 7, 100] {
        let events = all_pages(&app, "", limit).await;
        let ids: Vec<String> = events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            ids.len(),
            published.len(),
            "limit {limit}: every event once"
        );
        assert_eq!(
            ids.iter().cloned().collect::<HashSet<_>>(),
            published,
            "limit {limit}"
        );
        let starts: Vec<&str> = events
            .iter()
            .map(|e| e["start_at"].as_str().unwrap())
            .collect();
        assert!(
            starts.windows(2).all(|w| w[0] <= w[1]),
            "ordered by start time"
        );
    }
}

#[actix_web::test]
async fn a_foreign_next_token_and_a_bad_limit_are_refused() {
    let app = spawn_app().await;
    expect_error(
        app.get("/v1/events?next_token=bm9wZQ", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_next_token",
    )
    .await;
    expect_error(
        app.get("/v1/events?limit=0", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/v1/events?limit=101", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_error(
        app.get("/v1/events?limit=many", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    expect_error(
        app.get("/v1/events?from=yesterday", None).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let error = expect_error(
        app.get(
            "/v1/events?from=2027-02-01T00:00:00Z&to=2027-01-01T00:00:00Z",
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "to");
}

#[actix_web::test]
async fn an_event_page_shows_ticket_types_with_availability() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let id = event["id"].as_str().unwrap();
    app.create_ticket_type(&organizer, id, json!({"name": "VIP", "price": 900000, "number_seats": 20, "position": 1, "max_per_user": 2})).await;
    app.create_ticket_type(
        &organizer,
        id,
        json!({"name": "Standard", "price": 300000, "number_seats": 200, "position": 2}),
    )
    .await;
    app.create_ticket_type(
        &organizer,
        id,
        json!({"name": "Staff", "price": 0, "number_seats": 5, "position": 0, "status": "hidden"}),
    )
    .await;

    // a draft is not public
    expect_error(
        app.get(&format!("/v1/events/{id}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_json(
        app.post(
            &format!("/v1/admin/events/{id}/publish"),
            Some(&organizer.access_token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let page = expect_json(
        app.get(&format!("/v1/events/{id}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["name"], "Night of Strings");
    let types = page["ticket_types"].as_array().unwrap();
    assert_eq!(
        names(types),
        ["VIP", "Standard"],
        "ordered by position, hidden left out"
    );
    assert_eq!(types[0]["number_seats"], 20);
    assert_eq!(types[0]["available"], 20);
    assert_eq!(types[0]["max_per_user"], 2);
    assert_eq!(types[1]["price"], 300000);
    assert_eq!(types[1]["currency"], "VND");
    assert!(types[1]["max_per_user"].is_null());
    assert_eq!(page["price_from"], 300000);
}

#[actix_web::test]
async fn an_unknown_event_is_404() {
    let app = spawn_app().await;
    expect_error(
        app.get(&format!("/v1/events/{}", uuid::Uuid::now_v7()), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/v1/events/not-a-uuid", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

fn urlencode(text: &str) -> String {
    text.replace(' ', "%20")
}

#[actix_web::test]
async fn an_event_is_in_the_time_zone_given_or_the_one_its_city_names() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let told = app
        .create_event(
            &organizer,
            json!({"location": "Red Rocks Amphitheatre, Denver"}),
        )
        .await;
    assert_eq!(told["time_zone"], "America/Denver");
    let nowhere = app
        .create_event(&organizer, json!({"location": "The Old Barn"}))
        .await;
    assert_eq!(nowhere["time_zone"], "UTC");
    let given = app
        .create_event(
            &organizer,
            json!({"location": "Denver", "time_zone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(given["time_zone"], "Asia/Tokyo");

    let token = Some(organizer.access_token.as_str());
    let mut body = json!({"name": "Somewhere", "category": "music", "time_zone": "Mars/Olympus",
        "start_at": "2027-03-01T19:00:00Z", "end_at": "2027-03-01T22:00:00Z"});
    let error = expect_error(
        app.post("/v1/admin/events", token, &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(error["details"][0]["field"], "time_zone", "{error}");
    assert!(
        error["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("IANA"),
        "{error}"
    );

    let id = told["id"].as_str().unwrap();
    let path = format!("/v1/admin/events/{id}");
    body = json!({"time_zone": "Europe/Berlin", "attendee_names": true});
    let edited = expect_json(app.patch(&path, token, &body).await, StatusCode::OK).await;
    assert_eq!(edited["time_zone"], "Europe/Berlin");
    assert_eq!(edited["attendee_names"], true);
    expect_error(
        app.patch(&path, token, &json!({"time_zone": "Berlin"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[actix_web::test]
async fn an_event_and_its_seats_answer_304_until_something_changes() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let buyer = app.customer().await;
    let map = json!({"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 3}]}]});
    let (event, ticket_type) = app
        .event_with(&organizer, json!({"seat_mapped": true}), Some(map))
        .await;
    for path in [
        format!("/v1/events/{event}"),
        format!("/v1/events/{event}/seats"),
    ] {
        let first = app.get(&path, None).await;
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        let tag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .request(reqwest::Method::GET, &path, None)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.text().await.unwrap().is_empty(), "{path}");
        let other = app
            .request(reqwest::Method::GET, &path, None)
            .header("if-none-match", "\"someone-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }

    // a hold changes both: the old tags no longer match
    let tags = {
        let mut tags = Vec::new();
        for path in [
            format!("/v1/events/{event}"),
            format!("/v1/events/{event}/seats"),
        ] {
            let answer = app.get(&path, None).await;
            tags.push((path, answer.headers()["etag"].to_str().unwrap().to_owned()));
        }
        tags
    };
    let body = json!({"event_id": event, "ticket_type_id": ticket_type["id"], "qty": 1});
    expect_json(app.hold(&buyer, &body).await, StatusCode::CREATED).await;
    app.settle().await;
    for (path, tag) in tags {
        let answer = app
            .request(reqwest::Method::GET, &path, None)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path} after a hold");
    }
}

/// A 2×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4zwAE/wEHAAH/4iOeWQAAAABJRU5ErkJggg==";

#[actix_web::test]
async fn an_uploaded_image_becomes_the_banner_served_with_validators_and_bad_files_are_refused() {
    use base64::Engine as _;
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let id = event["id"].as_str().unwrap();
    let path = format!("/v1/admin/events/{id}/image");
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let put = |user: &User, content_type: &'static str, body: Vec<u8>| {
        app.request(reqwest::Method::PUT, &path, Some(&user.access_token))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let uploaded = expect_json(
        put(&organizer, "image/png", png.clone()).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let banner = uploaded["banner"].as_str().unwrap().to_owned();
    assert!(
        banner.contains(&format!("/v1/events/{id}/image?v=")),
        "{banner}"
    );
    let served_path = &banner[banner.find("/v1/").unwrap()..];
    let served = app.get(served_path, None).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert!(served.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let tag = served.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());
    let again = app
        .request(reqwest::Method::GET, served_path, None)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    expect_error(
        put(&organizer, "text/plain", png.clone()).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    for bytes in [b"not a picture at all".to_vec(), png[..20].to_vec()] {
        let error = expect_error(
            put(&organizer, "image/jpeg", bytes).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error["details"][0]["field"], "image", "{error}");
    }
    let mut huge = png.clone();
    huge.resize(3 * 1024 * 1024, 0);
    expect_error(
        put(&organizer, "image/png", huge).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let rival = app.organizer().await;
    expect_error(
        put(&rival, "image/png", png.clone()).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let removed = expect_json(
        app.delete(&path, Some(&organizer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["banner"], Value::Null);
    expect_error(
        app.get(served_path, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}
