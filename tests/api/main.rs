//! Integration tests: the real application over HTTP against a real PostgreSQL, one fresh
//! database per test.
mod admin;
mod auth;
mod bookings;
mod bus;
mod catalog;
mod cluster;
mod contract;
mod crash;
mod engine;
mod flow;
mod helpers;
mod inventory_edits;
mod mail;
mod money;
mod notifications;
mod operations;
mod outbox;
mod payments;
mod queue;
mod redelivery;
mod site;
mod startup;
mod throttle;
mod tickets;
mod users;
mod validation;
