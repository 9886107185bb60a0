//! `EventInventory`: one event's seats and admissions as a plain state machine. No I/O and no
//! clock: every operation that depends on time is given `now`. The event actor owns one and
//! journals what it decides; property tests drive it against a simple model.
//!
//! Times are milliseconds since the Unix epoch (UTC).
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::ids::{BookingId, SeatId, TicketTypeId, UserId};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A ticket type as the organizer defined it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTypeSpec {
    pub id: TicketTypeId,
    pub capacity: u32,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub sale_at: Option<Millis>,
    pub sale_end: Option<Millis>,
    pub max_per_user: Option<u32>,
    /// Empty for general admission.
    pub seats: Vec<SeatSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatSpec {
    pub id: SeatId,
    /// The row's place in the map; seats of one row share it.
    pub row: u32,
    /// Place in the row: seats whose positions differ by one are side by side.
    pub position: i32,
    /// Lower is better.
    pub rank: i32,
}

/// Why a hold was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Rejection {
    #[error("not enough admissions left")]
    SoldOut,
    #[error("a seat is taken")]
    SeatTaken(SeatId),
    /// The promo code's uses are all taken (held or sold).
    #[error("the promo code has been used as often as it may be")]
    PromoUsedUp,
    /// This buyer used the promo code `max` times already.
    #[error("the promo code may be used {max} times per account")]
    OverPromoLimit { max: u32 },
    #[error("no such seat for this ticket type")]
    UnknownSeat(SeatId),
    #[error("no such ticket type in this event")]
    UnknownTicketType(TicketTypeId),
    #[error("sales for this ticket type are not open")]
    SaleNotOpen,
    #[error("more admissions than one order may have")]
    OverOrderLimit { max: u32 },
    #[error("more admissions than one buyer may have")]
    OverUserLimit { max: u32 },
    #[error("the request names no admissions, or seats that do not match its quantity")]
    InvalidRequest,
    #[error("a booking with this id exists")]
    DuplicateBooking,
    #[error("no such active booking")]
    UnknownBooking,
    #[error("the booking is already confirmed")]
    AlreadyConfirmed,
    #[error("one booking cannot mix currencies")]
    MixedCurrencies,
    /// A waiting list is for a type that cannot sell the quantity now.
    #[error("{available} admissions are still on sale")]
    NotSoldOut { available: u32 },
    #[error("no such waiting-list entry")]
    UnknownWaitlistEntry,
}

/// An organizer's edit that changes what the inventory counts, as the engine checks it before
/// the catalog is written: each is refused when it would strand a booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InventoryEdit {
    /// The type's capacity becomes `capacity`.
    Capacity {
        ticket_type: TicketTypeId,
        capacity: u32,
    },
    /// The type's seat map is replaced or removed.
    Seats { ticket_type: TicketTypeId },
    /// The type is removed.
    Remove { ticket_type: TicketTypeId },
}

/// The most taken seats a [`Stranded`] names; the rest are only counted.
pub const STRANDED_SEATS_NAMED: usize = 10;

/// Why an edit was refused: it would leave bookings without their admissions or seats.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Stranded {
    #[error("{taken} admissions of {ticket_type} are held or sold")]
    Admissions {
        ticket_type: TicketTypeId,
        taken: u32,
    },
    /// `seats` are the first taken seats in map order (at most [`STRANDED_SEATS_NAMED`]) of
    /// `taken` in all.
    #[error("{taken} seats of {ticket_type} are held or sold")]
    Seats {
        ticket_type: TicketTypeId,
        seats: Vec<SeatId>,
        taken: u32,
    },
}

/// One line of a hold: `qty` admissions of a type, on the named seats if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRequest {
    pub ticket_type: TicketTypeId,
    pub qty: u32,
    /// Either empty (any seats, best available for seat-mapped types) or exactly `qty` seats.
    pub seats: Vec<SeatId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRequest {
    pub booking: BookingId,
    pub user: UserId,
    pub items: Vec<ItemRequest>,
    pub max_per_order: u32,
    /// A promo code the buyer gave, as the catalog defines it (checked valid now).
    #[serde(default)]
    pub promo: Option<PromoSpec>,
}

