//! The JSON API over real HTTP, against a fresh database per test, on PostgreSQL and on SQLite.

extern crate mentor_status_web as web;

mod helpers;

mod authorization;
mod idempotency;
mod me_and_notifications;
mod mentors;
mod observability;
mod openapi;
mod operations;
mod races;
mod sync;
mod transitions;
mod validation;
