//! Requests for an event owned by another node go to that node: the engine's calls (hold, cancel,
//! sell, return, waiting list, reload) as `POST /internal/v1/events/{id}/...`, and organizers'
//! inventory edits as the very HTTP request. Both are signed with `cluster.secret` (the webhook's HMAC scheme over the
//! path and body); the internal routes answer 404 to anything unsigned, so they are not public.
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use boxoffice_actors::directory::{EventDirectory, RemoteEngine};
use boxoffice_actors::event_actor::{Confirmation, EngineError, Kept, WaitlistAnswer, WaitlistAsk};
use boxoffice_actors::ids::{BookingId, EventId, UserId};
use boxoffice_actors::inventory::{Hold, HoldRequest, Millis};
use boxoffice_actors::journal::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Cluster, Owner};
use crate::payments::signature;

/// Carries the signature of a request one node sends another.
pub const SIGNATURE: &str = "X-Boxoffice-Node-Signature";
/// The node a request was forwarded from, for the owner's logs.
const FROM: &str = "X-Boxoffice-Node";

/// Another node, as this one reaches it.
pub struct Peer {
    pub url: String,
    pub node_id: String,
}

/// The engine of the node that owns an event.
pub struct Remote {
    pub cluster: Arc<Cluster>,
    pub peer: Arc<Peer>,
}

#[derive(Serialize, Deserialize)]
struct CancelBody {
    booking: BookingId,
    user: UserId,
}

#[derive(Serialize, Deserialize)]
struct ExtendBody {
    booking: BookingId,
    user: UserId,
    by: Millis,
}

#[derive(Serialize, Deserialize)]
struct ConfirmBody {
    booking: BookingId,
    recorded: Option<Hold>,
}

impl Remote {
    fn call<B: Serialize, T: DeserializeOwned + Send + 'static>(
        &self,
        event: EventId,
        action: &'static str,
        body: &B,
    ) -> BoxFuture<Result<T, EngineError>> {
        let (cluster, peer) = (self.cluster.clone(), self.peer.clone());
        let body = serde_json::to_vec(body).expect("engine requests serialize");
        Box::pin(async move {
            let path = format!("/internal/v1/events/{event}/{action}");
            let sent = signed(&cluster, Method::POST, &peer.url, &path, "", body)
                .header("content-type", "application/json")
                .send()
                .await;
            let answered = match sent {
                Ok(response) if response.status() == reqwest::StatusCode::OK => {
                    response.json::<Result<T, EngineError>>().await
                }
                Ok(response) => {
                    tracing::warn!(event_id = %event, node = %peer.node_id, status = %response.status(), "the event's owner refused a forwarded call");
                    return Err(EngineError::Unavailable("the event's owner refused".into()));
                }
                Err(error) => Err(error),
            };
            answered.unwrap_or_else(|error| {
                tracing::warn!(event_id = %event, node = %peer.node_id, %error, "the event's owner did not answer");
                cluster.unreachable(event, &peer);
                Err(EngineError::Unavailable(
                    "the event's owner did not answer".into(),
                ))
            })
        })
    }
}

impl RemoteEngine for Remote {
    fn hold(&self, event: EventId, request: HoldRequest) -> BoxFuture<Result<Hold, EngineError>> {
        self.call(event, "hold", &request)
    }

    fn cancel(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
    ) -> BoxFuture<Result<Hold, EngineError>> {
        self.call(event, "cancel", &CancelBody { booking, user })
    }

    fn extend(
        &self,
        event: EventId,
        booking: BookingId,
        user: UserId,
        by: Millis,
    ) -> BoxFuture<Result<Hold, EngineError>> {
        self.call(event, "extend", &ExtendBody { booking, user, by })
    }

    fn confirm(
        &self,
        event: EventId,
        booking: BookingId,
        recorded: Option<Hold>,
    ) -> BoxFuture<Result<Confirmation, EngineError>> {
        self.call(event, "confirm", &ConfirmBody { booking, recorded })
    }

    fn return_admissions(
        &self,
        event: EventId,
        kept: Kept,
    ) -> BoxFuture<Result<bool, EngineError>> {
        self.call(event, "return", &kept)
    }

