//! The runner of one room: takes joins, shuffles the pre-queue at the start, admits at the
//! pace the room computes, and writes each round of decisions in one transaction before anyone
//! sees them (group commit). It is the only writer of its room.
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use boxoffice_actors::ids::{EventId, TicketTypeId, UserId};
use boxoffice_actors::journal::JournalError;
use tokio::sync::{mpsc, watch, Notify};

use super::room::Room;
use super::store::{self, Round};
use super::{order, Command, QueueError, Queues, RoomHandle};
use crate::catalog::store::ticket_types_of;

/// Most joins in one round.
const ROUND_MAX: usize = 4096;
/// How often outstanding admissions are checked for holds taken on other nodes.
const HOLDERS_EVERY: Duration = Duration::from_millis(500);
const LEASE_CHECK_EVERY: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(1);

pub(super) fn start(
    queues: Arc<Queues>,
    room: Room,
) -> (Arc<RoomHandle>, impl Future<Output = ()>) {
    let (commands, mailbox) = mpsc::channel(ROUND_MAX * 2);
    let (version, changed) = watch::channel(0);
    let counts = Arc::new(Notify::new());
    let event = room.event;
    let room = Arc::new(RwLock::new(room));
    let handle = Arc::new(RoomHandle {
        room: room.clone(),
        commands,
        changed,
        counts: counts.clone(),
    });
    let runner = Runner {
        queues,
        event,
        room,
        mailbox,
        version,
        counts,
        types: Vec::new(),
    };
    (handle, runner.run())
}

struct Runner {
    queues: Arc<Queues>,
    event: EventId,
    room: Arc<RwLock<Room>>,
    mailbox: mpsc::Receiver<Command>,
    version: watch::Sender<u64>,
    counts: Arc<Notify>,
    /// The event's ticket types on sale with their capacity and, when the engine has not
    /// counted them yet, what the database counted.
    types: Vec<(TicketTypeId, u64)>,
}