/// A promo code: its discount on the ticket types it applies to, the hidden types it opens,
/// and its limits. The actor counts its uses (live holds and sales), so they cannot race.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromoSpec {
    pub id: Uuid,
    /// 0 to 100: percent off the unit price (rounded down to the minor unit).
    pub percent_off: u32,
    /// Minor units off the unit price (never below zero).
    pub amount_off: i64,
    /// The types it discounts; empty: every type.
    pub ticket_types: Vec<TicketTypeId>,
    /// Hidden types it puts on sale for this buyer, with their own sale windows.
    pub unlocks: Vec<(TicketTypeId, Option<Millis>, Option<Millis>)>,
    /// Bookings that may use it in all, and per account.
    pub max_uses: Option<u32>,
    pub max_per_account: Option<u32>,
}

impl PromoSpec {
    /// The unit price of `ticket_type` with this code.
    pub fn price(&self, ticket_type: TicketTypeId, price: i64) -> i64 {
        if !self.ticket_types.is_empty() && !self.ticket_types.contains(&ticket_type) {
            return price;
        }
        let percent = i64::from(self.percent_off.min(100));
        (price - price * percent / 100 - self.amount_off).max(0)
    }
}

/// A booking the inventory knows: held (until `expires_at`) or confirmed (sold).

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldState {
    Held,
    Confirmed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub booking: BookingId,
    pub user: UserId,
    /// (ticket type, qty, unit price)
    pub items: Vec<(TicketTypeId, u32, i64)>,
    pub seats: Vec<(TicketTypeId, SeatId)>,
    pub currency: String,
    pub held_at: Millis,
    pub expires_at: Millis,
    pub state: HoldState,
    /// The promo code it uses, if any: one use of it while the booking holds or owns
    /// admissions.
    #[serde(default)]
    pub promo: Option<Uuid>,
}

impl Hold {
    pub fn admissions(&self) -> u32 {
        self.items.iter().map(|(_, qty, _)| qty).sum()
    }