    fn waitlist(
        &self,
        event: EventId,
        ask: WaitlistAsk,
    ) -> BoxFuture<Result<WaitlistAnswer, EngineError>> {
        self.call(event, "waitlist", &ask)
    }

    fn reload(&self, event: EventId) -> BoxFuture<Result<(), EngineError>> {
        self.call(event, "reload", &())
    }
}

/// A request to `peer_url` + `path`, signed over the path, query and body.
fn signed(
    cluster: &Cluster,
    method: Method,
    peer_url: &str,
    path: &str,
    query: &str,
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let target = if query.is_empty() {
        format!("{peer_url}{path}")
    } else {
        format!("{peer_url}{path}?{query}")
    };
    let now = chrono::Utc::now().timestamp();
    let signature = signature::sign(
        cluster.secret().expose(),
        now,
        &format!("{path}?{query}"),
        &body,
    );
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
        .expect("an HTTP method is an HTTP method");
    cluster
        .http()
        .request(method, target)
        .header(SIGNATURE, signature)
        .header(FROM, cluster.node_id())
        .body(body)
}

/// Whether the request was signed by a node of this cluster.
fn from_a_node(cluster: &Cluster, request: &HttpRequest, body: &[u8]) -> bool {
    let header = request
        .headers()
        .get(SIGNATURE)
        .and_then(|value| value.to_str().ok());
    let signed_over = format!("{}?{}", request.path(), request.query_string());
    signature::verify(
        cluster.secret().expose(),
        header,
        &signed_over,
        body,
        chrono::Utc::now().timestamp(),
    )
    .is_ok()
}

/// The internal routes, registered in cluster mode only.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/internal/v1/events/{id}/{action}").route(web::post().to(engine_call)),
    );
}

/// Runs a forwarded engine call on this node's actor, never forwarding it again: an event that
/// moved on meanwhile answers [`EngineError::Moved`] and the sender retries.
async fn engine_call(
    cluster: web::Data<Arc<Cluster>>,
    engine: web::Data<EventDirectory>,
    queues: web::Data<Arc<crate::queue::Queues>>,
    request: HttpRequest,
    path: web::Path<(EventId, String)>,
    body: web::Bytes,
) -> HttpResponse {
    if !from_a_node(&cluster, &request, &body) {
        return HttpResponse::NotFound().finish();
    }
    let (event, action) = path.into_inner();
    if action == "reload" {
        // the organizer's change may be the queue's settings: the owner's room rereads them
        queues.reload(event);
    }
    match run_call(&engine, event, &action, &body).await {
        Some(answer) => answer,
        None => HttpResponse::BadRequest().finish(),
    }
}

/// The engine's answer to one forwarded call; `None` for a call or body no node sends.
async fn run_call(
    engine: &EventDirectory,
    event: EventId,
    action: &str,
    body: &[u8],
) -> Option<HttpResponse> {
    Some(match action {
        "hold" => json(
            engine
                .hold_here(event, serde_json::from_slice(body).ok()?)
                .await,
        ),
        "cancel" => {
            let cancel: CancelBody = serde_json::from_slice(body).ok()?;
            json(engine.cancel_here(event, cancel.booking, cancel.user).await)
        }
        "extend" => {
            let extend: ExtendBody = serde_json::from_slice(body).ok()?;
            json(
                engine
                    .extend_here(event, extend.booking, extend.user, extend.by)
                    .await,
            )
        }
        "confirm" => {
            let sale: ConfirmBody = serde_json::from_slice(body).ok()?;
            json(
                engine
                    .confirm_here(event, sale.booking, sale.recorded)
                    .await,
            )
        }
        "return" => json(
            engine
                .return_admissions_here(event, serde_json::from_slice(body).ok()?)
                .await,
        ),
        "waitlist" => json(
            engine
                .waitlist_here(event, serde_json::from_slice(body).ok()?)
                .await,
        ),
        "reload" => {
            engine.reload_here(event);
            json(Ok::<(), EngineError>(()))
        }
        _ => return None,
    })
}

fn json<T: Serialize>(result: Result<T, EngineError>) -> HttpResponse {
    HttpResponse::Ok().json(result)
}

/// On an organizer's change to an event owned by another node, sends the very request there
/// (its actor must check the change against the inventory) and answers what the owner answered.
pub async fn to_owner(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    forward_to_owner(request, next, false).await
}

