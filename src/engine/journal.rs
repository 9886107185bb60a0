//! The engine's journal in PostgreSQL: each batch of an event actor's decisions becomes one
//! transaction over `bookings`, `booking_items`, `booking_seats` and `outbox`; recovery reads
//! the newest `inventory_snapshots` row and the bookings stamped with a later version.
use std::collections::HashMap;
use std::sync::Arc;

use boxoffice_actors::ids::{BookingId, EventId, SeatId, TicketTypeId, UserId};
use boxoffice_actors::inventory::{Hold, HoldState, Millis, SeatSpec, TicketTypeSpec};
use boxoffice_actors::journal::{
    Batch, BoxFuture, Change, EventStatus, Journal, JournalError, Loaded,
};
use boxoffice_actors::waitlist::WaitlistEntry;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::time;
use crate::bookings::booking_code;
use crate::cluster::leases::{Fences, FENCED};
use crate::outbox::Wake;
use crate::status::BookingStatus;

pub struct PgJournal {
    pool: PgPool,
    /// Woken after a commit that wrote outbox rows someone consumes, so they go out at once.
    outbox: Wake,
    /// In a cluster, the epochs of the events this node owns: every commit and snapshot checks
    /// its event's epoch in the same statement or transaction (`boxoffice_fence`).
    fences: Option<Arc<Fences>>,
}

impl PgJournal {
    pub fn new(pool: PgPool, outbox: Wake, fences: Option<Arc<Fences>>) -> Self {
        Self {
            pool,
            outbox,
            fences,
        }
    }

    /// The epoch to fence `event`'s writes with: `Ok(None)` outside a cluster, `Err(Fenced)`
    /// for an event this node does not own.
    fn epoch(&self, event: EventId) -> Result<Option<i64>, JournalError> {
        match &self.fences {
            None => Ok(None),
            Some(fences) => fences.epoch(event).map(Some).ok_or(JournalError::Fenced),
        }
    }
}

fn journal_error(error: impl std::fmt::Display) -> JournalError {
    JournalError::Storage(error.to_string())
}

/// A write's failure, telling a fenced one (a newer epoch owns the event) from the rest.
pub(crate) fn write_error(error: sqlx::Error) -> JournalError {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(FENCED) => JournalError::Fenced,
        _ => journal_error(error),
    }
}

/// Refuses the rest of the transaction unless `epoch` is still `event`'s.
pub(crate) async fn fence(
    conn: &mut PgConnection,
    event: EventId,
    epoch: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT boxoffice_fence($1, $2)")
        .bind(event)
        .bind(epoch)
        .execute(conn)
        .await
        .map(drop)
}

impl Journal for PgJournal {
    fn load(&self, event: EventId) -> BoxFuture<Result<Option<Loaded>, JournalError>> {
        let pool = self.pool.clone();
        Box::pin(async move { load(&pool, event).await.map_err(journal_error) })
    }

    fn commit(&self, batch: &Batch) -> BoxFuture<Result<(), JournalError>> {
        let epoch = match self.epoch(batch.event) {
            Ok(epoch) => epoch,
            Err(fenced) => return Box::pin(async move { Err(fenced) }),
        };
        let mut rows = Rows::of(batch);
        rows.epoch = epoch;
        let paid = !rows.confirmed.is_empty() || !rows.reinstated.is_empty();
        let (pool, outbox) = (self.pool.clone(), self.outbox.clone());
        Box::pin(async move {
            if rows.is_one_statement() {
                // atomic on its own: no BEGIN and COMMIT round trips
                let mut conn = pool.acquire().await.map_err(journal_error)?;
                rows.write(&mut conn).await.map_err(write_error)?;
            } else {
                let mut tx = pool.begin().await.map_err(journal_error)?;
                rows.write(&mut tx).await.map_err(write_error)?;
                tx.commit().await.map_err(write_error)?;
            }
            if paid {
                outbox.wake();
            }
            Ok(())
        })
    }