    pub fn total_price(&self) -> i64 {
        self.items
            .iter()
            .map(|(_, qty, price)| i64::from(*qty) * price)
            .sum()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SeatState {
    Free,
    Taken(BookingId),
}

#[derive(Clone, Debug)]
struct TypeState {
    spec: TicketTypeSpec,
    held: u32,
    sold: u32,
    /// Parallel to `spec.seats`.
    seat_states: Vec<SeatState>,
    seat_index: HashMap<SeatId, usize>,
    /// Seat indexes grouped by row, each row sorted by position; rows sorted by their best rank.
    rows: Vec<Vec<usize>>,
    /// For each seat, its row in `rows`; for each row, its free seats: full rows are skipped
    /// without looking at their seats, which keeps best-available fast in a filling venue.
    seat_row: Vec<usize>,
    row_free: Vec<u32>,
}

impl TypeState {
    fn new(spec: TicketTypeSpec) -> Self {
        let seat_states = vec![SeatState::Free; spec.seats.len()];
        let mut state = Self {
            spec,
            held: 0,
            sold: 0,
            seat_states,
            seat_index: HashMap::new(),
            rows: Vec::new(),
            seat_row: Vec::new(),
            row_free: Vec::new(),
        };
        state.index();
        state
    }

    /// Rebuilds the lookups that are derived from the spec (after `new` or a restore).
    fn index(&mut self) {
        let seats = &self.spec.seats;
        self.seat_index = seats.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut rows: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, seat) in seats.iter().enumerate() {
            rows.entry(seat.row).or_default().push(i);
        }
        let mut rows: Vec<Vec<usize>> = rows.into_values().collect();
        for row in &mut rows {
            row.sort_by_key(|&i| seats[i].position);
        }
        rows.sort_by_key(|row| (row.iter().map(|&i| seats[i].rank).min(), seats[row[0]].row));
        self.seat_row = vec![0; seats.len()];
        for (r, row) in rows.iter().enumerate() {
            for &i in row {
                self.seat_row[i] = r;
            }
        }
        self.row_free = rows
            .iter()
            .map(|row| {
                row.iter()
                    .filter(|&&i| self.seat_states[i] == SeatState::Free)
                    .count() as u32
            })
            .collect();
        self.rows = rows;
    }

    /// Changes a seat's state, keeping its row's free count.
    fn set_seat(&mut self, i: usize, state: SeatState) {
        let was_free = self.seat_states[i] == SeatState::Free;
        let row = self.seat_row[i];
        match (was_free, state == SeatState::Free) {
            (true, false) => self.row_free[row] -= 1,
            (false, true) => self.row_free[row] += 1,
            _ => {}
        }
        self.seat_states[i] = state;
    }

    fn available(&self) -> u32 {
        // saturating: a capacity cut below what is taken (see `EventInventory::rebuild`) reads as sold out
        self.spec.capacity.saturating_sub(self.held + self.sold)
    }

    fn seat_mapped(&self) -> bool {
        !self.spec.seats.is_empty()
    }

    /// The best `n` free seats: the adjacent block in one row with the lowest total rank, or,
    /// when no row has such a block, the `n` best-ranked free seats.
    /// `excluded` are seats this request already took for another of its lines.
    fn best_available(&self, n: usize, excluded: &[usize]) -> Option<Vec<usize>> {
        let seats = &self.spec.seats;
        let free = |i: usize| self.seat_states[i] == SeatState::Free && !excluded.contains(&i);
        let mut best: Option<(i64, Vec<usize>)> = None;
        for (r, row) in self.rows.iter().enumerate() {
            if (self.row_free[r] as usize) < n {
                continue;
            }
            // no block in a later row can beat one found already when even the row's best
            // rank times n is no better
            let row_floor =
                i64::from(row.iter().map(|&i| seats[i].rank).min().unwrap_or(0)) * n as i64;
            if best.as_ref().is_some_and(|(score, _)| *score <= row_floor) {
                break;
            }
            let mut start = 0;
            let mut sum: i64 = 0;
            for end in 0..row.len() {
                let seat = row[end];
                let adjacent =
                    end > start && seats[seat].position == seats[row[end - 1]].position + 1;
                if !free(seat) {
                    start = end + 1;
                    sum = 0;
                    continue;
                }
                if end > start && !adjacent {
                    start = end;
                    sum = 0;
                }
                sum += i64::from(seats[seat].rank);
                if end + 1 - start > n {
                    sum -= i64::from(seats[row[start]].rank);
                    start += 1;
                }
                if end + 1 - start == n && best.as_ref().map_or(true, |(score, _)| sum < *score) {
                    best = Some((sum, row[start..=end].to_vec()));
                    if sum == row_floor {
                        // nothing in this row or a later one can do better
                        break;
                    }
                }
            }
        }
        if let Some((_, block)) = best {
            return Some(block);
        }
        let mut free_seats: Vec<usize> = (0..seats.len()).filter(|&i| free(i)).collect();
        if free_seats.len() < n {
            return None;
        }
        free_seats.sort_by_key(|&i| (seats[i].rank, seats[i].row, seats[i].position));
        free_seats.truncate(n);
        Some(free_seats)
    }
}

/// A type a recorded hold refers to: it exists, since holds are placed only on known types.
fn type_mut(types: &mut [TypeState], id: TicketTypeId) -> &mut TypeState {
    types
        .iter_mut()
        .find(|t| t.spec.id == id)
        .expect("a held type exists")
}

/// A booking still held (not sold), to change: the map's own copy, unshared first.
fn held_mut(
    holds: &mut HashMap<BookingId, Arc<Hold>>,
    booking: BookingId,
) -> Result<&mut Hold, Rejection> {
    let hold = holds
        .get_mut(&booking)
        .map(Arc::make_mut)
        .ok_or(Rejection::UnknownBooking)?;
    if hold.state == HoldState::Confirmed {
        return Err(Rejection::AlreadyConfirmed);
    }
    Ok(hold)
}

/// One event's inventory.
#[derive(Clone, Debug, Default)]
pub struct EventInventory {
    types: Vec<TypeState>,
    /// Shared, so a snapshot takes pointers on the actor's thread, not copies of every hold.
    holds: HashMap<BookingId, Arc<Hold>>,
    /// Admissions held or bought per buyer and ticket type, for `max_per_user`.
    per_user: HashMap<(UserId, TicketTypeId), u32>,
    /// Active holds by deadline: one ordered index, so the actor needs one timer.
    expiry: BTreeSet<(Millis, BookingId)>,
    /// Bookings using each promo code, in all and per buyer.
    promo_uses: HashMap<Uuid, u32>,
    promo_per_user: HashMap<(Uuid, UserId), u32>,
}

/// Why a recorded booking could not be put back (recovery found state the engine would refuse).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("booking {booking} does not fit the inventory: {reason}")]
pub struct RestoreError {
    pub booking: BookingId,
    pub reason: Rejection,
}

impl EventInventory {
    pub fn new(types: Vec<TicketTypeSpec>) -> Self {
        Self {
            types: types.into_iter().map(TypeState::new).collect(),
            ..Self::default()
        }
    }

