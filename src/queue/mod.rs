//! The waiting room of an on-sale: who joined, in what order they are served (a committed,
//! then revealed shuffle of the pre-queue), and who is admitted to hold, at a pace set from
//! what the event's engine has left. One room per event runs on the node owning the event.
pub mod admission;
pub mod http;
pub mod order;
pub mod room;
mod runner;
pub mod store;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use boxoffice_actors::clock::Clock;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::{EventId, UserId};
use boxoffice_actors::inventory::Millis;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use utoipa::ToSchema;

use crate::auth::AddressThrottle;
use crate::cluster::leases::Fences;
use crate::error::{ApiError, Code};
use room::Room;

/// How long the hold path trusts what it read about an event without a room on this node (a
/// queue switched on elsewhere in a cluster is enforced here this much later at most).
const QUEUED_TTL: Duration = Duration::from_secs(2);

/// An event's queue settings (`queue` on the event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueueSettings {
    /// Holds need an admission from the queue.
    pub enabled: bool,
    /// From when buyers may join (the pre-queue).
    pub opens_at: DateTime<Utc>,
    /// When the sale starts: the pre-queue is shuffled and admissions begin.
    pub starts_at: DateTime<Utc>,
    /// How long an admission lasts, in minutes (1 to 240).
    pub admit_minutes: u32,
    /// Most buyers admitted and not yet holding at one time (1 to 100,000).
    pub admit_at_once: u32,
    /// Leading zero bits a join's proof of work needs (0, the default, asks none; up to 24).
    pub challenge_bits: u32,
}

impl QueueSettings {
    pub fn starts_ms(&self) -> Millis {
        self.starts_at.timestamp_millis()
    }

    pub fn opens_ms(&self) -> Millis {
        self.opens_at.timestamp_millis()
    }

    pub fn admit_millis(&self) -> Millis {
        Millis::from(self.admit_minutes) * 60_000
    }
}

/// Why a join did not happen.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the event has no waiting room")]
    NoQueue,
    #[error("the waiting room opens at {0}")]
    NotOpen(DateTime<Utc>),
    #[error("the waiting room is closed")]
    Closed,
    #[error("could not save the queue: {0}")]
    Storage(String),
    #[error("the event's queue moved to another node")]
    Moved,
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match error {
            QueueError::NoQueue => ApiError::not_found("waiting room"),
            QueueError::NotOpen(at) => ApiError::new(
                Code::QueueNotOpen,
                format!("the waiting room opens at {}", at.to_rfc3339()),
            ),
            QueueError::Closed => ApiError::new(Code::QueueNotOpen, "the waiting room is closed"),
            QueueError::Storage(_) => {
                ApiError::new(Code::Unavailable, "could not save your place; retry").retry_after(1)
            }
            QueueError::Moved => {
                ApiError::new(Code::Unavailable, "the queue is moving; retry").retry_after(1)
            }
        }
    }
}

impl From<sqlx::Error> for QueueError {
    fn from(error: sqlx::Error) -> Self {
        QueueError::Storage(error.to_string())
    }
}

/// What the runner is asked.
enum Command {
    Join {
        user: UserId,
        reply: oneshot::Sender<Result<(), QueueError>>,
    },
    /// The settings or the event changed: read them again.
    Reload,
    /// An admitted buyer holds `qty` tickets now.
    Held { user: UserId, qty: u64 },
}

/// A running room: its state, its runner's mailbox, and a version that moves with every
/// committed round (streams wait on it).
pub struct RoomHandle {
    pub room: Arc<RwLock<Room>>,
    commands: mpsc::Sender<Command>,
    pub changed: watch::Receiver<u64>,
    counts: Arc<Notify>,
}

