//! `spawn_app()`: the real application on port 0 against its own, freshly created PostgreSQL
//! database (dropped when the test ends), and small helpers for talking to it.
use std::sync::{Arc, Once};

use boxoffice::auth::{store::grant_role, Role};
use boxoffice::client::ApiClient;
use boxoffice::config::{Secret, Settings};
use boxoffice::outbox::Dispatcher;
use boxoffice::startup::{Application, Options};
use boxoffice_actors::clock::ManualClock;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// The server the tests create their databases on; override with BOXOFFICE_TEST_DATABASE_URL.
pub fn server_url() -> String {
    std::env::var("BOXOFFICE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub settings: Settings,
    /// The API client `boxoffice demo` and `loadgen` use too.
    pub api: ApiClient,
    pub db_name: String,
    /// The app's outbox when the test delivers it ([`TestApp::settle`]); `None` when a
    /// dispatcher delivers it in the background.
    pub outbox: Option<Dispatcher>,
    /// The engine's clock, when the app runs on a manual one ([`spawn_app`]).
    pub clock: Option<Arc<ManualClock>>,
}

pub fn test_settings(db_name: &str) -> Settings {
    static LOG: Once = Once::new();
    let mut settings = Settings::from_toml("").expect("the shipped config loads");
    LOG.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            boxoffice::telemetry::init(&settings.log);
        }
    });
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    settings.server.workers = 2;
    settings.database.url = Secret::new(format!("{}/{db_name}", server_url()));
    settings.database.max_connections = 5;
    // mail (file transport) goes where this test can read it, away from the repository
    settings.email.dir = std::env::temp_dir().join(db_name);
    settings
}

pub fn fresh_db_name() -> String {
    format!("boxoffice_test_{}", Uuid::now_v7().simple())
}

/// The app on a manual engine clock and with no outbox dispatcher of its own: the test moves
/// time ([`TestApp::advance`]) and delivers the outbox ([`TestApp::settle`]) itself, so nothing
/// it checks depends on how fast a background task runs.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with `configure` applied to its settings first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let clock = ManualClock::new();
    let options = Options {
        clock: clock.clone(),
        deliver_in_background: false,
    };
    start(configure, options, Some(clock)).await
}

/// The app as `boxoffice serve` runs it: the system clock, and the outbox delivered in the
/// background by its dispatcher.
pub async fn spawn_serving_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    start(configure, Options::default(), None).await
}

async fn start(
    configure: impl FnOnce(&mut Settings),
    options: Options,
    clock: Option<Arc<ManualClock>>,
) -> TestApp {
    let db_name = fresh_db_name();
    let mut settings = test_settings(&db_name);
    configure(&mut settings);
    let background = options.deliver_in_background;
    let app = Application::build_with(settings.clone(), options)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    let outbox = (!background).then(|| app.outbox());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        api: ApiClient::new(address.as_str()),
        address,
        pool,
        settings,
        db_name,
        outbox,
        clock,
    }
}

impl TestApp {
    /// Another node of a cluster: a second application on this app's database and settings,
    /// listening on a port of its own (the engine on the same clock, the outbox delivered as
    /// this app's is). Dropping either drops the database, so keep both until the test ends.
    pub async fn second_node(&self) -> TestApp {
        let clock: Arc<dyn boxoffice_actors::clock::Clock> = match &self.clock {
            Some(clock) => clock.clone(),
            None => Arc::new(boxoffice_actors::clock::SystemClock),
        };
        let options = Options {
            clock,
            deliver_in_background: self.outbox.is_none(),
        };
        let app = Application::build_with(self.settings.clone(), options)
            .await
            .expect("the second node starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        let outbox = self.outbox.is_some().then(|| app.outbox());
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            api: ApiClient::new(address.as_str()),
            address,
            pool,
            settings: self.settings.clone(),
            db_name: self.db_name.clone(),
            outbox,
            clock: self.clock.clone(),
        }
    }
}

