//! `EventActor`: the single owner of one event's [`EventInventory`]. It decides holds and
//! releases in memory, in mailbox order, group-commits them through the [`Journal`] and answers
//! each buyer only after the batch carrying their decision is durable. One timer, driven by the
//! earliest deadline, expires holds; a panic drops the in-memory state and rebuilds it from
//! the journal (that is its supervision).
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::directory::Shared;
use crate::ids::{BookingId, EventId, SeatId, TicketTypeId, UserId};
use crate::inventory::{
    EventInventory, Hold, HoldRequest, HoldState, InventoryEdit, ItemRequest, Millis, Rejection,
    Stranded, TicketTypeSpec,
};
use crate::journal::{
    Batch, CatalogWrite, Change, EventStatus, Journal, JournalError, Loaded, ReleaseReason, Written,
};
use crate::waitlist::{Waitlist, WaitlistEntry};

/// The engine's knobs, each with its unit in the name.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub hold_seconds: u64,
    /// How long a hold offered to a waiting-list entry lasts.
    pub offer_seconds: u64,
    /// Messages an event actor queues before senders are told to retry (503).
    pub mailbox_capacity: usize,
    /// Decisions in one journal transaction at most.
    pub batch_max: usize,
    /// Write a snapshot after this many committed decisions, or half as many as the event has
    /// live holds if that is more (a snapshot costs as much as the holds it carries)...
    pub snapshot_every_changes: u64,
    /// ...or after this long, if anything changed.
    pub snapshot_every_seconds: u64,
    /// Threads (arbiters) the event actors are spread over.
    pub threads: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            hold_seconds: 900,
            offer_seconds: 600,
            mailbox_capacity: 4096,
            batch_max: 1024,
            snapshot_every_changes: 10_000,
            snapshot_every_seconds: 60,
            threads: 1,
        }
    }
}

/// Why the engine did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum EngineError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("no such event")]
    EventNotFound,
    #[error("the event is cancelled")]
    EventCancelled,
    /// The event's mailbox is full: retry in a moment.
    #[error("too many requests for this event right now")]
    Overloaded,
    /// Storage failed or the actor is rebuilding; nothing was decided.
    #[error("the event's engine is unavailable: {0}")]
    Unavailable(String),
    /// Another node owns the event now; nothing was decided here. Asked again, the directory
    /// finds the new owner.
    #[error("the event moved to another node")]
    Moved,
}

pub type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// Hold admissions; answered with the hold once it is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HoldSeats {
    pub request: HoldRequest,
    pub reply: Reply<Hold>,
}

/// Release a held booking of `user`; answered once the release is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CancelHold {
    pub booking: BookingId,
    pub user: UserId,
    pub reply: Reply<Hold>,
}

/// `user` wants more time for a held booking: its hold lasts `by` from now (never less than it
/// did); answered with the hold once the new deadline is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ExtendHold {
    pub booking: BookingId,
    pub user: UserId,
    pub by: Millis,
    pub reply: Reply<Hold>,
}

/// A payment for `booking` succeeded: sell its admissions. If the hold had already ended,
/// `recorded` (the booking as the journal has it) is sold again when the very same admissions
/// and seats are still free. Confirming twice answers [`Confirmation::AlreadyConfirmed`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConfirmBooking {
    pub booking: BookingId,
    pub recorded: Option<Hold>,
    pub reply: Reply<Confirmation>,
}

/// Some of a sold booking's tickets were refunded: it keeps `keep` admissions per ticket type
/// and the seats in `keep_seats`, the rest goes back on sale. Answered `true` once that is
/// durable, `false` if the booking kept that much already (asked twice).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReturnAdmissions {
    pub kept: Kept,
    pub reply: Reply<bool>,
}