    fn snapshot(
        &self,
        event: EventId,
        version: u64,
        holds: Vec<Arc<Hold>>,
    ) -> BoxFuture<Result<(), JournalError>> {
        let epoch = match self.epoch(event) {
            Ok(epoch) => epoch,
            Err(fenced) => return Box::pin(async move { Err(fenced) }),
        };
        let pool = self.pool.clone();
        Box::pin(async move {
            // serializing a large event is CPU work: keep it off the actor's thread
            let encoded = tokio::task::spawn_blocking(move || {
                let holds: Vec<&Hold> = holds.iter().map(|hold| &**hold).collect();
                postcard::to_stdvec(&(SNAPSHOT_FORMAT, holds))
            })
            .await
            .map_err(journal_error)?
            .map_err(journal_error)?;
            let mut tx = pool.begin().await.map_err(journal_error)?;
            if let Some(epoch) = epoch {
                fence(&mut tx, event, epoch).await.map_err(write_error)?;
            }
            sqlx::query(
                "INSERT INTO inventory_snapshots (id, event_id, version, encoded) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (event_id, version) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(event)
            .bind(version as i64)
            .bind(encoded)
            .execute(&mut *tx)
            .await
            .map_err(journal_error)?;
            sqlx::query("DELETE FROM inventory_snapshots WHERE event_id = $1 AND version < $2")
                .bind(event)
                .bind(version as i64)
                .execute(&mut *tx)
                .await
                .map_err(journal_error)?;
            tx.commit().await.map_err(write_error)
        })
    }
}

/// A batch as column arrays, so each table takes one `INSERT ... SELECT FROM UNNEST` however
/// many decisions the batch carries.
#[derive(Default)]
struct Rows {
    event: Option<EventId>,
    version: i64,
    /// The owner's epoch in a cluster, checked before anything is written.
    epoch: Option<i64>,
    // new bookings
    ids: Vec<BookingId>,
    users: Vec<UserId>,
    codes: Vec<String>,
    held_at: Vec<DateTime<Utc>>,
    expired_at: Vec<DateTime<Utc>>,
    totals: Vec<i64>,
    currencies: Vec<String>,
    admissions: Vec<i32>,
    promos: Vec<Option<Uuid>>,
    // their items
    item_ids: Vec<Uuid>,
    item_bookings: Vec<BookingId>,
    item_types: Vec<TicketTypeId>,
    item_qty: Vec<i32>,
    item_prices: Vec<i64>,
    // their seats
    seat_row_ids: Vec<Uuid>,
    seat_bookings: Vec<BookingId>,
    seat_ids: Vec<SeatId>,
    seat_types: Vec<TicketTypeId>,
    // released bookings and the status they end in
    released: Vec<BookingId>,
    released_status: Vec<&'static str>,
    // paid bookings: confirmed holds, and ended holds sold again
    confirmed: Vec<BookingId>,
    reinstated: Vec<BookingId>,
    // holds given more time, and their new deadlines
    extended: Vec<BookingId>,
    extended_until: Vec<DateTime<Utc>>,
    // refunded admissions: what each booking keeps per ticket type, the seats it gave back,
    // and the bookings left with nothing
    returned: Vec<BookingId>,
    kept_bookings: Vec<BookingId>,
    kept_types: Vec<TicketTypeId>,
    kept_qty: Vec<i32>,
    freed_bookings: Vec<BookingId>,
    freed_seats: Vec<SeatId>,
    emptied: Vec<BookingId>,
    // waiting lists: entries joined, offered a hold, and closed (left or lapsed)
    joined: Vec<Uuid>,
    joined_users: Vec<UserId>,
    joined_types: Vec<TicketTypeId>,
    joined_qty: Vec<i32>,
    offered: Vec<Uuid>,
    offered_bookings: Vec<BookingId>,
    offer_expires: Vec<DateTime<Utc>>,
    closed: Vec<Uuid>,
    closed_status: Vec<&'static str>,
}

impl Rows {
    fn of(batch: &Batch) -> Self {
        let mut rows = Rows {
            event: Some(batch.event),
            version: batch.version as i64,
            ..Rows::default()
        };
        for change in &batch.changes {
            match change {
                Change::Held(hold) => rows.held(hold),
                Change::Released { hold, reason } => {
                    rows.released.push(hold.booking);
                    rows.released_status.push(reason.status());
                }
                Change::Extended { hold, .. } => {
                    rows.extended.push(hold.booking);
                    rows.extended_until.push(time(hold.expires_at));
                }
                Change::Confirmed(hold) => rows.confirmed.push(hold.booking),
                Change::Reinstated(hold) => {
                    rows.reinstated.push(hold.booking);
                    rows.seats_of(hold);
                }
                Change::Returned { before, after } => rows.returned(before, after),
                Change::WaitlistJoined(entry) => {
                    rows.joined.push(entry.id);
                    rows.joined_users.push(entry.user);
                    rows.joined_types.push(entry.ticket_type);
                    rows.joined_qty.push(entry.qty as i32);
                }
                Change::WaitlistOffered { entry, expires_at } => {
                    if let Some(booking) = entry.offer {
                        rows.offered.push(entry.id);
                        rows.offered_bookings.push(booking);
                        rows.offer_expires.push(time(*expires_at));
                    }
                }
                Change::WaitlistLeft(entry) => {
                    rows.closed.push(entry.id);
                    rows.closed_status.push("left");
                }
                Change::WaitlistDropped(entry) => {
                    rows.closed.push(entry.id);
                    rows.closed_status.push("lapsed");
                }
            }
        }
        rows
    }

