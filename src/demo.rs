//! `boxoffice demo`: seeds a demo organizer, a demo buyer and a handful of published events
//! (one with a seat map, one with a large general admission, each with its category's banner
//! from the site's `/assets/`) through the server's own HTTP API, so every validation rule
//! applies. Running it again creates nothing new.
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::auth::store::{grant_role, GrantError};
use crate::auth::Role;
use crate::config::Settings;
use crate::startup::{Application, StartupError};

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
    #[error("{step}: the request failed: {cause}")]
    Request { step: String, cause: reqwest::Error },
    #[error("{step}: the server answered {status}: {error}")]
    Api {
        step: String,
        status: u16,
        error: String,
    },
    #[error("{step}: the answer could not be read: {cause}")]
    Unreadable { step: String, cause: String },
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
    let api = Api::new(format!("http://127.0.0.1:{}", app.port()))?;
    let pool = app.pool().clone();
    // leaving the select drops the server, which stops its acceptor and workers
    let outcome = tokio::select! {
        outcome = seed(&api, &pool, public_url) => outcome,
        _ = app.run_until_stopped() => Err(DemoError::ServerStopped),
    };
    pool.close().await;
    outcome
}

async fn seed(api: &Api, pool: &PgPool, public_url: String) -> Result<DemoSummary, DemoError> {
    // the banners are the site's own assets, where buyers will load them from
    let site = public_url.trim_end_matches('/');
    api.register(ORGANIZER, "register the demo organizer")
        .await?;
    grant_role(pool, ORGANIZER.email, Role::Organizer)
        .await
        .map_err(|cause| DemoError::Grant {
            email: ORGANIZER.email.to_owned(),
            cause,
        })?;
    // roles go into the token at login, so this login comes after the grant
    let organizer = api.login(ORGANIZER, "log in as the demo organizer").await?;
    api.register(BUYER, "register the demo buyer").await?;
    api.login(BUYER, "log in as the demo buyer").await?;

    let existing = api.organizer_events(&organizer).await?;
    let now = Utc::now();
    let mut events = Vec::with_capacity(EVENTS.len());
    for spec in EVENTS {
        let found = existing.iter().find(|e| e.name == spec.name);
        let banner = spec.banner(site);
        let event = match found {
            // a draft is what an interrupted run leaves: make it again from the start
            Some(draft) if draft.status == "draft" => {
                api.delete_event(&organizer, draft).await?;
                api.create(&organizer, spec, &banner, now).await?
            }
            // runs from before the demo had banners left their events without one; a cancelled
            // event cannot be edited, and a banner the organizer chose since stays
            Some(event) if event.banner.is_none() && event.status == "published" => {
                api.set_banner(&organizer, event, &banner).await?;
                DemoEvent {
                    banner: Some(banner),
                    banner_added: true,
                    ..DemoEvent::existing(event)
                }
            }
            Some(event) => DemoEvent::existing(event),
            None => api.create(&organizer, spec, &banner, now).await?,
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

struct EventSpec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    /// Also names its banner, `web/banner-<category>.svg`.
    category: &'static str,
    location: &'static str,
    days_ahead: i64,
    /// Minutes after midnight UTC on that day.
    starts_at_minute: i64,
    duration_minutes: i64,
    ticket_types: &'static [TicketSpec],
}

impl EventSpec {
    /// The address of the event's banner on the site at `site` (no trailing slash).
    fn banner(&self, site: &str) -> String {
        format!("{site}/assets/banner-{}.svg", self.category)
    }
}

struct TicketSpec {
    name: &'static str,
    description: &'static str,
    /// US cents.
    price: i64,
    /// Ignored for a seat-mapped type: its seats are its capacity.
    capacity: i64,
    max_per_user: Option<i64>,
    seats: Option<SeatBlock>,
}

/// Rows of equal length in one section of a seat map.
struct SeatBlock {
    section: &'static str,
    rows: &'static [&'static str],
    seats_per_row: u32,
}

impl SeatBlock {
    fn count(&self) -> i64 {
        self.rows.len() as i64 * i64::from(self.seats_per_row)
    }

    fn request(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|label| json!({"label": label, "seats": self.seats_per_row}))
            .collect();
        json!({"sections": [{"name": self.section, "rows": rows}]})
    }
}

