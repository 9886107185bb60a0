//! The outbox: domain events written in the same transaction as the change that causes them,
//! delivered at least once, in order per aggregate within a subject, to the consumers each domain registers
//! ([`Consumers`]). It knows how to deliver, not what delivery means. Each subject is delivered
//! in a lane of its own, so a slow mail never holds up a sale. A delivery that cannot succeed
//! becomes a dead letter ([`dead_letters`]) that an admin can list and replay.
pub mod dead_letters;
pub mod subjects;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Message};
use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt};
use prometheus::{IntCounterVec, Opts};
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

/// How often undelivered rows are looked for when nobody wakes the dispatcher.
const POLL: Duration = Duration::from_millis(500);
/// Rows one lane reads per round.
const BATCH: i64 = 1000;
/// Aggregates (bookings, payments) whose rows of one subject are delivered at the same time;
/// each one's rows go in order. Small next to `database.max_connections`: a delivery holds a
/// connection only for its queries, and the API needs most of them.
const LANE_WIDTH: usize = 8;
/// Rows of subjects nobody consumes (`bookings.held` above all) marked delivered per statement.
const SWEEP: i64 = 10_000;
/// The longest wait between two attempts of a failing row, in seconds (2^8).
const MAX_BACKOFF_EXPONENT: i32 = 8;

/// Wakes the dispatcher when rows it should deliver were just written (a journal commit, a
/// webhook), so delivery does not wait for the next poll. Every lane sees every wake, also one
/// that came while it was busy.
#[derive(Clone)]
pub struct Wake(Arc<watch::Sender<u64>>);

impl Default for Wake {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl Wake {
    pub fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// One outbox row on its way to a consumer.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub aggregate_id: Uuid,
    pub subject: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

impl Delivery {
    /// The payload as the consumer reads it; one that does not parse never will.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, DeliveryError> {
        serde_json::from_value(self.payload.clone()).map_err(|error| {
            DeliveryError::Refused(
                anyhow::Error::new(error).context(format!("a {} payload", self.subject)),
            )
        })
    }
}

/// Why a consumer did not take a row.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Another attempt may succeed: a dependency is down or busy. Retried with backoff, up to
    /// `outbox.max_attempts`.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// No attempt can succeed (a payload that does not parse, an address the mail server
    /// refuses): a dead letter at once.
    #[error("{0:#}")]
    Refused(anyhow::Error),
}

/// What becomes of a failed delivery, on either bus.
pub(crate) enum Verdict {
    /// Tried again after this long.
    RetryAfter(Duration),
    /// A dead letter, with its reason.
    Dead(String),
}

impl DeliveryError {
    /// The verdict on a failure at its `attempts`-th try (counting this one), `max_attempts`
    /// allowed: what cannot pass, or has been tried enough, is dead; the rest waits 1, 2, 4 ...
    /// 256 seconds.
    pub(crate) fn verdict(&self, attempts: i32, max_attempts: i32) -> Verdict {
        match self {
            Self::Refused(_) => Verdict::Dead(self.to_string()),
            Self::Retry(_) if attempts >= max_attempts => {
                Verdict::Dead(format!("gave up after {attempts} attempts: {self}"))
            }
            Self::Retry(_) => {
                let exponent = attempts.saturating_sub(1).clamp(0, MAX_BACKOFF_EXPONENT);
                Verdict::RetryAfter(Duration::from_secs(1 << exponent))
            }
        }
    }

    pub fn retry(error: impl Into<anyhow::Error>) -> Self {
        Self::Retry(error.into())
    }

    pub fn refused(error: impl Into<anyhow::Error>) -> Self {
        Self::Refused(error.into())
    }
}

/// A failed database call is worth retrying.
impl From<sqlx::Error> for DeliveryError {
    fn from(error: sqlx::Error) -> Self {
        Self::retry(error)
    }
}

/// A consumer's mailbox is closed or full (its actor is restarting): retry.
impl From<actix::MailboxError> for DeliveryError {
    fn from(error: actix::MailboxError) -> Self {
        Self::retry(error)
    }
}

pub type Handled = Result<(), DeliveryError>;

