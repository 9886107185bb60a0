//! What every node must hear at once, on NATS core subjects (not streams: a node that was not
//! listening has nothing to catch up on). `<prefix>cluster.availability`: the counts an owner's
//! actor just committed, for the other nodes' event pages, so a page is as stale as the owner's
//! last commit plus a NATS hop (milliseconds); a node that has heard nothing reads PostgreSQL.
//! `<prefix>cluster.notifications`: a notification for whichever node holds its user's stream.
use actix::Addr;
use actix_web::web;
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::event_actor::TypeCounts;
use boxoffice_actors::ids::{EventId, TicketTypeId, UserId};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::notifications::{FanOut, Notification, NotificationHub, Push};

#[derive(Serialize, Deserialize)]
struct Counted {
    node: String,
    event: EventId,
    counts: Vec<(TicketTypeId, TypeCounts)>,
}

/// Connects to NATS in the background (the server starts without it) and runs both carriers:
/// this node's actors' counts out and everyone else's in, and the hub's notifications (user and
/// notification) out to every node's hub.
pub async fn start(
    nats_url: &str,
    prefix: &str,
    node_id: &str,
    engine: web::Data<EventDirectory>,
    hub: Addr<NotificationHub>,
) -> anyhow::Result<()> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats_url)
        .await?;
    let availability = format!("{prefix}cluster.availability");
    let notifications = format!("{prefix}cluster.notifications");

    let counted = publisher::<Counted>(&client, availability.clone());
    let node = node_id.to_owned();
    engine.observe(Box::new(move |event, counts| {
        let _ = counted.send(Counted {
            node: node.clone(),
            event,
            counts: counts.to_vec(),
        });
    }));
    let me = node_id.to_owned();
    listen(&client, availability, move |counted: Counted| {
        if counted.node != me {
            for (ticket_type, counts) in counted.counts {
                engine.counted_elsewhere(ticket_type, counts);
            }
        }
    })
    .await?;

    let told = publisher::<(UserId, Notification)>(&client, notifications.clone());
    let local = hub.clone();
    listen(&client, notifications, move |(user, notification)| {
        local.do_send(Push { user, notification })
    })
    .await?;
    hub.do_send(FanOut(told));
    Ok(())
}

/// A sender whose messages are published on `subject` as JSON, in order. Lost when NATS is
/// down: what these subjects carry is also in PostgreSQL.
fn publisher<T: Serialize + Send + 'static>(
    client: &async_nats::Client,
    subject: String,
) -> mpsc::UnboundedSender<T> {
    let (tx, mut rx) = mpsc::unbounded_channel::<T>();
    let client = client.clone();
    actix_web::rt::spawn(async move {
        while let Some(message) = rx.recv().await {
            let payload = serde_json::to_vec(&message).expect("live messages serialize");
            if let Err(error) = client.publish(subject.clone(), payload.into()).await {
                tracing::debug!(%error, %subject, "live message not published");
            }
        }
    });
    tx
}

/// Runs `heard` on every message of `subject`, in order.
async fn listen<T: DeserializeOwned + 'static>(
    client: &async_nats::Client,
    subject: String,
    heard: impl Fn(T) + 'static,
) -> anyhow::Result<()> {
    let mut messages = client.subscribe(subject.clone()).await?;
    actix_web::rt::spawn(async move {
        while let Some(message) = messages.next().await {
            match serde_json::from_slice::<T>(&message.payload) {
                Ok(value) => heard(value),
                Err(error) => tracing::warn!(%error, %subject, "unreadable live message"),
            }
        }
    });
    Ok(())
}
