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
use boxoffice_actors::clock::{Clock, SystemClock};
use boxoffice_actors::directory::EventDirectory;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::auth::{self, AddressThrottle, JwtKeys, LoginThrottle, RevokedSessions};
use crate::bus::Bus;
use crate::cluster::Cluster;
use crate::config::{BusKind, Settings};
use crate::database::{self, DatabaseError};
use crate::error::{extractors, ApiError, Code};
use crate::input::JsonLimit;
use crate::mail::Mailer;
use crate::notifications::{self, NotificationHub};
use crate::ops::{self, Metrics};
use crate::outbox::{self, Consumers, Dispatcher, Wake};
use crate::payments::provider::{PaymentActor, Sandbox};
use crate::queue::Queues;
use crate::telemetry::RequestSpan;
use crate::tickets::actor::TicketActor;
use crate::{bookings, catalog, engine, payments, tickets, users};

/// What the application is built with besides its settings. Tests take a manual clock, or
/// deliver the outbox themselves ([`Application::outbox`]) instead of in the background.
pub struct Options {
    /// The engine's time.
    pub clock: Arc<dyn Clock>,
    /// Whether the outbox dispatcher runs with the server (always, outside tests).
    pub deliver_in_background: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            deliver_in_background: true,
        }
    }
}

/// Everything request handlers may depend on, each registered as its own `web::Data<T>`: a
/// handler names what it uses (the pool, the engine, a throttle) and nothing else.
#[derive(Clone)]
struct Services {
    pool: web::Data<PgPool>,
    settings: web::Data<Settings>,
    jwt: web::Data<JwtKeys>,
    throttle: web::Data<LoginThrottle>,
    registrations: web::Data<AddressThrottle>,
    revoked: web::Data<RevokedSessions>,
    metrics: web::Data<Metrics>,
    /// The event actors: every hold and release goes through them.
    engine: web::Data<EventDirectory>,
    /// Wakes the outbox dispatcher when rows it should deliver were just written.
    wake: web::Data<Wake>,
    hub: web::Data<Addr<NotificationHub>>,
    /// Creates and refunds payments with the gateway.
    payments: web::Data<Addr<PaymentActor>>,
    /// This node's leases and peers, in cluster mode.
    cluster: Option<web::Data<Arc<Cluster>>>,
    /// The waiting rooms of the events this node owns.
    queues: web::Data<Arc<Queues>>,
}

