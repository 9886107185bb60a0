//! Brute-force protection for login and registration. A login attempt is counted before its
//! password is checked (reserve, then verify), so concurrent guesses cannot overtake a limit:
//! a few failures per account from one client address, more per address across accounts, and per
//! account across all addresses some free failures after which each further attempt waits twice as
//! long as the one before — an attacker elsewhere slows an account down but cannot lock its owner out.
//!
//! The login counters are rows of `login_attempts` in PostgreSQL, so every process serving the
//! API counts together, on the database's clock. A reservation is one transaction: one statement
//! locks (or creates) its three counters, always in the same order so that two reservations
//! cannot deadlock, then the decision is written and committed; finished windows are deleted a
//! few at a time after each reservation. Registrations are still counted per process, in memory.
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::error::{ApiError, Code};
use crate::input::sha256_hex;

/// In-memory counters above this many entries are swept of finished windows, so an attacker who
/// sprays made-up addresses cannot grow memory without bound.
const SWEEP_ABOVE: usize = 100_000;

/// Finished login windows deleted after each reservation: more than the three rows one
/// reservation can create, so the table shrinks back to the windows still running.
const SWEEP_BATCH: i64 = 16;

/// The counters' kinds, as `login_attempts.kind` names them.
const ACCOUNT_ADDRESS: &str = "account_address";
const ADDRESS: &str = "address";
const ACCOUNT: &str = "account";

/// The limits of [`LoginThrottle`], all counted over one fixed window.
#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    /// failures for one account from one address
    pub per_account_address: u32,
    /// failures from one address, whatever the accounts
    pub per_address: u32,
    /// failures for one account from all addresses before further attempts are spaced out
    pub account_free: u32,
    /// the spacing after the first failure past the free ones; it doubles with each further one
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub window: Duration,
}

impl LoginLimits {
    /// How long the attempt after the `nth` failure past the free ones must wait.
    fn delay(&self, nth: u32) -> Duration {
        let doubled = self
            .first_delay
            .saturating_mul(1u32.checked_shl(nth.saturating_sub(1)).unwrap_or(u32::MAX));
        doubled.min(self.max_delay)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// A limit is reached: the attempt was not counted; it may be made again in this many seconds.
    #[error("a login limit is reached; try again in {0} s")]
    Limited(u64),
    #[error("the login counters could not be read or written")]
    Database(#[from] sqlx::Error),
}

impl From<ThrottleError> for ApiError {
    fn from(error: ThrottleError) -> Self {
        match error {
            ThrottleError::Limited(seconds) => ApiError::new(
                Code::TooManyAttempts,
                "too many failed logins; try again later",
            )
            .retry_after(seconds),
            // the database out of reach: 503 with Retry-After, as for any other query
            ThrottleError::Database(
                cause @ (sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)),
            ) => cause.into(),
            other => ApiError::internal(other),
        }
    }
}

/// Login attempts counted in PostgreSQL, shared by every process on the database.
pub struct LoginThrottle {
    pool: PgPool,
    limits: LoginLimits,
}

/// A counted login attempt: a failure unless given back with [`LoginThrottle::succeeded`] or
/// [`LoginThrottle::abandon`].
#[must_use = "a reserved attempt counts as a failure until it is given back"]
pub struct Attempt {
    subjects: Subjects,
}

/// What one attempt is counted against, each as the SHA-256 (hex) `login_attempts.subject`:
/// the table holds no email addresses, and a key has one size whatever the client sent.
struct Subjects {
    account_address: String,
    address: String,
    account: String,
}

impl Subjects {
    fn of(account: &str, ip: IpAddr) -> Self {
        Self {
            // an address's text has no space, so the pair cannot be read two ways
            account_address: sha256_hex(format!("{ip} {account}").as_bytes()),
            address: sha256_hex(ip.to_string().as_bytes()),
            account: sha256_hex(account.as_bytes()),
        }
    }
}

/// Locks the attempt's three counters, creating those that do not exist yet (a window starting
/// now with no failures), and reads them with the time to decide at. `VALUES` is inserted in
/// its order, so every reservation takes the locks in the same order; the time is taken once the
/// locks are held ($4 in tests).
const LOCK_COUNTERS: &str = "
INSERT INTO login_attempts AS c (kind, subject, window_started_at, failures)
VALUES ('account_address', $1, COALESCE($4, clock_timestamp()), 0),
       ('address', $2, COALESCE($4, clock_timestamp()), 0),
       ('account', $3, COALESCE($4, clock_timestamp()), 0)
ON CONFLICT (kind, subject) DO UPDATE SET failures = c.failures
RETURNING kind, window_started_at, failures, next_attempt_at,
          COALESCE($4, clock_timestamp()) AS now";

const WRITE_COUNTERS: &str = "
UPDATE login_attempts AS c
SET window_started_at = v.started, failures = v.failures, next_attempt_at = v.next
FROM (VALUES ('account_address', $1, $2::timestamptz, $3::integer, NULL::timestamptz),
             ('address', $4, $5::timestamptz, $6::integer, NULL::timestamptz),
             ('account', $7, $8::timestamptz, $9::integer, $10::timestamptz))
     AS v (kind, subject, started, failures, next)
WHERE c.kind = v.kind AND c.subject = v.subject";

#[derive(sqlx::FromRow)]
struct CounterRow {
    kind: String,
    window_started_at: DateTime<Utc>,
    failures: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

impl LoginThrottle {
    pub fn new(pool: PgPool, limits: LoginLimits) -> Self {
        Self { pool, limits }
    }

