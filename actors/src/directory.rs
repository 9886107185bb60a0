//! `EventDirectory`: finds or starts the one actor of an event, sends it requests without ever
//! queueing past its mailbox capacity, and keeps the live availability read model that event
//! pages read without asking any actor. In a cluster a [`Placement`] says which node owns an
//! event; requests for an event owned elsewhere go to that node's [`RemoteEngine`].
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use actix::dev::channel;
use actix::prelude::*;
use actix::{Arbiter, ArbiterHandle};
use dashmap::DashMap;
use tokio::sync::oneshot;

use crate::clock::Clock;
use crate::event_actor::{
    CancelHold, ConfirmBooking, Confirmation, Crash, EditCatalog, EditError, EngineError,
    EngineSettings, EventActor, ExtendHold, HoldSeats, Kept, Relinquish, Reload, Reply,
    ReturnAdmissions, TypeCounts, WaitlistAnswer, WaitlistAsk, WaitlistRequest,
};
use crate::ids::{BookingId, EventId, TicketTypeId, UserId};
use crate::inventory::{Hold, HoldRequest, InventoryEdit, Millis};
use crate::journal::{BoxFuture, CatalogWrite, Journal};

/// Where an event's actor runs.
pub enum Place {
    /// This node owns the event: its actor runs here.
    Here,
    /// Another node owns it.
    There(Arc<dyn RemoteEngine>),
}

/// Which node owns which event (the server's leases). Without one, every event is here.
pub trait Placement: Send + Sync + 'static {
    /// Where `event` is owned, taking it for this node if nobody owns it. With `here_only`
    /// (a request another node forwarded) it never answers `There`: an event owned elsewhere
    /// is [`EngineError::Moved`], so a request travels one hop at most.
    fn place(&self, event: EventId, here_only: bool) -> BoxFuture<Result<Place, EngineError>>;

    /// Whoever was thought to own `event` answered [`EngineError::Moved`]: forget it.
    fn lost(&self, event: EventId);

    /// The epoch (fencing token) this node owns `event` under, if it owns it: writes for the
    /// event outside the journal (an organizer's catalog edit) check it too.
    fn epoch(&self, event: EventId) -> Option<i64>;
}

/// The engine of the node that owns an event, reached over the network.
pub trait RemoteEngine: Send + Sync + 'static {
    fn hold(&self, event: EventId, request: HoldRequest) -> BoxFuture<Result<Hold, EngineError>>;
    fn cancel(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
    ) -> BoxFuture<Result<Hold, EngineError>>;
    fn extend(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        by: Millis,
    ) -> BoxFuture<Result<Hold, EngineError>>;
    fn confirm(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
    ) -> BoxFuture<Result<Confirmation, EngineError>>;
    fn return_admissions(&self, event: EventId, kept: Kept)
        -> BoxFuture<Result<bool, EngineError>>;
    fn waitlist(
        &self,
        event: EventId,
        ask: WaitlistAsk,
    ) -> BoxFuture<Result<WaitlistAnswer, EngineError>>;
    fn reload(&self, event: EventId) -> BoxFuture<Result<(), EngineError>>;
}

/// Told the counts an actor just committed: in a cluster they are passed on to the other nodes.
pub type Observer = Box<dyn Fn(EventId, &[(TicketTypeId, TypeCounts)]) + Send + Sync>;

/// What the directory and its actors share.
#[derive(Default)]
pub struct Shared {
    /// One address per running actor. Senders use this very address rather than clones: every
    /// clone of an address is a sender with a slot of its own, which would let the queue grow
    /// past its capacity.
    actors: DashMap<EventId, Addr<EventActor>>,
    availability: DashMap<TicketTypeId, TypeCounts>,
    observers: std::sync::RwLock<Vec<Observer>>,
}

impl Shared {
    /// Forgets the actor `addr` of `event`, unless another has taken its place meanwhile.
    pub(crate) fn forget(&self, event: EventId, addr: &Addr<EventActor>) {
        self.actors.remove_if(&event, |_, running| running == addr);
    }

    /// A ticket type that no longer exists leaves the read model.
    pub(crate) fn withdraw(&self, ticket_type: TicketTypeId) {
        self.availability.remove(&ticket_type);
    }

    pub(crate) fn publish(&self, event: EventId, counts: &[(TicketTypeId, TypeCounts)]) {
        for &(ticket_type, counts) in counts {
            self.availability.insert(ticket_type, counts);
        }
        for observer in self.observers.read().expect("observers lock").iter() {
            observer(event, counts);
        }
    }
}