/// Join or leave one of the event's waiting lists; answered once that is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WaitlistRequest {
    pub ask: WaitlistAsk,
    pub reply: Reply<WaitlistAnswer>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistAsk {
    pub user: UserId,
    pub action: WaitlistAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitlistAction {
    /// Wait for `qty` admissions of a ticket type that cannot sell that many now. Asked
    /// again while the entry waits or holds its offer, it answers that entry.
    Join { ticket_type: TicketTypeId, qty: u32 },
    /// Leave the line; an entry holding an offer gives its hold up (the next one gets it).
    Leave { entry: uuid::Uuid },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitlistAnswer {
    Joined { entry: WaitlistEntry, new: bool },
    Left(WaitlistEntry),
}

/// What a sold booking keeps after a refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub booking: BookingId,
    pub keep: Vec<(TicketTypeId, u32)>,
    pub keep_seats: Vec<(TicketTypeId, SeatId)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    Confirmed,
    /// The hold had ended; its admissions were free and are sold now.
    Reinstated,
    AlreadyConfirmed,
}

/// An organizer's change to the event's inventory (capacity, seat map, a ticket type
/// removed). The actor writes out the open batch, refuses the change if it would strand a
/// booking (`edits` say what to check), runs `write` before any further batch and takes the
/// ticket types it hands back; answered with the write's answer.
pub struct EditCatalog<T> {
    pub edits: Vec<InventoryEdit>,
    pub write: CatalogWrite<T>,
    pub reply: oneshot::Sender<Result<T, EditError>>,
}

impl<T: 'static> Message for EditCatalog<T> {
    type Result = ();
}

/// Why a catalog edit did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the change would strand bookings: {0}")]
    Stranded(Stranded),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A catalog edit waiting for the open batch to become durable.
type PendingEdit = Box<dyn FnOnce(&mut EventActor, &mut Context<EventActor>) + Send>;

/// The event or its ticket types changed in the catalog: reload them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload;

/// The node lost the event's lease: the actor answers [`EngineError::Moved`] from now on and
/// stops, without writing anything more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Relinquish;

/// Panics inside the actor's guard. Tests use it to check that a panic rebuilds the actor
/// from the journal without losing anything acknowledged.
#[doc(hidden)]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[derive(Message)]
#[rtype(result = "()")]
struct Flush;

/// Answers one decision's sender once its batch is committed (or failed).
type Waiter = Box<dyn FnOnce(Result<(), EngineError>) + Send>;

enum Phase {
    Loading,
    Ready,
    /// The load failed; retried after a pause, requests answered "unavailable" meanwhile.
    Failed(String),
    Missing,
    /// Another node owns the event: nothing more is decided here.
    Moved,
}

const LOAD_RETRY: Duration = Duration::from_secs(1);

/// The answer to a request whose decision panicked: the actor is rebuilding, nothing decided.
fn restarted() -> EngineError {
    EngineError::Unavailable("the event's engine restarted".into())
}
/// After a failed commit, expiry waits this long before trying again.
const COMMIT_RETRY_MILLIS: Millis = 1_000;

pub struct EventActor {
    event: EventId,
    journal: Arc<dyn Journal>,
    settings: Arc<EngineSettings>,
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    phase: Phase,
    status: EventStatus,
    inventory: EventInventory,
    waitlist: Waitlist,
    /// Journal position of the last committed batch.
    version: u64,
    /// Decisions taken since the last flush, not yet durable.
    open: Vec<Change>,
    waiters: Vec<Waiter>,
    flush_scheduled: bool,
    reload_requested: bool,
    /// Runs once the open batch is durable, before the next one.
    pending_edit: Option<PendingEdit>,
    since_snapshot: u64,
    /// When the last snapshot was taken, by the actor's clock.
    last_snapshot: Millis,
    /// The deadline the expiry timer is set for.
    timer: Option<(Millis, SpawnHandle)>,
    /// No expiry before this (after a failed commit), so a database outage is not hammered.
    quiet_until: Millis,
}

impl EventActor {
    pub(crate) fn new(
        event: EventId,
        journal: Arc<dyn Journal>,
        settings: Arc<EngineSettings>,
        shared: Arc<Shared>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let now = clock.now();
        Self {
            event,
            journal,
            settings,
            shared,
            clock,
            phase: Phase::Loading,
            status: EventStatus::Draft,
            inventory: EventInventory::default(),
            waitlist: Waitlist::default(),
            version: 0,
            open: Vec::new(),
            waiters: Vec::new(),
            flush_scheduled: false,
            reload_requested: false,
            pending_edit: None,
            since_snapshot: 0,
            last_snapshot: now,
            timer: None,
            quiet_until: 0,
        }
    }

    /// Reads the event and its bookings before any other message is taken.
    fn load(&mut self, ctx: &mut Context<Self>) {
        self.phase = Phase::Loading;
        let load = self.journal.load(self.event);
        ctx.wait(load.into_actor(self).map(|result, act, ctx| match result {
            Ok(Some(loaded)) => act.install(loaded, ctx),
            Ok(None) => {
                // new requests start a fresh actor; queued ones still get a clean "not found"
                act.phase = Phase::Missing;
                act.shared.forget(act.event, &ctx.address());
                ctx.run_later(LOAD_RETRY, |_, ctx| ctx.stop());
            }
            Err(error) => {
                tracing::error!(event_id = %act.event, %error, "event actor could not load; retrying");
                act.phase = Phase::Failed(error.to_string());
                ctx.run_later(LOAD_RETRY, |act, ctx| act.load(ctx));
            }
        }));
    }