    /// Counts an attempt of `account` from `ip`, or [`ThrottleError::Limited`] when a limit is
    /// reached (then nothing is counted).
    pub async fn reserve(&self, account: &str, ip: IpAddr) -> Result<Attempt, ThrottleError> {
        self.reserve_on(account, ip, None).await
    }

    /// [`LoginThrottle::reserve`] at `now` instead of the database's time, for tests.
    pub async fn reserve_at(
        &self,
        account: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Attempt, ThrottleError> {
        self.reserve_on(account, ip, Some(now)).await
    }

    async fn reserve_on(
        &self,
        account: &str,
        ip: IpAddr,
        at: Option<DateTime<Utc>>,
    ) -> Result<Attempt, ThrottleError> {
        let subjects = Subjects::of(account, ip);
        let mut tx = self.pool.begin().await?;
        let rows: Vec<CounterRow> = sqlx::query_as(LOCK_COUNTERS)
            .bind(&subjects.account_address)
            .bind(&subjects.address)
            .bind(&subjects.account)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
        let (mut counters, now) = Counters::from_rows(rows)?;
        let decided = counters.reserve(&self.limits, now);
        if decided.is_ok() {
            sqlx::query(WRITE_COUNTERS)
                .bind(&subjects.account_address)
                .bind(counters.account_address.started)
                .bind(stored(counters.account_address.failures))
                .bind(&subjects.address)
                .bind(counters.address.started)
                .bind(stored(counters.address.failures))
                .bind(&subjects.account)
                .bind(counters.account.started)
                .bind(stored(counters.account.failures))
                .bind(counters.account_next)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        } else {
            // counters this attempt created are not kept
            tx.rollback().await?;
        }
        self.sweep(now).await;
        match decided {
            Ok(()) => Ok(Attempt { subjects }),
            Err(wait) => Err(ThrottleError::Limited(seconds(wait))),
        }
    }

    /// The right password: that address's count for the account ends, and the attempt is given
    /// back to the address and the account (their earlier failures still count).
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), ThrottleError> {
        let subjects = attempt.subjects;
        // one counter per statement, each committed on its own: holding one counter while
        // waiting for another could deadlock with a reservation taking them in its order
        sqlx::query("DELETE FROM login_attempts WHERE kind = $1 AND subject = $2")
            .bind(ACCOUNT_ADDRESS)
            .bind(&subjects.account_address)
            .execute(&self.pool)
            .await?;
        self.give_back(ADDRESS, &subjects.address).await?;
        self.give_back(ACCOUNT, &subjects.account).await
    }

    /// Neither right nor wrong (the check itself failed): the attempt does not count.
    pub async fn abandon(&self, attempt: Attempt) -> Result<(), ThrottleError> {
        let subjects = attempt.subjects;
        self.give_back(ACCOUNT_ADDRESS, &subjects.account_address)
            .await?;
        self.give_back(ADDRESS, &subjects.address).await?;
        self.give_back(ACCOUNT, &subjects.account).await
    }

    async fn give_back(&self, kind: &str, subject: &str) -> Result<(), ThrottleError> {
        sqlx::query(
            "UPDATE login_attempts SET failures = failures - 1
             WHERE kind = $1 AND subject = $2 AND failures > 0",
        )
        .bind(kind)
        .bind(subject)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a few counters whose window ended by `now`, skipping those another reservation
    /// holds (so it never waits). A failure only leaves them for the next reservation.
    async fn sweep(&self, now: DateTime<Utc>) {
        let ended = earlier(now, self.limits.window);
        let swept = sqlx::query(
            "DELETE FROM login_attempts WHERE (kind, subject) IN (
                 SELECT kind, subject FROM login_attempts WHERE window_started_at <= $1
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(ended)
        .bind(SWEEP_BATCH)
        .execute(&self.pool)
        .await;
        if let Err(error) = swept {
            tracing::warn!(%error, "could not delete finished login windows");
        }
    }
}

/// One counter's current window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    started: DateTime<Utc>,
    failures: u32,
}

impl Window {
    /// The failures in the window that holds `now`.
    fn count(&self, now: DateTime<Utc>, window: Duration) -> u32 {
        if now < later(self.started, window) {
            self.failures
        } else {
            0
        }
    }

