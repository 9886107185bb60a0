//! Starting up: database creation and migration, and the real binary's behaviour at the edges.
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use boxoffice::config::Secret;
use boxoffice::database::{connect_and_migrate, MIGRATOR};
use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};

use crate::helpers::{
    boxoffice, drop_database, expect_json, fresh_db_name, serve, serve_logged, server_url,
    test_settings, PASSWORD,
};

async fn database_exists(name: &str) -> bool {
    let mut conn = PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Drops the database when the test ends, however it ends.
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        drop_database(&self.0);
    }
}

#[actix_web::test]
async fn a_missing_database_is_created_and_fully_migrated() {
    let name = fresh_db_name();
    let _cleanup = DropDatabase(name.clone());
    assert!(!database_exists(&name).await);

    let pool = connect_and_migrate(&test_settings(&name))
        .await
        .expect("created and migrated");
    assert!(database_exists(&name).await);
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let shipped: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(applied, shipped);
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for table in [
        "auth_profiles",
        "auth_refresh_tokens",
        "users",
        "user_settings",
        "roles",
        "events",
        "ticket_types",
        "seats",
        "bookings",
        "booking_items",
        "booking_users",
        "booking_seats",
        "payments",
        "tickets",
        "outbox",
        "inventory_snapshots",
        "notifications",
        "idempotency_keys",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }

    // starting again on the migrated database changes nothing
    pool.close().await;
    let again = connect_and_migrate(&test_settings(&name))
        .await
        .expect("second start");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&again)
        .await
        .unwrap();
    assert_eq!(count as usize, shipped.len());
    again.close().await;
}

#[actix_web::test]
async fn the_schema_backs_the_rules_with_constraints() {
    let name = fresh_db_name();
    let _cleanup = DropDatabase(name.clone());
    let pool = connect_and_migrate(&test_settings(&name)).await.unwrap();
    let user = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO auth_profiles (id, email, password) VALUES ($1, 'o@example.com', 'x')",
    )
    .bind(user)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO users (id, email) VALUES ($1, 'o@example.com')")
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    let event = uuid::Uuid::now_v7();
    let insert_event = |start: &str| {
        sqlx::query(
            "INSERT INTO events (id, organizer_id, name, category, start_at, end_at)
             VALUES ($1, $2, 'E', 'music', $3::TEXT::TIMESTAMPTZ, '2027-01-01T10:00:00Z')",
        )
        .bind(event)
        .bind(user)
        .bind(start.to_owned())
        .execute(&pool)
    };
    let error = insert_event("2027-01-02T10:00:00Z").await.unwrap_err();
    assert_eq!(
        error.as_database_error().unwrap().constraint(),
        Some("events_start_before_end")
    );
    insert_event("2026-12-31T10:00:00Z").await.unwrap();
    let insert_type = |qty: i32, price: i64| {
        sqlx::query("INSERT INTO ticket_types (id, event_id, name, qty, price, currency) VALUES ($1, $2, 'T', $3, $4, 'USD')")
            .bind(uuid::Uuid::now_v7())
            .bind(event)
            .bind(qty)
            .bind(price)
            .execute(&pool)
    };
    let error = insert_type(0, 100).await.unwrap_err();
    assert_eq!(
        error.as_database_error().unwrap().constraint(),
        Some("ticket_types_capacity_positive")
    );
    let error = insert_type(10, -1).await.unwrap_err();
    assert_eq!(
        error.as_database_error().unwrap().constraint(),
        Some("ticket_types_price_not_negative")
    );
    insert_type(10, 0).await.unwrap();
    pool.close().await;
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    boxoffice(args, env).output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unreachable_database_stops_the_server_with_one_clear_line() {
    let output = run(
        &["serve"],
        &[(
            "BOXOFFICE__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/boxoffice",
        )],
    );
    assert!(!output.status.success());
    let text = stderr(&output);
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(
        text.contains("could not connect to PostgreSQL at 127.0.0.1:1/boxoffice"),
        "{text}"
    );
    assert!(text.contains("database.url"), "says how to fix it: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn invalid_configuration_names_the_key() {
    let output = run(&["serve"], &[("BOXOFFICE__BOOKING__HOLD_SECONDS", "soon")]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("booking.hold_seconds"),
        "{}",
        stderr(&output)
    );

    let output = run(&["--config", "/nonexistent/boxoffice.toml", "serve"], &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/nonexistent/boxoffice.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn production_mode_refuses_the_development_secrets() {
    let output = run(&["serve"], &[("BOXOFFICE__SERVER__MODE", "production")]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("auth.jwt_secret") && text.contains("development default"),
        "{text}"
    );
}

#[actix_web::test]
async fn migrate_and_grant_role_work_from_the_command_line() {
    let name = fresh_db_name();
    let _cleanup = DropDatabase(name.clone());
    let url = format!("{}/{name}", server_url());
    let env = [("BOXOFFICE__DATABASE__URL", url.as_str())];

    let output = run(&["migrate"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(database_exists(&name).await);

    let output = run(&["grant-role", "nobody@example.com", "organizer"], &env);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no account has the email nobody@example.com"),
        "{}",
        stderr(&output)
    );
    let output = run(&["grant-role", "nobody@example.com", "emperor"], &env);
    assert!(!output.status.success());

    let mut settings = test_settings(&name);
    settings.database.url = Secret::new(url.clone());
    let app = boxoffice::startup::Application::build(settings)
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{address}/v1/auths/register"))
        .json(&serde_json::json!({"email": "org@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);

    let output = run(&["grant-role", "ORG@example.com", "organizer"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    let login = client
        .post(format!("{address}/v1/auths/login"))
        .json(&serde_json::json!({"email": "org@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let tokens = expect_json(login, StatusCode::OK).await;
    let me = expect_json(
        client
            .get(format!("{address}/v1/users/me"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["roles"], serde_json::json!(["customer", "organizer"]));
}

#[actix_web::test]
async fn the_server_answers_ready_and_stops_cleanly_on_sigterm() {
    let name = fresh_db_name();
    let _cleanup = DropDatabase(name.clone());
    let url = format!("{}/{name}", server_url());
    let (mut child, port) = serve(&url);
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    assert_eq!(expect_json(ready, StatusCode::OK).await["status"], "ok");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after SIGTERM"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
}

#[actix_web::test]
async fn tokens_in_query_strings_never_reach_the_log() {
    let name = fresh_db_name();
    let _cleanup = DropDatabase(name.clone());
    let url = format!("{}/{name}", server_url());
    let (mut child, port, log) = serve_logged(&url);
    let stream = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/v1/notifications/stream?access_token=not.a.real.token-SECRET"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::UNAUTHORIZED);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("/v1/notifications/stream"),
        "the request is logged: {log}"
    );
    assert!(!log.contains("SECRET"), "a token reached the log: {log}");
}