    fn install(&mut self, loaded: Loaded, ctx: &mut Context<Self>) {
        let started = Instant::now();
        let count = loaded.holds.len();
        let (inventory, errors) = EventInventory::restore(loaded.types, loaded.holds);
        for error in errors {
            // the database constraints make this unreachable short of an engine bug
            tracing::error!(event_id = %self.event, %error, "recorded booking left out of the inventory");
        }
        self.inventory = inventory;
        self.waitlist = Waitlist::new(loaded.waitlist);
        self.status = loaded.status;
        self.version = loaded.version;
        self.phase = Phase::Ready;
        // what a requested reload would read has just been read
        self.reload_requested = false;
        self.publish();
        // seats that came back while nobody decided (a crash between) go to the line first
        self.offer_freed(ctx);
        // an edit that waited through a restart is checked against what was just loaded
        self.between_batches(ctx);
        tracing::info!(event_id = %self.event, bookings = count, version = self.version,
            elapsed_ms = started.elapsed().as_millis() as u64, "event actor ready");
    }

    /// Whether the actor can decide now; if not, why.
    fn ready(&self) -> Result<(), EngineError> {
        match &self.phase {
            Phase::Ready => Ok(()),
            Phase::Loading => Err(EngineError::Unavailable("loading".into())),
            Phase::Failed(cause) => Err(EngineError::Unavailable(cause.clone())),
            Phase::Missing => Err(EngineError::EventNotFound),
            Phase::Moved => Err(EngineError::Moved),
        }
    }

    /// Whether buyers may hold (or wait) now: ready, and the event published.
    fn on_sale(&self) -> Result<(), EngineError> {
        self.ready()?;
        match self.status {
            EventStatus::Published => Ok(()),
            EventStatus::Draft => Err(EngineError::EventNotFound),
            EventStatus::Cancelled => Err(EngineError::EventCancelled),
        }
    }

    /// The event is owned elsewhere now (a commit was fenced, or the lease was lost): what is
    /// not durable is dropped, queued requests are answered `Moved`, and the actor stops.
    fn moved(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.phase, Phase::Moved) {
            return;
        }
        tracing::warn!(event_id = %self.event, "event owned by another node now; this actor stops");
        self.phase = Phase::Moved;
        self.open.clear();
        self.pending_edit = None;
        for waiter in self.waiters.drain(..) {
            waiter(Err(EngineError::Moved));
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        // this node's pages read the new owner's counts (or the database's), not these
        for spec in self.inventory.ticket_types() {
            self.shared.withdraw(spec.id);
        }
        self.shared.forget(self.event, &ctx.address());
        ctx.run_later(LOAD_RETRY, |_, ctx| ctx.stop());
    }