    /// How long until it may be counted again, if it has reached `max`.
    fn blocked_for(&self, max: u32, now: DateTime<Utc>, window: Duration) -> Option<Duration> {
        let ends = later(self.started, window);
        (self.failures >= max && now < ends).then(|| until(now, ends))
    }

    /// Counts one more, in a new window if this one has ended; the count in the window.
    fn add(&mut self, now: DateTime<Utc>, window: Duration) -> u32 {
        if now >= later(self.started, window) {
            *self = Window {
                started: now,
                failures: 0,
            };
        }
        self.failures = self.failures.saturating_add(1);
        self.failures
    }
}

/// The three counters one attempt is checked against and counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    account_address: Window,
    address: Window,
    account: Window,
    /// when the account may be tried next, once past its free failures
    account_next: Option<DateTime<Utc>>,
}

impl Counters {
    /// The counters as [`LOCK_COUNTERS`] returns them, and the time to decide at.
    fn from_rows(rows: Vec<CounterRow>) -> Result<(Self, DateTime<Utc>), sqlx::Error> {
        let (mut account_address, mut address, mut account) = (None, None, None);
        let mut account_next = None;
        let mut now = None;
        for row in rows {
            let window = Window {
                started: row.window_started_at,
                failures: u32::try_from(row.failures).unwrap_or(0),
            };
            now = now.max(Some(row.now));
            match row.kind.as_str() {
                ACCOUNT_ADDRESS => account_address = Some(window),
                ADDRESS => address = Some(window),
                ACCOUNT => {
                    account = Some(window);
                    account_next = row.next_attempt_at;
                }
                _ => {}
            }
        }
        match (account_address, address, account, now) {
            (Some(account_address), Some(address), Some(account), Some(now)) => Ok((
                Self {
                    account_address,
                    address,
                    account,
                    account_next,
                },
                now,
            )),
            // the statement returns one row per counter it inserts or updates: all three
            _ => Err(sqlx::Error::RowNotFound),
        }
    }

    /// Counts one more attempt in every counter, or how long to wait when a limit is reached
    /// (then none is counted).
    fn reserve(&mut self, limits: &LoginLimits, now: DateTime<Utc>) -> Result<(), Duration> {
        let window = limits.window;
        let spaced = (self.account.count(now, window) >= limits.account_free)
            .then_some(self.account_next)
            .flatten()
            .filter(|next| now < *next)
            .map(|next| until(now, next));
        let waits = [
            self.account_address
                .blocked_for(limits.per_account_address, now, window),
            self.address.blocked_for(limits.per_address, now, window),
            spaced,
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(wait);
        }
        self.account_address.add(now, window);
        self.address.add(now, window);
        let failures = self.account.add(now, window);
        if let Some(past_free) = failures.checked_sub(limits.account_free) {
            self.account_next = Some(later(now, limits.delay(past_free + 1)));
        }
        Ok(())
    }
}

fn stored(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn earlier(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_sub_signed(by))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How long from `now` until `then`, nothing if it has passed.
fn until(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (then - now).to_std().unwrap_or(Duration::ZERO)
}

/// Requests per client address in fixed windows, in memory: registrations (each costs a
/// password hash and creates an account) and waiting-room joins.
pub struct AddressThrottle {
    max: u32,
    window: Duration,
    counts: Mutex<Counter<IpAddr>>,
}

impl AddressThrottle {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            counts: Mutex::new(Counter::default()),
        }
    }

    /// Counts a registration from `ip`, or `Err(seconds)` to wait.
    pub fn reserve(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut counts = self.counts.lock().expect("throttle lock");
        counts.sweep(now, self.window);
        if let Some(wait) = counts.blocked_for(&ip, self.max, now, self.window) {
            return Err(seconds(wait));
        }
        counts.add(ip, now, self.window);
        Ok(())
    }
}

/// Whole seconds for `Retry-After`, rounded up and at least 1.
fn seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// Counts per key in fixed windows that start at a key's first count, in memory.
struct Counter<K> {
    windows: HashMap<K, MemoryWindow>,
}

impl<K> Default for Counter<K> {
    fn default() -> Self {
        Self {
            windows: HashMap::new(),
        }
    }
}

#[derive(Clone, Copy)]
struct MemoryWindow {
    started: Instant,
    count: u32,
}

impl<K: Eq + Hash> Counter<K> {
    /// How long until `key` may be counted again, if it has reached `max`.
    fn blocked_for(&self, key: &K, max: u32, now: Instant, window: Duration) -> Option<Duration> {
        let entry = self.windows.get(key)?;
        let ends = entry.started + window;
        (entry.count >= max && now < ends).then(|| ends - now)
    }

