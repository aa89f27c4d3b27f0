//! How a mentor's state appears on the Dynamics side. Field names and option values are the
//! organisation's configuration, not code.

use dataverse::RecordKey;
use domain::MentorStatus;
use serde_json::{Map, Value};
use store::DynamicsLink;

/// The option value written to the status column for each status.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusValues {
    pub active: Value,
    pub paused: Value,
    pub certification_expired: Value,
    pub inactive: Value,
}

impl StatusValues {
    fn of(&self, status: MentorStatus) -> &Value {
        match status {
            MentorStatus::Active => &self.active,
            MentorStatus::Paused => &self.paused,
            MentorStatus::CertificationExpired => &self.certification_expired,
            MentorStatus::Inactive => &self.inactive,
        }
    }
}

/// An optional option-set column that shows the status itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusColumn {
    pub field: String,
    pub values: StatusValues,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The table's entity set name, e.g. `contacts`.
    pub entity_set: String,
    /// The table's primary key column, e.g. `contactid`.
    pub primary_key: String,
    /// The alternate key column that `dynamics_key` values refer to (e.g. `hlf_memberno`), if any.
    pub alternate_key: Option<String>,
    /// The boolean column the public listing filters on.
    pub visibility_field: String,
    pub status: Option<StatusColumn>,
}

impl Mapping {
    /// The mapping with the design's defaults: `contacts`, `contactid`, no alternate key.
    pub fn new(visibility_field: impl Into<String>) -> Self {
        Mapping {
            entity_set: "contacts".to_owned(),
            primary_key: "contactid".to_owned(),
            alternate_key: None,
            visibility_field: visibility_field.into(),
            status: None,
        }
    }

    /// What the remote record should say: `visible = status == active && listed_publicly`, plus the
    /// status value when a status column is configured.
    pub fn desired(&self, status: MentorStatus, listed_publicly: bool) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert(
            self.visibility_field.clone(),
            Value::Bool(status == MentorStatus::Active && listed_publicly),
        );
        if let Some(column) = &self.status {
            fields.insert(column.field.clone(), column.values.of(status).clone());
        }
        fields
    }

    /// The remote key of a linked mentor; `Err` when the mentor links by alternate key but the
    /// organisation has none configured.
    pub fn key(&self, link: &DynamicsLink) -> Result<RecordKey, String> {
        match link {
            DynamicsLink::ContactId(id) => Ok(RecordKey::Id(*id)),
            DynamicsLink::Key(value) => match &self.alternate_key {
                Some(field) => Ok(RecordKey::Alternate {
                    field: field.clone(),
                    value: value.clone(),
                }),
                None => Err(format!(
                    "the mentor links by key {value:?} but no alternate key column is configured"
                )),
            },
        }
    }

    /// Columns to read back for reconciliation.
    pub fn select(&self) -> Vec<String> {
        let mut columns = vec![self.primary_key.clone(), self.visibility_field.clone()];
        columns.extend(self.alternate_key.clone());
        columns.extend(self.status.as_ref().map(|s| s.field.clone()));
        columns
    }

    /// How a remote record is found by a link: by id (lower-case) or by alternate key value.
    pub fn lookup_key(link: &DynamicsLink) -> String {
        match link {
            DynamicsLink::ContactId(id) => format!("id:{id}"),
            DynamicsLink::Key(value) => format!("key:{value}"),
        }
    }

    /// The lookup keys a remote record answers to.
    pub fn record_lookup_keys(&self, record: &Map<String, Value>) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(id) = record.get(&self.primary_key).and_then(Value::as_str) {
            keys.push(format!("id:{}", id.to_ascii_lowercase()));
        }
        if let Some(field) = &self.alternate_key {
            match record.get(field) {
                Some(Value::String(value)) => keys.push(format!("key:{value}")),
                Some(Value::Number(value)) => keys.push(format!("key:{value}")),
                _ => {}
            }
        }
        keys
    }

    /// The fields of `desired` whose remote value differs, with the remote value.
    pub fn differences(
        &self,
        record: &Map<String, Value>,
        desired: &Map<String, Value>,
    ) -> Vec<(String, Value)> {
        desired
            .iter()
            .filter(|(field, value)| record.get(*field) != Some(*value))
            .map(|(field, _)| {
                (
                    field.clone(),
                    record.get(field).cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn mapping() -> Mapping {
        Mapping {
            alternate_key: Some("hlf_memberno".to_owned()),
            status: Some(StatusColumn {
                field: "hlf_likepersonstatus".to_owned(),
                values: StatusValues {
                    active: json!(1),
                    paused: json!(2),
                    certification_expired: json!(3),
                    inactive: json!(4),
                },
            }),
            ..Mapping::new("hlf_showonwebsite")
        }
    }

    #[test]
    fn only_an_active_listed_mentor_is_visible() {
        let m = mapping();
        assert_eq!(
            m.desired(MentorStatus::Active, true),
            json!({"hlf_showonwebsite": true, "hlf_likepersonstatus": 1})
                .as_object()
                .cloned()
                .unwrap()
        );
        assert_eq!(
            m.desired(MentorStatus::Active, false)["hlf_showonwebsite"],
            json!(false)
        );
        for status in [
            MentorStatus::Paused,
            MentorStatus::CertificationExpired,
            MentorStatus::Inactive,
        ] {
            assert_eq!(m.desired(status, true)["hlf_showonwebsite"], json!(false));
        }
        assert_eq!(
            m.desired(MentorStatus::CertificationExpired, true)["hlf_likepersonstatus"],
            json!(3)
        );
    }

    #[test]
    fn keys_follow_the_link() {
        let m = mapping();
        let id = Uuid::new_v4();
        assert_eq!(
            m.key(&DynamicsLink::ContactId(id)).unwrap(),
            RecordKey::Id(id)
        );
        assert_eq!(
            m.key(&DynamicsLink::Key("123".into())).unwrap(),
            RecordKey::Alternate {
                field: "hlf_memberno".into(),
                value: "123".into()
            }
        );
        let without = Mapping::new("visible");
        assert!(
            without
                .key(&DynamicsLink::Key("123".into()))
                .unwrap_err()
                .contains("no alternate key")
        );
    }

    #[test]
    fn a_record_is_found_by_id_or_alternate_key_and_compared_field_by_field() {
        let m = mapping();
        let id = Uuid::new_v4();
        let record = json!({"contactid": id.to_string().to_uppercase(), "hlf_memberno": "77",
                            "hlf_showonwebsite": true, "hlf_likepersonstatus": 2})
        .as_object()
        .cloned()
        .unwrap();
        let keys = m.record_lookup_keys(&record);
        assert!(keys.contains(&Mapping::lookup_key(&DynamicsLink::ContactId(id))));
        assert!(keys.contains(&Mapping::lookup_key(&DynamicsLink::Key("77".into()))));
        let desired = m.desired(MentorStatus::Paused, true);
        assert_eq!(
            m.differences(&record, &desired),
            vec![("hlf_showonwebsite".to_owned(), json!(true))]
        );
        assert!(
            m.differences(&record, &m.desired(MentorStatus::Paused, false))
                .iter()
                .any(|(f, _)| f == "hlf_showonwebsite")
        );
    }
}
