//! Cluster mode (`cluster.enabled`): several nodes on one PostgreSQL and one NATS. Each event is
//! owned by one node under a fenced lease ([`leases`]); requests for an event owned elsewhere are
//! forwarded to its owner ([`forward`]); what a buyer sees live travels over NATS ([`live`]).
pub mod forward;
pub mod leases;
pub mod live;

use std::sync::Arc;
use std::time::{Duration, Instant};

use boxoffice_actors::directory::{Place, Placement};
use boxoffice_actors::event_actor::EngineError;
use boxoffice_actors::ids::EventId;
use boxoffice_actors::journal::BoxFuture;
use dashmap::DashMap;
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::{ClusterSettings, Secret};
use forward::Peer;
use leases::{Claim, Fences};

/// This node in the cluster: who it is, the leases it holds, who owns the other events.
pub struct Cluster {
    pool: PgPool,
    node_id: String,
    /// Changes with every start of the process: leases belong to an incarnation.
    incarnation: Uuid,
    url: String,
    secret: Secret,
    lease: Duration,
    /// The epoch of every event this node owns; the journal fences its commits with them.
    fences: Arc<Fences>,
    /// Owners of other events as last read, until their lease runs out.
    owners: DashMap<EventId, (Arc<Peer>, Instant)>,
    http: reqwest::Client,
}

impl Cluster {
    /// `port` is the one the server listens on, for the default node id and advertised URL.
    pub fn new(
        settings: &ClusterSettings,
        pool: PgPool,
        bind: std::net::SocketAddr,
        port: u16,
    ) -> Arc<Self> {
        let node_id = if settings.node_id.is_empty() {
            let host = hostname();
            format!("{host}:{port}")
        } else {
            settings.node_id.clone()
        };
        let url = if settings.advertise_url.is_empty() {
            let ip = match bind.ip() {
                ip if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
                ip => ip,
            };
            format!("http://{}", std::net::SocketAddr::new(ip, port))
        } else {
            settings.advertise_url.trim_end_matches('/').to_owned()
        };
        let lease = Duration::from_secs(settings.lease_seconds.max(1));
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(1))
            // a paused owner: give up before its lease would have run out twice over
            .timeout(lease * 2)
            .build()
            .expect("the HTTP client builds");
        Arc::new(Self {
            pool,
            node_id,
            incarnation: Uuid::now_v7(),
            url,
            secret: settings.secret.clone(),
            lease,
            fences: Arc::default(),
            owners: DashMap::new(),
            http,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The epochs the journal checks its commits against.
    pub fn fences(&self) -> Arc<Fences> {
        self.fences.clone()
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Where `event` is owned, claiming it for this node when its lease is free or ran out.
    pub async fn owner(&self, event: EventId) -> Result<Owner, EngineError> {
        if self.fences.epoch(event).is_some() {
            return Ok(Owner::Here);
        }
        if let Some(owner) = self.owners.get(&event) {
            if owner.1 > Instant::now() {
                return Ok(Owner::There(owner.0.clone()));
            }
        }
        match leases::claim(self, event).await {
            Ok(Claim::Taken { epoch }) => {
                self.owners.remove(&event);
                self.fences.hold(event, epoch);
                tracing::info!(event_id = %event, epoch, node = %self.node_id, "took the event's lease");
                Ok(Owner::Here)
            }
            Ok(Claim::Owned {
                url,
                node_id,
                remaining,
            }) => {
                let peer = Arc::new(Peer { url, node_id });
                let until = Instant::now() + remaining;
                self.owners.insert(event, (peer.clone(), until));
                Ok(Owner::There(peer))
            }
            Ok(Claim::NoSuchEvent) => Err(EngineError::EventNotFound),
            Err(error) => {
                tracing::warn!(event_id = %event, %error, "could not read the event's lease");
                Err(EngineError::Unavailable(
                    "could not read the event's lease".into(),
                ))
            }
        }
    }

    /// The owner `peer` of `event` did not answer: read the lease again on the next request.
    pub(crate) fn unreachable(&self, event: EventId, peer: &Peer) {
        self.owners
            .remove_if(&event, |_, (cached, _)| cached.url == peer.url);
    }
}

/// Where an event is owned, as this node knows it.
pub enum Owner {
    Here,
    There(Arc<Peer>),
}

/// The engine's view of the leases: which events are here, where the others are.
pub struct Ownership(pub Arc<Cluster>);

impl Placement for Ownership {
    fn place(&self, event: EventId, here_only: bool) -> BoxFuture<Result<Place, EngineError>> {
        let cluster = self.0.clone();
        Box::pin(async move {
            match cluster.owner(event).await? {
                Owner::There(_) if here_only => Err(EngineError::Moved),
                Owner::There(peer) => Ok(Place::There(Arc::new(forward::Remote {
                    cluster: cluster.clone(),
                    peer,
                }))),
                Owner::Here => Ok(Place::Here),
            }
        })
    }

    fn lost(&self, event: EventId) {
        self.0.fences.release(event);
        self.0.owners.remove(&event);
    }

    fn epoch(&self, event: EventId) -> Option<i64> {
        self.0.fences.epoch(event)
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "node".to_owned())
}