    fn returned(&mut self, before: &Hold, after: &Hold) {
        self.returned.push(after.booking);
        let mut kept: Vec<(TicketTypeId, i32)> = Vec::new();
        for &(ticket_type, qty, _) in &after.items {
            match kept.iter_mut().find(|(t, _)| *t == ticket_type) {
                Some((_, n)) => *n += qty as i32,
                None => kept.push((ticket_type, qty as i32)),
            }
        }
        for (ticket_type, qty) in kept {
            self.kept_bookings.push(after.booking);
            self.kept_types.push(ticket_type);
            self.kept_qty.push(qty);
        }
        for &(_, seat) in before.seats.iter().filter(|s| !after.seats.contains(s)) {
            self.freed_bookings.push(after.booking);
            self.freed_seats.push(seat);
        }
        if after.admissions() == 0 {
            self.emptied.push(after.booking);
        }
    }

    fn seats_of(&mut self, hold: &Hold) {
        for &(ticket_type, seat) in &hold.seats {
            self.seat_row_ids.push(Uuid::now_v7());
            self.seat_bookings.push(hold.booking);
            self.seat_ids.push(seat);
            self.seat_types.push(ticket_type);
        }
    }

    fn held(&mut self, hold: &Hold) {
        self.ids.push(hold.booking);
        self.users.push(hold.user);
        self.codes.push(booking_code(hold.booking));
        self.held_at.push(time(hold.held_at));
        self.expired_at.push(time(hold.expires_at));
        self.totals.push(hold.total_price());
        self.currencies.push(hold.currency.clone());
        self.admissions.push(hold.admissions() as i32);
        self.promos.push(hold.promo);
        for &(ticket_type, qty, price) in &hold.items {
            self.item_ids.push(Uuid::now_v7());
            self.item_bookings.push(hold.booking);
            self.item_types.push(ticket_type);
            self.item_qty.push(qty as i32);
            self.item_prices.push(price);
        }
        self.seats_of(hold);
    }

    /// New holds without seats only: the flash-sale batch, written by one statement.
    fn is_one_statement(&self) -> bool {
        self.released.is_empty()
            && self.extended.is_empty()
            && self.returned.is_empty()
            && self.confirmed.is_empty()
            && self.reinstated.is_empty()
            && self.seat_ids.is_empty()
            && !self.has_waitlist()
    }

    fn has_waitlist(&self) -> bool {
        !(self.joined.is_empty() && self.offered.is_empty() && self.closed.is_empty())
    }