pub struct EventDirectory {
    shared: Arc<Shared>,
    journal: Arc<dyn Journal>,
    settings: Arc<EngineSettings>,
    clock: Arc<dyn Clock>,
    arbiters: Vec<Arbiter>,
    placement: Option<Arc<dyn Placement>>,
}

impl EventDirectory {
    /// Starts `settings.threads` engine threads. Must run inside an actix system. Every actor
    /// takes its time from `clock`.
    pub fn new(journal: Arc<dyn Journal>, settings: EngineSettings, clock: Arc<dyn Clock>) -> Self {
        let arbiters = (0..settings.threads.max(1))
            .map(|_| Arbiter::new())
            .collect();
        Self {
            shared: Arc::default(),
            journal,
            settings: Arc::new(settings),
            clock,
            arbiters,
            placement: None,
        }
    }

    /// Events are owned as `placement` says (a cluster's leases), not all here.
    pub fn placed_by(mut self, placement: Arc<dyn Placement>) -> Self {
        self.placement = Some(placement);
        self
    }

    /// Who owns which event, in a cluster.
    pub fn placement(&self) -> Option<Arc<dyn Placement>> {
        self.placement.clone()
    }

    /// `observer` is told every event's counts after each commit (from then on).
    pub fn observe(&self, observer: Observer) {
        self.shared
            .observers
            .write()
            .expect("observers lock")
            .push(observer);
    }