    /// Counts one more for `key`.
    fn add(&mut self, key: K, now: Instant, window: Duration) {
        let entry = self.windows.entry(key).or_insert(MemoryWindow {
            started: now,
            count: 0,
        });
        if now >= entry.started + window {
            *entry = MemoryWindow {
                started: now,
                count: 0,
            };
        }
        entry.count += 1;
    }

    /// Drops finished windows once there are many.
    fn sweep(&mut self, now: Instant, window: Duration) {
        if self.windows.len() > SWEEP_ABOVE {
            self.windows.retain(|_, w| now < w.started + window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    // how attempts add up across accounts and addresses, on the database, is tested in
    // tests/api/throttle.rs; here the decision over one attempt's three counters

    fn limits() -> LoginLimits {
        LoginLimits {
            per_account_address: 3,
            per_address: 5,
            account_free: 2,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            window: Duration::from_secs(900),
        }
    }

    fn fresh(now: DateTime<Utc>) -> Counters {
        let window = Window {
            started: now,
            failures: 0,
        };
        Counters {
            account_address: window,
            address: window,
            account: window,
            account_next: None,
        }
    }

    #[test]
    fn a_refused_attempt_is_counted_in_no_counter() {
        let t0 = Utc::now();
        let mut counters = fresh(t0);
        counters.address.failures = 5;
        let before = counters;
        assert_eq!(
            counters.reserve(&limits(), t0),
            Err(Duration::from_secs(900))
        );
        assert_eq!(counters, before);
        // the longest wait of those reached is the answer
        counters.account_address.failures = 3;
        counters.account_address.started = t0 - TimeDelta::seconds(100);
        assert_eq!(
            counters.reserve(&limits(), t0),
            Err(Duration::from_secs(900))
        );
    }

    #[test]
    fn past_the_free_failures_the_account_waits_and_a_new_window_starts_free() {
        let t0 = Utc::now();
        let mut counters = fresh(t0);
        counters.account.failures = 1;
        assert_eq!(counters.reserve(&limits(), t0), Ok(()));
        assert_eq!(counters.account.failures, 2);
        assert_eq!(counters.account_next, Some(t0 + TimeDelta::seconds(2)));
        // every later attempt from another address: a fresh pair and address each time
        let other = |c: Counters, at| Counters {
            account: c.account,
            account_next: c.account_next,
            ..fresh(at)
        };
        let mut counters = other(counters, t0);
        assert_eq!(counters.reserve(&limits(), t0), Err(Duration::from_secs(2)));
        let at = t0 + TimeDelta::seconds(2);
        assert_eq!(counters.reserve(&limits(), at), Ok(()));
        assert_eq!(counters.account_next, Some(at + TimeDelta::seconds(4)));
        let later_on = t0 + TimeDelta::seconds(900);
        let mut counters = other(counters, later_on);
        assert_eq!(counters.reserve(&limits(), later_on), Ok(()));
        assert_eq!(
            counters.account,
            Window {
                started: later_on,
                failures: 1
            }
        );
    }

    #[test]
    fn subjects_tell_accounts_and_addresses_apart() {
        let a = Subjects::of("a@x.io", IP);
        let b = Subjects::of("a@x.io", OTHER_IP);
        assert_eq!(a.account, b.account);
        assert_ne!(a.address, b.address);
        assert_ne!(a.account_address, b.account_address);
        assert_eq!(a.account.len(), 64);
    }

    #[test]
    fn delays_double_up_to_the_cap_without_overflowing() {
        let limits = LoginLimits {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            ..limits()
        };
        assert_eq!(limits.delay(1), Duration::from_secs(1));
        assert_eq!(limits.delay(2), Duration::from_secs(2));
        assert_eq!(limits.delay(6), Duration::from_secs(32));
        assert_eq!(limits.delay(7), Duration::from_secs(60));
        assert_eq!(limits.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn far_times_saturate_instead_of_overflowing() {
        let t0 = Utc::now();
        assert_eq!(later(t0, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(earlier(t0, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(until(t0, t0 - TimeDelta::seconds(1)), Duration::ZERO);
    }

    #[test]
    fn registrations_are_limited_per_address_and_window() {
        let throttle = AddressThrottle::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(throttle.reserve(IP, t0).is_ok());
        assert!(throttle.reserve(IP, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(throttle.reserve(IP, t0 + Duration::from_secs(10)), Err(50));
        assert!(throttle.reserve(OTHER_IP, t0).is_ok());
        assert!(throttle.reserve(IP, t0 + Duration::from_secs(60)).is_ok());
    }
}
