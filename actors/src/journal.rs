//! The engine's port to durable storage. The event actor decides in memory and hands each batch
//! of decisions to a [`Journal`], which makes it durable in one transaction; recovery asks the
//! journal for the event, its ticket types and every booking that still holds or owns seats.
//! Organizers' catalog edits are [`CatalogWrite`]s the actor runs between two batches.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::ids::{BookingId, EventId};
use crate::inventory::{Hold, Millis, TicketTypeSpec};
use crate::waitlist::WaitlistEntry;

/// A future the journal hands back; it owns everything it needs.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why the journal did not write (or read): the batch (or the load) did not happen.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal: {0}")]
    Storage(String),
    /// Another node owns the event now (its lease carries a newer epoch), so this actor may
    /// never write for it again.
    #[error("journal: the event is owned by another node now")]
    Fenced,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventStatus {
    /// Not visible to buyers yet: holds answer "not found".
    Draft,
    Published,
    /// No new holds; existing bookings stay as they are.
    Cancelled,
}

/// Everything an event actor needs to start: the event as the catalog defines it and the
/// bookings that hold or own admissions, as of journal position `version`.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub status: EventStatus,
    pub types: Vec<TicketTypeSpec>,
    pub holds: Vec<Hold>,
    /// Waiting-list entries still waiting or offered, in any order.
    pub waitlist: Vec<WaitlistEntry>,
    pub version: u64,
}

/// Why a hold stopped holding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseReason {
    Expired,
    Cancelled,
}

impl ReleaseReason {
    /// The booking status it leaves behind.
    pub fn status(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One decision of the event actor.
#[derive(Clone, Debug)]
pub enum Change {
    Held(Hold),
    Released {
        hold: Hold,
        reason: ReleaseReason,
    },
    /// The buyer asked for more time: the hold (still held) lasts until its new `expires_at`
    /// instead of `from`.
    Extended {
        hold: Hold,
        from: Millis,
    },
    /// Paid: the hold's admissions are sold.
    Confirmed(Hold),
    /// Paid after the hold had ended, and the very same admissions were still free: sold again.
    Reinstated(Hold),
    /// Some or all of a sold booking's admissions were refunded and are on sale again; `after`
    /// is what it keeps (no admissions: the booking is refunded in full).
    Returned {
        before: Hold,
        after: Hold,
    },
    /// A buyer joined a ticket type's waiting list.
    WaitlistJoined(WaitlistEntry),
    /// Admissions came back and went to this entry as a hold of its own (the `Held` before it
    /// in the same batch), until `expires_at`.
    WaitlistOffered {
        entry: WaitlistEntry,
        expires_at: Millis,
    },
    /// The buyer left the line.
    WaitlistLeft(WaitlistEntry),
    /// The entry cannot be served any more (its type's sale ended, a limit it would pass): it
    /// lapses.
    WaitlistDropped(WaitlistEntry),
}

impl Change {
    /// The booking it changes, if it changes one.
    pub fn booking(&self) -> Option<BookingId> {
        match self {
            Change::Held(hold)
            | Change::Released { hold, .. }
            | Change::Extended { hold, .. }
            | Change::Confirmed(hold)
            | Change::Reinstated(hold)
            | Change::Returned { after: hold, .. } => Some(hold.booking),
            Change::WaitlistOffered { entry, .. } => entry.offer,
            Change::WaitlistJoined(_) | Change::WaitlistLeft(_) | Change::WaitlistDropped(_) => {
                None
            }
        }
    }
}

/// Decisions written together; `version` orders batches of one event.
#[derive(Debug)]
pub struct Batch {
    pub event: EventId,
    pub version: u64,
    pub changes: Vec<Change>,
}

pub trait Journal: Send + Sync + 'static {
    /// The event and its live bookings, or `None` if no such event exists.
    fn load(&self, event: EventId) -> BoxFuture<Result<Option<Loaded>, JournalError>>;

    /// Writes the whole batch in one transaction, or nothing.
    fn commit(&self, batch: &Batch) -> BoxFuture<Result<(), JournalError>>;

    /// Stores the bookings as of `version` so that recovery replays only what came after.
    fn snapshot(
        &self,
        event: EventId,
        version: u64,
        holds: Vec<Arc<Hold>>,
    ) -> BoxFuture<Result<(), JournalError>>;
}

/// What an organizer's catalog write hands back to the event actor: the event's ticket types
/// as they now are (`None` if the write changed nothing, e.g. it refused), and the answer
/// for whoever asked, which the engine passes on without looking at it.
pub struct Written<T> {
    pub types: Option<Vec<TicketTypeSpec>>,
    pub answer: T,
}

/// A change to the event's catalog (seat maps, capacities, ticket types), made durable by the
/// server in one transaction. The event actor runs it between two batches, so no batch can
/// name a seat or ticket type while it is being removed.
pub type CatalogWrite<T> = Box<dyn FnOnce() -> BoxFuture<Result<Written<T>, JournalError>> + Send>;
