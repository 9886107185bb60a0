//! Operations endpoints: liveness, readiness (the database answers), Prometheus metrics by
//! route, and the OpenAPI document generated from the handlers.
use sqlx::PgPool;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use serde::Serialize;
use tracing_actix_web::RequestId;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").route(web::get().to(healthz)))
        .service(web::resource("/readyz").route(web::get().to(readyz)))
        .service(web::resource("/metrics").route(web::get().to(metrics)))
        .service(web::resource("/openapi.json").route(web::get().to(openapi)));
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with the reason in `error`
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        error: None,
    })
}

/// The process can serve: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(pool: web::Data<PgPool>) -> HttpResponse {
    match sqlx::query("SELECT 1").execute(pool.get_ref()).await {
        Ok(_) => HttpResponse::Ok().json(Health {
            status: "ok",
            error: None,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: database unreachable");
            HttpResponse::ServiceUnavailable().json(Health {
                status: "unavailable",
                error: Some("database unreachable"),
            })
        }
    }
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(metrics: web::Data<Metrics>, pool: web::Data<PgPool>) -> HttpResponse {
    if let Some(bytes) = resident_memory_bytes() {
        metrics.resident_memory.set(bytes);
    }
    // the partial index of pending rows makes this cheap however long the outbox is
    let oldest: Result<Option<f64>, _> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - min(created_at))::float8 FROM outbox
         WHERE delivered_at IS NULL AND dead_at IS NULL",
    )
    .fetch_one(pool.get_ref())
    .await;
    match oldest {
        Ok(age) => metrics.outbox_oldest_pending.set(age.unwrap_or(0.0)),
        Err(error) => tracing::warn!(%error, "outbox age not read for /metrics"),
    }
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&metrics.registry.gather(), &mut buffer)
        .expect("encoding metrics into memory does not fail");
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(buffer)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, content_type = "application/json")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Request counts and latency by route pattern (never the raw path, so ids do not explode the
/// number of series).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    resident_memory: IntGauge,
    /// Outbox rows by subject and outcome, counted by the dispatcher.
    outbox_deliveries: IntCounterVec,
    /// Age of the oldest outbox row not yet delivered (nor dead), read when scraped.
    outbox_oldest_pending: Gauge,
}

/// The process's resident set (Linux `VmRSS`), read when metrics are scraped.
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("boxoffice".into()), None).expect("a valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route and method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let resident_memory = IntGauge::new(
            "process_resident_memory_bytes",
            "Resident memory of the server process, in bytes",
        )
        .expect("valid metric");
        registry
            .register(Box::new(resident_memory.clone()))
            .expect("registered once");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        let outbox_deliveries = crate::outbox::delivery_counter();
        registry
            .register(Box::new(outbox_deliveries.clone()))
            .expect("registered once");
        let outbox_oldest_pending = Gauge::new(
            "outbox_oldest_pending_seconds",
            "Age of the oldest outbox row not delivered yet (0 when none waits)",
        )
        .expect("valid metric");
        registry
            .register(Box::new(outbox_oldest_pending.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
            resident_memory,
            outbox_deliveries,
            outbox_oldest_pending,
        }
    }

    /// The counter the outbox dispatcher counts its deliveries in.
    pub fn outbox_deliveries(&self) -> IntCounterVec {
        self.outbox_deliveries.clone()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: counts and times every request, and answers with the request id its log lines
/// carry (`x-request-id`), so a report from a client can be found in the logs.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req
        .app_data::<web::Data<Metrics>>()
        .map(|m| m.get_ref().clone());
    let method = req.method().to_string();
    let request_id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), id);
    }
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let status = response.status().as_u16().to_string();
        metrics
            .requests
            .with_label_values(&[&route, &method, &status])
            .inc();
        metrics
            .latency
            .with_label_values(&[&route, &method])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The statuses every operation of a kind can answer, listed on each so the document names