    /// In an order that lets one batch release a seat and take it again: releases before
    /// seat inserts, since the unique index on active seats checks each statement.
    async fn write(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        let one_statement = self.is_one_statement();
        if let (Some(epoch), Some(event), false) = (self.epoch, self.event, one_statement) {
            fence(conn, event, epoch).await?;
        }
        if !self.ids.is_empty() {
            // one statement for the hot path: the bookings, their items and their
            // `bookings.held` events
            sqlx::query(&format!(
                "WITH held AS (
                   INSERT INTO bookings (id, event_id, user_id, booking_code, status, held_at, expired_at,
                                         total_price, currency, number_seats, version, promo_code_id)
                   SELECT id, $1, user_id, code, 'held', held_at, expired_at, total, currency, admissions, $2, promo
                   FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                               $8::bigint[], $9::text[], $10::int[], $17::uuid[])
                     AS n (id, user_id, code, held_at, expired_at, total, currency, admissions, promo)
                   -- the fence of a one-statement batch: evaluated once, it fails the statement
                   WHERE (SELECT $16::bigint IS NULL OR boxoffice_fence($1, $16))
                   RETURNING *
                 ), items AS (
                   INSERT INTO booking_items (id, booking_id, ticket_type_id, qty, price)
                   SELECT * FROM UNNEST($11::uuid[], $12::uuid[], $13::uuid[], $14::int[], $15::bigint[])
                 )
                 INSERT INTO outbox (subject, aggregate_id, payload)
                 SELECT 'bookings.held', b.id, {PAYLOAD} FROM held b ORDER BY b.id"
            ))
            .bind(self.event)
            .bind(self.version)
            .bind(&self.ids)
            .bind(&self.users)
            .bind(&self.codes)
            .bind(&self.held_at)
            .bind(&self.expired_at)
            .bind(&self.totals)
            .bind(&self.currencies)
            .bind(&self.admissions)
            .bind(&self.item_ids)
            .bind(&self.item_bookings)
            .bind(&self.item_types)
            .bind(&self.item_qty)
            .bind(&self.item_prices)
            .bind(self.epoch.filter(|_| one_statement))
            .bind(&self.promos)
            .execute(&mut *conn)
            .await?;
        }
        if !self.extended.is_empty() {
            // before the releases: a hold extended and then ended in one batch ends
            sqlx::query(
                "UPDATE bookings b SET expired_at = x.until, extensions = b.extensions + 1, version = $1
                 FROM UNNEST($2::uuid[], $3::timestamptz[]) AS x (id, until)
                 WHERE b.id = x.id AND b.status IN ('held', 'pending_payment')",
            )
            .bind(self.version)
            .bind(&self.extended)
            .bind(&self.extended_until)
            .execute(&mut *conn)
            .await?;
        }
        if !self.released.is_empty() {
            let updated = sqlx::query(
                "UPDATE bookings b SET status = r.status, version = $1
                 FROM UNNEST($2::uuid[], $3::text[]) AS r (id, status)
                 WHERE b.id = r.id AND b.status IN ('held', 'pending_payment')",
            )
            .bind(self.version)
            .bind(&self.released)
            .bind(&self.released_status)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if updated != self.released.len() as u64 {
                tracing::warn!(
                    expected = self.released.len(),
                    updated,
                    "released bookings were not all held"
                );
            }
            sqlx::query(
                "UPDATE booking_seats SET active = false WHERE booking_id = ANY($1) AND active",
            )
            .bind(&self.released)
            .execute(&mut *conn)
            .await?;
        }
        let paid: Vec<BookingId> = self
            .confirmed
            .iter()
            .chain(&self.reinstated)
            .copied()
            .collect();
        if !self.confirmed.is_empty() {
            sqlx::query(
                "UPDATE bookings SET status = 'confirmed', version = $1
                 WHERE id = ANY($2) AND status IN ('held', 'pending_payment')",
            )
            .bind(self.version)
            .bind(&self.confirmed)
            .execute(&mut *conn)
            .await?;
        }
        if !self.reinstated.is_empty() {
            sqlx::query(
                "UPDATE bookings SET status = 'confirmed', version = $1
                 WHERE id = ANY($2) AND status IN ('expired', 'cancelled')",
            )
            .bind(self.version)
            .bind(&self.reinstated)
            .execute(&mut *conn)
            .await?;
        }
        if !self.seat_ids.is_empty() {
            // booking_seats_active_key refuses a seat already in an active booking: the
            // whole batch fails rather than sell a seat twice
            sqlx::query(
                "INSERT INTO booking_seats (id, booking_id, seat_id, ticket_type_id)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[])",
            )
            .bind(&self.seat_row_ids)
            .bind(&self.seat_bookings)
            .bind(&self.seat_ids)
            .bind(&self.seat_types)
            .execute(&mut *conn)
            .await?;
        }
        if !self.returned.is_empty() {
            self.write_returned(conn).await?;
        }
        if !self.released.is_empty() || !paid.is_empty() || self.has_waitlist() {
            self.write_waitlist(conn, &paid).await?;
        }
        if !self.released.is_empty() {
            outbox(conn, "'bookings.' || b.status", &self.released).await?;
        }
        if !paid.is_empty() {
            // the tickets follow from this row
            outbox(conn, "'bookings.paid'", &paid).await?;
        }
        Ok(())
    }
}