impl TestApp {
    /// Talks to a server started elsewhere (the real binary) on the database `db_name`, which
    /// is dropped with the returned value.
    pub async fn attach(port: u16, db_name: &str) -> TestApp {
        let settings = test_settings(db_name);
        let pool = PgPool::connect(settings.database.url.expose())
            .await
            .unwrap();
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            api: ApiClient::new(format!("http://127.0.0.1:{port}")),
            pool,
            settings,
            db_name: db_name.to_owned(),
            outbox: None,
            clock: None,
        }
    }

    /// Points the test at a server restarted on `port` (the same database).
    pub fn reattach(&mut self, port: u16) {
        self.address = format!("http://127.0.0.1:{port}");
        self.api = ApiClient::new(self.address.as_str());
    }

    /// The number a `SELECT count(*) ...` statement answers in the app's database.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// Polls the count statement `sql` until it answers `expected`, for at most `seconds`.
    pub async fn wait_for_count(&self, seconds: u64, sql: &str, expected: i64) {
        eventually(seconds, sql, || async {
            (self.count(sql).await == expected).then_some(())
        })
        .await;
    }

    /// Delivers every due outbox row, and the rows that delivery writes, before returning (the
    /// dispatcher's round, run by the test), for an app without a dispatcher of its own; an app
    /// that delivers in the background is left to it.
    pub async fn settle(&self) {
        if let Some(outbox) = &self.outbox {
            outbox.deliver_all().await.expect("the outbox is delivered");
        }
    }

    /// Moves the engine's clock past `booking.hold_seconds`: every hold placed so far expires.
    pub fn expire_holds(&self) {
        self.advance(std::time::Duration::from_secs(
            self.settings.booking.hold_seconds + 1,
        ));
    }

    /// Moves the engine's manual clock forward: holds whose time is up expire at once.
    pub fn advance(&self, by: std::time::Duration) {
        self.clock
            .as_ref()
            .expect("an app on a manual clock (spawn_app)")
            .advance(by);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.settings.email.dir);
        drop_database(&self.db_name);
    }
}

/// Drops a test database, closing whatever still uses it. Runs on a thread of its own because
/// Drop cannot await.
pub fn drop_database(name: &str) {
    let name = name.to_owned();
    let _ = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok(mut conn) = PgConnection::connect(&format!("{}/postgres", server_url())).await
            {
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await;
            }
        });
    })
    .join();
}

/// A logged-in account.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        self.api.request(method, path, token)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.request(Method::GET, path, token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path, token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.send_json(Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.send_json(Method::PATCH, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.request(Method::DELETE, path, token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/v1/auths/register",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/v1/auths/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers a new customer with a unique email and logs it in.
    pub async fn customer(&self) -> User {
        let email = format!("buyer-{}@example.com", Uuid::now_v7().simple());
        let account = self
            .api
            .register(&email, PASSWORD)
            .await
            .expect("registered");
        let id = account["id"].as_str().unwrap().to_owned();
        self.logged_in(id, email).await
    }

    /// A new account with `role` granted, logged in after the grant so its token carries it.
    pub async fn with_role(&self, role: Role) -> User {
        let customer = self.customer().await;
        grant_role(&self.pool, &customer.email, role)
            .await
            .expect("role granted");
        self.logged_in(customer.id, customer.email).await
    }

    pub async fn organizer(&self) -> User {
        self.with_role(Role::Organizer).await
    }

    async fn logged_in(&self, id: String, email: String) -> User {
        let tokens = self.api.login(&email, PASSWORD).await.expect("logged in");
        User {
            id,
            email,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }

    /// Creates a draft event from `overrides` on top of a valid body; returns its JSON.
    pub async fn create_event(&self, organizer: &User, overrides: Value) -> Value {
        let mut body = json!({
            "name": "Night of Strings",
            "title": "A string quartet evening",
            "description": "Beethoven and Bartók by candlelight.",
            "category": "music",
            "start_at": "2027-03-01T19:00:00Z",
            "end_at": "2027-03-01T22:00:00Z",
            "location": "Hanoi Opera House",
            "banner": "https://cdn.example.com/strings.jpg"
        });
        merge(&mut body, overrides);
        self.api
            .create_event(&organizer.access_token, &body)
            .await
            .expect("the event is created")
    }

    pub async fn create_ticket_type(
        &self,
        organizer: &User,
        event_id: &str,
        overrides: Value,
    ) -> Value {
        let mut body =
            json!({"name": "Standard", "price": 250000, "currency": "VND", "number_seats": 100});
        merge(&mut body, overrides);
        self.api
            .create_ticket_type(&organizer.access_token, event_id, &body)
            .await
            .expect("the ticket type is created")
    }

    /// A published event with one general-admission ticket type.
    pub async fn published_event(&self, organizer: &User, overrides: Value) -> Value {
        let event = self.create_event(organizer, overrides).await;
        let id = event["id"].as_str().unwrap();
        self.create_ticket_type(organizer, id, json!({})).await;
        self.api
            .publish(&organizer.access_token, id)
            .await
            .expect("the event is published")
    }
}

impl TestApp {
    /// `POST /v1/bookings/hold` as `buyer`.
    pub async fn hold(&self, buyer: &User, body: &Value) -> reqwest::Response {
        self.post("/v1/bookings/hold", Some(&buyer.access_token), body)
            .await
    }

    /// A published event with one ticket type made from `ticket_type` (on top of the default
    /// one) and, when given, `seat_map` for it. Returns (event id, ticket type JSON).
    pub async fn event_with(
        &self,
        organizer: &User,
        ticket_type: Value,
        seat_map: Option<Value>,
    ) -> (String, Value) {
        let event = self.create_event(organizer, json!({})).await;
        let id = event["id"].as_str().unwrap().to_owned();
        let ticket_type = self.create_ticket_type(organizer, &id, ticket_type).await;
        let token = &organizer.access_token;
        if let Some(map) = seat_map {
            let ticket_type = ticket_type["id"].as_str().unwrap();
            self.api
                .define_seats(token, &id, ticket_type, &map)
                .await
                .expect("the seats are defined");
        }
        self.api
            .publish(token, &id)
            .await
            .expect("the event is published");
        (id, ticket_type)
    }