    fn type_index(&self, id: TicketTypeId) -> Result<usize, Rejection> {
        self.types
            .iter()
            .position(|t| t.spec.id == id)
            .ok_or(Rejection::UnknownTicketType(id))
    }

    /// Admissions of `ticket_type` neither held nor sold.
    pub fn available(&self, ticket_type: TicketTypeId) -> Option<u32> {
        self.types
            .iter()
            .find(|t| t.spec.id == ticket_type)
            .map(TypeState::available)
    }

    /// (held, sold, capacity) of a ticket type.
    pub fn counts(&self, ticket_type: TicketTypeId) -> Option<(u32, u32, u32)> {
        self.types
            .iter()
            .find(|t| t.spec.id == ticket_type)
            .map(|t| (t.held, t.sold, t.spec.capacity))
    }

    pub fn hold_of(&self, booking: BookingId) -> Option<&Hold> {
        self.holds.get(&booking).map(|hold| &**hold)
    }

    /// The earliest deadline of an active hold: when the actor's timer should fire next.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Holds `request`'s admissions until `expires_at`, all of them or none.
    pub fn hold(
        &mut self,
        request: &HoldRequest,
        now: Millis,
        expires_at: Millis,
    ) -> Result<&Hold, Rejection> {
        if self.holds.contains_key(&request.booking) {
            return Err(Rejection::DuplicateBooking);
        }
        // summed wide: quantities near u32::MAX must be refused, not wrap around
        let total: u64 = request.items.iter().map(|i| u64::from(i.qty)).sum();
        if request.items.is_empty() || request.items.iter().any(|i| i.qty == 0) || expires_at <= now
        {
            return Err(Rejection::InvalidRequest);
        }
        if total > u64::from(request.max_per_order) {
            return Err(Rejection::OverOrderLimit {
                max: request.max_per_order,
            });
        }
        if let Some(promo) = &request.promo {
            let used = self.promo_uses.get(&promo.id).copied().unwrap_or(0);
            if promo.max_uses.is_some_and(|max| used >= max) {
                return Err(Rejection::PromoUsedUp);
            }
            let mine = self
                .promo_per_user
                .get(&(promo.id, request.user))
                .copied()
                .unwrap_or(0);
            if let Some(max) = promo.max_per_account.filter(|max| mine >= *max) {
                return Err(Rejection::OverPromoLimit { max });
            }
        }
        // decide everything first, change nothing until the whole request fits
        let mut plan: Vec<(usize, u32, Vec<usize>)> = Vec::new();
        let mut currency: Option<&str> = None;
        for item in &request.items {
            let t = self.type_index(item.ticket_type)?;
            let state = &self.types[t];
            let spec = &state.spec;
            if *currency.get_or_insert(&spec.currency) != spec.currency {
                return Err(Rejection::MixedCurrencies);
            }
            // a hidden type the promo code opens sells in its own window
            let (sale_at, sale_end) = request
                .promo
                .as_ref()
                .and_then(|p| p.unlocks.iter().find(|(id, ..)| *id == spec.id))
                .map_or((spec.sale_at, spec.sale_end), |&(_, at, end)| (at, end));
            if sale_at.is_some_and(|at| now < at) || sale_end.is_some_and(|end| now >= end) {
                return Err(Rejection::SaleNotOpen);
            }
            let already_planned: u32 = plan
                .iter()
                .filter(|(p, _, _)| *p == t)
                .map(|(_, q, _)| q)
                .sum();
            let qty = item.qty + already_planned;
            if let Some(max) = spec.max_per_user {
                let owned = self
                    .per_user
                    .get(&(request.user, spec.id))
                    .copied()
                    .unwrap_or(0);
                if u64::from(owned) + u64::from(qty) > u64::from(max) {
                    return Err(Rejection::OverUserLimit { max });
                }
            }
            if qty > state.available() {
                return Err(Rejection::SoldOut);
            }
            let seats = if !state.seat_mapped() {
                if !item.seats.is_empty() {
                    return Err(Rejection::InvalidRequest);
                }
                Vec::new()
            } else if item.seats.is_empty() {
                let taken: Vec<usize> = plan
                    .iter()
                    .filter(|(p, _, _)| *p == t)
                    .flat_map(|(_, _, s)| s.iter().copied())
                    .collect();
                state
                    .best_available(item.qty as usize, &taken)
                    .ok_or(Rejection::SoldOut)?
            } else {
                if item.seats.len() != item.qty as usize {
                    return Err(Rejection::InvalidRequest);
                }
                let mut chosen = Vec::with_capacity(item.seats.len());
                for seat in &item.seats {
                    let i = *state
                        .seat_index
                        .get(seat)
                        .ok_or(Rejection::UnknownSeat(*seat))?;
                    let planned = chosen.contains(&i)
                        || plan.iter().any(|(p, _, s)| *p == t && s.contains(&i));
                    if state.seat_states[i] != SeatState::Free || planned {
                        return Err(Rejection::SeatTaken(*seat));
                    }
                    chosen.push(i);
                }
                chosen
            };
            plan.push((t, item.qty, seats));
        }

        let mut hold = Hold {
            booking: request.booking,
            user: request.user,
            items: Vec::with_capacity(plan.len()),
            seats: Vec::new(),
            currency: currency.unwrap_or_default().to_owned(),
            held_at: now,
            expires_at,
            state: HoldState::Held,
            promo: request.promo.as_ref().map(|p| p.id),
        };
        self.count_promo(&hold, 1);
        for (t, qty, seats) in plan {
            let state = &mut self.types[t];
            state.held += qty;
            for i in seats {
                state.set_seat(i, SeatState::Taken(request.booking));
                hold.seats.push((state.spec.id, state.spec.seats[i].id));
            }
            let price = match &request.promo {
                Some(promo) => promo.price(state.spec.id, state.spec.price),
                None => state.spec.price,
            };
            hold.items.push((state.spec.id, qty, price));
            *self
                .per_user
                .entry((request.user, state.spec.id))
                .or_default() += qty;
        }
        self.expiry.insert((expires_at, request.booking));
        Ok(self.holds.entry(request.booking).or_insert(Arc::new(hold)))
    }

