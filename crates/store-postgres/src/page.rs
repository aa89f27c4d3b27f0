//! Keyset pages: a query fetches one row more than asked, so a page knows whether another follows.

use store::Page;

/// How many rows to fetch for a page of `limit`.
pub(crate) fn fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

/// Cut `rows` (fetched with [`fetch_limit`]) to `limit`; the next page starts after the last item kept.
pub(crate) fn page<T, C>(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Page<T, C> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(cursor) } else { None };
    Page { items: rows, next }
}
