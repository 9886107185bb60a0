//! `EventDirectory`: finds or starts the one actor of an event, sends it requests without ever
//! queueing past its mailbox capacity, and keeps the live availability read model that event
//! pages read without asking any actor.
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
    EngineSettings, EventActor, HoldSeats, Reload, TypeCounts,
};
use crate::ids::{BookingId, EventId, TicketTypeId, UserId};
use crate::inventory::{Hold, HoldRequest, InventoryEdit};
use crate::journal::{CatalogWrite, Journal};

/// What the directory and its actors share.
#[derive(Default)]
pub struct Shared {
    /// One address per running actor. Senders use this very address rather than clones: every
    /// clone of an address is a sender with a slot of its own, which would let the queue grow
    /// past its capacity.
    actors: DashMap<EventId, Addr<EventActor>>,
    availability: DashMap<TicketTypeId, TypeCounts>,
}

impl Shared {
    pub(crate) fn forget(&self, event: EventId) {
        self.actors.remove(&event);
    }

    /// A ticket type that no longer exists leaves the read model.
    pub(crate) fn withdraw(&self, ticket_type: TicketTypeId) {
        self.availability.remove(&ticket_type);
    }

    pub(crate) fn publish(&self, ticket_type: TicketTypeId, counts: TypeCounts) {
        self.availability.insert(ticket_type, counts);
    }
}

pub struct EventDirectory {
    shared: Arc<Shared>,
    journal: Arc<dyn Journal>,
    settings: Arc<EngineSettings>,
    clock: Arc<dyn Clock>,
    arbiters: Vec<Arbiter>,
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
        }
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
        let (reply, answer) = oneshot::channel();
        self.send(event, HoldSeats { request, reply })?;
        Self::wait(answer).await
    }

    /// Releases `user`'s held booking; the answer comes once the release is durable.
    pub async fn cancel(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
    ) -> Result<Hold, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.send(
            event,
            CancelHold {
                booking,
                user,
                reply,
            },
        )?;
        Self::wait(answer).await
    }

    /// Sells a paid booking's admissions (reinstating `recorded` if its hold had ended); the
    /// answer comes once the sale is durable.
    pub async fn confirm(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
    ) -> Result<Confirmation, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.send(
            event,
            ConfirmBooking {
                booking,
                recorded,
                reply,
            },
        )?;
        Self::wait(answer).await
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
    pub fn reload(&self, event: EventId) {
        if let Some(addr) = self.shared.actors.get(&event) {
            addr.do_send(Reload);
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
