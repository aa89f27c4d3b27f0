//! `PATCH` of one record: an upsert by default, update-only with `If-Match`, create-only with
//! `If-None-Match: *`.

use std::time::Instant;

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;
use uuid::Uuid;

use crate::odata::reads::not_found;
use crate::odata::records;
use crate::odata::resource::RecordKey;
use crate::response::{ApiError, ODATA_ENTITY_ID, SimResponse, codes};
use crate::state::SimState;
use crate::stats::bump;
use crate::store::{Fields, ReadPoint, Row};

/// What the conditional headers ask for.
#[derive(Debug, PartialEq, Eq)]
enum Condition {
    /// No conditional header: update, or create when missing.
    Upsert,
    /// `If-Match: *`: update only.
    Exists,
    /// `If-Match: W/"…"`: update only, and only that version.
    VersionIs(String),
    /// `If-None-Match: *`: create only.
    Missing,
}

impl Condition {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let read = |name: header::HeaderName| -> Result<Option<String>, ApiError> {
            headers
                .get(&name)
                .map(|value| {
                    value.to_str().map(|v| v.trim().to_owned()).map_err(|_| {
                        ApiError::bad_request(format!("The {name} header is not text."))
                    })
                })
                .transpose()
        };
        match (read(header::IF_MATCH)?, read(header::IF_NONE_MATCH)?) {
            (None, None) => Ok(Condition::Upsert),
            (Some(star), None) if star == "*" => Ok(Condition::Exists),
            (Some(etag), None) => Ok(Condition::VersionIs(etag)),
            (None, Some(star)) if star == "*" => Ok(Condition::Missing),
            (None, Some(_)) => Err(ApiError::bad_request(
                "If-None-Match supports only '*' on updates.",
            )),
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                "If-Match and If-None-Match cannot be combined.",
            )),
        }
    }

    fn check(
        &self,
        current: Option<&Row>,
        state: &SimState,
        key: &RecordKey,
    ) -> Result<(), ApiError> {
        match (self, current) {
            (Condition::Exists | Condition::VersionIs(_), None) => Err(not_found(state, key)),
            (Condition::VersionIs(etag), Some(row)) if row.etag() != *etag => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                codes::VERSION_MISMATCH,
                "The version of the existing record doesn't match the RowVersion property provided.",
            )),
            (Condition::Missing, Some(_)) => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                codes::DUPLICATE_RECORD,
                "A record with matching key values already exists.",
            )),
            _ => Ok(()),
        }
    }
}

pub(crate) fn patch(
    state: &SimState,
    key: &RecordKey,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SimResponse, ApiError> {
    let mut fields = parse_body(body)?;
    let condition = Condition::from_headers(headers)?;
    check_key_columns(state, key, &fields)?;

    let id = {
        let mut store = state.store();
        let existing = records::resolve(&store, key, ReadPoint::Latest);
        let id = match (existing, key) {
            (Some(id), _) => id,
            (None, RecordKey::Id(id)) => *id,
            (None, RecordKey::Alternate { .. }) => Uuid::new_v4(),
        };
        if let Some(status) = state.faults.contact_failure(id) {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ApiError::with_status(
                status,
                format!(
                    "Simulated failure for {} {id}.",
                    state.entity_logical_name()
                ),
            ));
        }
        condition.check(
            existing.and_then(|id| store.row(id, ReadPoint::Latest)),
            state,
            key,
        )?;
        // A record created by alternate key carries that key, as in Dataverse.
        if let (None, RecordKey::Alternate { column, value }) = (existing, key) {
            fields.insert(column.clone(), value.clone());
        }
        store.merge(id, &fields, Instant::now());
        // Published under the store lock, so subscribers see writes in version order.
        bump(&state.stats.patches_applied);
        state.publish_write(id, fields);
        id
    };
    let entity_url = state.entity_url(id);
    Ok(SimResponse::new(StatusCode::NO_CONTENT).with_header(ODATA_ENTITY_ID, &entity_url))
}

fn parse_body(body: &[u8]) -> Result<Fields, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object with the columns to set.",
        )),
        Err(error) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {error}"
        ))),
    }
}

/// Key columns stay out of the body: the URL says which record is meant.
fn check_key_columns(state: &SimState, key: &RecordKey, fields: &Fields) -> Result<(), ApiError> {
    match key {
        RecordKey::Alternate { column, .. } if fields.contains_key(column) => {
            Err(ApiError::bad_request(format!(
                "The key column '{column}' must not be in the body of a request addressed by it."
            )))
        }
        RecordKey::Id(id) => {
            let primary_key = &state.config.primary_key;
            match fields.get(primary_key) {
                Some(Value::String(text)) if Uuid::parse_str(text).ok() == Some(*id) => Ok(()),
                Some(_) => Err(ApiError::bad_request(format!(
                    "The body's '{primary_key}' differs from the id in the URL."
                ))),
                None => Ok(()),
            }
        }
        RecordKey::Alternate { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn condition(pairs: &[(header::HeaderName, &'static str)]) -> Result<Condition, StatusCode> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        Condition::from_headers(&headers).map_err(|e| e.status)
    }

    #[test]
    fn conditional_headers_choose_the_kind_of_write() {
        assert_eq!(condition(&[]), Ok(Condition::Upsert));
        assert_eq!(condition(&[(header::IF_MATCH, "*")]), Ok(Condition::Exists));
        assert_eq!(
            condition(&[(header::IF_MATCH, "W/\"3\"")]),
            Ok(Condition::VersionIs("W/\"3\"".to_owned()))
        );
        assert_eq!(
            condition(&[(header::IF_NONE_MATCH, "*")]),
            Ok(Condition::Missing)
        );
        assert_eq!(
            condition(&[(header::IF_MATCH, "*"), (header::IF_NONE_MATCH, "*")]),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(parse_body(b"{\"a\":1}").is_ok());
        assert!(parse_body(b"[1]").is_err());
        assert!(parse_body(b"").is_err());
        assert!(parse_body(b"{\"a\":").is_err());
    }
}
