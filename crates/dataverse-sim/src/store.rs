//! The simulated table: records ordered by primary key, each with a weak etag (a row version that
//! grows on every write) and a short history, so reads can be served as they were a while ago.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use uuid::Uuid;

/// How far back the history reaches: a lagged read within this window sees exactly what was stored.
const HISTORY_WINDOW: Duration = Duration::from_secs(600);
/// Bounds memory for records written very often; beyond it a lagged read may see a newer version.
const HISTORY_CAP: usize = 64;

pub(crate) type Fields = Map<String, Value>;

/// One stored version of a record.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// All columns, the primary key included.
    pub(crate) fields: Fields,
    /// Store-wide row version, like Dataverse's `versionnumber`: unique per write.
    pub(crate) version: u64,
}

impl Row {
    /// The weak etag clients see, e.g. `W/"42"`.
    pub(crate) fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// Which state of the table a read sees.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ReadPoint {
    Latest,
    AsOf(Instant),
}

struct Version {
    at: Instant,
    /// `None`: removed at `at`.
    row: Option<Row>,
}

/// A record's versions, oldest first; never empty.
struct History {
    versions: VecDeque<Version>,
}

impl History {
    fn at(&self, point: ReadPoint) -> Option<&Row> {
        let version = match point {
            ReadPoint::Latest => self.versions.back(),
            ReadPoint::AsOf(at) => self.versions.iter().rev().find(|v| v.at <= at),
        };
        version.and_then(|v| v.row.as_ref())
    }

    fn push(&mut self, version: Version) {
        let now = version.at;
        self.versions.push_back(version);
        // The oldest version is still needed while its successor is younger than the window.
        while self.versions.len() > 1
            && self
                .versions
                .get(1)
                .is_some_and(|next| now.duration_since(next.at) >= HISTORY_WINDOW)
        {
            self.versions.pop_front();
        }
        while self.versions.len() > HISTORY_CAP {
            self.versions.pop_front();
        }
    }
}

pub(crate) struct ContactStore {
    primary_key: String,
    records: BTreeMap<Uuid, History>,
    last_version: u64,
    opened_at: Instant,
}

impl ContactStore {
    pub(crate) fn new(primary_key: &str) -> Self {
        ContactStore {
            primary_key: primary_key.to_owned(),
            records: BTreeMap::new(),
            last_version: 0,
            opened_at: Instant::now(),
        }
    }

    /// The read point for reads lagging `lag` behind `now`.
    pub(crate) fn read_point(&self, lag: Duration, now: Instant) -> ReadPoint {
        if lag.is_zero() {
            return ReadPoint::Latest;
        }
        // Before the store opened nothing existed; the opening instant shows the same.
        ReadPoint::AsOf(now.checked_sub(lag).unwrap_or(self.opened_at))
    }

    pub(crate) fn row(&self, id: Uuid, point: ReadPoint) -> Option<&Row> {
        self.records.get(&id).and_then(|history| history.at(point))
    }