    /// Runs `f`; if it panics, the in-memory state can no longer be trusted, so everything not
    /// yet durable is refused and the actor rebuilds from the journal.
    fn guarded<T>(&mut self, ctx: &mut Context<Self>, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(value) => Some(value),
            Err(_) => {
                tracing::error!(event_id = %self.event, "event actor panicked; rebuilding from the journal");
                self.restart(ctx);
                None
            }
        }
    }

    fn restart(&mut self, ctx: &mut Context<Self>) {
        self.open.clear();
        for waiter in self.waiters.drain(..) {
            waiter(Err(restarted()));
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        self.inventory = EventInventory::default();
        self.waitlist = Waitlist::default();
        self.load(ctx);
    }

    /// Adds a decision to the open batch; the batch flushes once the mailbox is drained (a
    /// notification runs after the queued messages) or when it is full.
    fn enqueue(&mut self, change: Change, waiter: Option<Waiter>, ctx: &mut Context<Self>) {
        self.open.push(change);
        self.waiters.extend(waiter);
        if self.open.len() >= self.settings.batch_max {
            self.flush(ctx);
        } else if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.notify(Flush);
        }
    }

    /// Writes the open batch; the mailbox waits until it is durable, so requests arriving
    /// meanwhile queue up and form the next batch.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        self.flush_scheduled = false;
        if self.open.is_empty() {
            self.between_batches(ctx);
            return;
        }
        let batch = Batch {
            event: self.event,
            version: self.version + 1,
            changes: std::mem::take(&mut self.open),
        };
        let waiters = std::mem::take(&mut self.waiters);
        let commit = self.journal.commit(&batch);
        ctx.wait(commit.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(()) => {
                    act.version = batch.version;
                    act.since_snapshot += batch.changes.len() as u64;
                    // published first, so a buyer who reads the event page after the answer sees it
                    act.publish();
                    for waiter in waiters {
                        waiter(Ok(()));
                    }
                    act.maybe_snapshot(ctx);
                }
                Err(JournalError::Fenced) => {
                    for waiter in waiters {
                        waiter(Err(EngineError::Moved));
                    }
                    act.moved(ctx);
                    return;
                }
                Err(error) => {
                    tracing::error!(event_id = %act.event, %error, decisions = batch.changes.len(),
                        "journal commit failed; undoing the batch");
                    act.quiet_until = act.clock.now() + COMMIT_RETRY_MILLIS;
                    for waiter in waiters {
                        waiter(Err(EngineError::Unavailable(
                            "could not save the booking; retry".into(),
                        )));
                    }
                    if act.guarded(ctx, |act| act.undo(&batch.changes)) == Some(false) {
                        act.restart(ctx);
                        return;
                    }
                }
            }
            act.between_batches(ctx);
        }));
    }

    /// What waits for the open batch to be durable: an organizer's edit first, then a reload;
    /// with neither, the expiry timer is set again.
    fn between_batches(&mut self, ctx: &mut Context<Self>) {
        if !matches!(self.phase, Phase::Ready) {
            // rebuilding: `install` comes back here once the journal is read
            return;
        }
        if let Some(edit) = self.pending_edit.take() {
            edit(self, ctx);
        } else if self.reload_requested {
            self.reload_requested = false;
            self.load(ctx);
        } else {
            self.arm_timer(ctx);
        }
    }

    /// Checks the edit against the inventory, then runs its write while the mailbox waits, so
    /// the next batch sees the new catalog in memory and in the database alike.
    fn edit<T: Send + 'static>(&mut self, msg: EditCatalog<T>, ctx: &mut Context<Self>) {
        let EditCatalog {
            edits,
            write,
            reply,
        } = msg;
        if let Err(stranded) = edits
            .iter()
            .try_for_each(|edit| self.inventory.check_edit(edit))
        {
            let _ = reply.send(Err(EditError::Stranded(stranded)));
            self.between_batches(ctx);
            return;
        }
        ctx.wait(write().into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(Written { types, answer }) => {
                    if let Some(types) = types {
                        act.take_types(types, ctx);
                    }
                    let _ = reply.send(Ok(answer));
                }
                Err(JournalError::Fenced) => {
                    let _ = reply.send(Err(EditError::Engine(EngineError::Moved)));
                    act.moved(ctx);
                    return;
                }
                Err(error) => {
                    tracing::error!(event_id = %act.event, %error, "catalog edit failed");
                    let _ = reply.send(Err(EditError::Engine(EngineError::Unavailable(
                        "could not save the change; retry".into(),
                    ))));
                }
            }
            act.between_batches(ctx);
        }));
    }

    /// Puts the ticket types a catalog write handed back in place and publishes them.
    fn take_types(&mut self, types: Vec<TicketTypeSpec>, ctx: &mut Context<Self>) {
        let before: Vec<TicketTypeId> = self.inventory.ticket_types().map(|t| t.id).collect();
        match self.guarded(ctx, |act| act.inventory.retype(types)) {
            Some(Ok(())) => {
                for gone in before {
                    if self.inventory.counts(gone).is_none() {
                        self.shared.withdraw(gone);
                    }
                }
                // a capacity raised is offered to the line first
                self.offer_freed(ctx);
                self.publish();
            }
            Some(Err(stranded)) => {
                // checked before the write, so only a catalog changed behind the engine's back
                // gets here: the journal has the truth
                tracing::error!(event_id = %self.event, %stranded, "catalog edit does not fit the inventory; reloading");
                self.restart(ctx);
            }
            None => {}
        }
    }

    /// Takes back decisions that did not become durable, newest first. `false` if one could
    /// not be taken back (the caller then rebuilds from the journal).
    fn undo(&mut self, changes: &[Change]) -> bool {
        changes.iter().rev().all(|change| match change {
            Change::Held(hold) => self.inventory.release(hold.booking).is_ok(),
            Change::Released { hold, .. } => self.inventory.place(hold.clone()).is_ok(),
            Change::Extended { hold, from } => {
                self.inventory.reschedule(hold.booking, *from).is_ok()
            }
            Change::Confirmed(hold) => self.inventory.unconfirm(hold.booking).is_ok(),
            Change::Reinstated(hold) => self.inventory.forget(hold.booking).is_some(),
            Change::Returned { before, after } => {
                self.inventory.forget(after.booking);
                self.inventory.place(before.clone()).is_ok()
            }
            Change::WaitlistJoined(entry) => {
                self.waitlist.remove(entry);
                true
            }
            Change::WaitlistOffered { entry, .. } => {
                self.waitlist.remove(entry);
                self.waitlist.put(WaitlistEntry {
                    offer: None,
                    ..entry.clone()
                });
                true
            }
            Change::WaitlistLeft(entry) | Change::WaitlistDropped(entry) => {
                self.waitlist.put(entry.clone());
                true
            }
        })
    }

    /// Snapshots are spaced by at least half as many decisions as they carry holds, so writing
    /// them costs O(1) per decision however large the event (a growing event's snapshots double
    /// in size), and recovery reads one snapshot plus a bounded share of journal rows.
    fn maybe_snapshot(&mut self, ctx: &mut Context<Self>) {
        let every = self
            .settings
            .snapshot_every_changes
            .max(self.inventory.hold_count() as u64 / 2);
        let due = self.since_snapshot >= every
            || (self.since_snapshot > 0
                && self.clock.now() - self.last_snapshot
                    >= Millis::try_from(self.settings.snapshot_every_seconds)
                        .unwrap_or(Millis::MAX)
                        .saturating_mul(1000));
        if !due {
            return;
        }
        self.since_snapshot = 0;
        self.last_snapshot = self.clock.now();
        let write = self
            .journal
            .snapshot(self.event, self.version, self.inventory.snapshot());
        let event = self.event;
        // a snapshot only shortens recovery, so the mailbox does not wait for it
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Err(JournalError::Fenced) => act.moved(ctx),
                    Err(error) => tracing::warn!(event_id = %event, %error, "snapshot not written"),
                    Ok(()) => {}
                }),
        );
    }

    /// Publishes the committed counts to the read model that event pages use.
    fn publish(&self) {
        let counts: Vec<(TicketTypeId, TypeCounts)> = self
            .inventory
            .ticket_types()
            .filter_map(|spec| {
                let (held, sold, capacity) = self.inventory.counts(spec.id)?;
                Some((
                    spec.id,
                    TypeCounts {
                        capacity,
                        held,
                        sold,
                    },
                ))
            })
            .collect();
        self.shared.publish(self.event, &counts);
    }

    /// Points the single expiry timer at the earliest deadline.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let next = self
            .inventory
            .next_expiry()
            .map(|at| at.max(self.quiet_until));
        if self.timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        if let Some((_, handle)) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        if let Some(at) = next {
            let due = self.clock.sleep_until(at).into_actor(self);
            let handle = ctx.spawn(due.map(|(), act, ctx| {
                act.timer = None;
                act.expire_due(ctx);
            }));
            self.timer = Some((at, handle));
        }
    }

    fn expire_due(&mut self, ctx: &mut Context<Self>) {
        if self.ready().is_err() {
            return;
        }
        let now = self.clock.now();
        if let Some(expired) = self.guarded(ctx, |act| act.inventory.expire(now)) {
            for hold in expired {
                self.enqueue(
                    Change::Released {
                        hold,
                        reason: ReleaseReason::Expired,
                    },
                    None,
                    ctx,
                );
            }
            self.offer_freed(ctx);
            self.arm_timer(ctx);
        }
    }

    /// Offers admissions that are free to the waiting lists, first in line first: each entry
    /// whose quantity fits gets a hold of its own for `offer_seconds`, in the open batch. An
    /// entry that cannot be served any more (its sale ended, a limit) lapses.
    fn offer_freed(&mut self, ctx: &mut Context<Self>) {
        if self.waitlist.nobody_waiting() || self.status != EventStatus::Published {
            return;
        }
        let inventory = &self.inventory;
        let fitting = self.waitlist.fitting(|ticket_type| {
            inventory
                .counts(ticket_type)
                .map_or(0, |(held, sold, capacity)| {
                    capacity.saturating_sub(held + sold)
                })
        });
        if fitting.is_empty() {
            return;
        }
        let now = self.clock.now();
        let expires_at = now + (self.settings.offer_seconds as Millis) * 1000;
        for entry in fitting {
            let request = HoldRequest {
                booking: BookingId::new(),
                user: entry.user,
                items: vec![ItemRequest {
                    ticket_type: entry.ticket_type,
                    qty: entry.qty,
                    seats: Vec::new(),
                }],
                max_per_order: entry.qty,
                promo: None,
            };
            let Some(decision) = self.guarded(ctx, |act| {
                act.inventory.hold(&request, now, expires_at).cloned()
            }) else {
                return;
            };
            match decision {
                Ok(hold) => {
                    let offered = self.waitlist.offered(&entry, hold.booking);
                    self.enqueue(Change::Held(hold), None, ctx);
                    self.enqueue(
                        Change::WaitlistOffered {
                            entry: offered,
                            expires_at,
                        },
                        None,
                        ctx,
                    );
                }
                // an entry before took what was left
                Err(Rejection::SoldOut | Rejection::SeatTaken(_)) => {}
                Err(rejection) => {
                    tracing::info!(event_id = %self.event, entry = %entry.id, %rejection,
                        "waiting-list entry cannot be served; it lapses");
                    self.waitlist.remove(&entry);
                    self.enqueue(Change::WaitlistDropped(entry), None, ctx);
                }
            }
        }
        self.arm_timer(ctx);
    }

    /// Decides a join or a leave: the changes to journal (none when the buyer joined before)
    /// and the answer once they are durable.
    fn waitlist_decision(
        &mut self,
        ask: &WaitlistAsk,
    ) -> Result<(Vec<Change>, WaitlistAnswer), Rejection> {
        match ask.action {
            WaitlistAction::Join { ticket_type, qty } => {
                let (held, sold, capacity) = self
                    .inventory
                    .counts(ticket_type)
                    .ok_or(Rejection::UnknownTicketType(ticket_type))?;
                if let Some(entry) = self.waitlist.active(&self.inventory, ask.user, ticket_type) {
                    let answer = WaitlistAnswer::Joined {
                        entry: entry.clone(),
                        new: false,
                    };
                    return Ok((Vec::new(), answer));
                }
                let spec = self
                    .inventory
                    .ticket_types()
                    .find(|t| t.id == ticket_type)
                    .ok_or(Rejection::UnknownTicketType(ticket_type))?;
                if spec.sale_end.is_some_and(|end| self.clock.now() >= end) {
                    return Err(Rejection::SaleNotOpen);
                }
                if qty == 0 || qty > capacity {
                    return Err(Rejection::InvalidRequest);
                }
                let available = capacity.saturating_sub(held + sold);
                if available >= qty {
                    return Err(Rejection::NotSoldOut { available });
                }
                let entry = WaitlistEntry {
                    id: uuid::Uuid::now_v7(),
                    user: ask.user,
                    ticket_type,
                    qty,
                    offer: None,
                };
                self.waitlist.put(entry.clone());
                let answer = WaitlistAnswer::Joined {
                    entry: entry.clone(),
                    new: true,
                };
                Ok((vec![Change::WaitlistJoined(entry)], answer))
            }
            WaitlistAction::Leave { entry } => {
                if let Some(left) = self.waitlist.leave(entry, ask.user) {
                    return Ok((
                        vec![Change::WaitlistLeft(left.clone())],
                        WaitlistAnswer::Left(left),
                    ));
                }
                // an offer given up: its hold ends, and the entry with it
                let left = self
                    .waitlist
                    .take_offer(entry, ask.user)
                    .ok_or(Rejection::UnknownWaitlistEntry)?;
                let booking = left.offer.expect("an offered entry has its booking");
                let hold = match self.inventory.hold_of(booking) {
                    Some(hold) if hold.state == HoldState::Held => {
                        self.inventory.release(booking)?
                    }
                    // the offer ended already (expired, or bought)
                    _ => return Err(Rejection::UnknownWaitlistEntry),
                };
                Ok((
                    vec![
                        Change::Released {
                            hold,
                            reason: ReleaseReason::Cancelled,
                        },
                        Change::WaitlistLeft(left.clone()),
                    ],
                    WaitlistAnswer::Left(left),
                ))
            }
        }
    }

    /// Replies to `reply` once `change` is durable, with `value`.
    fn waiter<T: Send + 'static>(reply: Reply<T>, value: T) -> Waiter {
        Box::new(move |outcome| {
            let _ = reply.send(outcome.map(|()| value));
        })
    }
}