type Handle = Arc<dyn Fn(Delivery) -> BoxFuture<'static, Handled> + Send + Sync>;

struct Subscription {
    consumer: &'static str,
    subjects: &'static [&'static str],
    handler: Handle,
}

/// Who acts on which subjects. Each domain registers its own consumers at start; a row goes to
/// every consumer of its subject, in the order they registered.
#[derive(Default)]
pub struct Consumers {
    subscriptions: Vec<Subscription>,
    /// Deliveries at once, for consumers that set their own ([`Consumers::width`]).
    widths: HashMap<&'static str, usize>,
}

impl Consumers {
    /// `deliveries` rows of each of `consumer`'s subjects at once instead of the default
    /// eight: more where the work batches (the engine commits many sales together), fewer where
    /// each one is a session with another server (mail).
    pub fn width(&mut self, consumer: &'static str, deliveries: usize) {
        self.widths.insert(consumer, deliveries.max(1));
    }

    /// One lane per consumed subject, in registration order: as wide as the narrowest width its
    /// consumers set, or the default if none set one.
    fn lanes(&self) -> Vec<Lane> {
        let mut lanes: Vec<(&'static str, Option<usize>)> = Vec::new();
        for subscription in &self.subscriptions {
            let width = self.widths.get(subscription.consumer).copied();
            for &subject in subscription.subjects {
                match lanes.iter_mut().find(|(s, _)| *s == subject) {
                    Some((_, set)) => *set = set.iter().copied().chain(width).min(),
                    None => lanes.push((subject, width)),
                }
            }
        }
        lanes
            .into_iter()
            .map(|(subject, width)| Lane {
                subject,
                width: width.unwrap_or(LANE_WIDTH),
            })
            .collect()
    }

    /// `consumer` (the name a dead letter gives for who refused it) handles rows of `subjects`.
    pub fn register<F, Fut>(
        &mut self,
        consumer: &'static str,
        subjects: &'static [&'static str],
        handler: F,
    ) where
        F: Fn(Delivery) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Handled> + Send + 'static,
    {
        self.subscriptions.push(Subscription {
            consumer,
            subjects,
            handler: Arc::new(move |delivery| Box::pin(handler(delivery))),
        });
    }

    /// `consumer` hands each row of `subjects` to the actor `to`, as the message `message` makes
    /// of the row's payload, and answers with the actor's answer.
    pub fn forward<P, A, M, E>(
        &mut self,
        consumer: &'static str,
        subjects: &'static [&'static str],
        to: Addr<A>,
        message: fn(P) -> M,
    ) where
        P: DeserializeOwned + 'static,
        A: Actor + actix::Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message<Result = Result<(), E>> + Send + 'static,
        E: Into<DeliveryError> + Send + 'static,
    {
        self.register(consumer, subjects, move |delivery| {
            let to = to.clone();
            let parsed = delivery.payload::<P>().map(message);
            async move { to.send(parsed?).await?.map_err(Into::into) }
        });
    }

    /// Every consumer by name, with the subjects it takes (for a bus that delivers to each
    /// consumer on its own).
    pub(crate) fn named(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let mut named: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for subscription in &self.subscriptions {
            let at = match named.iter().position(|(n, _)| *n == subscription.consumer) {
                Some(at) => at,
                None => {
                    named.push((subscription.consumer, Vec::new()));
                    named.len() - 1
                }
            };
            named[at].1.extend(subscription.subjects);
        }
        named
    }

    /// `consumer`'s width ([`Consumers::width`]), or the default.
    pub(crate) fn width_of(&self, consumer: &str) -> usize {
        self.widths.get(consumer).copied().unwrap_or(LANE_WIDTH)
    }

    /// Hands the row to `consumer`'s handlers of its subject (none: nothing to do).
    pub(crate) async fn deliver_as(&self, consumer: &str, delivery: &Delivery) -> Handled {
        let handlers = self
            .subscriptions
            .iter()
            .filter(|s| s.consumer == consumer && s.subjects.contains(&delivery.subject.as_str()));
        for subscription in handlers {
            (subscription.handler)(delivery.clone()).await?;
        }
        Ok(())
    }

    /// Hands the row to each of its consumers in turn; the first that fails names the failure.
    async fn deliver(&self, delivery: &Delivery) -> Result<(), (&'static str, DeliveryError)> {
        let consumers = self
            .subscriptions
            .iter()
            .filter(|s| s.subjects.contains(&delivery.subject.as_str()));
        for subscription in consumers {
            (subscription.handler)(delivery.clone())
                .await
                .map_err(|error| (subscription.consumer, error))?;
        }
        Ok(())
    }
}