    /// Records in primary-key order, starting after `after` when given.
    pub(crate) fn rows_after(
        &self,
        after: Option<Uuid>,
        point: ReadPoint,
    ) -> impl Iterator<Item = (Uuid, &Row)> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.records
            .range((start, Bound::Unbounded))
            .filter_map(move |(id, history)| history.at(point).map(|row| (*id, row)))
    }

    /// The first record (in key order) that satisfies `matches`.
    pub(crate) fn find(&self, point: ReadPoint, matches: impl Fn(&Row) -> bool) -> Option<Uuid> {
        self.rows_after(None, point)
            .find(|(_, row)| matches(row))
            .map(|(id, _)| id)
    }

    /// Store `fields` as the whole record (the primary key is set from `id`).
    pub(crate) fn replace(&mut self, id: Uuid, fields: Fields, now: Instant) {
        self.write(id, fields, now);
    }

    /// Merge `patch` into the record, creating it when missing; returns the new row version.
    pub(crate) fn merge(&mut self, id: Uuid, patch: &Fields, now: Instant) -> u64 {
        let mut fields = self
            .row(id, ReadPoint::Latest)
            .map(|row| row.fields.clone())
            .unwrap_or_default();
        fields.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.write(id, fields, now)
    }

    pub(crate) fn remove(&mut self, id: Uuid, now: Instant) {
        if let Some(history) = self.records.get_mut(&id) {
            history.push(Version { at: now, row: None });
        }
    }

    fn write(&mut self, id: Uuid, mut fields: Fields, now: Instant) -> u64 {
        fields.insert(self.primary_key.clone(), Value::String(id.to_string()));
        self.last_version += 1;
        let version = Version {
            at: now,
            row: Some(Row {
                fields,
                version: self.last_version,
            }),
        };
        let history = self.records.entry(id).or_insert_with(|| History {
            versions: VecDeque::new(),
        });
        history.push(version);
        self.last_version
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => Fields::new(),
        }
    }

    #[test]
    fn merge_keeps_other_columns_sets_the_key_and_bumps_the_version() {
        let mut store = ContactStore::new("contactid");
        let id = Uuid::new_v4();
        let now = Instant::now();
        store.replace(id, fields(json!({"a": 1, "b": 2})), now);
        let before = store.row(id, ReadPoint::Latest).map(|r| r.version);
        let version = store.merge(id, &fields(json!({"b": 3})), now);
        let row = store.row(id, ReadPoint::Latest).cloned();
        assert_eq!(
            row.map(|r| Value::Object(r.fields)),
            Some(json!({"a": 1, "b": 3, "contactid": id.to_string()}))
        );
        assert!(Some(version) > before);
    }

    #[test]
    fn a_lagged_read_sees_the_version_of_that_time_including_removed_records() {
        let mut store = ContactStore::new("contactid");
        let id = Uuid::new_v4();
        let t0 = Instant::now();
        store.replace(id, fields(json!({"v": 1})), t0);
        store.merge(id, &fields(json!({"v": 2})), t0 + Duration::from_secs(5));
        store.remove(id, t0 + Duration::from_secs(10));

        let value_at = |point| store.row(id, point).map(|row| row.fields["v"].clone());
        assert_eq!(
            value_at(ReadPoint::AsOf(t0 + Duration::from_secs(1))),
            Some(json!(1))
        );
        assert_eq!(
            value_at(ReadPoint::AsOf(t0 + Duration::from_secs(7))),
            Some(json!(2))
        );
        assert_eq!(value_at(ReadPoint::Latest), None);
        assert_eq!(store.rows_after(None, ReadPoint::Latest).count(), 0);
        assert_eq!(
            store
                .rows_after(None, ReadPoint::AsOf(t0 + Duration::from_secs(7)))
                .count(),
            1
        );
    }

    #[test]
    fn records_created_after_the_read_point_are_invisible() {
        let mut store = ContactStore::new("contactid");
        let t0 = Instant::now();
        store.replace(Uuid::new_v4(), Fields::new(), t0 + Duration::from_secs(1));
        assert_eq!(store.rows_after(None, ReadPoint::AsOf(t0)).count(), 0);
    }

    #[test]
    fn rows_come_in_key_order_after_the_given_key() {
        let mut store = ContactStore::new("contactid");
        let now = Instant::now();
        let ids: Vec<Uuid> = (1..=4u128).map(Uuid::from_u128).collect();
        for id in ids.iter().rev() {
            store.replace(*id, Fields::new(), now);
        }
        let after_second: Vec<Uuid> = store
            .rows_after(Some(ids[1]), ReadPoint::Latest)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(after_second, ids[2..]);
    }

    #[test]
    fn history_keeps_only_what_a_read_within_the_window_can_see() {
        let mut store = ContactStore::new("contactid");
        let id = Uuid::new_v4();
        let t0 = Instant::now();
        store.replace(id, fields(json!({"v": 1})), t0);
        store.merge(id, &fields(json!({"v": 2})), t0 + Duration::from_secs(1));
        store.merge(id, &fields(json!({"v": 3})), t0 + HISTORY_WINDOW * 2);
        // v1 was superseded long before the window; v2 is what a read lagging the full window sees.
        let kept: Vec<Value> = store.records[&id]
            .versions
            .iter()
            .filter_map(|v| v.row.as_ref().map(|row| row.fields["v"].clone()))
            .collect();
        assert_eq!(kept, vec![json!(2), json!(3)]);
    }
}