const CURRENCY: &str = "USD";

/// The demo catalog: each category once, names unique (a run recognises its events by name).
const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "Beethoven's Ninth",
        title: "City Symphony Orchestra and the Grand Chorus",
        description: "The City Symphony Orchestra and a 120-voice chorus close their season with \
            Beethoven's Symphony No. 9 in D minor, the \"Choral\", conducted by Maria Lindqvist. \
            The evening opens with Wagner's Siegfried Idyll.\n\nEvery seat is numbered: pick \
            yours on the seat map, or let us find the best ones still free.",
        category: "concert",
        location: "Meridian Concert Hall, 200 Lakeshore Drive, Chicago",
        days_ahead: 14,
        starts_at_minute: 19 * 60 + 30,
        duration_minutes: 150,
        ticket_types: &[
            TicketSpec {
                name: "Front Stalls",
                description: "Rows A to C, closest to the orchestra.",
                price: 12_000,
                capacity: 0,
                max_per_user: None,
                seats: Some(SeatBlock {
                    section: "Front Stalls",
                    rows: &["A", "B", "C"],
                    seats_per_row: 12,
                }),
            },
            TicketSpec {
                name: "Stalls",
                description: "Rows D to H, with the whole stage in view.",
                price: 7_500,
                capacity: 0,
                max_per_user: None,
                seats: Some(SeatBlock {
                    section: "Stalls",
                    rows: &["D", "E", "F", "G", "H"],
                    seats_per_row: 12,
                }),
            },
        ],
    },
    EventSpec {
        name: "Harbor City FC vs. Northside United",
        title: "League Cup semi-final",
        description: "The derby nobody wanted this early: Harbor City FC host Northside United \
            for a place in the League Cup final. Gates open 90 minutes before kick-off; the \
            fan zone outside the north gate has food trucks and live music.",
        category: "sports",
        location: "Harbor City Stadium, 1 Pier Road, Seattle",
        days_ahead: 21,
        starts_at_minute: 18 * 60,
        duration_minutes: 120,
        ticket_types: &[
            TicketSpec {
                name: "Main Stand",
                description: "Covered seating along the halfway line.",
                price: 5_500,
                capacity: 1_500,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "Home End",
                description: "Standing behind the goal with the home supporters.",
                price: 3_500,
                capacity: 3_000,
                max_per_user: None,
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Casablanca under the Stars",
        title: "Open-air cinema: the 1942 classic, restored in 4K",
        description: "Humphrey Bogart and Ingrid Bergman on a twelve-metre screen by the river. \
            The lawn opens at 19:30 for picnics; the film starts at sunset. Headphones are \
            handed out at the gate, so the city stays quiet and you hear every line.",
        category: "film",
        location: "Riverside Park Lawn, Austin",
        days_ahead: 30,
        starts_at_minute: 20 * 60 + 30,
        duration_minutes: 120,
        ticket_types: &[
            TicketSpec {
                name: "Lawn",
                description: "Bring a blanket and sit where you like.",
                price: 1_500,
                capacity: 400,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "Deck chair",
                description: "A deck chair and a blanket, set out for you.",
                price: 2_500,
                capacity: 80,
                max_per_user: None,
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Summer Sound Festival",
        title: "Twelve bands, two stages, one long day",
        description: "Indie, soul and electronic acts from noon to midnight across two stages, \
            with street food, a craft market and a silent disco after dark. Re-entry is \
            allowed all day.",
        category: "music",
        location: "Greenfield Park, Denver",
        days_ahead: 45,
        starts_at_minute: 14 * 60,
        duration_minutes: 600,
        ticket_types: &[
            TicketSpec {
                name: "General admission",
                description: "All-day entry to both stages.",
                price: 5_900,
                capacity: 5_000,
                max_per_user: None,
                seats: None,
            },
            TicketSpec {
                name: "VIP",
                description:
                    "Fast-lane entry, the VIP deck by the main stage and two drink tokens.",
                price: 14_900,
                capacity: 250,
                max_per_user: Some(4),
                seats: None,
            },
        ],
    },
    EventSpec {
        name: "Laugh Track: Stand-up Comedy Night",
        title: "Five comedians, one microphone",
        description: "Five of the city's sharpest stand-ups try out their new hours, hosted by \
            Dee Okafor. Expect strong language and a front row that gets talked to. Doors at \
            19:15; the bar stays open through the show.",
        category: "other",
        location: "The Velvet Room, 48 Bleecker Street, New York",
        days_ahead: 60,
        starts_at_minute: 20 * 60,
        duration_minutes: 120,
        ticket_types: &[TicketSpec {
            name: "General admission",
            description: "Unreserved seating; first come, first seated.",
            price: 2_500,
            capacity: 200,
            max_per_user: None,
            seats: None,
        }],
    },
];

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

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Tokens {
    access_token: String,
}

/// The demo's HTTP client of the in-process server.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: String) -> Result<Self, DemoError> {
        let client = reqwest::Client::builder()
            // a server that stops answering should end the demo with an error, not hang it
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|cause| DemoError::Request {
                step: "build the HTTP client".to_owned(),
                cause,
            })?;
        Ok(Self { client, base })
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// The status and body of the answer, whatever the status.
    async fn send(
        &self,
        step: &str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, String), DemoError> {
        let failed = |cause| DemoError::Request {
            step: step.to_owned(),
            cause,
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let body = response.text().await.map_err(failed)?;
        Ok((status, body))
    }

    /// The body of an answer with the `expected` status; any other is an error naming `step`.
    async fn expect(
        &self,
        step: &str,
        request: RequestBuilder,
        expected: StatusCode,
    ) -> Result<String, DemoError> {
        let (status, body) = self.send(step, request).await?;
        if status == expected {
            Ok(body)
        } else {
            Err(api_error(step, status, &body))
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        step: &str,
        request: RequestBuilder,
        expected: StatusCode,
    ) -> Result<T, DemoError> {
        let body = self.expect(step, request, expected).await?;
        serde_json::from_str(&body).map_err(|e| DemoError::Unreadable {
            step: step.to_owned(),
            cause: e.to_string(),
        })
    }

    /// Registers `login`; an account that exists already is fine (the login after checks it).
    async fn register(&self, login: DemoLogin, step: &str) -> Result<(), DemoError> {
        let body = json!({"email": login.email, "password": login.password});
        let request = self
            .request(Method::POST, "/v1/auths/register", None)
            .json(&body);
        let (status, answer) = self.send(step, request).await?;
        if status == StatusCode::CREATED
            || (status == StatusCode::CONFLICT
                && error_code(&answer).as_deref() == Some("email_taken"))
        {
            Ok(())
        } else {
            Err(api_error(step, status, &answer))
        }
    }

    /// The access token of `login`.
    async fn login(&self, login: DemoLogin, step: &str) -> Result<String, DemoError> {
        let body = json!({"email": login.email, "password": login.password});
        let request = self
            .request(Method::POST, "/v1/auths/login", None)
            .json(&body);
        let tokens: Tokens = self.json(step, request, StatusCode::OK).await?;
        Ok(tokens.access_token)
    }

    /// Every event of the organizer, in any status.
    async fn organizer_events(&self, token: &str) -> Result<Vec<ListedEvent>, DemoError> {
        let mut events = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut request = self
                .request(Method::GET, "/v1/admin/events", Some(token))
                .query(&[("limit", "100")]);
            if let Some(next) = &next {
                request = request.query(&[("next_token", next)]);
            }
            let page: Listing = self
                .json("list the demo organizer's events", request, StatusCode::OK)
                .await?;
            events.extend(page.data);
            match page.next_token {
                Some(token) => next = Some(token),
                None => return Ok(events),
            }
        }
    }

    async fn delete_event(&self, token: &str, event: &ListedEvent) -> Result<(), DemoError> {
        let step = format!("delete the unfinished draft {:?}", event.name);
        let request = self.request(
            Method::DELETE,
            &format!("/v1/admin/events/{}", event.id),
            Some(token),
        );
        self.expect(&step, request, StatusCode::NO_CONTENT).await?;
        Ok(())
    }

    async fn set_banner(
        &self,
        token: &str,
        event: &ListedEvent,
        banner: &str,
    ) -> Result<(), DemoError> {
        let step = format!("give {:?} its banner", event.name);
        let request = self
            .request(
                Method::PATCH,
                &format!("/v1/admin/events/{}", event.id),
                Some(token),
            )
            .json(&json!({ "banner": banner }));
        self.expect(&step, request, StatusCode::OK).await?;
        Ok(())
    }

    /// Creates the event with its banner, ticket types and seat maps, then publishes it.
    async fn create(
        &self,
        token: &str,
        spec: &EventSpec,
        banner: &str,
        now: DateTime<Utc>,
    ) -> Result<DemoEvent, DemoError> {
        let day = (now + TimeDelta::days(spec.days_ahead)).date_naive();
        let start_at =
            day.and_time(NaiveTime::MIN).and_utc() + TimeDelta::minutes(spec.starts_at_minute);
        let end_at = start_at + TimeDelta::minutes(spec.duration_minutes);
        let body = json!({
            "name": spec.name,
            "title": spec.title,
            "description": spec.description,
            "category": spec.category,
            "start_at": start_at,
            "end_at": end_at,
            "banner": banner,
            "location": spec.location,
        });
        let request = self
            .request(Method::POST, "/v1/admin/events", Some(token))
            .json(&body);
        let step = format!("create the event {:?}", spec.name);
        let event: Created = self.json(&step, request, StatusCode::CREATED).await?;
        let base = format!("/v1/admin/events/{}", event.id);

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
            let request = self
                .request(Method::POST, &format!("{base}/ticket_types"), Some(token))
                .json(&body);
            let step = format!("add the ticket type {:?} to {:?}", ticket.name, spec.name);
            let created: Created = self.json(&step, request, StatusCode::CREATED).await?;
            if let Some(seats) = &ticket.seats {
                let path = format!("{base}/ticket_types/{}/seats", created.id);
                let request = self
                    .request(Method::POST, &path, Some(token))
                    .json(&seats.request());
                let step = format!("define the seats of {:?} at {:?}", ticket.name, spec.name);
                self.expect(&step, request, StatusCode::OK).await?;
            }
        }

        let request = self.request(Method::POST, &format!("{base}/publish"), Some(token));
        let step = format!("publish {:?}", spec.name);
        self.expect(&step, request, StatusCode::OK).await?;
        Ok(DemoEvent {
            id: event.id,
            name: spec.name.to_owned(),
            category: spec.category.to_owned(),
            start_at,
            status: "published".to_owned(),
            banner: Some(banner.to_owned()),
            created: true,
            banner_added: false,
        })
    }
}

/// The API's error shape, `{"error": {"code", "message", "details"?}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    code: String,
    message: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    field: String,
    message: String,
}

fn error_code(body: &str) -> Option<String> {
    serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|e| e.error.code)
}

/// The step, the status and the API's own words (message, code, fields at fault).
fn api_error(step: &str, status: StatusCode, body: &str) -> DemoError {
    let error = match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => {
            let mut text = format!("{} ({})", error.message, error.code);
            let details: Vec<String> = error
                .details
                .iter()
                .map(|d| format!("{} {}", d.field, d.message))
                .collect();
            if !details.is_empty() {
                text.push_str(": ");
                text.push_str(&details.join("; "));
            }
            text
        }
        Err(_) if body.is_empty() => "an empty body".to_owned(),
        Err(_) => body.chars().take(300).collect(),
    };
    DemoError::Api {
        step: step.to_owned(),
        status: status.as_u16(),
        error,
    }
}
