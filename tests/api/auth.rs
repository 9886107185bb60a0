use boxoffice::auth::{JwtKeys, Role};
use boxoffice_actors::ids::UserId;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    eventually, expect_error, expect_json, spawn_app, spawn_app_with, TestApp, PASSWORD,
};

#[actix_web::test]
async fn register_returns_201_and_login_returns_bearer_tokens() {
    let app = spawn_app().await;
    let user = expect_json(
        app.register("Ada@Example.com", PASSWORD).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(user["email"], "ada@example.com");
    assert!(user["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

    let tokens = expect_json(app.login("ada@example.com", PASSWORD).await, StatusCode::OK).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 32);
    let me = expect_json(
        app.get("/v1/users/me", tokens["access_token"].as_str())
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["id"], user["id"]);
}

#[actix_web::test]
async fn registering_an_email_twice_returns_409_whatever_its_case() {
    let app = spawn_app().await;
    expect_json(
        app.register("twice@example.com", PASSWORD).await,
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        app.register("TWICE@example.com", PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
}

#[actix_web::test]
async fn passwords_are_stored_as_argon2id_hashes() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let stored: String = sqlx::query_scalar("SELECT password FROM auth_profiles WHERE email = $1")
        .bind(&user.email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains(PASSWORD));
}

#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let wrong_password = expect_error(
        app.login(&user.email, "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown_email = expect_error(
        app.login("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong_password, unknown_email);
}

#[actix_web::test]
async fn refresh_rotates_the_token_and_the_new_access_token_works() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let rotated = expect_json(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": user.refresh_token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(next, user.refresh_token);
    expect_json(
        app.get("/v1/users/me", rotated["access_token"].as_str())
            .await,
        StatusCode::OK,
    )
    .await;
    // the successor works once too
    expect_json(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": next}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let other_login = expect_json(app.login(&user.email, PASSWORD).await, StatusCode::OK).await;

    let rotated = expect_json(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": user.refresh_token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // the old token again: someone copied it
    expect_error(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": user.refresh_token}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    // so the legitimate successor is revoked too, and so are the family's access tokens
    expect_error(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": rotated["refresh_token"]}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    expect_error(
        app.get("/v1/users/me", rotated["access_token"].as_str())
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        app.get("/v1/users/me", Some(&user.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // another login of the same account is a different family and keeps working
    expect_json(
        app.get("/v1/users/me", other_login["access_token"].as_str())
            .await,
        StatusCode::OK,
    )
    .await;
    expect_json(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": other_login["refresh_token"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn concurrent_refreshes_with_one_token_let_at_most_one_through() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let body = json!({"refresh_token": user.refresh_token});
    let (a, b) = tokio::join!(
        app.post("/v1/auths/refresh_token", None, &body),
        app.post("/v1/auths/refresh_token", None, &body)
    );
    let statuses = [a.status(), b.status()];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[actix_web::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    expect_error(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": "made-up"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
}

#[actix_web::test]
async fn logout_ends_the_session_and_only_that_session() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let other_login = expect_json(app.login(&user.email, PASSWORD).await, StatusCode::OK).await;

    let response = app
        .post("/v1/auths/logout", Some(&user.access_token), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(
        app.post(
            "/v1/auths/refresh_token",
            None,
            &json!({"refresh_token": user.refresh_token}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    expect_error(
        app.get("/v1/users/me", Some(&user.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_json(
        app.get("/v1/users/me", other_login["access_token"].as_str())
            .await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn logout_needs_a_token() {
    let app = spawn_app().await;
    let response = app.post("/v1/auths/logout", None, &json!({})).await;
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer"
    );
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[actix_web::test]
async fn an_expired_access_token_is_refused_with_token_expired() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let keys = JwtKeys::new(
        &app.settings.auth.jwt_secret,
        app.settings.auth.access_ttl_seconds,
    );
    let id: UserId = user.id.parse().unwrap();
    let issued = chrono::Utc::now()
        - chrono::Duration::seconds(app.settings.auth.access_ttl_seconds as i64 + 1);
    let expired = keys.issue(id, uuid::Uuid::now_v7(), vec![Role::Customer], issued);
    expect_error(
        app.get("/v1/users/me", Some(&expired)).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;

    let fresh = keys.issue(
        id,
        uuid::Uuid::now_v7(),
        vec![Role::Customer],
        chrono::Utc::now(),
    );
    expect_json(app.get("/v1/users/me", Some(&fresh)).await, StatusCode::OK).await;
}

#[actix_web::test]
async fn a_token_signed_with_another_key_is_refused() {
    let app = spawn_app().await;
    let forger = JwtKeys::new(&boxoffice::config::Secret::new("guessed"), 900);
    let forged = forger.issue(
        UserId::new(),
        uuid::Uuid::now_v7(),
        vec![Role::Admin],
        chrono::Utc::now(),
    );
    expect_error(
        app.get("/v1/admin/events", Some(&forged)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[actix_web::test]
async fn login_answers_429_after_too_many_failures_for_one_account() {
    let app = spawn_app_with(|s| s.auth.login_max_failures_per_account = 3).await;
    let user = app.customer().await;
    for _ in 0..3 {
        expect_error(
            app.login(&user.email, "wrong password").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    // even the right password is refused now, without being checked
    let blocked = app.login(&user.email, PASSWORD).await;
    let retry_after: u64 = blocked
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= app.settings.auth.login_window_seconds);
    expect_error(blocked, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // other accounts from the same address are not affected
    let other = app.customer().await;
    expect_json(app.login(&other.email, PASSWORD).await, StatusCode::OK).await;
}

#[actix_web::test]
async fn login_answers_429_to_an_address_guessing_across_accounts() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures_per_account = 100;
        s.auth.login_max_failures_per_ip = 4;
    })
    .await;
    let user = app.customer().await;
    for i in 0..4 {
        app.login(&format!("guess{i}@example.com"), "wrong password")
            .await;
    }
    expect_error(
        app.login(&user.email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    )
    .await;
}

#[actix_web::test]
async fn successful_logins_do_not_count_against_the_threshold() {
    let app = spawn_app_with(|s| {
        s.auth.login_max_failures_per_account = 2;
        s.auth.login_max_failures_per_ip = 3;
    })
    .await;
    let user = app.customer().await;
    for _ in 0..5 {
        expect_json(app.login(&user.email, PASSWORD).await, StatusCode::OK).await;
    }
    // and a success clears the account's failures
    expect_error(
        app.login(&user.email, "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_json(app.login(&user.email, PASSWORD).await, StatusCode::OK).await;
    expect_error(
        app.login(&user.email, "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    expect_json(app.login(&user.email, PASSWORD).await, StatusCode::OK).await;
}

#[actix_web::test]
async fn a_granted_role_is_in_the_token_after_the_next_login() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let me = expect_json(
        app.get("/v1/users/me", Some(&organizer.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["roles"], json!(["customer", "organizer"]));
    expect_json(
        app.get("/v1/admin/events", Some(&organizer.access_token))
            .await,
        StatusCode::OK,
    )
    .await;
}

#[actix_web::test]
async fn a_customer_gets_403_on_admin_endpoints() {
    let app = spawn_app().await;
    let organizer = app.organizer().await;
    let event = app.create_event(&organizer, json!({})).await;
    let id = event["id"].as_str().unwrap();
    let customer = app.customer().await;
    let token = Some(customer.access_token.as_str());

    expect_error(
        app.get("/v1/admin/events", token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post("/v1/admin/events", token, &json!({"name": "x"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/admin/events/{id}"), token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.patch(
            &format!("/v1/admin/events/{id}"),
            token,
            &json!({"name": "mine"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.delete(&format!("/v1/admin/events/{id}"), token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post(&format!("/v1/admin/events/{id}/publish"), token, &json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_error(
        app.post(
            &format!("/v1/admin/events/{id}/ticket_types"),
            token,
            &json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

/// Polls `GET /v1/users/me` on `node` with `token` until it is refused with 401, for at most
/// `seconds`: another node learns a revocation from the database within about a second.
async fn refused_within(node: &TestApp, token: &str, seconds: u64) {
    eventually(
        seconds,
        "the other node to refuse the revoked login",
        || async {
            let status = node.get("/v1/users/me", Some(token)).await.status();
            (status == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
}

#[actix_web::test]
async fn a_logout_on_one_node_ends_the_login_on_the_other_within_seconds() {
    let first = spawn_app().await;
    let second = first.second_node().await;
    let user = first.customer().await;
    let other_login = expect_json(first.login(&user.email, PASSWORD).await, StatusCode::OK).await;
    expect_json(
        second.get("/v1/users/me", Some(&user.access_token)).await,
        StatusCode::OK,
    )
    .await;
    // a notification stream open on the other node ends with the login too
    let stream = second
        .get("/v1/notifications/stream", Some(&user.access_token))
        .await;
    assert_eq!(stream.status(), StatusCode::OK);
    let mut chunks = stream.bytes_stream();
    chunks.next().await.expect("the stream opens").unwrap();

    let logout = first
        .post("/v1/auths/logout", Some(&user.access_token), &json!({}))
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    refused_within(&second, &user.access_token, 5).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => panic!("the stream on the other node was still open 5 s after logout"),
            Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(_))) => continue,
        }
    }
    // only that login: the account's other one still works on both nodes
    for node in [&first, &second] {
        expect_json(
            node.get("/v1/users/me", other_login["access_token"].as_str())
                .await,
            StatusCode::OK,
        )
        .await;
    }
}

#[actix_web::test]
async fn a_refresh_token_reused_on_one_node_revokes_the_login_on_the_other() {
    let first = spawn_app().await;
    let second = first.second_node().await;
    let user = first.customer().await;
    let body = json!({"refresh_token": user.refresh_token});
    let rotated = expect_json(
        first.post("/v1/auths/refresh_token", None, &body).await,
        StatusCode::OK,
    )
    .await;
    let access = rotated["access_token"].as_str().unwrap();
    expect_json(
        second.get("/v1/users/me", Some(access)).await,
        StatusCode::OK,
    )
    .await;
    // the used token again, on the second node: someone copied it
    expect_error(
        second.post("/v1/auths/refresh_token", None, &body).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    refused_within(&first, access, 5).await;
    refused_within(&first, &user.access_token, 5).await;
}