/// How long a forwarded event stream may stay open.
const STREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// [`to_owner`] for reads as well: what only the owner knows (an event's waiting room).
pub async fn reads_to_owner(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    forward_to_owner(request, next, true).await
}

async fn forward_to_owner(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    reads: bool,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let cluster = request.app_data::<web::Data<Arc<Cluster>>>().cloned();
    let event = request
        .match_info()
        .get("id")
        .and_then(|id| id.parse::<EventId>().ok());
    let (Some(cluster), Some(event), false) =
        (cluster, event, !reads && request.method() == Method::GET)
    else {
        return Ok(next.call(request).await?.map_into_boxed_body());
    };
    let body = match read_body(&mut request).await? {
        Some(body) => body,
        None => {
            let too_large = crate::error::ApiError::new(
                crate::error::Code::PayloadTooLarge,
                "the request body is larger than this server takes",
            );
            let response = actix_web::ResponseError::error_response(&too_large);
            return Ok(request.into_response(response));
        }
    };
    if from_a_node(&cluster, request.request(), &body) {
        // forwarded to this node already: it is the owner, or the edit waits and says so
        request.set_payload(bytes_payload(body));
        return Ok(next.call(request).await?.map_into_boxed_body());
    }
    let peer = match cluster.owner(event).await {
        Ok(Owner::There(peer)) => peer,
        // here, or not known: the handler answers (a missing event is its 404)
        _ => {
            request.set_payload(bytes_payload(body));
            return Ok(next.call(request).await?.map_into_boxed_body());
        }
    };
    let (http, _) = request.parts();
    let mut forwarded = signed(
        &cluster,
        http.method().clone(),
        &peer.url,
        http.path(),
        http.query_string(),
        body.to_vec(),
    );
    if http.path().ends_with("/stream") {
        // an event stream lasts as long as its reader: the client's timeout for one answer
        // would cut it (the browser re-opens it after this long)
        forwarded = forwarded.timeout(STREAM_TIMEOUT);
    }
    for name in [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::HeaderName::from_static("idempotency-key"),
    ] {
        if let Some(value) = http.headers().get(&name) {
            forwarded = forwarded.header(name.as_str(), value.as_bytes());
        }
    }
    let response = match forwarded.send().await {
        Ok(answer) => {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = HttpResponse::build(status);
            for (name, value) in answer.headers() {
                if name == "content-type" || name == "retry-after" || name == "location" {
                    response.insert_header((name.as_str(), value.as_bytes()));
                }
            }
            let streamed = answer
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
            if streamed {
                // a waiting room's stream, passed on as it comes
                response
                    .insert_header((header::CACHE_CONTROL, "no-cache"))
                    .streaming(answer.bytes_stream())
            } else {
                match answer.bytes().await {
                    Ok(bytes) => response.body(bytes),
                    Err(error) => unavailable(&cluster, event, &peer, error),
                }
            }
        }
        Err(error) => unavailable(&cluster, event, &peer, error),
    };
    let (http, _) = request.into_parts();
    Ok(ServiceResponse::new(http, response))
}

fn unavailable(
    cluster: &Cluster,
    event: EventId,
    peer: &Peer,
    error: reqwest::Error,
) -> HttpResponse {
    tracing::warn!(event_id = %event, node = %peer.node_id, %error, "the event's owner did not answer a forwarded edit");
    cluster.unreachable(event, peer);
    actix_web::ResponseError::error_response(&crate::error::ApiError::from(
        EngineError::Unavailable("the event's owner did not answer".into()),
    ))
}

fn bytes_payload(body: web::Bytes) -> actix_web::dev::Payload {
    actix_web::dev::Payload::from(body)
}

/// The whole body, up to the largest the admin routes take (a seat map); `None` past it.
async fn read_body(request: &mut ServiceRequest) -> Result<Option<web::Bytes>, actix_web::Error> {
    use futures_util::StreamExt;
    let limit = request
        .app_data::<web::Data<crate::config::Settings>>()
        .map(|settings| {
            let server = &settings.server;
            server.seat_map_limit_bytes.max(server.json_limit_bytes)
        })
        .unwrap_or(usize::MAX);
    let mut payload = request.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}