    /// `n` customers created straight in the database with access tokens signed by the app's
    /// key (no password hashing, no login): for tests that need thousands of buyers.
    pub async fn accounts(&self, n: usize) -> Vec<User> {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let emails: Vec<String> = ids
            .iter()
            .map(|id| format!("queued-{}@example.com", id.simple()))
            .collect();
        let mut tx = self.pool.begin().await.unwrap();
        for sql in [
            "INSERT INTO auth_profiles (id, email, password) SELECT * FROM unnest($1::uuid[], $2::text[], $2::text[])",
            "INSERT INTO users (id, email) SELECT * FROM unnest($1::uuid[], $2::text[])",
            "INSERT INTO user_settings (user_id) SELECT unnest($1::uuid[]) WHERE cardinality($2::text[]) > 0",
        ] {
            sqlx::query(sql)
                .bind(&ids)
                .bind(&emails)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let keys = boxoffice::auth::JwtKeys::new(&self.settings.auth.jwt_secret, 3600);
        ids.into_iter()
            .zip(emails)
            .map(|(id, email)| User {
                access_token: keys.issue(
                    boxoffice_actors::ids::UserId(id),
                    Uuid::now_v7(),
                    vec![Role::Customer],
                    chrono::Utc::now(),
                ),
                id: id.to_string(),
                email,
                refresh_token: String::new(),
            })
            .collect()
    }

    /// `available` of the event's first ticket type, as the event page shows it.
    pub async fn available(&self, event_id: &str) -> i64 {
        let event = expect_json(
            self.get(&format!("/v1/events/{event_id}"), None).await,
            StatusCode::OK,
        )
        .await;
        event["ticket_types"][0]["available"].as_i64().unwrap()
    }
}

/// The real binary, run from the repository with quiet logs unless `env` says otherwise.
pub fn boxoffice(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_boxoffice"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .env("BOXOFFICE__LOG__LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// `boxoffice serve` on a free port against `database_url`; returns the process and the port
/// its "listening" log line names.
pub fn serve(database_url: &str) -> (std::process::Child, u16) {
    let (child, port, _) = serve_logged(database_url);
    (child, port)
}

/// [`serve`], also collecting every line the server logs.
pub fn serve_logged(
    database_url: &str,
) -> (
    std::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    serve_logged_with(database_url, &[])
}

/// [`serve_logged`] with more settings in `extra` (`BOXOFFICE__...` variables).
pub fn serve_logged_with(
    database_url: &str,
    extra: &[(&str, &str)],
) -> (
    std::process::Child,
    u16,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    use std::io::{BufRead, BufReader};
    let mail = std::env::temp_dir().join("boxoffice-test-mail");
    let mut env = vec![
        ("BOXOFFICE__DATABASE__URL", database_url),
        ("BOXOFFICE__SERVER__BIND", "127.0.0.1:0"),
        ("BOXOFFICE__LOG__LEVEL", "info"),
        ("BOXOFFICE__EMAIL__DIR", mail.to_str().unwrap()),
    ];
    env.extend_from_slice(extra);
    let mut child = boxoffice(&["serve"], &env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                if entry["message"] == "listening" {
                    let _ = tx.send(entry["port"].as_u64().unwrap() as u16);
                }
            }
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let port = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the server logs that it listens");
    (child, port, log)
}

/// Kills the server when the test ends, however it ends.
pub struct Server(pub std::process::Child);

impl Server {
    /// [`serve`] against `database_url`; the port it listens on.
    pub fn start(database_url: &str) -> (Self, u16) {
        Self::start_with(database_url, &[])
    }

    /// [`Server::start`] with more settings in `extra`.
    pub fn start_with(database_url: &str, extra: &[(&str, &str)]) -> (Self, u16) {
        let (child, port, _) = serve_logged_with(database_url, extra);
        (Self(child), port)
    }

    pub fn kill_9(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-KILL", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.0.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Shallow merge of `overrides` into `body`.
pub fn merge(body: &mut Value, overrides: Value) {
    if let (Some(body), Value::Object(overrides)) = (body.as_object_mut(), overrides) {
        body.extend(overrides);
    }
}

/// The JSON body, after checking the status.
pub async fn expect_json(response: reqwest::Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// The fields a validation error's `details` name, in order.
pub fn error_fields(error: &Value) -> Vec<&str> {
    error["details"]
        .as_array()
        .expect("validation errors have details")
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect()
}

/// Checks the status and the API error shape, and returns the error object.
pub async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = expect_json(response, status).await;
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
    assert_eq!(content_type.as_deref(), Some("application/json"));
    body["error"].clone()
}
