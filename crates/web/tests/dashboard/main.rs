//! The dashboard over real HTTP, on PostgreSQL and on SQLite: login, sessions and their expiry,
//! CSRF tokens, the login rate limit, roles, and what the pages do and refuse.

extern crate mentor_status_web as web;

mod helpers;

mod actions;
mod auth;
mod pages;
