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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::{Email, OrgId, Role, UserId};

    use super::*;

    fn user(subject: &str) -> User {
        User {
            id: UserId::new(),
            org_id: OrgId::new(),
            email: Email::parse("kari@example.no").unwrap(),
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: subject.to_owned(),
            password_hash: None,
            locale: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_cached_user_is_found_by_its_subject_only() {
        let cache = UserCache::default();
        assert!(cache.get("a").is_none());
        let kari = user("a");
        cache.put("a", kari.clone());
        assert_eq!(cache.get("a"), Some(kari));
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = UserCache::default();
        for n in 0..MAX_ENTRIES {
            cache.put(&n.to_string(), user(&n.to_string()));
        }
        cache.put("one more", user("one more"));
        let entries = cache.entries.read().unwrap().len();
        assert_eq!(
            entries, 1,
            "every entry was fresh, so the cache was cleared"
        );
        assert!(cache.get("one more").is_some());
    }
}
