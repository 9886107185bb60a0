//! The waiting room's SQL: settings with the seed, entries, and one transaction per round of
//! decisions (the queue's group commit), fenced by the event's epoch in a cluster.
use boxoffice_actors::ids::{EventId, UserId};
use boxoffice_actors::inventory::Millis;
use boxoffice_actors::journal::JournalError;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::QueueSettings;
use crate::engine::journal::write_error;
use crate::engine::time;

/// A queue as stored: its settings, the seed and whether the shuffle happened.
#[derive(Clone, Debug)]
pub struct Stored {
    pub settings: QueueSettings,
    pub seed: Vec<u8>,
    pub shuffled_at: Option<DateTime<Utc>>,
    /// The event's status (`draft`, `published`, `cancelled`).
    pub event_status: String,
}

impl Stored {
    /// The queue is switched on and its event is on sale: joins are taken, holds need it.
    pub fn is_open(&self) -> bool {
        self.settings.enabled && self.event_status == "published"
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    enabled: bool,
    opens_at: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    admit_minutes: i32,
    admit_at_once: i32,
    challenge_bits: i32,
    seed: Vec<u8>,
    shuffled_at: Option<DateTime<Utc>>,
    status: String,
}

pub async fn find(pool: &PgPool, event: EventId) -> Result<Option<Stored>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT q.enabled, q.opens_at, q.starts_at, q.admit_minutes, q.admit_at_once,
                q.challenge_bits, q.seed, q.shuffled_at, e.status
           FROM event_queues q JOIN events e ON e.id = q.event_id WHERE q.event_id = $1",
    )
    .bind(event)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| Stored {
        settings: QueueSettings {
            enabled: row.enabled,
            opens_at: row.opens_at,
            starts_at: row.starts_at,
            admit_minutes: row.admit_minutes as u32,
            admit_at_once: row.admit_at_once as u32,
            challenge_bits: row.challenge_bits as u32,
        },
        seed: row.seed,
        shuffled_at: row.shuffled_at,
        event_status: row.status,
    }))
}

/// Saves the settings; the seed is drawn once, with the queue's first settings, and kept.
pub async fn save(
    pool: &PgPool,
    event: EventId,
    settings: &QueueSettings,
    seed: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_queues (event_id, enabled, opens_at, starts_at, admit_minutes,
                                   admit_at_once, challenge_bits, seed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (event_id) DO UPDATE SET enabled = $2, opens_at = $3, starts_at = $4,
             admit_minutes = $5, admit_at_once = $6, challenge_bits = $7",
    )
    .bind(event)
    .bind(settings.enabled)
    .bind(settings.opens_at)
    .bind(settings.starts_at)
    .bind(settings.admit_minutes as i32)
    .bind(settings.admit_at_once as i32)
    .bind(settings.challenge_bits as i32)
    .bind(seed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Events whose queue is on and not over: their rooms start with the server.
pub async fn enabled(pool: &PgPool) -> Result<Vec<EventId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT q.event_id FROM event_queues q JOIN events e ON e.id = q.event_id
          WHERE q.enabled AND e.status = 'published'",
    )
    .fetch_all(pool)
    .await
}

/// One entry as stored, with what its account held since it was admitted.
#[derive(sqlx::FromRow)]
pub struct EntryRow {
    pub user_id: UserId,
    pub joined_at: DateTime<Utc>,
    pub admitted_until: Option<DateTime<Utc>>,
    /// Tickets the account's bookings for the event hold or own, if it has any.
    pub held: Option<i64>,
}

pub async fn entries(pool: &PgPool, event: EventId) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT q.user_id, q.joined_at, q.admitted_until,
                (SELECT sum(bi.qty) FROM bookings b JOIN booking_items bi ON bi.booking_id = b.id
                  WHERE q.admitted_at IS NOT NULL AND b.event_id = q.event_id
                    AND b.user_id = q.user_id AND b.held_at >= q.admitted_at) AS held
           FROM queue_entries q WHERE q.event_id = $1 ORDER BY q.seq",
    )
    .bind(event)
    .fetch_all(pool)
    .await
}

/// Which of `users` (admitted and not seen holding yet) hold now, with how many tickets.
pub async fn holders(
    pool: &PgPool,
    event: EventId,
    users: &[UserId],
) -> Result<Vec<(UserId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.user_id, sum(bi.qty)::bigint FROM bookings b
           JOIN booking_items bi ON bi.booking_id = b.id
          WHERE b.event_id = $1 AND b.user_id = ANY($2) GROUP BY b.user_id",
    )
    .bind(event)
    .bind(users)
    .fetch_all(pool)
    .await
}

