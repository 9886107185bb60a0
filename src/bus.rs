//! The JetStream bus (`bus.kind = "jetstream"`): the relay publishes outbox rows to the streams
//! `BOOKINGS`, `PAYMENTS`, `TICKETS` and `WAITLIST` in order, with `Nats-Msg-Id` = the row's id, and marks
//! them handed over only after the stream's ack; each consumer the domains registered runs as a
//! durable pull consumer of each stream it takes subjects from. PostgreSQL stays the source of
//! truth: with NATS down, the outbox grows and the relay catches up when it is back.
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream, AckKind};
use async_nats::HeaderMap;
use futures_util::StreamExt;
use prometheus::IntCounterVec;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::cluster::{leases, Cluster};
use crate::config::BusSettings;
use crate::outbox::{dead_letters, Consumers, Delivery, Verdict, Wake};

/// Each stream and the first token of its subjects.
pub const STREAMS: [(&str, &str); 4] = [
    ("BOOKINGS", "bookings"),
    ("PAYMENTS", "payments"),
    ("TICKETS", "tickets"),
    ("WAITLIST", "waitlist"),
];
/// Rows published per round; their acks are awaited together.
const RELAY_BATCH: i64 = 500;
/// How long the relay and the consumers wait before trying NATS again.
const RETRY: Duration = Duration::from_secs(1);
/// How often the relay looks for rows when nobody wakes it.
const POLL: Duration = Duration::from_millis(500);
/// The same in a cluster, where rows written on other nodes wake nobody here.
const CLUSTER_POLL: Duration = Duration::from_millis(50);
/// The row a message was made from (its `Nats-Msg-Id` may carry a replay suffix).
const AGGREGATE_HEADER: &str = "Boxoffice-Aggregate";
const ROW_HEADER: &str = "Boxoffice-Outbox-Id";

/// What the relay and the consumers share.
#[derive(Clone)]
pub struct Bus {
    pool: PgPool,
    wake: Wake,
    consumers: Arc<Consumers>,
    prefix: String,
    nats_url: String,
    ack_wait: Duration,
    max_attempts: i32,
    counts: IntCounterVec,
    /// In a cluster the relay runs on the node holding the relay's lease.
    cluster: Option<Arc<Cluster>>,
}

