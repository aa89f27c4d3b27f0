//! Where a Web API request points: the path below the service root (`contacts(…)`, `WhoAmI`,
//! `$batch`) and what resource that names.

use percent_encoding::percent_decode_str;
use serde_json::Value;
use uuid::Uuid;

use crate::config::SimConfig;
use crate::odata::literal;
use crate::response::{ApiError, codes};
use axum::http::StatusCode;

/// The path of the service root; the simulator speaks Web API version 9.2.
pub(crate) const SERVICE_PATH: &str = "/api/data/v9.2/";

/// A request target relative to the service root, still percent-encoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// From a path and query such as `/api/data/v9.2/contacts?$select=a`; `None` outside the service.
    pub(crate) fn from_path_and_query(path_and_query: &'a str) -> Option<Self> {
        let relative = path_and_query.strip_prefix(SERVICE_PATH)?;
        Some(Self::relative(relative))
    }

    /// From the URL of a request inside a `$batch`: absolute (`https://host/api/data/v9.2/…`), an
    /// absolute path, or relative to the service root (`contacts(…)`).
    pub(crate) fn from_batch_url(url: &'a str) -> Option<Self> {
        if let Some((_scheme, rest)) = url.split_once("://") {
            let path_start = rest.find('/')?;
            Self::from_path_and_query(&rest[path_start..])
        } else if url.starts_with('/') {
            Self::from_path_and_query(url)
        } else {
            Some(Self::relative(url))
        }
    }

    fn relative(text: &'a str) -> Self {
        match text.split_once('?') {
            Some((path, query)) => Target {
                path,
                query: Some(query),
            },
            None => Target {
                path: text,
                query: None,
            },
        }
    }
}

/// How a request addresses one record.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RecordKey {
    /// `contacts(<guid>)` or `contacts(contactid=<guid>)`.
    Id(Uuid),
    /// `contacts(hlf_memberno='12345')`.
    Alternate { column: String, value: Value },
}

#[derive(Debug, PartialEq)]
pub(crate) enum Resource {
    WhoAmI,
    Batch,
    Collection,
    Record(RecordKey),
}

impl Resource {
    pub(crate) fn parse(path: &str, config: &SimConfig) -> Result<Self, ApiError> {
        let path = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| ApiError::bad_request("The request URL is not valid UTF-8."))?;
        let path = path.as_ref();
        match path {
            "WhoAmI" | "WhoAmI()" => return Ok(Resource::WhoAmI),
            "$batch" => return Ok(Resource::Batch),
            _ => {}
        }
        if path == config.entity_set {
            return Ok(Resource::Collection);
        }
        let key = path
            .strip_prefix(config.entity_set.as_str())
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'));
        match key {
            Some(key) => parse_key(key, config).map(Resource::Record),
            None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                codes::RESOURCE_NOT_FOUND,
                format!("Resource not found for the segment '{path}'."),
            )),
        }
    }
}

fn parse_key(key: &str, config: &SimConfig) -> Result<RecordKey, ApiError> {
    if let Ok(id) = Uuid::parse_str(key) {
        return Ok(RecordKey::Id(id));
    }
    let Some((column, literal_text)) = key.split_once('=') else {
        return Err(ApiError::bad_request(format!(
            "The key '{key}' is neither a GUID nor column='value'."
        )));
    };
    let column = column.trim();
    let literal_text = literal_text.trim();
    if column == config.primary_key {
        return Uuid::parse_str(literal_text)
            .map(RecordKey::Id)
            .map_err(|_| ApiError::bad_request(format!("'{literal_text}' is not a GUID.")));
    }
    if !config.alternate_keys.iter().any(|k| k == column) {
        return Err(ApiError::bad_request(format!(
            "'{column}' is not an alternate key of {}.",
            config.entity_set
        )));
    }
    let value = if literal_text.starts_with('\'') {
        let (text, rest) = literal::parse_quoted(literal_text).map_err(ApiError::bad_request)?;
        if !rest.trim().is_empty() {
            return Err(ApiError::bad_request(
                "Keys of more than one column are not supported by the simulator.",
            ));
        }
        Value::String(text)
    } else {
        literal::parse_bare(literal_text).ok_or_else(|| {
            ApiError::bad_request(format!("'{literal_text}' is not a valid key value."))
        })?
    };
    Ok(RecordKey::Alternate {
        column: column.to_owned(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(path: &str) -> Result<Resource, ApiError> {
        Resource::parse(path, &SimConfig::default())
    }

    #[test]
    fn targets_come_from_absolute_and_relative_urls() {
        let expected = Target {
            path: "contacts(1)",
            query: Some("$select=a"),
        };
        assert_eq!(
            Target::from_batch_url(
                "https://org.crm4.dynamics.com/api/data/v9.2/contacts(1)?$select=a"
            ),
            Some(expected)
        );
        assert_eq!(
            Target::from_batch_url("/api/data/v9.2/WhoAmI"),
            Some(Target {
                path: "WhoAmI",
                query: None
            })
        );
        assert_eq!(
            Target::from_batch_url("contacts").map(|t| t.path),
            Some("contacts")
        );
        assert_eq!(Target::from_batch_url("/api/data/v9.1/contacts"), None);
        assert_eq!(Target::from_batch_url("http://host"), None);
    }

    #[test]
    fn resources_by_name_and_key() {
        let id = Uuid::new_v4();
        assert_eq!(parse("WhoAmI").ok(), Some(Resource::WhoAmI));
        assert_eq!(parse("%24batch").ok(), Some(Resource::Batch));
        assert_eq!(parse("contacts").ok(), Some(Resource::Collection));
        assert_eq!(
            parse(&format!("contacts({id})")).ok(),
            Some(Resource::Record(RecordKey::Id(id)))
        );
        assert_eq!(
            parse(&format!("contacts(contactid={id})")).ok(),
            Some(Resource::Record(RecordKey::Id(id)))
        );
        assert_eq!(
            parse("accounts").map_err(|e| e.status),
            Err(StatusCode::NOT_FOUND)
        );
    }

    #[test]
    fn alternate_keys_are_decoded_and_unescaped() {
        assert_eq!(
            parse("contacts(hlf_memberno='O''Brien%2F7')").ok(),
            Some(Resource::Record(RecordKey::Alternate {
                column: "hlf_memberno".to_owned(),
                value: json!("O'Brien/7"),
            }))
        );
        assert_eq!(
            parse("contacts(hlf_memberno=42)").ok(),
            Some(Resource::Record(RecordKey::Alternate {
                column: "hlf_memberno".to_owned(),
                value: json!(42),
            }))
        );
    }

    #[test]
    fn bad_keys_are_400() {
        for path in [
            "contacts(emailaddress1='a@b.no')",
            "contacts(hlf_memberno='1',other='2')",
            "contacts(hlf_memberno='open)",
            "contacts(not-a-key)",
            "contacts(contactid=7)",
        ] {
            assert_eq!(
                parse(path).map_err(|e| e.status),
                Err(StatusCode::BAD_REQUEST),
                "{path}"
            );
        }
    }
}