/// The rows of one subject, delivered on their own: a slow subject (mail) never holds up
/// another (a sale).
#[derive(Clone, Copy, Debug)]
struct Lane {
    subject: &'static str,
    width: usize,
}

/// Delivers the outbox: one per server, started and stopped with it. Each consumed subject has
/// a lane of its own; rows of subjects nobody consumes are swept as delivered.
#[derive(Clone)]
pub struct Dispatcher {
    pool: PgPool,
    wake: Wake,
    consumers: Arc<Consumers>,
    lanes: Arc<[Lane]>,
    /// Subjects some consumer takes; the others are swept.
    consumed: Arc<[&'static str]>,
    max_attempts: i32,
    counts: IntCounterVec,
}

impl Dispatcher {
    pub fn new(pool: PgPool, wake: Wake, consumers: Consumers, max_attempts: u32) -> Self {
        let lanes: Arc<[Lane]> = consumers.lanes().into();
        Self {
            pool,
            wake,
            consumed: lanes.iter().map(|l| l.subject).collect(),
            lanes,
            consumers: Arc::new(consumers),
            max_attempts: i32::try_from(max_attempts).unwrap_or(i32::MAX).max(1),
            counts: delivery_counter(),
        }
    }

    /// The consumers it delivers to (a bus of another kind delivers to the same ones).
    pub(crate) fn consumers(&self) -> Arc<Consumers> {
        self.consumers.clone()
    }

    /// Counts deliveries by subject and outcome (`delivered`, `failed`, `dead`) in `counts`,
    /// the one `/metrics` shows.
    pub fn counting(mut self, counts: IntCounterVec) -> Self {
        self.counts = counts;
        self
    }

    /// Delivers until `stop` turns true (or its sender is gone); the round in flight in each
    /// lane finishes first, so a graceful shutdown does not cut a delivery in half.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let lanes = self
            .lanes
            .iter()
            .map(|lane| self.keep_delivering(Some(*lane), stop.clone()));
        let sweeper = self.keep_delivering(None, stop.clone());
        futures_util::future::join(futures_util::future::join_all(lanes), sweeper).await;
        tracing::info!("outbox dispatcher stopped");
    }