impl Rows {
    /// Waiting lists: new entries; offers (their holds were inserted above) with their
    /// `waitlist.offered` events; an offered hold that ended unpaid lapses its entry and one
    /// that was paid (even late) makes it bought; entries left or dropped last, so leaving an
    /// offer (its hold released in this batch) ends `left`.
    async fn write_waitlist(
        &self,
        conn: &mut PgConnection,
        paid: &[BookingId],
    ) -> Result<(), sqlx::Error> {
        if !self.joined.is_empty() {
            sqlx::query(
                "INSERT INTO waitlist_entries (id, event_id, ticket_type_id, user_id, qty)
                 SELECT id, $1, ticket_type_id, user_id, qty
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::int[])
                   AS j (id, ticket_type_id, user_id, qty)",
            )
            .bind(self.event)
            .bind(&self.joined)
            .bind(&self.joined_types)
            .bind(&self.joined_users)
            .bind(&self.joined_qty)
            .execute(&mut *conn)
            .await?;
        }
        if !self.offered.is_empty() {
            sqlx::query(
                "WITH o AS (
                   UPDATE waitlist_entries w
                   SET status = 'offered', booking_id = o.booking_id, offered_at = now(),
                       offer_expires_at = o.expires_at, updated_at = now()
                   FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[]) AS o (id, booking_id, expires_at)
                   -- not an entry the event's cancellation lapsed meanwhile
                   WHERE w.id = o.id AND w.status = 'waiting'
                   RETURNING w.*
                 )
                 INSERT INTO outbox (subject, aggregate_id, payload)
                 SELECT 'waitlist.offered', o.id, jsonb_build_object(
                     'entry_id', o.id, 'event_id', o.event_id, 'user_id', o.user_id,
                     'ticket_type_id', o.ticket_type_id, 'qty', o.qty,
                     'booking_id', o.booking_id, 'expires_at', o.offer_expires_at,
                     'time_zone', (SELECT e.time_zone FROM events e WHERE e.id = o.event_id))
                 FROM o ORDER BY o.id",
            )
            .bind(&self.offered)
            .bind(&self.offered_bookings)
            .bind(&self.offer_expires)
            .execute(&mut *conn)
            .await?;
        }
        if !self.released.is_empty() {
            sqlx::query(
                "UPDATE waitlist_entries SET status = 'lapsed', updated_at = now()
                 WHERE booking_id = ANY($1) AND status = 'offered'",
            )
            .bind(&self.released)
            .execute(&mut *conn)
            .await?;
        }
        if !paid.is_empty() {
            sqlx::query(
                "UPDATE waitlist_entries SET status = 'bought', updated_at = now()
                 WHERE booking_id = ANY($1) AND status IN ('offered', 'lapsed')",
            )
            .bind(paid)
            .execute(&mut *conn)
            .await?;
        }
        if !self.closed.is_empty() {
            sqlx::query(
                "UPDATE waitlist_entries w SET status = c.status, updated_at = now()
                 FROM UNNEST($1::uuid[], $2::text[]) AS c (id, status)
                 WHERE w.id = c.id AND w.status IN ('waiting', 'offered', 'lapsed')",
            )
            .bind(&self.closed)
            .bind(&self.closed_status)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Refunded admissions: each item line keeps its share of what the booking keeps of its
    /// type, first lines first (as [`EventInventory::keep_only`] does in memory), so recovery
    /// reads `qty - returned` back; the seats given back stop being active, and a booking left
    /// with nothing is `refunded`.
    ///
    /// [`EventInventory::keep_only`]: boxoffice_actors::inventory::EventInventory::keep_only
    async fn write_returned(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "WITH k AS (
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int[]) AS k (booking_id, ticket_type_id, kept)
             ), lines AS (
                 SELECT bi.id, bi.qty, k.kept,
                        COALESCE(sum(bi.qty) OVER (PARTITION BY bi.booking_id, bi.ticket_type_id ORDER BY bi.id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                 FROM booking_items bi
                 JOIN k ON k.booking_id = bi.booking_id AND k.ticket_type_id = bi.ticket_type_id
             )
             UPDATE booking_items bi
             SET returned = lines.qty - LEAST(lines.qty, GREATEST(0, lines.kept - lines.before)),
                 updated_at = now()
             FROM lines WHERE bi.id = lines.id",
        )
        .bind(&self.kept_bookings)
        .bind(&self.kept_types)
        .bind(&self.kept_qty)
        .execute(&mut *conn)
        .await?;
        if !self.freed_seats.is_empty() {
            sqlx::query(
                "UPDATE booking_seats bs SET active = false, updated_at = now()
                 FROM UNNEST($1::uuid[], $2::uuid[]) AS f (booking_id, seat_id)
                 WHERE bs.booking_id = f.booking_id AND bs.seat_id = f.seat_id AND bs.active",
            )
            .bind(&self.freed_bookings)
            .bind(&self.freed_seats)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(
            "UPDATE bookings SET version = $1, updated_at = now(),
                 status = CASE WHEN id = ANY($3) THEN 'refunded' ELSE status END
             WHERE id = ANY($2)",
        )
        .bind(self.version)
        .bind(&self.returned)
        .bind(&self.emptied)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The payload of a `bookings.*` event, SQL over the booking `b`.
const PAYLOAD: &str = "jsonb_build_object(
    'booking_id', b.id, 'event_id', b.event_id, 'user_id', b.user_id,
    'status', b.status, 'number_seats', b.number_seats,
    'total_price', b.total_price, 'currency', b.currency, 'expired_at', b.expired_at)";

/// One outbox row per booking, its subject computed by `subject` (SQL over `b`).
async fn outbox(
    conn: &mut PgConnection,
    subject: &str,
    bookings: &[BookingId],
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO outbox (subject, aggregate_id, payload)
         SELECT {subject}, b.id, {PAYLOAD} FROM bookings b WHERE b.id = ANY($1)"
    ))
    .bind(bookings)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TypeRow {
    id: TicketTypeId,
    qty: i32,
    price: i64,
    currency: String,
    sale_at: Option<DateTime<Utc>>,
    sale_end: Option<DateTime<Utc>>,
    max_per_user: Option<i32>,
    status: String,
    seat_mapped: bool,
}