impl Bus {
    pub fn new(
        pool: PgPool,
        wake: Wake,
        consumers: Arc<Consumers>,
        settings: &BusSettings,
        max_attempts: u32,
        counts: IntCounterVec,
    ) -> Self {
        Self {
            pool,
            wake,
            consumers,
            prefix: settings.prefix.clone(),
            nats_url: settings.nats_url.clone(),
            ack_wait: Duration::from_secs(settings.ack_wait_seconds.max(1)),
            max_attempts: i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX),
            counts,
            cluster: None,
        }
    }

    /// Relays only while this node holds the relay's lease; looks for rows other nodes wrote
    /// more often, since their writes do not wake this relay.
    pub fn in_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// The stream names under the prefix (`t1.` makes `T1_BOOKINGS`).
    pub fn stream_name(prefix: &str, base: &str) -> String {
        let head: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{head}{base}")
    }

    /// Connects (retrying until NATS answers), makes sure the streams and consumers exist, then
    /// relays and consumes until `stop`.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let Some(js) = self.connect(stop.clone()).await else {
            return;
        };
        let mut tasks = vec![Box::pin(self.clone().relay(js.clone(), stop.clone()))
            as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>];
        for (name, subjects) in self.consumers.named() {
            for (stream, token) in STREAMS {
                let mine: Vec<&str> = subjects
                    .iter()
                    .copied()
                    .filter(|s| s.split('.').next() == Some(token))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let bus = self.clone();
                let (js, stop) = (js.clone(), stop.clone());
                tasks.push(Box::pin(async move {
                    bus.consume(js, stream, name, mine, stop).await
                }));
            }
        }
        futures_util::future::join_all(tasks).await;
        tracing::info!("bus stopped");
    }

    async fn connect(&self, mut stop: watch::Receiver<bool>) -> Option<jetstream::Context> {
        loop {
            match self.try_connect().await {
                Ok(js) => return Some(js),
                Err(error) => {
                    tracing::warn!(error = %format_args!("{error:#}"), url = %self.nats_url, "NATS not reachable; the outbox keeps the events")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.changed() => return None,
            }
        }
    }

    async fn try_connect(&self) -> anyhow::Result<jetstream::Context> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(self.nats_url.as_str())
            .await?;
        let js = jetstream::new(client);
        for (name, token) in STREAMS {
            js.get_or_create_stream(stream::Config {
                name: Self::stream_name(&self.prefix, name),
                subjects: vec![format!("{}{token}.>", self.prefix)],
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await?;
        }
        Ok(js)
    }

    /// Publishes undelivered rows in id order and marks them handed over once acked.
    async fn relay(self, js: jetstream::Context, mut stop: watch::Receiver<bool>) {
        let mut woken = self.wake.subscribe();
        let poll = if self.cluster.is_some() {
            CLUSTER_POLL
        } else {
            POLL
        };
        while !*stop.borrow() {
            let leading = match &self.cluster {
                None => Ok(true),
                Some(cluster) => leases::lead_relay(cluster)
                    .await
                    .map_err(anyhow::Error::from),
            };
            let round = match leading {
                Ok(true) => self.publish_due(&js).await,
                Ok(false) => Ok(0),
                Err(error) => Err(error),
            };
            match round {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %format_args!("{error:#}"), "relay to JetStream failed; retrying")
                }
            }
            tokio::select! {
                _ = woken.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
    }

    async fn publish_due(&self, js: &jetstream::Context) -> anyhow::Result<usize> {
        let rows: Vec<(i64, Uuid, String, serde_json::Value, i32)> = sqlx::query_as(
            "SELECT id, aggregate_id, subject, payload, replays FROM outbox
             WHERE delivered_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(RELAY_BATCH)
        .fetch_all(&self.pool)
        .await?;
        let mut acks = Vec::with_capacity(rows.len());
        for (id, aggregate, subject, payload, replays) in &rows {
            // a replayed row is a new message; a republished one (a crash before the mark)
            // is the same, and the stream's duplicate window drops it
            let message_id = match replays {
                0 => id.to_string(),
                n => format!("{id}.{n}"),
            };
            let mut headers = HeaderMap::new();
            headers.insert(ROW_HEADER, id.to_string().as_str());
            headers.insert(AGGREGATE_HEADER, aggregate.to_string().as_str());
            let message = jetstream::message::PublishMessage::build()
                .message_id(message_id)
                .headers(headers)
                .payload(serde_json::to_vec(payload)?.into());
            acks.push(
                js.send_publish(format!("{}{subject}", self.prefix), message)
                    .await?,
            );
        }
        let mut published = Vec::with_capacity(rows.len());
        for ((id, _, subject, _, _), ack) in rows.iter().zip(acks) {
            ack.await?;
            published.push(*id);
            self.counts.with_label_values(&[subject, "published"]).inc();
        }
        sqlx::query("UPDATE outbox SET delivered_at = now() WHERE id = ANY($1)")
            .bind(&published)
            .execute(&self.pool)
            .await?;
        Ok(published.len())
    }

    /// One consumer's durable pull consumer on one stream, `width` messages at a time, until
    /// `stop`; a broken connection is retried.
    async fn consume(
        &self,
        js: jetstream::Context,
        stream: &'static str,
        name: &'static str,
        subjects: Vec<&'static str>,
        mut stop: watch::Receiver<bool>,
    ) {
        let width = self.consumers.width_of(name);
        while !*stop.borrow() {
            let outcome = async {
                let stream = js
                    .get_stream(Self::stream_name(&self.prefix, stream))
                    .await?;
                // NATS 2.9 filters on one subject: the one this consumer takes, or all
                let filter_subject = match subjects.as_slice() {
                    [one] => format!("{}{one}", self.prefix),
                    _ => String::new(),
                };
                let consumer = stream
                    .get_or_create_consumer(
                        name,
                        consumer::pull::Config {
                            durable_name: Some(name.to_owned()),
                            filter_subject,
                            ack_policy: consumer::AckPolicy::Explicit,
                            ack_wait: self.ack_wait,
                            max_deliver: i64::from(self.max_attempts) + 1,
                            ..Default::default()
                        },
                    )
                    .await?;
                let messages = consumer.messages().await?;
                let mut stopped = stop.clone();
                let handled = messages
                    .take_until(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .for_each_concurrent(width, |message| {
                        let subjects = &subjects;
                        let bus = &self;
                        async move {
                            match message {
                                Ok(message) => bus.handle(name, subjects, message).await,
                                Err(error) => tracing::warn!(%error, consumer = name, "JetStream message not received"),
                            }
                        }
                    });
                handled.await;
                anyhow::Ok(())
            }
            .await;
            if let Err(error) = outcome {
                tracing::warn!(error = %format_args!("{error:#}"), consumer = name, stream, "JetStream consumer failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
    }

    /// Runs the consumer's handlers on one message and acks it after their effect is durable;
    /// a failure is retried after a backoff, or, when it cannot succeed or has been tried
    /// `outbox.max_attempts` times, becomes a dead letter.
    async fn handle(&self, name: &'static str, subjects: &[&str], message: jetstream::Message) {
        let subject = message
            .subject
            .as_str()
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(message.subject.as_str())
            .to_owned();
        if !subjects.contains(&subject.as_str()) {
            // the stream-wide filter of a consumer that takes several subjects
            let _ = message.ack().await;
            return;
        }
        let header = |key: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(key))
                .map(|v| v.as_str().to_owned())
        };
        let id: i64 = header(ROW_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        let attempts = message.info().map_or(1, |info| info.delivered);
        let delivery = Delivery {
            id,
            aggregate_id: header(AGGREGATE_HEADER)
                .and_then(|v| v.parse().ok())
                .unwrap_or_default(),
            subject: subject.clone(),
            payload: serde_json::from_slice(&message.payload).unwrap_or_default(),
            attempts: i32::try_from(attempts - 1).unwrap_or(i32::MAX),
        };
        // JetStream hears "still working" at a third of the ack wait, so a slow effect (a mail
        // server that takes its time) is not delivered to a second handler meanwhile; a server
        // that dies stops saying it, and the message comes back after the ack wait
        let working = self.consumers.deliver_as(name, &delivery);
        tokio::pin!(working);
        let mut still_working = tokio::time::interval(self.ack_wait / 3);
        still_working.tick().await;
        let handled = loop {
            tokio::select! {
                handled = &mut working => break handled,
                _ = still_working.tick() => {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
            }
        };
        let error = match handled {
            Ok(()) => {
                self.counts
                    .with_label_values(&[&subject, "delivered"])
                    .inc();
                if let Err(error) = message.ack().await {
                    tracing::warn!(%error, consumer = name, "ack not sent; the message comes again");
                }
                return;
            }
            Err(error) => error,
        };
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        let dead = match error.verdict(attempts, self.max_attempts) {
            Verdict::Dead(dead) => dead,
            Verdict::RetryAfter(wait) => {
                self.counts.with_label_values(&[&subject, "failed"]).inc();
                tracing::warn!(outbox_id = id, subject, consumer = name, %error, "delivery failed");
                let _ = message.ack_with(AckKind::Nak(Some(wait))).await;
                return;
            }
        };
        tracing::error!(outbox_id = id, subject, consumer = name, reason = %dead, "dead letter");
        self.counts.with_label_values(&[&subject, "dead"]).inc();
        match dead_letters::bury(&self.pool, id, name, &dead).await {
            // recorded: JetStream may stop offering it
            Ok(()) => {
                let _ = message.ack_with(AckKind::Term).await;
            }
            Err(error) => {
                tracing::warn!(%error, "dead letter not recorded; the message comes again");
                let _ = message.ack_with(AckKind::Nak(Some(RETRY))).await;
            }
        }
    }
}