/// Admissions of one ticket type as of the last commit: what event pages show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    pub capacity: u32,
    pub held: u32,
    pub sold: u32,
}

impl TypeCounts {
    pub fn available(&self) -> u32 {
        self.capacity.saturating_sub(self.held + self.sold)
    }
}

impl Actor for EventActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.load(ctx);
    }
}

impl Handler<HoldSeats> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: HoldSeats, ctx: &mut Context<Self>) {
        let HoldSeats { request, reply } = msg;
        if let Err(error) = self.on_sale() {
            let _ = reply.send(Err(error));
            return;
        }
        let now = self.clock.now();
        let expires_at = now + (self.settings.hold_seconds as Millis) * 1000;
        let Some(decision) = self.guarded(ctx, |act| {
            act.inventory.hold(&request, now, expires_at).cloned()
        }) else {
            let _ = reply.send(Err(restarted()));
            return;
        };
        match decision {
            Ok(hold) => {
                let waiter = Self::waiter(reply, hold.clone());
                self.enqueue(Change::Held(hold), Some(waiter), ctx);
                self.arm_timer(ctx);
            }
            Err(rejection) => {
                let _ = reply.send(Err(rejection.into()));
            }
        }
    }
}

impl Handler<CancelHold> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: CancelHold, ctx: &mut Context<Self>) {
        let CancelHold {
            booking,
            user,
            reply,
        } = msg;
        if let Err(error) = self.ready() {
            let _ = reply.send(Err(error));
            return;
        }
        let decision = self.guarded(ctx, |act| match act.inventory.hold_of(booking) {
            Some(hold) if hold.user != user => Err(Rejection::UnknownBooking),
            Some(hold) if hold.state == HoldState::Confirmed => Err(Rejection::AlreadyConfirmed),
            _ => act.inventory.release(booking),
        });
        match decision {
            Some(Ok(hold)) => {
                let waiter = Self::waiter(reply, hold.clone());
                self.enqueue(
                    Change::Released {
                        hold,
                        reason: ReleaseReason::Cancelled,
                    },
                    Some(waiter),
                    ctx,
                );
                self.offer_freed(ctx);
                self.arm_timer(ctx);
            }
            Some(Err(rejection)) => {
                let _ = reply.send(Err(rejection.into()));
            }
            None => {
                let _ = reply.send(Err(restarted()));
            }
        }
    }
}