    /// Counts another node's actor committed, for this node's read model.
    pub fn counted_elsewhere(&self, ticket_type: TicketTypeId, counts: TypeCounts) {
        self.shared.availability.insert(ticket_type, counts);
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The time the engine decides by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Holds admissions; the answer comes once the hold is durable.
    pub async fn hold(&self, event: EventId, request: HoldRequest) -> Result<Hold, EngineError> {
        self.hold_placed(event, request, false).await
    }

    /// [`Self::hold`] for a request another node forwarded: answered here or not at all.
    pub async fn hold_here(
        &self,
        event: EventId,
        request: HoldRequest,
    ) -> Result<Hold, EngineError> {
        self.hold_placed(event, request, true).await
    }

    async fn hold_placed(
        &self,
        event: EventId,
        request: HoldRequest,
        here_only: bool,
    ) -> Result<Hold, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| HoldSeats {
                request: request.clone(),
                reply,
            },
            |remote| remote.hold(event, request.clone()),
        )
        .await
    }

    /// Releases `user`'s held booking; the answer comes once the release is durable.
    pub async fn cancel(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
    ) -> Result<Hold, EngineError> {
        self.cancel_placed(event, booking, user, false).await
    }

    /// [`Self::cancel`] for a request another node forwarded.
    pub async fn cancel_here(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
    ) -> Result<Hold, EngineError> {
        self.cancel_placed(event, booking, user, true).await
    }

    async fn cancel_placed(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        here_only: bool,
    ) -> Result<Hold, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| CancelHold {
                booking,
                user,
                reply,
            },
            |remote| remote.cancel(event, booking, user),
        )
        .await
    }

    /// Gives `user`'s held booking `by` more from now; the answer comes once the new deadline
    /// is durable.
    pub async fn extend(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        by: Millis,
    ) -> Result<Hold, EngineError> {
        self.extend_placed(event, booking, user, by, false).await
    }

    /// [`Self::extend`] for a request another node forwarded.
    pub async fn extend_here(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        by: Millis,
    ) -> Result<Hold, EngineError> {
        self.extend_placed(event, booking, user, by, true).await
    }

    async fn extend_placed(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        by: Millis,
        here_only: bool,
    ) -> Result<Hold, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| ExtendHold {
                booking,
                user,
                by,
                reply,
            },
            |remote| remote.extend(event, booking, user, by),
        )
        .await
    }

    /// Sells a paid booking's admissions (reinstating `recorded` if its hold had ended); the
    /// answer comes once the sale is durable.
    pub async fn confirm(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
    ) -> Result<Confirmation, EngineError> {
        self.confirm_placed(event, booking, recorded, false).await
    }

    /// [`Self::confirm`] for a request another node forwarded.
    pub async fn confirm_here(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
    ) -> Result<Confirmation, EngineError> {
        self.confirm_placed(event, booking, recorded, true).await
    }

    async fn confirm_placed(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
        here_only: bool,
    ) -> Result<Confirmation, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| ConfirmBooking {
                booking,
                recorded: recorded.clone(),
                reply,
            },
            |remote| remote.confirm(event, booking, recorded.clone()),
        )
        .await
    }

    /// Cuts a sold booking down to what it keeps after a refund; the rest goes back on sale.
    /// `Ok(false)`: it kept no more than that already.
    pub async fn return_admissions(&self, event: EventId, kept: Kept) -> Result<bool, EngineError> {
        self.return_placed(event, kept, false).await
    }

    /// [`Self::return_admissions`] for a request another node forwarded.
    pub async fn return_admissions_here(
        &self,
        event: EventId,
        kept: Kept,
    ) -> Result<bool, EngineError> {
        self.return_placed(event, kept, true).await
    }

    async fn return_placed(
        &self,
        event: EventId,
        kept: Kept,
        here_only: bool,
    ) -> Result<bool, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| ReturnAdmissions {
                kept: kept.clone(),
                reply,
            },
            |remote| remote.return_admissions(event, kept.clone()),
        )
        .await
    }

    /// Joins or leaves one of the event's waiting lists, wherever the event is owned; the answer
    /// comes once that is durable.
    pub async fn waitlist(
        &self,
        event: EventId,
        ask: WaitlistAsk,
    ) -> Result<WaitlistAnswer, EngineError> {
        self.waitlist_placed(event, ask, false).await
    }

    /// [`Self::waitlist`] for a request another node forwarded.
    pub async fn waitlist_here(
        &self,
        event: EventId,
        ask: WaitlistAsk,
    ) -> Result<WaitlistAnswer, EngineError> {
        self.waitlist_placed(event, ask, true).await
    }

    async fn waitlist_placed(
        &self,
        event: EventId,
        ask: WaitlistAsk,
        here_only: bool,
    ) -> Result<WaitlistAnswer, EngineError> {
        self.ask(
            event,
            here_only,
            |reply| WaitlistRequest {
                ask: ask.clone(),
                reply,
            },
            |remote| remote.waitlist(event, ask.clone()),
        )
        .await
    }

    /// Asks the event's actor here (`message` with the reply to wait for) or its owner's engine
    /// (`remote`), wherever the event is owned.
    async fn ask<T, M>(
        &self,
        event: EventId,
        here_only: bool,
        message: impl Fn(Reply<T>) -> M,
        remote: impl Fn(&dyn RemoteEngine) -> BoxFuture<Result<T, EngineError>>,
    ) -> Result<T, EngineError>
    where
        T: Send + 'static,
        M: Message<Result = ()> + Send + 'static,
        EventActor: Handler<M>,
    {
        self.routed(event, here_only, |place| {
            let asked = match place {
                Place::Here => {
                    let (reply, answer) = oneshot::channel();
                    self.send(event, message(reply))
                        .map(|()| Box::pin(Self::wait(answer)) as BoxFuture<_>)
                }
                Place::There(engine) => Ok(remote(&*engine)),
            };
            async move { asked?.await }
        })
        .await
    }

    /// Runs `call` where the event is owned. An owner that finds the event moved (its commit
    /// was fenced, or the node asked no longer owns it) decided nothing, so the call is placed
    /// again once: the new owner answers it.
    async fn routed<T, F, Fut>(
        &self,
        event: EventId,
        here_only: bool,
        call: F,
    ) -> Result<T, EngineError>
    where
        F: Fn(Place) -> Fut,
        Fut: std::future::Future<Output = Result<T, EngineError>>,
    {
        let Some(placement) = &self.placement else {
            return call(Place::Here).await;
        };
        let mut result = Err(EngineError::Moved);
        for _ in 0..2 {
            let place = placement.place(event, here_only).await?;
            result = call(place).await;
            if !matches!(result, Err(EngineError::Moved)) {
                return result;
            }
            placement.lost(event);
        }
        result
    }

    /// Changes the event's inventory through its actor (started if need be, so the edit and
    /// the actor's next load cannot disagree): refused if `edits` would strand a booking,
    /// otherwise `write` runs between two batches. Answers with what `write` answered.
    pub async fn edit<T: Send + 'static>(
        &self,
        event: EventId,
        edits: Vec<InventoryEdit>,
        write: CatalogWrite<T>,
    ) -> Result<T, EditError> {
        if let Some(placement) = &self.placement {
            // forwarded to the owner before it gets here; owned elsewhere meanwhile, it waits
            placement.place(event, true).await?;
        }
        let (reply, answer) = oneshot::channel();
        self.send(
            event,
            EditCatalog {
                edits,
                write,
                reply,
            },
        )?;
        answer.await.unwrap_or_else(|_| {
            Err(EngineError::Unavailable("the event's engine stopped".into()).into())
        })
    }

    /// Tells a running actor that the catalog changed; an actor not running loads fresh anyway.
    /// In a cluster the owner's actor is told, wherever it runs.
    pub async fn reload(&self, event: EventId) {
        if let Some(placement) = &self.placement {
            if let Ok(Place::There(remote)) = placement.place(event, false).await {
                if let Err(error) = remote.reload(event).await {
                    tracing::warn!(event_id = %event, %error, "the owner was not told to reload");
                }
                return;
            }
        }
        self.reload_here(event);
    }

    /// [`Self::reload`] of the actor on this node only.
    pub fn reload_here(&self, event: EventId) {
        if let Some(addr) = self.shared.actors.get(&event) {
            addr.do_send(Reload);
        }
    }

    /// This node lost the event's lease: its actor, if running, stops writing and stops.
    pub fn relinquish(&self, event: EventId) {
        if let Some((_, addr)) = self.shared.actors.remove(&event) {
            addr.do_send(Relinquish);
        }
    }

    /// Starts the actors of `events` now (after a restart, so their holds expire on time).
    pub fn start(&self, events: impl IntoIterator<Item = EventId>) {
        for event in events {
            self.shared
                .actors
                .entry(event)
                .or_insert_with(|| self.spawn(event));
        }
    }

    /// Counts as of the last commit of the event's actor, if it is running.
    pub fn counts(&self, ticket_type: TicketTypeId) -> Option<TypeCounts> {
        self.shared.availability.get(&ticket_type).map(|c| *c)
    }

    /// Whether an actor for `event` is running.
    pub fn is_running(&self, event: EventId) -> bool {
        self.shared
            .actors
            .get(&event)
            .is_some_and(|addr| addr.connected())
    }

    #[doc(hidden)]
    pub fn crash(&self, event: EventId) {
        if let Some(addr) = self.shared.actors.get(&event) {
            addr.do_send(Crash);
        }
    }

    fn send<M>(&self, event: EventId, message: M) -> Result<(), EngineError>
    where
        M: Message<Result = ()> + Send + 'static,
        EventActor: Handler<M>,
    {
        if let Some(addr) = self.shared.actors.get(&event) {
            if addr.connected() {
                return addr.try_send(message).map_err(Self::refused);
            }
        }
        let addr = self
            .shared
            .actors
            .entry(event)
            .and_modify(|addr| {
                if !addr.connected() {
                    *addr = self.spawn(event);
                }
            })
            .or_insert_with(|| self.spawn(event));
        addr.try_send(message).map_err(Self::refused)
    }

    fn refused<M>(error: SendError<M>) -> EngineError {
        match error {
            SendError::Full(_) => EngineError::Overloaded,
            SendError::Closed(_) => EngineError::Unavailable("the event's engine stopped".into()),
        }
    }

    async fn wait<T>(answer: oneshot::Receiver<Result<T, EngineError>>) -> Result<T, EngineError> {
        answer.await.unwrap_or_else(|_| {
            Err(EngineError::Unavailable(
                "the event's engine stopped".into(),
            ))
        })
    }

    /// Starts an actor on the engine thread the event hashes to, with its full mailbox
    /// capacity from the first message on (an on-sale's first burst reaches a fresh actor).
    fn spawn(&self, event: EventId) -> Addr<EventActor> {
        let (tx, rx) = channel::channel(self.settings.mailbox_capacity);
        let actor = EventActor::new(
            event,
            self.journal.clone(),
            self.settings.clone(),
            self.shared.clone(),
            self.clock.clone(),
        );
        self.arbiter(event).spawn_fn(move || {
            Context::with_receiver(rx).run(actor);
        });
        Addr::new(tx)
    }

    fn arbiter(&self, event: EventId) -> ArbiterHandle {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        event.hash(&mut hasher);
        self.arbiters[hasher.finish() as usize % self.arbiters.len()].handle()
    }
}

impl Drop for EventDirectory {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}