/// every status the server sends: 401 wherever a bearer token is needed, 403 on organizer
/// routes, 404 where a path names a resource, 400/413/415/422 where a body is read, 400 where
/// a query string is, 503 when the database or an event's engine is unavailable.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let params = operation.parameters.as_deref().unwrap_or_default();
                let has_query = params
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Header));
                let body = operation.request_body.is_some();
                let statuses = [
                    (secured, "401", "`unauthorized` (no, a malformed or a revoked bearer token) or `token_expired`"),
                    (path.starts_with("/v1/admin/"), "403", "`forbidden`: the account is not an organizer"),
                    (path.contains('{'), "404", "`not_found`: no such resource, or not one the caller may see"),
                    (body || has_query, "400", "`bad_request`: the body is not a JSON object of this shape, or a parameter does not parse"),
                    (body, "413", "`payload_too_large`"),
                    (body, "415", "`unsupported_media_type`: send `Content-Type: application/json`"),
                    (body || has_query, "422", "`validation_failed`: `details` names each field"),
                    (true, "503", "`unavailable` or `overloaded`: retry after `Retry-After` seconds"),
                ];
                let responses = &mut operation.responses.responses;
                for (applies, status, description) in statuses {
                    if applies && !responses.contains_key(status) {
                        responses.insert(status.to_owned(), error_response(description).into());
                    }
                }
            }
        }
    }
}

/// A response with the error body.
fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "boxoffice", description = "Ticket reservation engine: search events, hold seats, pay, get QR tickets. \
        Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`; money is integer minor units; times are RFC 3339 UTC."),
    paths(
        crate::auth::register, crate::auth::login, crate::auth::refresh, crate::auth::logout,
        crate::users::me, crate::users::update_me, crate::users::update_settings,
        crate::catalog::public::list_events, crate::catalog::public::get_event, crate::catalog::public::get_seats,
        crate::bookings::hold::hold, crate::bookings::get_booking, crate::bookings::list_bookings,
        crate::bookings::checkout::information, crate::bookings::checkout::checkout, crate::bookings::checkout::cancel, crate::bookings::checkout::extend,
        crate::payments::get_payment, crate::payments::webhook,
        crate::tickets::list_tickets, crate::tickets::get_ticket, crate::tickets::qr_svg, crate::tickets::qr_png, crate::tickets::check_in,
        crate::notifications::list_notifications, crate::notifications::mark_read, crate::notifications::stream_notifications,
        crate::catalog::admin::events::create_event, crate::catalog::admin::events::list_events, crate::catalog::admin::events::get_event,
        crate::catalog::admin::events::update_event, crate::catalog::admin::events::delete_event, crate::catalog::image::upload, crate::catalog::image::remove, crate::catalog::image::serve, crate::catalog::admin::events::publish_event,
        crate::catalog::admin::events::cancel_event, crate::catalog::admin::ticket_types::create_ticket_type, crate::catalog::admin::ticket_types::update_ticket_type,
        crate::catalog::admin::ticket_types::delete_ticket_type, crate::catalog::admin::seats::define_seats, crate::catalog::admin::seats::define_event_seats,
        crate::catalog::admin::seats::get_seats, crate::catalog::admin::seats::get_event_seats, crate::catalog::admin::seats::delete_seats,
        crate::tickets::attendees::list, crate::tickets::attendees::export, crate::tickets::transfer::transfer,
        crate::tickets::pdf::ticket_pdf, crate::tickets::calendar::calendar_ics,
        crate::promos::create, crate::promos::list, crate::promos::retire,
        crate::waitlist::join, crate::waitlist::mine, crate::waitlist::leave, crate::waitlist::list,
        crate::refunds::refund_booking, crate::refunds::list_refunds, crate::refunds::retry_refund,
        crate::queue::http::public_queue, crate::queue::http::join, crate::queue::http::me,
        crate::queue::http::stream_status, crate::queue::http::admin_view,
        crate::bookings::sales::sales, crate::outbox::dead_letters::list, crate::outbox::dead_letters::replay,
        healthz, readyz, metrics, openapi,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::error::FieldError,
        crate::catalog::Category, crate::catalog::EventStatus)),
    modifiers(&BearerAuth, &CommonResponses),
    tags((name = "auth"), (name = "users"), (name = "catalog"), (name = "bookings"), (name = "payments"), (name = "tickets"), (name = "notifications"), (name = "queue"), (name = "waitlist"), (name = "admin"), (name = "operations"))
)]
pub struct ApiDoc;
