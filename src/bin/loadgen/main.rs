//! The load generator. `flash-sale` sells one ticket type of a running boxoffice to many buyers
//! over keep-alive HTTP connections and checks afterwards that exactly the capacity was held;
//! `baseline` runs the classic row-lock design straight against the same PostgreSQL with the
//! same concurrency, for comparison.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice::auth::{store::grant_role, Role};
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "Load generator for boxoffice: flash sales over HTTP, and the SQL baseline")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Print one JSON object per run instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// Many buyers hold one admission each of one ticket type until it is sold out.
    FlashSale {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The server's database: for the organizer's role and the final count.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/boxoffice")]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        capacity: u32,
        /// Accounts holding; each connection uses them in turn.
        #[arg(long, default_value_t = 64)]
        buyers: usize,
        #[arg(long, default_value_t = 256)]
        connections: usize,
        /// Stop after this long even if not sold out.
        #[arg(long, default_value_t = 60)]
        duration_seconds: u64,
    },
    /// The classic design: one transaction per hold straight against PostgreSQL.
    Baseline {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/boxoffice")]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        capacity: u32,
        #[arg(long, default_value_t = 256)]
        connections: usize,
        #[arg(long, default_value_t = 60)]
        duration_seconds: u64,
        #[arg(long, value_enum, default_value_t = Variant::RowLock)]
        variant: Variant,
    },
}

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Variant {
    /// SELECT ... FOR UPDATE on the ticket type, check, UPDATE, INSERT, COMMIT.
    RowLock,
    /// UPDATE ... WHERE held < capacity RETURNING, INSERT, COMMIT.
    Conditional,
}

/// What one run measured.
#[derive(Serialize)]
struct Report {
    scenario: &'static str,
    variant: Option<Variant>,
    connections: usize,
    capacity: u32,
    holds: u64,
    refused: u64,
    errors: u64,
    seconds: f64,
    holds_per_second: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    sold_out_after_seconds: Option<f64>,
    /// Live admissions the database holds at the end (must equal `holds`).
    database_admissions: i64,
}

impl Report {
    fn print(&self, json: bool) {
        if json {
            println!(
                "{}",
                serde_json::to_string(self).expect("reports serialize")
            );
            return;
        }
        println!(
            "{} {}: {} connections, capacity {}\n  holds {} (refused {}, errors {}) in {:.2} s = {:.0} holds/s\n  latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n  sold out after {}; database holds {} admissions",
            self.scenario,
            match self.variant {
                Some(Variant::RowLock) => "(row lock)",
                Some(Variant::Conditional) => "(conditional update)",
                None => "",
            },
            self.connections,
            self.capacity,
            self.holds,
            self.refused,
            self.errors,
            self.seconds,
            self.holds_per_second,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            self.sold_out_after_seconds.map(|s| format!("{s:.2} s")).unwrap_or_else(|| "-".into()),
            self.database_admissions,
        );
    }
}

/// Counters the workers share.
struct Tally {
    latency: Mutex<Histogram<u64>>,
    holds: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    sold_out: AtomicBool,
    sold_out_at: Mutex<Option<Duration>>,
}