impl RoomHandle {
    /// The room as last committed. Reads never change it, so a panic elsewhere (which poisons
    /// the lock) does not make it unreadable; a runner's panic makes the room be read again.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Room> {
        self.room
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The rooms running on this node, and what they need.
pub struct Queues {
    pool: PgPool,
    engine: Arc<EventDirectory>,
    clock: Arc<dyn Clock>,
    fences: Option<Arc<Fences>>,
    rooms: DashMap<EventId, Arc<RoomHandle>>,
    /// Whether events without a room here have a queue on, as read at the instant kept: the
    /// hold path asks on every hold, and the database only every [`QUEUED_TTL`].
    queued: DashMap<EventId, (bool, std::time::Instant)>,
    /// Signs admission tokens and challenges.
    secret: String,
    joins: AddressThrottle,
}

impl Queues {
    pub fn new(
        pool: PgPool,
        engine: Arc<EventDirectory>,
        fences: Option<Arc<Fences>>,
        secret: String,
        joins_per_ip_per_minute: u32,
    ) -> Arc<Self> {
        let queues = Arc::new(Self {
            pool,
            clock: engine.clock().clone(),
            engine: engine.clone(),
            fences,
            rooms: DashMap::new(),
            queued: DashMap::new(),
            secret,
            joins: AddressThrottle::new(joins_per_ip_per_minute, Duration::from_secs(60)),
        });
        // what the engine commits is what the queue paces by
        let weak = Arc::downgrade(&queues);
        engine.observe(Box::new(move |event, _| {
            if let Some(queues) = weak.upgrade() {
                if let Some(handle) = queues.rooms.get(&event) {
                    handle.counts.notify_one();
                }
            }
        }));
        queues
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn throttle(&self) -> &AddressThrottle {
        &self.joins
    }

    /// The room of `event`, started (and loaded) if it is not running; `None` if the event has
    /// no queue.
    pub async fn room(
        self: &Arc<Self>,
        event: EventId,
    ) -> Result<Option<Arc<RoomHandle>>, QueueError> {
        if let Some(handle) = self.rooms.get(&event) {
            return Ok(Some(handle.clone()));
        }
        // in a cluster a room runs only under the event's lease (the routes forward to its owner)
        self.epoch(event)?;
        let Some(stored) = store::find(&self.pool, event).await? else {
            return Ok(None);
        };
        let rows = store::entries(&self.pool, event).await?;
        let now = self.clock.now();
        let room = tokio::task::spawn_blocking(move || Room::new(event, stored, rows, now))
            .await
            .map_err(|e| QueueError::Storage(e.to_string()))?;
        let handle = match self.rooms.entry(event) {
            dashmap::Entry::Occupied(running) => return Ok(Some(running.get().clone())),
            dashmap::Entry::Vacant(slot) => {
                let (handle, runner) = runner::start(self.clone(), room);
                slot.insert(handle.clone());
                self.supervise(event, &handle, tokio::spawn(runner));
                handle
            }
        };
        Ok(Some(handle))
    }

    /// A runner that panicked leaves its room, which may be half-changed: the room is
    /// forgotten, its streams end (their clients reconnect), and the next request reads it
    /// again from the database, as an event actor rebuilds from its journal.
    fn supervise(
        self: &Arc<Self>,
        event: EventId,
        handle: &Arc<RoomHandle>,
        runner: tokio::task::JoinHandle<()>,
    ) {
        let (queues, handle) = (Arc::downgrade(self), Arc::downgrade(handle));
        tokio::spawn(async move {
            let Err(error) = runner.await else { return };
            tracing::error!(event_id = %event, %error, "queue runner failed; its room is read again on the next request");
            if let (Some(queues), Some(handle)) = (queues.upgrade(), handle.upgrade()) {
                queues
                    .rooms
                    .remove_if(&event, |_, running| Arc::ptr_eq(running, &handle));
            }
        });
    }

    /// Starts the rooms of every queued event (at startup, so a shuffle happens on time).
    pub async fn start_all(self: &Arc<Self>) -> Result<(), QueueError> {
        for event in store::enabled(&self.pool).await? {
            self.room(event).await?;
        }
        Ok(())
    }

    /// The settings or the event changed: a running room reads them again.
    pub fn reload(&self, event: EventId) {
        self.queued.remove(&event);
        if let Some(handle) = self.rooms.get(&event) {
            let _ = handle.commands.try_send(Command::Reload);
        }
    }

    /// Joins `user` (once: joining again changes nothing), answered once durable.
    pub async fn join(
        self: &Arc<Self>,
        event: EventId,
        user: UserId,
    ) -> Result<Arc<RoomHandle>, QueueError> {
        let handle = self.room(event).await?.ok_or(QueueError::NoQueue)?;
        {
            let room = handle.read();
            if room.contains(user) {
                return Ok(handle.clone());
            }
            if room.closed {
                return Err(QueueError::Closed);
            }
            if self.clock.now() < room.settings.opens_ms() {
                return Err(QueueError::NotOpen(room.settings.opens_at));
            }
        }
        let (reply, answer) = oneshot::channel();
        handle
            .commands
            .send(Command::Join { user, reply })
            .await
            .map_err(|_| QueueError::Moved)?;
        answer.await.map_err(|_| QueueError::Moved)??;
        Ok(handle)
    }

    /// Whether holds on `event` need an admission token (its queue is on).
    pub async fn required(self: &Arc<Self>, event: EventId) -> Result<bool, QueueError> {
        if let Some(handle) = self.rooms.get(&event) {
            return Ok(!handle.read().closed);
        }
        if let Some(known) = self.queued.get(&event) {
            if known.1.elapsed() < QUEUED_TTL {
                return Ok(known.0);
            }
        }
        let stored = store::find(&self.pool, event).await?;
        let queued = stored.is_some_and(|s| s.is_open());
        self.queued
            .insert(event, (queued, std::time::Instant::now()));
        Ok(queued)
    }

    /// A hold by an admitted buyer: the room stops counting them as outstanding at once
    /// (the runner also finds holds in the database, for holds taken on another node).
    pub fn held(&self, event: EventId, user: UserId, qty: u64) {
        if let Some(handle) = self.rooms.get(&event) {
            // a full mailbox loses only the hint: the runner also reads holds from the database
            let _ = handle.commands.try_send(Command::Held { user, qty });
        }
    }

    fn epoch(&self, event: EventId) -> Result<Option<i64>, QueueError> {
        match &self.fences {
            None => Ok(None),
            Some(fences) => fences.epoch(event).map(Some).ok_or(QueueError::Moved),
        }
    }

    fn forget(&self, event: EventId) {
        self.rooms.remove(&event);
    }
}