impl Services {
    /// Builds the services and the outbox dispatcher with every domain's consumers.
    async fn new(
        settings: Arc<Settings>,
        pool: PgPool,
        clock: Arc<dyn Clock>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<(Self, Dispatcher), StartupError> {
        let auth = &settings.auth;
        let access_ttl = Duration::from_secs(auth.access_ttl_seconds);
        // revocations made by other processes too, learned in the background
        let revoked = RevokedSessions::shared(&pool, access_ttl).await?;
        let wake = Wake::default();
        let engine = engine::start(
            &pool,
            wake.clone(),
            settings.engine(),
            clock,
            cluster.clone(),
        )
        .await?;
        let engine = web::Data::new(engine);
        let queues = Queues::new(
            pool.clone(),
            engine.clone().into_inner(),
            cluster.as_ref().map(|c| c.fences()),
            auth.jwt_secret.expose().to_owned(),
            settings.queue.joins_per_ip_per_minute,
        );
        if cluster.is_none() {
            // a room's shuffle and admissions run on time even before anyone asks
            queues.start_all().await.map_err(StartupError::Queue)?;
        }
        let mailer = Mailer::new(&settings.email).map_err(|cause| StartupError::MailDir {
            dir: settings.email.dir.display().to_string(),
            cause,
        })?;
        let mailer = Arc::new(mailer);
        let tickets = TicketActor::new(
            pool.clone(),
            settings.tickets.signing_key.expose(),
            &settings.server.public_url,
            mailer.clone(),
        );
        let tickets = Supervisor::start(move |_| tickets);
        let hub = NotificationHub::new(pool.clone());
        let hub = Supervisor::start(move |_| hub);
        if let Some(cluster) = &cluster {
            let bus = &settings.bus;
            crate::cluster::live::start(
                &bus.nats_url,
                &bus.prefix,
                cluster.node_id(),
                engine.clone(),
                hub.clone(),
            )
            .await
            .map_err(StartupError::Nats)?;
        }
        let provider = Arc::new(Sandbox {
            public_url: settings.server.public_url.clone(),
        });
        let payments = PaymentActor::new(pool.clone(), provider, settings.payment.refund_attempts);
        let payments = Supervisor::start(move |_| payments);

        // a row goes to its subject's consumers in this order: the change first, then the news
        let mut consumers = Consumers::default();
        engine::consumer::register(
            &mut consumers,
            pool.clone(),
            engine.clone(),
            payments.clone(),
        );
        payments::consumer::register(&mut consumers, payments.clone());
        tickets::consumer::register(&mut consumers, tickets, settings.email.concurrency);
        crate::refunds::register(&mut consumers, pool.clone(), mailer.clone());
        tickets::transfer::register(&mut consumers, pool.clone(), mailer.clone());
        crate::waitlist::register(&mut consumers, pool.clone(), mailer.clone());
        notifications::register(&mut consumers, hub.clone());
        let metrics = Metrics::new();
        let dispatcher = Dispatcher::new(
            pool.clone(),
            wake.clone(),
            consumers,
            settings.outbox.max_attempts,
        )
        .counting(metrics.outbox_deliveries());
        let services = Self {
            jwt: web::Data::new(JwtKeys::new(&auth.jwt_secret, auth.access_ttl_seconds)),
            throttle: web::Data::new(LoginThrottle::new(pool.clone(), settings.login_limits())),
            registrations: web::Data::new(AddressThrottle::new(
                auth.register_max_per_ip,
                Duration::from_secs(auth.register_window_seconds),
            )),
            revoked: web::Data::from(revoked),
            metrics: web::Data::new(metrics),
            engine,
            wake: web::Data::new(wake),
            hub: web::Data::new(hub),
            payments: web::Data::new(payments),
            cluster: cluster.map(web::Data::new),
            queues: web::Data::new(queues),
            pool: web::Data::new(pool),
            settings: web::Data::from(settings),
        };
        Ok((services, dispatcher))
    }

    /// Every route of the API, with the services and extractor settings they share.
    fn configure(&self, cfg: &mut web::ServiceConfig) {
        let server = &self.settings.server;
        cfg.app_data(self.pool.clone())
            .app_data(self.settings.clone())
            .app_data(self.jwt.clone())
            .app_data(self.throttle.clone())
            .app_data(self.registrations.clone())
            .app_data(self.revoked.clone())
            .app_data(self.metrics.clone())
            .app_data(self.engine.clone())
            .app_data(self.wake.clone())
            .app_data(self.hub.clone())
            .app_data(self.payments.clone())
            .app_data(self.queues.clone())
            .app_data(JsonLimit(server.json_limit_bytes))
            .app_data(extractors::json_config(server.json_limit_bytes))
            .app_data(extractors::query_config())
            .app_data(extractors::path_config());
        if let Some(cluster) = &self.cluster {
            cfg.app_data(cluster.clone())
                .configure(crate::cluster::forward::routes);
        }
        let seat_map_limit = server.seat_map_limit_bytes;
        cfg.service(
            web::scope("/v1")
                .wrap(from_fn(no_store))
                .configure(auth::routes)
                .configure(users::routes)
                .configure(catalog::public::routes)
                .configure(bookings::routes)
                .configure(payments::routes)
                .configure(tickets::routes)
                .configure(crate::refunds::routes)
                .configure(crate::promos::routes)
                .configure(crate::waitlist::routes)
                .configure(notifications::routes)
                .configure(crate::queue::http::routes)
                .configure(outbox::dead_letters::routes)
                .configure(|cfg| catalog::admin::routes(cfg, seat_map_limit)),
        )
        .configure(payments::sandbox::routes)
        .configure(ops::routes)
        .configure(crate::site::routes);
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
    #[error("could not start the waiting rooms: {0}")]
    Queue(crate::queue::QueueError),
    #[error("could not start the cluster's NATS subscriptions (bus.nats_url): {0:#}")]
    Nats(anyhow::Error),
}

/// Resolves once the background delivery (outbox lanes or the JetStream bus) has stopped.
type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

pub struct Application {
    port: u16,
    pool: PgPool,
    server: Server,
    engine: web::Data<EventDirectory>,
    outbox: Dispatcher,
    /// Tells the background dispatcher to stop; `None` when tests deliver themselves.
    delivery: Option<(watch::Sender<bool>, Stopped)>,
    /// In a cluster: the node, and the task renewing its leases with its stop switch.
    leases: Option<(
        Arc<Cluster>,
        watch::Sender<bool>,
        actix_web::rt::task::JoinHandle<()>,
    )>,
}

impl Application {
    /// Connects (creating and migrating the database as needed) and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Options::default()).await
    }

    pub async fn build_with(settings: Settings, options: Options) -> Result<Self, StartupError> {
        let pool = database::connect_and_migrate(&settings).await?;
        let settings = Arc::new(settings);
        // bound first: a cluster node advertises the port it listens on
        let listener =
            TcpListener::bind(settings.server.bind).map_err(|cause| StartupError::Bind {
                addr: settings.server.bind.to_string(),
                cause,
            })?;
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let cluster = settings
            .cluster
            .enabled
            .then(|| Cluster::new(&settings.cluster, pool.clone(), settings.server.bind, port));
        let (services, outbox) = Services::new(
            settings.clone(),
            pool.clone(),
            options.clock,
            cluster.clone(),
        )
        .await?;
        let leases = cluster.clone().map(|cluster| {
            let (stop, stopped) = watch::channel(false);
            let task = actix_web::rt::spawn(crate::cluster::leases::run(
                cluster.clone(),
                services.engine.clone(),
                stopped,
            ));
            (cluster, stop, task)
        });
        let delivery = options.deliver_in_background.then(|| {
            let (stop, stopped) = watch::channel(false);
            let running = match settings.bus.kind {
                BusKind::Local => {
                    let task = actix_web::rt::spawn(outbox.clone().run(stopped));
                    Box::pin(async move {
                        if let Err(error) = task.await {
                            tracing::error!(%error, "the outbox dispatcher ended abnormally");
                        }
                    }) as Stopped
                }
                BusKind::Jetstream => {
                    let bus = Bus::new(
                        pool.clone(),
                        services.wake.get_ref().clone(),
                        outbox.consumers(),
                        &settings.bus,
                        settings.outbox.max_attempts,
                        services.metrics.outbox_deliveries(),
                    );
                    let bus = match &cluster {
                        Some(cluster) => bus.in_cluster(cluster.clone()),
                        None => bus,
                    };
                    // a runtime of its own: NATS I/O stays off the HTTP workers, and the
                    // client's tasks end with it, not in the middle of the server's shutdown
                    let (done, ended) = tokio::sync::oneshot::channel();
                    std::thread::Builder::new()
                        .name("bus".into())
                        .spawn(move || {
                            let runtime = tokio::runtime::Builder::new_multi_thread()
                                .worker_threads(1)
                                .thread_name("bus")
                                .enable_all()
                                .build()
                                .expect("the bus runtime starts");
                            runtime.block_on(bus.run(stopped));
                            let _ = done.send(());
                        })
                        .expect("the bus thread starts");
                    Box::pin(async move {
                        let _ = ended.await;
                    }) as Stopped
                }
            };
            (stop, running)
        });
        let engine = services.engine.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(ErrorHandlers::new().default_handler(json_error_body))
                .wrap(from_fn(ops::record))
                .wrap(TracingLogger::<RequestSpan>::new())
                .configure(|cfg| services.configure(cfg))
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
        match &leases {
            Some((cluster, ..)) => tracing::info!(port, mode = ?settings.server.mode,
                node = cluster.node_id(), url = cluster.url(), "listening"),
            None => tracing::info!(port, mode = ?settings.server.mode, "listening"),
        }
        Ok(Self {
            port,
            pool,
            server,
            engine,
            outbox,
            delivery,
            leases,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The event engine the server holds and releases through.
    pub fn engine(&self) -> web::Data<EventDirectory> {
        self.engine.clone()
    }

    /// The outbox dispatcher, for tests that deliver it themselves ([`Dispatcher::deliver_all`]).
    pub fn outbox(&self) -> Dispatcher {
        self.outbox.clone()
    }

    /// Serves until SIGTERM or SIGINT, then lets in-flight requests finish (up to
    /// `server.shutdown_timeout_seconds`), hands a cluster node's leases back, lets the outbox
    /// finish the delivery in flight, and closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((cluster, stop, task)) = self.leases {
            // the requests in flight are answered: other nodes may take the events at once
            let _ = stop.send(true);
            let _ = task.await;
            crate::cluster::leases::release_all(&cluster).await;
        }
        if let Some((stop, running)) = self.delivery {
            let _ = stop.send(true);
            running.await;
        }
        self.pool.close().await;
        tracing::info!("stopped");
        result
    }
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
/// errors) the API's error shape; the site's own "page not found" (HTML) stays as it is.
fn json_error_body<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let said = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes());
    if said.is_some_and(|v| v.starts_with(b"application/json") || v.starts_with(b"text/html")) {
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
