//! The listing sync against a real database (PostgreSQL and SQLite) and the Dataverse simulator over
//! real HTTP.

extern crate mentor_status_engine as engine;

mod break_glass;
mod credentials;
mod faults;
mod helpers;
mod reconcile;
mod relay;
