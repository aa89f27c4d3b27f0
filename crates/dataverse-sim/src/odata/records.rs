//! How records look on the wire: the selected columns plus `@odata.etag`, and the context URLs.

use serde_json::Value;
use uuid::Uuid;

use crate::odata::literal;
use crate::odata::resource::RecordKey;
use crate::store::{ContactStore, Fields, ReadPoint, Row};

/// A record as a client sees it. Selected columns that were never set come back as `null`, as in
/// Dataverse; the primary key is always included.
pub(crate) fn shape(row: &Row, select: Option<&[String]>, primary_key: &str) -> Fields {
    let mut shaped = Fields::new();
    shaped.insert("@odata.etag".to_owned(), Value::String(row.etag()));
    match select {
        None => shaped.extend(row.fields.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some(columns) => {
            for column in columns.iter().map(String::as_str).chain([primary_key]) {
                let value = row.fields.get(column).cloned().unwrap_or(Value::Null);
                shaped.insert(column.to_owned(), value);
            }
        }
    }
    shaped
}

/// `{root}/$metadata#contacts(a,b)`, or `#contacts` without `$select`.
pub(crate) fn context_url(
    service_root: &str,
    entity_set: &str,
    select: Option<&[String]>,
) -> String {
    match select {
        Some(columns) => format!(
            "{service_root}/$metadata#{entity_set}({})",
            columns.join(",")
        ),
        None => format!("{service_root}/$metadata#{entity_set}"),
    }
}

/// The id of the record a key addresses, as seen at `point`.
pub(crate) fn resolve(store: &ContactStore, key: &RecordKey, point: ReadPoint) -> Option<Uuid> {
    match key {
        RecordKey::Id(id) => store.row(*id, point).map(|_| *id),
        RecordKey::Alternate { column, value } => {
            store.find(point, |row| literal::equals(row.fields.get(column), value))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selected_columns_come_with_the_key_and_the_etag() {
        let row = Row {
            fields: match json!({"contactid": "c1", "a": 1, "b": 2}) {
                Value::Object(map) => map,
                _ => Fields::new(),
            },
            version: 7,
        };
        let select = ["a".to_owned(), "missing".to_owned()];
        assert_eq!(
            Value::Object(shape(&row, Some(&select), "contactid")),
            json!({"@odata.etag": "W/\"7\"", "contactid": "c1", "a": 1, "missing": null})
        );
        assert_eq!(shape(&row, None, "contactid").len(), 4);
    }
}
