//! Setting a sale up through the API (an organizer, events, buyers with tokens: all before the
//! clock starts), the flash-sale scenario, and the counts read back after a run.
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice::auth::{store::grant_role, Role};
use boxoffice::client::{ApiClient, ClientError};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::tally::Tally;
use crate::{Load, Report};

const PASSWORD: &str = "loadgen password 1";

pub async fn pool(database_url: &str, connections: usize) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections as u32)
        .acquire_timeout(Duration::from_secs(60))
        .connect(database_url)
        .await
        .with_context(|| format!("PostgreSQL at {database_url}"))
}

/// One request that must answer 200; its JSON answer.
pub async fn call(
    api: &ApiClient,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, ClientError> {
    let mut request = api.request(method.clone(), path, token);
    if !body.is_null() {
        request = request.json(body);
    }
    api.json(&format!("{method} {path}"), request, StatusCode::OK)
        .await
}

pub struct Buyer {
    pub email: String,
    pub token: String,
}

/// One ticket type on sale.
pub struct OnSale {
    pub event_id: String,
    pub body: Vec<u8>,
    /// Set by the first 409: this one is sold out.
    pub sold_out: AtomicBool,
}

/// A sale ready to start.
pub struct Sale {
    /// The API, on a connection pool as large as the load.
    pub api: ApiClient,
    /// `api` and the other nodes' APIs: connection i holds through `nodes[i % len]`.
    pub nodes: Vec<ApiClient>,
    pub db: PgPool,
    pub events: Vec<OnSale>,
    pub buyers: Vec<Buyer>,
    pub capacity: u64,
    pub connections: usize,
    started: Mutex<Option<Instant>>,
    sold_out_after: Mutex<Option<Duration>>,
}

impl Sale {
    /// Registers the organizer and buyers and puts the events on sale.
    pub async fn set_up(load: &Load) -> anyhow::Result<Arc<Sale>> {
        let db = pool(&load.database_url, 4).await?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(load.connections)
            .build()?;
        let api = ApiClient::with_http(client.clone(), load.url.as_str());
        let mut nodes = vec![api.clone()];
        nodes.extend(
            load.nodes
                .iter()
                .map(|url| ApiClient::with_http(client.clone(), url.as_str())),
        );
        let run = Uuid::now_v7().simple().to_string();
        let organizer_email = format!("loadgen-organizer-{run}@example.com");
        account(&api, &organizer_email).await?;
        grant_role(&db, &organizer_email, Role::Organizer).await?;
        // a new login carries the role
        let organizer = api.login(&organizer_email, PASSWORD).await?;
        let mut events = Vec::with_capacity(load.events);
        for n in 0..load.events {
            let event = on_sale(&api, &organizer.access_token, &run, n, load.capacity);
            events.push(event.await?);
        }
        let mut buyers = Vec::with_capacity(load.buyers);
        for chunk in (0..load.buyers).collect::<Vec<_>>().chunks(8) {
            let logins = chunk.iter().map(|i| {
                let api = api.clone();
                let email = format!("loadgen-buyer-{run}-{i}@example.com");
                async move {
                    let token = account(&api, &email).await?;
                    Ok::<_, anyhow::Error>(Buyer { email, token })
                }
            });
            for buyer in futures_util::future::join_all(logins).await {
                buyers.push(buyer?);
            }
        }
        Ok(Arc::new(Sale {
            api,
            nodes,
            db,
            events,
            buyers,
            capacity: u64::from(load.capacity) * load.events as u64,
            connections: load.connections,
            started: Mutex::new(None),
            sold_out_after: Mutex::new(None),
        }))
    }

    /// Runs `worker(sale, connection)` on every connection until `duration` has passed or
    /// everything is sold out; the workers' tallies added up, and the time taken.
    pub async fn run<F, Fut>(
        self: &Arc<Self>,
        duration: Duration,
        worker: F,
    ) -> (Tally, BTreeMap<String, Tally>, Duration)
    where
        F: Fn(Arc<Sale>, usize, Instant) -> Fut,
        Fut: std::future::Future<Output = (Tally, BTreeMap<String, Tally>)> + Send + 'static,
    {
        let started = Instant::now();
        *self.started.lock().await = Some(started);
        let deadline = started + duration;
        let workers: Vec<_> = (0..self.connections)
            .map(|connection| tokio::spawn(worker(self.clone(), connection, deadline)))
            .collect();
        let mut total = Tally::default();
        let mut steps: BTreeMap<String, Tally> = BTreeMap::new();
        for worker in workers {
            if let Ok((tally, worker_steps)) = worker.await {
                total = total.merge(tally);
                for (step, tally) in worker_steps {
                    let merged = steps.remove(&step).unwrap_or_default().merge(tally);
                    steps.insert(step, merged);
                }
            }
        }
        (total, steps, started.elapsed())
    }

    /// The event connection `n` buys in, or `None` when it is sold out.
    pub fn event_for(&self, connection: usize) -> Option<&OnSale> {
        let event = &self.events[connection % self.events.len()];
        (!event.sold_out.load(Ordering::Relaxed)).then_some(event)
    }

    /// The node connection `n` holds through.
    pub fn node(&self, connection: usize) -> &ApiClient {
        &self.nodes[connection % self.nodes.len()]
    }

    pub fn buyer(&self, n: usize) -> &Buyer {
        &self.buyers[n % self.buyers.len()]
    }

    /// A 409 says the event is sold out; the sale is when every event is.
    pub async fn sold_out(&self, event: &OnSale) {
        if event.sold_out.swap(true, Ordering::SeqCst) {
            return;
        }
        if self
            .events
            .iter()
            .all(|e| e.sold_out.load(Ordering::SeqCst))
        {
            let started = self.started.lock().await.unwrap_or_else(Instant::now);
            self.sold_out_after
                .lock()
                .await
                .get_or_insert(started.elapsed());
        }
    }

    /// The report of a run: the tallies, and what the database, the event pages and the server's
    /// memory say afterwards. `statuses` counts live admissions (or only `confirmed` ones).
    /// The run's paid bookings, each with its ticket mail if one was claimed.
    const PAID_AND_MAILED: &'static str = "FROM payments p
         JOIN bookings b ON b.id = p.booking_id
         LEFT JOIN sent_mail m ON m.kind = 'tickets' AND m.aggregate_id = b.id
         WHERE b.event_id = ANY($1::uuid[]) AND p.status = 'succeeded'";

    /// From each paid booking's payment to its ticket mail being sent (`sent_mail.sent_at`),
    /// once every paid booking of the run has its mail, or `within` has passed (those still
    /// unsent count as 504): the mail's backlog shows in its tail.
    pub async fn mail_latencies(&self, within: Duration) -> anyhow::Result<Tally> {
        let ids: Vec<&str> = self.events.iter().map(|e| e.event_id.as_str()).collect();
        let deadline = Instant::now() + within;
        loop {
            let (paid, mailed): (i64, i64) = sqlx::query_as(&format!(
                "SELECT count(*), count(m.sent_at) {}",
                Self::PAID_AND_MAILED
            ))
            .bind(&ids)
            .fetch_one(&self.db)
            .await?;
            if mailed >= paid || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let waits: Vec<Option<f64>> = sqlx::query_scalar(&format!(
            "SELECT (EXTRACT(EPOCH FROM (m.sent_at - p.paid_at)) * 1000)::float8 {}",
            Self::PAID_AND_MAILED
        ))
        .bind(&ids)
        .fetch_all(&self.db)
        .await?;
        let mut tally = Tally::default();
        for wait in waits {
            match wait {
                Some(ms) => tally.answer(200, Duration::from_secs_f64(ms.max(0.0) / 1000.0)),
                None => tally.answer(504, within),
            }
        }
        Ok(tally)
    }

    pub async fn report(
        &self,
        scenario: &str,
        tally: Tally,
        steps: BTreeMap<String, Tally>,
        elapsed: Duration,
        statuses: &[&str],
    ) -> anyhow::Result<Report> {
        let ids: Vec<&str> = self.events.iter().map(|e| e.event_id.as_str()).collect();
        let database_admissions: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(number_seats), 0)::bigint FROM bookings
             WHERE event_id = ANY($1::uuid[]) AND status = ANY($2)",
        )
        .bind(&ids)
        .bind(statuses)
        .fetch_one(&self.db)
        .await?;
        let mut available = 0;
        for id in &ids {
            let path = format!("/v1/events/{id}");
            let event = call(&self.api, Method::GET, &path, None, &Value::Null).await?;
            available += event["ticket_types"][0]["available"]
                .as_i64()
                .unwrap_or_default();
        }
        let ok = if scenario == "full-flow" { 200 } else { 201 };
        let completed = if scenario == "full-flow" {
            steps.get("confirmed").map_or(0, |t| t.count(200))
        } else {
            tally.count(ok)
        };
        Ok(Report {
            events: self.events.len(),
            capacity: self.capacity,
            steps: steps
                .iter()
                .map(|(s, t)| (s.clone(), t.latency()))
                .collect(),
            sold_out_after_seconds: self.sold_out_after.lock().await.map(|d| d.as_secs_f64()),
            database_admissions,
            api_available: Some(available),
            server_rss_bytes: server_rss(&self.api).await,
            ..Report::of(scenario, self.connections, &tally, ok, completed, elapsed)
        })
    }
}

