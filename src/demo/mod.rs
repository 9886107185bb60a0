//! `boxoffice demo`: seeds a demo organizer, a demo buyer and a handful of published events
//! (one with a seat map, one with a large general admission, each with its category's banner
//! from the site's `/assets/`) through the server's own HTTP API ([`crate::client`]), so every
//! validation rule applies. The data is in [`fixtures`]. Running it again creates nothing new.
mod fixtures;

use std::fmt;
use std::net::SocketAddr;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

use crate::auth::store::{grant_role, GrantError};
use crate::auth::Role;
use crate::client::{ApiClient, ClientError};
use crate::config::Settings;
use crate::startup::{Application, StartupError};
use fixtures::{EventSpec, SeatBlock, CURRENCY, EVENTS};

/// An account the demo creates, with the password printed for the newcomer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoLogin {
    pub email: &'static str,
    pub password: &'static str,
}

pub const ORGANIZER: DemoLogin = DemoLogin {
    email: "organizer@demo.boxoffice.localhost",
    password: "demo-organizer-password",
};

pub const BUYER: DemoLogin = DemoLogin {
    email: "buyer@demo.boxoffice.localhost",
    password: "demo-buyer-password",
};

/// One demo event as it stands after the run.
#[derive(Clone, Debug)]
pub struct DemoEvent {
    pub id: String,
    pub name: String,
    pub category: String,
    pub start_at: DateTime<Utc>,
    /// `published`, unless someone cancelled it since an earlier run.
    pub status: String,
    /// The demo's banner for its category, or whatever the organizer chose since.
    pub banner: Option<String>,
    /// False when an earlier run had created it already.
    pub created: bool,
    /// True when this run gave an event of an earlier run the banner it lacked.
    pub banner_added: bool,
}

/// What `run` did, and what a newcomer needs to see it.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    /// Where the site is, once `boxoffice serve` runs (`server.public_url`).
    pub public_url: String,
    pub organizer: DemoLogin,
    pub buyer: DemoLogin,
    /// Every demo event, soonest first.
    pub events: Vec<DemoEvent>,
}

impl DemoSummary {
    /// How many events this run created.
    pub fn created(&self) -> usize {
        self.events.iter().filter(|e| e.created).count()
    }

