//! The server's side of the engine port: the PostgreSQL journal the event actors write through
//! ([`journal`]), the table from engine answers to API errors ([`errors`]), and the engine's
//! outbox consumer, `booking-engine`, which sells what was paid for ([`consumer`]).
pub mod consumer;
pub mod errors;
pub mod journal;

use std::sync::Arc;

use boxoffice_actors::clock::Clock;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::EngineSettings;
use boxoffice_actors::ids::EventId;
use sqlx::PgPool;

use crate::cluster::Cluster;
use crate::outbox::Wake;
use journal::PgJournal;

/// An instant of the engine's clock as the database and the API write it.
pub fn time(millis: boxoffice_actors::inventory::Millis) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// Starts the engine on the PostgreSQL journal. Events with live holds get their actors at
/// once, so those holds expire on time after a restart; in a cluster, those nobody owns.
pub async fn start(
    pool: &PgPool,
    wake: Wake,
    settings: EngineSettings,
    clock: Arc<dyn Clock>,
    cluster: Option<Arc<Cluster>>,
) -> Result<EventDirectory, sqlx::Error> {
    let journal = PgJournal::new(pool.clone(), wake, cluster.as_ref().map(|c| c.fences()));
    let engine = EventDirectory::new(Arc::new(journal), settings, clock);
    if let Some(cluster) = cluster {
        let engine = engine.placed_by(Arc::new(crate::cluster::Ownership(cluster.clone())));
        crate::cluster::leases::adopt_orphans(&cluster, &engine).await?;
        return Ok(engine);
    }
    let live: Vec<EventId> = sqlx::query_scalar(
        "SELECT DISTINCT event_id FROM bookings WHERE status IN ('held', 'pending_payment')",
    )
    .fetch_all(pool)
    .await?;
    engine.start(live);
    Ok(engine)
}
