use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_fields, expect_error, expect_json, spawn_app};

#[actix_web::test]
async fn me_shows_the_profile_roles_and_default_settings() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let me = expect_json(
        app.get("/v1/users/me", Some(&user.access_token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["roles"], json!(["customer"]));
    assert_eq!(
        me["user_settings"],
        json!({"email_notifications": true, "site_notifications": true})
    );
    assert!(me["username"].is_null() && me["avatar"].is_null() && me["birthday"].is_null());
}

#[actix_web::test]
async fn me_needs_a_token() {
    let app = spawn_app().await;
    expect_error(
        app.get("/v1/users/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    expect_error(
        app.get("/v1/users/me", Some("not.a.jwt")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[actix_web::test]
async fn patching_me_sets_keeps_and_clears_fields() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let token = Some(user.access_token.as_str());
    let me = expect_json(
        app.patch("/v1/users/me", token, &json!({"username": "ada", "avatar": "https://cdn.example.com/ada.png", "birthday": "1990-12-10"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (me["username"].as_str(), me["birthday"].as_str()),
        (Some("ada"), Some("1990-12-10"))
    );

    // absent keeps, null clears
    let me = expect_json(
        app.patch("/v1/users/me", token, &json!({"avatar": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "ada");
    assert!(me["avatar"].is_null());
    assert_eq!(me["birthday"], "1990-12-10");
}

#[actix_web::test]
async fn patching_me_with_bad_values_names_each_field() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let error = expect_error(
        app.patch(
            "/v1/users/me",
            Some(&user.access_token),
            &json!({"username": "a", "avatar": "ftp://x", "birthday": "2999-01-01"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields = error_fields(&error);
    assert_eq!(fields, ["username", "avatar", "birthday"]);
}

#[actix_web::test]
async fn a_taken_username_returns_409() {
    let app = spawn_app().await;
    let first = app.customer().await;
    let second = app.customer().await;
    expect_json(
        app.patch(
            "/v1/users/me",
            Some(&first.access_token),
            &json!({"username": "Stage_Door"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect_error(
        app.patch(
            "/v1/users/me",
            Some(&second.access_token),
            &json!({"username": "stage_door"}),
        )
        .await,
        StatusCode::CONFLICT,
        "username_taken",
    )
    .await;
}

#[actix_web::test]
async fn settings_change_one_preference_at_a_time() {
    let app = spawn_app().await;
    let user = app.customer().await;
    let token = Some(user.access_token.as_str());
    let me = expect_json(
        app.patch(
            "/v1/users/me/settings",
            token,
            &json!({"email_notifications": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        me["user_settings"],
        json!({"email_notifications": false, "site_notifications": true})
    );
    let me = expect_json(
        app.patch(
            "/v1/users/me/settings",
            token,
            &json!({"site_notifications": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        me["user_settings"],
        json!({"email_notifications": false, "site_notifications": false})
    );
    expect_error(
        app.patch(
            "/v1/users/me/settings",
            token,
            &json!({"site_notifications": "yes"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
}
