//! One event's waiting room in memory: its entries in arrival order, the served order once the
//! pre-queue is shuffled, and who is admitted. Only the room's runner changes it, and only with
//! what a committed round decided; requests read it under a read lock.
use std::collections::HashMap;

use boxoffice_actors::ids::{EventId, UserId};
use boxoffice_actors::inventory::Millis;

use super::admission::Pace;
use super::order;
use super::store::{EntryRow, Round, Stored};
use super::QueueSettings;

/// Not admitted.
const NEVER: Millis = 0;
/// Place not drawn yet (the pre-queue before the start).
const UNRANKED: u32 = u32::MAX;

/// 32 bytes per waiting account, plus its slot in the index and in the order.
#[derive(Clone, Copy, Debug)]
struct Entry {
    user: UserId,
    admitted_until: Millis,
    /// Index in the served order.
    rank: u32,
    held: bool,
}

/// Where one account stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// `position` 1 is next; `None` in the pre-queue before the start (drawn at the start).
    Waiting {
        position: Option<u64>,
        estimate_seconds: Option<u64>,
    },
    Admitted {
        until: Millis,
    },
    /// Everything is held or sold; seats that come back admit the next in line.
    SoldOut {
        position: Option<u64>,
    },
    /// The admission ran out.
    Expired,
    /// The event was cancelled or its queue switched off.
    Closed,
}

pub struct Room {
    pub event: EventId,
    pub settings: QueueSettings,
    pub seed: Vec<u8>,
    /// The seed's SHA-256 in hex, as published (every status carries it).
    pub commitment: String,
    /// The shuffle is durable, so the seed may be shown.
    pub revealed: bool,
    pub closed: bool,
    entries: Vec<Entry>,
    index: HashMap<UserId, u32>,
    /// Entry indices in served order (empty until the shuffle).
    order: Vec<u32>,
    shuffled: bool,
    /// Entries of the order admitted so far (admission goes from the head).
    head: u32,
    /// Admitted, running, no hold seen yet.
    outstanding: Vec<u32>,
    holders: u64,
    lapsed: u64,
    admissions_held: u64,
    /// Admissions neither held nor sold, from the engine.
    pub available: u64,
    first_admission: Millis,
}

impl Room {
    pub fn new(event: EventId, stored: Stored, rows: Vec<EntryRow>, now: Millis) -> Self {
        let mut room = Room {
            event,
            closed: !stored.is_open(),
            settings: stored.settings,
            commitment: order::commitment(&stored.seed),
            seed: stored.seed,
            revealed: stored.shuffled_at.is_some(),
            entries: Vec::with_capacity(rows.len()),
            index: HashMap::with_capacity(rows.len()),
            order: Vec::new(),
            shuffled: false,
            head: 0,
            outstanding: Vec::new(),
            holders: 0,
            lapsed: 0,
            admissions_held: 0,
            available: u64::MAX,
            first_admission: NEVER,
        };
        let starts = room.settings.starts_ms();
        let mut prequeue = 0;
        for row in &rows {
            if row.joined_at.timestamp_millis() < starts {
                prequeue += 1;
            }
            room.push(row.user_id);
        }
        if room.revealed || now >= starts {
            room.shuffle(prequeue);
        }
        for (i, row) in rows.iter().enumerate() {
            let Some(until) = row.admitted_until else {
                continue;
            };
            let entry = &mut room.entries[i];
            entry.admitted_until = until.timestamp_millis();
            room.head += 1;
            match row.held {
                Some(qty) => {
                    entry.held = true;
                    room.holders += 1;
                    room.admissions_held += qty.max(0) as u64;
                }
                None if entry.admitted_until <= now => room.lapsed += 1,
                None => room.outstanding.push(i as u32),
            }
        }
        room
    }

    fn push(&mut self, user: UserId) -> u32 {
        let at = self.entries.len() as u32;
        let rank = if self.shuffled {
            self.order.push(at);
            at
        } else {
            UNRANKED
        };
        self.entries.push(Entry {
            user,
            admitted_until: NEVER,
            rank,
            held: false,
        });
        self.index.insert(user, at);
        at
    }

    /// Orders the first `prequeue` entries by the seed, the rest by arrival.
    fn shuffle(&mut self, prequeue: usize) {
        let users: Vec<UserId> = self.entries[..prequeue].iter().map(|e| e.user).collect();
        let drawn = order::shuffle(&self.seed, &users);
        self.place(drawn, prequeue);
    }

    fn place(&mut self, drawn: Vec<usize>, prequeue: usize) {
        self.order = drawn
            .into_iter()
            .map(|i| i as u32)
            .chain(prequeue as u32..self.entries.len() as u32)
            .collect();
        for (rank, &i) in self.order.iter().enumerate() {
            self.entries[i as usize].rank = rank as u32;
        }
        self.shuffled = true;
    }

    pub fn joined(&self) -> usize {
        self.entries.len()
    }

    pub fn is_shuffled(&self) -> bool {
        self.shuffled
    }

