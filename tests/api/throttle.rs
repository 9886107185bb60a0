//! The login and registration throttles under concurrency, and client addresses: each request
//! comes from a loopback address of its own choosing (127.0.0.0/8 all reaches the server on Linux).
use std::net::{IpAddr, Ipv4Addr};

use futures_util::future::join_all;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_error, expect_json, spawn_app, spawn_app_with, TestApp, PASSWORD};

/// A client whose connections come from 127.0.0.`last`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn post_from(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    client
        .post(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .expect("request sent")
}

async fn login_from(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    post_from(
        app,
        client,
        "/v1/auths/login",
        json!({"email": email, "password": password}),
    )
    .await
}

/// How many of `responses` have each of 401, 429 and anything else.
fn tally(responses: &[reqwest::Response]) -> (usize, usize, usize) {
    let count = |status| responses.iter().filter(|r| r.status() == status).count();
    let unauthorized = count(StatusCode::UNAUTHORIZED);
    let throttled = count(StatusCode::TOO_MANY_REQUESTS);
    (
        unauthorized,
        throttled,
        responses.len() - unauthorized - throttled,
    )
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn concurrent_wrong_passwords_verify_at_most_the_limit_and_spare_the_owner_elsewhere() {
    let app = spawn_app().await;
    let limit = app.settings.auth.login_max_failures_per_account as usize;
    let owner = app.customer().await;
    let attacker = client_from(1);

    let guesses =
        (0..30).map(|i| login_from(&app, &attacker, &owner.email, ["wrong", "guess"][i % 2]));
    let responses = join_all(guesses).await;
    let (verified, throttled, other) = tally(&responses);
    assert_eq!(
        (verified, throttled, other),
        (limit, 30 - limit, 0),
        "30 concurrent wrong passwords: {verified} verified (401), {throttled} refused (429)"
    );

    // the right password from the attacker's address is refused without being checked
    let blocked = login_from(&app, &attacker, &owner.email, PASSWORD).await;
    assert!(retry_after(&blocked) > 0);
    expect_error(blocked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;

    // the owner, from their own address, is not locked out by the attacker
    expect_json(
        login_from(&app, &client_from(2), &owner.email, PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn concurrent_failures_from_one_address_verify_at_most_its_limit() {
    let app = spawn_app().await;
    let limit = app.settings.auth.login_max_failures_per_ip as usize;
    let client = client_from(1);
    let emails: Vec<String> = (0..60).map(|i| format!("guess{i}@example.com")).collect();
    let responses = join_all(
        emails
            .iter()
            .map(|e| login_from(&app, &client, e, "wrong password")),
    )
    .await;
    let (verified, throttled, other) = tally(&responses);
    assert_eq!(
        (verified, throttled, other),
        (limit, 60 - limit, 0),
        "60 concurrent failures from one address: {verified} verified (401), {throttled} refused (429)"
    );
}

#[actix_web::test]
async fn past_its_free_failures_an_account_makes_every_address_wait_longer() {
    let app = spawn_app_with(|s| {
        s.auth.login_account_free_failures = 2;
        s.auth.login_account_first_delay_seconds = 30;
    })
    .await;
    let owner = app.customer().await;
    for last in [1, 2] {
        expect_error(
            login_from(&app, &client_from(last), &owner.email, "wrong password").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // a third address, with two free failures of its own, still waits for the account
    let delayed = login_from(&app, &client_from(3), &owner.email, "wrong password").await;
    let seconds = retry_after(&delayed);
    assert!((1..=30).contains(&seconds), "Retry-After: {seconds}");
    expect_error(delayed, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[actix_web::test]
async fn registrations_from_one_address_are_throttled() {
    let app = spawn_app_with(|s| s.auth.register_max_per_ip = 3).await;
    let client = client_from(1);
    let registrations = (0..10).map(|i| {
        post_from(
            &app,
            &client,
            "/v1/auths/register",
            json!({"email": format!("new{i}@example.com"), "password": PASSWORD}),
        )
    });
    let responses = join_all(registrations).await;
    let created = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let throttled: Vec<_> = responses
        .into_iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        (created, throttled.len()),
        (3, 7),
        "10 concurrent registrations with a limit of 3"
    );
    let refused = throttled.into_iter().next().unwrap();
    let seconds = retry_after(&refused);
    assert!(seconds > 0 && seconds <= app.settings.auth.register_window_seconds);
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // another address is not affected
    let elsewhere = post_from(
        &app,
        &client_from(2),
        "/v1/auths/register",
        json!({"email": "elsewhere@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn logout_ends_the_sessions_open_notification_streams() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let stream = app
        .get("/v1/notifications/stream", Some(&user.access_token))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut chunks = stream.bytes_stream();
    let first = chunks.next().await.expect("the stream opens").unwrap();
    assert!(String::from_utf8_lossy(&first).contains("connected"));

    let logout = app
        .post("/v1/auths/logout", Some(&user.access_token), &json!({}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => panic!("the stream was still open 5 s after logout"),
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
        }
    }
    // and the old token opens no new stream
    expect_error(
        app.get("/v1/notifications/stream", Some(&user.access_token))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}
