//! The simulator over real HTTP, as a client written from Microsoft's documentation sees it.

mod auth;
mod batch;
mod faults;
mod helpers;
mod reads;
mod writes;