    /// Moves a held booking's deadline to `until`; the hold after.
    pub fn reschedule(&mut self, booking: BookingId, until: Millis) -> Result<&Hold, Rejection> {
        let hold = held_mut(&mut self.holds, booking)?;
        self.expiry.remove(&(hold.expires_at, booking));
        hold.expires_at = until;
        self.expiry.insert((until, booking));
        Ok(&self.holds[&booking])
    }

    /// Gives a held booking's admissions and seats back (cancel, failed payment).
    pub fn release(&mut self, booking: BookingId) -> Result<Hold, Rejection> {
        match self.holds.get(&booking) {
            None => Err(Rejection::UnknownBooking),
            Some(hold) if hold.state == HoldState::Confirmed => Err(Rejection::AlreadyConfirmed),
            Some(_) => Ok(self.drop_hold(booking)),
        }
    }

    /// Releases every hold whose deadline is at or before `now`; returns them.
    pub fn expire(&mut self, now: Millis) -> Vec<Hold> {
        let due: Vec<BookingId> = self
            .expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, b)| *b)
            .collect();
        due.into_iter()
            .map(|booking| self.drop_hold(booking))
            .collect()
    }

    /// Turns a held booking into sold admissions. Confirming twice answers `AlreadyConfirmed`.
    pub fn confirm(&mut self, booking: BookingId) -> Result<&Hold, Rejection> {
        let hold = held_mut(&mut self.holds, booking)?;
        hold.state = HoldState::Confirmed;
        self.expiry.remove(&(hold.expires_at, booking));
        for (ticket_type, qty, _) in &hold.items {
            let state = type_mut(&mut self.types, *ticket_type);
            state.held -= qty;
            state.sold += qty;
        }
        Ok(&self.holds[&booking])
    }

    /// Sells a hold that had expired (a late payment) if the very same admissions and seats are
    /// still free; all or nothing.
    pub fn reinstate(&mut self, hold: &Hold) -> Result<&Hold, Rejection> {
        self.place(Hold {
            state: HoldState::Confirmed,
            ..hold.clone()
        })
    }

    /// Puts a recorded booking back as it was (recovery, or undoing a release whose commit
    /// failed), after the same capacity and seat checks as a new hold; all or nothing.
    pub fn place(&mut self, hold: Hold) -> Result<&Hold, Rejection> {
        if self.holds.contains_key(&hold.booking) {
            return Err(Rejection::DuplicateBooking);
        }
        let mut wanted: Vec<(usize, u32)> = Vec::with_capacity(hold.items.len());
        for (ticket_type, qty, _) in &hold.items {
            let t = self.type_index(*ticket_type)?;
            match wanted.iter_mut().find(|(w, _)| *w == t) {
                Some((_, total)) => *total += qty,
                None => wanted.push((t, *qty)),
            }
        }
        if wanted
            .iter()
            .any(|&(t, qty)| qty > self.types[t].available())
        {
            return Err(Rejection::SoldOut);
        }
        let mut seats = Vec::with_capacity(hold.seats.len());
        for (ticket_type, seat) in &hold.seats {
            let t = self.type_index(*ticket_type)?;
            let i = *self.types[t]
                .seat_index
                .get(seat)
                .ok_or(Rejection::UnknownSeat(*seat))?;
            if self.types[t].seat_states[i] != SeatState::Free || seats.contains(&(t, i)) {
                return Err(Rejection::SeatTaken(*seat));
            }
            seats.push((t, i));
        }
        for (t, qty) in wanted {
            let state = &mut self.types[t];
            match hold.state {
                HoldState::Held => state.held += qty,
                HoldState::Confirmed => state.sold += qty,
            }
            *self.per_user.entry((hold.user, state.spec.id)).or_default() += qty;
        }
        for (t, i) in seats {
            self.types[t].set_seat(i, SeatState::Taken(hold.booking));
        }
        if hold.state == HoldState::Held {
            self.expiry.insert((hold.expires_at, hold.booking));
        }
        self.count_promo(&hold, 1);
        Ok(self.holds.entry(hold.booking).or_insert(Arc::new(hold)))
    }

    /// Cuts a sold booking down to what it keeps (its tickets still valid after a refund):
    /// `keep` admissions per ticket type, taken from its lines first to last, and the seats in
    /// `keep_seats`; everything else goes back on sale. It never grows a booking, so asking
    /// again with the same target changes nothing (`Ok(None)`). A booking left with nothing is
    /// removed. Answers the booking before and after.
    pub fn keep_only(
        &mut self,
        booking: BookingId,
        keep: &[(TicketTypeId, u32)],
        keep_seats: &[(TicketTypeId, SeatId)],
    ) -> Result<Option<(Hold, Hold)>, Rejection> {
        let before = match self.holds.get(&booking) {
            None => return Err(Rejection::UnknownBooking),
            Some(hold) if hold.state != HoldState::Confirmed => {
                return Err(Rejection::InvalidRequest)
            }
            Some(hold) => Hold::clone(hold),
        };
        let mut after = before.clone();
        let mut left: Vec<(TicketTypeId, u32)> = keep.to_vec();
        for (ticket_type, qty, _) in &mut after.items {
            let quota = left
                .iter_mut()
                .find(|(t, _)| t == ticket_type)
                .map(|(_, n)| n);
            let kept = match quota {
                Some(n) => {
                    let kept = (*qty).min(*n);
                    *n -= kept;
                    kept
                }
                None => 0,
            };
            *qty = kept;
        }
        after.seats.retain(|seat| keep_seats.contains(seat));
        if after == before {
            return Ok(None);
        }
        let returned: Vec<(TicketTypeId, u32)> = before
            .items
            .iter()
            .zip(&after.items)
            .map(|((t, was, _), (_, now, _))| (*t, was - now))
            .collect();
        for (ticket_type, qty) in returned {
            let state = type_mut(&mut self.types, ticket_type);
            state.sold -= qty;
            if let Some(owned) = self.per_user.get_mut(&(before.user, ticket_type)) {
                *owned -= qty;
            }
        }
        for seat in before.seats.iter().filter(|s| !after.seats.contains(s)) {
            let state = type_mut(&mut self.types, seat.0);
            let i = state.seat_index[&seat.1];
            state.set_seat(i, SeatState::Free);
        }
        if after.admissions() == 0 {
            // a booking refunded in full gives its promo code's use back
            self.count_promo(&before, -1);
            self.holds.remove(&booking);
        } else {
            self.holds.insert(booking, Arc::new(after.clone()));
        }
        Ok(Some((before, after)))
    }

    /// Counts (`+1`) or gives back (`-1`) the promo code use of `hold`.
    fn count_promo(&mut self, hold: &Hold, by: i32) {
        let Some(promo) = hold.promo else { return };
        for count in [
            self.promo_uses.entry(promo).or_default(),
            self.promo_per_user.entry((promo, hold.user)).or_default(),
        ] {
            *count = count.saturating_add_signed(by);
        }
    }

    /// Bookings using `promo` now (held or sold).
    pub fn promo_uses(&self, promo: Uuid) -> u32 {
        self.promo_uses.get(&promo).copied().unwrap_or(0)
    }

    /// Removes a booking and gives back what it took, held or sold.
    fn drop_hold(&mut self, booking: BookingId) -> Hold {
        let hold = Arc::unwrap_or_clone(
            self.holds
                .remove(&booking)
                .expect("the caller checked the hold exists"),
        );
        self.expiry.remove(&(hold.expires_at, booking));
        self.count_promo(&hold, -1);
        for (ticket_type, qty, _) in &hold.items {
            let state = type_mut(&mut self.types, *ticket_type);
            match hold.state {
                HoldState::Held => state.held -= qty,
                HoldState::Confirmed => state.sold -= qty,
            }
            if let Some(owned) = self.per_user.get_mut(&(hold.user, *ticket_type)) {
                *owned -= qty;
            }
        }
        for (ticket_type, seat) in &hold.seats {
            let state = type_mut(&mut self.types, *ticket_type);
            let i = state.seat_index[seat];
            state.set_seat(i, SeatState::Free);
        }
        hold
    }

    /// Removes a booking whatever its state (undoing a reinstatement that did not become durable).
    pub fn forget(&mut self, booking: BookingId) -> Option<Hold> {
        self.holds
            .contains_key(&booking)
            .then(|| self.drop_hold(booking))
    }

    /// Turns a confirmed booking back into a hold (undoing a confirmation that did not become
    /// durable); it expires at its old deadline.
    pub fn unconfirm(&mut self, booking: BookingId) -> Result<(), Rejection> {
        let hold = self
            .holds
            .get_mut(&booking)
            .map(Arc::make_mut)
            .ok_or(Rejection::UnknownBooking)?;
        if hold.state == HoldState::Held {
            return Ok(());
        }
        hold.state = HoldState::Held;
        self.expiry.insert((hold.expires_at, booking));
        for (ticket_type, qty, _) in &hold.items {
            let state = type_mut(&mut self.types, *ticket_type);
            state.sold -= qty;
            state.held += qty;
        }
        Ok(())
    }

    /// Every booking the inventory knows (held or confirmed): what a snapshot persists.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values().map(|hold| &**hold)
    }

    /// Live holds and sold bookings: what a snapshot carries.
    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    /// The bookings to persist; [`EventInventory::restore`] rebuilds everything else from them
    /// and the ticket types, so a snapshot never carries stale capacities or seat maps. Cheap:
    /// the holds are shared, not copied (a hold changed later is copied then, once).
    pub fn snapshot(&self) -> Vec<Arc<Hold>> {
        self.holds.values().cloned().collect()
    }

    /// An inventory for `types` with `holds` placed back. A booking that no longer fits (the
    /// organizer cut capacity or removed a seat in a race with it) is left out and reported.
    pub fn restore(
        types: Vec<TicketTypeSpec>,
        holds: impl IntoIterator<Item = impl Into<Arc<Hold>>>,
    ) -> (Self, Vec<RestoreError>) {
        let mut inventory = Self::new(types);
        let mut holds: Vec<Hold> = holds
            .into_iter()
            .map(|hold| Arc::unwrap_or_clone(hold.into()))
            .collect();
        // confirmed first: a sale outranks a hold if they cannot both fit
        holds.sort_by_key(|h| (h.state != HoldState::Confirmed, h.held_at, h.booking));
        let errors = holds
            .into_iter()
            .filter_map(|hold| {
                let booking = hold.booking;
                inventory
                    .place(hold)
                    .err()
                    .map(|reason| RestoreError { booking, reason })
            })
            .collect();
        (inventory, errors)
    }

    /// The same bookings on new ticket types (the organizer edited the event).
    pub fn rebuild(&mut self, types: Vec<TicketTypeSpec>) -> Vec<RestoreError> {
        let holds = std::mem::take(&mut self.holds).into_values();
        let (inventory, errors) = Self::restore(types, holds);
        *self = inventory;
        errors
    }

    /// Whether `edit` would strand a booking; nothing changes. An unknown type has nothing to
    /// strand.
    pub fn check_edit(&self, edit: &InventoryEdit) -> Result<(), Stranded> {
        let ticket_type = match edit {
            InventoryEdit::Capacity { ticket_type, .. }
            | InventoryEdit::Seats { ticket_type }
            | InventoryEdit::Remove { ticket_type } => *ticket_type,
        };
        let Some(state) = self.types.iter().find(|t| t.spec.id == ticket_type) else {
            return Ok(());
        };
        let taken = state.held + state.sold;
        match edit {
            InventoryEdit::Capacity { capacity, .. } if taken > *capacity => {
                Err(Stranded::Admissions { ticket_type, taken })
            }
            // a seat-mapped type's admissions all have seats, so any admission pins the map
            InventoryEdit::Seats { .. } if taken > 0 => {
                let seats: Vec<SeatId> = state
                    .rows
                    .iter()
                    .flatten()
                    .filter(|&&i| state.seat_states[i] != SeatState::Free)
                    .map(|&i| state.spec.seats[i].id)
                    .collect();
                Err(Stranded::Seats {
                    ticket_type,
                    taken: (seats.len() as u32).max(taken),
                    seats: seats.into_iter().take(STRANDED_SEATS_NAMED).collect(),
                })
            }
            InventoryEdit::Remove { .. } if taken > 0 => {
                Err(Stranded::Admissions { ticket_type, taken })
            }
            _ => Ok(()),
        }
    }

    /// Puts the organizer's edited ticket types in place, keeping every booking: a type whose
    /// seats did not change keeps its seat states; one whose seats changed, or that is gone,
    /// must have nothing taken. All or nothing. Costs the size of the changed maps, not of
    /// the bookings (unlike [`EventInventory::rebuild`]).
    pub fn retype(&mut self, types: Vec<TicketTypeSpec>) -> Result<(), Stranded> {
        for state in &self.types {
            let ticket_type = state.spec.id;
            let edit = match types.iter().find(|t| t.id == ticket_type) {
                None => InventoryEdit::Remove { ticket_type },
                Some(spec) if spec.seats != state.spec.seats => {
                    InventoryEdit::Seats { ticket_type }
                }
                Some(spec) => InventoryEdit::Capacity {
                    ticket_type,
                    capacity: spec.capacity,
                },
            };
            self.check_edit(&edit)?;
        }
        let mut old: HashMap<TicketTypeId, TypeState> =
            self.types.drain(..).map(|t| (t.spec.id, t)).collect();
        self.types = types
            .into_iter()
            .map(|spec| match old.remove(&spec.id) {
                Some(mut state) if state.spec.seats == spec.seats => {
                    state.spec = spec;
                    state
                }
                // nothing taken (checked above), so a fresh state loses nothing
                _ => TypeState::new(spec),
            })
            .collect();
        self.per_user.retain(|_, owned| *owned > 0);
        Ok(())
    }

    /// The ticket types, in the order they were given.
    pub fn ticket_types(&self) -> impl Iterator<Item = &TicketTypeSpec> {
        self.types.iter().map(|t| &t.spec)
    }

    /// The booking holding `seat` of `ticket_type`, if any.
    pub fn seat_holder(&self, ticket_type: TicketTypeId, seat: SeatId) -> Option<BookingId> {
        let state = self.types.iter().find(|t| t.spec.id == ticket_type)?;
        match state.seat_states[*state.seat_index.get(&seat)?] {
            SeatState::Free => None,
            SeatState::Taken(booking) => Some(booking),
        }
    }

    /// Checks invariants 1 and 2 (`docs/ARCHITECTURE.md`); for tests and debug assertions.
    pub fn check_invariants(&self) -> Result<(), InvariantBroken> {
        for state in &self.types {
            if state.held + state.sold > state.spec.capacity {
                return Err(InvariantBroken(format!(
                    "{}: held {} + sold {} > capacity {}",
                    state.spec.id, state.held, state.sold, state.spec.capacity
                )));
            }
            let in_holds: u64 = self
                .holds
                .values()
                .flat_map(|h| &h.items)
                .filter(|(t, _, _)| *t == state.spec.id)
                .map(|(_, q, _)| u64::from(*q))
                .sum();
            if in_holds != u64::from(state.held) + u64::from(state.sold) {
                return Err(InvariantBroken(format!(
                    "{}: holds carry {in_holds}, counters say {}",
                    state.spec.id,
                    state.held + state.sold
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for hold in self.holds.values() {
            for (_, seat) in &hold.seats {
                if !seen.insert(*seat) {
                    return Err(InvariantBroken(format!("seat {seat} is in two bookings")));
                }
            }
        }
        Ok(())
    }
}

/// An invariant the inventory broke, described (only a bug in the engine can cause one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("inventory invariant broken: {0}")]
pub struct InvariantBroken(pub String);