    /// The pre-queue's accounts, for a shuffle computed off the runner's thread.
    pub fn prequeue(&self) -> Vec<UserId> {
        self.entries.iter().map(|e| e.user).collect()
    }

    /// Puts a shuffle of [`Self::prequeue`] in place (entries that joined meanwhile come after).
    pub fn shuffled_as(&mut self, drawn: Vec<usize>) {
        let prequeue = drawn.len();
        self.place(drawn, prequeue);
    }

    pub fn contains(&self, user: UserId) -> bool {
        self.index.contains_key(&user)
    }

    /// Entries in the served order not admitted yet.
    pub fn waiting(&self) -> u64 {
        if self.shuffled {
            (self.order.len() as u64).saturating_sub(u64::from(self.head))
        } else {
            self.entries.len() as u64
        }
    }

    pub fn pace(&self) -> Pace {
        Pace {
            available: self.available,
            outstanding: self.outstanding.len() as u64,
            holders: self.holders,
            lapsed: self.lapsed,
            admissions_held: self.admissions_held,
            at_once: u64::from(self.settings.admit_at_once),
            waiting: self.waiting(),
        }
    }

    /// Who to admit now, until `now + admit_minutes`.
    pub fn plan_admissions(&self, now: Millis) -> Vec<(UserId, Millis, Millis)> {
        if !self.shuffled || self.closed {
            return Vec::new();
        }
        let until = now + self.settings.admit_millis();
        let n = self.pace().to_admit() as usize;
        self.order[self.head as usize..][..n]
            .iter()
            .map(|&i| (self.entries[i as usize].user, now, until))
            .collect()
    }

    /// Applies a committed round.
    pub fn apply(&mut self, round: &Round) {
        if round.shuffled_at.is_some() {
            self.revealed = true;
        }
        for &(user, _, _) in &round.joins {
            self.push(user);
        }
        for &(user, at, until) in &round.admissions {
            let i = self.index[&user];
            self.entries[i as usize].admitted_until = until;
            self.outstanding.push(i);
            self.head += 1;
            if self.first_admission == NEVER {
                self.first_admission = at;
            }
        }
    }

    /// Counts the admissions that ran out without a hold as lapsed.
    pub fn lapse(&mut self, now: Millis) {
        let entries = &self.entries;
        let before = self.outstanding.len();
        self.outstanding
            .retain(|&i| entries[i as usize].admitted_until > now);
        self.lapsed += (before - self.outstanding.len()) as u64;
    }

    /// When the earliest outstanding admission ends, if any does.
    pub fn next_end(&self) -> Option<Millis> {
        self.outstanding
            .iter()
            .map(|&i| self.entries[i as usize].admitted_until)
            .min()
    }

    pub fn lapsed_count(&self) -> u64 {
        self.lapsed
    }

    /// Admitted accounts not seen holding yet.
    pub fn outstanding_users(&self) -> Vec<UserId> {
        self.outstanding
            .iter()
            .map(|&i| self.entries[i as usize].user)
            .collect()
    }

    /// `user` holds `qty` tickets: it no longer counts as outstanding.
    pub fn held(&mut self, user: UserId, qty: u64) {
        let Some(&i) = self.index.get(&user) else {
            return;
        };
        let entry = &mut self.entries[i as usize];
        if entry.held || entry.admitted_until == NEVER {
            return;
        }
        entry.held = true;
        self.outstanding.retain(|&o| o != i);
        self.holders += 1;
        self.admissions_held += qty;
    }

    pub fn standing(&self, user: UserId, now: Millis) -> Option<Standing> {
        let entry = self.entries[*self.index.get(&user)? as usize];
        if self.closed {
            return Some(Standing::Closed);
        }
        if entry.admitted_until != NEVER {
            return Some(if now < entry.admitted_until {
                Standing::Admitted {
                    until: entry.admitted_until,
                }
            } else {
                Standing::Expired
            });
        }
        let position =
            (entry.rank != UNRANKED).then(|| u64::from(entry.rank) - u64::from(self.head) + 1);
        if self.available == 0 {
            return Some(Standing::SoldOut { position });
        }
        Some(Standing::Waiting {
            position,
            estimate_seconds: position.map(|p| self.estimate(p, now)),
        })
    }

    /// Seconds until `position` is admitted at the pace observed so far (before any admission,
    /// at `admit_at_once` per `admit_minutes`).
    fn estimate(&self, position: u64, now: Millis) -> u64 {
        let per_second = if self.head > 0 && now > self.first_admission + 1_000 {
            f64::from(self.head) / ((now - self.first_admission) as f64 / 1000.0)
        } else {
            f64::from(self.settings.admit_at_once) / (self.settings.admit_millis() as f64 / 1000.0)
        };
        let from_start = (self.settings.starts_ms() - now).max(0) as f64 / 1000.0;
        (from_start + position.saturating_sub(1) as f64 / per_second.max(1e-6)).ceil() as u64
    }
}
