//! What the workers of one run count: answers by HTTP status, and latency in HDR histograms kept
//! per worker and merged at the end, so recording never contends.
use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// One worker's counts; [`Tally::merge`] adds the workers up.
pub struct Tally {
    latency: Histogram<u64>,
    /// By HTTP status; 0 for a request that got no answer.
    pub statuses: BTreeMap<u16, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            latency: histogram(),
            statuses: BTreeMap::new(),
        }
    }
}

/// Microseconds from 1 to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let _ = histogram.record((latency.as_micros() as u64).max(1));
}

impl Tally {
    pub fn answer(&mut self, status: u16, latency: Duration) {
        record(&mut self.latency, latency);
        *self.statuses.entry(status).or_default() += 1;
    }

    pub fn merge(mut self, other: Tally) -> Tally {
        self.latency.add(&other.latency).expect("same bounds");
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or_default()
    }

    /// Answers that are neither `ok` nor 409.
    pub fn errors(&self, ok: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| **s != ok && **s != 409)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn latency(&self) -> Latency {
        Latency::of(&self.latency)
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        Self {
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            max_ms: histogram.max() as f64 / 1000.0,
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}