impl Handler<ExtendHold> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: ExtendHold, ctx: &mut Context<Self>) {
        let ExtendHold {
            booking,
            user,
            by,
            reply,
        } = msg;
        if let Err(error) = self.ready() {
            let _ = reply.send(Err(error));
            return;
        }
        let now = self.clock.now();
        let decision = self.guarded(ctx, |act| match act.inventory.hold_of(booking) {
            Some(hold) if hold.user != user => Err(Rejection::UnknownBooking),
            Some(hold) if hold.state == HoldState::Confirmed => Err(Rejection::AlreadyConfirmed),
            // a hold whose deadline passed is ending, even if the timer has not run yet
            Some(hold) if hold.expires_at <= now => Err(Rejection::UnknownBooking),
            Some(hold) => {
                let from = hold.expires_at;
                let until = from.max(now + by);
                act.inventory
                    .reschedule(booking, until)
                    .map(|hold| (hold.clone(), from))
            }
            None => Err(Rejection::UnknownBooking),
        });
        match decision {
            Some(Ok((hold, from))) => {
                let waiter = Self::waiter(reply, hold.clone());
                self.enqueue(Change::Extended { hold, from }, Some(waiter), ctx);
                self.arm_timer(ctx);
            }
            Some(Err(rejection)) => {
                let _ = reply.send(Err(rejection.into()));
            }
            None => {
                let _ = reply.send(Err(restarted()));
            }
        }
    }
}

