//! Event ownership in `event_leases`: a node claims an event whose lease is free or ran out with
//! epoch + 1, renews all of its leases in one statement every third of `cluster.lease_seconds`,
//! and ends them on a graceful shutdown. The epochs it holds are the journal's [`Fences`].
use std::time::{Duration, Instant};

use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::EventId;
use dashmap::DashMap;
use tokio::sync::watch;
use uuid::Uuid;

use super::Cluster;

/// The SQLSTATE `boxoffice_fence` raises when a commit's epoch is no longer the event's.
pub const FENCED: &str = "BXF01";

/// The events this node owns, with the epoch it owns each under and when it claimed it.
#[derive(Default)]
pub struct Fences(DashMap<EventId, (i64, Instant)>);

impl Fences {
    pub fn epoch(&self, event: EventId) -> Option<i64> {
        self.0.get(&event).map(|held| held.0)
    }

    pub(super) fn hold(&self, event: EventId, epoch: i64) {
        self.0.insert(event, (epoch, Instant::now()));
    }

    pub(super) fn release(&self, event: EventId) {
        self.0.remove(&event);
    }

    fn held(&self) -> Vec<(EventId, Instant)> {
        self.0.iter().map(|held| (*held.key(), held.1)).collect()
    }
}

/// What claiming an event found.
pub(super) enum Claim {
    /// This node owns it now, under `epoch`.
    Taken {
        epoch: i64,
    },
    /// Another node does, for `remaining` at least.
    Owned {
        url: String,
        node_id: String,
        remaining: Duration,
    },
    NoSuchEvent,
}

/// Takes the event's lease if nobody holds it or it ran out (with a higher epoch than any
/// before), else says who holds it. One statement: PostgreSQL's clock decides expiry, so the
/// nodes' clocks need not agree.
pub(super) async fn claim(cluster: &Cluster, event: EventId) -> Result<Claim, sqlx::Error> {
    let row: Option<(i64, Uuid, String, String, f64)> = sqlx::query_as(
        "WITH taken AS (
           INSERT INTO event_leases (event_id, node_id, incarnation, url, epoch, expires_at)
           VALUES ($1, $2, $3, $4, 1, now() + $5 * interval '1 millisecond')
           ON CONFLICT (event_id) DO UPDATE
             SET node_id = EXCLUDED.node_id, incarnation = EXCLUDED.incarnation,
                 url = EXCLUDED.url, epoch = event_leases.epoch + 1, expires_at = EXCLUDED.expires_at
             WHERE event_leases.expires_at < now()
           RETURNING epoch, incarnation, node_id, url, expires_at
         )
         SELECT epoch, incarnation, node_id, url,
                extract(epoch FROM expires_at - now())::float8 * 1000 FROM taken
         UNION ALL
         SELECT epoch, incarnation, node_id, url,
                extract(epoch FROM expires_at - now())::float8 * 1000
         FROM event_leases WHERE event_id = $1 AND NOT EXISTS (SELECT 1 FROM taken)",
    )
    .bind(event)
    .bind(&cluster.node_id)
    .bind(cluster.incarnation)
    .bind(&cluster.url)
    .bind(cluster.lease.as_millis() as f64)
    .fetch_optional(&cluster.pool)
    .await
    .or_else(|error| match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Ok(None),
        _ => Err(error),
    })?;
    Ok(match row {
        None => Claim::NoSuchEvent,
        Some((epoch, incarnation, ..)) if incarnation == cluster.incarnation => {
            Claim::Taken { epoch }
        }
        Some((_, _, node_id, url, remaining_ms)) => Claim::Owned {
            url,
            node_id,
            // a lease that just ran out is claimed on the next request
            remaining: Duration::from_millis(remaining_ms.max(0.0) as u64),
        },
    })
}

