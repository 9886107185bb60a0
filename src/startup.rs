//! Building the application: the database, shared state, routes and the HTTP server. Tests
//! build it on port 0 and ask [`Application::port`] where it listens.
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, Supervisor};
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{from_fn, ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, App, HttpServer};
use boxoffice_actors::directory::EventDirectory;
use boxoffice_actors::ids::EventId;
use sqlx::PgPool;
use tokio::sync::Notify;
use tracing_actix_web::TracingLogger;

use crate::telemetry::RequestSpan;

use crate::auth::{self, JwtKeys, LoginThrottle, RegistrationThrottle, RevokedSessions};
use crate::bookings::{self, journal::PgJournal};
use crate::catalog;
use crate::config::Settings;
use crate::database::{self, DatabaseError};
use crate::error::{extractors, ApiError, Code};
use crate::mail::Mailer;
use crate::notifications::{self, NotificationHub};
use crate::ops::{self, Metrics};
use crate::payments::provider::{PaymentActor, Sandbox};
use crate::tickets::actor::TicketActor;
use crate::users;
use crate::{outbox, payments, tickets};

/// What every request handler may need, built once.
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub throttle: LoginThrottle,
    pub registrations: RegistrationThrottle,
    pub revoked: RevokedSessions,
    pub metrics: Metrics,
    /// The event actors: every hold and release goes through them.
    pub engine: EventDirectory,
    /// Wakes the outbox dispatcher when rows it should deliver were just written.
    pub outbox: Arc<Notify>,
    pub mailer: Arc<Mailer>,
    /// Issues and mails tickets.
    pub tickets: Addr<TicketActor>,
    pub hub: Addr<NotificationHub>,
    /// Creates and refunds payments with the gateway.
    pub payments: Addr<PaymentActor>,
}

impl AppState {
    pub async fn new(settings: Arc<Settings>, pool: PgPool) -> Result<Self, StartupError> {
        let auth = &settings.auth;
        let access_ttl = Duration::from_secs(auth.access_ttl_seconds);
        let since = chrono::Utc::now() - chrono::Duration::seconds(auth.access_ttl_seconds as i64);
        let revoked = auth::store::families_revoked_since(&pool, since).await?;
        let outbox = Arc::new(Notify::new());
        let journal = PgJournal::new(pool.clone(), outbox.clone());
        let engine = EventDirectory::new(Arc::new(journal), settings.engine());
        // events with live holds get their actors now, so those holds expire on time after a restart
        let live: Vec<EventId> = sqlx::query_scalar(
            "SELECT DISTINCT event_id FROM bookings WHERE status IN ('held', 'pending_payment')",
        )
        .fetch_all(&pool)
        .await?;
        engine.start(live);
        let mailer = Mailer::new(&settings.email).map_err(|cause| StartupError::MailDir {
            dir: settings.email.dir.display().to_string(),
            cause,
        })?;
        let mailer = Arc::new(mailer);
        let signing_key = settings.tickets.signing_key.expose();
        let tickets = TicketActor::new(
            pool.clone(),
            signing_key,
            &settings.server.public_url,
            mailer.clone(),
        );
        let hub = NotificationHub::new(pool.clone());
        let provider = Arc::new(Sandbox {
            public_url: settings.server.public_url.clone(),
        });
        let payments = PaymentActor::new(pool.clone(), provider);
        Ok(Self {
            engine,
            outbox,
            mailer,
            tickets: Supervisor::start(move |_| tickets),
            hub: Supervisor::start(move |_| hub),
            payments: Supervisor::start(move |_| payments),
            jwt: JwtKeys::new(&auth.jwt_secret, auth.access_ttl_seconds),
            throttle: LoginThrottle::new(settings.login_limits()),
            registrations: RegistrationThrottle::new(
                auth.register_max_per_ip,
                Duration::from_secs(auth.register_window_seconds),
            ),
            revoked: RevokedSessions::new(access_ttl, revoked),
            metrics: Metrics::new(),
            pool,
            settings,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("could not load state from the database: {0}")]
    State(#[from] sqlx::Error),
    #[error("could not create the mail directory {dir} (email.dir): {cause}")]
    MailDir { dir: String, cause: std::io::Error },
    #[error("could not listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
}

pub struct Application {
    port: u16,
    pool: PgPool,
    server: Server,
}

impl Application {
    /// Connects (creating and migrating the database as needed) and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let pool = database::connect_and_migrate(&settings).await?;
        let settings = Arc::new(settings);
        let state = web::Data::new(AppState::new(settings.clone(), pool.clone()).await?);
        actix_web::rt::spawn(outbox::run(state.clone()));
        let listener =
            TcpListener::bind(settings.server.bind).map_err(|cause| StartupError::Bind {
                addr: settings.server.bind.to_string(),
                cause,
            })?;
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(ops::record))
                .wrap(TracingLogger::<RequestSpan>::new())
                .configure(|cfg| configure(cfg, state.clone()))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_seconds);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|cause| StartupError::Bind {
                addr: settings.server.bind.to_string(),
                cause,
            })?
            .run();
        tracing::info!(port, mode = ?settings.server.mode, "listening");
        Ok(Self { port, pool, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish (up to
    /// `server.shutdown_timeout_seconds`) and closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.pool.close().await;
        tracing::info!("stopped");
        result
    }
}

/// Every route of the API, with the state and extractor settings they share.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let settings = state.settings.clone();
    cfg.app_data(state)
        .app_data(extractors::json_config(settings.server.json_limit_bytes))
        .app_data(extractors::query_config())
        .app_data(extractors::path_config())
        .service(
            web::scope("/v1")
                .wrap(from_fn(no_store))
                .configure(auth::routes)
                .configure(users::routes)
                .configure(catalog::public::routes)
                .configure(bookings::routes)
                .configure(payments::routes)
                .configure(tickets::routes)
                .configure(notifications::routes)
                .configure(|cfg| catalog::admin::routes(cfg, settings.server.seat_map_limit_bytes)),
        )
        .configure(payments::sandbox::routes)
        .configure(ops::routes)
        .configure(crate::site::routes);
}

/// Answers under `/v1` depend on the caller or on live state (seats, bookings), so no cache,
/// and no back/forward page cache, may keep one: a buyer going back to a booking page must
/// see the booking as it is now. A handler that knows better (a ticket's QR image) says so.
async fn no_store(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Gives error responses that are not JSON yet (unknown route, wrong method, framework
/// errors) the API's error shape.
fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        404 => Code::NotFound,
        405 => Code::MethodNotAllowed,
        413 => Code::PayloadTooLarge,
        415 => Code::UnsupportedMediaType,
        400..=499 => Code::BadRequest,
        _ => Code::Internal,
    };
    let (req, original) = res.into_parts();
    let message = match code {
        Code::NotFound => format!("no route {} {}", req.method(), req.path()),
        Code::MethodNotAllowed => format!("{} is not allowed on {}", req.method(), req.path()),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut response = actix_web::ResponseError::error_response(&ApiError::new(code, message));
    *response.status_mut() = status;
    // what the framework said besides the body stays: `Allow` on a 405, `Cache-Control`
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