impl Handler<ConfirmBooking> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: ConfirmBooking, ctx: &mut Context<Self>) {
        let ConfirmBooking {
            booking,
            recorded,
            reply,
        } = msg;
        if let Err(error) = self.ready() {
            let _ = reply.send(Err(error));
            return;
        }
        let decision = self.guarded(ctx, |act| match act.inventory.confirm(booking) {
            Ok(hold) => Ok((Change::Confirmed(hold.clone()), Confirmation::Confirmed)),
            Err(Rejection::AlreadyConfirmed) => Err(Ok(Confirmation::AlreadyConfirmed)),
            Err(Rejection::UnknownBooking) => match &recorded {
                Some(recorded) => act
                    .inventory
                    .reinstate(recorded)
                    .map(|hold| (Change::Reinstated(hold.clone()), Confirmation::Reinstated))
                    .map_err(Err),
                None => Err(Err(Rejection::UnknownBooking)),
            },
            Err(other) => Err(Err(other)),
        });
        match decision {
            Some(Ok((change, outcome))) => {
                let waiter = Self::waiter(reply, outcome);
                self.enqueue(change, Some(waiter), ctx);
                self.arm_timer(ctx);
            }
            Some(Err(Ok(outcome))) => {
                let _ = reply.send(Ok(outcome));
            }
            Some(Err(Err(rejection))) => {
                let _ = reply.send(Err(rejection.into()));
            }
            None => {
                let _ = reply.send(Err(restarted()));
            }
        }
    }
}

