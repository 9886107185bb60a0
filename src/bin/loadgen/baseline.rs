//! The classic design, for comparison: every hold is one PostgreSQL transaction that locks the
//! ticket type's row (or updates it conditionally), counts, and inserts the booking. It runs in
//! its own tables (`loadgen_baseline_*`, dropped afterwards) of the same database server.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use crate::sale::pool;
use crate::tally::Tally;
use crate::{Report, Variant};

pub struct Options {
    pub database_url: String,
    pub capacity: u32,
    pub connections: usize,
    pub max_database_connections: usize,
    pub duration: Duration,
    pub variant: Variant,
}

pub async fn run(options: Options) -> anyhow::Result<Report> {
    let Options {
        database_url,
        capacity,
        connections,
        max_database_connections,
        duration,
        variant,
    } = options;
    let db = pool(&database_url, connections.min(max_database_connections)).await?;
    for sql in [
        "DROP TABLE IF EXISTS loadgen_baseline_bookings, loadgen_baseline_types",
        "CREATE TABLE loadgen_baseline_types (id UUID PRIMARY KEY, capacity INT NOT NULL, held INT NOT NULL DEFAULT 0)",
        "CREATE TABLE loadgen_baseline_bookings (id UUID PRIMARY KEY, ticket_type_id UUID NOT NULL
           REFERENCES loadgen_baseline_types (id), user_id UUID NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    ] {
        sqlx::query(sql).execute(&db).await?;
    }
    let ticket_type = Uuid::now_v7();
    sqlx::query("INSERT INTO loadgen_baseline_types (id, capacity) VALUES ($1, $2)")
        .bind(ticket_type)
        .bind(capacity as i32)
        .execute(&db)
        .await?;

    let sold_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (db, sold_out) = (db.clone(), sold_out.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut sold_out_at = None;
                while Instant::now() < deadline && !sold_out.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let status = match hold(&db, ticket_type, variant).await {
                        Ok(true) => 201,
                        Ok(false) => {
                            if !sold_out.swap(true, Ordering::SeqCst) {
                                sold_out_at = Some(started.elapsed());
                            }
                            409
                        }
                        Err(_) => 500,
                    };
                    tally.answer(status, sent.elapsed());
                }
                (tally, sold_out_at)
            })
        })
        .collect();
    let mut tally = Tally::default();
    let mut sold_out_after = None;
    for worker in workers {
        if let Ok((worker, at)) = worker.await {
            tally = tally.merge(worker);
            sold_out_after = sold_out_after.or(at);
        }
    }
    let elapsed = started.elapsed();
    let admissions: i64 = sqlx::query_scalar("SELECT count(*) FROM loadgen_baseline_bookings")
        .fetch_one(&db)
        .await?;
    sqlx::query("DROP TABLE IF EXISTS loadgen_baseline_bookings, loadgen_baseline_types")
        .execute(&db)
        .await?;
    let completed = tally.count(201);
    Ok(Report {
        variant: Some(variant),
        capacity: capacity.into(),
        sold_out_after_seconds: sold_out_after.map(|d| d.as_secs_f64()),
        database_admissions: admissions,
        ..Report::of("baseline", connections, &tally, 201, completed, elapsed)
    })
}

/// One hold the classic way; `false` when sold out.
async fn hold(db: &PgPool, ticket_type: Uuid, variant: Variant) -> Result<bool, sqlx::Error> {
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
        sqlx::query(
            "INSERT INTO loadgen_baseline_bookings (id, ticket_type_id, user_id) VALUES ($1, $2, $3)",
        )
        .bind(Uuid::now_v7())
        .bind(ticket_type)
        .bind(Uuid::now_v7())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(taken)
}
