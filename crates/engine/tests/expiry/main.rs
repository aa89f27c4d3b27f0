//! The nightly expiry run against a real database (one per test), on PostgreSQL and on SQLite.

extern crate mentor_status_engine as engine;

mod helpers;

mod batched_writes;
mod catch_up_and_renewals;
mod exactly_once;
mod failures;
mod resumes;
