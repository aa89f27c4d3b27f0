//! Addressing one record: `contacts(<guid>)` or `contacts(hlf_memberno='12345')`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uuid::Uuid;

/// Identifies one record of an entity set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// The primary key, e.g. `contactid`.
    Id(Uuid),
    /// An alternate key defined on the table, e.g. `hlf_memberno = '12345'`.
    Alternate { field: String, value: String },
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the quote that delimits
/// OData string literals, so a key value can never break out of its path segment.
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'\'');

impl RecordKey {
    /// The URL path segment addressing this record in `entity_set`, percent-encoded:
    /// `contacts(00000000-…)` or `contacts(hlf_memberno='O''Brien')`.
    pub(crate) fn path_segment(&self, entity_set: &str) -> String {
        let entity_set = utf8_percent_encode(entity_set, KEY_SEGMENT);
        match self {
            Self::Id(id) => format!("{entity_set}({})", id.hyphenated()),
            Self::Alternate { field, value } => {
                // OData string literals escape a quote by doubling it.
                let literal = value.replace('\'', "''");
                format!(
                    "{entity_set}({}='{}')",
                    utf8_percent_encode(field, KEY_SEGMENT),
                    utf8_percent_encode(&literal, KEY_SEGMENT)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alternate(value: &str) -> RecordKey {
        RecordKey::Alternate {
            field: "hlf_memberno".to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn id_keys_are_bare_lowercase_guids() {
        let id = Uuid::parse_str("49B0BE2E-D01C-ED11-B83E-000D3A572421").unwrap();
        assert_eq!(
            RecordKey::Id(id).path_segment("contacts"),
            "contacts(49b0be2e-d01c-ed11-b83e-000d3a572421)"
        );
    }

    #[test]
    fn segments_survive_joining_onto_the_web_api_root() {
        let root = reqwest::Url::parse("https://org.example/api/data/v9.2/").unwrap();
        let segment = alternate("O'Brien & Co").path_segment("contacts");
        assert_eq!(
            root.join(&segment).unwrap().as_str(),
            "https://org.example/api/data/v9.2/contacts(hlf_memberno='O''Brien%20%26%20Co')"
        );
    }

    #[test]
    fn alternate_keys_are_quoted_literals() {
        assert_eq!(
            alternate("12345").path_segment("contacts"),
            "contacts(hlf_memberno='12345')"
        );
    }

    #[test]
    fn quotes_in_alternate_key_values_are_doubled() {
        assert_eq!(
            alternate("O'Brien").path_segment("contacts"),
            "contacts(hlf_memberno='O''Brien')"
        );
    }

    #[test]
    fn alternate_key_values_are_url_encoded() {
        assert_eq!(
            alternate("a b/c?d#e&f%g").path_segment("contacts"),
            "contacts(hlf_memberno='a%20b%2Fc%3Fd%23e%26f%25g')"
        );
        assert_eq!(
            alternate("Ørsta").path_segment("contacts"),
            "contacts(hlf_memberno='%C3%98rsta')"
        );
        assert_eq!(
            alternate("x')").path_segment("contacts"),
            "contacts(hlf_memberno='x''%29')"
        );
    }
}
