//! The engine's time. Actors never read the wall clock themselves: the directory hands each one
//! a [`Clock`], the [`SystemClock`] in production and a [`ManualClock`] in tests, so expiry and
//! time-driven snapshots can be tested by advancing time instead of waiting for it.
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::inventory::Millis;
use crate::journal::BoxFuture;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> Millis;

    /// Resolves once [`Clock::now`] has reached `at`.
    fn sleep_until(&self, at: Millis) -> BoxFuture<()>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }

    fn sleep_until(&self, at: Millis) -> BoxFuture<()> {
        let delay = Duration::from_millis((at - self.now()).max(0) as u64);
        Box::pin(tokio::time::sleep(delay))
    }
}

/// A clock that moves only when told to. It starts at the system time, so what the engine
/// records (hold and expiry times) still looks like today.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<Millis>,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Self::at(SystemClock.now())
    }

    pub fn at(start: Millis) -> Arc<Self> {
        Arc::new(Self {
            now: watch::Sender::new(start),
        })
    }

    /// Moves time forward; every timer now due fires.
    pub fn advance(&self, by: Duration) {
        let by = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: Millis) -> BoxFuture<()> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // a dropped clock never moves again: the timer then simply never fires
            if now.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_timer_fires_when_time_reaches_its_deadline_and_not_before() {
        let clock = ManualClock::at(1_000);
        let mut timer = clock.sleep_until(1_500);
        let poll = |timer: &mut BoxFuture<()>| {
            let waker = std::task::Waker::noop();
            timer
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker))
                .is_ready()
        };
        assert!(!poll(&mut timer));
        clock.advance(Duration::from_millis(499));
        assert!(!poll(&mut timer));
        clock.advance(Duration::from_millis(1));
        assert!(poll(&mut timer));
        assert_eq!(clock.now(), 1_500);
    }
}