    /// One lane's loop (`None`: the sweeper's).
    async fn keep_delivering(&self, lane: Option<Lane>, mut stop: watch::Receiver<bool>) {
        let mut woken = self.wake.subscribe();
        while !*stop.borrow() {
            match self.deliver_lane(lane).await {
                // delivering makes new rows (a payment's sale, then its tickets, then their mail)
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(error) => {
                    let subject = lane.map_or("(unconsumed)", |l| l.subject);
                    tracing::warn!(%error, subject, "outbox delivery failed; retrying");
                }
            }
            tokio::select! {
                _ = woken.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                // a sender that is gone can stop nobody any more: stop now rather than spin
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
    }

    /// Delivers every row that is due, and the rows those deliveries write, until none is due;
    /// returns how many rows it looked at. Tests drive the outbox with it instead of waiting.
    pub async fn deliver_all(&self) -> Result<usize, sqlx::Error> {
        let mut total = 0;
        loop {
            let mut round = self.deliver_lane(None).await?;
            for lane in self.lanes.iter() {
                round += self.deliver_lane(Some(*lane)).await?;
            }
            if round == 0 {
                return Ok(total);
            }
            total += round;
        }
    }

    async fn deliver_lane(&self, lane: Option<Lane>) -> Result<usize, sqlx::Error> {
        match lane {
            Some(lane) => self.deliver_due(lane).await,
            None => self.sweep().await,
        }
    }

    /// Marks rows of subjects nobody consumes as delivered, without reading them.
    async fn sweep(&self) -> Result<usize, sqlx::Error> {
        let swept = sqlx::query(
            "UPDATE outbox SET delivered_at = now()
             WHERE id IN (SELECT id FROM outbox
                          WHERE delivered_at IS NULL AND dead_at IS NULL AND subject <> ALL($1)
                          ORDER BY id LIMIT $2)",
        )
        .bind(&self.consumed[..])
        .bind(SWEEP)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(swept as usize)
    }

    /// Delivers the lane's rows that are due, several aggregates at a time and each aggregate's
    /// rows in order; returns how many it looked at.
    async fn deliver_due(&self, lane: Lane) -> Result<usize, sqlx::Error> {
        let rows: Vec<Delivery> = sqlx::query_as(
            "SELECT id, aggregate_id, subject, payload, attempts FROM outbox
             WHERE subject = $1 AND delivered_at IS NULL AND dead_at IS NULL
               AND next_attempt_at <= now()
             ORDER BY id LIMIT $2",
        )
        .bind(lane.subject)
        .bind(BATCH)
        .fetch_all(&self.pool)
        .await?;
        let count = rows.len();
        let mut by_aggregate: Vec<Vec<Delivery>> = Vec::new();
        let mut index: HashMap<Uuid, usize> = HashMap::new();
        for row in rows {
            let slot = *index.entry(row.aggregate_id).or_insert_with(|| {
                by_aggregate.push(Vec::new());
                by_aggregate.len() - 1
            });
            by_aggregate[slot].push(row);
        }
        let consumers = &self.consumers;
        let outcomes: Vec<Vec<_>> = stream::iter(by_aggregate)
            .map(|rows| async move {
                let mut outcomes = Vec::with_capacity(rows.len());
                for row in rows {
                    let outcome = consumers.deliver(&row).await;
                    outcomes.push((row, outcome));
                }
                outcomes
            })
            .buffer_unordered(lane.width)
            .collect()
            .await;
        let mut delivered = Vec::with_capacity(count);
        for (row, outcome) in outcomes.into_iter().flatten() {
            match outcome {
                Ok(()) => delivered.push(row.id),
                Err((consumer, error)) => self.failed(&row, consumer, error).await?,
            }
        }
        sqlx::query("UPDATE outbox SET delivered_at = now() WHERE id = ANY($1)")
            .bind(&delivered)
            .execute(&self.pool)
            .await?;
        self.counts
            .with_label_values(&[lane.subject, "delivered"])
            .inc_by(delivered.len() as u64);
        Ok(count)
    }

    /// Retries the row later, or, if retrying cannot help or has been tried enough, makes it a
    /// dead letter.
    async fn failed(
        &self,
        row: &Delivery,
        consumer: &'static str,
        error: DeliveryError,
    ) -> Result<(), sqlx::Error> {
        let reason = error.to_string();
        let backoff = match error.verdict(row.attempts.saturating_add(1), self.max_attempts) {
            Verdict::Dead(dead) => {
                tracing::error!(outbox_id = row.id, subject = %row.subject, consumer, reason = %dead, "dead letter");
                self.counts.with_label_values(&[&row.subject, "dead"]).inc();
                return dead_letters::bury(&self.pool, row.id, consumer, &dead).await;
            }
            Verdict::RetryAfter(backoff) => backoff,
        };
        self.counts
            .with_label_values(&[&row.subject, "failed"])
            .inc();
        tracing::warn!(outbox_id = row.id, subject = %row.subject, consumer, error = %reason, backoff_seconds = backoff.as_secs(), "delivery failed");
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $3,
                    next_attempt_at = now() + make_interval(secs => $2)
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(backoff.as_secs_f64())
        .bind(&reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// `outbox_deliveries_total{subject, outcome}`: rows delivered, failed (to be retried) and
/// buried as dead letters.
pub fn delivery_counter() -> IntCounterVec {
    IntCounterVec::new(
        Opts::new(
            "outbox_deliveries_total",
            "Outbox rows by subject and outcome: delivered, failed (retried later) or dead",
        ),
        &["subject", "outcome"],
    )
    .expect("a valid metric")
}
