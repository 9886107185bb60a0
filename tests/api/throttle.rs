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

#[actix_web::test]
async fn failures_on_two_nodes_count_together_and_trip_the_limit_at_the_same_total() {
    let first = spawn_app().await;
    let second = first.second_node().await;
    let nodes = [&first, &second];
    let limit = first.settings.auth.login_max_failures_per_account as usize;
    let owner = first.customer().await;
    let attacker = client_from(1);
    // one after the other, alternating between the nodes: each sees only half of them
    for i in 0..limit {
        expect_error(
            login_from(nodes[i % 2], &attacker, &owner.email, "wrong password").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // the limit is reached on both: even the right password is refused without being checked
    for node in nodes {
        let blocked = login_from(node, &attacker, &owner.email, PASSWORD).await;
        assert!(retry_after(&blocked) > 0);
        expect_error(blocked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
    // the owner, from their own address, logs in on either node
    for node in nodes {
        expect_json(
            login_from(node, &client_from(2), &owner.email, PASSWORD).await,
            StatusCode::OK,
        )
        .await;
    }
}

#[actix_web::test]
async fn concurrent_failures_from_one_address_on_two_nodes_verify_at_most_its_limit() {
    let first = spawn_app().await;
    let second = first.second_node().await;
    let nodes = [&first, &second];
    let limit = first.settings.auth.login_max_failures_per_ip as usize;
    let client = client_from(1);
    let emails: Vec<String> = (0..60).map(|i| format!("guess{i}@example.com")).collect();
    let responses = join_all(
        emails
            .iter()
            .enumerate()
            .map(|(i, e)| login_from(nodes[i % 2], &client, e, "wrong password")),
    )
    .await;
    let (verified, throttled, other) = tally(&responses);
    assert_eq!(
        (verified, throttled, other),
        (limit, 60 - limit, 0),
        "60 concurrent failures from one address over two nodes: {verified} verified (401), {throttled} refused (429)"
    );
}

/// The throttle itself on the app's database, on times the test gives it.
mod counters {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use boxoffice::auth::{Attempt, LoginLimits, LoginThrottle, ThrottleError};
    use chrono::{DateTime, TimeDelta, Utc};

    use crate::helpers::spawn_app;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    fn limits() -> LoginLimits {
        LoginLimits {
            per_account_address: 3,
            per_address: 100,
            account_free: 100,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            window: Duration::from_secs(900),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 1, last))
    }

    fn secs(n: i64) -> TimeDelta {
        TimeDelta::seconds(n)
    }

    /// The seconds to wait when refused, `None` when counted.
    fn refused(reserved: Result<Attempt, ThrottleError>) -> Option<u64> {
        match reserved {
            Ok(_) => None,
            Err(ThrottleError::Limited(seconds)) => Some(seconds),
            Err(other) => panic!("the throttle failed: {other:?}"),
        }
    }

    struct Throttle(LoginThrottle);

    impl Throttle {
        async fn reserve(&self, account: &str, ip: IpAddr, at: DateTime<Utc>) -> Attempt {
            self.0
                .reserve_at(account, ip, at)
                .await
                .expect("the attempt is counted")
        }

        async fn refused(&self, account: &str, ip: IpAddr, at: DateTime<Utc>) -> Option<u64> {
            refused(self.0.reserve_at(account, ip, at).await)
        }
    }

    #[actix_web::test]
    async fn reserving_counts_before_any_outcome_is_known() {
        let app = spawn_app().await;
        let throttle = Throttle(LoginThrottle::new(app.pool.clone(), limits()));
        let t0 = Utc::now();
        // three attempts in flight, none answered yet: the fourth is refused
        let mut in_flight = Vec::new();
        for _ in 0..3 {
            in_flight.push(throttle.reserve("a@x.io", IP, t0).await);
        }
        assert_eq!(throttle.refused("a@x.io", IP, t0).await, Some(900));
        assert_eq!(
            throttle.refused("a@x.io", OTHER_IP, t0).await,
            None,
            "the account from another address"
        );
        assert_eq!(
            throttle.refused("b@x.io", IP, t0).await,
            None,
            "another account from this address"
        );
        // one turns out right: this address's count for the account ends
        throttle.0.succeeded(in_flight.remove(0)).await.unwrap();
        assert_eq!(throttle.refused("a@x.io", IP, t0).await, None);
        assert_eq!(throttle.refused("a@x.io", IP, t0 + secs(900)).await, None);
    }

    #[actix_web::test]
    async fn an_abandoned_attempt_is_given_back_and_a_failed_one_is_not() {
        let app = spawn_app().await;
        let throttle = Throttle(LoginThrottle::new(app.pool.clone(), limits()));
        let t0 = Utc::now();
        let failed = throttle.reserve("a@x.io", IP, t0).await;
        drop(failed);
        let abandoned = throttle.reserve("a@x.io", IP, t0).await;
        throttle.0.abandon(abandoned).await.unwrap();
        let _second = throttle.reserve("a@x.io", IP, t0).await;
        let _third = throttle.reserve("a@x.io", IP, t0).await;
        assert!(throttle.refused("a@x.io", IP, t0).await.is_some());
    }

    #[actix_web::test]
    async fn an_address_is_limited_across_accounts_and_keeps_its_failures_after_a_success() {
        let app = spawn_app().await;
        let throttle = Throttle(LoginThrottle::new(
            app.pool.clone(),
            LoginLimits {
                per_address: 4,
                ..limits()
            },
        ));
        let t0 = Utc::now();
        for i in 0..3 {
            let _failed = throttle.reserve(&format!("user{i}@x.io"), IP, t0).await;
        }
        let right = throttle.reserve("owner@x.io", IP, t0).await;
        throttle.0.succeeded(right).await.unwrap();
        let _fourth = throttle.reserve("fresh@x.io", IP, t0).await;
        assert!(throttle.refused("fresh2@x.io", IP, t0).await.is_some());
        assert_eq!(throttle.refused("fresh2@x.io", OTHER_IP, t0).await, None);
    }

    #[actix_web::test]
    async fn past_the_free_failures_each_attempt_waits_twice_as_long() {
        let app = spawn_app().await;
        let throttle = Throttle(LoginThrottle::new(
            app.pool.clone(),
            LoginLimits {
                account_free: 2,
                first_delay: Duration::from_secs(2),
                max_delay: Duration::from_secs(10),
                ..limits()
            },
        ));
        let t0 = Utc::now();
        // every guess from a different address: only the account-wide limit applies
        let _ = throttle.reserve("a@x.io", ip(1), t0).await;
        let _ = throttle.reserve("a@x.io", ip(2), t0).await;
        assert_eq!(throttle.refused("a@x.io", ip(3), t0).await, Some(2));
        let (mut at, mut wait) = (t0, 2);
        for (n, expected) in [(3, 4), (4, 8), (5, 10), (6, 10)] {
            at += secs(wait);
            let almost = at - TimeDelta::milliseconds(1);
            assert_eq!(throttle.refused("a@x.io", ip(n), almost).await, Some(1));
            let _ = throttle.reserve("a@x.io", ip(n), at).await;
            assert_eq!(
                throttle.refused("a@x.io", ip(n + 10), at).await,
                Some(expected as u64),
                "after failure {n}"
            );
            wait = expected;
        }
        // other accounts are not spaced out
        assert_eq!(throttle.refused("b@x.io", ip(1), at).await, None);
        // a new window starts free again
        assert_eq!(
            throttle.refused("a@x.io", ip(30), at + secs(900)).await,
            None
        );
    }

    #[actix_web::test]
    async fn finished_windows_are_deleted_as_new_attempts_come() {
        let app = spawn_app().await;
        let throttle = Throttle(LoginThrottle::new(app.pool.clone(), limits()));
        let t0 = Utc::now();
        for i in 0..20u8 {
            let _ = throttle
                .reserve(&format!("sprayed{i}@x.io"), ip(i), t0)
                .await;
        }
        // 20 accounts, 20 addresses, 20 pairs
        app.wait_for_count(1, "SELECT count(*) FROM login_attempts", 60)
            .await;
        // after the window, a few attempts delete what has finished, and never what runs
        let later = t0 + secs(900);
        for i in 0..4u8 {
            let _ = throttle.reserve("late@x.io", ip(100 + i), later).await;
        }
        // the account, and 4 pairs and addresses
        app.wait_for_count(1, "SELECT count(*) FROM login_attempts", 9)
            .await;
        assert_eq!(throttle.refused("late@x.io", ip(100), later).await, None);
    }
}
