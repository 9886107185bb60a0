//! Brute-force protection for login and registration, in memory (one process serves the API,
//! see docs/ARCHITECTURE.md; a restart forgetting counts is acceptable). A login attempt is counted before
//! its password is checked (reserve, then verify), so concurrent guesses cannot overtake a limit:
//! a few failures per account from one client address, more per address across accounts, and per
//! account across all addresses some free failures after which each further attempt waits twice as
//! long as the one before — an attacker elsewhere slows an account down but cannot lock its owner out.
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters above this many entries are swept of finished windows, so an attacker who sprays
/// made-up emails cannot grow memory without bound.
const SWEEP_ABOVE: usize = 100_000;

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

pub struct LoginThrottle {
    limits: LoginLimits,
    // one lock over every counter: an attempt is checked against all its limits and counted in
    // all of them at once, and the lock is held for a few map operations, never across an await
    counts: Mutex<LoginCounts>,
}

#[derive(Default)]
struct LoginCounts {
    per_account_address: Counter<(String, IpAddr)>,
    per_address: Counter<IpAddr>,
    per_account: Counter<String>,
    /// when each account past its free failures may be tried next
    account_next: HashMap<String, Instant>,
}

/// A counted login attempt: a failure unless given back with [`LoginThrottle::succeeded`] or
/// [`LoginThrottle::abandon`].
#[must_use = "a reserved attempt counts as a failure until it is given back"]
pub struct Attempt {
    account: String,
    ip: IpAddr,
}

impl LoginThrottle {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            counts: Mutex::new(LoginCounts::default()),
        }
    }

    /// Counts an attempt of `account` from `ip`, or `Err(seconds)` to wait when a limit is reached.
    pub fn reserve(&self, account: &str, ip: IpAddr, now: Instant) -> Result<Attempt, u64> {
        let limits = &self.limits;
        let mut counts = self.counts.lock().expect("throttle lock");
        counts.sweep(now, limits.window);
        let pair = (account.to_owned(), ip);
        let account = pair.0.clone();
        let spaced = (counts.per_account.count(&account, now, limits.window)
            >= limits.account_free)
            .then(|| counts.account_next.get(&account).copied())
            .flatten()
            .filter(|next| now < *next)
            .map(|next| next - now);
        let waits = [
            counts.per_account_address.blocked_for(
                &pair,
                limits.per_account_address,
                now,
                limits.window,
            ),
            counts
                .per_address
                .blocked_for(&ip, limits.per_address, now, limits.window),
            spaced,
        ];
        if let Some(wait) = waits.into_iter().flatten().max() {
            return Err(seconds(wait));
        }
        counts.per_account_address.add(pair, now, limits.window);
        counts.per_address.add(ip, now, limits.window);
        let failures = counts.per_account.add(account.clone(), now, limits.window);
        if let Some(past_free) = failures.checked_sub(limits.account_free) {
            counts
                .account_next
                .insert(account.clone(), now + limits.delay(past_free + 1));
        }
        Ok(Attempt { account, ip })
    }

    /// The right password: that address's count for the account ends, and the attempt is given
    /// back to the address and the account (their earlier failures still count).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut counts = self.counts.lock().expect("throttle lock");
        counts
            .per_account_address
            .windows
            .remove(&(attempt.account.clone(), attempt.ip));
        counts.give_back(&attempt);
    }

    /// Neither right nor wrong (the check itself failed): the attempt does not count.
    pub fn abandon(&self, attempt: Attempt) {
        let mut counts = self.counts.lock().expect("throttle lock");
        counts
            .per_account_address
            .take_back(&(attempt.account.clone(), attempt.ip));
        counts.give_back(&attempt);
    }
}

impl LoginCounts {
    fn give_back(&mut self, attempt: &Attempt) {
        self.per_address.take_back(&attempt.ip);
        self.per_account.take_back(&attempt.account);
    }

    fn sweep(&mut self, now: Instant, window: Duration) {
        self.per_account_address.sweep(now, window);
        self.per_address.sweep(now, window);
        if self.per_account.sweep(now, window) {
            self.account_next.retain(|_, next| now < *next);
        }
    }
}

/// Registrations per client address: each one costs a password hash and creates an account.
pub struct RegistrationThrottle {
    max: u32,
    window: Duration,
    counts: Mutex<Counter<IpAddr>>,
}