#[derive(sqlx::FromRow)]
struct SeatRow {
    id: SeatId,
    ticket_type_id: TicketTypeId,
    row_index: i32,
    position: i32,
    rank: i32,
}

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: BookingId,
    user_id: UserId,
    status: BookingStatus,
    held_at: DateTime<Utc>,
    expired_at: DateTime<Utc>,
    currency: String,
    version: i64,
    promo_code_id: Option<uuid::Uuid>,
}

/// Marks a snapshot's encoding: `(SNAPSHOT_FORMAT, holds)`. A snapshot of another layout (before
/// holds carried their promo code) is not read; recovery replays the whole journal instead, once.
const SNAPSHOT_FORMAT: u32 = 0xB0C5_0002;

/// Statuses in which a booking holds or owns its admissions.
const LIVE: &str = "('held', 'pending_payment', 'confirmed')";

async fn load(pool: &PgPool, event: EventId) -> Result<Option<Loaded>, sqlx::Error> {
    let Some(status): Option<String> =
        sqlx::query_scalar("SELECT status FROM events WHERE id = $1")
            .bind(event)
            .fetch_optional(pool)
            .await?
    else {
        return Ok(None);
    };
    let status = match status.as_str() {
        "published" => EventStatus::Published,
        "cancelled" => EventStatus::Cancelled,
        _ => EventStatus::Draft,
    };
    let types = ticket_types(&mut *pool.acquire().await?, event).await?;

    let snapshot: Option<(i64, Option<Vec<u8>>, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT version, encoded, state FROM inventory_snapshots
         WHERE event_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(event)
    .fetch_optional(pool)
    .await?;
    let decoded = match snapshot {
        Some((version, encoded, state)) => {
            // postcard since migration 0011 (marked with its format since 0017), JSON before
            let holds: Option<Vec<Hold>> =
                tokio::task::spawn_blocking(move || match (encoded, state) {
                    (Some(encoded), _) => {
                        match postcard::from_bytes::<(u32, Vec<Hold>)>(&encoded) {
                            Ok((SNAPSHOT_FORMAT, holds)) => Ok(Some(holds)),
                            // an older layout: the journal alone has everything
                            _ => Ok(None),
                        }
                    }
                    (None, Some(state)) => serde_json::from_value(state)
                        .map(Some)
                        .map_err(|e| e.to_string()),
                    (None, None) => Err("a snapshot with no state".to_owned()),
                })
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?
                .map_err(|e| sqlx::Error::Decode(e.into()))?;
            holds.map(|holds| (version, holds))
        }
        None => None,
    };
    let (since, mut holds): (i64, HashMap<BookingId, Hold>) = match decoded {
        Some((version, holds)) => (version, holds.into_iter().map(|h| (h.booking, h)).collect()),
        None => (0, HashMap::new()),
    };

    // the journal after the snapshot: each booking changed since, in its current state
    let changed: Vec<BookingRow> = sqlx::query_as(
        "SELECT id, user_id, status, held_at, expired_at, currency, version, promo_code_id FROM bookings
         WHERE event_id = $1 AND version > $2",
    )
    .bind(event)
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut version = since;
    for row in &changed {
        version = version.max(row.version);
        holds.remove(&row.id);
    }
    let live: Vec<&BookingRow> = changed
        .iter()
        .filter(|r| r.status.is_live() || r.status == BookingStatus::Paid)
        .collect();
    if !live.is_empty() {
        let items: Vec<(BookingId, TicketTypeId, i32, i64)> = sqlx::query_as(&format!(
            "SELECT bi.booking_id, bi.ticket_type_id, bi.qty - bi.returned, bi.price
             FROM booking_items bi JOIN bookings b ON b.id = bi.booking_id
             WHERE b.event_id = $1 AND b.version > $2 AND b.status IN {LIVE}
               AND bi.qty > bi.returned
             ORDER BY bi.booking_id, bi.id"
        ))
        .bind(event)
        .bind(since)
        .fetch_all(pool)
        .await?;
        let seats: Vec<(BookingId, TicketTypeId, SeatId)> = sqlx::query_as(&format!(
            "SELECT bs.booking_id, bs.ticket_type_id, bs.seat_id
             FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id
             WHERE b.event_id = $1 AND b.version > $2 AND b.status IN {LIVE} AND bs.active
             ORDER BY bs.booking_id, bs.id"
        ))
        .bind(event)
        .bind(since)
        .fetch_all(pool)
        .await?;
        assemble(&mut holds, live, items, seats);
    }
    let waitlist: Vec<(Uuid, UserId, TicketTypeId, i32, Option<BookingId>)> = sqlx::query_as(
        "SELECT id, user_id, ticket_type_id, qty, booking_id FROM waitlist_entries
         WHERE event_id = $1 AND status IN ('waiting', 'offered')",
    )
    .bind(event)
    .fetch_all(pool)
    .await?;
    Ok(Some(Loaded {
        status,
        types,
        holds: holds.into_values().collect(),
        waitlist: waitlist
            .into_iter()
            .map(|(id, user, ticket_type, qty, offer)| WaitlistEntry {
                id,
                user,
                ticket_type,
                qty: qty as u32,
                offer,
            })
            .collect(),
        version: version as u64,
    }))
}

/// Builds holds from booking rows and their items and seats.
fn assemble<'a>(
    holds: &mut HashMap<BookingId, Hold>,
    rows: impl IntoIterator<Item = &'a BookingRow>,
    items: Vec<(BookingId, TicketTypeId, i32, i64)>,
    seats: Vec<(BookingId, TicketTypeId, SeatId)>,
) {
    for row in rows {
        let state = if row.status == BookingStatus::Paid {
            HoldState::Confirmed
        } else {
            HoldState::Held
        };
        holds.insert(
            row.id,
            Hold {
                booking: row.id,
                user: row.user_id,
                items: Vec::new(),
                seats: Vec::new(),
                currency: row.currency.clone(),
                held_at: row.held_at.timestamp_millis(),
                expires_at: row.expired_at.timestamp_millis(),
                state,
                promo: row.promo_code_id,
            },
        );
    }
    for (booking, ticket_type, qty, price) in items {
        if let Some(hold) = holds.get_mut(&booking) {
            hold.items.push((ticket_type, qty as u32, price));
        }
    }
    for (booking, ticket_type, seat) in seats {
        if let Some(hold) = holds.get_mut(&booking) {
            if !hold.seats.contains(&(ticket_type, seat)) {
                hold.seats.push((ticket_type, seat));
            }
        }
    }
}