impl Handler<ReturnAdmissions> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: ReturnAdmissions, ctx: &mut Context<Self>) {
        let ReturnAdmissions { kept, reply } = msg;
        if let Err(error) = self.ready() {
            let _ = reply.send(Err(error));
            return;
        }
        match self.guarded(ctx, |act| {
            act.inventory
                .keep_only(kept.booking, &kept.keep, &kept.keep_seats)
        }) {
            Some(Ok(Some((before, after)))) => {
                let waiter = Self::waiter(reply, true);
                self.enqueue(Change::Returned { before, after }, Some(waiter), ctx);
                self.offer_freed(ctx);
            }
            Some(Ok(None)) => {
                let _ = reply.send(Ok(false));
            }
            Some(Err(rejection)) => {
                let _ = reply.send(Err(rejection.into()));
            }
            None => {
                let _ = reply.send(Err(restarted()));
            }
        }
    }
}

impl Handler<WaitlistRequest> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: WaitlistRequest, ctx: &mut Context<Self>) {
        let WaitlistRequest { ask, reply } = msg;
        if let Err(error) = self.on_sale() {
            let _ = reply.send(Err(error));
            return;
        }
        match self.guarded(ctx, |act| act.waitlist_decision(&ask)) {
            Some(Ok((changes, answer))) if changes.is_empty() => {
                let _ = reply.send(Ok(answer));
            }
            Some(Ok((changes, answer))) => {
                let frees = matches!(
                    answer,
                    WaitlistAnswer::Left(WaitlistEntry { offer: Some(_), .. })
                );
                let last = changes.len() - 1;
                let mut waiter = Some(Self::waiter(reply, answer));
                for (i, change) in changes.into_iter().enumerate() {
                    let waiter = if i == last { waiter.take() } else { None };
                    self.enqueue(change, waiter, ctx);
                }
                if frees {
                    self.offer_freed(ctx);
                    self.arm_timer(ctx);
                }
            }
            Some(Err(rejection)) => {
                let _ = reply.send(Err(rejection.into()));
            }
            None => {
                let _ = reply.send(Err(restarted()));
            }
        }
    }
}

impl<T: Send + 'static> Handler<EditCatalog<T>> for EventActor {
    type Result = ();

    fn handle(&mut self, msg: EditCatalog<T>, ctx: &mut Context<Self>) {
        if let Err(error) = self.ready() {
            let _ = msg.reply.send(Err(error.into()));
            return;
        }
        if self.pending_edit.is_some() {
            // unreachable: the mailbox waits while an edit is pending
            let _ = msg.reply.send(Err(EngineError::Unavailable(
                "another change is being saved; retry".into(),
            )
            .into()));
            return;
        }
        self.pending_edit = Some(Box::new(
            move |act: &mut EventActor, ctx: &mut Context<EventActor>| act.edit(msg, ctx),
        ));
        self.flush(ctx);
    }
}

impl Handler<Reload> for EventActor {
    type Result = ();

    fn handle(&mut self, _: Reload, ctx: &mut Context<Self>) {
        // what is decided but not yet durable is written first, then everything is read back
        self.reload_requested = true;
        self.flush(ctx);
    }
}

impl Handler<Relinquish> for EventActor {
    type Result = ();

    fn handle(&mut self, _: Relinquish, ctx: &mut Context<Self>) {
        self.moved(ctx);
    }
}

impl Handler<Crash> for EventActor {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        self.guarded(ctx, |_| panic!("crash requested"));
    }
}

impl Handler<Flush> for EventActor {
    type Result = ();

    fn handle(&mut self, _: Flush, ctx: &mut Context<Self>) {
        if self.flush_scheduled {
            self.flush(ctx);
        }
    }
}