    /// How many events of an earlier run this run gave their banner.
    pub fn banners_added(&self) -> usize {
        self.events.iter().filter(|e| e.banner_added).count()
    }
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.created() {
            0 => writeln!(f, "The demo data exists already; nothing was created.")?,
            n if n == self.events.len() => writeln!(f, "Created {n} demo events.")?,
            n => writeln!(
                f,
                "Created {n} demo events; the other {} existed already.",
                self.events.len() - n
            )?,
        }
        match self.banners_added() {
            0 => {}
            1 => writeln!(f, "Gave 1 demo event of an earlier run its banner.")?,
            n => writeln!(f, "Gave {n} demo events of an earlier run their banner.")?,
        }
        for event in &self.events {
            let status = if event.status == "published" {
                String::new()
            } else {
                format!(" ({})", event.status)
            };
            writeln!(
                f,
                "  {}  {:<8} {}{status}",
                event.start_at.format("%Y-%m-%d %H:%M UTC"),
                event.category,
                event.name
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Start the server with `boxoffice serve`, open {} and log in",
            self.public_url
        )?;
        writeln!(
            f,
            "  to buy tickets as   {} with the password {}",
            self.buyer.email, self.buyer.password
        )?;
        write!(
            f,
            "  to run events as    {} with the password {}",
            self.organizer.email, self.organizer.password
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("could not give {email} the organizer role: {cause}")]
    Grant { email: String, cause: GrantError },
    #[error(transparent)]
    Api(#[from] ClientError),
    #[error("the in-process server stopped before the demo data was in place")]
    ServerStopped,
}

/// Starts the application on a free local port (migrating the database as `serve` does), seeds
/// the demo data through its API, then stops it.
pub async fn run(mut settings: Settings) -> Result<DemoSummary, DemoError> {
    let public_url = settings.server.public_url.clone();
    // a port of its own, so the demo works whether or not `serve` holds the configured one
    settings.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    // the requests come one at a time
    settings.server.workers = 1;
    let app = Application::build(settings).await?;
    let api = ApiClient::new(format!("http://127.0.0.1:{}", app.port()));
    let pool = app.pool().clone();
    // leaving the select drops the server, which stops its acceptor and workers
    let outcome = tokio::select! {
        outcome = seed(&api, &pool, public_url) => outcome,
        _ = app.run_until_stopped() => Err(DemoError::ServerStopped),
    };
    pool.close().await;
    outcome
}

async fn seed(
    api: &ApiClient,
    pool: &PgPool,
    public_url: String,
) -> Result<DemoSummary, DemoError> {
    // the banners are the site's own assets, where buyers will load them from
    let site = public_url.trim_end_matches('/');
    register(api, ORGANIZER).await?;
    grant_role(pool, ORGANIZER.email, Role::Organizer)
        .await
        .map_err(|cause| DemoError::Grant {
            email: ORGANIZER.email.to_owned(),
            cause,
        })?;
    // roles go into the token at login, so this login comes after the grant
    let organizer = api
        .login(ORGANIZER.email, ORGANIZER.password)
        .await?
        .access_token;
    register(api, BUYER).await?;
    api.login(BUYER.email, BUYER.password).await?;

    let existing = organizer_events(api, &organizer).await?;
    let now = Utc::now();
    let mut events = Vec::with_capacity(EVENTS.len());
    for spec in EVENTS {
        let found = existing.iter().find(|e| e.name == spec.name);
        let banner = spec.banner(site);
        let event = match found {
            // a draft is what an interrupted run leaves: make it again from the start
            Some(draft) if draft.status == "draft" => {
                delete_event(api, &organizer, draft).await?;
                create(api, &organizer, spec, &banner, now).await?
            }
            // runs from before the demo had banners left their events without one; a cancelled
            // event cannot be edited, and a banner the organizer chose since stays
            Some(event) if event.banner.is_none() && event.status == "published" => {
                set_banner(api, &organizer, event, &banner).await?;
                DemoEvent {
                    banner: Some(banner),
                    banner_added: true,
                    ..DemoEvent::existing(event)
                }
            }
            Some(event) => DemoEvent::existing(event),
            None => create(api, &organizer, spec, &banner, now).await?,
        };
        events.push(event);
    }
    events.sort_by_key(|e| e.start_at);
    Ok(DemoSummary {
        public_url,
        organizer: ORGANIZER,
        buyer: BUYER,
        events,
    })
}

/// An event of the organizer's, as `GET /v1/admin/events` lists it.
#[derive(Deserialize)]
struct ListedEvent {
    id: String,
    name: String,
    category: String,
    start_at: DateTime<Utc>,
    status: String,
    banner: Option<String>,
}

impl DemoEvent {
    /// An event an earlier run created, as it stands.
    fn existing(event: &ListedEvent) -> Self {
        Self {
            id: event.id.clone(),
            name: event.name.clone(),
            category: event.category.clone(),
            start_at: event.start_at,
            status: event.status.clone(),
            banner: event.banner.clone(),
            created: false,
            banner_added: false,
        }
    }
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<ListedEvent>,
    next_token: Option<String>,
}

/// Every event of the organizer, in any status.
async fn organizer_events(api: &ApiClient, token: &str) -> Result<Vec<ListedEvent>, ClientError> {
    let mut events = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = api
            .request(Method::GET, "/v1/admin/events", Some(token))
            .query(&[("limit", "100")]);
        if let Some(next) = &next {
            request = request.query(&[("next_token", next)]);
        }
        let page: Listing = api
            .json("list the demo organizer's events", request, StatusCode::OK)
            .await?;
        events.extend(page.data);
        match page.next_token {
            Some(token) => next = Some(token),
            None => return Ok(events),
        }
    }
}

async fn delete_event(
    api: &ApiClient,
    token: &str,
    event: &ListedEvent,
) -> Result<(), ClientError> {
    let step = format!("delete the unfinished draft {:?}", event.name);
    let path = format!("/v1/admin/events/{}", event.id);
    let request = api.request(Method::DELETE, &path, Some(token));
    api.expect(&step, request, StatusCode::NO_CONTENT).await?;
    Ok(())
}

async fn set_banner(
    api: &ApiClient,
    token: &str,
    event: &ListedEvent,
    banner: &str,
) -> Result<(), ClientError> {
    let step = format!("give {:?} its banner", event.name);
    let path = format!("/v1/admin/events/{}", event.id);
    let request = api
        .request(Method::PATCH, &path, Some(token))
        .json(&json!({ "banner": banner }));
    api.expect(&step, request, StatusCode::OK).await?;
    Ok(())
}

/// Registers `login`; an account that exists already is fine (the login after checks it).
async fn register(api: &ApiClient, login: DemoLogin) -> Result<(), ClientError> {
    match api.register(login.email, login.password).await {
        Err(error) if error.code() == Some("email_taken") => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Creates the event with its banner, ticket types and seat maps, then publishes it.
async fn create(
    api: &ApiClient,
    token: &str,
    spec: &EventSpec,
    banner: &str,
    now: DateTime<Utc>,
) -> Result<DemoEvent, ClientError> {
    let day = (now + TimeDelta::days(spec.days_ahead)).date_naive();
    let start_at =
        day.and_time(NaiveTime::MIN).and_utc() + TimeDelta::minutes(spec.starts_at_minute);
    let end_at = start_at + TimeDelta::minutes(spec.duration_minutes);
    let event = json!({
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "category": spec.category,
        "start_at": start_at,
        "end_at": end_at,
        "banner": banner,
        "location": spec.location,
    });
    let event = api.create_event(token, &event).await?;
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    for (position, ticket) in spec.ticket_types.iter().enumerate() {
        let body = json!({
            "name": ticket.name,
            "description": ticket.description,
            "price": ticket.price,
            "currency": CURRENCY,
            "number_seats": ticket.seats.as_ref().map_or(ticket.capacity, SeatBlock::count),
            "position": position,
            // no sale_at: on sale from the moment it is published
            "sale_end": start_at,
            "seat_mapped": ticket.seats.is_some(),
            "max_per_user": ticket.max_per_user,
        });
        let created = api.create_ticket_type(token, &id, &body).await?;
        if let Some(seats) = &ticket.seats {
            let ticket_type = created["id"].as_str().unwrap_or_default();
            api.define_seats(token, &id, ticket_type, &seats.request())
                .await?;
        }
    }
    api.publish(token, &id).await?;
    Ok(DemoEvent {
        id,
        name: spec.name.to_owned(),
        category: spec.category.to_owned(),
        start_at,
        status: "published".to_owned(),
        banner: Some(banner.to_owned()),
        created: true,
        banner_added: false,
    })
}