/// The server's resident memory, from its /metrics.
pub async fn server_rss(api: &ApiClient) -> Option<u64> {
    let text = api
        .request(Method::GET, "/metrics", None)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("boxoffice_process_resident_memory_bytes "))?
        .trim()
        .parse()
        .ok()
}

/// Registers and logs in an account; its access token.
async fn account(api: &ApiClient, email: &str) -> anyhow::Result<String> {
    api.register(email, PASSWORD).await?;
    let tokens = api.login(email, PASSWORD).await?;
    Ok(tokens.access_token)
}

/// A published event with one general-admission type of `capacity`.
async fn on_sale(
    api: &ApiClient,
    organizer: &str,
    run: &str,
    n: usize,
    capacity: u32,
) -> Result<OnSale, ClientError> {
    let event = json!({"name": format!("Flash sale {run} #{n}"), "category": "concert",
        "start_at": "2030-01-01T20:00:00Z", "end_at": "2030-01-01T23:00:00Z",
        "location": "Load test arena"});
    let event = api.create_event(organizer, &event).await?;
    let event_id = event["id"].as_str().unwrap_or_default().to_owned();
    let ticket_type = json!({"name": "General admission", "price": 100000, "currency": "VND",
        "number_seats": capacity});
    let ticket_type = api
        .create_ticket_type(organizer, &event_id, &ticket_type)
        .await?;
    api.publish(organizer, &event_id).await?;
    let body = json!({"event_id": event_id, "ticket_type_id": ticket_type["id"], "qty": 1});
    Ok(OnSale {
        event_id,
        body: serde_json::to_vec(&body).expect("json"),
        sold_out: AtomicBool::new(false),
    })
}

