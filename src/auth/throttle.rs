//! Brute-force protection for login: failed attempts counted per account and per client IP in
//! a fixed window. Past the threshold, login answers 429 before any password is checked.
//! In memory: one process serves the API (see DESIGN.md), and a restart forgetting counts is
//! acceptable for this purpose.
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Counters above this many entries are swept of finished windows, so an attacker who sprays
/// made-up emails cannot grow memory without bound.
const SWEEP_ABOVE: usize = 100_000;

pub struct LoginThrottle {
    per_account: Counters<String>,
    per_ip: Counters<IpAddr>,
}

struct Counters<K: Eq + Hash> {
    windows: DashMap<K, Window>,
    max_failures: u32,
    window: Duration,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl<K: Eq + Hash + Clone> Counters<K> {
    fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            windows: DashMap::new(),
            max_failures,
            window,
        }
    }

    /// Seconds until `key` may try again, if it is over the threshold now.
    fn blocked_for(&self, key: &K, now: Instant) -> Option<u64> {
        let entry = self.windows.get(key)?;
        let ends = entry.started + self.window;
        (entry.failures >= self.max_failures && now < ends)
            .then(|| (ends - now).as_secs_f64().ceil().max(1.0) as u64)
    }

    fn fail(&self, key: K, now: Instant) {
        if self.windows.len() > SWEEP_ABOVE {
            self.windows.retain(|_, w| now < w.started + self.window);
        }
        let mut entry = self.windows.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= entry.started + self.window {
            *entry = Window {
                started: now,
                failures: 0,
            };
        }
        entry.failures += 1;
    }
}

impl LoginThrottle {
    pub fn new(max_per_account: u32, max_per_ip: u32, window: Duration) -> Self {
        Self {
            per_account: Counters::new(max_per_account, window),
            per_ip: Counters::new(max_per_ip, window),
        }
    }

    /// `Err(seconds)` when this account or this address has failed too often.
    pub fn check(&self, account: &str, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let account = self.per_account.blocked_for(&account.to_owned(), now);
        let ip = self.per_ip.blocked_for(&ip, now);
        match account.into_iter().chain(ip).max() {
            Some(seconds) => Err(seconds),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, account: &str, ip: IpAddr, now: Instant) {
        self.per_account.fail(account.to_owned(), now);
        self.per_ip.fail(ip, now);
    }

    /// The right password ends the account's count; the address keeps its count, since one
    /// address guessing at many accounts is what the per-IP limit is for.
    pub fn record_success(&self, account: &str) {
        self.per_account.windows.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn blocks_an_account_after_its_threshold_until_the_window_ends() {
        let throttle = LoginThrottle::new(3, 100, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check("a@x.io", IP, t0).is_ok());
            throttle.record_failure("a@x.io", IP, t0);
        }
        assert_eq!(throttle.check("a@x.io", IP, t0), Err(60));
        assert!(
            throttle.check("b@x.io", IP, t0).is_ok(),
            "other accounts are not blocked"
        );
        assert!(throttle
            .check("a@x.io", IP, t0 + Duration::from_secs(61))
            .is_ok());
    }

    #[test]
    fn blocks_an_address_that_guesses_across_accounts() {
        let throttle = LoginThrottle::new(100, 4, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..4 {
            throttle.record_failure(&format!("user{i}@x.io"), IP, t0);
        }
        assert!(throttle.check("fresh@x.io", IP, t0).is_err());
        let elsewhere = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
        assert!(throttle.check("fresh@x.io", elsewhere, t0).is_ok());
    }

    #[test]
    fn success_clears_the_account_count_only() {
        let throttle = LoginThrottle::new(2, 3, Duration::from_secs(60));
        let t0 = Instant::now();
        throttle.record_failure("a@x.io", IP, t0);
        throttle.record_success("a@x.io");
        throttle.record_failure("a@x.io", IP, t0);
        assert!(
            throttle.check("a@x.io", IP, t0).is_ok(),
            "one failure since the success"
        );
        throttle.record_failure("a@x.io", IP, t0);
        assert!(throttle.check("a@x.io", IP, t0).is_err());
    }
}
