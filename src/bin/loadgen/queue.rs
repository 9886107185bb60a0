//! `queue-join`: many accounts join one event's waiting room at once (joins/s and latency), then
//! the sale starts: how long until the last pre-queued account reads its place. The accounts are written straight into the server's database
//! with access tokens signed by its `auth.jwt_secret` (registering a million accounts through
//! the API would measure password hashing, not the queue).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice::auth::{JwtKeys, Role};
use boxoffice::config::Secret;
use boxoffice_actors::ids::UserId;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::sale::{call, server_rss, Sale};
use crate::tally::Tally;
use crate::{Load, Report};

pub async fn queue_join(load: &Load, entries: usize, jwt_secret: &str) -> anyhow::Result<Report> {
    let buyers_off = Load {
        buyers: 0,
        ..load.clone()
    };
    let sale = Sale::set_up(&buyers_off).await?;
    let event = sale.events[0].event_id.clone();
    let keys = JwtKeys::new(&Secret::new(jwt_secret.to_owned()), 24 * 3600);
    let organizer: Uuid = sqlx::query_scalar("SELECT organizer_id FROM events WHERE id = $1::uuid")
        .bind(&event)
        .fetch_one(&sale.db)
        .await?;
    let now = chrono::Utc::now();
    let organizer = keys.issue(
        UserId(organizer),
        Uuid::now_v7(),
        vec![Role::Organizer],
        now,
    );
    let queue = |starts_at: chrono::DateTime<chrono::Utc>| {
        json!({"queue": {"enabled": true, "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "starts_at": starts_at.to_rfc3339(), "admit_minutes": 10, "admit_at_once": 100, "challenge_bits": 0}})
    };
    let path = format!("/v1/admin/events/{event}");
    call(
        &sale.api,
        Method::PATCH,
        &path,
        Some(&organizer),
        &queue(now + chrono::Duration::days(1)),
    )
    .await?;

    let tokens = accounts(&sale, &keys, entries).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(tokens);
    let started = Instant::now();
    let workers: Vec<_> = (0..load.connections)
        .map(|_| {
            let (api, next, tokens) = (sale.api.clone(), next.clone(), tokens.clone());
            let path = format!("/v1/events/{event}/queue");
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let sent = Instant::now();
                    let status = match api
                        .request(Method::POST, &path, Some(token))
                        .header("Content-Type", "application/json")
                        .body("{}")
                        .send()
                        .await
                    {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let _ = response.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    tally.answer(status, sent.elapsed());
                }
                tally
            })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally = tally.merge(worker.await?);
    }
    let elapsed = started.elapsed();
    let joined = tally.count(200);
    let mut report = Report::of("queue-join", load.connections, &tally, 200, joined, elapsed);
    report.database_admissions =
        sqlx::query_scalar("SELECT count(*) FROM queue_entries WHERE event_id = $1::uuid")
            .bind(&event)
            .fetch_one(&sale.db)
            .await?;
    report.server_rss_bytes = server_rss(&sale.api).await;

    // the sale starts in two seconds: from then, how long until the last to join reads its place
    let starts_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    call(
        &sale.api,
        Method::PATCH,
        &path,
        Some(&organizer),
        &queue(starts_at),
    )
    .await?;
    let last = tokens.last().expect("at least one entry");
    let me = format!("/v1/events/{event}/queue/me");
    let placed_after = loop {
        let status = call(
            &sale.api,
            Method::GET,
            &me,
            Some(last),
            &serde_json::Value::Null,
        )
        .await?;
        if !status["position"].is_null() || status["status"] == "admitted" {
            break chrono::Utc::now() - starts_at;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    eprintln!(
        "queue-join: {joined} joined; the last pre-queued account read its place {:.3} s after the start",
        placed_after.num_milliseconds() as f64 / 1000.0
    );
    Ok(report)
}

/// `n` accounts inserted in batches, with their access tokens.
async fn accounts(sale: &Sale, keys: &JwtKeys, n: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(n);
    let now = chrono::Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|_| Uuid::now_v7()).collect();
        let emails: Vec<String> = ids
            .iter()
            .map(|id| format!("queue-{}@example.com", id.simple()))
            .collect();
        let mut tx = sale.db.begin().await?;
        sqlx::query("INSERT INTO auth_profiles (id, email, password) SELECT * FROM unnest($1::uuid[], $2::text[], $2::text[])")
            .bind(&ids).bind(&emails).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO users (id, email) SELECT * FROM unnest($1::uuid[], $2::text[])")
            .bind(&ids)
            .bind(&emails)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO user_settings (user_id) SELECT unnest($1::uuid[])")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tokens.extend(
            ids.into_iter()
                .map(|id| keys.issue(UserId(id), Uuid::now_v7(), vec![Role::Customer], now)),
        );
    }
    Ok(tokens)
}
