//! Delivery against real servers: emails to an SMTP server on 127.0.0.1 (the smtp-sink crate), alert
//! posts to a webhook receiver over HTTP, on PostgreSQL and on SQLite.

extern crate mentor_status_engine as engine;

mod helpers;

mod alerts;
mod email;
