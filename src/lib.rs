//! boxoffice: a ticket reservation engine. This crate is the server; the engine (per-event
//! inventory actors) lives in `boxoffice-actors`.
//!
//! - [`config`]: settings from `config.toml` and `BOXOFFICE__*` variables, checked at start.
//! - [`database`]: connect, create and migrate PostgreSQL.
//! - [`startup`]: the services handlers depend on, routes, the HTTP server and its outbox.
//! - [`error`]: the table of error codes and the JSON error shape.
//! - [`auth`]: accounts, login throttling, JWT access tokens, refresh-token families, roles.
//! - [`users`]: the caller's profile and settings.
//! - [`catalog`]: events, ticket types and seat maps; public search and organizer admin.
//! - [`engine`]: the server's side of the engine port: its PostgreSQL journal, its answers
//!   as API errors, its outbox consumer (a paid booking gets sold).
//! - [`bookings`]: holds through the event engine, contact information, checkout, cancel;
//!   organizers' sales reports.
//! - [`status`]: booking and payment statuses, named once.
//! - [`payments`]: the payment a checkout creates, the gateway's signed webhook.
//! - [`promos`]: promo codes (discounts, limits counted by the event's actor, hidden types).
//! - [`refunds`]: refunds of sold tickets (organizer, buyer, a cancelled event).
//! - [`waitlist`]: waiting lists for sold-out ticket types (the line is the event actor's).
//! - [`tickets`]: one signed ticket per admission, its QR, check-in at the door.
//! - [`mail`]: outgoing mail (files or SMTP); the ticket mail.
//! - [`notifications`]: in-site notifications, listed and pushed live (server-sent events).
//! - [`outbox`]: delivers domain events to the consumers each domain registers; dead letters.
//! - [`bus`]: the same events on NATS JetStream (`bus.kind = "jetstream"`): relay and consumers.
//! - [`idempotency`]: `Idempotency-Key` replays for POSTs that create something.
//! - [`ops`]: health, readiness, Prometheus metrics, the OpenAPI document.
//! - [`client`]: a client of this API, shared by the demo, `loadgen` and the tests.
//! - [`demo`]: `boxoffice demo`, demo accounts and events created through the API.
//! - [`site`]: the website for buyers and organizers, served from `web/` on top of the API.
pub mod auth;
pub mod bookings;
pub mod bus;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod cluster;
pub mod config;
pub mod database;
pub mod demo;
pub mod engine;
pub mod error;
pub mod idempotency;
pub mod input;
pub mod mail;
pub mod money;
pub mod notifications;
pub mod ops;
pub mod outbox;
pub mod pagination;
pub mod payments;
pub mod promos;
pub mod queue;
pub mod refunds;
pub mod site;
pub mod startup;
pub mod status;
pub mod telemetry;
pub mod tickets;
pub mod users;
pub mod validators;
pub mod waitlist;