/// Renews every lease of this node; an event whose lease was taken over meanwhile (this node
/// was paused or cut off longer than a lease) stops here. Claims and renewals run until `stop`.
pub async fn run(
    cluster: std::sync::Arc<Cluster>,
    engine: actix_web::web::Data<EventDirectory>,
    mut stop: watch::Receiver<bool>,
) {
    let every = (cluster.lease / 3).max(Duration::from_millis(200));
    let mut next_orphan_check = Instant::now();
    while !*stop.borrow() {
        let started = Instant::now();
        match renew(&cluster).await {
            Ok(renewed) => {
                for (event, claimed_at) in cluster.fences.held() {
                    if claimed_at < started && !renewed.contains(&event) {
                        tracing::warn!(event_id = %event, "lost the event's lease; its actor stops here");
                        cluster.fences.release(event);
                        engine.relinquish(event);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not renew the leases"),
        }
        if Instant::now() >= next_orphan_check {
            next_orphan_check = Instant::now() + cluster.lease;
            if let Err(error) = adopt_orphans(&cluster, &engine).await {
                tracing::warn!(%error, "could not look for events nobody owns");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn renew(cluster: &Cluster) -> Result<Vec<EventId>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE event_leases SET expires_at = now() + $2 * interval '1 millisecond'
         WHERE incarnation = $1 RETURNING event_id",
    )
    .bind(cluster.incarnation)
    .bind(cluster.lease.as_millis() as f64)
    .fetch_all(&cluster.pool)
    .await
}

/// Events with live holds whose owner is gone (or that nobody owned yet) are taken and their
/// actors started, so their holds expire on time without waiting for a buyer's request.
pub async fn adopt_orphans(
    cluster: &std::sync::Arc<Cluster>,
    engine: &EventDirectory,
) -> Result<(), sqlx::Error> {
    let orphans: Vec<EventId> = sqlx::query_scalar(
        "SELECT DISTINCT b.event_id FROM bookings b
         LEFT JOIN event_leases l ON l.event_id = b.event_id
         WHERE b.status IN ('held', 'pending_payment') AND (l.event_id IS NULL OR l.expires_at < now())",
    )
    .fetch_all(&cluster.pool)
    .await?;
    for event in orphans {
        if let Ok(super::Owner::Here) = cluster.owner(event).await {
            engine.start([event]);
        }
    }
    Ok(())
}

/// Whether this node relays the outbox now: it takes (or keeps) the relay's lease, one
/// statement per relay round.
pub async fn lead_relay(cluster: &Cluster) -> Result<bool, sqlx::Error> {
    let led: Option<i32> = sqlx::query_scalar(
        "INSERT INTO relay_leases (name, node_id, incarnation, expires_at)
         VALUES ('outbox', $1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE
           SET node_id = EXCLUDED.node_id, incarnation = EXCLUDED.incarnation,
               expires_at = EXCLUDED.expires_at
           WHERE relay_leases.incarnation = EXCLUDED.incarnation OR relay_leases.expires_at < now()
         RETURNING 1",
    )
    .bind(&cluster.node_id)
    .bind(cluster.incarnation)
    .bind(cluster.lease.as_millis() as f64)
    .fetch_optional(&cluster.pool)
    .await?;
    Ok(led.is_some())
}

/// Ends this node's leases (a graceful shutdown, once its actors wrote their last batch), so
/// other nodes take its events over at once instead of after `cluster.lease_seconds`.
pub async fn release_all(cluster: &Cluster) {
    let ended = sqlx::query(
        "WITH relay AS (
           UPDATE relay_leases SET expires_at = now() - interval '1 millisecond' WHERE incarnation = $1
         )
         UPDATE event_leases SET expires_at = now() - interval '1 millisecond' WHERE incarnation = $1",
    )
    .bind(cluster.incarnation)
    .execute(&cluster.pool)
    .await;
    match ended {
        Ok(done) => tracing::info!(leases = done.rows_affected(), "leases handed back"),
        Err(error) => tracing::warn!(%error, "leases not handed back; they run out by themselves"),
    }
}