/// A booking as the journal has it, whatever its status, with the seats it held: what a late
/// payment asks the engine to sell again.
pub async fn recorded(
    pool: &PgPool,
    booking: BookingId,
) -> Result<Option<(EventId, Hold)>, sqlx::Error> {
    let Some(event): Option<EventId> =
        sqlx::query_scalar("SELECT event_id FROM bookings WHERE id = $1")
            .bind(booking)
            .fetch_optional(pool)
            .await?
    else {
        return Ok(None);
    };
    let rows: Vec<BookingRow> = sqlx::query_as(
        "SELECT id, user_id, status, held_at, expired_at, currency, version, promo_code_id FROM bookings WHERE id = $1",
    )
    .bind(booking)
    .fetch_all(pool)
    .await?;
    let items = sqlx::query_as(
        "SELECT booking_id, ticket_type_id, qty, price FROM booking_items WHERE booking_id = $1 ORDER BY id",
    )
    .bind(booking)
    .fetch_all(pool)
    .await?;
    let seats = sqlx::query_as(
        "SELECT booking_id, ticket_type_id, seat_id FROM booking_seats WHERE booking_id = $1 ORDER BY id",
    )
    .bind(booking)
    .fetch_all(pool)
    .await?;
    let mut holds = HashMap::new();
    assemble(&mut holds, &rows, items, seats);
    Ok(holds.remove(&booking).map(|hold| (event, hold)))
}