impl Runner {
    async fn run(mut self) {
        // in a cluster, the lease this room was started under: another one means it moved
        let owned_as = self.queues.epoch(self.event).ok().flatten();
        self.read_types().await;
        if self.queues.fences.is_none() {
            // the engine's actor publishes the counts the queue paces by
            self.queues.engine.start([self.event]);
        }
        let mut pending: Vec<Command> = Vec::new();
        loop {
            if self.queues.fences.is_some()
                && self.queues.epoch(self.event).ok().flatten() != owned_as
            {
                tracing::warn!(event_id = %self.event, "the event's lease moved; its room stops here");
                self.queues.forget(self.event);
                return;
            }
            match self.round(std::mem::take(&mut pending)).await {
                Ok(()) => {}
                Err(QueueError::Moved) => {
                    tracing::warn!(event_id = %self.event, "queue owned by another node now; its room stops here");
                    self.queues.forget(self.event);
                    return;
                }
                Err(error) => {
                    tracing::error!(event_id = %self.event, %error, "queue round failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
            // the next thing due by the clock: the start, or the end of an admission
            let (deadline, outstanding) = {
                let room = self.room.read().expect("room lock");
                let starts = (!room.is_shuffled()).then(|| room.settings.starts_ms());
                let next_end = room.next_end();
                (
                    [starts, next_end].into_iter().flatten().min(),
                    next_end.is_some(),
                )
            };
            let clock = self.queues.clock.clone();
            let sleep = async move {
                match deadline {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.mailbox.recv() => match command {
                    Some(command) => pending.push(command),
                    None => return,
                },
                _ = self.counts.notified() => {}
                _ = sleep => {}
                _ = tokio::time::sleep(HOLDERS_EVERY), if outstanding => self.find_holders().await,
                // a cluster's room looks at its lease now and then even when nothing happens
                _ = tokio::time::sleep(LEASE_CHECK_EVERY), if self.queues.fences.is_some() => {}
            }
            while pending.len() < ROUND_MAX {
                match self.mailbox.try_recv() {
                    Ok(command) => pending.push(command),
                    Err(_) => break,
                }
            }
        }
    }

    /// Decides what is due, writes it, then lets the room and the waiters see it.
    async fn round(&mut self, commands: Vec<Command>) -> Result<(), QueueError> {
        let now = self.queues.clock.now();
        let mut joins = Vec::new();
        for command in commands {
            match command {
                Command::Join { user, reply } => joins.push((user, reply)),
                Command::Reload => self.reload().await?,
                Command::Held { user, qty } => {
                    self.room.write().expect("room lock").held(user, qty)
                }
            }
        }
        let available = self.available();
        let mut round = Round::default();
        let must_shuffle = {
            let mut room = self.room.write().expect("room lock");
            let changed = room.available != available;
            room.available = available;
            let lapsed = room.lapsed_count();
            room.lapse(now);
            if changed || room.lapsed_count() != lapsed {
                self.version.send_modify(|v| *v += 1);
            }
            !room.is_shuffled() && now >= room.settings.starts_ms()
        };
        if must_shuffle {
            let (seed, users) = {
                let room = self.room.read().expect("room lock");
                (room.seed.clone(), room.prequeue())
            };
            let drawn = tokio::task::spawn_blocking(move || order::shuffle(&seed, &users))
                .await
                .map_err(|e| QueueError::Storage(e.to_string()))?;
            self.room.write().expect("room lock").shuffled_as(drawn);
        }
        let mut replies = Vec::new();
        {
            let room = self.room.read().expect("room lock");
            if room.is_shuffled() && !room.revealed {
                round.shuffled_at = Some(now);
            }
            let mut seen = std::collections::HashSet::new();
            for (user, reply) in joins {
                if !room.contains(user) && seen.insert(user) {
                    let seq = (room.joined() + round.joins.len()) as i64;
                    round.joins.push((user, seq, now));
                }
                replies.push(reply);
            }
            round.admissions = room.plan_admissions(now);
        }
        if round.is_empty() {
            for reply in replies {
                let _ = reply.send(Ok(()));
            }
            return Ok(());
        }
        let epoch = self.queues.epoch(self.event)?;
        match store::commit(&self.queues.pool, self.event, epoch, &round).await {
            Ok(()) => {
                self.room.write().expect("room lock").apply(&round);
                // a join moves nobody else: only the joiners hear of it (their reply)
                if round.shuffled_at.is_some() || !round.admissions.is_empty() {
                    self.version.send_modify(|v| *v += 1);
                }
                for reply in replies {
                    let _ = reply.send(Ok(()));
                }
                if !round.admissions.is_empty() {
                    tracing::info!(event_id = %self.event, admitted = round.admissions.len(), "queue admitted");
                }
                Ok(())
            }
            Err(error) => {
                let error = match error {
                    JournalError::Fenced => QueueError::Moved,
                    JournalError::Storage(cause) => QueueError::Storage(cause),
                };
                for reply in replies {
                    let _ = reply.send(Err(match &error {
                        QueueError::Moved => QueueError::Moved,
                        _ => QueueError::Storage("the round was not written".into()),
                    }));
                }
                Err(error)
            }
        }
    }

    /// Admissions left to sell, by the engine's counts (the database's before it has any).
    fn available(&self) -> u64 {
        self.types
            .iter()
            .map(|&(id, counted)| match self.queues.engine.counts(id) {
                Some(counts) => u64::from(counts.available()),
                None => counted,
            })
            .sum()
    }

    async fn read_types(&mut self) {
        match ticket_types_of(&self.queues.pool, self.event, false).await {
            Ok(types) => {
                self.types = types
                    .into_iter()
                    .map(|t| (t.id, t.available.max(0) as u64))
                    .collect();
            }
            Err(error) => {
                tracing::warn!(event_id = %self.event, %error, "queue could not read the ticket types")
            }
        }
    }

    async fn reload(&mut self) -> Result<(), QueueError> {
        self.read_types().await;
        if let Some(stored) = store::find(&self.queues.pool, self.event).await? {
            let mut room = self.room.write().expect("room lock");
            room.closed = !stored.is_open();
            room.settings = stored.settings;
        }
        self.version.send_modify(|v| *v += 1);
        Ok(())
    }

    async fn find_holders(&mut self) {
        let users: Vec<UserId> = self.room.read().expect("room lock").outstanding_users();
        match store::holders(&self.queues.pool, self.event, &users).await {
            Ok(found) => {
                let mut room = self.room.write().expect("room lock");
                for (user, qty) in found {
                    room.held(user, qty.max(0) as u64);
                }
            }
            Err(error) => {
                tracing::warn!(event_id = %self.event, %error, "queue could not read holds")
            }
        }
    }
}