/// One hold through `api`: its status (0 when no answer came) and the answer's body.
pub async fn hold(
    api: &ApiClient,
    event: &OnSale,
    token: &str,
) -> (u16, Option<actix_web::web::Bytes>) {
    let response = api
        .request(Method::POST, "/v1/bookings/hold", Some(token))
        .header("Content-Type", "application/json")
        .body(event.body.clone())
        .send()
        .await;
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.bytes().await.ok())
        }
        Err(_) => (0, None),
    }
}

pub async fn flash_sale(load: &Load) -> anyhow::Result<Report> {
    let sale = Sale::set_up(load).await?;
    sell(&sale, load.duration()).await
}

/// Every connection holds one admission at a time until its event is sold out.
pub async fn sell(sale: &Arc<Sale>, duration: Duration) -> anyhow::Result<Report> {
    let (tally, steps, elapsed) = sale
        .run(duration, |sale, connection, deadline| async move {
            let mut tally = Tally::default();
            let mut n = connection;
            while Instant::now() < deadline {
                let Some(event) = sale.event_for(connection) else {
                    break;
                };
                let token = &sale.buyer(n).token;
                n += sale.connections;
                let sent = Instant::now();
                let (status, _) = hold(sale.node(connection), event, token).await;
                tally.answer(status, sent.elapsed());
                if status == 409 {
                    sale.sold_out(event).await;
                }
            }
            (tally, BTreeMap::new())
        })
        .await;
    let live = ["held", "pending_payment", "confirmed"];
    sale.report("flash-sale", tally, steps, elapsed, &live)
        .await
}