/// The event's ticket types as the engine sees them (also read back by catalog edits, inside
/// their transaction).
pub async fn ticket_types(
    conn: &mut PgConnection,
    event: EventId,
) -> Result<Vec<TicketTypeSpec>, sqlx::Error> {
    let rows: Vec<TypeRow> = sqlx::query_as(
        "SELECT id, qty, price, currency, sale_at, sale_end, max_per_user, status, seat_mapped
         FROM ticket_types WHERE event_id = $1 ORDER BY position, id",
    )
    .bind(event)
    .fetch_all(&mut *conn)
    .await?;
    let seats: Vec<SeatRow> = sqlx::query_as(
        "SELECT id, ticket_type_id, row_index, position, rank FROM seats
         WHERE event_id = $1 ORDER BY ticket_type_id, row_index, position",
    )
    .bind(event)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_type: HashMap<TicketTypeId, Vec<SeatSpec>> = HashMap::new();
    for seat in seats {
        by_type
            .entry(seat.ticket_type_id)
            .or_default()
            .push(SeatSpec {
                id: seat.id,
                row: seat.row_index as u32,
                position: seat.position,
                rank: seat.rank,
            });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let seats = by_type.remove(&row.id).unwrap_or_default();
            // a hidden type, or a seat-mapped one whose map is not drawn yet, is not for sale:
            // its window never opens (its existing bookings still count)
            let closed = row.status != "active" || (row.seat_mapped && seats.is_empty());
            TicketTypeSpec {
                id: row.id,
                capacity: row.qty as u32,
                price: row.price,
                currency: row.currency,
                sale_at: if closed {
                    Some(Millis::MAX)
                } else {
                    row.sale_at.map(|t| t.timestamp_millis())
                },
                sale_end: row.sale_end.map(|t| t.timestamp_millis()),
                max_per_user: row.max_per_user.map(|m| m as u32),
                seats,
            }
        })
        .collect())
}