impl Tally {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            latency: Mutex::new(
                Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
            ),
            holds: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            sold_out: AtomicBool::new(false),
            sold_out_at: Mutex::new(None),
        })
    }

    async fn record(&self, latency: Duration) {
        let _ = self
            .latency
            .lock()
            .await
            .record((latency.as_micros() as u64).max(1));
    }

    async fn sold_out(&self, since: Instant) {
        if !self.sold_out.swap(true, Ordering::SeqCst) {
            *self.sold_out_at.lock().await = Some(since.elapsed());
        }
    }

    async fn report(
        &self,
        scenario: &'static str,
        variant: Option<Variant>,
        connections: usize,
        capacity: u32,
        elapsed: Duration,
        database_admissions: i64,
    ) -> Report {
        let latency = self.latency.lock().await;
        let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        let holds = self.holds.load(Ordering::SeqCst);
        Report {
            scenario,
            variant,
            connections,
            capacity,
            holds,
            refused: self.refused.load(Ordering::SeqCst),
            errors: self.errors.load(Ordering::SeqCst),
            seconds: elapsed.as_secs_f64(),
            holds_per_second: holds as f64 / elapsed.as_secs_f64(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            max_ms: latency.max() as f64 / 1000.0,
            sold_out_after_seconds: self.sold_out_at.lock().await.map(|d| d.as_secs_f64()),
            database_admissions,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let cli = Cli::parse();
    let report = match cli.scenario {
        Scenario::FlashSale {
            url,
            database_url,
            capacity,
            buyers,
            connections,
            duration_seconds,
        } => {
            flash_sale(
                &url,
                &database_url,
                capacity,
                buyers,
                connections,
                Duration::from_secs(duration_seconds),
            )
            .await?
        }
        Scenario::Baseline {
            database_url,
            capacity,
            connections,
            duration_seconds,
            variant,
        } => {
            baseline(
                &database_url,
                capacity,
                connections,
                Duration::from_secs(duration_seconds),
                variant,
            )
            .await?
        }
    };
    report.print(cli.json);
    if report.database_admissions != report.holds as i64 {
        return Err(format!(
            "{} holds were answered but the database holds {} admissions",
            report.holds, report.database_admissions
        ));
    }
    Ok(())
}

async fn pool(database_url: &str, connections: usize) -> Result<PgPool, String> {
    PgPoolOptions::new()
        .max_connections(connections as u32)
        .acquire_timeout(Duration::from_secs(60))
        .connect(database_url)
        .await
        .map_err(|e| format!("PostgreSQL at {database_url}: {e}"))
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value, String> {
    let mut request = client.request(method, &url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let value: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: {status} {value}"));
    }
    Ok(value)
}

/// Registers and logs in an account; its access token.
async fn account(client: &reqwest::Client, url: &str, email: &str) -> Result<String, String> {
    let credentials = json!({"email": email, "password": PASSWORD});
    call(
        client,
        reqwest::Method::POST,
        format!("{url}/v1/auths/register"),
        None,
        credentials,
    )
    .await?;
    login(client, url, email).await
}

async fn login(client: &reqwest::Client, url: &str, email: &str) -> Result<String, String> {
    let credentials = json!({"email": email, "password": PASSWORD});
    let tokens = call(
        client,
        reqwest::Method::POST,
        format!("{url}/v1/auths/login"),
        None,
        credentials,
    )
    .await?;
    Ok(tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

const PASSWORD: &str = "loadgen password 1";

async fn flash_sale(
    url: &str,
    database_url: &str,
    capacity: u32,
    buyers: usize,
    connections: usize,
    duration: Duration,
) -> Result<Report, String> {
    let db = pool(database_url, 4).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .map_err(|e| e.to_string())?;
    let run = Uuid::now_v7().simple().to_string();

    // set up before the clock starts: an organizer, the event, the buyers
    let organizer_email = format!("loadgen-organizer-{run}@example.com");
    account(&client, url, &organizer_email).await?;
    grant_role(&db, &organizer_email, Role::Organizer)
        .await
        .map_err(|e| e.to_string())?;
    // a new login carries the role
    let organizer = login(&client, url, &organizer_email).await?;
    let event = call(
        &client,
        reqwest::Method::POST,
        format!("{url}/v1/admin/events"),
        Some(&organizer),
        json!({"name": format!("Flash sale {run}"), "category": "concert", "start_at": "2030-01-01T20:00:00Z", "end_at": "2030-01-01T23:00:00Z", "location": "Load test arena"}),
    )
    .await?;
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let ticket_type = call(
        &client,
        reqwest::Method::POST,
        format!("{url}/v1/admin/events/{event_id}/ticket_types"),
        Some(&organizer),
        json!({"name": "General admission", "price": 100000, "currency": "VND", "number_seats": capacity}),
    )
    .await?;
    let ticket_type_id = ticket_type["id"].as_str().unwrap_or_default().to_owned();
    call(
        &client,
        reqwest::Method::POST,
        format!("{url}/v1/admin/events/{event_id}/publish"),
        Some(&organizer),
        json!({}),
    )
    .await?;
    let mut tokens = Vec::with_capacity(buyers);
    for chunk in (0..buyers).collect::<Vec<_>>().chunks(8) {
        let logins = chunk.iter().map(|i| {
            let client = client.clone();
            let email = format!("loadgen-buyer-{run}-{i}@example.com");
            async move { account(&client, url, &email).await }
        });
        for token in futures_util::future::join_all(logins).await {
            tokens.push(token?);
        }
    }
    let tokens = Arc::new(tokens);
    let body = Arc::new(
        serde_json::to_vec(
            &json!({"event_id": event_id, "ticket_type_id": ticket_type_id, "qty": 1}),
        )
        .expect("json"),
    );

    let tally = Tally::new();
    let started = Instant::now();
    let deadline = started + duration;
    let hold_url = Arc::new(format!("{url}/v1/bookings/hold"));
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, tally, tokens, body, hold_url) = (
                client.clone(),
                tally.clone(),
                tokens.clone(),
                body.clone(),
                hold_url.clone(),
            );
            tokio::spawn(async move {
                let mut n = worker;
                while Instant::now() < deadline && !tally.sold_out.load(Ordering::Relaxed) {
                    let token = &tokens[n % tokens.len()];
                    n += connections;
                    let sent = Instant::now();
                    let response = client
                        .post(hold_url.as_str())
                        .bearer_auth(token)
                        .header("Content-Type", "application/json")
                        .body(body.as_ref().clone())
                        .send()
                        .await;
                    let status = match response {
                        Ok(response) => {
                            let status = response.status();
                            let _ = response.bytes().await;
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    tally.record(sent.elapsed()).await;
                    match status {
                        Some(s) if s == reqwest::StatusCode::CREATED => {
                            tally.holds.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(s) if s == reqwest::StatusCode::CONFLICT => {
                            tally.refused.fetch_add(1, Ordering::Relaxed);
                            tally.sold_out(started).await;
                        }
                        _ => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let admissions: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(number_seats), 0)::bigint FROM bookings
         WHERE event_id = $1::uuid AND status IN ('held', 'pending_payment', 'confirmed')",
    )
    .bind(&event_id)
    .fetch_one(&db)
    .await
    .map_err(|e| e.to_string())?;
    Ok(tally
        .report(
            "flash-sale",
            None,
            connections,
            capacity,
            elapsed,
            admissions,
        )
        .await)
}

async fn baseline(
    database_url: &str,
    capacity: u32,
    connections: usize,
    duration: Duration,
    variant: Variant,
) -> Result<Report, String> {
    let db = pool(database_url, connections).await?;
    let setup = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query(sql)
                .execute(&db)
                .await
                .map_err(|e| e.to_string())
        }
    };
    setup("DROP TABLE IF EXISTS loadgen_baseline_bookings, loadgen_baseline_types").await?;
    setup("CREATE TABLE loadgen_baseline_types (id UUID PRIMARY KEY, capacity INT NOT NULL, held INT NOT NULL DEFAULT 0)").await?;
    setup(
        "CREATE TABLE loadgen_baseline_bookings (id UUID PRIMARY KEY, ticket_type_id UUID NOT NULL
           REFERENCES loadgen_baseline_types (id), user_id UUID NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await?;
    let ticket_type = Uuid::now_v7();
    sqlx::query("INSERT INTO loadgen_baseline_types (id, capacity) VALUES ($1, $2)")
        .bind(ticket_type)
        .bind(capacity as i32)
        .execute(&db)
        .await
        .map_err(|e| e.to_string())?;

    let tally = Tally::new();
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (db, tally) = (db.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline && !tally.sold_out.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let outcome = baseline_hold(&db, ticket_type, variant).await;
                    tally.record(sent.elapsed()).await;
                    match outcome {
                        Ok(true) => {
                            tally.holds.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(false) => {
                            tally.refused.fetch_add(1, Ordering::Relaxed);
                            tally.sold_out(started).await;
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let admissions: i64 = sqlx::query_scalar("SELECT count(*) FROM loadgen_baseline_bookings")
        .fetch_one(&db)
        .await
        .map_err(|e| e.to_string())?;
    setup("DROP TABLE IF EXISTS loadgen_baseline_bookings, loadgen_baseline_types").await?;
    Ok(tally
        .report(
            "baseline",
            Some(variant),
            connections,
            capacity,
            elapsed,
            admissions,
        )
        .await)
}

/// One hold the classic way; `false` when sold out.
async fn baseline_hold(
    db: &PgPool,
    ticket_type: Uuid,
    variant: Variant,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let taken = match variant {
        Variant::RowLock => {
            let (capacity, held): (i32, i32) = sqlx::query_as(
                "SELECT capacity, held FROM loadgen_baseline_types WHERE id = $1 FOR UPDATE",
            )
            .bind(ticket_type)
            .fetch_one(&mut *tx)
            .await?;
            if held >= capacity {
                false
            } else {
                sqlx::query("UPDATE loadgen_baseline_types SET held = held + 1 WHERE id = $1")
                    .bind(ticket_type)
                    .execute(&mut *tx)
                    .await?;
                true
            }
        }
        Variant::Conditional => sqlx::query(
            "UPDATE loadgen_baseline_types SET held = held + 1 WHERE id = $1 AND held < capacity",
        )
        .bind(ticket_type)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1,
    };
    if taken {
        sqlx::query("INSERT INTO loadgen_baseline_bookings (id, ticket_type_id, user_id) VALUES ($1, $2, $3)")
            .bind(Uuid::now_v7())
            .bind(ticket_type)
            .bind(Uuid::now_v7())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(taken)
}
