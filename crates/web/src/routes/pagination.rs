//! `limit` and `cursor` query parameters, and the whole numbers and ids of query strings.
//!
//! A cursor is where the previous page ended, written plainly so the OpenAPI description can say
//! exactly which values are cursors: every value of a list's cursor pattern is a position in that
//! list (an id need not exist: the page simply starts after where it would be). Clients pass
//! `next_cursor` on unchanged.

use domain::{MentorId, NotificationId};
use serde::Deserialize;
use store::{MentorCursor, RunId};
use utoipa::IntoParams;
use utoipa::openapi::{Object, ObjectBuilder, Type};
use uuid::Uuid;

use crate::ApiError;

pub(crate) const DEFAULT_LIMIT: u32 = 50;
pub(crate) const MAX_LIMIT: u32 = 200;

/// A hyphenated UUID, as the document's `format: uuid` has it.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// A mentor list position: the last mentor's id, `:`, and their name (no control characters).
const MENTOR_CURSOR_PATTERN: &str = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-\
                                     [0-9a-fA-F]{12}:[^\\u0000-\\u001f\\u007f-\\u009f]*$";
const CURSOR_DESCRIPTION: &str = "The `next_cursor` of the previous page.";
const MENTOR_CURSOR_MAX_CHARS: usize = 36 + 1 + domain::FullName::MAX_CHARS;

macro_rules! page_params {
    ($(#[$doc:meta])* $name:ident, $cursor_schema:path) => {
        $(#[$doc])*
        /// Kept as text and parsed by the handler, so a bad value is a 422 naming its parameter.
        #[derive(Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        pub(crate) struct $name {
            /// Items per page (default 50).
            #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
            pub limit: Option<String>,
            #[param(schema_with = $cursor_schema)]
            pub cursor: Option<String>,
        }
    };
}

page_params!(
    /// Paging of the mentor list.
    MentorPageParams,
    mentor_cursor_schema
);
page_params!(
    /// Paging of a mentor's status history.
    HistoryPageParams,
    history_cursor_schema
);
page_params!(
    /// Paging of the reconciliation log.
    FindingPageParams,
    history_cursor_schema
);
page_params!(
    /// Paging of a list ordered by time-ordered ids (runs, alerts, notifications).
    PageParams,
    uuid_cursor_schema
);

fn mentor_cursor_schema() -> Object {
    ObjectBuilder::new()
        .description(Some(CURSOR_DESCRIPTION))
        .schema_type(Type::String)
        .max_length(Some(MENTOR_CURSOR_MAX_CHARS))
        .pattern(Some(MENTOR_CURSOR_PATTERN))
        .build()
}

fn history_cursor_schema() -> Object {
    ObjectBuilder::new()
        .description(Some(CURSOR_DESCRIPTION))
        .schema_type(Type::Integer)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int64,
        )))
        .build()
}

fn uuid_cursor_schema() -> Object {
    ObjectBuilder::new()
        .description(Some(CURSOR_DESCRIPTION))
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Uuid,
        )))
        .pattern(Some(UUID_PATTERN))
        .build()
}

pub(crate) fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => whole_number(raw)
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// A whole number written the plain way (`7`; not `+7` or `07`).
pub(crate) fn whole_number<N: std::str::FromStr + ToString>(raw: &str) -> Option<N> {
    raw.parse::<N>().ok().filter(|n| n.to_string() == raw)
}

/// A UUID in its hyphenated form (`format: uuid`), in either case.
pub(crate) fn uuid(raw: &str) -> Option<Uuid> {
    if raw.len() == 36 {
        Uuid::try_parse(raw).ok()
    } else {
        None
    }
}

/// A list position as the API writes it, and reads it back.
pub(crate) trait Cursor: Sized {
    fn encode(&self) -> String;
    fn decode(raw: &str) -> Option<Self>;
}

impl Cursor for MentorCursor {
    fn encode(&self) -> String {
        format!("{}:{}", self.id, self.full_name)
    }

    fn decode(raw: &str) -> Option<Self> {
        let (id, full_name) = raw.split_once(':')?;
        let valid_name = full_name.chars().count() <= domain::FullName::MAX_CHARS
            && !full_name.chars().any(char::is_control);
        valid_name.then_some(())?;
        Some(MentorCursor {
            id: MentorId(uuid(id)?),
            full_name: full_name.to_owned(),
        })
    }
}

impl Cursor for i64 {
    fn encode(&self) -> String {
        self.to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        whole_number(raw)
    }
}

impl Cursor for Uuid {
    fn encode(&self) -> String {
        self.to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        uuid(raw)
    }
}

impl Cursor for RunId {
    fn encode(&self) -> String {
        self.0.to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        uuid(raw).map(RunId)
    }
}

impl Cursor for NotificationId {
    fn encode(&self) -> String {
        self.0.to_string()
    }

    fn decode(raw: &str) -> Option<Self> {
        uuid(raw).map(NotificationId)
    }
}

pub(crate) fn encode<C: Cursor>(cursor: &C) -> String {
    cursor.encode()
}

pub(crate) fn decode<C: Cursor>(raw: Option<&str>) -> Result<Option<C>, ApiError> {
    raw.map(|raw| {
        C::decode(raw).ok_or_else(|| ApiError::invalid("cursor", "not a cursor of this list"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_wrote() {
        let mentor = MentorCursor {
            id: MentorId::new(),
            full_name: "Kari: Nordmann".into(),
        };
        let back = MentorCursor::decode(&mentor.encode()).unwrap();
        assert_eq!((back.id, back.full_name), (mentor.id, mentor.full_name));
        assert_eq!(i64::decode(&42_i64.encode()), Some(42));
        let id = RunId::new();
        assert_eq!(RunId::decode(&id.encode()), Some(id));
    }

    #[test]
    fn only_plain_numbers_and_hyphenated_uuids() {
        for bad in ["+5", "05", "-0", " 5", "5.0", ""] {
            assert_eq!(whole_number::<i64>(bad), None, "{bad}");
        }
        assert_eq!(whole_number::<u32>("0"), Some(0));
        let id = Uuid::now_v7();
        assert_eq!(uuid(&id.to_string()), Some(id));
        assert_eq!(uuid(&id.to_string().to_uppercase()), Some(id));
        assert_eq!(uuid(&id.simple().to_string()), None);
        assert_eq!(uuid(&id.urn().to_string()), None);
        assert!(MentorCursor::decode("garbage").is_none());
        assert!(MentorCursor::decode(&format!("{id}:a\u{0}b")).is_none());
    }

    #[test]
    fn the_patterns_agree_with_the_parsers() {
        let id = Uuid::now_v7();
        for (raw, ok) in [
            (format!("{id}:Kari"), true),
            (format!("{id}:"), true),
            (format!("{}:Kari", id.simple()), false),
            (format!("{id}:a\u{7}b"), false),
            ("garbage".to_owned(), false),
        ] {
            assert_eq!(MentorCursor::decode(&raw).is_some(), ok, "{raw}");
        }
        // The pattern is the one the parser implements; spot-check its pieces.
        assert!(MENTOR_CURSOR_PATTERN.starts_with(&UUID_PATTERN[..UUID_PATTERN.len() - 1]));
    }
}
