//! A short-lived cache of authenticated users by token subject.
//!
//! Every API request needs its user (role, organisation) from our database; reading it on every
//! request doubled the database round trips of the hottest endpoints. Entries live for a few seconds,
//! so a changed role or a removed user takes effect within that time. Written by hand because it is
//! a dozen lines over a map; a general cache crate would bring eviction policies we do not need.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use store::User;

/// How long a user read from the database is trusted.
pub(crate) const USER_TTL: Duration = Duration::from_secs(5);
/// Beyond this many subjects the cache starts over rather than grow without bound.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct UserCache {
    entries: RwLock<HashMap<String, (Instant, User)>>,
}

impl UserCache {
    pub fn get(&self, subject: &str) -> Option<User> {
        let entries = self.entries.read().expect("user cache poisoned");
        entries
            .get(subject)
            .filter(|(read_at, _)| read_at.elapsed() < USER_TTL)
            .map(|(_, user)| user.clone())
    }

    pub fn put(&self, subject: &str, user: User) {
        let mut entries = self.entries.write().expect("user cache poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (read_at, _)| read_at.elapsed() < USER_TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(subject.to_owned(), (Instant::now(), user));
    }
}