/// One round of the room's decisions.
#[derive(Debug, Default)]
pub struct Round {
    /// The pre-queue was shuffled: the seed may be shown from now on.
    pub shuffled_at: Option<Millis>,
    pub joins: Vec<(UserId, i64, Millis)>,
    /// (account, admitted at, admitted until)
    pub admissions: Vec<(UserId, Millis, Millis)>,
}

impl Round {
    pub fn is_empty(&self) -> bool {
        self.shuffled_at.is_none() && self.joins.is_empty() && self.admissions.is_empty()
    }
}

/// Writes the round in one transaction; `epoch` fences it in a cluster.
pub async fn commit(
    pool: &PgPool,
    event: EventId,
    epoch: Option<i64>,
    round: &Round,
) -> Result<(), JournalError> {
    let mut tx = pool.begin().await.map_err(write_error)?;
    if let Some(epoch) = epoch {
        sqlx::query("SELECT boxoffice_fence($1, $2)")
            .bind(event)
            .bind(epoch)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
    }
    if let Some(at) = round.shuffled_at {
        sqlx::query("UPDATE event_queues SET shuffled_at = $2 WHERE event_id = $1")
            .bind(event)
            .bind(time(at))
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
    }
    if !round.joins.is_empty() {
        let users: Vec<UserId> = round.joins.iter().map(|j| j.0).collect();
        let seqs: Vec<i64> = round.joins.iter().map(|j| j.1).collect();
        let at: Vec<DateTime<Utc>> = round.joins.iter().map(|j| time(j.2)).collect();
        sqlx::query(
            "INSERT INTO queue_entries (event_id, user_id, seq, joined_at)
             SELECT $1, * FROM unnest($2::uuid[], $3::bigint[], $4::timestamptz[])",
        )
        .bind(event)
        .bind(&users)
        .bind(&seqs)
        .bind(&at)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    }
    if !round.admissions.is_empty() {
        let users: Vec<UserId> = round.admissions.iter().map(|a| a.0).collect();
        let from: Vec<DateTime<Utc>> = round.admissions.iter().map(|a| time(a.1)).collect();
        let until: Vec<DateTime<Utc>> = round.admissions.iter().map(|a| time(a.2)).collect();
        sqlx::query(
            "UPDATE queue_entries q SET admitted_at = a.at, admitted_until = a.until
               FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS a(user_id, at, until)
              WHERE q.event_id = $1 AND q.user_id = a.user_id",
        )
        .bind(event)
        .bind(&users)
        .bind(&from)
        .bind(&until)
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
    }
    tx.commit().await.map_err(write_error)
}

/// The organizer's live view: entries by what became of them.
#[derive(Debug, Default, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// Joined and not admitted yet.
    pub waiting: i64,
    /// Admitted, admission running, no booking yet.
    pub admitted: i64,
    /// Admitted and holding seats now (held or paying).
    pub holding: i64,
    /// Admitted and bought.
    pub bought: i64,
    /// Admitted, admission over, nothing bought or held.
    pub left: i64,
}

pub async fn tally(pool: &PgPool, event: EventId, now: Millis) -> Result<Tally, sqlx::Error> {
    sqlx::query_as(
        "WITH e AS (
           SELECT q.admitted_until,
                  (SELECT array_agg(b.status) FROM bookings b
                    WHERE b.event_id = q.event_id AND b.user_id = q.user_id
                      AND q.admitted_at IS NOT NULL AND b.held_at >= q.admitted_at) AS statuses
             FROM queue_entries q WHERE q.event_id = $1)
         SELECT count(*) FILTER (WHERE admitted_until IS NULL) AS waiting,
                count(*) FILTER (WHERE admitted_until > $2 AND statuses IS NULL) AS admitted,
                count(*) FILTER (WHERE 'confirmed' <> ALL(statuses)
                                   AND statuses && ARRAY['held', 'pending_payment']) AS holding,
                count(*) FILTER (WHERE 'confirmed' = ANY(statuses)) AS bought,
                count(*) FILTER (WHERE admitted_until <= $2
                                   AND (statuses IS NULL OR NOT statuses && ARRAY['held', 'pending_payment', 'confirmed'])) AS left
           FROM e",
    )
    .bind(event)
    .bind(time(now))
    .fetch_one(pool)
    .await
}