impl RegistrationThrottle {
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

/// Counts per key in fixed windows that start at a key's first count.
struct Counter<K> {
    windows: HashMap<K, Window>,
}

impl<K> Default for Counter<K> {
    fn default() -> Self {
        Self {
            windows: HashMap::new(),
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl<K: Eq + Hash> Counter<K> {
    /// The count of `key` in the window that holds `now`.
    fn count(&self, key: &K, now: Instant, window: Duration) -> u32 {
        self.windows
            .get(key)
            .filter(|w| now < w.started + window)
            .map_or(0, |w| w.count)
    }

    /// How long until `key` may be counted again, if it has reached `max`.
    fn blocked_for(&self, key: &K, max: u32, now: Instant, window: Duration) -> Option<Duration> {
        let entry = self.windows.get(key)?;
        let ends = entry.started + window;
        (entry.count >= max && now < ends).then(|| ends - now)
    }

    /// Counts one more for `key`; the count in the current window.
    fn add(&mut self, key: K, now: Instant, window: Duration) -> u32 {
        let entry = self.windows.entry(key).or_insert(Window {
            started: now,
            count: 0,
        });
        if now >= entry.started + window {
            *entry = Window {
                started: now,
                count: 0,
            };
        }
        entry.count += 1;
        entry.count
    }

    fn take_back(&mut self, key: &K) {
        if let Some(entry) = self.windows.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    /// Drops finished windows once there are many; whether it swept.
    fn sweep(&mut self, now: Instant, window: Duration) -> bool {
        let sweep = self.windows.len() > SWEEP_ABOVE;
        if sweep {
            self.windows.retain(|_, w| now < w.started + window);
        }
        sweep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn limits() -> LoginLimits {
        LoginLimits {
            per_account_address: 3,
            per_address: 100,
            account_free: 100,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            window: Duration::from_secs(900),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, last))
    }

    #[test]
    fn reserving_counts_before_any_outcome_is_known() {
        let throttle = LoginThrottle::new(limits());
        let t0 = Instant::now();
        // three attempts in flight, none answered yet: the fourth is refused
        let in_flight: Vec<_> = (0..3)
            .map(|_| throttle.reserve("a@x.io", IP, t0).unwrap())
            .collect();
        assert_eq!(throttle.reserve("a@x.io", IP, t0).err(), Some(900));
        assert!(
            throttle.reserve("a@x.io", OTHER_IP, t0).is_ok(),
            "the account from another address"
        );
        assert!(
            throttle.reserve("b@x.io", IP, t0).is_ok(),
            "another account from this address"
        );
        // one turns out right: this address's count for the account ends
        let mut in_flight = in_flight.into_iter();
        throttle.succeeded(in_flight.next().unwrap());
        assert!(throttle.reserve("a@x.io", IP, t0).is_ok());
        assert!(throttle
            .reserve("a@x.io", IP, t0 + Duration::from_secs(900))
            .is_ok());
    }

    #[test]
    fn an_abandoned_attempt_is_given_back_and_a_failed_one_is_not() {
        let throttle = LoginThrottle::new(limits());
        let t0 = Instant::now();
        let failed = throttle.reserve("a@x.io", IP, t0).unwrap();
        drop(failed);
        let abandoned = throttle.reserve("a@x.io", IP, t0).unwrap();
        throttle.abandon(abandoned);
        let _second = throttle.reserve("a@x.io", IP, t0).unwrap();
        let _third = throttle.reserve("a@x.io", IP, t0).unwrap();
        assert!(throttle.reserve("a@x.io", IP, t0).is_err());
    }

    #[test]
    fn an_address_is_limited_across_accounts_and_keeps_its_failures_after_a_success() {
        let throttle = LoginThrottle::new(LoginLimits {
            per_address: 4,
            ..limits()
        });
        let t0 = Instant::now();
        for i in 0..3 {
            let _failed = throttle.reserve(&format!("user{i}@x.io"), IP, t0).unwrap();
        }
        let right = throttle.reserve("owner@x.io", IP, t0).unwrap();
        throttle.succeeded(right);
        let _fourth = throttle.reserve("fresh@x.io", IP, t0).unwrap();
        assert!(throttle.reserve("fresh2@x.io", IP, t0).is_err());
        assert!(throttle.reserve("fresh2@x.io", OTHER_IP, t0).is_ok());
    }

    #[test]
    fn past_the_free_failures_each_attempt_waits_twice_as_long() {
        let throttle = LoginThrottle::new(LoginLimits {
            account_free: 2,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            ..limits()
        });
        let t0 = Instant::now();
        // every guess from a different address: only the account-wide limit applies
        let _ = throttle.reserve("a@x.io", ip(1), t0).unwrap();
        let _ = throttle.reserve("a@x.io", ip(2), t0).unwrap();
        assert_eq!(throttle.reserve("a@x.io", ip(3), t0).err(), Some(2));
        let (mut at, mut wait) = (t0, 2);
        for (n, expected) in [(3, 4), (4, 8), (5, 10), (6, 10)] {
            at += Duration::from_secs(wait);
            let almost = at - Duration::from_millis(1);
            assert_eq!(throttle.reserve("a@x.io", ip(n), almost).err(), Some(1));
            let _ = throttle.reserve("a@x.io", ip(n), at).unwrap();
            assert_eq!(
                throttle.reserve("a@x.io", ip(n + 10), at).err(),
                Some(expected),
                "after failure {n}"
            );
            wait = expected;
        }
        // other accounts are not spaced out
        assert!(throttle.reserve("b@x.io", ip(1), at).is_ok());
        // a new window starts free again
        let later = at + Duration::from_secs(900);
        assert!(throttle.reserve("a@x.io", ip(30), later).is_ok());
    }

    #[test]
    fn delays_double_up_to_the_cap_without_overflowing() {
        let limits = limits();
        assert_eq!(limits.delay(1), Duration::from_secs(1));
        assert_eq!(limits.delay(2), Duration::from_secs(2));
        assert_eq!(limits.delay(6), Duration::from_secs(32));
        assert_eq!(limits.delay(7), Duration::from_secs(60));
        assert_eq!(limits.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn registrations_are_limited_per_address_and_window() {
        let throttle = RegistrationThrottle::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(throttle.reserve(IP, t0).is_ok());
        assert!(throttle.reserve(IP, t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(throttle.reserve(IP, t0 + Duration::from_secs(10)), Err(50));
        assert!(throttle.reserve(OTHER_IP, t0).is_ok());
        assert!(throttle.reserve(IP, t0 + Duration::from_secs(60)).is_ok());
    }
}
