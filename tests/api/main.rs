//! Integration tests: the real application over HTTP against a real PostgreSQL, one fresh
//! database per test.
mod admin;
mod auth;
mod catalog;
mod helpers;
mod operations;
mod startup;
mod users;
mod validation;
