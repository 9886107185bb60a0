//! One event's waiting lists, owned by its actor: buyers waiting for a sold-out ticket type in
//! the order they joined, and the entries offered a hold of their own. An offer ends with its
//! hold (expired, cancelled, or bought); the actor then offers what came back to the next.
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{BookingId, TicketTypeId, UserId};
use crate::inventory::{EventInventory, HoldState};

/// A buyer waiting for `qty` admissions of one ticket type. Ids are UUIDv7 made by the actor
/// as it takes the join, so their order is the order of the line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: Uuid,
    pub user: UserId,
    pub ticket_type: TicketTypeId,
    pub qty: u32,
    /// The hold offered to this entry, while it lasts.
    pub offer: Option<BookingId>,
}

#[derive(Debug, Default)]
pub struct Waitlist {
    waiting: BTreeMap<Uuid, WaitlistEntry>,
    offered: HashMap<BookingId, WaitlistEntry>,
}

impl Waitlist {
    pub fn new(entries: impl IntoIterator<Item = WaitlistEntry>) -> Self {
        let mut list = Self::default();
        for entry in entries {
            list.put(entry);
        }
        list
    }

    /// Nobody waits in line (offered entries wait for their buyer, not for admissions).
    pub fn nobody_waiting(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Puts an entry (back) in its place: in line, or among the offers.
    pub fn put(&mut self, entry: WaitlistEntry) {
        match entry.offer {
            Some(booking) => {
                self.offered.insert(booking, entry);
            }
            None => {
                self.waiting.insert(entry.id, entry);
            }
        }
    }

    /// The entry `user` has for `ticket_type` that still waits or holds an offer. An offer whose
    /// hold ended (expired, cancelled, sold) is over and forgotten here.
    pub fn active(
        &mut self,
        inventory: &EventInventory,
        user: UserId,
        ticket_type: TicketTypeId,
    ) -> Option<&WaitlistEntry> {
        self.offered.retain(|booking, _| {
            inventory
                .hold_of(*booking)
                .is_some_and(|hold| hold.state == HoldState::Held)
        });
        self.waiting
            .values()
            .chain(self.offered.values())
            .find(|e| e.user == user && e.ticket_type == ticket_type)
    }

    /// Takes a waiting entry of `user` out of the line.
    pub fn leave(&mut self, id: Uuid, user: UserId) -> Option<WaitlistEntry> {
        match self.waiting.get(&id) {
            Some(entry) if entry.user == user => self.waiting.remove(&id),
            _ => None,
        }
    }

    /// Takes the offered entry `id` of `user` out (leaving it means giving up its hold).
    pub fn take_offer(&mut self, id: Uuid, user: UserId) -> Option<WaitlistEntry> {
        let booking = self
            .offered
            .iter()
            .find(|(_, e)| e.id == id && e.user == user)
            .map(|(booking, _)| *booking)?;
        self.offered.remove(&booking)
    }

    /// The waiting entries, first in line first, whose quantity fits what `available` says is
    /// free of their type now.
    pub fn fitting(&self, available: impl Fn(TicketTypeId) -> u32) -> Vec<WaitlistEntry> {
        self.waiting
            .values()
            .filter(|e| e.qty <= available(e.ticket_type))
            .cloned()
            .collect()
    }

    /// `entry` left the line: it was offered `booking`.
    pub fn offered(&mut self, entry: &WaitlistEntry, booking: BookingId) -> WaitlistEntry {
        self.waiting.remove(&entry.id);
        let offered = WaitlistEntry {
            offer: Some(booking),
            ..entry.clone()
        };
        self.offered.insert(booking, offered.clone());
        offered
    }

    /// Takes an entry out of the line (it cannot be served) or its offer back (undo).
    pub fn remove(&mut self, entry: &WaitlistEntry) {
        match entry.offer {
            Some(booking) => self.offered.remove(&booking),
            None => self.waiting.remove(&entry.id),
        };
    }
}
