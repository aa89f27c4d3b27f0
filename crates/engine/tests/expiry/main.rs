//! The nightly expiry run against a real PostgreSQL database (one per test).

extern crate mentor_status_engine as engine;

mod helpers;

mod batched_writes;
mod catch_up_and_renewals;
mod exactly_once;
mod failures;
mod resumes;
